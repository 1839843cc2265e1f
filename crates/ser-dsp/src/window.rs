//! Analysis windows, periodic ("DFT-even") as `scipy.signal.get_window(..., fftbins=True)`.
//!
//! For a window of length `N`, `n = 0..N`:
//!
//! ```text
//! Hann:    w[n] = 0.5  - 0.5  cos(2πn / N)
//! Hamming: w[n] = 0.54 - 0.46 cos(2πn / N)
//! ```
//!
//! A window shorter than the FFT (`win_length < n_fft`) is zero-padded on both sides into the
//! middle of the frame, as `librosa.util.pad_center` does: `lpad = (n_fft - win_length) / 2`
//! (integer division) zeros on the left, the rest on the right.

use serde::{Deserialize, Serialize};

/// Window shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    /// Periodic Hann (librosa's default).
    #[default]
    Hann,
    /// Periodic Hamming.
    Hamming,
}

/// Periodic window of length `win_length`, in `f64`: `[win_length]`.
pub fn periodic_window(kind: WindowKind, win_length: usize) -> Vec<f64> {
    let (a0, a1) = match kind {
        WindowKind::Hann => (0.5, 0.5),
        WindowKind::Hamming => (0.54, 0.46),
    };
    let n_f = win_length as f64;
    (0..win_length)
        .map(|n| a0 - a1 * (2.0 * std::f64::consts::PI * n as f64 / n_f).cos())
        .collect()
}

/// Offset of the first window sample inside an `n_fft` frame: `(n_fft - win_length) / 2`.
///
/// # Panics
/// If `win_length > n_fft`.
pub fn window_offset(win_length: usize, n_fft: usize) -> usize {
    assert!(
        win_length <= n_fft,
        "window length {win_length} exceeds n_fft {n_fft}"
    );
    (n_fft - win_length) / 2
}

/// The periodic window centred in an `n_fft` frame with zeros around it, rounded to `f32`:
/// `[n_fft]`.
///
/// # Panics
/// If `win_length > n_fft`.
pub fn padded_window(kind: WindowKind, win_length: usize, n_fft: usize) -> Vec<f32> {
    let offset = window_offset(win_length, n_fft);
    let mut out = vec![0.0f32; n_fft];
    for (dst, w) in out[offset..offset + win_length]
        .iter_mut()
        .zip(periodic_window(kind, win_length))
    {
        *dst = w as f32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hann_of_four_is_known() {
        let w = periodic_window(WindowKind::Hann, 4);
        let expected = [0.0, 0.5, 1.0, 0.5];
        for (a, b) in w.iter().zip(expected) {
            assert!((a - b).abs() < 1e-15, "{w:?}");
        }
    }

    #[test]
    fn padding_centres_the_window() {
        let w = padded_window(WindowKind::Hann, 5, 10);
        assert_eq!(&w[..2], &[0.0, 0.0]);
        assert_eq!(&w[7..], &[0.0, 0.0, 0.0]);
        assert_eq!(w[2], 0.0); // periodic Hann starts at 0
        assert!(w[3] > 0.0);
    }
}
