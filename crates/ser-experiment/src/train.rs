//! Training one (cell, fold, seed) unit: the paper's classifier, Adam, best-validation-UAR epoch kept.
//!
//! Per epoch: the training clips are shuffled with the unit's shuffle stream (one ChaCha8 generator for
//! the whole run), cut into batches of `batch_size` (the last one shorter, like a PyTorch `DataLoader`
//! without `drop_last`), packed longest-first ([`PackedBatch`]) and each batch takes one step:
//! mean cross-entropy, gradient (overwritten), optional global-norm clipping, Adam. After every epoch the
//! validation clips are classified (no dropout); when the validation UAR beats the best so far (strictly,
//! so ties keep the earlier epoch) the parameters are copied. The test clips are classified with the kept
//! parameters. Loss and every gradient are checked for NaN/Inf after each step. With
//! `spec_augment`, each training clip of a batch is masked afresh (seeded by unit, epoch and step).

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ser_nn::{Adam, AdamConfig, Classifier, ClassifierConfig, PackedBatch};

use crate::cells::{Cell, PAPER_CLASSES};
use crate::config::TrainingConfig;
use crate::error::{ExperimentError, Result};
use crate::metrics::{argmax, ConfusionMatrix};
use crate::seeds::{derive, Stream};

/// Clips of one role: `inputs[i]` is `[n_frames_i, input_size]` row-major (normalised MFCCs).
#[derive(Clone, Debug, Default)]
pub struct Split {
    pub inputs: Vec<Vec<f32>>,
    pub labels: Vec<usize>,
}

/// The three roles of one fold.
#[derive(Clone, Debug)]
pub struct UnitData {
    pub input_size: usize,
    pub train: Split,
    pub validation: Split,
    pub test: Split,
}

/// Which unit is training (for error messages and seeds).
#[derive(Clone, Copy, Debug)]
pub struct UnitId {
    pub cell: Cell,
    /// 0-based fold index.
    pub fold: usize,
    pub seed: u64,
    /// From [`crate::seeds::unit_seed`].
    pub unit_seed: u64,
}

/// What happened in one epoch.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct EpochLog {
    /// 1-based.
    pub epoch: usize,
    /// Mean training loss over the epoch's clips.
    pub train_loss: f64,
    pub val_uar: f64,
    pub seconds: f64,
}

/// Result of one unit's training.
#[derive(Clone, Debug)]
pub struct TrainOutcome {
    pub num_params: usize,
    pub classifier: ClassifierConfig,
    /// 1-based epoch whose parameters were kept.
    pub best_epoch: usize,
    pub best_val_uar: f64,
    pub history: Vec<EpochLog>,
    /// Stopped before `epochs` because of `patience`.
    pub stopped_early: bool,
    /// Predicted class of every test clip, in `UnitData::test` order.
    pub test_predictions: Vec<usize>,
    /// Batches skipped because their loss or gradient was NaN/Inf (only with
    /// `TrainingConfig::skip_nonfinite`; always 0 otherwise).
    pub skipped_batches: usize,
}

/// The classifier configuration for `cell` under `training`.
pub fn classifier_config(
    cell: &Cell,
    input_size: usize,
    training: &TrainingConfig,
) -> ClassifierConfig {
    let mut config = ClassifierConfig::paper(cell.hidden, cell.layers, cell.head);
    config.input_size = input_size;
    config.num_classes = PAPER_CLASSES;
    config.dropout = training.dropout;
    config.lstm_dropout = training.lstm_dropout;
    config.bidirectional = cell.bidirectional;
    config
}

/// Packs clips `indices` of `split` into one batch.
///
/// # Panics
/// If a clip is empty or not a multiple of `input_size` long (the feature table rules this out).
pub fn pack(split: &Split, indices: &[usize], input_size: usize) -> PackedBatch<f32> {
    let sequences: Vec<&[f32]> = indices
        .iter()
        .map(|&i| split.inputs[i].as_slice())
        .collect();
    PackedBatch::from_sequences(&sequences, input_size)
}

/// Predicted class of every clip of `batches` (pre-packed, in order).
pub fn predict(model: &mut Classifier<f32>, batches: &[PackedBatch<f32>]) -> Vec<usize> {
    let mut predictions = Vec::new();
    for batch in batches {
        let logits = model.logits(batch);
        let classes = logits.len() / batch.batch_size().max(1);
        predictions.extend(logits.chunks_exact(classes).map(argmax));
    }
    predictions
}

/// Packs a whole split into evaluation batches of `batch_size` clips, in order.
pub fn eval_batches(split: &Split, batch_size: usize, input_size: usize) -> Vec<PackedBatch<f32>> {
    let all: Vec<usize> = (0..split.inputs.len()).collect();
    all.chunks(batch_size)
        .map(|chunk| pack(split, chunk, input_size))
        .collect()
}

/// Trains one unit; `on_epoch` sees every finished epoch (for progress bars).
///
/// # Errors
/// See [`train_model`].
pub fn train_unit(
    id: &UnitId,
    data: &UnitData,
    training: &TrainingConfig,
    on_epoch: &mut dyn FnMut(&EpochLog, usize, f64),
) -> Result<TrainOutcome> {
    if data.test.inputs.is_empty() {
        return Err(ExperimentError::EmptySplit {
            fold: id.fold,
            role: "test",
        });
    }
    train_model(id, data, training, on_epoch).map(|(outcome, _model)| outcome)
}

/// Trains one model and returns it with the kept (best-validation-epoch) parameters loaded, beside the
/// outcome. The test split may be empty (then `test_predictions` is empty): `ser train` uses this to
/// train a model for deployment.
///
/// # Errors
/// [`ExperimentError::NonFinite`] when the loss or a gradient is NaN/Inf (unless
/// `training.skip_nonfinite`: then the batch is skipped, with a warning on stderr, and counted in
/// [`TrainOutcome::skipped_batches`]; its clips do not count in the epoch's mean loss; an epoch
/// whose batches were all skipped stops with the error), [`ExperimentError::EmptySplit`]
/// when the training or validation role has no clips.
pub fn train_model(
    id: &UnitId,
    data: &UnitData,
    training: &TrainingConfig,
    on_epoch: &mut dyn FnMut(&EpochLog, usize, f64),
) -> Result<(TrainOutcome, Classifier<f32>)> {
    for (role, split) in [("training", &data.train), ("validation", &data.validation)] {
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
        decoupled: training.decoupled_weight_decay,
    };
    let mut adam = Adam::<f32>::new(adam_config, n_params);
    let mut scheduler = match &training.lr_schedule {
        Some(schedule) => Some(
            ser_nn::LrScheduler::new(schedule.clone(), training.learning_rate).map_err(|e| {
                ExperimentError::InvalidConfig {
                    field: "training.lr_schedule",
                    value: e.to_string(),
                    reason: "rejected by the scheduler",
                }
            })?,
        ),
        None => None,
    };
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
    let mut skipped_batches = 0;
    for epoch in 1..=training.epochs {
        let start = Instant::now();
        order.shuffle(&mut shuffle_rng);
        let mut loss_sum = 0.0;
        let mut loss_clips = 0usize;
        let mut last_fault = None;
        for (step, chunk) in order.chunks(training.batch_size).enumerate() {
            let batch = match &training.spec_augment {
                None => pack(&data.train, chunk, data.input_size),
                Some(aug) => {
                    let mut rng = ChaCha8Rng::seed_from_u64(derive(
                        id.unit_seed,
                        Stream::Augment,
                        epoch as u64,
                        step as u64,
                    ));
                    let masked: Vec<Vec<f32>> = chunk
                        .iter()
                        .map(|&i| {
                            let mut clip = data.train.inputs[i].clone();
                            aug.apply(&mut clip, data.input_size, &mut rng);
                            clip
                        })
                        .collect();
                    let refs: Vec<&[f32]> = masked.iter().map(Vec::as_slice).collect();
                    PackedBatch::from_sequences(&refs, data.input_size)
                }
            };
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
            let fault = if !loss.is_finite() {
                Some(non_finite("loss"))
            } else if grads.iter().any(|g| !g.is_finite()) {
                Some(non_finite("gradient"))
            } else {
                None
            };
            if let Some(err) = fault {
                if !training.skip_nonfinite {
                    return Err(err);
                }
                eprintln!("warning: skipping batch: {err}");
                skipped_batches += 1;
                last_fault = Some(err);
                continue;
            }
            if let Some(max_norm) = training.clip_grad_norm {
                ser_nn::clip_grad_norm(&mut grads, max_norm);
            }
            adam.step(model.params_mut(), &grads);
            loss_sum += loss * chunk.len() as f64;
            loss_clips += chunk.len();
        }
        if loss_clips == 0 {
            // Every batch of the epoch was skipped: nothing can be learned, stop with the last fault.
            if let Some(err) = last_fault {
                return Err(err);
            }
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
            train_loss: loss_sum / loss_clips as f64,
            val_uar,
            seconds: start.elapsed().as_secs_f64(),
        };
        if let Some(scheduler) = &mut scheduler {
            adam.set_lr(scheduler.step(val_uar));
        }
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
        skipped_batches,
    };
    Ok((outcome, model))
}
