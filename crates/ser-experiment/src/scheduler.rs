//! Sharing the cores between units.
//!
//! `lstm-core` parallelises one training step over rayon's pool, but a small model cannot keep two cores
//! busy; two units side by side then finish sooner. For each LSTM shape (layers, hidden) with work to do,
//! [`calibrate`] times a few real training steps of one unit alone (the whole pool) and of two units side
//! by side, and picks [`Placement::Concurrent`] when the pair's throughput beats the single unit's by more
//! than 5 %, else [`Placement::Alone`]. `--jobs N` skips the measurement: N units side by side (N = 1: one
//! at a time). Results do not depend on the choice: a unit's seeds come from (seed, cell, fold) only, and
//! `lstm-core` is bit-identical whatever the thread count.
//!
//! The dispatcher hands units out in order; a unit takes one slot (concurrent) or all slots (alone) and
//! waits until they are free. A lone unit runs on the global pool, so its inner parallel loops spread over
//! every core. A side-by-side unit runs in a one-thread pool of its own ([`in_own_thread`]), so its loops
//! run in turn on that thread. Sharing the global pool instead lets one unit's worker steal the other's
//! batch chunks and then wait in its own join behind them: in the full run of session 4, L3h128 units of a
//! pair took anywhere from 175 to 523 s where a steady pair takes 335 s (one unit at solo speed while its
//! partner crawled), and the ten units took 9 % longer than steady pairs would have.

use std::sync::mpsc;
use std::time::Instant;

use ser_nn::{Adam, AdamConfig, Classifier};
use serde::{Deserialize, Serialize};

use crate::cells::Cell;
use crate::config::TrainingConfig;
use crate::error::{ExperimentError, Result};
use crate::train::{classifier_config, pack, UnitData};
use crate::units::Unit;

/// How a cell's units use the cores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Placement {
    /// Beside other units, one slot each.
    Concurrent,
    /// Alone, with the whole thread pool.
    Alone,
}

impl Placement {
    pub fn name(self) -> &'static str {
        match self {
            Placement::Concurrent => "concurrent",
            Placement::Alone => "alone",
        }
    }
}

/// One shape's measurement.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Calibration {
    pub layers: usize,
    pub hidden: usize,
    /// Seconds per training step of one unit running alone.
    pub alone_step_s: f64,
    /// Seconds per training step of each of two units side by side.
    pub pair_step_s: f64,
    /// `2 · alone / pair`: throughput of the pair relative to one unit alone.
    pub pair_speedup: f64,
    pub placement: Placement,
}

/// Times `steps` training steps of `cell` on the first training batch of `data` (after one warm-up step)
/// alone and as a pair, and decides (see module docs). With fewer than 2 pool threads: `Alone`, unmeasured.
pub fn calibrate(
    cell: &Cell,
    data: &UnitData,
    training: &TrainingConfig,
    steps: usize,
) -> Calibration {
    let threads = rayon::current_num_threads();
    let mut calibration = Calibration {
        layers: cell.layers,
        hidden: cell.hidden,
        alone_step_s: f64::NAN,
        pair_step_s: f64::NAN,
        pair_speedup: f64::NAN,
        placement: Placement::Alone,
    };
    if threads < 2 || data.train.inputs.is_empty() {
        return calibration;
    }
    let steps = steps.max(1);
    // Alternate the two measurements twice and keep each one's best, so a burst of load from other
    // processes during one of them does not decide alone.
    let (mut alone, mut pair) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..2 {
        alone = alone.min(rayon::scope(|_| time_steps(cell, data, training, steps)));
        pair = pair.min(time_pair(cell, data, training, steps));
    }
    calibration.alone_step_s = alone;
    calibration.pair_step_s = pair;
    calibration.pair_speedup = 2.0 * alone / pair;
    if calibration.pair_speedup > 1.05 {
        calibration.placement = Placement::Concurrent;
    }
    calibration
}

/// Runs `work` in a rayon pool of one thread of its own, so that its parallel loops run in turn on that
/// thread and never interleave with another unit's. Falls back to the global pool if the thread cannot be
/// made (results are the same either way; only the speed differs).
fn in_own_thread<R: Send>(work: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
        Ok(pool) => pool.install(work),
        Err(_) => rayon::scope(|_| work()),
    }
}

/// Seconds per step of each of two units training side by side, each in its own one-thread pool as
/// [`run_units`] places them (the slower of the two; each excludes its warm-up step).
fn time_pair(cell: &Cell, data: &UnitData, training: &TrainingConfig, steps: usize) -> f64 {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| in_own_thread(|| time_steps(cell, data, training, steps))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(f64::INFINITY))
            .fold(0.0, f64::max)
    })
}

/// Seconds per step (forward, backward, Adam) of a freshly initialised model; the first step is a warm-up.
fn time_steps(cell: &Cell, data: &UnitData, training: &TrainingConfig, steps: usize) -> f64 {
    let config = classifier_config(cell, data.input_size, training);
    let mut model = Classifier::<f32>::new(config, 0);
    let n = model.num_params();
    let mut adam = Adam::<f32>::new(AdamConfig::default(), n);
    let mut grads = vec![0f32; n];
    let count = training.batch_size.min(data.train.inputs.len());
    let indices: Vec<usize> = (0..count).collect();
    let batch = pack(&data.train, &indices, data.input_size);
    let labels: Vec<usize> = indices.iter().map(|&i| data.train.labels[i]).collect();
    let mut start = Instant::now();
    for step in 0..=steps {
        if step == 1 {
            start = Instant::now();
        }
        model.forward_backward(&batch, &labels, step as u64, &mut grads);
        adam.step(model.params_mut(), &grads);
    }
    start.elapsed().as_secs_f64() / steps as f64
}

/// Runs `work` for every unit in order, `placement_of(unit)` deciding its slots (1 or `slots`), at most
/// `slots` in use at once. After the first error no new unit starts; units in flight finish; the first
/// error is returned. A panicking unit becomes [`ExperimentError::WorkerPanic`].
pub fn run_units<W>(
    units: &[Unit],
    slots: usize,
    placement_of: &(dyn Fn(&Unit) -> Placement + Sync),
    work: &W,
) -> Result<()>
where
    W: Fn(&Unit, Placement) -> Result<()> + Sync,
{
    let slots = slots.max(1);
    let mut first_error: Option<ExperimentError> = None;
    std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<(usize, Result<()>)>();
        let mut used = 0usize;
        let mut in_flight = 0usize;
        let settle = |(freed, result): (usize, Result<()>),
                      used: &mut usize,
                      in_flight: &mut usize,
                      first_error: &mut Option<ExperimentError>| {
            *used -= freed;
            *in_flight -= 1;
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        };
        for unit in units {
            let placement = placement_of(unit);
            let need = match placement {
                Placement::Concurrent => 1,
                Placement::Alone => slots,
            };
            while used + need > slots && in_flight > 0 {
                match rx.recv() {
                    Ok(msg) => settle(msg, &mut used, &mut in_flight, &mut first_error),
                    Err(_) => break,
                }
            }
            if first_error.is_some() {
                break;
            }
            used += need;
            in_flight += 1;
            let tx = tx.clone();
            let unit = *unit;
            s.spawn(move || {
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match placement {
                        Placement::Concurrent => in_own_thread(|| work(&unit, placement)),
                        Placement::Alone => rayon::scope(|_| work(&unit, placement)),
                    }));
                let result = outcome.unwrap_or_else(|payload| {
                    let message = payload
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "unknown panic".into());
                    Err(ExperimentError::WorkerPanic {
                        unit: unit.label(),
                        message,
                    })
                });
                let _ = tx.send((need, result));
            });
        }
        while in_flight > 0 {
            match rx.recv() {
                Ok(msg) => settle(msg, &mut used, &mut in_flight, &mut first_error),
                Err(_) => break,
            }
        }
    });
    first_error.map_or(Ok(()), Err)
}
