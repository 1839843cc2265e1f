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

/// A planned truncated DCT-II.
#[derive(Clone, Debug)]
pub struct Dct2 {
    n_in: usize,
    n_out: usize,
    /// `[n_out, n_in]` row-major.
    matrix: Vec<f32>,
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
        Self {
            n_in,
            n_out,
            matrix,
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
    pub fn apply(&self, x: &[f32], out: &mut [f32]) {
        assert_eq!(x.len(), self.n_in, "DCT input length");
        assert_eq!(out.len(), self.n_out, "DCT output length");
        for (k, o) in out.iter_mut().enumerate() {
            *o = dot_lanes(self.row(k), x);
        }
    }
}

/// `Σ a[i]·b[i]` in eight independent `f32` lanes (vectorisable), tail added last.
fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}
