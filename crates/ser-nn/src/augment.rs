//! SpecAugment-style masking (Park et al. 2019, without time warping) of one clip's features.
//!
//! For a time-major matrix `x: [T, F]` (already z-scored, so 0 is the training mean):
//! ```text
//! repeat freq_masks times:  w ~ U{0..=min(freq_width, F)},  f0 ~ U{0..=F−w},  x[:, f0..f0+w] = value
//! repeat time_masks times:  w ~ U{0..=min(time_width, ⌊p·T⌋)}, t0 ~ U{0..=T−w}, x[t0..t0+w, :] = value
//! ```
//! with `p = max_time_fraction`, so a short clip is never masked away. Masks may overlap. The draws
//! come from the caller's RNG, so a seeded RNG gives the same masks every run.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::NnError;

/// SpecAugment settings (training only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpecAugment {
    /// Number of feature (frequency) bands masked per clip.
    pub freq_masks: usize,
    /// Widest feature band, in coefficients.
    pub freq_width: usize,
    /// Number of time spans masked per clip.
    pub time_masks: usize,
    /// Longest time span, in frames.
    pub time_width: usize,
    /// A time span never exceeds this fraction of the clip.
    pub max_time_fraction: f64,
    /// Value written into the masked cells (0 = the mean of z-scored features).
    pub value: f32,
}

impl Default for SpecAugment {
    /// Two feature masks of ≤ 4 coefficients, two time masks of ≤ 8 frames (≤ 20 % of the clip).
    fn default() -> Self {
        Self {
            freq_masks: 2,
            freq_width: 4,
            time_masks: 2,
            time_width: 8,
            max_time_fraction: 0.2,
            value: 0.0,
        }
    }
}

impl SpecAugment {
    /// # Errors
    /// [`NnError::InvalidConfig`] when `max_time_fraction` is outside `[0, 1]` or `value` is not finite.
    pub fn validate(&self) -> Result<(), NnError> {
        if !(0.0..=1.0).contains(&self.max_time_fraction) {
            return Err(NnError::invalid(
                "spec_augment",
                "max_time_fraction",
                self.max_time_fraction,
                "must be in [0, 1]",
            ));
        }
        if !self.value.is_finite() {
            return Err(NnError::invalid(
                "spec_augment",
                "value",
                self.value,
                "must be finite",
            ));
        }
        Ok(())
    }

    /// Masks `frames: [T, F]` (row-major, `F = n_features`) in place.
    ///
    /// # Panics
    /// If `n_features` is 0 or does not divide `frames.len()`.
    pub fn apply<R: Rng>(&self, frames: &mut [f32], n_features: usize, rng: &mut R) {
        assert!(
            n_features > 0 && frames.len().is_multiple_of(n_features),
            "SpecAugment::apply: frames must be [T, {n_features}]"
        );
        let n_frames = frames.len() / n_features;
        for _ in 0..self.freq_masks {
            let width = rng.gen_range(0..=self.freq_width.min(n_features));
            let start = rng.gen_range(0..=n_features - width);
            for row in frames.chunks_exact_mut(n_features) {
                row[start..start + width].fill(self.value);
            }
        }
        let longest = self
            .time_width
            .min((self.max_time_fraction * n_frames as f64).floor() as usize);
        for _ in 0..self.time_masks {
            let width = rng.gen_range(0..=longest);
            let start = rng.gen_range(0..=n_frames - width);
            frames[start * n_features..(start + width) * n_features].fill(self.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn masks_stay_in_bounds_and_respect_the_widths() {
        let aug = SpecAugment {
            freq_masks: 1,
            freq_width: 3,
            time_masks: 1,
            time_width: 5,
            max_time_fraction: 0.5,
            value: 0.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for n_frames in [1usize, 2, 7, 40] {
            for _ in 0..50 {
                let mut x = vec![1.0f32; n_frames * 6];
                aug.apply(&mut x, 6, &mut rng);
                let col_zero: Vec<bool> = (0..6)
                    .map(|j| (0..n_frames).all(|t| x[t * 6 + j] == 0.0))
                    .collect();
                let row_zero: Vec<bool> =
                    x.chunks(6).map(|r| r.iter().all(|&v| v == 0.0)).collect();
                // Every zero lies in a fully masked column or row.
                for t in 0..n_frames {
                    for j in 0..6 {
                        if x[t * 6 + j] == 0.0 {
                            assert!(col_zero[j] || row_zero[t]);
                        }
                    }
                }
                // At most 3 masked columns unless the time mask covers everything; at most
                // min(5, ⌊T/2⌋) masked rows unless every column is masked.
                let cols = col_zero.iter().filter(|&&z| z).count();
                let rows = row_zero.iter().filter(|&&z| z).count();
                assert!(cols <= 3 || rows == n_frames);
                assert!(rows <= 5.min(n_frames / 2) || cols == 6);
            }
        }
        // Same seed, same masks.
        let run = |seed| {
            let mut x: Vec<f32> = (0..60).map(|i| i as f32 + 1.0).collect();
            aug.apply(&mut x, 6, &mut ChaCha8Rng::seed_from_u64(seed));
            x
        };
        assert_eq!(run(9), run(9));
    }
}
