//! The variant file of `reproduce-table1 --extended`: the built-in file parses, `set` merges over
//! `[base]` key by key, and mistakes are reported with the variant's name.

use std::path::Path;

use ser_experiment::extended::BUILTIN_VARIANTS;
use ser_experiment::{Cell, ExtendedConfig, Norm};

fn parse(text: &str) -> Result<ExtendedConfig, ser_experiment::ExperimentError> {
    ExtendedConfig::from_toml(text, Path::new("test.toml"))
}

#[test]
fn builtin_variants_parse_with_three_seeds_and_the_table1_epoch_budget() {
    let config = parse(BUILTIN_VARIANTS).unwrap();
    assert!(config.variants.len() >= 10);
    assert_eq!(config.variants[0].name, "baseline");
    for v in &config.variants {
        assert_eq!(v.config.seeds, 3, "{}", v.name);
        assert_eq!(v.config.training.epochs, 100, "{}", v.name);
        assert_eq!(v.config.training.patience, Some(15), "{}", v.name);
        assert!(!v.description.is_empty(), "{}", v.name);
    }
    let all = config.variants.iter().find(|v| v.name == "all").unwrap();
    assert_eq!(all.config.cells, vec![Cell::parse("L2h64-attn").unwrap()]);
    assert_eq!(all.config.features.norm, Norm::Speaker);
    assert_eq!(all.config.features.deltas, 2);
    assert!(all.config.features.chroma && all.config.training.decoupled_weight_decay);
    assert_eq!(
        all.config.training.spec_augment,
        Some(ser_nn::SpecAugment::default())
    );
}

#[test]
fn set_merges_over_base_key_by_key() {
    let config = parse(
        r#"
        [base]
        seeds = 2
        [base.training]
        patience = 7
        learning_rate = 0.002
        [[variant]]
        name = "a"
        set = { cells = ["L1h32"], training = { learning_rate = 0.0005 } }
        [[variant]]
        name = "b+c"
        description = "two changes"
        "#,
    )
    .unwrap();
    let [a, b] = &config.variants[..] else {
        panic!("two variants expected")
    };
    assert_eq!(a.config.training.learning_rate, 0.0005);
    assert_eq!(a.config.training.patience, Some(7), "kept from base");
    assert_eq!(a.config.seeds, 2);
    assert_eq!(b.config.training.learning_rate, 0.002);
    assert_eq!(b.config.cells.len(), 15, "no cells given: the default 15");
}

#[test]
fn mistakes_are_reported() {
    for (text, needle) in [
        ("[base]\nseeds = 1\n", "variant"),
        ("[[variant]]\ndescription = \"x\"\n", "name"),
        ("[[variant]]\nname = \"a b\"\n", "variant.name"),
        (
            "[[variant]]\nname = \"a\"\n[[variant]]\nname = \"a\"\n",
            "variant.name",
        ),
        ("[[variant]]\nname = \"a\"\ncolour = 1\n", "colour"),
        ("extra = 1\n[[variant]]\nname = \"a\"\n", "extra"),
        (
            "[[variant]]\nname = \"a\"\nset = { training = { epochs = 0 } }\n",
            "epochs",
        ),
        (
            "[[variant]]\nname = \"a\"\nset = { features = { deltas = 3 } }\n",
            "deltas",
        ),
        (
            "[[variant]]\nname = \"a\"\nset = { training = { lernrate = 1 } }\n",
            "lernrate",
        ),
    ] {
        let err = parse(text).expect_err(text).to_string();
        assert!(err.contains(needle), "{text:?} gave {err:?}");
    }
}
