//! The whole pipeline on real RAVDESS files with a tiny configuration: report files, finite UAR, parameter
//! counts equal to the paper's, feature cache, and resume after losing a unit.
//! Needs `$RAVDESS_DIR` or `<workspace>/../shared/ravdess`; skips with a message when neither exists.

use std::path::PathBuf;

use ser_experiment::cells::Cell;
use ser_experiment::{run, ExperimentConfig, RunOptions, Verbosity};

fn ravdess_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RAVDESS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/ravdess"
            ))
        });
    dir.join("Actor_01").is_dir().then_some(dir)
}

#[test]
fn tiny_run_writes_the_report_and_resumes() {
    let Some(data) = ravdess_dir() else {
        eprintln!("skipping end-to-end test: no RAVDESS folder (set RAVDESS_DIR or provide ../shared/ravdess)");
        return;
    };
    let out = tempfile::tempdir().unwrap();
    let mut config = ExperimentConfig::quick();
    config.cells = vec![Cell::parse("L1h32").unwrap()];
    config.training.epochs = 1;
    let mut options = RunOptions::new(config);
    options.data = Some(data);
    options.out = out.path().to_path_buf();
    options.verbosity = Verbosity::Quiet;
    options.jobs = Some(2);

    let first = run(&options).unwrap();
    let n_folds = first.report.fold_plan.folds.len();
    assert_eq!(first.units_run, n_folds);
    assert_eq!(first.units_skipped, 0);
    let cell = &first.report.cells[0];
    assert!(cell.complete);
    assert!(
        cell.params_equal,
        "params {} vs paper {}",
        cell.params, cell.paper_params
    );
    assert_eq!(cell.params, 8968);
    assert!(cell.uar_pct_mean.is_finite() && (0.0..=100.0).contains(&cell.uar_pct_mean));
    assert_eq!(
        cell.confusion.total() as usize,
        first.report.clips,
        "every clip tested once"
    );
    for name in [
        "table1.md",
        "table1.csv",
        "table1.json",
        "table1.png",
        "table1.svg",
    ] {
        let path = out.path().join(name);
        assert!(
            path.is_file() && std::fs::metadata(&path).unwrap().len() > 0,
            "{name}"
        );
    }
    let md = std::fs::read_to_string(out.path().join("table1.md")).unwrap();
    assert!(md.contains("| L1h32 | 8968 | 8968 |"), "{md}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("table1.json")).unwrap())
            .unwrap();
    assert_eq!(json["cells"][0]["params"], 8968);

    // Lose one unit (and leave a stray temporary file): only that unit runs again, features come from
    // the cache, and the pooled result is the same.
    let units_dir = out.path().join("units").join(&first.report.fingerprint);
    let lost = units_dir.join("L1h32_fold2_seed0.json");
    std::fs::remove_file(&lost).unwrap();
    std::fs::write(units_dir.join(".L1h32_fold2_seed0.json.tmp-1-0"), b"{").unwrap();
    let second = run(&options).unwrap();
    assert_eq!(second.units_run, 1);
    assert_eq!(second.units_skipped, n_folds - 1);
    assert_eq!(second.report.feature_cache_hits, second.report.clips);
    assert!(lost.is_file());
    let again = &second.report.cells[0];
    assert_eq!(again.uar_pct_mean.to_bits(), cell.uar_pct_mean.to_bits());
    assert_eq!(again.confusion, cell.confusion);

    // Nothing left to do: no training, the report is rebuilt from the unit files.
    let third = run(&options).unwrap();
    assert_eq!(third.units_run, 0);
    assert_eq!(third.report.cells[0].confusion, cell.confusion);
}

/// `--extended` end to end on real files: two variants exercising every option beyond the paper
/// (attention, bidirectional, speaker norm, deltas, chroma, SpecAugment, AdamW, LR schedule), one epoch.
#[test]
fn tiny_extended_run_writes_the_comparison() {
    let Some(data) = ravdess_dir() else {
        eprintln!("skipping extended end-to-end test: no RAVDESS folder (set RAVDESS_DIR or provide ../shared/ravdess)");
        return;
    };
    let variants = ser_experiment::ExtendedConfig::from_toml(
        r#"
        [base]
        fold_plan = "reduced"
        [base.training]
        epochs = 1
        [[variant]]
        name = "plain"
        set = { cells = ["L1h32"] }
        [[variant]]
        name = "everything"
        [variant.set]
        cells = ["L1h8-bi-attn", "L2h8-max"]
        features = { norm = "speaker", deltas = 2, chroma = true }
        training = { decoupled_weight_decay = true, weight_decay = 0.01, spec_augment = {}, lr_schedule = { kind = "cosine", t_max = 1, eta_min = 0.0 } }
        "#,
        std::path::Path::new("inline.toml"),
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut options = RunOptions::new(ExperimentConfig::quick());
    options.data = Some(data);
    options.out = out.path().to_path_buf();
    options.verbosity = Verbosity::Quiet;
    let (report, files) =
        ser_experiment::run_extended(&variants, &options, &|_: &mut ExperimentConfig| {}).unwrap();
    assert_eq!(report.rows.len(), 3);
    assert_eq!(report.rows[0].uar_gain_pct, 0.0);
    for row in &report.rows {
        assert!(row.complete && row.uar_pct_mean.is_finite(), "{row:?}");
        let cell = Cell::parse(&row.cell).unwrap();
        let input = if row.variant == "everything" {
            34 * 3 + 12
        } else {
            34
        };
        let expected = ser_experiment::train::classifier_config(
            &cell,
            input,
            &ser_experiment::TrainingConfig::default(),
        )
        .num_params();
        assert_eq!(row.params, expected, "{}", row.cell);
        assert_eq!(
            cell.expected_params_with_input(input),
            expected,
            "{}",
            row.cell
        );
    }
    for name in ["extended.md", "extended.csv", "extended.json"] {
        assert!(files.contains(&out.path().join(name)), "{name}");
    }
    assert!(out.path().join("everything/table1.md").is_file());
    let md = std::fs::read_to_string(out.path().join("extended.md")).unwrap();
    assert!(md.contains("L1h8-bi-attn") && md.contains("L2h8-max"));
}
