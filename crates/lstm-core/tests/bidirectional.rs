//! A one-layer bidirectional LSTM against its definition: the forward direction is a unidirectional LSTM
//! over the sequences, the reverse direction a unidirectional LSTM over every sequence reversed within its
//! own length. Forward results and every gradient, f64, several batch shapes.

mod common;

use common::{assert_close, problem, run, Problem};
use lstm_core::{ForwardOptions, Lstm, LstmConfig, LstmGradients, PackedBatch};

/// Each sequence of `batch` reversed in time (same lengths, so the same packing).
fn reversed(batch: &PackedBatch<f64>) -> PackedBatch<f64> {
    let i = batch.input_size();
    let seqs: Vec<Vec<f64>> = batch
        .lengths()
        .iter()
        .enumerate()
        .map(|(b, &len)| {
            (0..len)
                .rev()
                .flat_map(|t| batch.data()[batch.row_of(b, t) * i..][..i].to_vec())
                .collect()
        })
        .collect();
    let refs: Vec<&[f64]> = seqs.iter().map(|s| s.as_slice()).collect();
    PackedBatch::from_sequences(&refs, i)
}

/// Unidirectional forward + backward with the given upstream gradients; returns (h_n, c_n, outputs, dθ, dx).
fn uni(
    config: LstmConfig,
    params: &[f64],
    batch: &PackedBatch<f64>,
    g: [&[f64]; 3],
) -> [Vec<f64>; 5] {
    let mut lstm = Lstm::<f64>::new(config);
    let opts = ForwardOptions {
        keep_outputs: true,
        train_seed: Some(0),
    };
    let o = lstm.forward(params, batch, opts);
    let mut gp = vec![0.0; params.len()];
    let mut gx = vec![f64::NAN; batch.data().len()];
    let grads = LstmGradients {
        h_n: Some(g[0]),
        c_n: Some(g[1]),
        outputs: Some(g[2]),
    };
    lstm.backward(params, batch, grads, &mut gp, Some(&mut gx));
    [o.h_n, o.c_n, o.outputs.unwrap_or_default(), gp, gx]
}

/// Packed `[N, H]` rows of `v` (over `batch`) moved to their time-reversed rows.
fn flip_rows(batch: &PackedBatch<f64>, v: &[f64], w: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; v.len()];
    for (b, &len) in batch.lengths().iter().enumerate() {
        for t in 0..len {
            let (src, dst) = (batch.row_of(b, t), batch.row_of(b, len - 1 - t));
            out[dst * w..(dst + 1) * w].copy_from_slice(&v[src * w..(src + 1) * w]);
        }
    }
    out
}

/// Column block `[from, from + w)` of the `[rows, stride]` matrix `v`.
fn columns(v: &[f64], stride: usize, from: usize, w: usize) -> Vec<f64> {
    v.chunks_exact(stride)
        .flat_map(|r| r[from..from + w].to_vec())
        .collect()
}

fn check(input: usize, hidden: usize, lengths: &[usize], seed: u64) {
    let bi = LstmConfig {
        bidirectional: true,
        ..LstmConfig::new(input, hidden, 1)
    };
    let one = LstmConfig::new(input, hidden, 1);
    let p: Problem<f64> = problem(bi, lengths, seed);
    let mut lstm = Lstm::<f64>::new(bi);
    let (o, gp, gx) = run(&mut lstm, &p, seed);

    let (h, b, half) = (hidden, lengths.len(), one.num_params());
    let lbh = b * h;
    let rev_batch = reversed(&p.batch);
    let g_out_f = columns(&p.g_out, 2 * h, 0, h);
    let g_out_r = flip_rows(&p.batch, &columns(&p.g_out, 2 * h, h, h), h);
    let f = uni(
        one,
        &p.params[..half],
        &p.batch,
        [&p.g_h[..lbh], &p.g_c[..lbh], &g_out_f],
    );
    let r = uni(
        one,
        &p.params[half..],
        &rev_batch,
        [&p.g_h[lbh..], &p.g_c[lbh..], &g_out_r],
    );

    let what = format!("I{input} H{hidden} {lengths:?}");
    let tol = (1e-12, 1e-14);
    let want_h_n = [f[0].clone(), r[0].clone()].concat();
    let want_c_n = [f[1].clone(), r[1].clone()].concat();
    assert_close(&format!("{what} h_n"), &o.h_n, &want_h_n, tol.0, tol.1);
    assert_close(&format!("{what} c_n"), &o.c_n, &want_c_n, tol.0, tol.1);
    let out = o.outputs.as_deref().unwrap();
    let out_r = flip_rows(&p.batch, &r[2], h);
    assert_close(
        &format!("{what} outputs fwd"),
        &columns(out, 2 * h, 0, h),
        &f[2],
        tol.0,
        tol.1,
    );
    assert_close(
        &format!("{what} outputs rev"),
        &columns(out, 2 * h, h, h),
        &out_r,
        tol.0,
        tol.1,
    );
    assert_close(
        &format!("{what} grad fwd params"),
        &gp[..half],
        &f[3],
        tol.0,
        tol.1,
    );
    assert_close(
        &format!("{what} grad rev params"),
        &gp[half..],
        &r[3],
        tol.0,
        tol.1,
    );
    let gx_r = flip_rows(&p.batch, &r[4], input);
    let want_gx: Vec<f64> = f[4].iter().zip(&gx_r).map(|(a, b)| a + b).collect();
    assert_close(&format!("{what} grad input"), &gx, &want_gx, tol.0, tol.1);
}

#[test]
fn reverse_direction_is_a_unidirectional_lstm_over_reversed_sequences() {
    check(3, 1, &[1], 1);
    check(4, 7, &[3, 5, 1, 2], 2);
    check(2, 9, &[4, 4, 2], 3);
    let many: Vec<usize> = (0..37).map(|b| 1 + (b * 5) % 7).collect(); // 3 chunks
    check(3, 5, &many, 4);
}

#[test]
fn shapes_of_a_bidirectional_pass() {
    let config = LstmConfig {
        bidirectional: true,
        ..LstmConfig::new(3, 5, 2)
    };
    assert_eq!((config.num_directions(), config.output_size()), (2, 10));
    assert_eq!(config.layer_input_size(1), 10);
    let p = problem::<f32>(config, &[3, 1, 2], 9);
    let mut lstm = Lstm::<f32>::new(config);
    let (o, gp, gx) = run(&mut lstm, &p, 9);
    assert_eq!(o.h_n.len(), 2 * 2 * 3 * 5);
    assert_eq!(o.c_n.len(), 2 * 2 * 3 * 5);
    assert_eq!(o.outputs.as_deref().map(<[f32]>::len), Some(6 * 10));
    assert_eq!(gp.len(), config.num_params());
    assert_eq!(gx.len(), 6 * 3);
    assert!(gp.iter().chain(&gx).all(|v| v.is_finite()));
}
