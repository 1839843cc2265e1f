//! The crate's one error type.

use crate::kernels::KernelKind;

/// Everything in `lstm-core` that can fail on user-supplied input.
///
/// Shape mismatches between buffers handed to the kernels are bugs in the caller and panic instead
/// (each function lists them under `# Panics`).
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum LstmError {
    /// A configuration field is out of range.
    #[error("invalid LSTM config: {field} = {value} ({rule})")]
    InvalidConfig {
        field: &'static str,
        value: String,
        rule: &'static str,
    },
    /// The requested gate kernel does not exist for this element type or CPU.
    #[error("gate kernel {requested:?} is not available for element type {element}")]
    KernelUnavailable {
        requested: KernelKind,
        element: &'static str,
    },
    /// An environment variable naming a kernel holds an unknown value.
    #[error("{var}={value:?}: expected `scalar` or `wide`")]
    UnknownKernel { var: &'static str, value: String },
    /// A parameter buffer has the wrong length for the layout.
    #[error("{what}: expected {expected} values, got {got}")]
    Length {
        what: &'static str,
        expected: usize,
        got: usize,
    },
}
