//! Recurrent-step matrix product against weights packed once per pass.
//!
//! Each time step multiplies the active rows by the same weight matrix (`h·W_hhᵀ` forward, `dG·W_hh`
//! backward). A general GEMM re-packs that matrix on every call — for H = 128 a 256 KB copy per step —
//! so the weights are packed once per forward/backward into column panels of [`NR`] and a micro-kernel
//! streams them:
//! ```text
//! C[m×n] (+)= A[m×k] · B[k×n],   B stored as panels P[p][kk][0..16] = B[kk][16p + 0..16] (zero padded)
//! C[i][j] = (C[i][j] +) fma(A[i][k−1], B[k−1][j], … fma(A[i][1], B[1][j], A[i][0]·B[0][j]))
//! ```
//! Two micro-kernels, one file each, chosen once per process at run time ([`Isa::selected`]):
//! - `avx512.rs`: up to 8 rows × 48 columns (24 `zmm` accumulators), on CPUs with AVX-512 ([`Isa`]);
//! - `avx2.rs`: up to 6 rows × 16 columns (12 `ymm` accumulators), on CPUs with AVX2+FMA.
//!
//! Both evaluate every element as the same chain of FMAs in the same order, so they agree bit for bit
//! and the choice never changes a result. `SER_ISA=avx2|avx512` forces one (for comparisons).
//! Only `f32` on x86-64 uses them ([`Real::step_matmul`](crate::Real) reports availability); everything
//! else calls [`crate::gemm()`] on the unpacked weights.

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

pub use super::isa::Isa;
use crate::real::Real;

/// Columns per panel: one 16-lane or two 8-lane vectors.
pub const NR: usize = 16;

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

/// Whether this CPU runs one of the micro-kernels.
pub fn available() -> bool {
    Isa::selected().is_some()
}

/// `C[m×n] = A·B` (`overwrite`) or `C += A·B`, with `a: [m, k]` (row stride `lda`), `c: [m, n]` (row
/// stride `ldc`), on the [`Isa::selected`] micro-kernel. Returns false, touching nothing, when the
/// CPU has none.
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
    match Isa::selected() {
        Some(isa) => matmul_f32_with(isa, m, a, lda, b, c, ldc, overwrite),
        None => false,
    }
}

/// [`matmul_f32`] on a given micro-kernel; returns false, touching nothing, when `isa` is not
/// available on this CPU.
///
/// # Panics
/// If `a` or `c` is too short for its shape and stride.
#[allow(clippy::too_many_arguments)]
pub fn matmul_f32_with(
    isa: Isa,
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedPanels<f32>,
    c: &mut [f32],
    ldc: usize,
    overwrite: bool,
) -> bool {
    if !isa.is_available() {
        return false;
    }
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
        let (a, b, c) = (a.as_ptr(), b.data.as_ptr(), c.as_mut_ptr());
        // SAFETY: the instruction set was detected by `is_available` above; slice extents were asserted
        // above and the panel buffer holds ⌈n/16⌉·k·16 values by construction in `pack`.
        unsafe {
            match isa {
                Isa::Avx512 => avx512::matmul(m, k, n, a, lda, b, c, ldc, overwrite),
                Isa::Avx2 => avx2::matmul(m, k, n, a, lda, b, c, ldc, overwrite),
            }
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (a, b, c, ldc, overwrite);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISAS: [Isa; 2] = [Isa::Avx512, Isa::Avx2];

    fn values(len: usize, mul: usize, modulus: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * mul % modulus) as f32 - (modulus / 2) as f32) / (modulus / 2) as f32)
            .collect()
    }

    #[test]
    fn packed_product_matches_gemm() {
        for isa in ISAS {
            if !isa.is_available() {
                eprintln!("{isa:?} not available on this CPU: not tested here");
                continue;
            }
            for (m, k, n) in [
                (1, 1, 1),
                (7, 9, 17),
                (16, 32, 128),
                (5, 68, 17),
                (13, 17, 33),
                (9, 20, 48),
            ] {
                let a = values(m * k, 31, 17);
                let w = values(n * k, 7, 23); // W [n×k]
                let mut packed = PackedPanels::default();
                packed.pack(k, n, &w, 1, k); // B = Wᵀ
                let mut want = vec![0.5f32; m * n];
                crate::gemm(
                    m, k, n, 1.0, &a, k as isize, 1, &w, 1, k as isize, 1.0, &mut want, n as isize,
                    1,
                );
                let mut got = vec![0.5f32; m * n];
                assert!(matmul_f32_with(isa, m, &a, k, &packed, &mut got, n, false));
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                        "{isa:?} [{m}×{k}×{n}] {g} vs {w}"
                    );
                }
                let mut over = vec![f32::NAN; m * n];
                matmul_f32_with(isa, m, &a, k, &packed, &mut over, n, true);
                for (g, w) in over.iter().zip(&want) {
                    assert!(
                        (g + 0.5 - w).abs() <= 1e-5 * w.abs().max(1.0),
                        "{isa:?} overwrite [{m}×{k}×{n}]"
                    );
                }
            }
        }
    }

    /// Both micro-kernels run the same FMA chain per element, so they must agree bit for bit, on every
    /// row-block and panel remainder (m up to 19, n with 1–32 panels, partial last panels), with strided
    /// A and C, accumulating and overwriting. The columns of C beyond n must stay untouched.
    #[test]
    fn avx512_equals_avx2_bitwise() {
        if !(Isa::Avx512.is_available() && Isa::Avx2.is_available()) {
            eprintln!("AVX-512F or AVX2 missing on this CPU: bitwise comparison not run here");
            return;
        }
        for m in 1..20 {
            for (k, n) in [
                (1, 16),
                (3, 5),
                (34, 64),
                (32, 128),
                (128, 512),
                (17, 33),
                (40, 80),
                (7, 95),
            ] {
                let (lda, ldc) = (k + 3, n + 5);
                let a = values(m * lda, 37, 29);
                let w = values(k * n, 11, 19);
                let mut packed = PackedPanels::default();
                packed.pack(k, n, &w, n, 1);
                for overwrite in [false, true] {
                    let start = values(m * ldc, 13, 7);
                    let mut wide = start.clone();
                    let mut narrow = start.clone();
                    assert!(matmul_f32_with(
                        Isa::Avx512,
                        m,
                        &a,
                        lda,
                        &packed,
                        &mut wide,
                        ldc,
                        overwrite
                    ));
                    assert!(matmul_f32_with(
                        Isa::Avx2,
                        m,
                        &a,
                        lda,
                        &packed,
                        &mut narrow,
                        ldc,
                        overwrite
                    ));
                    for (i, (x, y)) in wide.iter().zip(&narrow).enumerate() {
                        assert_eq!(
                            x.to_bits(),
                            y.to_bits(),
                            "[{m}×{k}×{n}] overwrite={overwrite} at {i}"
                        );
                        if i % ldc >= n {
                            assert_eq!(
                                x.to_bits(),
                                start[i].to_bits(),
                                "padding column {i} written"
                            );
                        }
                    }
                }
            }
        }
    }
}
