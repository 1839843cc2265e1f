//! Multi-layer LSTM with hand-written backpropagation through time and fused SIMD gate kernels,
//! numerically equivalent to PyTorch's `nn.LSTM` (uni- or bidirectional, with biases, zero initial state).
//!
//! # Conventions
//! - Parameters: PyTorch names and layouts in one flat buffer ([`ParamLayout`]): per layer k
//!   `weight_ih_l{k} [4H, in_k]`, `weight_hh_l{k} [4H, H]`, `bias_ih_l{k} [4H]`, `bias_hh_l{k} [4H]`, all
//!   row-major. Gate order i, f, g, o. Bidirectional (D = 2): each layer's four tensors are followed by
//!   the reverse direction's (`weight_ih_l{k}_reverse`, …), and `in_k = 2H` for k > 0.
//! - Equations, per frame: `gates = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh`; i = σ, f = σ, g = tanh, o = σ;
//!   `c' = f ⊙ c + i ⊙ g`; `h' = o ⊙ tanh(c')`. Initial h and c are zero.
//! - Batches are packed ([`PackedBatch`], `pack_padded_sequence` semantics); packed tensors are `[N, ·]`
//!   with N = Σ lengths; final states are `[L·D, B, H]` (l0, l0 reverse, l1, …) in the original batch
//!   order; a layer's per-frame output is `[h_fwd ‖ h_rev]` (`D·H`). The reverse direction runs each
//!   sequence backwards over its own valid frames ([`reverse`]).
//! - Nothing is normalised or scaled except by inter-layer dropout in training.
//! - `f32` is the fast path (SIMD gates, `sgemm`); `f64` exists for finite-difference checks.

pub mod aligned;
mod backward;
pub mod chunk;
pub mod config;
pub mod error;
mod forward;
pub mod gemm;
pub mod init;
pub mod kernels;
pub mod layout;
pub mod lstm;
pub mod packed;
pub mod real;
pub mod reverse;

pub use config::LstmConfig;
pub use error::LstmError;
pub use gemm::gemm;
pub use kernels::KernelKind;
pub use layout::{LayerRanges, ParamLayout, TensorSpec};
pub use lstm::{ForwardOptions, Lstm, LstmGradients, LstmOutput};
pub use packed::PackedBatch;
pub use real::Real;
