//! The floating-point element type shared by every kernel.
//!
//! `f32` is the fast path: its gate kernels may be the SIMD ones (see [`crate::kernels`]) and its matrix
//! products go through matrixmultiply's `sgemm`. `f64` runs the very same code through the scalar kernels
//! and `dgemm`; it exists so that gradients can be checked against central finite differences.

use crate::kernels::step_gemm::PackedPanels;
use crate::kernels::{GateKernel, KernelKind};

/// Floating-point element: `f32` (fast path) or `f64` (gradient checks).
///
/// Besides arithmetic it knows its own GEMM entry point ([`Real::gemm_raw`]) and which gate kernels exist
/// for it ([`Real::gate_kernel`]); both are how generic code reaches type-specific fast paths without
/// run-time type checks.
pub trait Real:
    Copy
    + bytemuck::Pod
    + Send
    + Sync
    + Default
    + PartialOrd
    + std::fmt::Debug
    + 'static
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
{
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// Not-a-number, used to pre-fill workspaces in tests.
    const NAN: Self;
    /// Rounds an `f64` to this type.
    fn from_f64(v: f64) -> Self;
    /// Widens to `f64` (exact for both implementations).
    fn to_f64(self) -> f64;
    /// e^x.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Logistic function σ(x) = 1 / (1 + e^(−x)), written so it never overflows.
    fn sigmoid(self) -> Self;
    /// Neither infinite nor NaN.
    fn is_finite(self) -> bool;
    /// The larger of two values (NaN-ignoring, like `f32::max`).
    fn max(self, other: Self) -> Self;

    /// Raw strided GEMM `C = alpha·A·B + beta·C` (matrixmultiply's `sgemm` / `dgemm`).
    ///
    /// # Safety
    /// Every pointer must be valid for every element its shape and strides address; `c` must not alias
    /// `a` or `b`. Use the safe, bounds-checked [`crate::gemm`] instead.
    #[doc(hidden)]
    unsafe fn gemm_raw(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );

    /// The gate kernel of the requested kind for this element type, or `None` if it does not exist
    /// (the SIMD kernel is `f32`-only).
    #[doc(hidden)]
    fn gate_kernel(kind: KernelKind) -> Option<GateKernel<Self>>;

    /// Whether [`Real::step_matmul`] has a fast path on this CPU (else callers use [`crate::gemm`]).
    #[doc(hidden)]
    fn has_step_matmul() -> bool;

    /// `C (+)= A·B` against packed weights (see [`crate::kernels::step_gemm`]); false if unsupported.
    #[doc(hidden)]
    fn step_matmul(
        m: usize,
        a: &[Self],
        lda: usize,
        b: &PackedPanels<Self>,
        c: &mut [Self],
        ldc: usize,
        overwrite: bool,
    ) -> bool;
}

macro_rules! impl_real {
    ($t:ty, $gemm:path, $wide:path, $has_step:expr, $step:expr) => {
        impl Real for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NAN: Self = <$t>::NAN;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn sigmoid(self) -> Self {
                // Evaluate e^(−|x|) ≤ 1 only, so nothing overflows for large |x|.
                let e = <$t>::exp(-self.abs());
                if self >= 0.0 {
                    1.0 / (1.0 + e)
                } else {
                    e / (1.0 + e)
                }
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            unsafe fn gemm_raw(
                m: usize,
                k: usize,
                n: usize,
                alpha: Self,
                a: *const Self,
                rsa: isize,
                csa: isize,
                b: *const Self,
                rsb: isize,
                csb: isize,
                beta: Self,
                c: *mut Self,
                rsc: isize,
                csc: isize,
            ) {
                // SAFETY: forwarded verbatim; the caller guarantees the pointer/stride contract.
                unsafe { $gemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
            }
            fn has_step_matmul() -> bool {
                $has_step
            }
            fn step_matmul(
                m: usize,
                a: &[Self],
                lda: usize,
                b: &PackedPanels<Self>,
                c: &mut [Self],
                ldc: usize,
                overwrite: bool,
            ) -> bool {
                $step(m, a, lda, b, c, ldc, overwrite)
            }
            fn gate_kernel(kind: KernelKind) -> Option<GateKernel<Self>> {
                match kind {
                    KernelKind::Scalar => Some(GateKernel::scalar()),
                    KernelKind::Wide => $wide(),
                }
            }
        }
    };
}

impl_real!(
    f32,
    matrixmultiply::sgemm,
    crate::kernels::gates_wide::kernel,
    crate::kernels::step_gemm::available(),
    crate::kernels::step_gemm::matmul_f32
);
impl_real!(
    f64,
    matrixmultiply::dgemm,
    crate::kernels::no_simd_kernel,
    false,
    |_, _, _, _, _, _, _| false
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_matches_definition_and_saturates() {
        for &x in &[-800.0f64, -30.0, -1.0, 0.0, 0.5, 30.0, 800.0] {
            let s = Real::sigmoid(x);
            let direct = 1.0 / (1.0 + (-x).exp());
            assert!((s - direct).abs() <= 1e-15, "x={x}: {s} vs {direct}");
            assert!(s.is_finite());
        }
        assert!(Real::sigmoid(-200.0f32) >= 0.0);
    }
}
