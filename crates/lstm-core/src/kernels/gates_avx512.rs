//! AVX-512 build of the fused gate passes: 16 lanes per vector, the same equations (see
//! [`super`]) and the same approximations as [`super::gates_wide`], operation for operation.
//!
//! Every lane goes through the same IEEE operations in the same order as in the `wide::f32x8` code
//! (the same FMAs, the same `min`/`max` operand order, `0 − x` for negation, and the same 12-bit
//! reciprocal estimate, taken with `vrcpps` on each 256-bit half), so the two kernels give bit-identical
//! results (test `avx512_equals_avx2_bitwise`) and the error bounds proven for `gates_wide` hold here.
//! Columns past the last full group of 16 go through one masked group of 8 (the same lanes the
//! `f32x8` kernel would compute) and then the scalar `*_cols` functions, exactly like `gates_wide`.
//!
//! Reachable only through [`super::gates_wide::kernel`], which checks the CPU.

use super::gates_scalar::{backward_cols, forward_cols};
use super::{check_backward, check_forward};
use std::arch::x86_64::*;

const LANES: usize = 16;

/// Lane mask of a group of `width` ≤ 16 columns.
#[inline(always)]
fn lanes(width: usize) -> __mmask16 {
    if width >= LANES {
        0xFFFF
    } else {
        (1u16 << width) - 1
    }
}

/// The vector math, lane for lane the same as `gates_wide`'s `exp`, `recip`, `sigmoid`, `tanh`.
mod math {
    use std::arch::x86_64::*;

    #[inline(always)]
    pub(super) fn splat(v: f32) -> __m512 {
        // SAFETY: AVX-512F is enabled in every caller (all are `target_feature` functions of this file).
        unsafe { _mm512_set1_ps(v) }
    }

    /// e^x clamped to x ∈ [−87, 88]; see `gates_wide::exp`.
    #[inline(always)]
    pub(super) unsafe fn exp(x: __m512) -> __m512 {
        // SAFETY: the caller has AVX-512F and FMA enabled.
        unsafe {
            let (q, n) = exp_reduced(x);
            // (q + 1)·2ⁿ in one instruction. `gates_wide` multiplies by 2ⁿ built from its exponent
            // bits; for the integral n ∈ [−126, 127] left by the clamp, both round the same exact
            // product once, so the bits agree.
            _mm512_scalef_ps(_mm512_add_ps(q, splat(1.0)), n)
        }
    }

    /// e^x − 1 as `2ⁿ·q + (2ⁿ − 1)`; see `gates_wide::expm1`. 2ⁿ is exact either way.
    #[inline(always)]
    pub(super) unsafe fn expm1(x: __m512) -> __m512 {
        // SAFETY: the caller has AVX-512F and FMA enabled.
        unsafe {
            let (q, n) = exp_reduced(x);
            let scale = _mm512_scalef_ps(splat(1.0), n);
            _mm512_fmadd_ps(q, scale, _mm512_sub_ps(scale, splat(1.0)))
        }
    }

    /// `(q, n)` with e^x = 2ⁿ·(1 + q); see `gates_wide::exp_reduced`.
    #[inline(always)]
    unsafe fn exp_reduced(x: __m512) -> (__m512, __m512) {
        // SAFETY: the caller has AVX-512F and FMA enabled.
        unsafe {
            let x = _mm512_min_ps(splat(88.0), _mm512_max_ps(splat(-87.0), x));
            let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                _mm512_mul_ps(x, splat(std::f32::consts::LOG2_E)),
            );
            let r = _mm512_fnmadd_ps(n, splat(0.693_359_4), x);
            let r = _mm512_fnmadd_ps(n, splat(-2.121_944_4e-4), r);
            let p = _mm512_fmadd_ps(splat(1.987_569_1e-4), r, splat(1.398_2e-3));
            let p = _mm512_fmadd_ps(p, r, splat(8.333_452e-3));
            let p = _mm512_fmadd_ps(p, r, splat(4.166_579_6e-2));
            let p = _mm512_fmadd_ps(p, r, splat(0.166_666_65));
            let p = _mm512_fmadd_ps(p, r, splat(0.5));
            (_mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r), n)
        }
    }

    /// 1/d by the 12-bit `vrcpps` estimate of each 256-bit half (the instruction `gates_wide` uses;
    /// AVX-512's own `vrcp14ps` is more precise and so would round differently) and one Newton step.
    #[inline(always)]
    pub(super) unsafe fn recip(d: __m512) -> __m512 {
        // SAFETY: the caller has AVX-512F, AVX-512DQ and FMA enabled (AVX is implied).
        unsafe {
            let lo = _mm256_rcp_ps(_mm512_castps512_ps256(d));
            let hi = _mm256_rcp_ps(_mm512_extractf32x8_ps::<1>(d));
            let r = _mm512_insertf32x8::<1>(_mm512_castps256_ps512(lo), hi);
            _mm512_mul_ps(r, _mm512_fnmadd_ps(d, r, splat(2.0)))
        }
    }

    /// σ(x) = 1 / (1 + e^(0 − x)).
    #[inline(always)]
    pub(super) unsafe fn sigmoid(x: __m512) -> __m512 {
        // SAFETY: the caller has AVX-512F, AVX-512DQ and FMA enabled.
        unsafe {
            let minus_x = _mm512_sub_ps(_mm512_setzero_ps(), x);
            recip(_mm512_add_ps(splat(1.0), exp(minus_x)))
        }
    }

    /// tanh(x) = sign(x)·(−m)/(2 + m), m = e^(−2|x|) − 1; see `gates_wide::tanh`.
    #[inline(always)]
    pub(super) unsafe fn tanh(x: __m512) -> __m512 {
        // SAFETY: the caller has AVX-512F, AVX-512DQ and FMA enabled.
        unsafe {
            let sign = _mm512_set1_epi32(i32::MIN);
            let xi = _mm512_castps_si512(x);
            let a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, xi));
            let m = expm1(_mm512_mul_ps(a, splat(-2.0)));
            let t = _mm512_mul_ps(m, recip(_mm512_add_ps(m, splat(2.0))));
            // |t| with the sign of x: bits of t where the mask is 0, of x where it is 1.
            _mm512_castsi512_ps(_mm512_ternarylogic_epi32::<0xCA>(
                sign,
                xi,
                _mm512_castps_si512(t),
            ))
        }
    }
}

use math::{sigmoid, splat, tanh};

/// Loads `width` lanes of `s` from `at` (the rest 0).
///
/// # Safety
/// AVX-512F enabled; `s[at..at + width]` in bounds (checked).
#[inline(always)]
unsafe fn load(s: &[f32], at: usize, mask: __mmask16) -> __m512 {
    let width = mask.count_ones() as usize;
    assert!(at + width <= s.len());
    // SAFETY: the mask covers `width` values from `at`, in bounds by the assertion.
    unsafe { _mm512_maskz_loadu_ps(mask, s.as_ptr().add(at)) }
}

/// Stores `width` lanes of `v` to `s` from `at`.
///
/// # Safety
/// AVX-512F enabled; `s[at..at + width]` in bounds (checked).
#[inline(always)]
unsafe fn store(s: &mut [f32], at: usize, mask: __mmask16, v: __m512) {
    let width = mask.count_ones() as usize;
    assert!(at + width <= s.len());
    // SAFETY: the mask covers `width` values from `at`, in bounds by the assertion.
    unsafe { _mm512_mask_storeu_ps(s.as_mut_ptr().add(at), mask, v) }
}

/// The column groups of a row of `hidden`: full groups of 16, then at most one group of 8; returns
/// `(start, mask)` pairs and the first column left to the scalar code.
#[inline(always)]
fn groups(hidden: usize) -> (impl Iterator<Item = (usize, __mmask16)>, usize) {
    let full16 = hidden / LANES * LANES;
    let full8 = hidden / 8 * 8;
    let iter = (0..full16)
        .step_by(LANES)
        .map(|j| (j, lanes(LANES)))
        .chain((full8 > full16).then_some((full16, lanes(8))));
    (iter, full8)
}

/// Forward pass over `rows` rows (see [`crate::kernels::ForwardFn`]).
///
/// # Safety
/// The CPU must have AVX-512F, AVX-512DQ and FMA.
///
/// # Panics
/// If a slice is shorter than its documented shape.
#[target_feature(enable = "avx512f,avx512dq,fma")]
unsafe fn forward_rows_avx512(
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
    for r in 0..rows {
        let g_row = &mut gates[r * 4 * hidden..(r + 1) * 4 * hidden];
        let cp_row = c_prev.map(|cp| &cp[r * hidden..(r + 1) * hidden]);
        let c_row = &mut c[r * hidden..(r + 1) * hidden];
        let h_row = &mut h[r * hidden..(r + 1) * hidden];
        let mut tc_row = tanh_c
            .as_deref_mut()
            .map(|tc| &mut tc[r * hidden..(r + 1) * hidden]);
        // Two sweeps, as in `gates_wide` (the reasons are given there).
        let (sweep, vector_end) = groups(hidden);
        for (j, m) in sweep {
            // SAFETY: AVX-512F/DQ and FMA are enabled in this function; `load`/`store` check bounds.
            unsafe {
                let pre = |k: usize| {
                    _mm512_add_ps(
                        load(g_row, k * hidden + j, m),
                        load(bias, k * hidden + j, m),
                    )
                };
                let i = sigmoid(pre(0));
                let f = sigmoid(pre(1));
                let g = tanh(pre(2));
                let o = sigmoid(pre(3));
                let ig = _mm512_mul_ps(i, g);
                let cn = match cp_row {
                    Some(cp) => _mm512_fmadd_ps(f, load(cp, j, m), ig),
                    None => ig,
                };
                store(c_row, j, m, cn);
                store(g_row, j, m, i);
                store(g_row, hidden + j, m, f);
                store(g_row, 2 * hidden + j, m, g);
                store(g_row, 3 * hidden + j, m, o);
            }
        }
        let (sweep, _) = groups(hidden);
        for (j, m) in sweep {
            // SAFETY: as above.
            unsafe {
                let tc = tanh(load(c_row, j, m));
                if let Some(tc_row) = tc_row.as_deref_mut() {
                    store(tc_row, j, m, tc);
                }
                store(
                    h_row,
                    j,
                    m,
                    _mm512_mul_ps(load(g_row, 3 * hidden + j, m), tc),
                );
            }
        }
        // Most hidden sizes leave no columns to the scalar code; skip the call then.
        if vector_end < hidden {
            forward_cols(
                vector_end..hidden,
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

/// Backward pass over `rows` rows (see [`crate::kernels::BackwardFn`]).
///
/// # Safety
/// The CPU must have AVX-512F, AVX-512DQ and FMA.
///
/// # Panics
/// If a slice is shorter than its documented shape.
#[target_feature(enable = "avx512f,avx512dq,fma")]
unsafe fn backward_rows_avx512(
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
    let one = splat(1.0);
    for r in 0..rows {
        let row = r * hidden..(r + 1) * hidden;
        let g_row = &mut gates[r * 4 * hidden..(r + 1) * 4 * hidden];
        let cp_row = c_prev.map(|cp| &cp[row.clone()]);
        let tc_row = &tanh_c[row.clone()];
        let dho_row = dh_out.map(|d| &d[row.clone()]);
        let dhr_row = &dh_rec[row.clone()];
        let dc_row = &mut dc[row];
        let (sweep, vector_end) = groups(hidden);
        for (j, m) in sweep {
            // SAFETY: AVX-512F/DQ and FMA are enabled in this function; `load`/`store` check bounds.
            unsafe {
                let i = load(g_row, j, m);
                let f = load(g_row, hidden + j, m);
                let g = load(g_row, 2 * hidden + j, m);
                let o = load(g_row, 3 * hidden + j, m);
                let dh = match dho_row {
                    Some(d) => _mm512_add_ps(load(dhr_row, j, m), load(d, j, m)),
                    None => load(dhr_row, j, m),
                };
                let tc = load(tc_row, j, m);
                let d_o = _mm512_mul_ps(dh, tc);
                let dcn = _mm512_fmadd_ps(
                    _mm512_mul_ps(dh, o),
                    _mm512_sub_ps(one, _mm512_mul_ps(tc, tc)),
                    load(dc_row, j, m),
                );
                let cp = match cp_row {
                    Some(cp) => load(cp, j, m),
                    None => _mm512_setzero_ps(),
                };
                let mul = |a, b| _mm512_mul_ps(a, b);
                let one_minus = |a| _mm512_sub_ps(one, a);
                store(dc_row, j, m, mul(dcn, f));
                store(g_row, j, m, mul(mul(mul(dcn, g), i), one_minus(i)));
                store(
                    g_row,
                    hidden + j,
                    m,
                    mul(mul(mul(dcn, cp), f), one_minus(f)),
                );
                store(
                    g_row,
                    2 * hidden + j,
                    m,
                    mul(mul(dcn, i), one_minus(mul(g, g))),
                );
                store(g_row, 3 * hidden + j, m, mul(mul(d_o, o), one_minus(o)));
            }
        }
        // Most hidden sizes leave no columns to the scalar code; skip the call then.
        if vector_end < hidden {
            backward_cols(
                vector_end..hidden,
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

/// Safe entry point of the forward pass, handed out only after AVX-512F/DQ and FMA were detected.
pub(super) fn forward_rows(
    rows: usize,
    hidden: usize,
    bias: &[f32],
    gates: &mut [f32],
    c_prev: Option<&[f32]>,
    c: &mut [f32],
    h: &mut [f32],
    tanh_c: Option<&mut [f32]>,
) {
    // SAFETY: only `gates_wide::kernel` hands this function out, after `Isa::Avx512.is_available()`.
    unsafe { forward_rows_avx512(rows, hidden, bias, gates, c_prev, c, h, tanh_c) }
}

/// Safe entry point of the backward pass, handed out only after AVX-512F/DQ and FMA were detected.
pub(super) fn backward_rows(
    rows: usize,
    hidden: usize,
    gates: &mut [f32],
    c_prev: Option<&[f32]>,
    tanh_c: &[f32],
    dh_out: Option<&[f32]>,
    dh_rec: &[f32],
    dc: &mut [f32],
) {
    // SAFETY: only `gates_wide::kernel` hands this function out, after `Isa::Avx512.is_available()`.
    unsafe { backward_rows_avx512(rows, hidden, gates, c_prev, tanh_c, dh_out, dh_rec, dc) }
}

#[cfg(test)]
mod tests {
    use super::super::gates_wide::avx2;
    use super::super::isa::Isa;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(rng: &mut ChaCha8Rng, len: usize, scale: f32) -> Vec<f32> {
        (0..len).map(|_| rng.gen_range(-scale..scale)).collect()
    }

    fn same_bits(what: &str, hidden: usize, a: &[f32], b: &[f32]) {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert_eq!(
                x.to_bits(),
                y.to_bits(),
                "{what}, H={hidden}, at {i}: {x} vs {y}"
            );
        }
    }

    /// The AVX-512 passes against the AVX2 build of `gates_wide`, bit for bit: hidden sizes with and
    /// without a group of 8 and a scalar tail, with and without c_prev, tanh_c and dh_out, and
    /// pre-activations from ±0.1 (the tanh polynomial) to ±100 (saturation).
    #[test]
    fn avx512_equals_avx2_bitwise() {
        if !(Isa::Avx512.is_available() && Isa::Avx2.is_available()) {
            eprintln!("AVX-512 or AVX2 missing on this CPU: bitwise comparison not run here");
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for hidden in [1, 7, 8, 9, 15, 16, 17, 24, 25, 31, 32, 33, 40, 64, 100, 128] {
            for rows in [1, 3, 16] {
                for (scale, with_prev, with_tc, with_dho) in [
                    (0.1, true, true, true),
                    (4.0, false, true, false),
                    (100.0, true, false, true),
                ] {
                    let bias = random(&mut rng, 4 * hidden, scale);
                    let gates = random(&mut rng, rows * 4 * hidden, scale);
                    let c_prev = random(&mut rng, rows * hidden, scale);
                    let c_prev = with_prev.then_some(c_prev.as_slice());
                    let mut out = Vec::new();
                    for forward in [
                        super::forward_rows as super::super::ForwardFn<f32>,
                        avx2::forward_rows,
                    ] {
                        let mut g = gates.clone();
                        let (mut c, mut h, mut tc) = (
                            vec![0.0; rows * hidden],
                            vec![0.0; rows * hidden],
                            vec![0.0; rows * hidden],
                        );
                        forward(
                            rows,
                            hidden,
                            &bias,
                            &mut g,
                            c_prev,
                            &mut c,
                            &mut h,
                            with_tc.then_some(&mut tc[..]),
                        );
                        out.push((g, c, h, tc));
                    }
                    let (a, b) = (&out[0], &out[1]);
                    same_bits("forward gates", hidden, &a.0, &b.0);
                    same_bits("forward c", hidden, &a.1, &b.1);
                    same_bits("forward h", hidden, &a.2, &b.2);
                    same_bits("forward tanh(c)", hidden, &a.3, &b.3);

                    let (activations, tanh_c) = (&a.0, &a.3);
                    let dh_out = random(&mut rng, rows * hidden, 1.0);
                    let dh_rec = random(&mut rng, rows * hidden, 1.0);
                    let dc = random(&mut rng, rows * hidden, 1.0);
                    let mut grads = Vec::new();
                    for backward in [
                        super::backward_rows as super::super::BackwardFn<f32>,
                        avx2::backward_rows,
                    ] {
                        let (mut g, mut d) = (activations.clone(), dc.clone());
                        backward(
                            rows,
                            hidden,
                            &mut g,
                            c_prev,
                            tanh_c,
                            with_dho.then_some(&dh_out[..]),
                            &dh_rec,
                            &mut d,
                        );
                        grads.push((g, d));
                    }
                    same_bits("backward gate gradients", hidden, &grads[0].0, &grads[1].0);
                    same_bits("backward dc", hidden, &grads[0].1, &grads[1].1);
                }
            }
        }
    }
}
