//! Metrics against hand-computed examples and invariants.

use proptest::prelude::*;
use ser_experiment::metrics::{argmax, mean, sample_std, ConfusionMatrix};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * (1.0 + a.abs().max(b.abs()))
}

#[test]
fn hand_computed_three_class_example() {
    // truth:     0 0 0 0 1 1 2 2 2 2
    // predicted: 0 0 1 2 1 0 2 2 2 1
    let truth = [0, 0, 0, 0, 1, 1, 2, 2, 2, 2];
    let pred = [0, 0, 1, 2, 1, 0, 2, 2, 2, 1];
    let m = ConfusionMatrix::from_predictions(&truth, &pred, 4);
    assert_eq!(m.get(0, 0), 2);
    assert_eq!(m.get(0, 1), 1);
    assert_eq!(m.get(2, 1), 1);
    assert_eq!(m.total(), 10);
    // Recalls: 2/4, 1/2, 3/4; class 3 absent from the truth is left out of the UAR.
    assert!(close(m.uar(), (0.5 + 0.5 + 0.75) / 3.0));
    assert_eq!(m.recall(3), None);
    // WA: 6 correct of 10.
    assert!(close(m.weighted_accuracy(), 0.6));
    // F1: class 0: 2·2/(4+3) = 4/7; class 1: 2·1/(2+3) = 2/5; class 2: 2·3/(4+4) = 3/4; class 3 absent.
    assert!(close(
        m.macro_f1(),
        (4.0 / 7.0 + 2.0 / 5.0 + 3.0 / 4.0) / 3.0
    ));
}

#[test]
fn a_class_only_predicted_counts_zero_in_macro_f1_but_not_in_uar() {
    let m = ConfusionMatrix::from_predictions(&[0, 0], &[0, 1], 3);
    assert!(close(m.uar(), 0.5));
    // F1_0 = 2/(2+1) = 2/3, F1_1 = 0 (predicted, never true); class 2 absent from both.
    assert!(close(m.macro_f1(), (2.0 / 3.0 + 0.0) / 2.0));
}

#[test]
fn empty_matrix_gives_nan() {
    let m = ConfusionMatrix::new(8);
    assert!(m.uar().is_nan() && m.weighted_accuracy().is_nan() && m.macro_f1().is_nan());
}

#[test]
fn argmax_first_on_ties_and_skips_nan() {
    assert_eq!(argmax(&[1.0, 3.0, 3.0, 2.0]), 1);
    assert_eq!(argmax(&[f32::NAN, 0.5, 0.1]), 1);
    assert_eq!(argmax(&[-1.0]), 0);
}

#[test]
fn mean_and_sample_std() {
    assert!(close(mean(&[1.0, 2.0, 3.0, 4.0]), 2.5));
    assert!(close(
        sample_std(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]),
        (32.0f64 / 7.0).sqrt()
    ));
    assert_eq!(sample_std(&[3.0]), 0.0);
}

fn labels(n: usize) -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    proptest::collection::vec((0..n, 0..n), 1..200).prop_map(|pairs| pairs.into_iter().unzip())
}

proptest! {
    #[test]
    fn perfect_predictions_score_one((truth, _) in labels(8)) {
        let m = ConfusionMatrix::from_predictions(&truth, &truth, 8);
        prop_assert!(close(m.uar(), 1.0) && close(m.weighted_accuracy(), 1.0) && close(m.macro_f1(), 1.0));
    }

    #[test]
    fn metrics_lie_in_unit_interval_and_wa_is_accuracy((truth, pred) in labels(8)) {
        let m = ConfusionMatrix::from_predictions(&truth, &pred, 8);
        for v in [m.uar(), m.weighted_accuracy(), m.macro_f1()] {
            prop_assert!((0.0..=1.0).contains(&v));
        }
        let correct = truth.iter().zip(&pred).filter(|(t, p)| t == p).count();
        prop_assert!(close(m.weighted_accuracy(), correct as f64 / truth.len() as f64));
        prop_assert_eq!(m.total() as usize, truth.len());
    }

    #[test]
    fn uar_ignores_class_frequencies((truth, pred) in labels(5), k in 2usize..5) {
        // Repeating every clip of class 0 k times changes WA but not the UAR.
        let m = ConfusionMatrix::from_predictions(&truth, &pred, 5);
        let (mut t2, mut p2) = (truth.clone(), pred.clone());
        for (t, p) in truth.iter().zip(&pred) {
            if *t == 0 {
                for _ in 1..k {
                    t2.push(*t);
                    p2.push(*p);
                }
            }
        }
        let m2 = ConfusionMatrix::from_predictions(&t2, &p2, 5);
        prop_assert!(close(m.uar(), m2.uar()));
    }

    #[test]
    fn constant_predictor_uar_is_one_over_classes_present((truth, _) in labels(8), c in 0usize..8) {
        let pred = vec![c; truth.len()];
        let m = ConfusionMatrix::from_predictions(&truth, &pred, 8);
        let present = (0..8).filter(|k| truth.contains(k)).count();
        let expected = if truth.contains(&c) { 1.0 / present as f64 } else { 0.0 };
        prop_assert!(close(m.uar(), expected));
    }

    #[test]
    fn pooling_equals_concatenation((t1, p1) in labels(8), (t2, p2) in labels(8)) {
        let mut pooled = ConfusionMatrix::from_predictions(&t1, &p1, 8);
        pooled.merge(&ConfusionMatrix::from_predictions(&t2, &p2, 8));
        let t: Vec<usize> = t1.iter().chain(&t2).copied().collect();
        let p: Vec<usize> = p1.iter().chain(&p2).copied().collect();
        prop_assert_eq!(pooled, ConfusionMatrix::from_predictions(&t, &p, 8));
    }
}
