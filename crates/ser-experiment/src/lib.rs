//! RAVDESS indexing, speaker-independent cross-validation, metrics, and the runner that reproduces
//! Table 1 of Krasnoproshin & Vashkevich (LSTM speech emotion recognition on RAVDESS).
//!
//! Pipeline ([`table1::run`]): find the data folder ([`data_dir`]) → index clips from their file names
//! ([`dataset`]) → fold plan ([`folds`]) → MFCC features of every clip once, cached on disk
//! ([`features`]) → one unit per (cell, fold, seed) ([`units`]), trained with the paper's classifier and
//! Adam ([`train`]), scheduled over the cores ([`scheduler`]), each written atomically so a rerun resumes →
//! Table 1 as markdown, CSV and JSON ([`report`]) and a chart ([`plot`]). Variants beyond the paper
//! (pooling heads, features, augmentation) run on the same folds through [`extended`].
//!
//! Conventions: class index = RAVDESS emotion code − 1 (neutral, calm, happy, sad, angry, fearful,
//! disgust, surprised); actors are 1..=24; folds are 0-based in code and 1-based in files and reports;
//! a clip's features are `[n_frames, n_coeffs]` row-major; metrics are fractions in code and percent in
//! reports. Every setting is in [`config::ExperimentConfig`] (TOML), recorded beside each result.

pub mod cells;
pub mod config;
pub mod data_dir;
pub mod dataset;
pub mod error;
pub mod extended;
pub mod features;
pub mod folds;
pub mod metrics;
pub mod plot;
pub mod progress;
pub mod report;
pub mod scheduler;
pub mod seeds;
pub mod table1;
pub mod train;
pub mod units;

pub use cells::Cell;
pub use config::{ExperimentConfig, FeatureSettings, Norm, TrainingConfig};
pub use dataset::{parse_file_name, Clip, DatasetIndex, Emotion};
pub use error::{ExperimentError, Result};
pub use extended::{run_extended, ExtendedConfig, ExtendedReport};
pub use folds::{paper_plan, reduced_plan, Fold, FoldPlan, PlanKind};
pub use metrics::{ConfusionMatrix, Metrics};
pub use progress::Verbosity;
pub use table1::{run, RunOptions, RunSummary};
