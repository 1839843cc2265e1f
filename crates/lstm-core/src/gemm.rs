//! Safe, bounds-checked general matrix multiply over matrixmultiply's `sgemm` / `dgemm`.

use crate::real::Real;

/// Index one past the furthest element addressed by an `rows × cols` matrix with the given strides.
///
/// # Panics
/// On a negative stride (not supported by this wrapper).
fn extent(what: &str, rows: usize, cols: usize, rs: isize, cs: isize) -> usize {
    assert!(
        rs >= 0 && cs >= 0,
        "gemm: {what} has a negative stride ({rs}, {cs})"
    );
    if rows == 0 || cols == 0 {
        return 0;
    }
    (rows - 1) * rs as usize + (cols - 1) * cs as usize + 1
}

/// `C[m×n] = alpha · A[m×k] · B[k×n] + beta · C`, each matrix given as (slice, row stride, column stride);
/// element (r, c) of A is `a[r·rsa + c·csa]`. Row-major A is `(a, k, 1)`, its transpose `(a, 1, m)`.
///
/// When `beta == 0`, C is overwritten without being read (NaNs in C do not propagate).
///
/// # Panics
/// If a slice is too short for its shape and strides, or a stride is negative.
pub fn gemm<T: Real>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: &[T],
    rsa: isize,
    csa: isize,
    b: &[T],
    rsb: isize,
    csb: isize,
    beta: T,
    c: &mut [T],
    rsc: isize,
    csc: isize,
) {
    let need_a = extent("A", m, k, rsa, csa);
    let need_b = extent("B", k, n, rsb, csb);
    let need_c = extent("C", m, n, rsc, csc);
    assert!(
        a.len() >= need_a,
        "gemm: A [{m}×{k}] needs {need_a} values, got {}",
        a.len()
    );
    assert!(
        b.len() >= need_b,
        "gemm: B [{k}×{n}] needs {need_b} values, got {}",
        b.len()
    );
    assert!(
        c.len() >= need_c,
        "gemm: C [{m}×{n}] needs {need_c} values, got {}",
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // Empty sum: C = beta·C (and C = 0 without reading it when beta = 0).
        for r in 0..m {
            for col in 0..n {
                let at = r * rsc as usize + col * csc as usize;
                c[at] = if beta == T::ZERO {
                    T::ZERO
                } else {
                    beta * c[at]
                };
            }
        }
        return;
    }
    // SAFETY: the asserts above guarantee every addressed element lies inside its slice; `c` is a unique
    // borrow so it cannot alias `a` or `b`.
    unsafe {
        T::gemm_raw(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            rsc,
            csc,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_product_with_transposes() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|v| (v as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..n * k).map(|v| (v as f64 * 0.11).cos()).collect(); // stored as Bᵀ [n×k]
        let mut c = vec![f64::NAN; m * n];
        gemm(
            m, k, n, 1.0, &a, k as isize, 1, &b, 1, k as isize, 0.0, &mut c, n as isize, 1,
        );
        for r in 0..m {
            for col in 0..n {
                let want: f64 = (0..k).map(|i| a[r * k + i] * b[col * k + i]).sum();
                assert!((c[r * n + col] - want).abs() < 1e-12);
            }
        }
    }
}
