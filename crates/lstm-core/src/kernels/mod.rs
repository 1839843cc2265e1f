//! Fused LSTM gate kernels: one pass per time step over the active rows.
//!
//! Conventions for the whole crate: gate order i, f, g, o — in a gate row `[4H]` columns `0..H` are the
//! input gate, `H..2H` the forget gate, `2H..3H` the cell candidate, `3H..4H` the output gate.
//!
//! **Forward** (per row, per column j < H), with `a = gates + bias` the pre-activations:
//! ```text
//! i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
//! c' = f ⊙ c + i ⊙ g        τ = tanh(c')        h' = o ⊙ τ
//! ```
//! The activated `i, f, g, o` overwrite the pre-activations (kept for backward). In training the pass
//! also stores τ, so that backward does not evaluate tanh a second time on the same c'.
//!
//! **Backward** (per row, per column), from `dh` (= upstream + recurrent), `dc` (recurrent) and the
//! stored τ = tanh(c'):
//! ```text
//! do = dh ⊙ τ   dc ← dc + dh ⊙ o ⊙ (1 − τ²)
//! di = dc ⊙ g   df = dc ⊙ c   dg = dc ⊙ i   dc_prev = dc ⊙ f
//! da_i = di·i(1−i)   da_f = df·f(1−f)   da_g = dg·(1−g²)   da_o = do·o(1−o)
//! ```
//! The pre-activation gradients `da` overwrite the stored activations.
//!
//! Two implementations share these signatures: [`gates_scalar`] (plain loops, generic over [`Real`],
//! always compiled, the reference) and [`gates_wide`] (`f32` only, `wide::f32x8`, lane tails handled by the
//! scalar code). The kernel is chosen once, when an [`crate::Lstm`] is built, and stored as a
//! [`GateKernel`]; `SER_KERNEL=scalar|wide` forces one.

#[cfg(target_arch = "x86_64")]
mod gates_avx512;
pub mod gates_scalar;
pub mod gates_wide;
pub mod isa;
pub mod step_gemm;

use crate::error::LstmError;
use crate::real::Real;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which fused gate kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KernelKind {
    /// Plain loops ([`gates_scalar`]); exists for every [`Real`].
    Scalar,
    /// `f32x8` via `wide` ([`gates_wide`]); `f32` only. Uses AVX2+FMA code when the CPU has them.
    Wide,
}

impl KernelKind {
    /// Reads `SER_KERNEL` (`scalar` or `wide`, case-insensitive). `Ok(None)` when unset or empty.
    pub fn from_env() -> Result<Option<KernelKind>, LstmError> {
        match std::env::var("SER_KERNEL") {
            Err(_) => Ok(None),
            Ok(v) => match v.trim().to_ascii_lowercase().as_str() {
                "" => Ok(None),
                "scalar" => Ok(Some(KernelKind::Scalar)),
                "wide" => Ok(Some(KernelKind::Wide)),
                _ => Err(LstmError::UnknownKernel {
                    var: "SER_KERNEL",
                    value: v,
                }),
            },
        }
    }

    /// Number of fused forward/backward passes (one per layer and batch chunk) this kernel has run in
    /// this process. Tests use it to prove that a requested kernel really ran.
    pub fn invocations(self) -> u64 {
        COUNTERS[self as usize].load(Ordering::Relaxed)
    }
}

static COUNTERS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Forward fused pass over `rows` rows; see the module docs for the equations.
///
/// `bias: [4H]` (b_ih + b_hh), `gates: [rows, 4H]` row-major (x·W_ihᵀ + h·W_hhᵀ in, activations out),
/// `c_prev: [rows, H]` (None = zero state), `c, h: [rows, H]` outputs, `tanh_c: [rows, H]` optional
/// output τ = tanh(c') (None in inference).
pub type ForwardFn<T> = fn(
    rows: usize,
    hidden: usize,
    bias: &[T],
    gates: &mut [T],
    c_prev: Option<&[T]>,
    c: &mut [T],
    h: &mut [T],
    tanh_c: Option<&mut [T]>,
);

/// Backward fused pass over `rows` rows; see the module docs for the equations.
///
/// `gates: [rows, 4H]` (activations in, pre-activation gradients out), `c_prev: [rows, H]` (None = zero
/// state), `tanh_c: [rows, H]` τ = tanh(c') of this step as stored by the forward pass, `dh_out: [rows, H]`
/// upstream gradient of the output (None = 0), `dh_rec: [rows, H]` gradient arriving through the
/// recurrence, `dc: [rows, H]` dL/dc' in, dL/dc out.
pub type BackwardFn<T> = fn(
    rows: usize,
    hidden: usize,
    gates: &mut [T],
    c_prev: Option<&[T]>,
    tanh_c: &[T],
    dh_out: Option<&[T]>,
    dh_rec: &[T],
    dc: &mut [T],
);

/// The kernels an `f32` [`crate::Lstm`] built with [`crate::Lstm::new`] runs in this process, in words:
/// the gate pass (`SER_KERNEL`) with its instruction set (`SER_ISA`) and the packed matrix products
/// (`SER_MATMUL`), e.g. `gates wide on Avx512, products AMX (f32 as bf16x3)`. The choice changes the
/// last bits of results (AMX against FMA, and the reciprocal estimate between CPU vendors), so runs
/// record it beside their results.
pub fn summary() -> String {
    let gates = match KernelKind::from_env() {
        Ok(Some(KernelKind::Scalar)) => "gates scalar".to_string(),
        _ => match (gates_wide::kernel(), isa::Isa::selected()) {
            (Some(_), Some(isa)) => format!("gates wide on {isa:?}"),
            (Some(_), None) => "gates wide".to_string(),
            (None, _) => "gates scalar".to_string(),
        },
    };
    format!("{gates}, products {}", products_summary())
}

/// The selected kernel of the packed matrix products, in words: `AMX (f32 as bf16x3)`, `Avx512 FMA`,
/// `Avx2 FMA`, or `matrixmultiply` where the CPU has none of them.
pub fn products_summary() -> String {
    match step_gemm::ProductKernel::selected() {
        Some(step_gemm::ProductKernel::Amx) => "AMX (f32 as bf16x3)".to_string(),
        Some(step_gemm::ProductKernel::Fma(isa)) => format!("{isa:?} FMA"),
        None => "matrixmultiply".to_string(),
    }
}

/// A chosen gate kernel: its kind and its two fused passes.
#[derive(Clone, Copy, Debug)]
pub struct GateKernel<T> {
    pub(crate) kind: KernelKind,
    pub(crate) forward: ForwardFn<T>,
    pub(crate) backward: BackwardFn<T>,
}

impl<T: Real> GateKernel<T> {
    /// The scalar reference kernel (exists for every [`Real`]).
    pub fn scalar() -> Self {
        GateKernel {
            kind: KernelKind::Scalar,
            forward: gates_scalar::forward_rows::<T>,
            backward: gates_scalar::backward_rows::<T>,
        }
    }

    /// Which implementation this is.
    pub fn kind(&self) -> KernelKind {
        self.kind
    }

    /// Runs the forward pass (see [`ForwardFn`]).
    ///
    /// # Panics
    /// If a slice is shorter than its documented shape.
    #[inline]
    pub fn forward(
        &self,
        rows: usize,
        hidden: usize,
        bias: &[T],
        gates: &mut [T],
        c_prev: Option<&[T]>,
        c: &mut [T],
        h: &mut [T],
        tanh_c: Option<&mut [T]>,
    ) {
        (self.forward)(rows, hidden, bias, gates, c_prev, c, h, tanh_c)
    }

    /// Runs the backward pass (see [`BackwardFn`]).
    ///
    /// # Panics
    /// If a slice is shorter than its documented shape.
    #[inline]
    pub fn backward(
        &self,
        rows: usize,
        hidden: usize,
        gates: &mut [T],
        c_prev: Option<&[T]>,
        tanh_c: &[T],
        dh_out: Option<&[T]>,
        dh_rec: &[T],
        dc: &mut [T],
    ) {
        (self.backward)(rows, hidden, gates, c_prev, tanh_c, dh_out, dh_rec, dc)
    }

    /// Counts one use (one layer of one batch chunk) for [`KernelKind::invocations`].
    pub(crate) fn note_use(&self) {
        COUNTERS[self.kind as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// The SIMD kernel of an element type that has none (`f64`).
pub(crate) fn no_simd_kernel<T>() -> Option<GateKernel<T>> {
    None
}

/// Checks the slice lengths shared by both implementations.
///
/// # Panics
/// If any slice is too short for `rows` × its row width.
#[inline]
pub(crate) fn check_forward<T>(
    rows: usize,
    hidden: usize,
    bias: &[T],
    gates: &[T],
    c_prev: Option<&[T]>,
    c: &[T],
    h: &[T],
    tanh_c: Option<&[T]>,
) {
    assert!(
        bias.len() >= 4 * hidden,
        "gate kernel: bias has {} values, need 4H = {}",
        bias.len(),
        4 * hidden
    );
    assert!(
        gates.len() >= rows * 4 * hidden,
        "gate kernel: gates has {} values, need rows·4H = {}",
        gates.len(),
        rows * 4 * hidden
    );
    assert!(
        c.len() >= rows * hidden && h.len() >= rows * hidden,
        "gate kernel: c/h shorter than rows·H = {}",
        rows * hidden
    );
    if let Some(tc) = tanh_c {
        assert!(
            tc.len() >= rows * hidden,
            "gate kernel: tanh_c has {} values, need rows·H = {}",
            tc.len(),
            rows * hidden
        );
    }
    if let Some(cp) = c_prev {
        assert!(
            cp.len() >= rows * hidden,
            "gate kernel: c_prev has {} values, need rows·H = {}",
            cp.len(),
            rows * hidden
        );
    }
}

/// Checks the slice lengths of the backward pass.
///
/// # Panics
/// If any slice is too short for `rows` × its row width.
#[inline]
pub(crate) fn check_backward<T>(
    rows: usize,
    hidden: usize,
    gates: &[T],
    c_prev: Option<&[T]>,
    tanh_c: &[T],
    dh_out: Option<&[T]>,
    dh_rec: &[T],
    dc: &[T],
) {
    let n = rows * hidden;
    assert!(
        gates.len() >= 4 * n,
        "gate kernel: gates has {} values, need rows·4H = {}",
        gates.len(),
        4 * n
    );
    assert!(
        tanh_c.len() >= n && dh_rec.len() >= n && dc.len() >= n,
        "gate kernel: tanh_c/dh_rec/dc shorter than rows·H = {n}"
    );
    if let Some(cp) = c_prev {
        assert!(
            cp.len() >= n,
            "gate kernel: c_prev has {} values, need rows·H = {n}",
            cp.len()
        );
    }
    if let Some(d) = dh_out {
        assert!(
            d.len() >= n,
            "gate kernel: dh_out has {} values, need rows·H = {n}",
            d.len()
        );
    }
}
