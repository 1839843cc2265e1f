//! First-order optimisers over ONE flat parameter buffer and its gradient buffer (PyTorch semantics).

pub mod adam;
pub mod sgd;

pub use adam::{Adam, AdamConfig};
pub use sgd::{Sgd, SgdConfig};

use lstm_core::Real;

/// What the training loop needs from any optimiser.
pub trait Optimizer<T: Real> {
    /// One update of `params` from `grads` (same length as at construction).
    fn step(&mut self, params: &mut [T], grads: &[T]);
    /// Current learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate used by the next steps (for schedules).
    fn set_lr(&mut self, lr: f64);
}
