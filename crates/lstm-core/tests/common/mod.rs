//! Shared helpers of the integration tests: seeded random problems and tolerance checks.
#![allow(dead_code)]

use lstm_core::{ForwardOptions, Lstm, LstmConfig, LstmGradients, LstmOutput, PackedBatch, Real};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A random problem: parameters, batch and upstream gradients.
pub struct Problem<T> {
    pub config: LstmConfig,
    pub params: Vec<T>,
    pub batch: PackedBatch<T>,
    pub g_h: Vec<T>,
    pub g_c: Vec<T>,
    pub g_out: Vec<T>,
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Random problem with weights U(−0.5, 0.5), inputs U(−1, 1), upstream gradients U(−1, 1).
pub fn problem<T: Real>(config: LstmConfig, lengths: &[usize], seed: u64) -> Problem<T> {
    let mut r = rng(seed);
    let mut uni =
        |n: usize, a: f64| -> Vec<T> { (0..n).map(|_| T::from_f64(r.gen_range(-a..a))).collect() };
    let params = uni(config.num_params(), 0.5);
    let seqs: Vec<Vec<T>> = lengths
        .iter()
        .map(|&l| uni(l * config.input_size, 1.0))
        .collect();
    let refs: Vec<&[T]> = seqs.iter().map(|s| s.as_slice()).collect();
    let batch = PackedBatch::from_sequences(&refs, config.input_size);
    let lbh = config.num_layers * config.num_directions() * lengths.len() * config.hidden_size;
    let n: usize = lengths.iter().sum();
    let g_h = uni(lbh, 1.0);
    let g_c = uni(lbh, 1.0);
    let g_out = uni(n * config.output_size(), 1.0);
    Problem {
        config,
        params,
        batch,
        g_h,
        g_c,
        g_out,
    }
}

/// Converts a problem to another precision (values rounded through f64).
pub fn convert<A: Real, B: Real>(p: &Problem<A>, lengths: &[usize]) -> Problem<B> {
    let cv = |v: &[A]| -> Vec<B> { v.iter().map(|x| B::from_f64(x.to_f64())).collect() };
    let i = p.config.input_size;
    let seqs: Vec<Vec<B>> = (0..lengths.len())
        .map(|b| {
            (0..lengths[b])
                .flat_map(|t| cv(&p.batch.data()[p.batch.row_of(b, t) * i..][..i]))
                .collect()
        })
        .collect();
    let refs: Vec<&[B]> = seqs.iter().map(|s| s.as_slice()).collect();
    Problem {
        config: p.config,
        params: cv(&p.params),
        batch: PackedBatch::from_sequences(&refs, i),
        g_h: cv(&p.g_h),
        g_c: cv(&p.g_c),
        g_out: cv(&p.g_out),
    }
}

/// Forward (training mode) + backward with all upstream gradients; returns outputs, dθ, dx.
pub fn run<T: Real>(
    lstm: &mut Lstm<T>,
    p: &Problem<T>,
    seed: u64,
) -> (LstmOutput<T>, Vec<T>, Vec<T>) {
    let out = lstm.forward(
        &p.params,
        &p.batch,
        ForwardOptions {
            keep_outputs: true,
            train_seed: Some(seed),
        },
    );
    let mut gp = vec![T::ZERO; p.params.len()];
    let mut gx = vec![T::NAN; p.batch.data().len()];
    let grads = LstmGradients {
        h_n: Some(&p.g_h),
        c_n: Some(&p.g_c),
        outputs: Some(&p.g_out),
    };
    lstm.backward(&p.params, &p.batch, grads, &mut gp, Some(&mut gx));
    (out, gp, gx)
}

/// Asserts |a − b| ≤ rel·max(|a|, |b|) + abs for every element.
pub fn assert_close<A: Real, B: Real>(what: &str, a: &[A], b: &[B], rel: f64, abs: f64) {
    assert_eq!(a.len(), b.len(), "{what}: lengths differ");
    let mut worst = (0.0f64, 0usize);
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let (x, y) = (x.to_f64(), y.to_f64());
        let err = (x - y).abs();
        let bound = rel * x.abs().max(y.abs()) + abs;
        assert!(
            x.is_finite() && y.is_finite(),
            "{what}[{i}]: non-finite {x} vs {y}"
        );
        if err / bound > worst.0 {
            worst = (err / bound, i);
        }
        assert!(
            err <= bound,
            "{what}[{i}]: {x} vs {y} (|diff| {err:e} > {bound:e})"
        );
    }
}
