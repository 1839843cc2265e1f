//! Config TOML round trip, the committed default file, validation; cells and their parameter counts.

use std::path::Path;

use ser_experiment::cells::{Cell, PAPER_TABLE1};
use ser_experiment::config::{ExperimentConfig, Norm};
use ser_experiment::folds::PlanKind;
use ser_experiment::ExperimentError;
use ser_nn::{Classifier, ClassifierConfig, Head};

#[test]
fn default_config_round_trips_through_toml() {
    let config = ExperimentConfig::default();
    let text = config.to_toml().unwrap();
    let back = ExperimentConfig::from_toml(&text, Path::new("mem")).unwrap();
    assert_eq!(back, config);
}

#[test]
fn modified_config_round_trips_including_optional_fields() {
    let mut config = ExperimentConfig::quick();
    config.seeds = 3;
    config.seed = 42;
    config.features.norm = Norm::Global;
    config.features.cache = false;
    config.training.patience = Some(7);
    config.training.clip_grad_norm = Some(2.5);
    config.training.learning_rate = 3e-4;
    let text = config.to_toml().unwrap();
    assert!(text.contains("patience = 7"), "{text}");
    let back = ExperimentConfig::from_toml(&text, Path::new("mem")).unwrap();
    assert_eq!(back, config);
    assert_eq!(back.fold_plan, PlanKind::Reduced);
    assert_eq!(back.seed_list(), vec![42, 43, 44]);
}

#[test]
fn committed_default_file_is_the_default() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/table1.toml");
    assert_eq!(
        ExperimentConfig::load(&path).unwrap(),
        ExperimentConfig::default()
    );
}

#[test]
fn missing_fields_default_and_unknown_fields_fail() {
    let partial =
        ExperimentConfig::from_toml("[training]\nepochs = 7\n", Path::new("p.toml")).unwrap();
    assert_eq!(partial.training.epochs, 7);
    assert_eq!(partial.training.batch_size, 32);
    assert_eq!(partial.cells.len(), 15);
    let err =
        ExperimentConfig::from_toml("[training]\nepoch = 7\n", Path::new("typo.toml")).unwrap_err();
    assert!(matches!(err, ExperimentError::ConfigParse { .. }));
    assert!(err.to_string().contains("typo.toml"), "{err}");
    let err =
        ExperimentConfig::from_toml("cells = [\"L4h32\"]\n", Path::new("c.toml")).unwrap_err();
    assert!(err.to_string().contains("L4h32"), "{err}");
}

#[test]
fn out_of_range_values_are_rejected() {
    for text in [
        "[training]\nepochs = 0\n",
        "[training]\nlearning_rate = -1.0\n",
        "[training]\ndropout = 1.0\n",
        "[training]\npatience = 0\n",
        "seeds = 0\n",
        "cells = []\n",
    ] {
        let err = ExperimentConfig::from_toml(text, Path::new("bad.toml")).unwrap_err();
        assert!(
            matches!(err, ExperimentError::InvalidConfig { .. }),
            "{text}: {err}"
        );
    }
}

#[test]
fn fifteen_cells_with_the_papers_parameter_counts() {
    let cells = Cell::all();
    assert_eq!(cells.len(), 15);
    assert_eq!(cells.iter().filter(|c| c.head == Head::Concat).count(), 6);
    for cell in &cells {
        let (paper_params, paper_uar) = cell.paper().unwrap();
        assert_eq!(cell.expected_params(), paper_params, "{cell}");
        assert!(paper_uar > 20.0 && paper_uar < 35.0);
        let model = Classifier::<f32>::new(
            ClassifierConfig::paper(cell.hidden, cell.layers, cell.head),
            1,
        );
        assert_eq!(model.num_params(), paper_params, "ser-nn's {cell}");
        assert_eq!(Cell::parse(&cell.to_string()).unwrap(), *cell);
    }
    assert_eq!(
        PAPER_TABLE1
            .iter()
            .map(|r| r.uar_last_pct)
            .fold(0.0, f64::max),
        32.10
    );
}

#[test]
fn cell_names_parse_case_insensitively_and_reject_unknown() {
    let c = Cell::parse("l2H64-Concat").unwrap();
    assert_eq!((c.layers, c.hidden, c.head), (2, 64, Head::Concat));
    assert_eq!(Cell::parse("L3h128-last").unwrap().to_string(), "L3h128");
    for bad in ["L1h32-concat", "L4h32", "L2h48", "h32", "L2", "L2h", "x"] {
        assert!(
            matches!(Cell::parse(bad), Err(ExperimentError::UnknownCell { .. })),
            "{bad}"
        );
    }
    let attn = Cell::parse("L2h96-Attn").unwrap();
    assert_eq!(
        (attn.layers, attn.hidden, attn.head),
        (2, 96, Head::Attention)
    );
    assert_eq!(attn.to_string(), "L2h96-attn");
    assert_eq!(attn.paper(), None);
    let bi = Cell::parse("L2h64-bi-attn").unwrap();
    assert!(bi.bidirectional && bi.head == Head::Attention);
    assert_eq!(bi.to_string(), "L2h64-bi-attn");
    assert_eq!(Cell::parse("L1h32-bi").unwrap().to_string(), "L1h32-bi");
    for bad in ["L5h32-mean", "L0h32-max", "L2h0-attn", "L2h64-bi-bi"] {
        assert!(Cell::parse(bad).is_err(), "{bad}");
    }
    let list = Cell::parse_list("L1h32, L2h32-concat,L1h32,").unwrap();
    assert_eq!(list.len(), 2);
}

#[test]
fn closed_form_params_match_the_built_network_beyond_the_paper() {
    let training = ser_experiment::TrainingConfig::default();
    for name in [
        "L1h32-attn",
        "L2h64-mean",
        "L3h48-max",
        "L1h32-bi",
        "L2h64-bi-attn",
        "L3h16-bi-concat",
        "L2h128-bi-mean",
    ] {
        let cell = Cell::parse(name).unwrap();
        let config = ser_experiment::train::classifier_config(&cell, 34, &training);
        assert_eq!(cell.expected_params(), config.num_params(), "{name}");
    }
}
