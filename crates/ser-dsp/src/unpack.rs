//! Power spectrum of a real `2M`-point FFT from the `M`-point complex FFT of its packed input.
//!
//! With `z[n] = x[2n] + i·x[2n+1]`, `Z = FFT_M(z)`, `Z[M] = Z[0]` and `w_k = e^{-iπk/M}`:
//! ```text
//! E_k = (Z[k] + conj Z[M-k]) / 2,   D_k = (Z[k] - conj Z[M-k]) / 2
//! X[k] = E_k - i·w_k·D_k,   P[k] = |X[k]|²,   k = 0..=M
//! ```
//! Bin `M − k` reuses the same `E_k` and `w_k·D_k`: since `w_{M−k} = −conj w_k`, `E_{M−k} = conj E_k` and
//! `D_{M−k} = −conj D_k`, so `X[M−k] = conj(E_k + i·w_k·D_k)` and
//! ```text
//! P[M−k] = |E_k + i·w_k·D_k|²
//! ```
//! Two implementations: [`power_scalar`] (the reference, one bin at a time, compiled for any target)
//! and an AVX2+FMA kernel that takes bins `k` and `M − k` eight at a time from one set of loads.
//! [`Unpacker::power`] picks the kernel chosen at construction; tests compare the two.

use realfft::num_complex::Complex;

use crate::kernel::Kernel;

/// Bins per vector block (one `f32x8` of real parts).
const LANES: usize = 8;

/// Precomputed twiddles for one `M`, and the kernel that runs.
#[derive(Clone, Debug)]
pub(crate) struct Unpacker {
    /// `w_k = e^{-iπk/M}`, `[M]`, for the scalar path.
    twiddles: Vec<Complex<f32>>,
    /// Real and imaginary parts of `w_k` for `k = 1..=8·blocks`, each block of eight stored in the
    /// lane order `[0 1 4 5 2 3 6 7]` that de-interleaving complex pairs produces.
    block_re: Vec<f32>,
    block_im: Vec<f32>,
    /// Whether the AVX2+FMA kernel runs (the CPU has it and the plan's kernel is not scalar).
    avx2_fma: bool,
}

/// Lane `l` of a de-interleaved block holds bin `LANE_ORDER[l]` of the block.
const LANE_ORDER: [usize; LANES] = [0, 1, 4, 5, 2, 3, 6, 7];

impl Unpacker {
    /// Twiddles for a complex FFT of size `m` (real FFT size `2m`).
    pub(crate) fn new(m: usize, kernel: Kernel) -> Self {
        let twiddle = |k: usize| {
            let angle = -std::f64::consts::PI * k as f64 / m as f64;
            Complex::new(angle.cos() as f32, angle.sin() as f32)
        };
        let twiddles: Vec<Complex<f32>> = (0..m).map(twiddle).collect();
        let blocks = m / 2 / LANES;
        let (mut block_re, mut block_im) = (Vec::new(), Vec::new());
        for b in 0..blocks {
            for &l in &LANE_ORDER {
                let w = twiddles[1 + b * LANES + l];
                block_re.push(w.re);
                block_im.push(w.im);
            }
        }
        Self {
            twiddles,
            block_re,
            block_im,
            avx2_fma: kernel == Kernel::Avx && avx2_fma_detected(),
        }
    }

    /// `power[k] = |X[k]|²` for `z: [M]` (the complex FFT output), `power: [M + 1]`.
    ///
    /// # Panics
    /// If `z.len()` is not this plan's `M` or `power.len() != M + 1`.
    pub(crate) fn power(&self, z: &[Complex<f32>], power: &mut [f32]) {
        let m = self.twiddles.len();
        assert!(
            z.len() == m && power.len() == m + 1,
            "unpack: spectrum [{}] and power [{}] do not fit M = {m}",
            z.len(),
            power.len()
        );
        #[cfg(target_arch = "x86_64")]
        if self.avx2_fma {
            // SAFETY: `avx2_fma` is true only when the CPU reported AVX2 and FMA; lengths asserted above,
            // and the block twiddles cover `m / 2 / 8` blocks by construction.
            let done = unsafe { avx2::pairs(z, &self.block_re, &self.block_im, power) };
            // Bins the vector blocks left: the middle band `done+1 .. M−done` (and bins 0 and M).
            power_range(z, &self.twiddles, power, done + 1, m - done);
            power_ends(z, power);
            return;
        }
        power_scalar(z, &self.twiddles, power);
    }
}

/// Whether this CPU has AVX2 and FMA.
fn avx2_fma_detected() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Reference: the module equation one bin at a time. `z: [M]`, `twiddles: [M]` (`w_k`), `power: [M + 1]`.
pub(crate) fn power_scalar(z: &[Complex<f32>], twiddles: &[Complex<f32>], power: &mut [f32]) {
    power_ends(z, power);
    power_range(z, twiddles, power, 1, z.len());
}

/// Bins 0 and M: `X[0] = Re Z[0] + Im Z[0]`, `X[M] = Re Z[0] − Im Z[0]`.
fn power_ends(z: &[Complex<f32>], power: &mut [f32]) {
    let (z0, m) = (z[0], z.len());
    power[0] = (z0.re + z0.im) * (z0.re + z0.im);
    power[m] = (z0.re - z0.im) * (z0.re - z0.im);
}

/// Bins `from..to` (within `1..M`) by the module equation.
#[inline(always)]
fn power_range(
    z: &[Complex<f32>],
    twiddles: &[Complex<f32>],
    power: &mut [f32],
    from: usize,
    to: usize,
) {
    let m = z.len();
    for k in from..to {
        let a = z[k];
        let b = z[m - k].conj();
        let (e, d) = ((a + b) * 0.5, (a - b) * 0.5);
        let wd = twiddles[k] * d;
        // X = e - i·wd = (e.re + wd.im) + i·(e.im - wd.re)
        let (re, im) = (e.re + wd.im, e.im - wd.re);
        power[k] = re * re + im * im;
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::LANES;
    use realfft::num_complex::Complex;
    use std::arch::x86_64::*;

    /// Bins `k = 1..=8·B` and `M − k` for `B = M / 2 / 8` blocks; returns `8·B`.
    ///
    /// # Safety
    /// Requires AVX2 and FMA; `z: [M]`, `power: [M + 1]`, `block_re`/`block_im` hold `8·B` values.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn pairs(
        z: &[Complex<f32>],
        block_re: &[f32],
        block_im: &[f32],
        power: &mut [f32],
    ) -> usize {
        let m = z.len();
        let blocks = m / 2 / LANES;
        debug_assert!(block_re.len() >= blocks * LANES && block_im.len() >= blocks * LANES);
        let zf = z.as_ptr().cast::<f32>();
        let out = power.as_mut_ptr();
        // Mirror block lanes come out as bins [3 2 7 6 | 1 0 5 4]; this gathers [0 1 4 5 | 2 3 6 7].
        let mirror_order = _mm256_setr_epi32(5, 4, 7, 6, 1, 0, 3, 2);
        // P[M−k] lanes are in order [0 1 4 5 | 2 3 6 7] of i; memory wants i = 7, 6, …, 0.
        let reverse_store = _mm256_setr_epi32(7, 6, 3, 2, 5, 4, 1, 0);
        let quarter = _mm256_set1_ps(0.25);
        for b in 0..blocks {
            let k0 = 1 + b * LANES;
            // SAFETY: k0 + 8 ≤ M/2 + 1 ≤ M and M − k0 − 7 ≥ M/2 − 7 ≥ 1 (there is a block, so M ≥ 16):
            // every complex read lies in z[1..M]; every write lies in power[1..M]; twiddles in range.
            unsafe {
                let a_lo = _mm256_loadu_ps(zf.add(2 * k0));
                let a_hi = _mm256_loadu_ps(zf.add(2 * (k0 + 4)));
                let r_lo = _mm256_loadu_ps(zf.add(2 * (m - k0 - 7)));
                let r_hi = _mm256_loadu_ps(zf.add(2 * (m - k0 - 3)));
                // De-interleave: lanes hold bins k0 + [0 1 4 5 2 3 6 7].
                let a_re = _mm256_shuffle_ps::<0x88>(a_lo, a_hi);
                let a_im = _mm256_shuffle_ps::<0xDD>(a_lo, a_hi);
                // Mirror bins M − k0 − i, gathered into the same lane order of i.
                let r_re =
                    _mm256_permutevar8x32_ps(_mm256_shuffle_ps::<0x88>(r_hi, r_lo), mirror_order);
                let r_im =
                    _mm256_permutevar8x32_ps(_mm256_shuffle_ps::<0xDD>(r_hi, r_lo), mirror_order);
                // 2E = Z[k] + conj Z[M−k], 2D = Z[k] − conj Z[M−k].
                let e_re = _mm256_add_ps(a_re, r_re);
                let e_im = _mm256_sub_ps(a_im, r_im);
                let d_re = _mm256_sub_ps(a_re, r_re);
                let d_im = _mm256_add_ps(a_im, r_im);
                let w_re = _mm256_loadu_ps(block_re.as_ptr().add(b * LANES));
                let w_im = _mm256_loadu_ps(block_im.as_ptr().add(b * LANES));
                // 2·w·D
                let wd_re = _mm256_fmsub_ps(w_re, d_re, _mm256_mul_ps(w_im, d_im));
                let wd_im = _mm256_fmadd_ps(w_re, d_im, _mm256_mul_ps(w_im, d_re));
                // 2X[k] = 2E − i·2wD;  2·conj X[M−k] = 2E + i·2wD.
                let (x_re, x_im) = (_mm256_add_ps(e_re, wd_im), _mm256_sub_ps(e_im, wd_re));
                let (y_re, y_im) = (_mm256_sub_ps(e_re, wd_im), _mm256_add_ps(e_im, wd_re));
                let p_k = _mm256_mul_ps(
                    quarter,
                    _mm256_fmadd_ps(x_re, x_re, _mm256_mul_ps(x_im, x_im)),
                );
                let p_mirror = _mm256_mul_ps(
                    quarter,
                    _mm256_fmadd_ps(y_re, y_re, _mm256_mul_ps(y_im, y_im)),
                );
                // [0 1 4 5 | 2 3 6 7] → natural order: swap the middle 64-bit pairs.
                let p_k = _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(p_k)));
                _mm256_storeu_ps(out.add(k0), p_k);
                _mm256_storeu_ps(
                    out.add(m - k0 - 7),
                    _mm256_permutevar8x32_ps(p_mirror, reverse_store),
                );
            }
        }
        blocks * LANES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spectrum(m: usize, seed: u32) -> Vec<Complex<f32>> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        let mut next = || {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (s >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
        };
        (0..m).map(|_| Complex::new(next(), next())).collect()
    }

    /// The vector kernel equals the reference on every size from 1 to 600 (blocks and every tail),
    /// within rounding: 1e-6 of the frame's largest power.
    #[test]
    fn vector_pairs_match_scalar_reference() {
        let Some(avx) = Kernel::avx() else {
            eprintln!("no AVX: vector unpack not tested");
            return;
        };
        for m in 1..=600 {
            let z = spectrum(m, m as u32);
            let fast = Unpacker::new(m, avx);
            let reference = Unpacker::new(m, Kernel::Scalar);
            let (mut got, mut want) = (vec![f32::NAN; m + 1], vec![f32::NAN; m + 1]);
            fast.power(&z, &mut got);
            reference.power(&z, &mut want);
            let peak = want.iter().fold(0.0f32, |a, &b| a.max(b));
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-6 * peak,
                    "M = {m}, bin {k}: {g} vs {w} (peak {peak})"
                );
            }
        }
    }

    /// The reference against the real DFT written out, in f64.
    #[test]
    fn scalar_reference_is_the_real_dft() {
        for m in [1usize, 2, 3, 8, 17, 64] {
            let x: Vec<f64> = (0..2 * m)
                .map(|n| ((n * 37 % 11) as f64 - 5.0) / 5.0)
                .collect();
            let z: Vec<Complex<f32>> = (0..m)
                .map(|k| {
                    let mut acc = Complex::new(0.0f64, 0.0);
                    for n in 0..m {
                        let zn = Complex::new(x[2 * n], x[2 * n + 1]);
                        let angle = -2.0 * std::f64::consts::PI * (k * n) as f64 / m as f64;
                        acc += zn * Complex::new(angle.cos(), angle.sin());
                    }
                    Complex::new(acc.re as f32, acc.im as f32)
                })
                .collect();
            let mut got = vec![0.0f32; m + 1];
            Unpacker::new(m, Kernel::Scalar).power(&z, &mut got);
            for (k, &g) in got.iter().enumerate() {
                let mut acc = Complex::new(0.0f64, 0.0);
                for (n, &xn) in x.iter().enumerate() {
                    let angle = -std::f64::consts::PI * (k * n) as f64 / m as f64;
                    acc += Complex::new(angle.cos(), angle.sin()) * xn;
                }
                let want = acc.norm_sqr();
                assert!(
                    (f64::from(g) - want).abs() <= 1e-4 * want.max(1.0),
                    "M = {m}, bin {k}: {g} vs {want}"
                );
            }
        }
    }
}
