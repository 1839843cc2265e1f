//! Inverted dropout with a seeded mask: training zeroes each element with probability `p` and scales the
//! survivors by `1/(1−p)`, so `E[y] = x`; evaluation is the identity (nothing is scaled at test time).
//!
//! The mask is drawn from a ChaCha8 stream seeded by the caller, so a training step is reproducible and
//! the finite-difference gradient check sees the same mask at every perturbed evaluation.

use crate::error::NnError;
use lstm_core::Real;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Dropout probability `p ∈ [0, 1)` (PyTorch `nn.Dropout(p)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dropout {
    p: f64,
}

impl Dropout {
    /// # Errors
    /// [`NnError::InvalidConfig`] unless `0 ≤ p < 1`.
    pub fn new(p: f64) -> Result<Self, NnError> {
        if (0.0..1.0).contains(&p) {
            Ok(Self { p })
        } else {
            Err(NnError::invalid(
                "dropout",
                "p",
                p,
                "must satisfy 0 <= p < 1",
            ))
        }
    }

    pub fn p(&self) -> f64 {
        self.p
    }

    /// `true` when the layer does nothing even in training (`p = 0`).
    pub fn is_identity(&self) -> bool {
        self.p == 0.0
    }

    /// Draws a mask: `mask[i] = 0` with probability `p`, else `1/(1−p)`. The same `seed` always
    /// gives the same mask (one uniform draw per element, in index order).
    pub fn fill_mask<T: Real>(&self, seed: u64, mask: &mut [T]) {
        if self.is_identity() {
            mask.fill(T::ONE);
            return;
        }
        let keep_scale = T::from_f64(1.0 / (1.0 - self.p));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for m in mask.iter_mut() {
            let u: f64 = rng.gen();
            *m = if u < self.p { T::ZERO } else { keep_scale };
        }
    }

    /// Training forward `y[i] = x[i] · mask[i]` with a mask from [`Dropout::fill_mask`].
    ///
    /// # Panics
    /// If `x`, `mask` and `y` differ in length.
    pub fn apply_mask<T: Real>(x: &[T], mask: &[T], y: &mut [T]) {
        assert_eq!(x.len(), mask.len(), "Dropout: x and mask differ in length");
        assert_eq!(x.len(), y.len(), "Dropout: x and y differ in length");
        for ((y, &x), &m) in y.iter_mut().zip(x).zip(mask) {
            *y = x * m;
        }
    }

    /// Backward `dx[i] = dy[i] · mask[i]`, in place on `grad`.
    ///
    /// # Panics
    /// If `grad` and `mask` differ in length.
    pub fn backward_in_place<T: Real>(grad: &mut [T], mask: &[T]) {
        assert_eq!(
            grad.len(),
            mask.len(),
            "Dropout: grad and mask differ in length"
        );
        for (g, &m) in grad.iter_mut().zip(mask) {
            *g *= m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_invalid_p() {
        assert!(Dropout::new(1.0).is_err());
        assert!(Dropout::new(-0.1).is_err());
        assert!(Dropout::new(f64::NAN).is_err());
        assert!(Dropout::new(0.0).is_ok());
    }

    #[test]
    fn mask_is_seeded_and_scaled() {
        let d = Dropout::new(0.25).unwrap();
        let mut a = vec![f32::NAN; 1000];
        let mut b = vec![f32::NAN; 1000];
        d.fill_mask(5, &mut a);
        d.fill_mask(5, &mut b);
        assert_eq!(a, b);
        assert!(a.iter().all(|&m| m == 0.0 || (m - 1.0 / 0.75).abs() < 1e-6));
        let dropped = a.iter().filter(|&&m| m == 0.0).count();
        assert!(
            (150..350).contains(&dropped),
            "dropped {dropped} of 1000 at p = 0.25"
        );
        d.fill_mask(6, &mut b);
        assert_ne!(a, b);
    }
}
