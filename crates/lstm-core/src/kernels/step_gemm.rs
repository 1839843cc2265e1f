//! Recurrent-step matrix product against weights packed once per pass.
//!
//! Each time step multiplies the active rows by the same weight matrix (`h·W_hhᵀ` forward, `dG·W_hh`
//! backward). A general GEMM re-packs that matrix on every call — for H = 128 a 256 KB copy per step —
//! so the weights are packed once per forward/backward into column panels of [`NR`] and an AVX2+FMA
//! micro-kernel (up to 6 rows × 16 columns of accumulators) streams them:
//! ```text
//! C[m×n] (+)= A[m×k] · B[k×n],   B stored as panels P[p][kk][0..16] = B[kk][16p + 0..16] (zero padded)
//! ```
//! Only `f32` on x86-64 with AVX2+FMA uses it ([`Real::step_matmul`](crate::Real) reports availability);
//! everything else calls [`crate::gemm()`] on the unpacked weights.

use crate::real::Real;

/// Columns per panel: two 8-lane vectors.
pub const NR: usize = 16;
/// Most rows per micro-kernel call.
const MR: usize = 6;

/// `B [k × n]` packed into column panels of [`NR`], zero padded to a multiple of `NR` columns.
#[derive(Clone, Debug, Default)]
pub struct PackedPanels<T> {
    k: usize,
    n: usize,
    data: Vec<T>,
}

impl<T: Real> PackedPanels<T> {
    /// Packs `B[kk][j] = src[kk·rs + j·cs]` for kk < k, j < n (reusing the allocation).
    ///
    /// # Panics
    /// If `src` is too short for the shape and strides.
    pub fn pack(&mut self, k: usize, n: usize, src: &[T], rs: usize, cs: usize) {
        if k > 0 && n > 0 {
            assert!(
                src.len() > (k - 1) * rs + (n - 1) * cs,
                "PackedPanels::pack: source too short for [{k}×{n}]"
            );
        }
        let panels = n.div_ceil(NR);
        self.k = k;
        self.n = n;
        self.data.clear();
        self.data.resize(panels * k * NR, T::ZERO);
        for p in 0..panels {
            for kk in 0..k {
                let dst = &mut self.data[(p * k + kk) * NR..][..NR];
                for (l, d) in dst
                    .iter_mut()
                    .enumerate()
                    .take(n.saturating_sub(p * NR).min(NR))
                {
                    *d = src[kk * rs + (p * NR + l) * cs];
                }
            }
        }
    }

    /// Inner dimension k.
    pub fn k(&self) -> usize {
        self.k
    }
    /// Columns n.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Panel-major values `[⌈n/16⌉, k, 16]`.
    pub fn data(&self) -> &[T] {
        &self.data
    }
}

/// Whether this CPU runs the AVX2 micro-kernel.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `C[m×n] = A·B` (`overwrite`) or `C += A·B`, with `a: [m, k]` (row stride `lda`), `c: [m, n]` (row
/// stride `ldc`). Returns false, touching nothing, when the CPU lacks AVX2+FMA.
///
/// # Panics
/// If `a` or `c` is too short for its shape and stride.
pub fn matmul_f32(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedPanels<f32>,
    c: &mut [f32],
    ldc: usize,
    overwrite: bool,
) -> bool {
    let (k, n) = (b.k, b.n);
    if m == 0 || n == 0 {
        return true;
    }
    assert!(
        lda >= k && a.len() >= (m - 1) * lda + k,
        "step_gemm: A [{m}×{k}] (stride {lda}) has {} values",
        a.len()
    );
    assert!(
        ldc >= n && c.len() >= (m - 1) * ldc + n,
        "step_gemm: C [{m}×{n}] (stride {ldc}) has {} values",
        c.len()
    );
    #[cfg(target_arch = "x86_64")]
    {
        if available() {
            // SAFETY: AVX2 and FMA were detected just above; slice extents were asserted above and the
            // panel buffer holds ⌈n/16⌉·k·16 values by construction in `pack`.
            unsafe {
                avx2::matmul(
                    m,
                    k,
                    n,
                    a.as_ptr(),
                    lda,
                    b.data.as_ptr(),
                    c.as_mut_ptr(),
                    ldc,
                    overwrite,
                )
            };
            return true;
        }
    }
    let _ = overwrite;
    false
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{MR, NR};
    use std::arch::x86_64::*;

    /// # Safety
    /// Requires AVX2+FMA; `a` valid for m rows of stride lda with k values, `b` for ⌈n/16⌉·k·16 values,
    /// `c` for m rows of stride ldc with n values.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn matmul(
        m: usize,
        k: usize,
        n: usize,
        a: *const f32,
        lda: usize,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        overwrite: bool,
    ) {
        for p in 0..n.div_ceil(NR) {
            // SAFETY: panel p starts inside the ⌈n/16⌉·k·16 packed values.
            let panel = unsafe { b.add(p * k * NR) };
            let cols = (n - p * NR).min(NR);
            let mut r = 0;
            while r < m {
                let rows = (m - r).min(MR);
                // SAFETY: r < m rows and column 16p < n lie inside A and C.
                let (ar, cr) = unsafe { (a.add(r * lda), c.add(r * ldc + p * NR)) };
                // SAFETY (all arms): same contract as this function, restricted to rows r..r+rows.
                unsafe {
                    match rows {
                        6 => block::<6>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                        5 => block::<5>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                        4 => block::<4>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                        3 => block::<3>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                        2 => block::<2>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                        _ => block::<1>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    }
                }
                r += rows;
            }
        }
    }

    /// R rows × 16 columns: acc[r] += a[r][kk] · panel[kk][0..16] over kk, then write `cols` columns.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn block<const R: usize>(
        k: usize,
        a: *const f32,
        lda: usize,
        panel: *const f32,
        c: *mut f32,
        ldc: usize,
        cols: usize,
        overwrite: bool,
    ) {
        let mut lo = [_mm256_setzero_ps(); R];
        let mut hi = [_mm256_setzero_ps(); R];
        for kk in 0..k {
            // SAFETY: kk < k stays inside the panel (k·16 values) and inside every A row (k values).
            unsafe {
                let w0 = _mm256_loadu_ps(panel.add(kk * NR));
                let w1 = _mm256_loadu_ps(panel.add(kk * NR + 8));
                for r in 0..R {
                    let av = _mm256_broadcast_ss(&*a.add(r * lda + kk));
                    lo[r] = _mm256_fmadd_ps(av, w0, lo[r]);
                    hi[r] = _mm256_fmadd_ps(av, w1, hi[r]);
                }
            }
        }
        if cols == NR {
            // Full panel: whole-vector write-back (the common case; H is a multiple of 4 in the paper).
            for r in 0..R {
                // SAFETY: c row r holds 16 values from its start (cols == NR).
                unsafe {
                    let row = c.add(r * ldc);
                    let (v0, v1) = if overwrite {
                        (lo[r], hi[r])
                    } else {
                        (
                            _mm256_add_ps(_mm256_loadu_ps(row), lo[r]),
                            _mm256_add_ps(_mm256_loadu_ps(row.add(8)), hi[r]),
                        )
                    };
                    _mm256_storeu_ps(row, v0);
                    _mm256_storeu_ps(row.add(8), v1);
                }
            }
            return;
        }
        for r in 0..R {
            let mut tmp = [0.0f32; NR];
            // SAFETY: tmp holds 16 values; c row r holds `cols` ≤ 16 values from its start.
            unsafe {
                _mm256_storeu_ps(tmp.as_mut_ptr(), lo[r]);
                _mm256_storeu_ps(tmp.as_mut_ptr().add(8), hi[r]);
                let row = c.add(r * ldc);
                for (j, &v) in tmp.iter().enumerate().take(cols) {
                    *row.add(j) = if overwrite { v } else { *row.add(j) + v };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_product_matches_gemm() {
        for (m, k, n) in [
            (1, 1, 1),
            (7, 9, 17),
            (16, 32, 128),
            (5, 68, 17),
            (13, 17, 33),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 31 % 17) as f32 - 8.0) / 8.0)
                .collect();
            let w: Vec<f32> = (0..n * k)
                .map(|i| ((i * 7 % 23) as f32 - 11.0) / 11.0)
                .collect(); // W [n×k]
            let mut packed = PackedPanels::default();
            packed.pack(k, n, &w, 1, k); // B = Wᵀ
            let mut want = vec![0.5f32; m * n];
            crate::gemm(
                m, k, n, 1.0, &a, k as isize, 1, &w, 1, k as isize, 1.0, &mut want, n as isize, 1,
            );
            let mut got = vec![0.5f32; m * n];
            if !matmul_f32(m, &a, k, &packed, &mut got, n, false) {
                eprintln!("no AVX2+FMA: packed kernel not tested");
                return;
            }
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                    "[{m}×{k}×{n}] {g} vs {w}"
                );
            }
            let mut over = vec![f32::NAN; m * n];
            matmul_f32(m, &a, k, &packed, &mut over, n, true);
            for (g, w) in over.iter().zip(&want) {
                assert!(
                    (g + 0.5 - w).abs() <= 1e-5 * w.abs().max(1.0),
                    "overwrite [{m}×{k}×{n}]"
                );
            }
        }
    }
}
