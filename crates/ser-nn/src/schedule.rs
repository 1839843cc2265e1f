//! Learning-rate schedules, stepped once per epoch, with the semantics of PyTorch's `StepLR`,
//! `CosineAnnealingLR` (closed form) and `ReduceLROnPlateau`.
//!
//! ```text
//! Constant:          lr_e = lr₀
//! Step:              lr_e = lr₀ · γ^⌊e / step_size⌋
//! Cosine:            lr_e = η_min + (lr₀ − η_min) · (1 + cos(π e / T_max)) / 2
//! ReduceOnPlateau:   lr ← max(lr · factor, min_lr) after more than `patience` epochs without improvement
//! ```
//! `e` counts completed epochs (calls to [`LrScheduler::step`]); `lr₀` is the optimiser's initial rate.

use crate::error::NnError;

/// Whether a larger or a smaller metric is better (`ReduceLROnPlateau` `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlateauMode {
    /// Loss-like metric.
    Min,
    /// Score-like metric (UAR, accuracy).
    Max,
}

/// How `threshold` defines a significant improvement (`ReduceLROnPlateau` `threshold_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThresholdMode {
    /// Better than `best · (1 ∓ threshold)`.
    Rel,
    /// Better than `best ∓ threshold`.
    Abs,
}

/// A learning-rate schedule (configuration only; [`LrScheduler`] holds the state).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LrSchedule {
    Constant,
    /// Multiply by `gamma` every `step_size` epochs.
    Step {
        step_size: usize,
        gamma: f64,
    },
    /// Half a cosine from `lr₀` down to `eta_min` over `t_max` epochs.
    Cosine {
        t_max: usize,
        eta_min: f64,
    },
    /// Multiply by `factor` when the metric stalls (PyTorch defaults: factor 0.1, patience 10,
    /// threshold 1e-4 rel, cooldown 0, min_lr 0, eps 1e-8).
    ReduceOnPlateau {
        mode: PlateauMode,
        factor: f64,
        patience: usize,
        threshold: f64,
        threshold_mode: ThresholdMode,
        cooldown: usize,
        min_lr: f64,
        eps: f64,
    },
}

impl LrSchedule {
    /// `ReduceOnPlateau` with PyTorch's defaults for everything but `mode`.
    pub fn plateau_default(mode: PlateauMode) -> Self {
        LrSchedule::ReduceOnPlateau {
            mode,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }

    /// # Errors
    /// [`NnError::InvalidConfig`] for `step_size = 0`, `t_max = 0`, or `factor ∉ [0, 1)`.
    pub fn validate(&self) -> Result<(), NnError> {
        match *self {
            LrSchedule::Step { step_size: 0, .. } => Err(NnError::invalid(
                "lr schedule",
                "step_size",
                0,
                "must be > 0",
            )),
            LrSchedule::Cosine { t_max: 0, .. } => {
                Err(NnError::invalid("lr schedule", "t_max", 0, "must be > 0"))
            }
            LrSchedule::ReduceOnPlateau { factor, .. } if !(0.0..1.0).contains(&factor) => Err(
                NnError::invalid("lr schedule", "factor", factor, "must be in [0, 1)"),
            ),
            _ => Ok(()),
        }
    }
}

/// A schedule plus its state: the epoch counter and, for plateaus, the best metric and counters.
#[derive(Clone, Debug)]
pub struct LrScheduler {
    schedule: LrSchedule,
    base_lr: f64,
    lr: f64,
    epoch: usize,
    best: f64,
    bad_epochs: usize,
    cooldown_left: usize,
}

impl LrScheduler {
    /// Starts at `base_lr` (epoch 0).
    ///
    /// # Errors
    /// See [`LrSchedule::validate`].
    pub fn new(schedule: LrSchedule, base_lr: f64) -> Result<Self, NnError> {
        schedule.validate()?;
        let best = match schedule {
            LrSchedule::ReduceOnPlateau {
                mode: PlateauMode::Max,
                ..
            } => f64::NEG_INFINITY,
            _ => f64::INFINITY,
        };
        Ok(Self {
            schedule,
            base_lr,
            lr: base_lr,
            epoch: 0,
            best,
            bad_epochs: 0,
            cooldown_left: 0,
        })
    }

    /// Learning rate for the coming epoch.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Epochs completed (calls to [`LrScheduler::step`]).
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// Ends an epoch and returns the learning rate for the next one. `metric` (validation loss or score)
    /// is read only by `ReduceOnPlateau`; a NaN metric counts as no improvement.
    pub fn step(&mut self, metric: f64) -> f64 {
        self.epoch += 1;
        let e = self.epoch as f64;
        self.lr = match self.schedule {
            LrSchedule::Constant => self.base_lr,
            LrSchedule::Step { step_size, gamma } => {
                self.base_lr * gamma.powi((self.epoch / step_size) as i32)
            }
            LrSchedule::Cosine { t_max, eta_min } => {
                let cos = (std::f64::consts::PI * e / t_max as f64).cos();
                eta_min + (self.base_lr - eta_min) * (1.0 + cos) / 2.0
            }
            LrSchedule::ReduceOnPlateau { .. } => self.plateau_step(metric),
        };
        self.lr
    }

    fn plateau_step(&mut self, metric: f64) -> f64 {
        let LrSchedule::ReduceOnPlateau {
            mode,
            factor,
            patience,
            threshold,
            threshold_mode,
            cooldown,
            min_lr,
            eps,
        } = self.schedule
        else {
            unreachable!("plateau_step on another schedule");
        };
        let better = match (mode, threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => metric < self.best * (1.0 - threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => metric < self.best - threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => metric > self.best * (1.0 + threshold),
            (PlateauMode::Max, ThresholdMode::Abs) => metric > self.best + threshold,
        };
        if better {
            self.best = metric;
            self.bad_epochs = 0;
        } else {
            self.bad_epochs += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad_epochs = 0;
        }
        let mut lr = self.lr;
        if self.bad_epochs > patience {
            let new_lr = (lr * factor).max(min_lr);
            if lr - new_lr > eps {
                lr = new_lr;
            }
            self.cooldown_left = cooldown;
            self.bad_epochs = 0;
        }
        lr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_and_cosine_follow_closed_forms() {
        let mut s = LrScheduler::new(
            LrSchedule::Step {
                step_size: 2,
                gamma: 0.5,
            },
            1.0,
        )
        .unwrap();
        let lrs: Vec<f64> = (0..5).map(|_| s.step(0.0)).collect();
        assert_eq!(lrs, vec![1.0, 0.5, 0.5, 0.25, 0.25]);
        let mut c = LrScheduler::new(
            LrSchedule::Cosine {
                t_max: 4,
                eta_min: 0.1,
            },
            1.1,
        )
        .unwrap();
        let lrs: Vec<f64> = (0..4).map(|_| c.step(0.0)).collect();
        assert!((lrs[1] - 0.6).abs() < 1e-12 && (lrs[3] - 0.1).abs() < 1e-12);
    }

    /// Patience 2, cooldown 1, mode max: the rate drops on the third bad epoch, then waits a cooldown.
    #[test]
    fn plateau_reduces_after_patience() {
        let sched = LrSchedule::ReduceOnPlateau {
            mode: PlateauMode::Max,
            factor: 0.5,
            patience: 2,
            threshold: 0.0,
            threshold_mode: ThresholdMode::Abs,
            cooldown: 1,
            min_lr: 0.3,
            eps: 1e-8,
        };
        let mut s = LrScheduler::new(sched, 1.0).unwrap();
        let metrics = [0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6];
        let lrs: Vec<f64> = metrics.iter().map(|&m| s.step(m)).collect();
        assert_eq!(
            lrs,
            vec![1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.3, 0.3, 0.3, 0.3]
        );
    }
}
