//! Mono signals the framing reads from: decoded `f32` samples, or 16-bit PCM bytes decoded on the fly.
//!
//! A windowed frame is `dst[i] = x[first + i] · w[i]`. For a 16-bit file `x[n] = q[n] / 32768`, with
//! `q[n]` the little-endian code at bytes `2n, 2n + 1`; reading the codes straight from the file's
//! `data` chunk skips the decoded copy of the whole signal (twice the file's size, written once and
//! read back from beyond the L2 cache frame after frame). Scaling by `2⁻¹⁵` is exact, so both
//! sources give bit-identical frames (tested).

use wide::{f32x8, i16x8, i32x8};

use crate::kernel::Kernel;

/// A mono signal `x[0..len]` that a frame can be windowed from.
pub trait Signal {
    /// Number of samples.
    fn len(&self) -> usize;

    /// Whether there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `x[n]`; `n < len`.
    fn sample(&self, n: usize) -> f32;

    /// `dst[i] = x[first + i] · window[i]` for `i < window.len()`.
    ///
    /// # Panics
    /// If `first + window.len() > len` or `dst` is shorter than `window`.
    fn windowed(&self, kernel: Kernel, first: usize, window: &[f32], dst: &mut [f32]);
}

impl Signal for [f32] {
    fn len(&self) -> usize {
        <[f32]>::len(self)
    }

    fn sample(&self, n: usize) -> f32 {
        self[n]
    }

    fn windowed(&self, kernel: Kernel, first: usize, window: &[f32], dst: &mut [f32]) {
        multiply(kernel, &self[first..first + window.len()], window, dst);
    }
}

impl Signal for Vec<f32> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn sample(&self, n: usize) -> f32 {
        self[n]
    }

    fn windowed(&self, kernel: Kernel, first: usize, window: &[f32], dst: &mut [f32]) {
        self.as_slice().windowed(kernel, first, window, dst);
    }
}

/// 16-bit little-endian PCM codes, one channel: `bytes: [2·len]`, `x[n] = q[n] / 32768`.
#[derive(Clone, Copy, Debug)]
pub struct Pcm16<'a> {
    bytes: &'a [u8],
}

impl<'a> Pcm16<'a> {
    /// The codes in `bytes` (a trailing odd byte is ignored).
    pub fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes: &bytes[..bytes.len() / 2 * 2],
        }
    }
}

/// `1 / 32768`, the 16-bit PCM scale (a power of two: scaling is exact).
const PCM16_SCALE: f32 = 1.0 / 32768.0;

impl Signal for Pcm16<'_> {
    fn len(&self) -> usize {
        self.bytes.len() / 2
    }

    fn sample(&self, n: usize) -> f32 {
        pcm16_sample([self.bytes[2 * n], self.bytes[2 * n + 1]])
    }

    fn windowed(&self, _kernel: Kernel, first: usize, window: &[f32], dst: &mut [f32]) {
        let len = window.len();
        let bytes = &self.bytes[2 * first..2 * (first + len)];
        let dst = &mut dst[..len];
        let mut codes = bytes.chunks_exact(16);
        let mut out = dst.chunks_exact_mut(8);
        let mut weights = window.chunks_exact(8);
        for ((src, d), w) in codes.by_ref().zip(out.by_ref()).zip(weights.by_ref()) {
            let w = f32x8::from(<[f32; 8]>::try_from(w).unwrap_or([0.0; 8]));
            d.copy_from_slice(&(pcm16_lanes(src) * w).to_array());
        }
        let tail = codes.remainder().chunks_exact(2);
        for ((d, pair), &w) in out
            .into_remainder()
            .iter_mut()
            .zip(tail)
            .zip(weights.remainder())
        {
            *d = pcm16_sample([pair[0], pair[1]]) * w;
        }
    }
}

/// One code: `i16::from_le_bytes(pair) / 32768` (the reference for [`pcm16_lanes`]).
#[inline]
pub(crate) fn pcm16_sample(pair: [u8; 2]) -> f32 {
    f32::from(i16::from_le_bytes(pair)) * PCM16_SCALE
}

/// Eight codes from 16 bytes, as eight lanes: one unaligned read, sign extension, conversion, scaling.
///
/// # Panics
/// If `src` is not 16 bytes long.
#[inline]
pub(crate) fn pcm16_lanes(src: &[u8]) -> f32x8 {
    #[cfg(target_endian = "little")]
    let q: [i16; 8] = bytemuck::pod_read_unaligned(src);
    #[cfg(not(target_endian = "little"))]
    let q: [i16; 8] = std::array::from_fn(|i| i16::from_le_bytes([src[2 * i], src[2 * i + 1]]));
    f32x8::from_i32x8(i32x8::from_i16x8(i16x8::from(q))) * f32x8::splat(PCM16_SCALE)
}

/// Runs `$body` (an `#[inline(always)]` fn) with the chosen kernel's target features.
macro_rules! dispatch {
    ($kernel:expr, $avx:ident, $body:ident($($arg:expr),*)) => {
        match $kernel {
            Kernel::Scalar => $body($($arg),*),
            Kernel::Avx => {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `Kernel::Avx` is only constructed after `is_x86_feature_detected!("avx")`.
                unsafe {
                    $avx($($arg),*)
                }
                #[cfg(not(target_arch = "x86_64"))]
                $body($($arg),*)
            }
        }
    };
}

/// `dst[i] = x[i] · w[i]`.
fn multiply(kernel: Kernel, x: &[f32], w: &[f32], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn multiply_avx(x: &[f32], w: &[f32], dst: &mut [f32]) {
        multiply_body(x, w, dst)
    }
    dispatch!(kernel, multiply_avx, multiply_body(x, w, dst))
}

#[inline(always)]
fn multiply_body(x: &[f32], w: &[f32], dst: &mut [f32]) {
    for ((d, &a), &b) in dst.iter_mut().zip(x).zip(w) {
        *d = a * b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A frame windowed from the codes equals the one windowed from the decoded samples, bit for
        /// bit, for every offset and window length (whole lane groups and tails).
        #[test]
        fn pcm16_frames_equal_decoded_frames(
            bytes in proptest::collection::vec(any::<u8>(), 2..400),
            first_frac in 0.0f64..1.0, len_frac in 0.0f64..1.0,
        ) {
            let pcm = Pcm16::new(&bytes);
            let decoded: Vec<f32> = (0..pcm.len()).map(|n| pcm.sample(n)).collect();
            let first = ((pcm.len() - 1) as f64 * first_frac) as usize;
            let len = ((pcm.len() - first) as f64 * len_frac) as usize;
            let window: Vec<f32> = (0..len).map(|i| 0.5 - 0.5 * (i as f32 * 0.3).cos()).collect();
            let (mut got, mut want) = (vec![f32::NAN; len], vec![f32::NAN; len]);
            let kernel = Kernel::detect();
            pcm.windowed(kernel, first, &window, &mut got);
            decoded.as_slice().windowed(kernel, first, &window, &mut want);
            prop_assert_eq!(
                got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                want.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }

        /// Eight lanes decode like eight single codes.
        #[test]
        fn pcm16_lanes_match_single_codes(bytes in proptest::array::uniform16(any::<u8>())) {
            let lanes = pcm16_lanes(&bytes).to_array();
            for (i, &x) in lanes.iter().enumerate() {
                prop_assert_eq!(x.to_bits(), pcm16_sample([bytes[2 * i], bytes[2 * i + 1]]).to_bits());
            }
        }
    }
}
