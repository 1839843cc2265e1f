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
//! Three micro-kernels, one file each, chosen once per process at run time ([`ProductKernel::selected`]):
//! - `amx.rs`: AMX tiles, each f32 split into three bf16 parts and six bf16 tile products summed in f32
//!   (about the accuracy of an f32 dot product, other bits), on CPUs with AMX-BF16 when the OS grants the
//!   tile state;
//! - `avx512.rs`: up to 8 rows × 48 columns (24 `zmm` accumulators), on CPUs with AVX-512 ([`Isa`]);
//! - `avx2.rs`: up to 6 rows × 16 columns (12 `ymm` accumulators), on CPUs with AVX2+FMA.
//!
//! The two FMA kernels evaluate every element as the same chain of FMAs in the same order, so they agree
//! bit for bit (`SER_ISA=avx2|avx512` forces one). The AMX kernel rounds differently; `SER_MATMUL=fma`
//! turns it off, `SER_MATMUL=amx` is the default where it exists.
//! Only `f32` on x86-64 uses them ([`Real::step_matmul`](crate::Real) reports availability); everything
//! else calls [`crate::gemm()`] on the unpacked weights.

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

pub use super::isa::Isa;
use crate::real::Real;
use std::sync::OnceLock;

/// The micro-kernel of the packed products.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProductKernel {
    /// AMX tiles, f32 as bf16x3 (six bf16 products per f32 product).
    Amx,
    /// The FMA micro-kernel of an instruction set.
    Fma(Isa),
}

impl ProductKernel {
    /// Whether the running CPU (and, for AMX, the OS) can execute this kernel.
    pub fn is_available(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            ProductKernel::Amx => amx::available(),
            #[cfg(not(target_arch = "x86_64"))]
            ProductKernel::Amx => false,
            ProductKernel::Fma(isa) => isa.is_available(),
        }
    }

    /// AMX where available, else the FMA kernel of [`Isa::selected`]; `SER_MATMUL=fma` skips AMX
    /// (`amx` or empty: the default). Decided once per process; an unknown value is reported on stderr
    /// and ignored. `None` when the CPU has no kernel at all.
    pub fn selected() -> Option<ProductKernel> {
        static SELECTED: OnceLock<Option<ProductKernel>> = OnceLock::new();
        *SELECTED.get_or_init(|| {
            let fma = Isa::selected().map(ProductKernel::Fma);
            let amx_wanted = match std::env::var("SER_MATMUL") {
                Err(_) => true,
                Ok(value) => match value.trim().to_ascii_lowercase().as_str() {
                    "" | "amx" => true,
                    "fma" => false,
                    _ => {
                        eprintln!("lstm-core: SER_MATMUL={value:?} is not amx or fma; ignored");
                        true
                    }
                },
            };
            if amx_wanted && fma.is_some() && ProductKernel::Amx.is_available() {
                Some(ProductKernel::Amx)
            } else {
                fma
            }
        })
    }
}

/// Columns per panel: one 16-lane or two 8-lane vectors.
pub const NR: usize = 16;

/// `B [k × n]` packed into column panels of [`NR`], zero padded to a multiple of `NR` columns.
#[derive(Clone, Debug, Default)]
pub struct PackedPanels<T> {
    k: usize,
    n: usize,
    data: Vec<T>,
    /// The same matrix as bf16x3 AMX tiles (`amx.rs`), when the CPU has AMX.
    #[cfg(target_arch = "x86_64")]
    tiles: Vec<amx::TileLine>,
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
            let (panel, width) = (
                &mut self.data[p * k * NR..(p + 1) * k * NR],
                n.saturating_sub(p * NR).min(NR),
            );
            // Walk the source along its unit stride: down a column of B when B is a transposed
            // row-major matrix (rs = 1), along a row otherwise.
            if rs <= cs {
                for l in 0..width {
                    let column = &src[(p * NR + l) * cs..];
                    for (kk, d) in panel.iter_mut().skip(l).step_by(NR).enumerate() {
                        *d = column[kk * rs];
                    }
                }
            } else {
                for (kk, dst) in panel.chunks_exact_mut(NR).enumerate() {
                    let row = &src[kk * rs + p * NR * cs..];
                    for (l, d) in dst[..width].iter_mut().enumerate() {
                        *d = row[l * cs];
                    }
                }
            }
        }
        #[cfg(target_arch = "x86_64")]
        self.tiles.clear();
        #[cfg(target_arch = "x86_64")]
        if T::has_step_matmul() && ProductKernel::Amx.is_available() {
            let panels = (&self.data as &dyn std::any::Any).downcast_ref::<Vec<f32>>();
            if let Some(panels) = panels {
                amx::pack_tiles(k, n, panels, &mut self.tiles);
            }
        }
    }

    /// Whether the AMX tiles of this matrix were packed.
    fn has_amx_tiles(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            self.tiles.len() == amx::tile_lines(self.k, self.n) && !self.tiles.is_empty()
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
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
    ProductKernel::selected().is_some()
}

/// `C[m×n] = A·B` (`overwrite`) or `C += A·B`, with `a: [m, k]` (row stride `lda`), `c: [m, n]` (row
/// stride `ldc`), on the [`ProductKernel::selected`] micro-kernel. Returns false, touching nothing,
/// when the CPU has none.
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
    let kernel = match ProductKernel::selected() {
        Some(ProductKernel::Amx) if b.has_amx_tiles() => ProductKernel::Amx,
        Some(_) => match Isa::selected() {
            Some(isa) => ProductKernel::Fma(isa),
            None => return false,
        },
        None => return false,
    };
    matmul_f32_on(kernel, m, a, lda, b, c, ldc, overwrite)
}

/// [`matmul_f32`] on a given micro-kernel; returns false, touching nothing, when it is not available
/// on this CPU (or, for AMX, `b` was packed without its tiles).
///
/// # Panics
/// If `a` or `c` is too short for its shape and stride.
#[allow(clippy::too_many_arguments)]
pub fn matmul_f32_on(
    kernel: ProductKernel,
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedPanels<f32>,
    c: &mut [f32],
    ldc: usize,
    overwrite: bool,
) -> bool {
    match kernel {
        ProductKernel::Amx => matmul_f32_amx(m, a, lda, b, c, ldc, overwrite),
        ProductKernel::Fma(isa) => matmul_f32_with(isa, m, a, lda, b, c, ldc, overwrite),
    }
}

/// [`matmul_f32`] on the AMX kernel; returns false, touching nothing, when AMX is unavailable or `b`
/// was packed without its tiles (AMX not selected when it was packed).
///
/// # Panics
/// If `a` or `c` is too short for its shape and stride.
pub fn matmul_f32_amx(
    m: usize,
    a: &[f32],
    lda: usize,
    b: &PackedPanels<f32>,
    c: &mut [f32],
    ldc: usize,
    overwrite: bool,
) -> bool {
    let (k, n) = (b.k, b.n);
    if !ProductKernel::Amx.is_available() || !b.has_amx_tiles() {
        return false;
    }
    if m == 0 || n == 0 {
        return true;
    }
    check_extents(m, k, n, a, lda, c, ldc);
    #[cfg(target_arch = "x86_64")]
    {
        let (a, c) = (a.as_ptr(), c.as_mut_ptr());
        let tiles = b.tiles.as_ptr().cast::<u16>();
        // SAFETY: AMX was detected and granted above; slice extents were checked above; the tiles hold
        // the 64-byte lines of `amx::tile_lines(k, n)` (checked above).
        unsafe { amx::matmul(m, k, n, a, lda, tiles, c, ldc, overwrite) };
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (a, c, ldc, overwrite);
        false
    }
}

/// Asserts that A `[m×k]` (stride lda) and C `[m×n]` (stride ldc) fit their slices.
fn check_extents(m: usize, k: usize, n: usize, a: &[f32], lda: usize, c: &[f32], ldc: usize) {
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
    check_extents(m, k, n, a, lda, c, ldc);
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

    const KERNELS: [ProductKernel; 3] = [
        ProductKernel::Amx,
        ProductKernel::Fma(Isa::Avx512),
        ProductKernel::Fma(Isa::Avx2),
    ];

    fn values(len: usize, mul: usize, modulus: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * mul % modulus) as f32 - (modulus / 2) as f32) / (modulus / 2) as f32)
            .collect()
    }

    /// The panels hold B exactly, zero padded, whichever of its strides is the unit one.
    #[test]
    fn panels_hold_b_in_both_layouts() {
        for (k, n) in [(1, 1), (3, 17), (34, 128), (40, 33)] {
            let w = values(k * n, 7, 23);
            for (rs, cs) in [(1, k), (n, 1)] {
                let mut packed = PackedPanels::default();
                packed.pack(k, n, &w, rs, cs);
                for p in 0..n.div_ceil(NR) {
                    for kk in 0..k {
                        for l in 0..NR {
                            let j = p * NR + l;
                            let want = if j < n { w[kk * rs + j * cs] } else { 0.0 };
                            let got = packed.data()[(p * k + kk) * NR + l];
                            assert_eq!(got.to_bits(), want.to_bits(), "[{k}×{n}] ({kk},{j})");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn packed_product_matches_gemm() {
        for isa in KERNELS {
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
                assert!(matmul_f32_on(isa, m, &a, k, &packed, &mut got, n, false));
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                        "{isa:?} [{m}×{k}×{n}] {g} vs {w}"
                    );
                }
                let mut over = vec![f32::NAN; m * n];
                matmul_f32_on(isa, m, &a, k, &packed, &mut over, n, true);
                for (g, w) in over.iter().zip(&want) {
                    assert!(
                        (g + 0.5 - w).abs() <= 1e-5 * w.abs().max(1.0),
                        "{isa:?} overwrite [{m}×{k}×{n}]"
                    );
                }
            }
        }
    }

    /// The AMX kernel's error is that of an f32 dot product: within `(k + 8)·2⁻²³·Σ|a||b|` of the f64
    /// product per element (one dropped bf16x3 term, 2⁻¹⁶ of it, would exceed this), on row counts
    /// across two tiles (1–40), k across the 256-value split segments, with tails of 1 to 17 values
    /// (one to four tail tiles), partial column tiles, strided A and C, accumulating and overwriting;
    /// columns beyond n untouched.
    #[test]
    fn amx_error_is_that_of_f32() {
        if !ProductKernel::Amx.is_available() {
            eprintln!(
                "AMX-BF16 not available on this CPU (or not granted by the OS): not tested here"
            );
            return;
        }
        for m in (1..41).step_by(3) {
            // k = 34, 40, 264, 520, 300: full chunks plus a tail of 2, 8 or 12 (520, 300: after a
            // second segment); 1, 3, 7, 17: a tail only.
            for (k, n) in [
                (1, 16),
                (3, 5),
                (34, 128),
                (40, 80),
                (128, 512),
                (264, 48),
                (300, 40),
                (520, 32),
                (17, 33),
                (7, 95),
            ] {
                let (lda, ldc) = (k + 3, n + 5);
                // Entries spread over six binary orders of magnitude, both signs.
                let a: Vec<f32> = values(m * lda, 37, 29)
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v * (1u32 << (i % 6)) as f32 / 7.3)
                    .collect();
                let w = values(k * n, 11, 19);
                let mut packed = PackedPanels::default();
                packed.pack(k, n, &w, n, 1);
                for overwrite in [false, true] {
                    let start = values(m * ldc, 13, 7);
                    let mut got = start.clone();
                    assert!(matmul_f32_amx(
                        m, &a, lda, &packed, &mut got, ldc, overwrite
                    ));
                    for i in 0..m {
                        for j in 0..ldc {
                            let at = i * ldc + j;
                            if j >= n {
                                assert_eq!(got[at].to_bits(), start[at].to_bits(), "padding {at}");
                                continue;
                            }
                            let (mut exact, mut scale) = (0f64, 0f64);
                            for kk in 0..k {
                                let term = f64::from(a[i * lda + kk]) * f64::from(w[kk * n + j]);
                                exact += term;
                                scale += term.abs();
                            }
                            if !overwrite {
                                exact += f64::from(start[at]);
                                scale += f64::from(start[at]).abs();
                            }
                            let bound = (k + 8) as f64 * 2f64.powi(-23) * scale;
                            let err = (f64::from(got[at]) - exact).abs();
                            assert!(
                                err <= bound,
                                "[{m}×{k}×{n}] overwrite={overwrite} ({i},{j}): {} vs {exact}, error {err:e} > {bound:e}",
                                got[at]
                            );
                        }
                    }
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
