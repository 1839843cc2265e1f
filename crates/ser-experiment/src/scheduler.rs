//! Sharing the cores between units.
//!
//! `lstm-core` parallelises one training step over rayon's pool, but a small model cannot keep two cores
//! busy; two units side by side then finish sooner. For each LSTM shape (layers, hidden) with work to do,
//! [`calibrate`] times one real training epoch (every batch of the first fold's training split in
//! shuffled order, Adam, then the validation pass: [`train_model`] with one epoch) of one unit alone (the
//! whole pool) and of two units side by side. It picks [`Placement::Alone`] only when one unit alone is
//! more than 5 % faster, else [`Placement::Concurrent`]. `--jobs N` skips the measurement: N units side
//! by side (N = 1: one at a time). Results do not depend on the choice: a unit's seeds come from (seed,
//! cell, fold) only, and `lstm-core` is bit-identical whatever the thread count.
//!
//! Why a whole epoch, averaged, and why a tie goes to the pair: until session 7 the calibration timed
//! three steps on one repeated batch, kept the best of two tries and wanted the pair 5 % ahead. Those steps
//! split evenly over the two cores and saw none of what happens between them (uneven batches, Adam, the
//! validation pass, each leaving a core idle for a while). It found the pair no faster than one unit alone
//! (×0.95–1.08) for most shapes and chose alone, yet in real runs the pair was faster for every shape.
//! The epochs of a lone unit also vary far more: its two threads meet at every step, so any stall of
//! either core (this VM has many) holds both. In 4-epoch runs of all 15 cells on all 24 actors, a lone
//! L3h128 epoch took 1.49–2.63 s and a lone L3h64 epoch 0.45–0.72 s, while a pair's epochs stayed within
//! ±8 % (L3h128 2.81–3.12 s for two epochs at once, one outlier 4.0 s); the whole grid took 157 s side by
//! side against 181–190 s one unit at a time (`--jobs 2` against `--jobs 1`, twice each). So the
//! measurement is a whole epoch, the mean of several tries (the best of them flatters the lone unit), and
//! the lone unit must be more than 5 % faster to be chosen.
//!
//! The dispatcher hands units out in order; a unit takes one slot (concurrent) or all slots (alone) and
//! waits until they are free. A lone unit runs on the global pool, so its inner parallel loops spread over
//! every core. A side-by-side unit runs in a one-thread pool of its own (`in_own_thread`), so its loops
//! run in turn on that thread. Sharing the global pool instead lets one unit's worker steal the other's
//! batch chunks and then wait in its own join behind them: in the full run of session 4, L3h128 units of a
//! pair took anywhere from 175 to 523 s where a steady pair takes 335 s (one unit at solo speed while its
//! partner crawled), and the ten units took 9 % longer than steady pairs would have.

use std::sync::mpsc;

use serde::{Deserialize, Serialize};

use crate::cells::Cell;
use crate::config::TrainingConfig;
use crate::error::{ExperimentError, Result};
use crate::train::{train_model, Split, UnitData, UnitId};
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
    /// Seconds of one training epoch (training steps and validation pass) of one unit running alone,
    /// mean of the tries.
    pub alone_epoch_s: f64,
    /// Seconds of one training epoch of each of two units side by side (the slower of the two), mean of
    /// the tries.
    pub pair_epoch_s: f64,
    /// `2 · alone / pair`: throughput of the pair relative to one unit alone.
    pub pair_speedup: f64,
    pub placement: Placement,
}

/// Times one training epoch of `cell` on `data` (see module docs) alone and as a pair, in turn, at least
/// [`MIN_TRIES`] times each and until each placement has run for [`MIN_SECONDS`] (short epochs of small
/// models are noisy), at most [`MAX_TRIES`] times, and decides on the means: `Concurrent` unless the
/// lone unit is more than 5 % faster (`pair_speedup ≥ 0.95`). The test clips are not classified. With
/// fewer than 2 pool threads, or when a measurement fails (say the epoch hits a non-finite loss): `Alone`,
/// and the figures are NaN; the unit itself will then report the error.
pub fn calibrate(cell: &Cell, data: &UnitData, training: &TrainingConfig) -> Calibration {
    let threads = rayon::current_num_threads();
    let mut calibration = Calibration {
        layers: cell.layers,
        hidden: cell.hidden,
        alone_epoch_s: f64::NAN,
        pair_epoch_s: f64::NAN,
        pair_speedup: f64::NAN,
        placement: Placement::Alone,
    };
    if threads < 2 || data.train.inputs.is_empty() || data.validation.inputs.is_empty() {
        return calibration;
    }
    let data = UnitData {
        input_size: data.input_size,
        train: data.train.clone(),
        validation: data.validation.clone(),
        test: Split::default(),
    };
    // Alternate the two measurements, so a slow phase of the machine does not fall on one of them only.
    let (mut alone_sum, mut pair_sum, mut tries) = (0.0f64, 0.0f64, 0);
    while tries < MIN_TRIES || (tries < MAX_TRIES && alone_sum.min(pair_sum) < MIN_SECONDS) {
        alone_sum += rayon::scope(|_| time_epoch(cell, &data, training));
        pair_sum += time_pair(cell, &data, training);
        tries += 1;
        if !(alone_sum.is_finite() && pair_sum.is_finite()) {
            return calibration;
        }
    }
    let (alone, pair) = (alone_sum / tries as f64, pair_sum / tries as f64);
    calibration.alone_epoch_s = alone;
    calibration.pair_epoch_s = pair;
    calibration.pair_speedup = 2.0 * alone / pair;
    if calibration.pair_speedup >= 0.95 {
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

/// Seconds of one epoch of each of two units training side by side, each in its own one-thread pool as
/// [`run_units`] places them (the slower of the two).
fn time_pair(cell: &Cell, data: &UnitData, training: &TrainingConfig) -> f64 {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| in_own_thread(|| time_epoch(cell, data, training))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or(f64::INFINITY))
            .fold(0.0, f64::max)
    })
}

/// Seconds of the first epoch of [`train_model`] with `training` cut to one epoch (set-up excluded);
/// infinity when training fails.
fn time_epoch(cell: &Cell, data: &UnitData, training: &TrainingConfig) -> f64 {
    let one_epoch = TrainingConfig {
        epochs: 1,
        patience: None,
        ..training.clone()
    };
    let id = UnitId {
        cell: *cell,
        fold: 0,
        seed: 0,
        unit_seed: CALIBRATION_SEED,
    };
    match train_model(&id, data, &one_epoch, &mut |_, _, _| {}) {
        Ok((outcome, _)) => outcome.history.first().map_or(f64::INFINITY, |e| e.seconds),
        Err(_) => f64::INFINITY,
    }
}

/// Fewest epochs timed per placement.
pub const MIN_TRIES: usize = 2;
/// Most epochs timed per placement.
pub const MAX_TRIES: usize = 10;
/// Seconds of measured epochs each placement should reach (within `MAX_TRIES`).
pub const MIN_SECONDS: f64 = 1.0;

/// Seed of the throw-away models that calibration trains (any fixed value).
const CALIBRATION_SEED: u64 = 0x5eed_ca1b;

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
