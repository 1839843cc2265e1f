//! The x86-64 instruction set of the hand-written SIMD kernels, chosen once per process at run time.
//!
//! Both the packed step product ([`super::step_gemm`]) and the fused gate passes ([`super::gates_wide`])
//! have an AVX-512 and an AVX2 version that evaluate the same operations in the same order per element,
//! so they give bit-identical results (tests `avx512_equals_avx2_bitwise` in each module) and the choice
//! only changes the speed. `SER_ISA=avx2|avx512` forces one, for side-by-side measurements.
//!
//! The packed matrix products can also run on AMX tiles, which round differently; that choice is
//! [`super::step_gemm::ProductKernel`] (`SER_MATMUL=amx|fma`).

use std::sync::OnceLock;

/// Instruction set of a SIMD kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Isa {
    /// AVX-512F and AVX-512DQ (16 `f32` lanes, 32 vector registers).
    Avx512,
    /// AVX2 + FMA (8 `f32` lanes, 16 vector registers).
    Avx2,
}

impl Isa {
    /// Whether the running CPU can execute kernels of this instruction set.
    pub fn is_available(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            match self {
                Isa::Avx512 => {
                    std::arch::is_x86_feature_detected!("avx512f")
                        && std::arch::is_x86_feature_detected!("avx512dq")
                        && std::arch::is_x86_feature_detected!("fma")
                }
                Isa::Avx2 => {
                    std::arch::is_x86_feature_detected!("avx2")
                        && std::arch::is_x86_feature_detected!("fma")
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// The widest available instruction set, unless `SER_ISA` (`avx2` or `avx512`) names another
    /// available one; `None` when the CPU has neither. Decided once per process; an unknown or
    /// unavailable value is reported on stderr and ignored.
    pub fn selected() -> Option<Isa> {
        static SELECTED: OnceLock<Option<Isa>> = OnceLock::new();
        *SELECTED.get_or_init(|| {
            let best = [Isa::Avx512, Isa::Avx2]
                .into_iter()
                .find(|isa| isa.is_available());
            let Ok(value) = std::env::var("SER_ISA") else {
                return best;
            };
            let wanted = match value.trim().to_ascii_lowercase().as_str() {
                "" => return best,
                "avx512" => Isa::Avx512,
                "avx2" => Isa::Avx2,
                _ => {
                    eprintln!("lstm-core: SER_ISA={value:?} is not avx2 or avx512; using {best:?}");
                    return best;
                }
            };
            if wanted.is_available() {
                Some(wanted)
            } else {
                eprintln!(
                    "lstm-core: SER_ISA={value:?} is unavailable on this CPU; using {best:?}"
                );
                best
            }
        })
    }
}
