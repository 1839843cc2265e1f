//! Training one model and getting its kept weights back.
//!
//! TEMPORARY ADAPTER. `ser_experiment::train::train_unit` trains exactly what `ser train` needs (the
//! paper's classifier, Adam, best-validation-UAR epoch kept) but returns only scores and test
//! predictions, not the kept parameters, so a model cannot be saved from it. Until ser-experiment
//! exposes them (requested from the lead: e.g. `TrainOutcome::best_params: Vec<f32>`), this file holds
//! a line-for-line copy of `train_unit`'s loop (same seeds, streams, batching, tie rule), so switching
//! to the library later changes no weight. Nothing else in the CLI trains.

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ser_experiment::cells::PAPER_CLASSES;
use ser_experiment::config::TrainingConfig;
use ser_experiment::error::{ExperimentError, Result};
use ser_experiment::metrics::ConfusionMatrix;
use ser_experiment::seeds::{derive, Stream};
use ser_experiment::train::{
    classifier_config, eval_batches, pack, predict, EpochLog, TrainOutcome, UnitData, UnitId,
};
use ser_nn::{Adam, AdamConfig, Classifier};

/// [`ser_experiment::train::train_unit`], plus the classifier holding the kept (best-epoch) weights.
pub fn train_model(
    id: &UnitId,
    data: &UnitData,
    training: &TrainingConfig,
    on_epoch: &mut dyn FnMut(&EpochLog, usize, f64),
) -> Result<(TrainOutcome, Classifier<f32>)> {
    for (role, split) in [
        ("training", &data.train),
        ("validation", &data.validation),
        ("test", &data.test),
    ] {
        if split.inputs.is_empty() {
            return Err(ExperimentError::EmptySplit {
                fold: id.fold,
                role,
            });
        }
    }
    let config = classifier_config(&id.cell, data.input_size, training);
    let mut model =
        Classifier::<f32>::new(config.clone(), derive(id.unit_seed, Stream::Init, 0, 0));
    let n_params = model.num_params();
    let adam_config = AdamConfig {
        lr: training.learning_rate,
        beta1: training.beta1,
        beta2: training.beta2,
        eps: training.eps,
        weight_decay: training.weight_decay,
        decoupled: false,
    };
    let mut adam = Adam::<f32>::new(adam_config, n_params);
    let mut grads = vec![0f32; n_params];
    let mut shuffle_rng = ChaCha8Rng::seed_from_u64(derive(id.unit_seed, Stream::Shuffle, 0, 0));
    let validation_batches =
        eval_batches(&data.validation, training.eval_batch_size, data.input_size);
    let mut order: Vec<usize> = (0..data.train.inputs.len()).collect();

    let mut best_params = model.params().to_vec();
    let mut best_val_uar = f64::NEG_INFINITY;
    let mut best_epoch = 0;
    let mut history = Vec::with_capacity(training.epochs);
    let mut stopped_early = false;
    for epoch in 1..=training.epochs {
        let start = Instant::now();
        order.shuffle(&mut shuffle_rng);
        let mut loss_sum = 0.0;
        for (step, chunk) in order.chunks(training.batch_size).enumerate() {
            let batch = pack(&data.train, chunk, data.input_size);
            let labels: Vec<usize> = chunk.iter().map(|&i| data.train.labels[i]).collect();
            let dropout_seed = derive(id.unit_seed, Stream::Dropout, epoch as u64, step as u64);
            let loss = model.forward_backward(&batch, &labels, dropout_seed, &mut grads);
            let non_finite = |what| ExperimentError::NonFinite {
                what,
                cell: id.cell.to_string(),
                fold: id.fold + 1,
                seed: id.seed,
                epoch,
                step: step + 1,
                loss,
            };
            if !loss.is_finite() {
                return Err(non_finite("loss"));
            }
            if grads.iter().any(|g| !g.is_finite()) {
                return Err(non_finite("gradient"));
            }
            if let Some(max_norm) = training.clip_grad_norm {
                ser_nn::clip_grad_norm(&mut grads, max_norm);
            }
            adam.step(model.params_mut(), &grads);
            loss_sum += loss * chunk.len() as f64;
        }
        let val_predictions = predict(&mut model, &validation_batches);
        let val_uar = ConfusionMatrix::from_predictions(
            &data.validation.labels,
            &val_predictions,
            PAPER_CLASSES,
        )
        .uar();
        if val_uar > best_val_uar {
            best_val_uar = val_uar;
            best_epoch = epoch;
            best_params.copy_from_slice(model.params());
        }
        let log = EpochLog {
            epoch,
            train_loss: loss_sum / order.len() as f64,
            val_uar,
            seconds: start.elapsed().as_secs_f64(),
        };
        on_epoch(&log, best_epoch, best_val_uar);
        history.push(log);
        if let Some(patience) = training.patience {
            if epoch - best_epoch >= patience && epoch < training.epochs {
                stopped_early = true;
                break;
            }
        }
    }
    model.params_mut().copy_from_slice(&best_params);
    let test_batches = eval_batches(&data.test, training.eval_batch_size, data.input_size);
    let test_predictions = predict(&mut model, &test_batches);
    let outcome = TrainOutcome {
        num_params: n_params,
        classifier: config,
        best_epoch,
        best_val_uar,
        history,
        stopped_early,
        test_predictions,
    };
    Ok((outcome, model))
}
