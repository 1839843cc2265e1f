//! Units of work and their result files.
//!
//! A unit is one (cell, fold, seed). Its result is one JSON file,
//! `<out>/units/<fingerprint>/<cell>_fold<k>_seed<s>.json` (k 1-based), written atomically (temporary
//! file `.<name>.tmp-<pid>-<n>` in the same folder, then rename). The fingerprint hashes everything that
//! changes a unit's result besides (cell, fold, seed) — training settings, feature config, normalisation,
//! fold plan and the list of clips — so runs with other settings never reuse each other's units. A unit
//! whose file exists and parses with the same fingerprint is finished; temporary files are never read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cells::Cell;
use crate::config::ExperimentConfig;
use crate::error::{ExperimentError, Result};
use crate::features::{hex, write_atomic, Standardizer};
use crate::folds::FoldPlan;
use crate::metrics::Metrics;
use crate::train::EpochLog;

/// Version of the unit file layout; part of the fingerprint.
pub const UNIT_FORMAT: u32 = 1;

/// One (cell, fold, seed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unit {
    pub cell: Cell,
    /// 0-based fold index.
    pub fold: usize,
    pub seed: u64,
}

impl Unit {
    /// `L2h64-concat_fold3_seed0.json`.
    pub fn file_name(&self) -> String {
        format!("{}_fold{}_seed{}.json", self.cell, self.fold + 1, self.seed)
    }

    /// `L2h64-concat fold 3 seed 0`.
    pub fn label(&self) -> String {
        format!("{} fold {} seed {}", self.cell, self.fold + 1, self.seed)
    }
}

/// Everything recorded about one finished unit.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnitRecord {
    pub format: u32,
    pub fingerprint: String,
    pub cell: Cell,
    /// 1-based fold number.
    pub fold: usize,
    pub seed: u64,
    pub unit_seed: u64,
    pub test_actors: Vec<u8>,
    pub validation_actors: Vec<u8>,
    pub train_actors: Vec<u8>,
    pub num_params: usize,
    pub paper_params: usize,
    pub best_epoch: usize,
    pub best_val_uar: f64,
    pub epochs_run: usize,
    pub stopped_early: bool,
    /// Batches skipped for a NaN/Inf loss or gradient (`training.skip_nonfinite`).
    #[serde(default)]
    pub skipped_batches: usize,
    pub history: Vec<EpochLog>,
    /// Test clip ids (file stems), their true classes and the predictions of the kept parameters.
    pub test_clips: Vec<String>,
    pub test_labels: Vec<usize>,
    pub test_predictions: Vec<usize>,
    /// This fold's test metrics.
    pub metrics: Metrics,
    /// Wall time of this unit (training and evaluation), seconds.
    pub seconds: f64,
    /// How the unit ran: "concurrent" (beside another unit) or "alone" (all threads).
    pub schedule: String,
    pub git_revision: String,
    /// The LSTM kernels that ran (`ser_nn::kernel_summary`); empty in units written before session 11.
    #[serde(default)]
    pub kernels: String,
    pub config: ExperimentConfig,
    pub classifier: ser_nn::ClassifierConfig,
    pub features: serde_json::Value,
    pub standardizer: Standardizer,
}

/// What makes two runs' units interchangeable.
#[derive(Serialize)]
struct FingerprintInput<'a> {
    format: u32,
    training: &'a crate::config::TrainingConfig,
    preset: &'a str,
    norm: crate::config::Norm,
    features: &'a serde_json::Value,
    plan: &'a FoldPlan,
    clips: &'a [String],
}

/// 16 hex digits of SHA-256 over the settings that change a unit's result (see module docs).
pub fn fingerprint(
    config: &ExperimentConfig,
    features: &serde_json::Value,
    plan: &FoldPlan,
    clip_ids: &[String],
) -> String {
    let input = FingerprintInput {
        format: UNIT_FORMAT,
        training: &config.training,
        preset: &config.features.preset,
        norm: config.features.norm,
        features,
        plan,
        clips: clip_ids,
    };
    let json = serde_json::to_vec(&input).unwrap_or_default();
    hex(&Sha256::digest(&json))[..16].to_string()
}

/// The folder of one run's unit files.
#[derive(Clone, Debug)]
pub struct UnitStore {
    pub dir: PathBuf,
    pub fingerprint: String,
}

impl UnitStore {
    /// `<out>/units/<fingerprint>/`, created if needed.
    pub fn open(out: &Path, fingerprint: &str) -> Result<Self> {
        let dir = out.join("units").join(fingerprint);
        std::fs::create_dir_all(&dir)
            .map_err(|e| ExperimentError::io("creating folder", &dir, e))?;
        Ok(Self {
            dir,
            fingerprint: fingerprint.to_string(),
        })
    }

    pub fn path(&self, unit: &Unit) -> PathBuf {
        self.dir.join(unit.file_name())
    }

    /// The finished record of `unit`, or `None` when its file is absent, unreadable, or from other
    /// settings (such a file is redone and overwritten).
    pub fn load(&self, unit: &Unit) -> Option<UnitRecord> {
        let text = std::fs::read_to_string(self.path(unit)).ok()?;
        let record: UnitRecord = serde_json::from_str(&text).ok()?;
        let matches = record.format == UNIT_FORMAT
            && record.fingerprint == self.fingerprint
            && record.cell == unit.cell
            && record.fold == unit.fold + 1
            && record.seed == unit.seed;
        matches.then_some(record)
    }

    /// Writes `record` atomically.
    pub fn save(&self, unit: &Unit, record: &UnitRecord) -> Result<PathBuf> {
        let path = self.path(unit);
        let json = serde_json::to_vec_pretty(record).map_err(|source| ExperimentError::Json {
            path: path.clone(),
            source,
        })?;
        write_atomic(&path, &json)?;
        Ok(path)
    }
}

/// `git rev-parse HEAD` in the current directory, or "unknown".
pub fn git_revision() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}
