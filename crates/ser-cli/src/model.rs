//! Loading a saved model (a file, or the one built into the binary) and reading its metadata.
//!
//! A model is one safetensors file written by [`ser_nn::save_model`]: weights under PyTorch names and,
//! in the header, the classifier config and a [`ModelMeta`]. `ser train` fills the metadata as follows
//! (what `ser predict`/`eval`/`info` read back):
//!
//! ```text
//! features:   {"preset": "paper" | null, "mfcc": <ser_dsp::MfccConfig as JSON>}
//! norm_mean, norm_std: per-coefficient z-score statistics of the training clips   [n_mfcc]
//! class_names: the 8 RAVDESS emotions in class-index order
//! training:   {"tool", "data", "cell", "seed", "best_epoch", "best_val_uar", "config", ...}
//! ```
//! A bare `MfccConfig` object in `features` is accepted too.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ser_dsp::MfccConfig;
use ser_experiment::features::Standardizer;
use ser_nn::{Classifier, ModelMeta};

/// The built-in model (see `model/README.md` for how it was trained and how to retrain it).
pub const BUILTIN_MODEL: &[u8] = include_bytes!("../model/builtin.safetensors");

/// What `ser info` says about the built-in model besides its metadata (accuracy, caveats).
pub const BUILTIN_CARD: &str = include_str!("../model/CARD.txt");

/// Credit line shown wherever the built-in model is described.
pub const RAVDESS_CREDIT: &str = "Trained on RAVDESS speech (Livingstone & Russo 2018, PLoS ONE \
13(5): e0196391, doi:10.1371/journal.pone.0196391), licensed CC BY-NC-SA 4.0: use this model \
non-commercially, credit RAVDESS, and share it under the same licence.";

/// Where a model came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSource {
    Builtin,
    File(PathBuf),
}

impl std::fmt::Display for ModelSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelSource::Builtin => write!(f, "built-in model"),
            ModelSource::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A model ready for inference.
pub struct LoadedModel {
    pub classifier: Classifier<f32>,
    pub meta: ModelMeta,
    pub source: ModelSource,
    /// Front end the model was trained with.
    pub mfcc: MfccConfig,
    /// Preset name, when the model recorded one.
    pub preset: Option<String>,
    /// Normalisation the model was trained with (identity when the model stores none).
    pub standardizer: Standardizer,
    /// One name per output class.
    pub class_names: Vec<String>,
}

/// Loads `path`, or the built-in model when `None`.
pub fn load(path: Option<&Path>) -> Result<LoadedModel> {
    let (classifier, meta, source) = match path {
        Some(p) => {
            if !p.exists() {
                bail!("model file {} does not exist", p.display());
            }
            let (c, m) = ser_nn::load_model(p)
                .with_context(|| format!("cannot load model {}", p.display()))?;
            (c, m, ModelSource::File(p.to_path_buf()))
        }
        None => {
            let (c, m) = load_builtin()?;
            (c, m, ModelSource::Builtin)
        }
    };
    let (mfcc, preset) = feature_config(&meta.features)
        .with_context(|| format!("model {source}: unreadable feature config"))?;
    let input_size = classifier.config().input_size;
    if mfcc.n_features() != input_size {
        bail!(
            "model {source}: feature config gives {} coefficients but the network expects {input_size}",
            mfcc.n_features()
        );
    }
    let standardizer = if meta.norm_mean.is_empty() {
        Standardizer {
            mean: vec![0.0; input_size],
            std: vec![1.0; input_size],
        }
    } else {
        Standardizer {
            mean: meta.norm_mean.clone(),
            std: meta.norm_std.clone(),
        }
    };
    let class_names = if meta.class_names.is_empty() {
        (0..classifier.config().num_classes)
            .map(|c| format!("class_{c}"))
            .collect()
    } else {
        meta.class_names.clone()
    };
    Ok(LoadedModel {
        classifier,
        meta,
        source,
        mfcc,
        preset,
        standardizer,
        class_names,
    })
}

/// The model embedded in the binary.
fn load_builtin() -> Result<(Classifier<f32>, ModelMeta)> {
    if BUILTIN_MODEL.is_empty() {
        bail!("this build of ser has no built-in model (crates/ser-cli/model/builtin.safetensors is empty); pass a model file");
    }
    ser_nn::load_model_from_bytes(BUILTIN_MODEL, Path::new("<built-in model>"))
        .context("the built-in model does not load (a build problem)")
}

/// The MFCC config (and preset name) recorded in a model's `features` metadata.
pub fn feature_config(value: &serde_json::Value) -> Result<(MfccConfig, Option<String>)> {
    let preset = value
        .get("preset")
        .and_then(|p| p.as_str())
        .map(str::to_string);
    let mfcc = value.get("mfcc").unwrap_or(value);
    let config: MfccConfig = serde_json::from_value(mfcc.clone())
        .context("the model's `features` metadata is not an MFCC config")?;
    Ok((config, preset))
}

/// The `features` metadata `ser train` writes.
pub fn feature_metadata(config: &MfccConfig, preset: Option<&str>) -> Result<serde_json::Value> {
    Ok(serde_json::json!({
        "preset": preset,
        "mfcc": serde_json::to_value(config).context("cannot serialise the MFCC config")?,
    }))
}

/// The preset whose config equals `config`, if any.
pub fn preset_of(config: &MfccConfig) -> Option<&'static str> {
    MfccConfig::preset_names()
        .iter()
        .copied()
        .find(|name| MfccConfig::from_preset(name).is_ok_and(|p| &p == config))
}
