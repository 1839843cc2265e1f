//! Mel scales and the triangular mel filterbank, with `librosa.filters.mel` semantics.
//!
//! Slaney scale (librosa's default; linear below 1 kHz, logarithmic above):
//!
//! ```text
//! mel(f) = 3f/200                                   f <  1000 Hz
//!        = 15 + ln(f / 1000) / (ln(6.4) / 27)       f >= 1000 Hz
//! ```
//!
//! HTK scale: `mel(f) = 2595 · log10(1 + f/700)`.
//!
//! Filter `m` (`m = 0..M`) over FFT bin frequencies `f_k = k · sr / N`, with `M + 2` edge
//! frequencies `e_j` equally spaced on the mel scale from `fmin` to `fmax`:
//!
//! ```text
//! W[m, k] = max(0, min((f_k - e_m) / (e_{m+1} - e_m), (e_{m+2} - f_k) / (e_{m+2} - e_{m+1})))
//! Slaney area normalisation:  W[m, k] *= 2 / (e_{m+2} - e_m)
//! mel[t, m] = Σ_k W[m, k] · S[t, k]
//! ```
//!
//! Weights are computed in `f64` and rounded to `f32` as librosa does. Filters are stored as their
//! non-zero runs only; since consecutive triangles overlap by one edge interval, each FFT bin is
//! touched by at most two filters, so applying the bank costs about `2 · n_bins` multiply-adds.

use crate::dot::dot_lanes;
use serde::{Deserialize, Serialize};

/// Frequency ↔ mel mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MelScale {
    /// Slaney's Auditory Toolbox scale (librosa's default, `htk=False`).
    #[default]
    Slaney,
    /// HTK's `2595 log10(1 + f/700)`.
    Htk,
}

/// Filter normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MelNorm {
    /// Divide each triangle by half its width in Hz, so all have the same area (librosa's default).
    #[default]
    Slaney,
    /// Peak 1 triangles.
    None,
}

const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;
const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;

fn log_step() -> f64 {
    6.4f64.ln() / 27.0
}

/// Hz to mel on `scale` (see the module equation).
pub fn hz_to_mel(hz: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + hz / 700.0).log10(),
        MelScale::Slaney => {
            if hz >= MIN_LOG_HZ {
                MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step()
            } else {
                hz / F_SP
            }
        }
    }
}

/// Mel to Hz on `scale`, the inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(mel / 2595.0) - 1.0),
        MelScale::Slaney => {
            if mel >= MIN_LOG_MEL {
                MIN_LOG_HZ * (log_step() * (mel - MIN_LOG_MEL)).exp()
            } else {
                F_SP * mel
            }
        }
    }
}

/// `n` points from `start` to `stop` inclusive, computed as `numpy.linspace` does.
fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![start];
    }
    let step = (stop - start) / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step + start).collect();
    v[n - 1] = stop;
    v
}

/// Parameters of a filterbank.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MelParams {
    /// Sampling rate in Hz.
    pub sample_rate: u32,
    /// FFT size; the bank has `n_fft/2 + 1` columns.
    pub n_fft: usize,
    /// Number of filters `M`.
    pub n_mels: usize,
    /// Lowest edge in Hz.
    pub fmin: f64,
    /// Highest edge in Hz (librosa's default is `sr / 2`).
    pub fmax: f64,
    /// Mel scale.
    pub scale: MelScale,
    /// Normalisation.
    pub norm: MelNorm,
}

/// A mel filterbank stored as one contiguous run of non-zero weights per filter.
#[derive(Clone, Debug)]
pub struct MelFilterbank {
    n_bins: usize,
    /// Each filter's non-zero run, exactly (what [`MelFilterbank::filter`] and `dense` show).
    runs: Runs,
    /// The same runs widened with zero weights to whole groups of eight bins, for
    /// [`MelFilterbank::apply`] (see [`Runs::padded_to_lanes`]).
    lane_runs: Runs,
}

/// One contiguous run of weights per filter: run `m` covers bins `starts[m]..` and holds
/// `weights[offsets[m]..offsets[m + 1]]` (`starts: [n_mels]`, `offsets: [n_mels + 1]`).
#[derive(Clone, Debug)]
struct Runs {
    starts: Vec<usize>,
    offsets: Vec<usize>,
    weights: Vec<f32>,
}

impl Runs {
    fn with_capacity(n_runs: usize, n_weights: usize) -> Self {
        Self {
            starts: Vec::with_capacity(n_runs),
            offsets: vec![0],
            weights: Vec::with_capacity(n_weights),
        }
    }

    /// Appends a run starting at bin `start`.
    fn push(&mut self, start: usize, weights: &[f32]) {
        self.starts.push(start);
        self.weights.extend_from_slice(weights);
        self.offsets.push(self.weights.len());
    }

    /// Run `m`: its first bin and weights.
    fn get(&self, m: usize) -> (usize, &[f32]) {
        (
            self.starts[m],
            &self.weights[self.offsets[m]..self.offsets[m + 1]],
        )
    }

    fn len(&self) -> usize {
        self.starts.len()
    }

    /// The runs padded with zero weights to a multiple of eight bins, so that
    /// [`crate::dot::dot_lanes`] has no scalar tail: the padding goes after the run, or before it
    /// when the run ends within eight bins of the top. `0 · p = 0` for the finite, non-negative
    /// power, so only the summation order changes.
    fn padded_to_lanes(&self, n_bins: usize) -> Self {
        let mut padded = Self::with_capacity(self.len(), self.weights.len() + 8 * self.len());
        let mut widened = Vec::new();
        for m in 0..self.len() {
            let (start, run) = self.get(m);
            // Widest whole-group length that fits in the spectrum; a run that cannot be widened
            // that far keeps a short scalar tail in `dot_lanes`.
            let len = (run.len().div_ceil(8) * 8).min(n_bins).max(run.len());
            let padded_start = start.min(n_bins - len);
            let before = start - padded_start;
            widened.clear();
            widened.resize(before, 0.0);
            widened.extend_from_slice(run);
            widened.resize(len, 0.0);
            padded.push(padded_start, &widened);
        }
        padded
    }
}

impl MelFilterbank {
    /// Builds the bank (see the module equation).
    ///
    /// # Panics
    /// If `n_fft == 0`, `n_mels == 0` or the sample rate is 0 (validated earlier by
    /// [`crate::MfccConfig`]).
    pub fn new(p: &MelParams) -> Self {
        assert!(
            p.n_fft > 0 && p.n_mels > 0 && p.sample_rate > 0,
            "invalid mel parameters {p:?}"
        );
        let n_bins = p.n_fft / 2 + 1;
        // numpy.fft.rfftfreq: k * (1 / (n * (1 / sr)))
        let bin_hz = 1.0 / (p.n_fft as f64 * (1.0 / f64::from(p.sample_rate)));
        let freqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * bin_hz).collect();
        let mels = linspace(
            hz_to_mel(p.fmin, p.scale),
            hz_to_mel(p.fmax, p.scale),
            p.n_mels + 2,
        );
        let edges: Vec<f64> = mels.iter().map(|&m| mel_to_hz(m, p.scale)).collect();

        let mut runs = Runs::with_capacity(p.n_mels, 2 * n_bins);
        for m in 0..p.n_mels {
            let (lo, mid, hi) = (edges[m], edges[m + 1], edges[m + 2]);
            let scale = match p.norm {
                MelNorm::Slaney => 2.0 / (hi - lo),
                MelNorm::None => 1.0,
            };
            let row: Vec<f32> = freqs
                .iter()
                .map(|&f| {
                    let lower = -(lo - f) / (mid - lo);
                    let upper = (hi - f) / (hi - mid);
                    // librosa stores the triangle in f32, then scales it in f64 and rounds again.
                    let tri = 0.0f64.max(lower.min(upper)) as f32;
                    (f64::from(tri) * scale) as f32
                })
                .collect();
            let first = row.iter().position(|&w| w > 0.0).unwrap_or(0);
            let last = row.iter().rposition(|&w| w > 0.0).map_or(first, |i| i + 1);
            runs.push(first, &row[first..last]);
        }
        let lane_runs = runs.padded_to_lanes(n_bins);
        Self {
            n_bins,
            runs,
            lane_runs,
        }
    }

    /// Number of filters.
    pub fn n_mels(&self) -> usize {
        self.runs.len()
    }

    /// Number of FFT bins (columns).
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// Non-zero run of filter `m`: its first bin and weights.
    pub fn filter(&self, m: usize) -> (usize, &[f32]) {
        self.runs.get(m)
    }

    /// The dense matrix, row-major `[n_mels, n_bins]` (as `librosa.filters.mel` returns it).
    pub fn dense(&self) -> Vec<f32> {
        let mut out = vec![0.0; self.n_mels() * self.n_bins];
        for m in 0..self.n_mels() {
            let (start, w) = self.filter(m);
            out[m * self.n_bins + start..m * self.n_bins + start + w.len()].copy_from_slice(w);
        }
        out
    }

    /// `out[m] = Σ_k W[m, k] · power[k]`, accumulated in `f32` (as librosa's float32 matmul); `power: [n_bins]`, `out: [n_mels]`.
    ///
    /// # Panics
    /// If `power.len() != n_bins` or `out.len() != n_mels`.
    pub fn apply(&self, power: &[f32], out: &mut [f32]) {
        assert_eq!(power.len(), self.n_bins, "power spectrum length");
        assert_eq!(out.len(), self.n_mels(), "mel output length");
        for (m, o) in out.iter_mut().enumerate() {
            let (start, w) = self.lane_runs.get(m);
            *o = dot_lanes(w, &power[start..start + w.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lane-padded runs give the dense product `W · power` for banks whose top filters end
    /// within eight bins of the last bin, tiny FFTs and ones with more filters than bins.
    #[test]
    fn apply_matches_the_dense_product() {
        for (n_fft, n_mels, scale) in [
            (2048, 40, MelScale::Slaney),
            (4096, 128, MelScale::Slaney),
            (512, 26, MelScale::Htk),
            (16, 4, MelScale::Slaney),
            (32, 40, MelScale::Htk),
        ] {
            let bank = MelFilterbank::new(&MelParams {
                sample_rate: 16_000,
                n_fft,
                n_mels,
                fmin: 0.0,
                fmax: 8_000.0,
                scale,
                norm: MelNorm::Slaney,
            });
            let n_bins = bank.n_bins();
            let power: Vec<f32> = (0..n_bins)
                .map(|k| ((k * 7919) % 97) as f32 + 0.5)
                .collect();
            let mut out = vec![f32::NAN; n_mels];
            bank.apply(&power, &mut out);
            let dense = bank.dense();
            for (m, &o) in out.iter().enumerate() {
                let row = &dense[m * n_bins..(m + 1) * n_bins];
                let reference: f64 = row
                    .iter()
                    .zip(&power)
                    .map(|(&w, &p)| f64::from(w) * f64::from(p))
                    .sum();
                assert!(
                    (f64::from(o) - reference).abs() <= 1e-5 * reference.abs().max(1e-3),
                    "n_fft {n_fft} mel {m}: {o} vs {reference}"
                );
            }
        }
    }
}
