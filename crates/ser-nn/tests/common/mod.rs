//! Shared helpers for ser-nn's integration tests: random batches and fixture reading.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ser_nn::{PackedBatch, Real};
use std::path::{Path, PathBuf};

/// `fixtures/nn/` at the workspace root.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/nn")
}

/// A packed batch of `lengths.len()` sequences with features drawn from U(−1, 1), seeded.
pub fn random_batch<T: Real>(lengths: &[usize], input_size: usize, seed: u64) -> PackedBatch<T> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let seqs: Vec<Vec<T>> = lengths
        .iter()
        .map(|&len| {
            (0..len * input_size)
                .map(|_| T::from_f64(rng.gen_range(-1.0..1.0)))
                .collect()
        })
        .collect();
    let refs: Vec<&[T]> = seqs.iter().map(|s| s.as_slice()).collect();
    PackedBatch::from_sequences(&refs, input_size)
}

/// A tensor of a safetensors file as f64 values (F32, F64 or I64), with its shape.
pub fn read_tensor(path: &Path, name: &str) -> (Vec<f64>, Vec<usize>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).expect("valid safetensors fixture");
    let view = st
        .tensor(name)
        .unwrap_or_else(|_| panic!("{}: no tensor {name}", path.display()));
    let data = view.data();
    let values = match view.dtype() {
        safetensors::Dtype::F32 => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect(),
        safetensors::Dtype::F64 => data
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
        safetensors::Dtype::I64 => data
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect(),
        other => panic!(
            "{}: tensor {name} has unsupported dtype {other:?}",
            path.display()
        ),
    };
    (values, view.shape().to_vec())
}

/// The padded batch `x: [B, T, I]` + `lengths: [B]` stored in a fixture file, packed.
pub fn fixture_batch<T: Real>(path: &Path) -> PackedBatch<T> {
    let (x, shape) = read_tensor(path, "x");
    let (lengths, _) = read_tensor(path, "lengths");
    let lengths: Vec<usize> = lengths.iter().map(|&l| l as usize).collect();
    let x: Vec<T> = x.iter().map(|&v| T::from_f64(v)).collect();
    PackedBatch::from_padded(&x, shape[0], shape[1], shape[2], &lengths)
}

/// Largest `|a − b|`.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "max_abs_diff: lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}
