//! AVX-512F micro-kernel: up to 8 rows × three 16-column panels, one 16-lane accumulator per row and
//! panel (24 of the 32 `zmm` registers); the last four panels of a row block go as two pairs.
//!
//! Per kk it loads three panel rows and broadcasts one value of each A row: 24 FMAs against 11 loads, so
//! the two FMA ports, not the load ports, set the pace. (Two panels, 16 FMAs against 10 loads, measured
//! 4–16 % slower in inference: `crates/lstm-core/README.md`, session 10.) Every accumulator is a chain of FMAs over
//! kk = 0..k in order, starting from zero, and is then written (`overwrite`) or added to C — the same
//! operations in the same order as the AVX2 kernel, so both give bit-identical results (test
//! `avx512_equals_avx2_bitwise`). Column tails use masked loads and stores.

use super::NR;
use std::arch::x86_64::*;

/// Most rows per micro-kernel call.
const MR: usize = 8;
/// Most panels per micro-kernel call.
const PANELS: usize = 3;

/// # Safety
/// Requires AVX-512F; `a` valid for m rows of stride lda with k values, `b` for ⌈n/16⌉·k·16 values,
/// `c` for m rows of stride ldc with n values.
#[target_feature(enable = "avx512f")]
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
    let panels = n.div_ceil(NR);
    let mut p = 0;
    while p < panels {
        // Three panels per block, but two and two for the last four (a lone last panel would feed
        // only one FMA per broadcast).
        let left = panels - p;
        let width = if left == 4 { 2 } else { left.min(PANELS) };
        // SAFETY: panels p..p + width start inside the ⌈n/16⌉·k·16 packed values.
        let panel = unsafe { b.add(p * k * NR) };
        let cols = n - p * NR;
        let mut r = 0;
        while r < m {
            let rows = (m - r).min(MR);
            // SAFETY: r < m rows and column 16p < n lie inside A and C.
            let (ar, cr) = unsafe { (a.add(r * lda), c.add(r * ldc + p * NR)) };
            // SAFETY (all arms): same contract as this function, restricted to rows r..r+rows and to
            // panels p..p+P.
            unsafe {
                match (width, rows) {
                    (3, 8) => block::<8, 3>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (3, 7) => block::<7, 3>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (3, 6) => block::<6, 3>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (3, 5) => block::<5, 3>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (3, 4) => block::<4, 3>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (3, 3) => block::<3, 3>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (3, 2) => block::<2, 3>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (3, _) => block::<1, 3>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (2, 8) => block::<8, 2>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (2, 7) => block::<7, 2>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (2, 6) => block::<6, 2>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (2, 5) => block::<5, 2>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (2, 4) => block::<4, 2>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (2, 3) => block::<3, 2>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (2, 2) => block::<2, 2>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (2, _) => block::<1, 2>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (_, 8) => block::<8, 1>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (_, 7) => block::<7, 1>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (_, 6) => block::<6, 1>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (_, 5) => block::<5, 1>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (_, 4) => block::<4, 1>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (_, 3) => block::<3, 1>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (_, 2) => block::<2, 1>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                    (_, _) => block::<1, 1>(k, ar, lda, panel, cr, ldc, cols, overwrite),
                }
            }
            r += rows;
        }
        p += width;
    }
}

/// R rows × P panels: `acc[r][q] += a[r][kk] · panel_q[kk][0..16]` over kk, then write the first
/// `cols` (≥ 1; only the last panel of C can be partial) columns of the P·16.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn block<const R: usize, const P: usize>(
    k: usize,
    a: *const f32,
    lda: usize,
    panel: *const f32,
    c: *mut f32,
    ldc: usize,
    cols: usize,
    overwrite: bool,
) {
    let mut acc = [[_mm512_setzero_ps(); P]; R];
    for kk in 0..k {
        // SAFETY: kk < k stays inside each of the P panels (k·16 values each, P panels follow one another)
        // and inside every A row (k values).
        unsafe {
            let mut w = [_mm512_setzero_ps(); P];
            for (q, wq) in w.iter_mut().enumerate() {
                *wq = _mm512_loadu_ps(panel.add((q * k + kk) * NR));
            }
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*a.add(r * lda + kk));
                for q in 0..P {
                    acc_r[q] = _mm512_fmadd_ps(av, w[q], acc_r[q]);
                }
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        for (q, &v) in acc_r.iter().enumerate() {
            let width = cols.saturating_sub(q * NR).min(NR);
            if width == 0 {
                continue;
            }
            let mask: __mmask16 = if width == NR {
                0xFFFF
            } else {
                (1u16 << width) - 1
            };
            // SAFETY: the mask limits the access to the `width` columns of C row r that exist.
            unsafe {
                let at = c.add(r * ldc + q * NR);
                let out = if overwrite {
                    v
                } else {
                    _mm512_add_ps(_mm512_maskz_loadu_ps(mask, at), v)
                };
                _mm512_mask_storeu_ps(at, mask, out);
            }
        }
    }
}
