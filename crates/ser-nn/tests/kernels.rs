//! The classifier gives the same loss and gradients whichever LSTM gate kernel runs (f32 scalar vs
//! SIMD), and its f32 gradients agree with the f64 ones.

mod common;

use common::random_batch;
use lstm_core::KernelKind;
use ser_nn::{Classifier, ClassifierConfig, Head};

fn step<T: ser_nn::Real>(
    model: &mut Classifier<T>,
    head_batch: &ser_nn::PackedBatch<T>,
) -> (f64, Vec<f64>) {
    let labels = [2, 7, 0, 5, 1, 3, 3, 6, 4];
    let mut grads = vec![T::NAN; model.num_params()];
    let loss = model.forward_backward(
        head_batch,
        &labels[..head_batch.batch_size()],
        77,
        &mut grads,
    );
    (loss, grads.iter().map(|g| g.to_f64()).collect())
}

/// `max |a − b| / max |b|`.
fn rel_diff(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn scalar_and_simd_kernels_agree_and_match_f64() {
    // H = 9 and 17 straddle the 8-lane SIMD width; B = 9 sequences of uneven length.
    let lengths = [12, 3, 1, 7, 9, 12, 2, 5, 8];
    for (head, hidden, layers) in [
        (Head::Last, 9, 2),
        (Head::Concat, 17, 3),
        (Head::Concat, 8, 1),
    ] {
        let config = ClassifierConfig::paper(hidden, layers, head);
        let mut scalar =
            Classifier::<f32>::with_kernel(config.clone(), 4, KernelKind::Scalar).unwrap();
        assert_eq!(scalar.lstm().kernel(), KernelKind::Scalar);
        scalar.set_poison_workspaces(true);
        let batch32 = random_batch::<f32>(&lengths, 34, 5);
        let batch64 = random_batch::<f64>(&lengths, 34, 5);
        let (loss_s, grads_s) = step(&mut scalar, &batch32);
        let mut exact = Classifier::<f64>::new(config.clone(), 4);
        let (loss_64, grads_64) = step(&mut exact, &batch64);
        assert!(
            (loss_s - loss_64).abs() <= 1e-5 * loss_64.abs(),
            "{head:?}: f32 {loss_s} vs f64 {loss_64}"
        );
        assert!(
            rel_diff(&grads_s, &grads_64) <= 1e-4,
            "{head:?}: f32 grads vs f64: {}",
            rel_diff(&grads_s, &grads_64)
        );
        match Classifier::<f32>::with_kernel(config, 4, KernelKind::Wide) {
            Ok(mut wide) => {
                assert_eq!(wide.lstm().kernel(), KernelKind::Wide);
                assert_eq!(wide.params(), scalar.params());
                wide.set_poison_workspaces(true);
                let (loss_w, grads_w) = step(&mut wide, &batch32);
                assert!(
                    (loss_w - loss_s).abs() <= 1e-5 * loss_s.abs(),
                    "{head:?}: wide {loss_w} vs scalar {loss_s}"
                );
                let d = rel_diff(&grads_w, &grads_s);
                println!("{head:?} L{layers} h{hidden}: |wide − scalar| / max|g| = {d:.2e}");
                assert!(d <= 1e-4, "{head:?}: wide vs scalar grads differ by {d:e}");
            }
            Err(e) => {
                println!("SIMD kernel unavailable on this CPU ({e}); compared scalar with f64 only")
            }
        }
    }
}

#[test]
fn f64_has_no_simd_kernel() {
    let config = ClassifierConfig::paper(4, 1, Head::Last);
    assert!(Classifier::<f64>::with_kernel(config, 0, KernelKind::Wide).is_err());
}
