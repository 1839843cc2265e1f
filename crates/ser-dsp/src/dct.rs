//! Orthonormal DCT-II (scipy `dct(type=2, norm="ortho")`), truncated, with an optional lifter.
//!
//! For an input `x[0..N]` and `k = 0..K` (`K ≤ N` coefficients kept):
//!
//! ```text
//! c[k] = s_k · Σ_{n=0}^{N-1} x[n] · cos(π·k·(2n + 1) / (2N)),   s_0 = √(1/N),  s_k = √(2/N)
//! lifter L > 0:  c[k] *= 1 + (L/2) · sin(π·(k + 1) / L)          (librosa's convention)
//! ```
//!
//! The full `N × N` matrix is orthogonal; its first `K` rows are kept, as a dense row-major
//! `[K, N]` `f32` matrix with the lifter folded into the rows.

use crate::dot::dot_lanes;
use wide::f32x8;

/// A planned truncated DCT-II.
#[derive(Clone, Debug)]
pub struct Dct2 {
    n_in: usize,
    n_out: usize,
    /// `[n_out, n_in]` row-major.
    matrix: Vec<f32>,
    /// The transpose, zero-padded to whole lane groups: `[n_in, ⌈n_out/8⌉]` groups of eight.
    transposed: Vec<f32x8>,
}

impl Dct2 {
    /// Plans `n_out` coefficients of an `n_in`-point orthonormal DCT-II, with lifter `lifter`
    /// (`0` = none).
    ///
    /// # Panics
    /// If `n_in == 0`, `n_out > n_in` or `lifter < 0` (validated earlier by [`crate::MfccConfig`]).
    pub fn new(n_in: usize, n_out: usize, lifter: f64) -> Self {
        assert!(
            n_in > 0 && n_out <= n_in,
            "DCT wants 0 < n_out ({n_out}) <= n_in ({n_in})"
        );
        assert!(lifter >= 0.0, "lifter must be >= 0, got {lifter}");
        let n = n_in as f64;
        let mut matrix = Vec::with_capacity(n_out * n_in);
        for k in 0..n_out {
            let s = if k == 0 {
                (1.0 / n).sqrt()
            } else {
                (2.0 / n).sqrt()
            };
            let lift = if lifter > 0.0 {
                1.0 + lifter / 2.0 * (std::f64::consts::PI * (k + 1) as f64 / lifter).sin()
            } else {
                1.0
            };
            for i in 0..n_in {
                let angle = std::f64::consts::PI * k as f64 * (2 * i + 1) as f64 / (2.0 * n);
                matrix.push((s * lift * angle.cos()) as f32);
            }
        }
        let groups = n_out.div_ceil(LANES);
        let mut transposed = vec![f32x8::ZERO; n_in * groups];
        for (i, row) in transposed.chunks_exact_mut(groups).enumerate() {
            for (g, group) in row.iter_mut().enumerate() {
                let mut lanes = [0.0f32; LANES];
                for (l, lane) in lanes.iter_mut().enumerate() {
                    let k = g * LANES + l;
                    if k < n_out {
                        *lane = matrix[k * n_in + i];
                    }
                }
                *group = f32x8::from(lanes);
            }
        }
        Self {
            n_in,
            n_out,
            matrix,
            transposed,
        }
    }

    /// Input length `N`.
    pub fn n_in(&self) -> usize {
        self.n_in
    }

    /// Coefficients kept `K`.
    pub fn n_out(&self) -> usize {
        self.n_out
    }

    /// Row `k` of the matrix, `[n_in]`.
    pub fn row(&self, k: usize) -> &[f32] {
        &self.matrix[k * self.n_in..(k + 1) * self.n_in]
    }

    /// `out = D · x`; `x: [n_in]`, `out: [n_out]`.
    ///
    /// # Panics
    /// If the lengths differ from the plan's.
    ///
    /// Computed as `out = Σ_n x[n] · Dᵀ[n, :]`: every output lane group accumulates in a register
    /// while the input is read once (no horizontal sums). Up to [`MAX_REGISTER_GROUPS`] groups of
    /// eight outputs (64 coefficients) take that path; larger `n_out` uses one dot product per row.
    pub fn apply(&self, x: &[f32], out: &mut [f32]) {
        assert_eq!(x.len(), self.n_in, "DCT input length");
        assert_eq!(out.len(), self.n_out, "DCT output length");
        match self.n_out.div_ceil(LANES) {
            1 => self.apply_transposed::<1>(x, out),
            2 => self.apply_transposed::<2>(x, out),
            3 => self.apply_transposed::<3>(x, out),
            4 => self.apply_transposed::<4>(x, out),
            5 => self.apply_transposed::<5>(x, out),
            6 => self.apply_transposed::<6>(x, out),
            7 => self.apply_transposed::<7>(x, out),
            8 => self.apply_transposed::<8>(x, out),
            _ => {
                for (k, o) in out.iter_mut().enumerate() {
                    *o = dot_lanes(self.row(k), x);
                }
            }
        }
    }

    /// [`Dct2::apply`] with `GROUPS = ⌈n_out/8⌉` accumulators of eight lanes held in registers.
    #[inline(always)]
    fn apply_transposed<const GROUPS: usize>(&self, x: &[f32], out: &mut [f32]) {
        let mut acc = [f32x8::ZERO; GROUPS];
        for (&xn, column) in x.iter().zip(self.transposed.chunks_exact(GROUPS)) {
            let xn = f32x8::splat(xn);
            for (a, &w) in acc.iter_mut().zip(column) {
                *a = w.mul_add(xn, *a);
            }
        }
        let lanes = acc.map(f32x8::to_array);
        for (o, a) in out.iter_mut().zip(lanes.iter().flatten()) {
            *o = *a;
        }
    }
}

/// Lanes of one accumulator group.
const LANES: usize = 8;

/// Most lane groups [`Dct2::apply`] keeps in registers.
pub const MAX_REGISTER_GROUPS: usize = 8;

#[cfg(test)]
mod tests {
    use super::*;

    /// The register-accumulated transpose path equals one f64 dot product per matrix row, for
    /// every output count on both sides of the lane-group limit.
    #[test]
    fn apply_matches_the_row_definition() {
        for n_in in [1usize, 7, 13, 40, 128] {
            let x: Vec<f32> = (0..n_in)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.7)
                .collect();
            for n_out in 1..=n_in.min(80) {
                let dct = Dct2::new(n_in, n_out, if n_out % 2 == 0 { 22.0 } else { 0.0 });
                let mut out = vec![f32::NAN; n_out];
                dct.apply(&x, &mut out);
                for (k, &o) in out.iter().enumerate() {
                    let reference: f64 = dct
                        .row(k)
                        .iter()
                        .zip(&x)
                        .map(|(&w, &v)| f64::from(w) * f64::from(v))
                        .sum();
                    let scale = x.iter().map(|v| v.abs()).sum::<f32>().max(1.0);
                    assert!(
                        (f64::from(o) - reference).abs() <= 1e-6 * f64::from(scale),
                        "n_in {n_in} n_out {n_out} k {k}: {o} vs {reference}"
                    );
                }
            }
        }
    }
}
