//! The placement measurement: figures consistent with the decision rule on two threads, and `Alone`
//! with NaN figures (no panic) when it cannot measure.

mod common;

use common::noise_split;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ser_experiment::cells::Cell;
use ser_experiment::config::TrainingConfig;
use ser_experiment::scheduler::{calibrate, Placement};
use ser_experiment::train::{Split, UnitData};

const INPUT: usize = 13;

/// Noise clips of 3..12 frames.
fn split(n: usize, rng: &mut ChaCha8Rng) -> Split {
    noise_split(n, INPUT, 3..12, rng)
}

fn data() -> UnitData {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    UnitData {
        input_size: INPUT,
        train: split(96, &mut rng),
        validation: split(24, &mut rng),
        test: split(8, &mut rng),
    }
}

fn in_pool<R: Send>(threads: usize, work: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool")
        .install(work)
}

#[test]
fn two_threads_measure_both_placements_and_apply_the_rule() {
    let cell = Cell::parse("L2h32").expect("cell");
    let c = in_pool(2, || calibrate(&cell, &data(), &TrainingConfig::default()));
    assert_eq!((c.layers, c.hidden), (2, 32));
    assert!(
        c.alone_epoch_s > 0.0 && c.alone_epoch_s.is_finite(),
        "{c:?}"
    );
    assert!(c.pair_epoch_s > 0.0 && c.pair_epoch_s.is_finite(), "{c:?}");
    let speedup = 2.0 * c.alone_epoch_s / c.pair_epoch_s;
    assert!((c.pair_speedup - speedup).abs() <= 1e-12 * speedup, "{c:?}");
    let want = if speedup >= 0.95 {
        Placement::Concurrent
    } else {
        Placement::Alone
    };
    assert_eq!(c.placement, want, "{c:?}");
}

#[test]
fn one_thread_is_alone_unmeasured() {
    let cell = Cell::parse("L1h32").expect("cell");
    let c = in_pool(1, || calibrate(&cell, &data(), &TrainingConfig::default()));
    assert_eq!(c.placement, Placement::Alone);
    assert!(c.alone_epoch_s.is_nan() && c.pair_epoch_s.is_nan() && c.pair_speedup.is_nan());
}

#[test]
fn empty_validation_or_failing_training_is_alone_unmeasured() {
    let cell = Cell::parse("L1h32").expect("cell");
    let mut no_validation = data();
    no_validation.validation = Split::default();
    let c = in_pool(2, || {
        calibrate(&cell, &no_validation, &TrainingConfig::default())
    });
    assert_eq!(c.placement, Placement::Alone);
    assert!(c.pair_speedup.is_nan());

    // A NaN input makes the first loss non-finite: training fails, calibration must not panic.
    let mut poisoned = data();
    for clip in &mut poisoned.train.inputs {
        clip[0] = f32::NAN;
    }
    let c = in_pool(2, || {
        calibrate(&cell, &poisoned, &TrainingConfig::default())
    });
    assert_eq!(c.placement, Placement::Alone);
    assert!(c.alone_epoch_s.is_nan() && c.pair_speedup.is_nan(), "{c:?}");
}
