//! Softmax, log-softmax and the cross-entropy loss with PyTorch's `nn.CrossEntropyLoss` semantics
//! (`reduction = "mean"`, optional class `weight`, optional `label_smoothing`).
//!
//! All row-wise over `logits: [B, C]` row-major, numerically stable through log-sum-exp:
//! `log_softmax(z)_c = z_c − m − ln Σ_j exp(z_j − m)` with `m = max_j z_j`.

use crate::error::NnError;
use lstm_core::Real;

/// Row-wise softmax `p[b, c] = exp(z[b, c] − lse_b)`; each row of `probs` sums to 1.
///
/// # Panics
/// If `classes == 0` or `logits.len() != probs.len()` or the length is not a multiple of `classes`.
pub fn softmax<T: Real>(logits: &[T], classes: usize, probs: &mut [T]) {
    log_softmax(logits, classes, probs);
    for p in probs.iter_mut() {
        *p = p.exp();
    }
}

/// Row-wise log-softmax `out[b, c] = z[b, c] − m_b − ln Σ_j exp(z[b, j] − m_b)`, `m_b = max_j z[b, j]`.
///
/// # Panics
/// If `classes == 0` or `logits.len() != out.len()` or the length is not a multiple of `classes`.
pub fn log_softmax<T: Real>(logits: &[T], classes: usize, out: &mut [T]) {
    assert!(classes > 0, "log_softmax: classes must be > 0");
    assert_eq!(
        logits.len(),
        out.len(),
        "log_softmax: logits and out differ in length"
    );
    assert_eq!(
        logits.len() % classes,
        0,
        "log_softmax: length not a multiple of classes"
    );
    for (z, o) in logits
        .chunks_exact(classes)
        .zip(out.chunks_exact_mut(classes))
    {
        let m = z.iter().copied().fold(z[0], T::max);
        let mut sum = T::ZERO;
        for &v in z {
            sum += (v - m).exp();
        }
        let lse = m + sum.ln();
        for (o, &v) in o.iter_mut().zip(z) {
            *o = v - lse;
        }
    }
}

/// Cross-entropy over `C` classes, averaged over the batch as PyTorch does.
///
/// With class weights `w` (all 1 when absent), smoothing `ε`, `W = Σ_b w[y_b]` and `lp = log_softmax(z)`:
/// ```text
/// loss = (1 − ε) · Σ_b w[y_b] · (−lp[b, y_b]) / W  +  (ε / C) · Σ_b Σ_c w[c] · (−lp[b, c]) / W
/// ```
/// (this is `nll_loss(lp, y, weight)` mixed with PyTorch's smoothing term, which is also divided by `W`).
/// Its gradient, with `p = softmax(z)`:
/// ```text
/// dloss/dz[b, j] = ( ((1 − ε) w[y_b] + (ε/C) Σ_c w[c]) · p[b, j] − (1 − ε) w[y_b] [j = y_b] − (ε/C) w[j] ) / W
/// ```
/// which is `(softmax − one_hot) / B` without weights and smoothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CrossEntropy {
    class_weights: Option<Vec<f64>>,
    label_smoothing: f64,
}

impl CrossEntropy {
    /// Plain mean cross-entropy (no weights, no smoothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// # Errors
    /// [`NnError::InvalidConfig`] if a weight is negative or non-finite, or `label_smoothing ∉ [0, 1]`.
    pub fn with_options(
        class_weights: Option<Vec<f64>>,
        label_smoothing: f64,
    ) -> Result<Self, NnError> {
        if let Some(w) = &class_weights {
            if let Some(bad) = w.iter().find(|v| !(v.is_finite() && **v >= 0.0)) {
                return Err(NnError::invalid(
                    "cross-entropy",
                    "class_weights",
                    bad,
                    "must be finite and >= 0",
                ));
            }
        }
        if !(0.0..=1.0).contains(&label_smoothing) {
            return Err(NnError::invalid(
                "cross-entropy",
                "label_smoothing",
                label_smoothing,
                "must satisfy 0 <= label_smoothing <= 1",
            ));
        }
        Ok(Self {
            class_weights,
            label_smoothing,
        })
    }

    pub fn class_weights(&self) -> Option<&[f64]> {
        self.class_weights.as_deref()
    }

    pub fn label_smoothing(&self) -> f64 {
        self.label_smoothing
    }

    fn weight(&self, class: usize) -> f64 {
        self.class_weights.as_ref().map_or(1.0, |w| w[class])
    }

    /// Loss of `logits: [B, C]` against `labels: [B]` (class indices), and, when `grad` is given, writes
    /// `dloss/dlogits: [B, C]` into it. `log_probs: [B, C]` is scratch (overwritten with `log_softmax`).
    ///
    /// Returns NaN when the total weight `W` of the batch is 0 (PyTorch does the same).
    ///
    /// # Panics
    /// If `labels.len() · classes != logits.len()`, a label is `≥ classes`, class weights are given for a
    /// different number of classes, or `grad`/`log_probs` have the wrong length.
    pub fn forward_backward<T: Real>(
        &self,
        logits: &[T],
        labels: &[usize],
        classes: usize,
        log_probs: &mut [T],
        grad: Option<&mut [T]>,
    ) -> f64 {
        let batch = labels.len();
        assert_eq!(
            logits.len(),
            batch * classes,
            "cross-entropy: logits must be [B={batch}, C={classes}]"
        );
        if let Some(w) = &self.class_weights {
            assert_eq!(
                w.len(),
                classes,
                "cross-entropy: class_weights must have C={classes} entries"
            );
        }
        assert!(
            labels.iter().all(|&y| y < classes),
            "cross-entropy: label out of range 0..{classes}"
        );
        log_softmax(logits, classes, log_probs);
        let eps = self.label_smoothing;
        let smooth = eps / classes as f64;
        let total_weight: f64 = labels.iter().map(|&y| self.weight(y)).sum();
        let sum_class_weights: f64 = (0..classes).map(|c| self.weight(c)).sum();
        let mut loss = 0.0;
        for (lp, &y) in log_probs.chunks_exact(classes).zip(labels) {
            loss -= (1.0 - eps) * self.weight(y) * lp[y].to_f64();
            if smooth != 0.0 {
                let s: f64 = lp
                    .iter()
                    .enumerate()
                    .map(|(c, v)| self.weight(c) * v.to_f64())
                    .sum();
                loss -= smooth * s;
            }
        }
        loss /= total_weight;
        if let Some(grad) = grad {
            assert_eq!(
                grad.len(),
                logits.len(),
                "cross-entropy: grad must be [B={batch}, C={classes}]"
            );
            let inv_w = 1.0 / total_weight;
            for ((g, lp), &y) in grad
                .chunks_exact_mut(classes)
                .zip(log_probs.chunks_exact(classes))
                .zip(labels)
            {
                let wy = (1.0 - eps) * self.weight(y);
                let scale = (wy + smooth * sum_class_weights) * inv_w;
                for (j, (g, &l)) in g.iter_mut().zip(lp).enumerate() {
                    let mut v = scale * l.to_f64().exp() - smooth * self.weight(j) * inv_w;
                    if j == y {
                        v -= wy * inv_w;
                    }
                    *g = T::from_f64(v);
                }
            }
        }
        loss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_softmax_is_stable_for_huge_logits() {
        let z = [1000.0f32, 0.0, -1000.0];
        let mut out = [f32::NAN; 3];
        log_softmax(&z, 3, &mut out);
        assert!(out.iter().all(|v| v.is_finite()));
        assert!(out[0].abs() < 1e-6);
    }

    /// Finite differences of the loss with weights and smoothing against the closed-form gradient.
    #[test]
    fn weighted_smoothed_gradient_matches_finite_differences() {
        let ce = CrossEntropy::with_options(Some(vec![0.5, 2.0, 1.0, 3.0]), 0.2).unwrap();
        let z: Vec<f64> = (0..12).map(|k| ((k * 7 % 5) as f64 - 2.0) * 0.7).collect();
        let y = [1usize, 3, 0];
        let mut lp = vec![0.0; 12];
        let mut g = vec![f64::NAN; 12];
        ce.forward_backward(&z, &y, 4, &mut lp, Some(&mut g));
        for k in 0..12 {
            let h = 1e-6;
            let (mut zp, mut zm) = (z.clone(), z.clone());
            zp[k] += h;
            zm[k] -= h;
            let num = (ce.forward_backward(&zp, &y, 4, &mut lp, None)
                - ce.forward_backward(&zm, &y, 4, &mut lp, None))
                / (2.0 * h);
            assert!((num - g[k]).abs() < 1e-8, "k={k}: {num} vs {}", g[k]);
        }
    }
}
