//! Shared setup of the lstm-core benchmarks: the nine Table-1 shapes and a random batch.
#![allow(dead_code)]

use criterion::Criterion;
use lstm_core::init::{init_lstm, InitConfig};
use lstm_core::{LstmConfig, PackedBatch};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// Input features of every Table-1 model (34 MFCC-derived coefficients).
pub const INPUT: usize = 34;
/// Batch size of every benchmark.
pub const BATCH: usize = 32;
/// Sequence lengths benchmarked: the paper preset's typical clip (~100 frames) and a long one.
pub const FRAMES: [usize; 2] = [100, 300];

/// (layers, hidden) of the nine Table-1 shapes.
pub fn shapes() -> impl Iterator<Item = (usize, usize)> {
    (1..=3).flat_map(|l| [32, 64, 128].into_iter().map(move |h| (l, h)))
}

/// Criterion kept short so `cargo bench -p lstm-core` stays within minutes on two cores.
pub fn criterion() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

/// Paper-initialised parameters of `config`.
pub fn params(config: &LstmConfig) -> Vec<f32> {
    let layout = lstm_core::ParamLayout::new(config);
    let mut p = vec![0.0; layout.len()];
    init_lstm(
        &layout,
        &InitConfig::paper(),
        &mut ChaCha8Rng::seed_from_u64(1),
        &mut p,
    );
    p
}

/// `BATCH` sequences of `frames` frames of N(0,1)-ish noise.
pub fn batch(frames: usize) -> PackedBatch<f32> {
    let mut r = ChaCha8Rng::seed_from_u64(2);
    let x: Vec<f32> = (0..BATCH * frames * INPUT)
        .map(|_| r.gen_range(-1.5..1.5))
        .collect();
    PackedBatch::from_padded(&x, BATCH, frames, INPUT, &vec![frames; BATCH])
}
