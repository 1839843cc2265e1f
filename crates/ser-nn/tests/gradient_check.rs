//! Central finite differences, in f64, of the WHOLE classifier (LSTM, head, dropout with a fixed seed,
//! Linear, cross-entropy) against `Classifier::forward_backward`, for both heads and 1–3 layers over a
//! batch of uneven lengths.
//!
//! For every parameter θ_i the numerical derivative is the fourth-order central difference
//! `num_i = (8(L(θ+h e_i) − L(θ−h e_i)) − (L(θ+2h e_i) − L(θ−2h e_i))) / 12h` with `h = 1e-3`
//! (truncation O(h⁴) ≈ 1e-12·|L⁽⁵⁾|, rounding ≈ ε_f64·|L|/h ≈ 1e-13–1e-12), and
//! `rel_i = |num_i − ana_i| / max(|num_i|, |ana_i|, FLOOR)` with the absolute floor `FLOOR = 1e-5`:
//! gradients smaller than 1e-5 are compared absolutely to 1e-5 · 1e-6 = 1e-11, a few times the rounding
//! error of the difference quotient itself. Required: `max_i rel_i ≤ 1e-6`. (The plain two-point
//! difference with h = 1e-5 also passes, at ≈ 3e-7, but leaves little margin; this stencil reaches ≈ 4e-9.)

mod common;

use common::random_batch;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ser_nn::{Classifier, ClassifierConfig, CrossEntropy, Head, InitSpec, PackedBatch};

const STEP: f64 = 1e-3;
const FLOOR: f64 = 1e-5;
const MAX_REL: f64 = 1e-6;

/// Worst relative error over all parameters, with the parameter's name.
fn worst_error(
    model: &mut Classifier<f64>,
    batch: &PackedBatch<f64>,
    labels: &[usize],
    seed: u64,
    grads: &[f64],
) -> (f64, String) {
    worst_errors(model, batch, labels, seed, grads).0
}

/// (worst over all parameters with its name, worst among gradients with `|g| ≥ FLOOR`).
fn worst_errors(
    model: &mut Classifier<f64>,
    batch: &PackedBatch<f64>,
    labels: &[usize],
    seed: u64,
    grads: &[f64],
) -> ((f64, String), f64) {
    let names = model.named_tensors();
    let mut worst = (0.0, String::new());
    let mut worst_unfloored = 0.0f64;
    for i in 0..model.num_params() {
        let original = model.params()[i];
        let mut loss_at = |offset: f64| {
            model.params_mut()[i] = original + offset;
            model.loss(batch, labels, seed)
        };
        let (p1, m1, p2, m2) = (
            loss_at(STEP),
            loss_at(-STEP),
            loss_at(2.0 * STEP),
            loss_at(-2.0 * STEP),
        );
        model.params_mut()[i] = original;
        let numeric = (8.0 * (p1 - m1) - (p2 - m2)) / (12.0 * STEP);
        let scale = numeric.abs().max(grads[i].abs());
        let rel = (numeric - grads[i]).abs() / scale.max(FLOOR);
        if scale >= FLOOR {
            worst_unfloored = worst_unfloored.max(rel);
        }
        if rel > worst.0 {
            let tensor = names
                .iter()
                .find(|t| t.range.contains(&i))
                .expect("every index is in a tensor");
            worst = (
                rel,
                format!(
                    "{}[{}]: numeric {numeric:e}, analytic {:e}",
                    tensor.name,
                    i - tensor.range.start,
                    grads[i]
                ),
            );
        }
    }
    (worst, worst_unfloored)
}

fn config(head: Head, layers: usize, hidden: usize) -> ClassifierConfig {
    ClassifierConfig {
        input_size: 5,
        hidden_size: hidden,
        num_layers: layers,
        head,
        dropout: 0.3,
        lstm_dropout: 0.25,
        num_classes: 4,
        init: InitSpec::pytorch_default(),
        attention_size: 0,
        bidirectional: false,
    }
}

fn check(config: ClassifierConfig, loss: CrossEntropy, seed: u64) {
    let lengths = [5, 2, 7, 1, 3];
    let batch = random_batch::<f64>(&lengths, config.input_size, seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xABCD);
    let labels: Vec<usize> = lengths
        .iter()
        .map(|_| rng.gen_range(0..config.num_classes))
        .collect();
    let mut model = Classifier::<f64>::new(config.clone(), seed);
    // Scale the inputs' effect up a little so that gates leave their linear region.
    for p in model.params_mut() {
        *p *= 1.5;
    }
    model.set_loss(loss).unwrap();
    model.set_poison_workspaces(true);
    let mut grads = vec![f64::NAN; model.num_params()];
    let train_seed = seed.wrapping_mul(31);
    let loss_value = model.forward_backward(&batch, &labels, train_seed, &mut grads);
    assert!(loss_value.is_finite());
    assert!(
        (model.loss(&batch, &labels, train_seed) - loss_value).abs() <= 1e-14 * loss_value.abs()
    );
    assert!(grads.iter().all(|g| g.is_finite()), "NaN left in grads");
    let ((rel, at), rel_large) = worst_errors(&mut model, &batch, &labels, train_seed, &grads);
    println!(
        "{:?} L{} h{}: max rel err {rel:.3e} at {at}; among |g| >= {FLOOR:e}: {rel_large:.3e}",
        config.head, config.num_layers, config.hidden_size
    );
    assert!(
        rel <= MAX_REL,
        "{:?} L{}: max relative error {rel:e} at {at}",
        config.head,
        config.num_layers
    );
}

#[test]
fn gradients_match_finite_differences_last_head() {
    for (layers, hidden) in [(1, 3), (2, 4), (3, 3)] {
        check(
            config(Head::Last, layers, hidden),
            CrossEntropy::new(),
            10 + layers as u64,
        );
    }
}

#[test]
fn gradients_match_finite_differences_concat_head() {
    for (layers, hidden) in [(1, 4), (2, 3), (3, 4)] {
        check(
            config(Head::Concat, layers, hidden),
            CrossEntropy::new(),
            20 + layers as u64,
        );
    }
}

#[test]
fn gradients_match_finite_differences_pooling_heads() {
    for head in [Head::Mean, Head::Max, Head::Attention] {
        for (layers, hidden) in [(1, 3), (2, 5), (3, 4)] {
            check(
                config(head, layers, hidden),
                CrossEntropy::new(),
                40 + layers as u64,
            );
        }
    }
    // An attention width different from H.
    let wide = ClassifierConfig {
        attention_size: 7,
        ..config(Head::Attention, 2, 3)
    };
    check(wide, CrossEntropy::new(), 51);
}

#[test]
fn gradients_match_finite_differences_bidirectional_every_head() {
    for (i, head) in Head::ALL.into_iter().enumerate() {
        for (layers, hidden) in [(1, 3), (2, 4)] {
            let bi = ClassifierConfig {
                bidirectional: true,
                ..config(head, layers, hidden)
            };
            check(bi, CrossEntropy::new(), 60 + 2 * i as u64 + layers as u64);
        }
    }
}

#[test]
fn gradients_match_finite_differences_weighted_smoothed_loss() {
    let loss = CrossEntropy::with_options(Some(vec![0.5, 2.0, 1.0, 3.0]), 0.15).unwrap();
    check(config(Head::Concat, 2, 3), loss.clone(), 31);
    check(config(Head::Last, 2, 3), loss, 32);
}

/// The checker must be able to fail: a gradient off by 1e-4 in one entry is caught.
#[test]
fn checker_detects_a_wrong_gradient() {
    let config = config(Head::Last, 2, 3);
    let batch = random_batch::<f64>(&[4, 2, 3], 5, 3);
    let labels = [1, 0, 3];
    let mut model = Classifier::<f64>::new(config, 3);
    let mut grads = vec![f64::NAN; model.num_params()];
    model.forward_backward(&batch, &labels, 9, &mut grads);
    let i = model.num_params() / 2;
    grads[i] += 1e-4;
    let (rel, _) = worst_error(&mut model, &batch, &labels, 9, &grads);
    assert!(
        rel > MAX_REL * 10.0,
        "a 1e-4 error went unnoticed (rel {rel:e})"
    );
}

/// Equal seeds give bit-identical losses and gradients; `grads` is overwritten, not accumulated.
#[test]
fn forward_backward_is_deterministic_and_overwrites() {
    let batch = random_batch::<f32>(&[6, 1, 4, 4], 5, 8);
    let labels = [0, 3, 2, 1];
    let mut model = Classifier::<f32>::new(config(Head::Concat, 3, 9), 8);
    let mut a = vec![f32::NAN; model.num_params()];
    let mut b = vec![1e3f32; model.num_params()];
    let la = model.forward_backward(&batch, &labels, 5, &mut a);
    let lb = model.forward_backward(&batch, &labels, 5, &mut b);
    assert_eq!(la, lb);
    assert_eq!(a, b);
    let lc = model.forward_backward(&batch, &labels, 6, &mut b);
    assert_ne!(la, lc, "another seed must draw other dropout masks");
}
