//! The crate's one error type. Every variant names the file, tensor or setting it is about.

use std::path::PathBuf;

/// Everything that can go wrong with user-supplied input: model files, metadata, configurations.
///
/// Shape mismatches between kernels (bugs in the caller) panic instead; see each function's `# Panics`.
#[derive(thiserror::Error, Debug)]
pub enum NnError {
    /// A file-system operation (`op`: "read", "write", "rename", ...) failed on `path`.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The safetensors library rejected the file (bad header, truncated data, ...).
    #[error("safetensors {op} {path}: {source}")]
    Safetensors {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: safetensors::SafeTensorError,
    },

    /// A tensor the model needs is absent from the file.
    #[error("{path}: missing tensor {name:?}")]
    MissingTensor { path: PathBuf, name: String },

    /// The file holds a tensor the model does not have (strict loading, like PyTorch's `strict=True`).
    #[error("{path}: unexpected tensor {name:?}")]
    UnexpectedTensor { path: PathBuf, name: String },

    /// A tensor has the wrong shape for the configured model.
    #[error("{path}: tensor {name:?} has shape {got:?}, expected {expected:?}")]
    TensorShape {
        path: PathBuf,
        name: String,
        expected: Vec<usize>,
        got: Vec<usize>,
    },

    /// A tensor has a dtype we do not read (we read F32 and F64).
    #[error("{path}: tensor {name:?} has dtype {got}, expected F32 or F64")]
    TensorDtype {
        path: PathBuf,
        name: String,
        got: String,
    },

    /// A required `__metadata__` key is absent.
    #[error("{path}: missing metadata key {key:?} (not a model saved by ser-nn?)")]
    MissingMetadata { path: PathBuf, key: &'static str },

    /// A metadata value is not the JSON we expect.
    #[error("{path}: metadata key {key:?}: {source}")]
    MetadataJson {
        path: PathBuf,
        key: &'static str,
        #[source]
        source: serde_json::Error,
    },

    /// Model metadata disagrees with the model (e.g. normalisation vectors of the wrong length).
    #[error("{path}: metadata field {field}: expected {expected}, got {got}")]
    MetadataMismatch {
        path: PathBuf,
        field: &'static str,
        expected: String,
        got: String,
    },

    /// Refused to save: a weight is NaN or infinite (training diverged).
    #[error("{path}: refusing to save non-finite weight {tensor}[{index}] = {value}")]
    NonFiniteWeight {
        path: PathBuf,
        tensor: String,
        index: usize,
        value: f64,
    },

    /// lstm-core refused an operation (e.g. the requested gate kernel does not exist for this type).
    #[error("lstm-core {op}: {source}")]
    Lstm {
        op: &'static str,
        #[source]
        source: lstm_core::LstmError,
    },

    /// A configuration value is out of its valid range.
    #[error("invalid {what}: {field} = {value} ({rule})")]
    InvalidConfig {
        what: &'static str,
        field: &'static str,
        value: String,
        rule: &'static str,
    },
}

impl NnError {
    pub(crate) fn invalid(
        what: &'static str,
        field: &'static str,
        value: impl std::fmt::Display,
        rule: &'static str,
    ) -> Self {
        NnError::InvalidConfig {
            what,
            field,
            value: value.to_string(),
            rule,
        }
    }
}
