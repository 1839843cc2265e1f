//! A 12-bin chromagram from the power spectrum, with `librosa.feature.chroma_stft(S=power,
//! tuning=0.0, n_chroma=12, norm=np.inf)` semantics.
//!
//! Filterbank (`librosa.filters.chroma(ctroct=5.0, octwidth=2, norm=2, base_c=True)`), built in
//! `f64` over the `N` bins `f_k = k · sr / N` and kept for `k = 0..=N/2`:
//!
//! ```text
//! b_k      = 12 · log2(f_k / (440 · 2^(tuning/12) / 16))   k ≥ 1 (semitones above A0 = 27.5 Hz)
//! b_0      = b_1 - 18                                       (1.5 octaves below bin 1)
//! w_k      = max(b_{k+1} - b_k, 1),  w_{N-1} = 1            (bin width in semitones)
//! D[c, k]  = ((b_k - c + 6 + 120) mod 12) - 6               (distance to pitch class c, wrapped)
//! G[c, k]  = exp(-½ (2 D[c, k] / w_k)²) / ‖exp(-½ (2 D[·, k] / w_k)²)‖₂
//! A[c, k]  = G[c, k] · exp(-½ ((b_k/12 - 5) / 2)²)         (octave weighting around C5-ish)
//! F[c, k]  = A[(c + 3) mod 12, k]                           (rows start at C, not A)
//! ```
//!
//! rounded to `f32`. Per frame, with the power spectrum `S[t, k]`:
//!
//! ```text
//! R[t, c] = Σ_k F[c, k] · S[t, k]                     [T, 12]
//! C[t, c] = R[t, c] / max_c' R[t, c']                 if max_c' R[t, c'] ≥ f32::MIN_POSITIVE
//!         = R[t, c]                                   otherwise (silent frame: left as is, 0)
//! ```
//!
//! which is `librosa.util.normalize(norm=inf, threshold=tiny(float32), fill=None)`: a frame whose
//! maximum is below the smallest normal `f32` is not scaled, so an all-zero frame stays all zero.
//!
//! Tuning: librosa's default (`tuning=None`) estimates the tuning of every clip from its
//! spectrum; the extractor fixes it to 0 (equal temperament, A4 = 440 Hz) so that a frame's
//! chroma never depends on the rest of the clip. Rows are pitch classes C, C♯, …, B.
//!
//! The bank is dense (every weight is a positive Gaussian value), stored `[12, N/2 + 1]`
//! row-major and applied in `f32`, as librosa's float32 `einsum` does.

use crate::dot::dot_lanes;

/// Number of pitch classes.
pub const N_CHROMA: usize = 12;

/// Centre of the octave weighting, in octaves above A0 (librosa's `ctroct`).
const CTROCT: f64 = 5.0;
/// Gaussian half-width of the octave weighting, in octaves (librosa's `octwidth`).
const OCTWIDTH: f64 = 2.0;

/// The `librosa.filters.chroma` matrix for one sample rate and FFT size.
#[derive(Clone, Debug)]
pub struct ChromaFilterbank {
    n_bins: usize,
    /// `[N_CHROMA, n_bins]` row-major.
    weights: Vec<f32>,
}

impl ChromaFilterbank {
    /// Builds the bank (module equation) for `sample_rate` Hz, FFT size `n_fft`, and `tuning` in
    /// fractions of a semitone from A440 (the extractor uses 0).
    ///
    /// # Panics
    /// If `n_fft < 2` or `sample_rate == 0` (validated earlier by [`crate::MfccConfig`]).
    pub fn new(sample_rate: u32, n_fft: usize, tuning: f64) -> Self {
        assert!(
            n_fft >= 2 && sample_rate > 0,
            "invalid chroma parameters: sr {sample_rate}, n_fft {n_fft}"
        );
        let n = n_fft;
        let n_chroma = N_CHROMA as f64;
        // numpy.linspace(0, sr, n, endpoint=False): k · (sr / n).
        let step = f64::from(sample_rate) / n as f64;
        let a0 = 440.0 * 2f64.powf(tuning / n_chroma) / 16.0;
        let mut bins: Vec<f64> = (0..n)
            .map(|k| n_chroma * (k as f64 * step / a0).log2())
            .collect();
        bins[0] = bins.get(1).map_or(0.0, |b1| b1 - 1.5 * n_chroma);
        let widths: Vec<f64> = (0..n)
            .map(|k| {
                if k + 1 < n {
                    (bins[k + 1] - bins[k]).max(1.0)
                } else {
                    1.0
                }
            })
            .collect();
        let n_bins = n / 2 + 1;
        let half = (n_chroma / 2.0).round();
        let mut weights = vec![0.0f32; N_CHROMA * n_bins];
        let mut column = [0.0f64; N_CHROMA];
        for k in 0..n_bins {
            for (c, g) in column.iter_mut().enumerate() {
                let d = (bins[k] - c as f64 + half + 10.0 * n_chroma).rem_euclid(n_chroma) - half;
                let z = 2.0 * d / widths[k];
                *g = (-0.5 * z * z).exp();
            }
            let norm = column.iter().map(|g| g * g).sum::<f64>().sqrt();
            let norm = if norm < f64::MIN_POSITIVE { 1.0 } else { norm };
            let oct = (bins[k] / n_chroma - CTROCT) / OCTWIDTH;
            let octave_weight = (-0.5 * oct * oct).exp();
            for (c, &g) in column.iter().enumerate() {
                // Roll by -3: output row r is pitch class (r + 3) mod 12 counted from A.
                let row = (c + N_CHROMA - 3) % N_CHROMA;
                weights[row * n_bins + k] = (g / norm * octave_weight) as f32;
            }
        }
        Self { n_bins, weights }
    }

    /// Number of FFT bins (columns), `n_fft / 2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// The dense matrix, `[N_CHROMA, n_bins]` row-major (as `librosa.filters.chroma` returns it).
    pub fn dense(&self) -> &[f32] {
        &self.weights
    }

    /// Chroma of one frame, max-normalised (module equation): `power: [n_bins]`, `out: [12]`.
    ///
    /// # Panics
    /// If `power.len() != n_bins` or `out.len() != 12`.
    pub fn apply(&self, power: &[f32], out: &mut [f32]) {
        assert_eq!(power.len(), self.n_bins, "power spectrum length");
        assert_eq!(out.len(), N_CHROMA, "chroma output length");
        for (o, row) in out.iter_mut().zip(self.weights.chunks_exact(self.n_bins)) {
            *o = dot_lanes(row, power);
        }
        normalize_max(out);
    }
}

/// `v[i] /= max_j |v[j]|` unless that maximum is below `f32::MIN_POSITIVE`, in which case `v` is
/// left as is (`librosa.util.normalize(norm=np.inf)` with its default threshold and `fill=None`).
pub fn normalize_max(v: &mut [f32]) {
    let peak = v.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    if peak >= f32::MIN_POSITIVE {
        for x in v.iter_mut() {
            *x = (f64::from(*x) / f64::from(peak)) as f32;
        }
    }
}
