//! Classification metrics from a confusion matrix.
//!
//! With `n[t][p]` the number of clips of true class `t` predicted as `p`, `N = Σ n`, and
//! `C_true = { t : Σ_p n[t][p] > 0 }` the classes present in the truth:
//!
//! * recall `R_t = n[t][t] / Σ_p n[t][p]`;
//! * UAR (unweighted average recall, the paper's metric) `= (1/|C_true|) Σ_{t ∈ C_true} R_t`;
//! * WA (weighted accuracy, as SER papers use the term: every clip weighs the same) `= Σ_t n[t][t] / N`;
//! * macro-F1 `= mean over classes present in the truth or the predictions of F1_c = 2 n[c][c] /
//!   (Σ_p n[c][p] + Σ_t n[t][c])` (sklearn's `f1_score(average="macro")`, a class never predicted
//!   contributing 0).
//!
//! All three are NaN for an empty matrix.

use serde::{Deserialize, Serialize};

/// Counts `[true class, predicted class]`, row-major, `num_classes × num_classes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub num_classes: usize,
    /// `counts[t * num_classes + p]`.
    pub counts: Vec<u64>,
}

/// The headline numbers of one set of predictions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub uar: f64,
    pub wa: f64,
    pub macro_f1: f64,
    pub n: u64,
}

impl ConfusionMatrix {
    /// An all-zero matrix.
    pub fn new(num_classes: usize) -> Self {
        Self {
            num_classes,
            counts: vec![0; num_classes * num_classes],
        }
    }

    /// Counts the pairs `(truth[i], predicted[i])`.
    ///
    /// # Panics
    /// If the slices differ in length or a label is `>= num_classes` (labels come from the index, so
    /// this is a bug, not bad input).
    pub fn from_predictions(truth: &[usize], predicted: &[usize], num_classes: usize) -> Self {
        assert_eq!(
            truth.len(),
            predicted.len(),
            "truth and predictions differ in length"
        );
        let mut m = Self::new(num_classes);
        for (&t, &p) in truth.iter().zip(predicted) {
            m.add(t, p);
        }
        m
    }

    /// Adds one prediction.
    ///
    /// # Panics
    /// If `truth` or `predicted` is `>= num_classes`.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        assert!(
            truth < self.num_classes && predicted < self.num_classes,
            "label ({truth}, {predicted}) out of range for {} classes",
            self.num_classes
        );
        self.counts[truth * self.num_classes + predicted] += 1;
    }

    /// Adds another matrix of the same size (pooling folds or seeds).
    ///
    /// # Panics
    /// If the class counts differ.
    pub fn merge(&mut self, other: &ConfusionMatrix) {
        assert_eq!(self.num_classes, other.num_classes, "class counts differ");
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
    }

    /// `n[truth][predicted]`.
    pub fn get(&self, truth: usize, predicted: usize) -> u64 {
        self.counts[truth * self.num_classes + predicted]
    }

    /// Clips of true class `t`.
    pub fn row_total(&self, t: usize) -> u64 {
        (0..self.num_classes).map(|p| self.get(t, p)).sum()
    }

    /// Clips predicted as class `p`.
    pub fn column_total(&self, p: usize) -> u64 {
        (0..self.num_classes).map(|t| self.get(t, p)).sum()
    }

    /// All clips.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Recall of class `t`, `None` if the class is absent from the truth.
    pub fn recall(&self, t: usize) -> Option<f64> {
        let support = self.row_total(t);
        (support > 0).then(|| self.get(t, t) as f64 / support as f64)
    }

    /// Unweighted average recall over the classes present in the truth.
    pub fn uar(&self) -> f64 {
        let recalls: Vec<f64> = (0..self.num_classes)
            .filter_map(|t| self.recall(t))
            .collect();
        mean(&recalls)
    }

    /// Fraction of all clips predicted correctly.
    pub fn weighted_accuracy(&self) -> f64 {
        let total = self.total();
        if total == 0 {
            return f64::NAN;
        }
        let correct: u64 = (0..self.num_classes).map(|c| self.get(c, c)).sum();
        correct as f64 / total as f64
    }

    /// Mean F1 over the classes present in the truth or the predictions.
    pub fn macro_f1(&self) -> f64 {
        let f1s: Vec<f64> = (0..self.num_classes)
            .filter_map(|c| {
                let denominator = self.row_total(c) + self.column_total(c);
                (denominator > 0).then(|| 2.0 * self.get(c, c) as f64 / denominator as f64)
            })
            .collect();
        mean(&f1s)
    }

    /// UAR, WA, macro-F1 and the clip count.
    pub fn metrics(&self) -> Metrics {
        Metrics {
            uar: self.uar(),
            wa: self.weighted_accuracy(),
            macro_f1: self.macro_f1(),
            n: self.total(),
        }
    }
}

/// Index of the largest value (the first on ties; NaN never wins). `scores` must be non-empty.
///
/// # Panics
/// If `scores` is empty.
pub fn argmax(scores: &[f32]) -> usize {
    assert!(!scores.is_empty(), "argmax of an empty slice");
    let mut best = 0;
    for (i, &s) in scores.iter().enumerate().skip(1) {
        if s > scores[best] || scores[best].is_nan() {
            best = i;
        }
    }
    best
}

/// Arithmetic mean; NaN for an empty slice.
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// Sample standard deviation (divisor `n - 1`); 0 for fewer than two values.
pub fn sample_std(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let m = mean(values);
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
}
