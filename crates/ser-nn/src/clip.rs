//! Global gradient-norm clipping, `torch.nn.utils.clip_grad_norm_` over one flat gradient buffer.
//!
//! ```text
//! n = √(Σ_i g_i²)          (accumulated in f64)
//! if n > max_norm:  g ← g · max_norm / (n + 1e-6)
//! ```
//! Gradients with `n ≤ max_norm` are left bit-for-bit untouched (PyTorch multiplies by a coefficient
//! clamped to 1, which is the same).

use lstm_core::Real;

/// PyTorch's guard against division by zero in the clip coefficient.
const CLIP_EPS: f64 = 1e-6;

/// L2 norm `√(Σ g²)` of a flat buffer, accumulated in f64.
pub fn grad_norm<T: Real>(grads: &[T]) -> f64 {
    grads
        .iter()
        .map(|g| g.to_f64() * g.to_f64())
        .sum::<f64>()
        .sqrt()
}

/// Rescales `grads` in place so that their global L2 norm is at most `max_norm`; returns the norm
/// BEFORE clipping (as PyTorch does).
///
/// A non-finite norm (NaN/∞ gradients) is returned unchanged and the gradients are left alone, so the
/// caller can detect divergence; PyTorch (with `error_if_nonfinite=False`) would spread the NaN instead.
/// `max_norm = ∞` disables clipping.
pub fn clip_grad_norm<T: Real>(grads: &mut [T], max_norm: f64) -> f64 {
    let norm = grad_norm(grads);
    if norm.is_finite() && norm > max_norm {
        let coef = T::from_f64(max_norm / (norm + CLIP_EPS));
        for g in grads.iter_mut() {
            *g *= coef;
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_to_max_norm() {
        let mut g = vec![3.0f64, 4.0];
        let n = clip_grad_norm(&mut g, 1.0);
        assert_eq!(n, 5.0);
        assert!((grad_norm(&g) - 1.0).abs() < 1e-6);
        let mut bad = vec![f32::NAN, 1.0];
        assert!(clip_grad_norm(&mut bad, 1.0).is_nan());
        assert_eq!(bad[1], 1.0);
    }
}
