//! The crate's one error type. Every variant names the file, cell, fold or field it is about.

use std::path::PathBuf;

/// Everything that can go wrong while indexing data, extracting features, training and reporting.
#[derive(thiserror::Error, Debug)]
pub enum ExperimentError {
    /// A file system operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// No candidate folder holds RAVDESS speech files.
    #[error("{}", crate::data_dir::no_data_message(tried))]
    NoData { tried: Vec<(String, PathBuf)> },

    /// A folder named explicitly (flag or environment variable) holds no RAVDESS speech files.
    #[error("{source_name} points to {path}, which holds no RAVDESS speech file (03-01-EE-II-SS-RR-AA.wav)\n{}", crate::data_dir::download_hint())]
    EmptyDataDir { source_name: String, path: PathBuf },

    /// Feature extraction (WAV reading or MFCC) failed for one file.
    #[error("feature extraction failed for {path}: {source}")]
    Dsp {
        path: PathBuf,
        #[source]
        source: ser_dsp::DspError,
    },

    /// The named MFCC preset does not exist.
    #[error("feature preset {name:?}: {source}")]
    FeaturePreset {
        name: String,
        #[source]
        source: ser_dsp::DspError,
    },

    /// A TOML config file could not be parsed.
    #[error("config {path}: {source}")]
    ConfigParse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },

    /// A config could not be written as TOML.
    #[error("serialising the config as TOML: {0}")]
    ConfigSerialize(#[from] toml::ser::Error),

    /// A config value is out of range.
    #[error("config field `{field}` = {value}: {reason}")]
    InvalidConfig {
        field: &'static str,
        value: String,
        reason: &'static str,
    },

    /// A cell name such as `L2h64-concat` could not be parsed or is not in Table 1.
    #[error("unknown cell {name:?}; expected L<layers>h<hidden>[-bi][-concat|-mean|-max|-attn], e.g. {known}")]
    UnknownCell { name: String, known: String },

    /// The paper's fold plan needs actors that the data folder does not hold.
    #[error("the paper's 5-fold plan needs all 24 actors; missing actors {missing:?} in {data_dir}. Use --quick (reduced fold plan over the actors present) or the full data set")]
    MissingActors { missing: Vec<u8>, data_dir: PathBuf },

    /// Too few actors for any speaker-independent plan (need test, validation and training actors).
    #[error("a speaker-independent fold plan needs at least {needed} actors; the data folder holds {present:?}")]
    TooFewActors { needed: usize, present: Vec<u8> },

    /// A fold has no clips in one of its roles.
    #[error("fold {fold}: no {role} clips")]
    EmptySplit { fold: usize, role: &'static str },

    /// Clips disagree on the number of MFCC coefficients.
    #[error("{path}: {got} MFCC coefficients per frame, expected {expected}")]
    FeatureShape {
        path: PathBuf,
        expected: usize,
        got: usize,
    },

    /// Loss or gradient became NaN/Inf during training.
    #[error("non-finite {what} in cell {cell}, fold {fold}, seed {seed}, epoch {epoch}, step {step} (loss {loss}); try a lower learning rate or gradient clipping")]
    NonFinite {
        what: &'static str,
        cell: String,
        fold: usize,
        seed: u64,
        epoch: usize,
        step: usize,
        loss: f64,
    },

    /// A JSON file could not be written or read.
    #[error("JSON {path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    /// The plot could not be drawn.
    #[error("plot {path}: {reason}")]
    Plot { path: PathBuf, reason: String },

    /// A worker thread panicked (a bug); the message is the panic payload.
    #[error("unit {unit} panicked: {message}")]
    WorkerPanic { unit: String, message: String },
}

/// Shorthand for this crate's results.
pub type Result<T, E = ExperimentError> = std::result::Result<T, E>;

impl ExperimentError {
    /// Wraps an I/O error with the operation and the path it concerned.
    pub fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            op,
            path: path.into(),
            source,
        }
    }
}
