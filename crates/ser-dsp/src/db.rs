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
    pub fn to_db(&self, x: &mut [f32]) {
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
