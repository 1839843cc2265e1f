//! Adam and AdamW with `torch.optim.Adam` / `torch.optim.AdamW` semantics (amsgrad off).
//!
//! At step `t = 1, 2, …`, for each parameter `θ` with gradient `g`:
//! ```text
//! Adam (L2):     g ← g + λ·θ
//! AdamW:         θ ← θ · (1 − lr·λ)                      (decoupled weight decay)
//! m ← β₁·m + (1 − β₁)·g
//! v ← β₂·v + (1 − β₂)·g²
//! θ ← θ − (lr / (1 − β₁ᵗ)) · m / ( √v / √(1 − β₂ᵗ) + ε )     (ε OUTSIDE the square root)
//! ```
//! The moment estimates are stored in `T`; each update is computed in f64 and rounded once.

use super::Optimizer;
use crate::error::NnError;
use lstm_core::Real;

/// Hyper-parameters; `Default` = PyTorch's defaults (`lr 1e-3, β (0.9, 0.999), ε 1e-8, λ 0`, coupled L2).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// `false`: L2 penalty added to the gradient (Adam); `true`: decoupled decay (AdamW).
    pub decoupled: bool,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
        }
    }
}

impl AdamConfig {
    /// The same range checks PyTorch makes.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] if `lr < 0`, `eps < 0`, `β ∉ [0, 1)` or `weight_decay < 0`.
    pub fn validate(&self) -> Result<(), NnError> {
        let check = |ok: bool, field, value: f64, rule| {
            if ok {
                Ok(())
            } else {
                Err(NnError::invalid("Adam", field, value, rule))
            }
        };
        check(self.lr >= 0.0, "lr", self.lr, "must be >= 0")?;
        check(self.eps >= 0.0, "eps", self.eps, "must be >= 0")?;
        check(
            (0.0..1.0).contains(&self.beta1),
            "beta1",
            self.beta1,
            "must be in [0, 1)",
        )?;
        check(
            (0.0..1.0).contains(&self.beta2),
            "beta2",
            self.beta2,
            "must be in [0, 1)",
        )?;
        check(
            self.weight_decay >= 0.0,
            "weight_decay",
            self.weight_decay,
            "must be >= 0",
        )
    }
}

/// Adam state for a flat buffer of `n_params` parameters.
#[derive(Clone, Debug)]
pub struct Adam<T> {
    config: AdamConfig,
    step: u64,
    exp_avg: Vec<T>,
    exp_avg_sq: Vec<T>,
}

impl<T: Real> Adam<T> {
    /// Zero moments, step 0. Values are not checked; see [`Adam::try_new`].
    pub fn new(config: AdamConfig, n_params: usize) -> Self {
        Self {
            config,
            step: 0,
            exp_avg: vec![T::ZERO; n_params],
            exp_avg_sq: vec![T::ZERO; n_params],
        }
    }

    /// Like [`Adam::new`] after [`AdamConfig::validate`].
    ///
    /// # Errors
    /// See [`AdamConfig::validate`].
    pub fn try_new(config: AdamConfig, n_params: usize) -> Result<Self, NnError> {
        config.validate()?;
        Ok(Self::new(config, n_params))
    }

    pub fn config(&self) -> &AdamConfig {
        &self.config
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.step
    }

    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// One Adam/AdamW update (see the module doc for the equations).
    ///
    /// # Panics
    /// If `params` or `grads` does not have the `n_params` given at construction.
    pub fn step(&mut self, params: &mut [T], grads: &[T]) {
        let n = self.exp_avg.len();
        assert_eq!(
            params.len(),
            n,
            "Adam::step: params must have n_params = {n} elements"
        );
        assert_eq!(
            grads.len(),
            n,
            "Adam::step: grads must have n_params = {n} elements"
        );
        self.step += 1;
        let c = self.config;
        let t = self.step as i32;
        let bias_correction1 = 1.0 - c.beta1.powi(t);
        let bias_correction2_sqrt = (1.0 - c.beta2.powi(t)).sqrt();
        let step_size = c.lr / bias_correction1;
        // (L2 coefficient added to the gradient, multiplicative decay applied to θ first)
        let (l2, decay) = if c.weight_decay == 0.0 {
            (0.0, 1.0)
        } else if c.decoupled {
            (0.0, 1.0 - c.lr * c.weight_decay)
        } else {
            (c.weight_decay, 1.0)
        };
        for (((p, &g), m), v) in params
            .iter_mut()
            .zip(grads)
            .zip(self.exp_avg.iter_mut())
            .zip(self.exp_avg_sq.iter_mut())
        {
            let theta = p.to_f64() * decay;
            let g = g.to_f64() + l2 * theta;
            let m_new = c.beta1 * m.to_f64() + (1.0 - c.beta1) * g;
            let v_new = c.beta2 * v.to_f64() + (1.0 - c.beta2) * g * g;
            *m = T::from_f64(m_new);
            *v = T::from_f64(v_new);
            let denom = v_new.sqrt() / bias_correction2_sqrt + c.eps;
            *p = T::from_f64(theta - step_size * m_new / denom);
        }
    }
}

impl<T: Real> Optimizer<T> for Adam<T> {
    fn step(&mut self, params: &mut [T], grads: &[T]) {
        Adam::step(self, params, grads);
    }
    fn lr(&self) -> f64 {
        self.config.lr
    }
    fn set_lr(&mut self, lr: f64) {
        Adam::set_lr(self, lr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// First step of Adam moves every parameter by `lr · g/(|g| + ε')`, i.e. ≈ lr·sign(g).
    #[test]
    fn first_step_is_about_lr_times_sign() {
        let mut adam = Adam::<f64>::new(AdamConfig::default(), 3);
        let mut p = vec![1.0, 1.0, 1.0];
        adam.step(&mut p, &[0.5, -2.0, 0.0]);
        assert!((p[0] - (1.0 - 1e-3)).abs() < 1e-9);
        assert!((p[1] - (1.0 + 1e-3)).abs() < 1e-9);
        assert_eq!(p[2], 1.0);
    }

    #[test]
    fn adamw_decays_even_without_gradient() {
        let cfg = AdamConfig {
            lr: 0.1,
            weight_decay: 0.5,
            decoupled: true,
            ..Default::default()
        };
        let mut adam = Adam::<f64>::new(cfg, 1);
        let mut p = vec![2.0];
        adam.step(&mut p, &[0.0]);
        assert!((p[0] - 2.0 * (1.0 - 0.05)).abs() < 1e-12);
        assert!(AdamConfig {
            beta1: 1.0,
            ..Default::default()
        }
        .validate()
        .is_err());
    }
}
