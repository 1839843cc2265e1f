//! Stochastic gradient descent with `torch.optim.SGD` semantics.
//!
//! For each parameter `θ` with gradient `g`, momentum `μ`, dampening `τ`, weight decay `λ`:
//! ```text
//! g ← g + λ·θ
//! b ← g                         at the first step (momentum buffer starts as the gradient)
//! b ← μ·b + (1 − τ)·g           afterwards
//! d ← g + μ·b  (Nesterov)   or   d ← b   (classic momentum)   or   d ← g   (μ = 0)
//! θ ← θ − lr·d
//! ```

use super::Optimizer;
use crate::error::NnError;
use lstm_core::Real;

/// Hyper-parameters; `Default` = PyTorch's (`momentum 0, dampening 0, λ 0, nesterov false`) with lr 0.01.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SgdConfig {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

impl SgdConfig {
    /// The same checks PyTorch makes (Nesterov needs momentum > 0 and zero dampening).
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] naming the offending field.
    pub fn validate(&self) -> Result<(), NnError> {
        let bad = |field, value: f64, rule| Err(NnError::invalid("SGD", field, value, rule));
        if !non_negative(self.lr) {
            return bad("lr", self.lr, "must be >= 0");
        }
        if !non_negative(self.momentum) {
            return bad("momentum", self.momentum, "must be >= 0");
        }
        if !non_negative(self.weight_decay) {
            return bad("weight_decay", self.weight_decay, "must be >= 0");
        }
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return bad(
                "momentum",
                self.momentum,
                "Nesterov needs momentum > 0 and dampening = 0",
            );
        }
        Ok(())
    }
}

/// `v ≥ 0`, false for NaN.
fn non_negative(v: f64) -> bool {
    v >= 0.0
}

/// SGD state for a flat buffer of `n_params` parameters.
#[derive(Clone, Debug)]
pub struct Sgd<T> {
    config: SgdConfig,
    momentum_buffer: Vec<T>,
    started: bool,
}

impl<T: Real> Sgd<T> {
    /// Values are not checked; see [`Sgd::try_new`].
    pub fn new(config: SgdConfig, n_params: usize) -> Self {
        let buffer_len = if config.momentum != 0.0 { n_params } else { 0 };
        Self {
            config,
            momentum_buffer: vec![T::ZERO; buffer_len],
            started: false,
        }
    }

    /// # Errors
    /// See [`SgdConfig::validate`].
    pub fn try_new(config: SgdConfig, n_params: usize) -> Result<Self, NnError> {
        config.validate()?;
        Ok(Self::new(config, n_params))
    }

    pub fn config(&self) -> &SgdConfig {
        &self.config
    }

    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// One SGD update (see the module doc).
    ///
    /// # Panics
    /// If `params` and `grads` differ in length, or (with momentum) differ from `n_params`.
    pub fn step(&mut self, params: &mut [T], grads: &[T]) {
        assert_eq!(
            params.len(),
            grads.len(),
            "Sgd::step: params and grads differ in length"
        );
        let c = self.config;
        if c.momentum == 0.0 {
            for (p, &g) in params.iter_mut().zip(grads) {
                let theta = p.to_f64();
                let d = g.to_f64() + c.weight_decay * theta;
                *p = T::from_f64(theta - c.lr * d);
            }
            return;
        }
        let n = self.momentum_buffer.len();
        assert_eq!(
            params.len(),
            n,
            "Sgd::step: params must have n_params = {n} elements"
        );
        let first = !self.started;
        self.started = true;
        for ((p, &g), b) in params
            .iter_mut()
            .zip(grads)
            .zip(self.momentum_buffer.iter_mut())
        {
            let theta = p.to_f64();
            let g = g.to_f64() + c.weight_decay * theta;
            let buf = if first {
                g
            } else {
                c.momentum * b.to_f64() + (1.0 - c.dampening) * g
            };
            *b = T::from_f64(buf);
            let d = if c.nesterov {
                g + c.momentum * buf
            } else {
                buf
            };
            *p = T::from_f64(theta - c.lr * d);
        }
    }
}

impl<T: Real> Optimizer<T> for Sgd<T> {
    fn step(&mut self, params: &mut [T], grads: &[T]) {
        Sgd::step(self, params, grads);
    }
    fn lr(&self) -> f64 {
        self.config.lr
    }
    fn set_lr(&mut self, lr: f64) {
        Sgd::set_lr(self, lr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two steps of heavy-ball and Nesterov momentum on a constant gradient, worked by hand.
    #[test]
    fn momentum_buffers_follow_pytorch() {
        let cfg = SgdConfig {
            lr: 0.1,
            momentum: 0.5,
            ..Default::default()
        };
        let mut sgd = Sgd::<f64>::new(cfg, 1);
        let mut p = vec![0.0];
        sgd.step(&mut p, &[1.0]); // buf 1 -> p -0.1
        sgd.step(&mut p, &[1.0]); // buf 1.5 -> p -0.25
        assert!((p[0] + 0.25).abs() < 1e-12);
        let mut nag = Sgd::<f64>::new(
            SgdConfig {
                nesterov: true,
                ..cfg
            },
            1,
        );
        let mut q = vec![0.0];
        nag.step(&mut q, &[1.0]); // buf 1, d 1.5 -> -0.15
        nag.step(&mut q, &[1.0]); // buf 1.5, d 1.75 -> -0.325
        assert!((q[0] + 0.325).abs() < 1e-12);
        assert!(SgdConfig {
            nesterov: true,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
