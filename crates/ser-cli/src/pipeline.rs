//! The shared path from audio files to class probabilities:
//! WAV → MFCC (`ser_dsp`, in parallel) → per-coefficient z-score (`Standardizer`) → LSTM classifier →
//! softmax.
//!
//! Shapes: one clip's features are `[n_frames, n_coeffs]` row-major; probabilities are `[C]` per clip.

use std::path::PathBuf;

use ser_dsp::{DspError, Features, MfccConfig};
use ser_experiment::features::Standardizer;
use ser_experiment::train::{eval_batches, Split};
use ser_nn::Classifier;

use crate::progress::Ui;

/// Files per call of `ser_dsp::extract_files` (the bar advances once per chunk).
const CHUNK: usize = 32;

/// Clips per forward pass when predicting.
pub const PREDICT_BATCH: usize = 64;

/// MFCC of every path, in order; one failure does not stop the others. Shows a bar labelled `what`.
pub fn extract_with_progress(
    paths: &[PathBuf],
    config: &MfccConfig,
    ui: &Ui,
    what: &str,
) -> Vec<Result<Features, DspError>> {
    let template = format!("{what:<8} [{{bar:30}}] {{pos}}/{{len}} files {{elapsed}} ETA {{eta}}");
    let bar = ui.bar(paths.len(), &template);
    let mut out = Vec::with_capacity(paths.len());
    for chunk in paths.chunks(CHUNK) {
        out.extend(ser_dsp::extract_files(chunk, config));
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    out
}

/// Softmax probabilities `[C]` of every clip (`clips[i]`: `[n_frames_i, input_size]`, already
/// normalised), in order, evaluation mode (no dropout).
pub fn probabilities(model: &mut Classifier<f32>, clips: Vec<Vec<f32>>) -> Vec<Vec<f32>> {
    let input_size = model.config().input_size;
    let classes = model.config().num_classes;
    let split = Split {
        labels: vec![0; clips.len()],
        inputs: clips,
    };
    let mut out = Vec::with_capacity(split.inputs.len());
    for batch in eval_batches(&split, PREDICT_BATCH, input_size) {
        let proba = model.predict_proba(&batch);
        out.extend(proba.chunks_exact(classes).map(<[f32]>::to_vec));
    }
    out
}

/// Normalises every clip with `standardizer`.
pub fn normalise(standardizer: &Standardizer, clips: &[Features]) -> Vec<Vec<f32>> {
    clips.iter().map(|f| standardizer.apply(f)).collect()
}
