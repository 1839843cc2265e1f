//! AVX2+FMA micro-kernel: up to 6 rows × one 16-column panel, two 8-lane accumulators per row
//! (12 of the 16 `ymm` registers), each accumulator a chain of FMAs over kk = 0..k in order.

use super::NR;
use std::arch::x86_64::*;

/// Most rows per micro-kernel call.
const MR: usize = 6;

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
