//! Forward results and every gradient against PyTorch `nn.LSTM` (fixtures/lstm/make_fixtures.py), for
//! 1, 2 and 3 layers with packed variable lengths, uni- and bidirectional, in f32 (wide and scalar
//! kernels) and f64.

mod common;

use common::assert_close;
use lstm_core::{ForwardOptions, KernelKind, Lstm, LstmConfig, LstmGradients, PackedBatch, Real};
use safetensors::{Dtype, SafeTensors};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/lstm");

/// A tensor as f64 values plus its shape.
fn tensor(st: &SafeTensors<'_>, name: &str) -> (Vec<f64>, Vec<usize>) {
    let t = st
        .tensor(name)
        .unwrap_or_else(|e| panic!("fixture tensor {name}: {e}"));
    let b = t.data();
    let v = match t.dtype() {
        Dtype::F32 => b
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        Dtype::F64 => b
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect(),
        Dtype::I64 => b
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
            .collect(),
        d => panic!("fixture tensor {name}: unexpected dtype {d:?}"),
    };
    (v, t.shape().to_vec())
}

fn cast<T: Real>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::from_f64(x)).collect()
}

fn check<T: Real>(layers: usize, kind: KernelKind, rel: f64, abs: f64) {
    check_dirs::<T>(layers, false, kind, rel, abs);
}

/// Returns, over every compared value, the worst relative error |ours − torch| / max(|ours|, |torch|, 1e-3)
/// and the worst use of the tolerance, |ours − torch| / (rel·max(|ours|, |torch|) + abs) (≤ 1 passes).
fn check_dirs<T: Real>(
    layers: usize,
    bidirectional: bool,
    kind: KernelKind,
    rel: f64,
    abs: f64,
) -> (f64, f64) {
    let file = if bidirectional { "lstm_bi" } else { "lstm" };
    let bytes = std::fs::read(format!("{DIR}/{file}_l{layers}.safetensors"))
        .expect("fixture missing: run fixtures/lstm/make_fixtures.py");
    let st = SafeTensors::deserialize(&bytes).expect("fixture is valid safetensors");
    let (x, xs) = tensor(&st, "x");
    let (b, t_max, input) = (xs[0], xs[1], xs[2]);
    let lengths: Vec<usize> = tensor(&st, "lengths")
        .0
        .iter()
        .map(|&l| l as usize)
        .collect();
    let hidden = tensor(&st, "weight_hh_l0").1[1];
    let config = LstmConfig {
        bidirectional,
        ..LstmConfig::new(input, hidden, layers)
    };
    let mut lstm = Lstm::<T>::with_kernel(config, kind).unwrap();
    let torch_count: usize = st
        .names()
        .iter()
        .filter(|n| n.starts_with("weight_") || n.starts_with("bias_"))
        .map(|n| tensor(&st, n).0.len())
        .sum();
    assert_eq!(config.num_params(), torch_count, "num_params vs torch");
    let mut params = vec![T::NAN; config.num_params()];
    for spec in lstm.layout().tensors().to_vec() {
        let (v, shape) = tensor(&st, &spec.name);
        assert_eq!(shape, spec.shape, "{} shape", spec.name);
        params[spec.range.clone()].copy_from_slice(&cast::<T>(&v));
    }
    let batch = PackedBatch::from_padded(&cast::<T>(&x), b, t_max, input, &lengths);
    let out = lstm.forward(
        &params,
        &batch,
        ForwardOptions {
            keep_outputs: true,
            train_seed: Some(0),
        },
    );
    let what = format!(
        "L{layers} bidirectional {bidirectional} {kind:?} {}",
        std::any::type_name::<T>()
    );
    let mut worst = (0.0f64, 0.0f64);
    let mut close = |name: &str, got: &[T], want: &[f64]| {
        assert_close(&format!("{what} {name}"), got, want, rel, abs);
        for (g, w) in got.iter().zip(want) {
            let (g, w) = (g.to_f64(), *w);
            let (err, big) = ((g - w).abs(), g.abs().max(w.abs()));
            worst.0 = worst.0.max(err / big.max(1e-3));
            worst.1 = worst.1.max(err / (rel * big + abs));
        }
    };
    close("h_n", &out.h_n, &tensor(&st, "h_n").0);
    close("c_n", &out.c_n, &tensor(&st, "c_n").0);
    close(
        "outputs",
        out.outputs.as_deref().unwrap(),
        &tensor(&st, "outputs").0,
    );

    let (g_h, g_c, g_o) = (
        cast::<T>(&tensor(&st, "grad_h_n").0),
        cast::<T>(&tensor(&st, "grad_c_n").0),
        cast::<T>(&tensor(&st, "grad_outputs").0),
    );
    let mut gp = vec![T::ZERO; params.len()];
    let mut gx = vec![T::NAN; batch.data().len()];
    lstm.backward(
        &params,
        &batch,
        LstmGradients {
            h_n: Some(&g_h),
            c_n: Some(&g_c),
            outputs: Some(&g_o),
        },
        &mut gp,
        Some(&mut gx),
    );
    for spec in lstm.layout().tensors() {
        close(
            &format!("grad {}", spec.name),
            &gp[spec.range.clone()],
            &tensor(&st, &format!("grad.{}", spec.name)).0,
        );
    }
    // torch's grad.x is padded [B, T, I]; ours is packed.
    let want_x = tensor(&st, "grad.x").0;
    let mut got_padded = vec![T::ZERO; want_x.len()];
    for (bi, &l) in lengths.iter().enumerate() {
        for t in 0..l {
            let row = batch.row_of(bi, t);
            got_padded[(bi * t_max + t) * input..][..input]
                .copy_from_slice(&gx[row * input..][..input]);
        }
    }
    close("grad x", &got_padded, &want_x);
    worst
}

#[test]
fn matches_pytorch_f32_wide() {
    for layers in 1..=3 {
        check::<f32>(layers, KernelKind::Wide, 1e-5, 1e-6);
    }
}

#[test]
fn matches_pytorch_f32_scalar() {
    for layers in 1..=3 {
        check::<f32>(layers, KernelKind::Scalar, 1e-5, 1e-6);
    }
}

#[test]
fn matches_pytorch_f64() {
    for layers in 1..=3 {
        check::<f64>(layers, KernelKind::Scalar, 1e-10, 1e-12);
    }
}

#[test]
fn bidirectional_matches_pytorch_f32_wide() {
    for layers in 1..=3 {
        let worst = check_dirs::<f32>(layers, true, KernelKind::Wide, 1e-5, 1e-6);
        eprintln!(
            "BIDIR_PARITY f32 wide L{layers}: worst rel err {:e}, tolerance used {:.3}",
            worst.0, worst.1
        );
    }
}

#[test]
fn bidirectional_matches_pytorch_f32_scalar() {
    for layers in 1..=3 {
        let worst = check_dirs::<f32>(layers, true, KernelKind::Scalar, 1e-5, 1e-6);
        eprintln!(
            "BIDIR_PARITY f32 scalar L{layers}: worst rel err {:e}, tolerance used {:.3}",
            worst.0, worst.1
        );
    }
}

#[test]
fn bidirectional_matches_pytorch_f64() {
    for layers in 1..=3 {
        let worst = check_dirs::<f64>(layers, true, KernelKind::Scalar, 1e-10, 1e-12);
        eprintln!(
            "BIDIR_PARITY f64 L{layers}: worst rel err {:e}, tolerance used {:.3}",
            worst.0, worst.1
        );
    }
}
