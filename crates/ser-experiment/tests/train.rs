//! The training loop on synthetic, learnable data: best-epoch bookkeeping, independence from the thread
//! count, and the non-finite check.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ser_experiment::cells::Cell;
use ser_experiment::config::TrainingConfig;
use ser_experiment::seeds::unit_seed;
use ser_experiment::train::{train_model, train_unit, Split, UnitData, UnitId};
use ser_experiment::ExperimentError;

const INPUT: usize = 34;

/// Clips whose frames are noise plus a class-dependent offset on coefficient `class`.
fn split(n: usize, rng: &mut ChaCha8Rng) -> Split {
    let mut s = Split::default();
    for i in 0..n {
        let label = i % 8;
        let frames = rng.gen_range(3..12);
        let mut x: Vec<f32> = (0..frames * INPUT)
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        for t in 0..frames {
            x[t * INPUT + label] += 2.0;
        }
        s.inputs.push(x);
        s.labels.push(label);
    }
    s
}

fn data(seed: u64) -> UnitData {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    UnitData {
        input_size: INPUT,
        train: split(80, &mut rng),
        validation: split(24, &mut rng),
        test: split(24, &mut rng),
    }
}

fn id(cell: &str) -> UnitId {
    let cell = Cell::parse(cell).unwrap();
    UnitId {
        cell,
        fold: 2,
        seed: 5,
        unit_seed: unit_seed(5, &cell, 2),
    }
}

fn training(epochs: usize) -> TrainingConfig {
    TrainingConfig {
        epochs,
        batch_size: 16,
        learning_rate: 1e-2,
        ..TrainingConfig::default()
    }
}

#[test]
fn keeps_the_first_best_validation_epoch_and_learns() {
    let data = data(1);
    let mut seen = Vec::new();
    let outcome = train_unit(
        &id("L1h32"),
        &data,
        &training(6),
        &mut |log, best_epoch, best| {
            seen.push((log.epoch, best_epoch, best));
        },
    )
    .unwrap();
    assert_eq!(outcome.history.len(), 6);
    assert_eq!(seen.len(), 6);
    let uars: Vec<f64> = outcome.history.iter().map(|h| h.val_uar).collect();
    let best = uars.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let first_best = uars.iter().position(|&u| u == best).unwrap() + 1;
    assert_eq!(outcome.best_epoch, first_best);
    assert_eq!(outcome.best_val_uar, best);
    assert_eq!(outcome.test_predictions.len(), data.test.labels.len());
    assert!(outcome.test_predictions.iter().all(|&p| p < 8));
    assert_eq!(
        outcome.num_params,
        Cell::parse("L1h32").unwrap().expected_params()
    );
    assert!(outcome.history.iter().all(|h| h.train_loss.is_finite()));
    // The offset makes the classes separable: training must beat chance (1/8) on validation.
    assert!(best > 0.3, "best validation UAR {best}");
}

#[test]
fn patience_stops_early() {
    let data = data(2);
    let mut config = training(60);
    config.patience = Some(1);
    config.learning_rate = 1e-6; // nothing improves after the first epoch or two
    let outcome = train_unit(&id("L1h32"), &data, &config, &mut |_, _, _| {}).unwrap();
    assert!(outcome.stopped_early);
    assert!(outcome.history.len() < 60);
    assert_eq!(outcome.history.len(), outcome.best_epoch + 1);
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let data = data(3);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            train_unit(&id("L2h32-concat"), &data, &training(2), &mut |_, _, _| {}).unwrap()
        })
    };
    let one = run(1);
    let two = run(2);
    assert_eq!(one.test_predictions, two.test_predictions);
    assert_eq!(one.best_epoch, two.best_epoch);
    let losses = |o: &ser_experiment::train::TrainOutcome| {
        o.history
            .iter()
            .map(|h| h.train_loss.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(losses(&one), losses(&two), "losses bit-identical");
}

#[test]
fn non_finite_loss_names_cell_fold_epoch_and_step() {
    let mut data = data(4);
    data.train.inputs[5][3] = f32::NAN;
    let mut config = training(2);
    config.batch_size = 200; // one step per epoch: the NaN clip is in step 1 of epoch 1
    let err = train_unit(&id("L1h32"), &data, &config, &mut |_, _, _| {}).unwrap_err();
    match &err {
        ExperimentError::NonFinite {
            cell,
            fold,
            epoch,
            step,
            ..
        } => {
            assert_eq!((cell.as_str(), *fold, *epoch, *step), ("L1h32", 3, 1, 1));
        }
        other => panic!("expected NonFinite, got {other}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("L1h32") && message.contains("fold 3") && message.contains("epoch 1"),
        "{message}"
    );
}

#[test]
fn empty_roles_are_an_error() {
    let mut data = data(5);
    data.validation = Split::default();
    let err = train_unit(&id("L1h32"), &data, &training(1), &mut |_, _, _| {}).unwrap_err();
    assert!(
        matches!(
            err,
            ExperimentError::EmptySplit {
                role: "validation",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn skip_nonfinite_skips_and_counts_the_poisoned_batch() {
    let mut poisoned = data(4);
    poisoned.train.inputs[5][3] = f32::NAN;
    let mut config = training(3);
    // 80 clips in batches of 16: the poisoned clip spoils one batch of five in every epoch.
    config.skip_nonfinite = true;
    let (outcome, model) = train_model(&id("L1h32"), &poisoned, &config, &mut |_, _, _| {})
        .expect("skips, does not stop");
    assert_eq!(outcome.skipped_batches, 3);
    assert_eq!(outcome.history.len(), 3);
    assert!(outcome.history.iter().all(|h| h.train_loss.is_finite()));
    assert!(model.params().iter().all(|p| p.is_finite()));

    // Without the flag, the same data stops in epoch 1.
    config.skip_nonfinite = false;
    let err = train_unit(&id("L1h32"), &poisoned, &config, &mut |_, _, _| {}).unwrap_err();
    assert!(
        matches!(err, ExperimentError::NonFinite { epoch: 1, .. }),
        "{err}"
    );

    // Clean data skips nothing.
    let clean = train_unit(&id("L1h32"), &data(4), &config, &mut |_, _, _| {}).unwrap();
    assert_eq!(clean.skipped_batches, 0);
}

#[test]
fn skip_nonfinite_still_stops_when_every_batch_is_poisoned() {
    let mut data = data(6);
    data.train.inputs[0][0] = f32::NAN;
    let mut config = training(2);
    config.batch_size = 200; // a single batch, always poisoned
    config.skip_nonfinite = true;
    let err = train_unit(&id("L1h32"), &data, &config, &mut |_, _, _| {}).unwrap_err();
    assert!(
        matches!(
            err,
            ExperimentError::NonFinite {
                epoch: 1,
                step: 1,
                ..
            }
        ),
        "{err}"
    );
}
