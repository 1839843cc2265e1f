//! Property tests (proptest, fixed RNG seed) of the training kit's invariants.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ser_nn::{
    clip_grad_norm, grad_norm, softmax, Adam, AdamConfig, CrossEntropy, Dropout, Sgd, SgdConfig,
};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x5e2_0005),
        failure_persistence: None,
        ..Config::default()
    }
}

/// `[B, C]` logits with B in 1..6, C in 1..10, entries spanning ±60 (exp would overflow f32 without
/// the max shift), plus one label per row.
fn logits_and_labels() -> impl Strategy<Value = (usize, Vec<f64>, Vec<usize>)> {
    (1usize..6, 1usize..10).prop_flat_map(|(b, c)| {
        (
            Just(c),
            prop::collection::vec(-60.0f64..60.0, b * c),
            prop::collection::vec(0..c, b),
        )
    })
}

/// A random SPD quadratic `f(x) = ½ xᵀAx − bᵀx`, `A = MᵀM + ½ I`, and a start far from its minimum.
struct Quadratic {
    n: usize,
    a: Vec<f64>,
    b: Vec<f64>,
}

impl Quadratic {
    fn random(n: usize, seed: u64) -> (Self, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let m: Vec<f64> = (0..n * n).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let mut a = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (0..n).map(|k| m[k * n + i] * m[k * n + j]).sum::<f64>()
                    + if i == j { 0.5 } else { 0.0 };
            }
        }
        let b = (0..n).map(|_| rng.gen_range(-2.0..2.0)).collect();
        let q = Self { n, a, b };
        let (x_min, _) = q.minimum();
        let x0 = x_min
            .iter()
            .map(|&m| m + rng.gen_range(1.0..3.0) * if rng.gen() { 1.0 } else { -1.0 })
            .collect();
        (q, x0)
    }
    fn value(&self, x: &[f64]) -> f64 {
        let n = self.n;
        (0..n)
            .map(|i| {
                0.5 * x[i] * (0..n).map(|j| self.a[i * n + j] * x[j]).sum::<f64>()
                    - self.b[i] * x[i]
            })
            .sum()
    }
    fn grad(&self, x: &[f64], g: &mut [f64]) {
        let n = self.n;
        for i in 0..n {
            g[i] = (0..n).map(|j| self.a[i * n + j] * x[j]).sum::<f64>() - self.b[i];
        }
    }
    /// Gershgorin bound on the largest eigenvalue.
    fn lambda_max_bound(&self) -> f64 {
        (0..self.n)
            .map(|i| {
                (0..self.n)
                    .map(|j| self.a[i * self.n + j].abs())
                    .sum::<f64>()
            })
            .fold(0.0, f64::max)
    }
    /// Minimiser and minimum, found by running plain gradient descent to convergence (oracle; slow but simple).
    fn minimum(&self) -> (Vec<f64>, f64) {
        let lr = 1.0 / self.lambda_max_bound();
        let mut x = vec![0.0; self.n];
        let mut g = vec![0.0; self.n];
        for _ in 0..200_000 {
            self.grad(&x, &mut g);
            if g.iter().map(|v| v * v).sum::<f64>() < 1e-24 {
                break;
            }
            for (xi, gi) in x.iter_mut().zip(&g) {
                *xi -= lr * gi;
            }
        }
        let f = self.value(&x);
        (x, f)
    }
}

/// Runs `steps` optimiser steps; returns the final value.
fn descend(
    q: &Quadratic,
    mut x: Vec<f64>,
    steps: usize,
    mut step: impl FnMut(&mut [f64], &[f64]),
) -> f64 {
    let mut g = vec![0.0; q.n];
    for _ in 0..steps {
        q.grad(&x, &mut g);
        step(&mut x, &g);
    }
    q.value(&x)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn softmax_rows_sum_to_one((c, z, _labels) in logits_and_labels()) {
        let mut p = vec![f64::NAN; z.len()];
        softmax(&z, c, &mut p);
        for row in p.chunks_exact(c) {
            prop_assert!(row.iter().all(|&v| (0.0..=1.0).contains(&v)));
            prop_assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
        let mut p32 = vec![f32::NAN; z.len()];
        softmax(&z32, c, &mut p32);
        for row in p32.chunks_exact(c) {
            prop_assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
    }

    #[test]
    fn cross_entropy_gradient_is_softmax_minus_one_hot((c, z, labels) in logits_and_labels()) {
        let b = labels.len();
        let mut lp = vec![f64::NAN; z.len()];
        let mut g = vec![f64::NAN; z.len()];
        let loss = CrossEntropy::new().forward_backward(&z, &labels, c, &mut lp, Some(&mut g));
        let mut p = vec![0.0; z.len()];
        softmax(&z, c, &mut p);
        for (i, (&gi, &pi)) in g.iter().zip(&p).enumerate() {
            let one_hot = if labels[i / c] == i % c { 1.0 } else { 0.0 };
            prop_assert!((gi - (pi - one_hot) / b as f64).abs() < 1e-12, "entry {i}: {gi} vs {}", (pi - one_hot) / b as f64);
        }
        let want: f64 = labels.iter().enumerate().map(|(r, &y)| -lp[r * c + y]).sum::<f64>() / b as f64;
        prop_assert!((loss - want).abs() <= 1e-12 * want.abs().max(1.0));
    }

    #[test]
    fn dropout_keeps_the_expectation(p in 0.0f64..0.9, seed in any::<u64>(), x in -5.0f64..5.0) {
        let n = 20_000;
        let d = Dropout::new(p).unwrap();
        let mut mask = vec![f64::NAN; n];
        d.fill_mask(seed, &mut mask);
        let input = vec![x; n];
        let mut y = vec![f64::NAN; n];
        Dropout::apply_mask(&input, &mask, &mut y);
        let mean = y.iter().sum::<f64>() / n as f64;
        // Var(y_i) = x² p / (1 − p); allow 5 standard errors of the mean.
        let se = (x * x * p / (1.0 - p) / n as f64).sqrt();
        prop_assert!((mean - x).abs() <= 5.0 * se + 1e-12, "p {p}: mean {mean} vs {x} (se {se})");
    }
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn adam_reduces_a_convex_quadratic(n in 1usize..8, seed in any::<u64>(), decoupled in any::<bool>()) {
        let (q, x0) = Quadratic::random(n, seed);
        let (f0, f_min) = (q.value(&x0), q.minimum().1);
        let cfg = AdamConfig { lr: 0.02, decoupled, ..AdamConfig::default() };
        let mut adam = Adam::<f64>::new(cfg, n);
        let f_end = descend(&q, x0, 1000, |x, g| adam.step(x, g));
        prop_assert!(f_end - f_min <= 0.05 * (f0 - f_min), "f0 {f0}, end {f_end}, min {f_min}");
    }

    #[test]
    fn sgd_reduces_a_convex_quadratic(n in 1usize..8, seed in any::<u64>(), momentum in prop::sample::select(vec![0.0, 0.5, 0.9]), nesterov in any::<bool>()) {
        let (q, x0) = Quadratic::random(n, seed);
        let (f0, f_min) = (q.value(&x0), q.minimum().1);
        let cfg = SgdConfig { lr: 1.0 / q.lambda_max_bound(), momentum, nesterov: nesterov && momentum > 0.0, ..SgdConfig::default() };
        let mut sgd = Sgd::<f64>::try_new(cfg, n).unwrap();
        let f_end = descend(&q, x0, 300, |x, g| sgd.step(x, g));
        prop_assert!(f_end < f0);
        prop_assert!(f_end - f_min <= 0.5 * (f0 - f_min), "f0 {f0}, end {f_end}, min {f_min}");
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn clipping_never_increases_the_norm(g in prop::collection::vec(-1.0f32..1.0, 1..300), scale_exp in -6i32..6, max_norm in 1e-3f64..100.0) {
        let scale = 10f32.powi(scale_exp);
        let mut grads: Vec<f32> = g.iter().map(|v| v * scale).collect();
        let original = grads.clone();
        let before = clip_grad_norm(&mut grads, max_norm);
        prop_assert!((before - grad_norm(&original)).abs() <= 1e-12 * before);
        let after = grad_norm(&grads);
        prop_assert!(after <= before * (1.0 + 1e-6));
        if before <= max_norm {
            prop_assert_eq!(&grads, &original, "small gradients must be left untouched");
        } else {
            prop_assert!(after <= max_norm * (1.0 + 1e-5), "after {after} > max {max_norm}");
            let expected = max_norm * before / (before + 1e-6); // PyTorch's coefficient
            prop_assert!((after - expected).abs() <= 1e-5 * expected, "after {after}, expected {expected}");
        }
    }
}
