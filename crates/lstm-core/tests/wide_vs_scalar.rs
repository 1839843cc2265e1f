//! The SIMD gate kernel against the scalar reference: kernel level and whole forward/backward, f32.

mod common;

use common::{assert_close, problem, rng, run};
use lstm_core::kernels::{gates_scalar, gates_wide, GateKernel};
use lstm_core::{KernelKind, Lstm, LstmConfig};
use proptest::prelude::*;
use rand::Rng;

const HIDDEN: [usize; 5] = [1, 7, 8, 9, 17];

/// Absolute floor of the kernel-level comparisons. Relative error means nothing where terms cancel
/// (c = f·c_prev + i·g, dc = dc_next·f + …), so the floor is the approximations' own absolute error
/// (σ, tanh ≤ 2e-7, measured in `gates_wide`) carried through one pass with this test's input ranges
/// (c_prev up to 3, dh up to 2, dc up to 1): at most about 1.2e-6. A floor of 1e-7 failed on such a case.
const KERNEL_ABS: f64 = 2e-6;

fn rand_vec(r: &mut impl Rng, n: usize, a: f32) -> Vec<f32> {
    (0..n).map(|_| r.gen_range(-a..a)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn fused_passes_match_scalar(hi in 0usize..5, rows in 1usize..6, with_prev in any::<bool>(), with_out in any::<bool>(), seed in any::<u64>()) {
        let h = HIDDEN[hi];
        let mut r = rng(seed);
        let bias = rand_vec(&mut r, 4 * h, 1.0);
        let pre = rand_vec(&mut r, rows * 4 * h, 6.0);
        let c_prev = rand_vec(&mut r, rows * h, 3.0);
        let cp = with_prev.then_some(c_prev.as_slice());
        let (mut g_s, mut g_w) = (pre.clone(), pre.clone());
        let (mut c_s, mut h_s) = (vec![f32::NAN; rows * h], vec![f32::NAN; rows * h]);
        let (mut c_w, mut h_w) = (vec![f32::NAN; rows * h], vec![f32::NAN; rows * h]);
        let (mut tc_s, mut tc_w) = (vec![f32::NAN; rows * h], vec![f32::NAN; rows * h]);
        gates_scalar::forward_rows(rows, h, &bias, &mut g_s, cp, &mut c_s, &mut h_s, Some(&mut tc_s));
        let wide = gates_wide::kernel().expect("f32 has a wide kernel");
        wide.forward(rows, h, &bias, &mut g_w, cp, &mut c_w, &mut h_w, Some(&mut tc_w));
        assert_close("gates", &g_w, &g_s, 1e-5, KERNEL_ABS);
        assert_close("c", &c_w, &c_s, 1e-5, KERNEL_ABS);
        assert_close("h", &h_w, &h_s, 1e-5, KERNEL_ABS);
        assert_close("tanh(c)", &tc_w, &tc_s, 1e-5, KERNEL_ABS);
        // Inference (no tanh(c) kept) computes the same values, bit for bit, in both kernels.
        for (name, kernel, want_c, want_h) in [
            ("scalar", GateKernel::<f32>::scalar(), &c_s, &h_s),
            ("wide", wide, &c_w, &h_w),
        ] {
            let mut g = pre.clone();
            let (mut c, mut hh) = (vec![f32::NAN; rows * h], vec![f32::NAN; rows * h]);
            kernel.forward(rows, h, &bias, &mut g, cp, &mut c, &mut hh, None);
            prop_assert!(c.iter().zip(want_c).all(|(a, b)| a.to_bits() == b.to_bits()), "{} c", name);
            prop_assert!(hh.iter().zip(want_h).all(|(a, b)| a.to_bits() == b.to_bits()), "{} h", name);
        }

        let dh_out = rand_vec(&mut r, rows * h, 1.0);
        let dh_rec = rand_vec(&mut r, rows * h, 1.0);
        let dc0 = rand_vec(&mut r, rows * h, 1.0);
        let dho = with_out.then_some(dh_out.as_slice());
        let (mut dc_s, mut dc_w) = (dc0.clone(), dc0.clone());
        // Same activations into both backward passes.
        let mut g_w2 = g_s.clone();
        gates_scalar::backward_rows(rows, h, &mut g_s, cp, &tc_s, dho, &dh_rec, &mut dc_s);
        wide.backward(rows, h, &mut g_w2, cp, &tc_s, dho, &dh_rec, &mut dc_w);
        assert_close("dgates", &g_w2, &g_s, 1e-5, KERNEL_ABS);
        assert_close("dc", &dc_w, &dc_s, 1e-5, KERNEL_ABS);
    }

    #[test]
    fn lstm_wide_matches_scalar(hi in 0usize..5, layers in 1usize..4, input in 1usize..10, lens in proptest::collection::vec(1usize..9, 1..20), seed in any::<u64>()) {
        let config = LstmConfig::new(input, HIDDEN[hi], layers);
        let p = problem::<f32>(config, &lens, seed);
        let mut scalar = Lstm::<f32>::with_kernel(config, KernelKind::Scalar).unwrap();
        let mut wide = Lstm::<f32>::with_kernel(config, KernelKind::Wide).unwrap();
        let (o_s, gp_s, gx_s) = run(&mut scalar, &p, seed);
        let (o_w, gp_w, gx_w) = run(&mut wide, &p, seed);
        assert_close("h_n", &o_w.h_n, &o_s.h_n, 1e-5, 1e-6);
        assert_close("c_n", &o_w.c_n, &o_s.c_n, 1e-5, 1e-6);
        assert_close("outputs", o_w.outputs.as_deref().unwrap(), o_s.outputs.as_deref().unwrap(), 1e-5, 1e-6);
        assert_close("grad params", &gp_w, &gp_s, 1e-5, 1e-5);
        assert_close("grad input", &gx_w, &gx_s, 1e-5, 1e-5);
    }

    #[test]
    fn bidirectional_lstm_wide_matches_scalar(hi in 0usize..5, layers in 1usize..4, input in 1usize..10, lens in proptest::collection::vec(1usize..9, 1..20), dropout in prop_oneof![Just(0.0), Just(0.3)], seed in any::<u64>()) {
        let config = LstmConfig { dropout, bidirectional: true, ..LstmConfig::new(input, HIDDEN[hi], layers) };
        let p = problem::<f32>(config, &lens, seed);
        let mut scalar = Lstm::<f32>::with_kernel(config, KernelKind::Scalar).unwrap();
        let mut wide = Lstm::<f32>::with_kernel(config, KernelKind::Wide).unwrap();
        let (o_s, gp_s, gx_s) = run(&mut scalar, &p, seed);
        let (o_w, gp_w, gx_w) = run(&mut wide, &p, seed);
        assert_close("h_n", &o_w.h_n, &o_s.h_n, 1e-5, 1e-6);
        assert_close("c_n", &o_w.c_n, &o_s.c_n, 1e-5, 1e-6);
        assert_close("outputs", o_w.outputs.as_deref().unwrap(), o_s.outputs.as_deref().unwrap(), 1e-5, 1e-6);
        assert_close("grad params", &gp_w, &gp_s, 1e-5, 1e-5);
        assert_close("grad input", &gx_w, &gx_s, 1e-5, 1e-5);
    }
}

#[test]
fn wide_is_unavailable_for_f64() {
    assert!(Lstm::<f64>::with_kernel(LstmConfig::new(2, 3, 1), KernelKind::Wide).is_err());
}

/// A NaN anywhere upstream must reach the outputs with either kernel, never become a finite number:
/// the training loop detects divergence by a non-finite loss or gradient. Kernel level (a NaN
/// pre-activation in each gate, in turn) and whole LSTM (a NaN in one recurrent weight).
#[test]
fn nan_propagates_through_both_kernels() {
    let (rows, h) = (2, 9);
    let wide = gates_wide::kernel().expect("f32 has a wide kernel");
    let bias = vec![0.1f32; 4 * h];
    for gate in 0..4 {
        // Column 3 (a SIMD lane) and column 8 (the scalar tail) of row 1.
        for col in [3, 8] {
            let mut pre = vec![0.2f32; rows * 4 * h];
            pre[4 * h + gate * h + col] = f32::NAN;
            let c_prev = vec![0.5f32; rows * h];
            for (name, kernel) in [
                ("scalar", lstm_core::kernels::GateKernel::<f32>::scalar()),
                ("wide", wide),
            ] {
                let mut g = pre.clone();
                let (mut c, mut hh) = (vec![0.0f32; rows * h], vec![0.0f32; rows * h]);
                let mut tc = vec![0.0f32; rows * h];
                kernel.forward(
                    rows,
                    h,
                    &bias,
                    &mut g,
                    Some(&c_prev),
                    &mut c,
                    &mut hh,
                    Some(&mut tc),
                );
                // The output gate feeds h only; i, f and g feed c and through it h.
                assert!(
                    hh[h + col].is_nan(),
                    "{name}: NaN in gate {gate}, column {col} gave h = {}",
                    hh[h + col]
                );
                assert_eq!(
                    c[h + col].is_nan(),
                    gate != 3,
                    "{name}: gate {gate}, column {col}: c = {}",
                    c[h + col]
                );
                assert!(
                    hh[..h].iter().all(|v| v.is_finite()),
                    "{name}: NaN leaked into another row"
                );
                let (dh_rec, mut dc) = (vec![0.3f32; rows * h], vec![0.1f32; rows * h]);
                let mut dg = g.clone();
                kernel.backward(rows, h, &mut dg, Some(&c_prev), &tc, None, &dh_rec, &mut dc);
                assert!(
                    dg[4 * h + gate * h + col].is_nan(),
                    "{name}: NaN in gate {gate}, column {col} vanished in backward"
                );
            }
        }
    }
    let config = LstmConfig::new(3, 16, 2);
    let mut p = problem::<f32>(config, &[4, 3, 2], 5);
    let w_hh = lstm_core::ParamLayout::new(&config).layer(1).weight_hh;
    p.params[w_hh.start + 7] = f32::NAN;
    for kind in [KernelKind::Scalar, KernelKind::Wide] {
        let mut lstm = Lstm::<f32>::with_kernel(config, kind).unwrap();
        let (out, grad, _) = run(&mut lstm, &p, 1);
        let top = &out.h_n[3 * 16..];
        assert!(
            top.iter().any(|v| v.is_nan()),
            "{kind:?}: NaN weight gave a finite top-layer state"
        );
        assert!(
            grad.iter().any(|v| v.is_nan()),
            "{kind:?}: NaN weight gave a finite gradient"
        );
    }
}
