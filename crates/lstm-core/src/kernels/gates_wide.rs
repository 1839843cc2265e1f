//! SIMD gate kernels: `wide::f32x8`, `f32` only. Same names and signatures as [`super::gates_scalar`];
//! columns beyond the last full group of 8 (the lane tail) go through the scalar `*_cols` functions.
//!
//! `wide` picks its instructions at compile time from the target features. So that a default
//! (x86-64-v1) build still gets AVX2 + FMA, every entry point is compiled twice: as plain code and inside a
//! `#[target_feature(enable = "avx2,fma")]` function that [`kernel`] selects after run-time detection.
//! On CPUs with AVX-512, [`kernel`] hands out `kernels/gates_avx512.rs` instead: the same operations on 16
//! lanes, bit-identical to this code.
//!
//! # Approximations and their error
//! `exp`, `σ` and `tanh` are evaluated with the polynomials below (Cephes-style `expf` with a 2-constant
//! ln 2 reduction; `tanh` from `expm1`, the same reduction without the final `+ 1`, so that it keeps its
//! relative accuracy near 0 without a second polynomial; reciprocals by estimate plus one Newton step,
//! [`recip`], instead of divisions). Measured maximum error over the whole f32 range (test
//! `simd_math_error_bounds`): σ and tanh ≤ 1e-6 absolute (in practice ~2.5e-7), tanh ≤ 8 ulp relative
//! (in practice ~2.2), and `exp` ≤ 4 ulp relative on [−87, 88]. Inputs are clamped to [−87, 88] before
//! `exp`, so σ and tanh saturate instead of overflowing; a NaN input gives NaN (test
//! `nan_and_infinities`).
//!
//! (Until session 12, tanh used an odd polynomial for |x| < 0.625 and `(1 − e)/(1 + e)` above, both
//! evaluated for every lane: the gate pass was 8–12 % slower.)

use super::gates_scalar::{backward_cols, forward_cols};
use super::isa::Isa;
use super::{check_backward, check_forward, GateKernel, KernelKind};
use wide::{f32x8, i32x8};

const LANES: usize = 8;

/// The SIMD kernel for the [`Isa::selected`] instruction set: the AVX-512 build
/// (`kernels/gates_avx512.rs`, bit-identical) or the AVX2+FMA build of this file's code, else its plain
/// build.
pub fn kernel() -> Option<GateKernel<f32>> {
    #[cfg(target_arch = "x86_64")]
    {
        match Isa::selected() {
            Some(Isa::Avx512) => {
                return Some(GateKernel {
                    kind: KernelKind::Wide,
                    forward: super::gates_avx512::forward_rows,
                    backward: super::gates_avx512::backward_rows,
                })
            }
            Some(Isa::Avx2) => {
                return Some(GateKernel {
                    kind: KernelKind::Wide,
                    forward: avx2::forward_rows,
                    backward: avx2::backward_rows,
                })
            }
            None => {}
        }
    }
    Some(GateKernel {
        kind: KernelKind::Wide,
        forward: forward_rows,
        backward: backward_rows,
    })
}

#[inline(always)]
fn load(s: &[f32], at: usize) -> f32x8 {
    let mut a = [0.0f32; LANES];
    a.copy_from_slice(&s[at..at + LANES]);
    f32x8::from(a)
}

#[inline(always)]
fn store(s: &mut [f32], at: usize, v: f32x8) {
    s[at..at + LANES].copy_from_slice(v.as_array_ref());
}

/// e^x, clamped to x ∈ [−87, 88] (so the result is a normal float); NaN stays NaN.
///
/// The clamp is `maxps(−87, x)` then `minps(88, ·)`: with a NaN operand these instructions return
/// their second operand, here `x`, so a NaN reaches the polynomial and the result. (`wide`'s `max` and
/// `min` return the constant for a NaN `x`, which made σ(NaN) = 1 and tanh(NaN) = 1.)
#[inline(always)]
pub fn exp(x: f32x8) -> f32x8 {
    let (q, n) = exp_reduced(x);
    (q + f32x8::ONE) * pow2(n)
}

/// e^x − 1 on the same clamped domain as [`exp`], without the cancellation of `exp(x) − 1` near 0:
/// `2ⁿ·q + (2ⁿ − 1)` in one FMA (for n = 0, exactly q).
#[inline(always)]
pub fn expm1(x: f32x8) -> f32x8 {
    let (q, n) = exp_reduced(x);
    let scale = pow2(n);
    q.mul_add(scale, scale - f32x8::ONE)
}

/// `e^x = 2ⁿ·(1 + q)` for x clamped to [−87, 88]: n = round(x·log₂e) and `q = e^r − 1` of the
/// remainder `r = x − n·ln 2` (|r| ≤ ln 2 / 2) by a degree-7 polynomial `r + r²·p(r)`.
#[inline(always)]
fn exp_reduced(x: f32x8) -> (f32x8, f32x8) {
    let x = f32x8::splat(88.0).fast_min(f32x8::splat(-87.0).fast_max(x));
    let n = (x * f32x8::LOG2_E).round();
    // r = x − n·ln2, ln2 split into an exactly representable high part and a small correction.
    let r = n.mul_neg_add(f32x8::splat(0.693_359_4), x);
    let r = n.mul_neg_add(f32x8::splat(-2.121_944_4e-4), r);
    let p = f32x8::splat(1.987_569_1e-4)
        .mul_add(r, f32x8::splat(1.398_2e-3))
        .mul_add(r, f32x8::splat(8.333_452e-3))
        .mul_add(r, f32x8::splat(4.166_579_6e-2))
        .mul_add(r, f32x8::splat(0.166_666_65))
        .mul_add(r, f32x8::splat(0.5));
    (p.mul_add(r * r, r), n)
}

/// 2ⁿ for integral n ∈ [−126, 127], by writing n + 127 into the exponent bits (the plain conversion is
/// exact; for NaN the result is garbage, but every caller multiplies it with a NaN).
#[inline(always)]
fn pow2(n: f32x8) -> f32x8 {
    let bits: i32x8 = (n.fast_round_int() + i32x8::splat(127)) << 23;
    bytemuck::cast::<i32x8, f32x8>(bits)
}

/// 1/d without a division: the 12-bit hardware estimate `r₀ ≈ 1/d` refined by one Newton step,
/// `r₁ = r₀·(2 − d·r₀)`, whose relative error is about the square of r₀'s (≤ 2⁻²² plus rounding).
/// A divide takes several times the throughput slot of `rcp` + 2 FMA, and σ and tanh need one each.
/// Results below the normal range (d > 2¹²⁶) come out as 0.
#[inline(always)]
pub fn recip(d: f32x8) -> f32x8 {
    let r = d.recip();
    r * d.mul_neg_add(r, f32x8::splat(2.0))
}

/// σ(x) = 1 / (1 + e^(−x)), the reciprocal by [`recip`].
#[inline(always)]
pub fn sigmoid(x: f32x8) -> f32x8 {
    recip(f32x8::ONE + exp(-x))
}

/// tanh(x) = sign(x)·(−m)/(2 + m) with m = e^(−2|x|) − 1 by [`expm1`], which keeps its relative
/// accuracy as x → 0 (no `1 − e` cancellation), so no separate small-argument polynomial is needed.
/// m ≤ 0, so `m·recip(2 + m)` is −tanh|x| and taking x's sign gives tanh(x).
#[inline(always)]
pub fn tanh(x: f32x8) -> f32x8 {
    let m = expm1(x.abs() * f32x8::splat(-2.0));
    (m * recip(m + f32x8::splat(2.0))).copysign(x)
}

#[inline(always)]
fn forward_rows_impl(
    rows: usize,
    hidden: usize,
    bias: &[f32],
    gates: &mut [f32],
    c_prev: Option<&[f32]>,
    c: &mut [f32],
    h: &mut [f32],
    mut tanh_c: Option<&mut [f32]>,
) {
    check_forward(rows, hidden, bias, gates, c_prev, c, h, tanh_c.as_deref());
    let full = hidden / LANES * LANES;
    for r in 0..rows {
        let g_row = &mut gates[r * 4 * hidden..(r + 1) * 4 * hidden];
        let cp_row = c_prev.map(|cp| &cp[r * hidden..(r + 1) * hidden]);
        let c_row = &mut c[r * hidden..(r + 1) * hidden];
        let h_row = &mut h[r * hidden..(r + 1) * hidden];
        let mut tc_row = tanh_c
            .as_deref_mut()
            .map(|tc| &mut tc[r * hidden..(r + 1) * hidden]);
        // Two sweeps over the row. The first computes the four gates and c_t; its exponentials are
        // independent of each other, so the out-of-order core overlaps them. The second computes
        // h_t = o ⊙ tanh(c_t) from the stored c_t and o. In one sweep, tanh(c_t) waits for three
        // exponential chains of its own iteration and the reorder window fills with waiting work.
        // The operations and their operands are the same either way, so the results are too.
        for j in (0..full).step_by(LANES) {
            let i = sigmoid(load(g_row, j) + load(bias, j));
            let f = sigmoid(load(g_row, hidden + j) + load(bias, hidden + j));
            let g = tanh(load(g_row, 2 * hidden + j) + load(bias, 2 * hidden + j));
            let o = sigmoid(load(g_row, 3 * hidden + j) + load(bias, 3 * hidden + j));
            let cn = match cp_row {
                Some(cp) => f.mul_add(load(cp, j), i * g),
                None => i * g,
            };
            store(c_row, j, cn);
            store(g_row, j, i);
            store(g_row, hidden + j, f);
            store(g_row, 2 * hidden + j, g);
            store(g_row, 3 * hidden + j, o);
        }
        match tc_row.as_deref_mut() {
            Some(tc_row) => {
                for j in (0..full).step_by(LANES) {
                    let tc = tanh(load(c_row, j));
                    store(tc_row, j, tc);
                    store(h_row, j, load(g_row, 3 * hidden + j) * tc);
                }
            }
            None => {
                for j in (0..full).step_by(LANES) {
                    store(h_row, j, load(g_row, 3 * hidden + j) * tanh(load(c_row, j)));
                }
            }
        }
        // Most hidden sizes leave no columns to the scalar code; skip the call then.
        if full < hidden {
            forward_cols(
                full..hidden,
                hidden,
                bias,
                g_row,
                cp_row,
                c_row,
                h_row,
                tc_row,
            );
        }
    }
}

#[inline(always)]
fn backward_rows_impl(
    rows: usize,
    hidden: usize,
    gates: &mut [f32],
    c_prev: Option<&[f32]>,
    tanh_c: &[f32],
    dh_out: Option<&[f32]>,
    dh_rec: &[f32],
    dc: &mut [f32],
) {
    check_backward(rows, hidden, gates, c_prev, tanh_c, dh_out, dh_rec, dc);
    let full = hidden / LANES * LANES;
    let one = f32x8::ONE;
    for r in 0..rows {
        let row = r * hidden..(r + 1) * hidden;
        let g_row = &mut gates[r * 4 * hidden..(r + 1) * 4 * hidden];
        let cp_row = c_prev.map(|cp| &cp[row.clone()]);
        let tc_row = &tanh_c[row.clone()];
        let dho_row = dh_out.map(|d| &d[row.clone()]);
        let dhr_row = &dh_rec[row.clone()];
        let dc_row = &mut dc[row];
        for j in (0..full).step_by(LANES) {
            let i = load(g_row, j);
            let f = load(g_row, hidden + j);
            let g = load(g_row, 2 * hidden + j);
            let o = load(g_row, 3 * hidden + j);
            let dh = match dho_row {
                Some(d) => load(dhr_row, j) + load(d, j),
                None => load(dhr_row, j),
            };
            let tc = load(tc_row, j);
            let d_o = dh * tc;
            let dcn = (dh * o).mul_add(one - tc * tc, load(dc_row, j));
            let cp = match cp_row {
                Some(cp) => load(cp, j),
                None => f32x8::ZERO,
            };
            store(dc_row, j, dcn * f);
            store(g_row, j, dcn * g * i * (one - i));
            store(g_row, hidden + j, dcn * cp * f * (one - f));
            store(g_row, 2 * hidden + j, dcn * i * (one - g * g));
            store(g_row, 3 * hidden + j, d_o * o * (one - o));
        }
        // Most hidden sizes leave no columns to the scalar code; skip the call then.
        if full < hidden {
            backward_cols(
                full..hidden,
                hidden,
                g_row,
                cp_row,
                tc_row,
                dho_row,
                dhr_row,
                dc_row,
            );
        }
    }
}

/// Forward pass over `rows` rows (see [`crate::kernels::ForwardFn`]), compiled for the build target.
///
/// # Panics
/// If a slice is shorter than its documented shape.
pub fn forward_rows(
    rows: usize,
    hidden: usize,
    bias: &[f32],
    gates: &mut [f32],
    c_prev: Option<&[f32]>,
    c: &mut [f32],
    h: &mut [f32],
    tanh_c: Option<&mut [f32]>,
) {
    forward_rows_impl(rows, hidden, bias, gates, c_prev, c, h, tanh_c)
}

/// Backward pass over `rows` rows (see [`crate::kernels::BackwardFn`]), compiled for the build target.
///
/// # Panics
/// If a slice is shorter than its documented shape.
pub fn backward_rows(
    rows: usize,
    hidden: usize,
    gates: &mut [f32],
    c_prev: Option<&[f32]>,
    tanh_c: &[f32],
    dh_out: Option<&[f32]>,
    dh_rec: &[f32],
    dc: &mut [f32],
) {
    backward_rows_impl(rows, hidden, gates, c_prev, tanh_c, dh_out, dh_rec, dc)
}

/// The same passes compiled with AVX2 + FMA enabled; reachable only through [`kernel`], which checks the CPU.
#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_rows_avx2(
        rows: usize,
        hidden: usize,
        bias: &[f32],
        gates: &mut [f32],
        c_prev: Option<&[f32]>,
        c: &mut [f32],
        h: &mut [f32],
        tanh_c: Option<&mut [f32]>,
    ) {
        super::forward_rows_impl(rows, hidden, bias, gates, c_prev, c, h, tanh_c)
    }

    #[target_feature(enable = "avx2,fma")]
    unsafe fn backward_rows_avx2(
        rows: usize,
        hidden: usize,
        gates: &mut [f32],
        c_prev: Option<&[f32]>,
        tanh_c: &[f32],
        dh_out: Option<&[f32]>,
        dh_rec: &[f32],
        dc: &mut [f32],
    ) {
        super::backward_rows_impl(rows, hidden, gates, c_prev, tanh_c, dh_out, dh_rec, dc)
    }

    pub(in crate::kernels) fn forward_rows(
        rows: usize,
        hidden: usize,
        bias: &[f32],
        gates: &mut [f32],
        c_prev: Option<&[f32]>,
        c: &mut [f32],
        h: &mut [f32],
        tanh_c: Option<&mut [f32]>,
    ) {
        // SAFETY: this function is only handed out by `kernel()` after detecting avx2 and fma at run time.
        unsafe { forward_rows_avx2(rows, hidden, bias, gates, c_prev, c, h, tanh_c) }
    }

    pub(in crate::kernels) fn backward_rows(
        rows: usize,
        hidden: usize,
        gates: &mut [f32],
        c_prev: Option<&[f32]>,
        tanh_c: &[f32],
        dh_out: Option<&[f32]>,
        dh_rec: &[f32],
        dc: &mut [f32],
    ) {
        // SAFETY: this function is only handed out by `kernel()` after detecting avx2 and fma at run time.
        unsafe { backward_rows_avx2(rows, hidden, gates, c_prev, tanh_c, dh_out, dh_rec, dc) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative error of [`recip`] over a strided sweep of the positive normal floats below 2¹²⁶
    /// (where the hardware estimate is defined), compared with the f64 quotient.
    #[test]
    fn reciprocal_error_bound() {
        let mut worst = 0.0f64;
        let mut bits = f32::MIN_POSITIVE.to_bits();
        let limit = 2.0f32.powi(126).to_bits();
        let mut batch = [1.0f32; LANES];
        let mut k = 0;
        while bits < limit {
            batch[k] = f32::from_bits(bits);
            k += 1;
            if k == LANES {
                let r = recip(f32x8::from(batch)).to_array();
                for l in 0..LANES {
                    let exact = 1.0 / f64::from(batch[l]);
                    worst = worst.max((f64::from(r[l]) - exact).abs() / exact);
                }
                k = 0;
            }
            bits += 4093;
        }
        assert!(
            worst <= 4.0 * f64::from(f32::EPSILON),
            "recip max rel error {worst:e}"
        );
        eprintln!("recip max rel error {worst:e}");
    }

    /// NaN in, NaN out (in every lane position); the infinities saturate like the exact functions.
    #[test]
    fn nan_and_infinities() {
        for lane in 0..LANES {
            let mut x = [0.5f32; LANES];
            x[lane] = f32::NAN;
            let v = f32x8::from(x);
            for (name, y) in [("exp", exp(v)), ("sigmoid", sigmoid(v)), ("tanh", tanh(v))] {
                let y = y.to_array();
                assert!(y[lane].is_nan(), "{name}(NaN) = {} in lane {lane}", y[lane]);
                assert!(y
                    .iter()
                    .enumerate()
                    .all(|(l, v)| l == lane || v.is_finite()));
            }
        }
        let v = f32x8::from([
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e30,
            -1e30,
            0.0,
            -0.0,
            88.0,
            -87.0,
        ]);
        let (s, t) = (sigmoid(v).to_array(), tanh(v).to_array());
        for l in 0..LANES {
            let x = f64::from(v.to_array()[l]);
            assert!(
                (f64::from(s[l]) - 1.0 / (1.0 + (-x).exp())).abs() <= 1e-6,
                "sigmoid({x}) = {}",
                s[l]
            );
            assert!(
                (f64::from(t[l]) - x.tanh()).abs() <= 1e-6,
                "tanh({x}) = {}",
                t[l]
            );
        }
    }

    /// Max |approx − exact| of σ and tanh over (a strided sweep of) every finite f32, and relative error
    /// of exp on its clamped domain.
    #[test]
    fn simd_math_error_bounds() {
        let (mut e_sig, mut e_tanh, mut e_exp) = (0.0f64, 0.0f64, 0.0f64);
        let mut e_tanh_rel = 0.0f64;
        let mut bits: u32 = 0;
        let mut batch = [0.0f32; LANES];
        let mut k = 0;
        loop {
            let x = f32::from_bits(bits);
            if x.is_finite() {
                batch[k] = x;
                k += 1;
            }
            if k == LANES {
                let v = f32x8::from(batch);
                let (s, t, e) = (sigmoid(v).to_array(), tanh(v).to_array(), exp(v).to_array());
                for l in 0..LANES {
                    let xd = batch[l] as f64;
                    e_sig = e_sig.max((s[l] as f64 - 1.0 / (1.0 + (-xd).exp())).abs());
                    e_tanh = e_tanh.max((t[l] as f64 - xd.tanh()).abs());
                    if xd != 0.0 {
                        e_tanh_rel = e_tanh_rel.max((t[l] as f64 / xd.tanh() - 1.0).abs());
                    }
                    if (-87.0..=88.0).contains(&xd) {
                        let ex = xd.exp();
                        e_exp = e_exp.max((e[l] as f64 - ex).abs() / ex);
                    }
                }
                k = 0;
            }
            match bits.checked_add(997) {
                Some(b) => bits = b,
                None => break,
            }
        }
        assert!(e_sig <= 1e-6, "sigmoid max abs error {e_sig:e}");
        assert!(e_tanh <= 1e-6, "tanh max abs error {e_tanh:e}");
        assert!(
            e_exp <= 4.0 * f32::EPSILON as f64,
            "exp max rel error {e_exp:e}"
        );
        assert!(
            e_tanh_rel <= 8.0 * f32::EPSILON as f64,
            "tanh max rel error {e_tanh_rel:e}"
        );
        eprintln!(
            "max abs error: sigmoid {e_sig:e}, tanh {e_tanh:e}; max rel error: exp {e_exp:e}, tanh {e_tanh_rel:e}"
        );
    }
}
