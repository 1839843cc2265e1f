//! Training kit and the paper's classifier, built on `lstm-core`.
//!
//! - [`linear`]: fully connected layer, PyTorch layout `weight: [out, in]`, `bias: [out]`.
//! - [`dropout`]: inverted, seeded dropout.
//! - [`loss`]: softmax, log-softmax, cross-entropy (class weights, label smoothing).
//! - [`optim`]: Adam/AdamW and SGD (momentum, Nesterov), PyTorch semantics.
//! - [`clip`]: global L2 gradient-norm clipping. [`schedule`]: learning-rate schedules.
//! - [`augment`]: SpecAugment-style feature/time masking for training.
//! - [`pooling`]: mean, max and soft-attention pooling of per-frame outputs, with backward.
//! - [`classifier`]: LSTM → head (Last | Concat | Mean | Max | Attention) → dropout → Linear, with
//!   batched forward/backward.
//! - [`io`]: save/load as safetensors with PyTorch `state_dict` names.
//!
//! Conventions: every buffer is row-major; batches are `[B, …]` in the batch's ORIGINAL order unless
//! said otherwise; parameters and gradients of a whole model live in one flat buffer each (LSTM tensors
//! in PyTorch `state_dict` order, then `fc.weight`, `fc.bias`), so one optimiser serves every layer.
//! Everything is generic over [`Real`] (`f32` to train, `f64` to check gradients).

pub mod augment;
pub mod classifier;
pub mod clip;
pub mod config;
pub mod dropout;
pub mod error;
pub mod init_spec;
pub mod io;
pub mod linear;
pub mod loss;
pub mod optim;
pub mod pooling;
pub mod schedule;

pub use augment::SpecAugment;
pub use classifier::Classifier;
pub use clip::{clip_grad_norm, grad_norm};
pub use config::{ClassifierConfig, Head};
pub use dropout::Dropout;
pub use error::NnError;
pub use init_spec::{BiasInitSpec, BiasTargetSpec, InitSpec, LinearInitSpec, WeightInitSpec};
pub use io::{
    load_model, load_model_as, load_model_from_bytes, load_state_dict, save_model, ModelMeta,
};
pub use linear::Linear;
pub use loss::{log_softmax, softmax, CrossEntropy};
pub use lstm_core::kernels::summary as kernel_summary;
pub use lstm_core::{PackedBatch, Real};
pub use optim::{Adam, AdamConfig, Optimizer, Sgd, SgdConfig};
pub use pooling::AttentionPool;
pub use schedule::{LrSchedule, LrScheduler, PlateauMode, ThresholdMode};
