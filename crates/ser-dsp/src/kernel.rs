//! Choice of instruction set for the per-frame loops, made once when a plan is built.
//!
//! The loops are written once as plain Rust (`#[inline(always)]` bodies). [`Kernel::Scalar`] runs
//! them as compiled for the baseline target (SSE2 on x86-64); [`Kernel::Avx`] runs the same
//! bodies inside `#[target_feature(enable = "avx")]` wrappers, where LLVM vectorises them 8 lanes
//! wide. Both do the same arithmetic in the same order (no FMA contraction), so their results are
//! identical; the tests check that. `SER_KERNEL=scalar` forces the baseline kernel.

/// Which build of the per-frame loops to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Baseline target features; always available.
    Scalar,
    /// 256-bit AVX; only constructed when the CPU has it (see [`Kernel::detect`]).
    Avx,
}

impl Kernel {
    /// The best kernel this CPU supports, unless `SER_KERNEL=scalar` asks for the baseline.
    pub fn detect() -> Self {
        if std::env::var("SER_KERNEL").is_ok_and(|v| v.eq_ignore_ascii_case("scalar")) {
            return Kernel::Scalar;
        }
        Self::avx().unwrap_or(Kernel::Scalar)
    }

    /// [`Kernel::Avx`] if the CPU supports it, else `None`.
    pub fn avx() -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            return Some(Kernel::Avx);
        }
        None
    }
}
