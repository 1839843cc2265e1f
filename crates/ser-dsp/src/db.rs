//! Power to decibels, with `librosa.power_to_db` semantics.
//!
//! ```text
//! D[t, m] = 10·log10(max(amin, S[t, m])) - 10·log10(max(amin, ref))
//! if top_db is set:  D[t, m] = max(D[t, m], max_{t', m'} D[t', m'] - top_db)
//! ```
//!
//! The clipping floor is relative to the maximum over the *whole* utterance (all frames and
//! bands), so it can only be applied once every frame is known: [`PowerToDb::to_db`] works frame
//! by frame, [`PowerToDb::clip`] then runs over the whole `[n_frames, n_mels]` matrix.

/// Parameters of the conversion; librosa's `mfcc` defaults are `ref = 1`, `amin = 1e-10`,
/// `top_db = 80`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PowerToDb {
    /// Reference power mapped to 0 dB.
    pub reference: f32,
    /// Floor applied to powers (and to the reference) before the logarithm; must be > 0.
    pub amin: f32,
    /// Dynamic range kept below the utterance maximum; `None` keeps everything.
    pub top_db: Option<f32>,
}

impl Default for PowerToDb {
    fn default() -> Self {
        Self {
            reference: 1.0,
            amin: 1e-10,
            top_db: Some(80.0),
        }
    }
}

impl PowerToDb {
    /// `10·log10(max(amin, ref))`, subtracted from every value.
    fn offset(&self) -> f32 {
        (10.0 * f64::from(self.amin.max(self.reference)).log10()) as f32
    }

    /// Converts powers to dB in place (no clipping); `x: [any]`.
    ///
    /// Eight values at a time through `wide`'s `f32x8::ln` (Cephes polynomial: relative error of
    /// `ln` within a few ulp, so the dB value is within 1e-4 dB (two f32 ulp at ±400 dB) of [`PowerToDb::to_db_reference`]
    /// over every positive finite `f32`; a test checks this bound), the tail through the reference.
    pub fn to_db(&self, x: &mut [f32]) {
        let offset = self.offset();
        let scale = wide::f32x8::splat(10.0 * std::f32::consts::LOG10_E);
        let (amin, off) = (wide::f32x8::splat(self.amin), wide::f32x8::splat(offset));
        let mut chunks = x.chunks_exact_mut(8);
        for chunk in &mut chunks {
            let v = wide::f32x8::from(<[f32; 8]>::try_from(&*chunk).unwrap_or([0.0; 8]));
            let db = scale * v.max(amin).ln() - off;
            chunk.copy_from_slice(&db.to_array());
        }
        self.to_db_reference(chunks.into_remainder());
    }

    /// Scalar reference of [`PowerToDb::to_db`]: `10·log10(max(amin, x)) − offset` through libm.
    pub fn to_db_reference(&self, x: &mut [f32]) {
        let offset = self.offset();
        for v in x.iter_mut() {
            *v = 10.0 * v.max(self.amin).log10() - offset;
        }
    }

    /// Clips dB values to `max(x) - top_db` in place, the maximum taken over all of `x`
    /// (`[n_frames, n_mels]`, the whole utterance). Does nothing if `top_db` is `None` or `x` is
    /// empty.
    pub fn clip(&self, x: &mut [f32]) {
        let Some(top_db) = self.top_db else { return };
        let Some(max) = x.iter().copied().reduce(f32::max) else {
            return;
        };
        let floor = max - top_db;
        for v in x.iter_mut() {
            *v = v.max(floor);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SIMD path stays within 1e-4 dB of libm over every binade of positive f32 powers
    /// (and at the floor and for NaN-free special values), and handles tails of every length.
    #[test]
    fn simd_db_matches_the_reference() {
        let db = PowerToDb::default();
        let mut values = Vec::new();
        let mut x = f32::MIN_POSITIVE;
        while x < f32::MAX / 1.7 {
            for k in 0..16 {
                values.push(x * (1.0 + k as f32 / 16.0));
            }
            x *= 1.7;
        }
        values.extend([0.0, 1e-10, 1e-11, 1.0, f32::MAX]);
        for len in [values.len(), 7, 9, 1] {
            let mut fast = values[..len].to_vec();
            let mut reference = fast.clone();
            db.to_db(&mut fast);
            db.to_db_reference(&mut reference);
            let worst = fast
                .iter()
                .zip(&reference)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst <= 1e-4, "worst dB difference {worst:e} (len {len})");
        }
    }
}
