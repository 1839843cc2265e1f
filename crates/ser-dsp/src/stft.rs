//! Framing and the short-time power spectrum.
//!
//! Frame `t` of a signal `x[0..L]` (zero outside) with FFT size `N`, hop `H`, window `w` (already
//! zero-padded to `N`, see [`crate::window`]) and `P = N/2` when centred, `P = 0` otherwise:
//!
//! ```text
//! X_t[k] = Σ_{n=0}^{N-1} w[n] · x[t·H + n - P] · e^{-2πi·k·n/N},   k = 0..=N/2
//! S[t, k] = |X_t[k]|²
//! n_frames = 1 + (L + 2P - N) / H          (integer division; = 1 + L/H when centred, N even)
//! ```
//!
//! Centring pads with zeros (librosa ≥ 0.10, `pad_mode="constant"`). Without centring a signal
//! shorter than `N` has no frame. The FFT (`f32`) is planned once per [`PowerStft`] and its scratch
//! lives in [`StftScratch`], so computing a frame allocates nothing.
//!
//! For even `N = 2M` the real FFT is one complex FFT of size `M` of `z[n] = x[2n] + i·x[2n+1]`,
//! unpacked straight into power (no complex output is stored), with `Z[M] = Z[0]`:
//!
//! ```text
//! E_k = (Z[k] + conj Z[M-k]) / 2,   D_k = (Z[k] - conj Z[M-k]) / 2
//! X[k] = E_k - i·e^{-2πik/N}·D_k,   k = 0..=M
//! ```
//!
//! (the kernels, in the crate's `unpack` module, take bins `k` and `M − k` together). Odd `N` goes
//! through realfft; both paths are checked against a naive DFT in the tests.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};
use rustfft::{Fft, FftPlanner};

use crate::signal::Signal;
use crate::unpack::Unpacker;

use crate::kernel::Kernel;
use crate::window::{padded_window, window_offset, WindowKind};

/// How a signal is cut into frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    /// FFT size `N` (frame length).
    pub n_fft: usize,
    /// Hop `H` between frame starts, in samples.
    pub hop_length: usize,
    /// Whether the signal is zero-padded by `N/2` on both sides so frame `t` is centred on `t·H`.
    pub center: bool,
}

impl Framing {
    /// Zeros added before the first sample: `N/2` when centred, else 0.
    pub fn pad(&self) -> usize {
        if self.center {
            self.n_fft / 2
        } else {
            0
        }
    }

    /// Smallest signal length with at least one frame.
    pub fn min_len(&self) -> usize {
        if self.center {
            // L + 2P >= N must hold and librosa needs at least one sample.
            (self.n_fft.saturating_sub(2 * self.pad())).max(1)
        } else {
            self.n_fft
        }
    }

    /// Number of frames of a signal of `len` samples, `None` if it is shorter than
    /// [`Self::min_len`].
    pub fn n_frames(&self, len: usize) -> Option<usize> {
        if len < self.min_len() {
            return None;
        }
        Some(1 + (len + 2 * self.pad() - self.n_fft) / self.hop_length)
    }
}

/// Reusable buffers for [`PowerStft::frame_power`]; make one per thread with
/// [`PowerStft::make_scratch`].
pub struct StftScratch {
    /// `[N]` windowed frame (odd `N`; empty for even `N`, which windows straight into `spectrum`).
    frame: Vec<f32>,
    /// `[M]` packed input / spectrum (even `N`) or `[N/2 + 1]` spectrum (odd `N`).
    spectrum: Vec<Complex<f32>>,
    fft_scratch: Vec<Complex<f32>>,
}

/// The transform behind the power spectrum.
enum Transform {
    /// Even `N = 2M`: complex FFT of size `M` plus the unpacking twiddles `e^{-2πik/N}`, `[M]`.
    Even {
        fft: Arc<dyn Fft<f32>>,
        unpacker: Unpacker,
    },
    /// Odd `N`: realfft's generic real-to-complex transform.
    Odd(Arc<dyn RealToComplex<f32>>),
}

/// A planned short-time power spectrum: window, framing and real FFT. Immutable and `Sync`, so
/// one plan serves all threads, each with its own [`StftScratch`].
pub struct PowerStft {
    framing: Framing,
    window: Vec<f32>,
    support: std::ops::Range<usize>,
    transform: Transform,
    kernel: Kernel,
}

impl std::fmt::Debug for PowerStft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PowerStft")
            .field("framing", &self.framing)
            .field("support", &self.support)
            .finish_non_exhaustive()
    }
}

impl PowerStft {
    /// Plans the transform.
    ///
    /// # Panics
    /// If `n_fft == 0`, `hop_length == 0`, `win_length == 0` or `win_length > n_fft` (validated
    /// earlier by [`crate::MfccConfig`]).
    pub fn new(framing: Framing, win_length: usize, window: WindowKind) -> Self {
        Self::with_kernel(framing, win_length, window, Kernel::detect())
    }

    /// As [`Self::new`] with an explicit kernel (obtain [`Kernel::Avx`] only from
    /// [`Kernel::avx`] or [`Kernel::detect`]).
    ///
    /// # Panics
    /// As [`Self::new`].
    pub fn with_kernel(
        framing: Framing,
        win_length: usize,
        window: WindowKind,
        kernel: Kernel,
    ) -> Self {
        assert!(framing.n_fft > 0, "n_fft must be positive");
        assert!(framing.hop_length > 0, "hop_length must be positive");
        assert!(win_length > 0, "win_length must be positive");
        let offset = window_offset(win_length, framing.n_fft);
        let n = framing.n_fft;
        let transform = if n.is_multiple_of(2) {
            let half = n / 2;
            Transform::Even {
                fft: FftPlanner::<f32>::new().plan_fft_forward(half),
                unpacker: Unpacker::new(half, kernel),
            }
        } else {
            Transform::Odd(RealFftPlanner::<f32>::new().plan_fft_forward(n))
        };
        Self {
            framing,
            window: padded_window(window, win_length, n),
            support: offset..offset + win_length,
            transform,
            kernel,
        }
    }

    /// The framing this plan uses.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// The kernel the per-frame loops run with.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Number of frequency bins `N/2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.framing.n_fft / 2 + 1
    }

    /// The window zero-padded to the frame, `[n_fft]`.
    pub fn window(&self) -> &[f32] {
        &self.window
    }

    /// Fresh scratch buffers for this plan.
    pub fn make_scratch(&self) -> StftScratch {
        let zero = Complex::new(0.0, 0.0);
        let (frame, spectrum, fft_scratch) = match &self.transform {
            Transform::Even { fft, .. } => (
                Vec::new(),
                vec![zero; fft.len()],
                vec![zero; fft.get_inplace_scratch_len()],
            ),
            Transform::Odd(fft) => (
                vec![0.0; self.framing.n_fft],
                fft.make_output_vec(),
                fft.make_scratch_vec(),
            ),
        };
        StftScratch {
            frame,
            spectrum,
            fft_scratch,
        }
    }

    /// Power spectrum of frame `t`: `power[k] = |X_t[k]|²`, `power: [n_bins]`.
    ///
    /// # Panics
    /// If `power.len() != n_bins`, or the scratch was made by a plan of another size.
    pub fn frame_power<S: Signal + ?Sized>(
        &self,
        samples: &S,
        t: usize,
        scratch: &mut StftScratch,
        power: &mut [f32],
    ) {
        assert_eq!(
            power.len(),
            self.n_bins(),
            "power buffer has the wrong length"
        );
        let StftScratch {
            frame,
            spectrum,
            fft_scratch,
        } = scratch;
        match &self.transform {
            Transform::Even { fft, unpacker } => {
                // The packed input z[n] = x[2n] + i·x[2n+1] is the windowed frame itself, read as
                // complex pairs: window straight into the FFT buffer.
                self.window_frame(samples, t, bytemuck::cast_slice_mut(spectrum));
                fft.process_with_scratch(spectrum, fft_scratch);
                unpacker.power(spectrum, power);
            }
            Transform::Odd(fft) => {
                self.window_frame(samples, t, frame);
                fft.process_with_scratch(frame, spectrum, fft_scratch)
                    .expect("buffers were sized by this plan");
                for (p, z) in power.iter_mut().zip(spectrum.iter()) {
                    *p = z.re * z.re + z.im * z.im;
                }
            }
        }
    }

    /// Writes the windowed, zero-padded frame `t` into `frame: [n_fft]`.
    fn window_frame<S: Signal + ?Sized>(&self, samples: &S, t: usize, frame: &mut [f32]) {
        let n_fft = self.framing.n_fft;
        assert_eq!(frame.len(), n_fft, "scratch belongs to another plan");
        // The FFT uses its input as scratch: restore the zeros around the window every frame.
        frame[..self.support.start].fill(0.0);
        frame[self.support.end..].fill(0.0);
        // Signal index of the frame's first window sample (may be negative near the start).
        let first = (t * self.framing.hop_length + self.support.start) as isize
            - self.framing.pad() as isize;
        let len = self.support.len();
        let win = &self.window[self.support.clone()];
        let dst = &mut frame[self.support.clone()];
        if first >= 0 && first as usize + len <= samples.len() {
            samples.windowed(self.kernel, first as usize, win, dst);
        } else {
            for (i, (d, &w)) in dst.iter_mut().zip(win).enumerate() {
                let idx = first + i as isize;
                *d = if idx >= 0 && (idx as usize) < samples.len() {
                    samples.sample(idx as usize) * w
                } else {
                    0.0
                };
            }
        }
    }

    /// The whole power spectrogram, time-major `[n_frames, n_bins]`, or `None` if the signal is
    /// shorter than one frame. Allocates; the extractor uses [`Self::frame_power`] instead.
    pub fn power_spectrogram(&self, samples: &[f32]) -> Option<Vec<f32>> {
        let n_frames = self.framing.n_frames(samples.len())?;
        let n_bins = self.n_bins();
        let mut scratch = self.make_scratch();
        let mut out = vec![f32::NAN; n_frames * n_bins];
        for (t, row) in out.chunks_exact_mut(n_bins).enumerate() {
            self.frame_power(samples, t, &mut scratch, row);
        }
        Some(out)
    }
}
