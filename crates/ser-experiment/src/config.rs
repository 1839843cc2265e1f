//! Every setting of an experiment, as one TOML-serialisable value.
//!
//! The defaults are the paper's protocol (see `configs/table1.toml`, which must parse to
//! [`ExperimentConfig::default`]): all 15 cells, the paper's 5 folds, librosa-equivalent MFCC preset
//! `paper`, z-score statistics from the training actors, Adam (lr 1e-3, torch defaults otherwise),
//! batch 32, dropout 0.3 before the classifier, 100 epochs, the epoch with the best validation UAR kept,
//! no early stopping, no gradient clipping. A config is recorded beside every result.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::cells::Cell;
use crate::error::{ExperimentError, Result};
use crate::folds::PlanKind;

/// Where the per-coefficient z-score statistics come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    /// Mean and standard deviation over all frames of the fold's training actors (no test leakage).
    Train,
    /// Over all frames of all actors, test actors included (the authors' setting).
    Global,
    /// Each actor's clips with that actor's own statistics (speaker normalisation). Transductive for
    /// the test actors: it uses their unlabelled audio, never their labels.
    Speaker,
}

impl std::str::FromStr for Norm {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "train" => Ok(Norm::Train),
            "global" => Ok(Norm::Global),
            "speaker" => Ok(Norm::Speaker),
            other => Err(format!(
                "unknown norm {other:?}: expected train, global or speaker"
            )),
        }
    }
}

/// Front-end settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureSettings {
    /// `ser_dsp::MfccConfig::from_preset` name.
    pub preset: String,
    pub norm: Norm,
    /// Cache extracted features under `<out>/cache/`.
    pub cache: bool,
    /// Append MFCC deltas: 0 none, 1 Δ, 2 Δ and ΔΔ (librosa `feature.delta`, width 9).
    #[serde(skip_serializing_if = "is_zero_u8")]
    pub deltas: u8,
    /// Append 12 chroma bins computed from the same STFT frames (librosa `chroma_stft`, tuning 0).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub chroma: bool,
}

fn is_zero_u8(v: &u8) -> bool {
    *v == 0
}

impl FeatureSettings {
    /// The front end: the preset with `deltas` and `chroma` applied.
    ///
    /// # Errors
    /// [`ExperimentError::FeaturePreset`] for an unknown preset.
    pub fn mfcc_config(&self) -> Result<ser_dsp::MfccConfig> {
        let preset_error = |source| ExperimentError::FeaturePreset {
            name: self.preset.clone(),
            source,
        };
        let mut mfcc = ser_dsp::MfccConfig::from_preset(&self.preset).map_err(preset_error)?;
        mfcc.deltas = self.deltas;
        mfcc.chroma = self.chroma;
        Ok(mfcc)
    }
}

impl Default for FeatureSettings {
    fn default() -> Self {
        Self {
            preset: "paper".into(),
            norm: Norm::Train,
            cache: true,
            deltas: 0,
            chroma: false,
        }
    }
}

/// Optimisation settings of one training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// AdamW: decay the weights directly (`θ ← θ − lr·λ·θ`) instead of adding `λ·θ` to the gradient.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub decoupled_weight_decay: bool,
    /// Learning-rate schedule stepped after every epoch (the validation UAR is the plateau metric);
    /// constant when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr_schedule: Option<ser_nn::LrSchedule>,
    /// SpecAugment-style masking of the training clips' features (none when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_augment: Option<ser_nn::SpecAugment>,
    /// Dropout on the clip vector before the linear classifier.
    pub dropout: f64,
    /// Dropout between LSTM layers (PyTorch `nn.LSTM(dropout=..)`).
    pub lstm_dropout: f64,
    /// Stop after this many epochs without a better validation UAR; `None` runs all epochs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// Clip the global gradient norm to this value; `None` does not clip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clip_grad_norm: Option<f64>,
    /// Clips per batch when evaluating (does not change results, only speed and memory).
    pub eval_batch_size: usize,
    /// On a NaN/Inf loss or gradient, skip that batch (warning on stderr, counted in
    /// `TrainOutcome::skipped_batches`) instead of stopping with `ExperimentError::NonFinite`.
    /// Left out of the serialised config when false, so existing fingerprints do not change.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip_nonfinite: bool,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 100,
            batch_size: 32,
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled_weight_decay: false,
            spec_augment: None,
            lr_schedule: None,
            dropout: 0.3,
            lstm_dropout: 0.0,
            patience: None,
            clip_grad_norm: None,
            eval_batch_size: 128,
            skip_nonfinite: false,
        }
    }
}

/// The whole experiment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExperimentConfig {
    /// Cells to run, e.g. `["L1h32", "L2h64-concat"]`.
    pub cells: Vec<Cell>,
    /// First seed; seeds `seed, seed + 1, .., seed + seeds - 1` are run.
    pub seed: u64,
    /// Number of seeds (repetitions) per cell and fold.
    pub seeds: usize,
    /// `paper` (needs all 24 actors) or `reduced` (any >= 3 actors, see `folds`).
    pub fold_plan: PlanKind,
    pub features: FeatureSettings,
    pub training: TrainingConfig,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        Self {
            cells: Cell::all(),
            seed: 0,
            seeds: 1,
            fold_plan: PlanKind::Paper,
            features: FeatureSettings::default(),
            training: TrainingConfig::default(),
        }
    }
}

impl ExperimentConfig {
    /// The `--quick` settings: reduced fold plan, one small and one concat cell, 3 epochs.
    pub fn quick() -> Self {
        let mut config = Self::default();
        config.make_quick();
        config
    }

    /// Turns this config into its `--quick` variant (keeps features and optimiser settings).
    pub fn make_quick(&mut self) {
        self.cells = ["L1h32", "L2h32-concat"]
            .iter()
            .filter_map(|n| Cell::parse(n).ok())
            .collect();
        self.fold_plan = PlanKind::Reduced;
        self.training.epochs = 3;
    }

    /// Reads a TOML file; missing fields take their defaults, unknown fields are an error.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ExperimentError::io("reading config", path, e))?;
        Self::from_toml(&text, path)
    }

    /// Parses TOML text; `path` is only used in the error.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let config: Self = toml::from_str(text).map_err(|source| ExperimentError::ConfigParse {
            path: path.to_path_buf(),
            source,
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Pretty TOML.
    pub fn to_toml(&self) -> Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    /// Checks every value for range.
    pub fn validate(&self) -> Result<()> {
        let t = &self.training;
        let bad = |field: &'static str, value: String, reason: &'static str| {
            Err(ExperimentError::InvalidConfig {
                field,
                value,
                reason,
            })
        };
        if self.cells.is_empty() {
            return bad("cells", "[]".into(), "need at least one cell");
        }
        if self.seeds == 0 {
            return bad("seeds", "0".into(), "need at least one seed");
        }
        if t.epochs == 0 {
            return bad("training.epochs", "0".into(), "need at least one epoch");
        }
        if t.batch_size == 0 {
            return bad("training.batch_size", "0".into(), "must be >= 1");
        }
        if t.eval_batch_size == 0 {
            return bad("training.eval_batch_size", "0".into(), "must be >= 1");
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            return bad(
                "training.learning_rate",
                t.learning_rate.to_string(),
                "must be finite and > 0",
            );
        }
        for (field, p) in [
            ("training.dropout", t.dropout),
            ("training.lstm_dropout", t.lstm_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return bad(field, p.to_string(), "must be in [0, 1)");
            }
        }
        for (field, b) in [("training.beta1", t.beta1), ("training.beta2", t.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return bad(field, b.to_string(), "must be in [0, 1)");
            }
        }
        if !(t.eps.is_finite() && t.eps > 0.0) {
            return bad("training.eps", t.eps.to_string(), "must be finite and > 0");
        }
        if !(t.weight_decay.is_finite() && t.weight_decay >= 0.0) {
            return bad(
                "training.weight_decay",
                t.weight_decay.to_string(),
                "must be finite and >= 0",
            );
        }
        if let Some(schedule) = &t.lr_schedule {
            if schedule.validate().is_err() {
                return bad(
                    "training.lr_schedule",
                    format!("{schedule:?}"),
                    "step_size and t_max must be >= 1, factor in [0, 1)",
                );
            }
        }
        if let Some(aug) = &t.spec_augment {
            if aug.validate().is_err() {
                return bad(
                    "training.spec_augment",
                    format!("{aug:?}"),
                    "max_time_fraction must be in [0, 1] and value finite",
                );
            }
        }
        if self.features.deltas > 2 {
            return bad(
                "features.deltas",
                self.features.deltas.to_string(),
                "must be 0 (none), 1 (delta) or 2 (delta and delta-delta)",
            );
        }
        if t.patience == Some(0) {
            return bad("training.patience", "0".into(), "must be >= 1 when set");
        }
        if let Some(c) = t.clip_grad_norm {
            if !(c.is_finite() && c > 0.0) {
                return bad(
                    "training.clip_grad_norm",
                    c.to_string(),
                    "must be finite and > 0 when set",
                );
            }
        }
        Ok(())
    }

    /// The seeds of this run.
    pub fn seed_list(&self) -> Vec<u64> {
        (0..self.seeds as u64)
            .map(|i| self.seed.wrapping_add(i))
            .collect()
    }
}
