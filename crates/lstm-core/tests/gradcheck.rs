//! Central finite differences in f64 against the analytic BPTT gradient of every parameter and the input.

mod common;

use common::{problem, run, Problem};
use lstm_core::{ForwardOptions, Lstm, LstmConfig, PackedBatch};

/// L = Σ g_h ⊙ h_n + Σ g_c ⊙ c_n + Σ g_out ⊙ outputs.
fn loss(
    lstm: &mut Lstm<f64>,
    p: &Problem<f64>,
    params: &[f64],
    batch: &PackedBatch<f64>,
    seed: u64,
) -> f64 {
    let out = lstm.forward(
        params,
        batch,
        ForwardOptions {
            keep_outputs: true,
            train_seed: Some(seed),
        },
    );
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    dot(&out.h_n, &p.g_h)
        + dot(&out.c_n, &p.g_c)
        + dot(out.outputs.as_deref().unwrap_or(&[]), &p.g_out)
}

/// Fourth-order central difference: f'(0) ≈ (−f(2ε) + 8f(ε) − 8f(−ε) + f(−2ε)) / 12ε, error O(ε⁴).
fn central(mut f: impl FnMut(f64) -> f64, eps: f64) -> f64 {
    (-f(2.0 * eps) + 8.0 * f(eps) - 8.0 * f(-eps) + f(-2.0 * eps)) / (12.0 * eps)
}

fn rel_err(analytic: f64, numeric: f64) -> f64 {
    (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(1e-3)
}

fn check(layers: usize, input: usize, hidden: usize, lengths: &[usize], dropout: f64, seed: u64) {
    check_dirs(layers, input, hidden, lengths, dropout, false, seed);
}

/// Like [`check`], bidirectional: every tensor incl. `*_reverse`, h_n/c_n `[2L, B, H]`, outputs `[N, 2H]`.
fn check_bi(
    layers: usize,
    input: usize,
    hidden: usize,
    lengths: &[usize],
    dropout: f64,
    seed: u64,
) {
    let worst = check_dirs(layers, input, hidden, lengths, dropout, true, seed);
    eprintln!("BIDIR_FD_WORST {worst:e}");
}

/// Returns the worst relative error over every parameter and input element.
fn check_dirs(
    layers: usize,
    input: usize,
    hidden: usize,
    lengths: &[usize],
    dropout: f64,
    bidirectional: bool,
    seed: u64,
) -> f64 {
    let config = LstmConfig {
        input_size: input,
        hidden_size: hidden,
        num_layers: layers,
        dropout,
        bidirectional,
    };
    let p = problem::<f64>(config, lengths, seed);
    let mut lstm = Lstm::<f64>::new(config);
    let (_, gp, gx) = run(&mut lstm, &p, seed);
    let eps = 1e-4;
    let mut worst = 0.0f64;
    let mut params = p.params.clone();
    for i in 0..params.len() {
        let v = params[i];
        let numeric = central(
            |d| {
                params[i] = v + d;
                let l = loss(&mut lstm, &p, &params, &p.batch, seed);
                params[i] = v;
                l
            },
            eps,
        );
        let e = rel_err(gp[i], numeric);
        let name = &lstm
            .layout()
            .tensors()
            .iter()
            .find(|t| t.range.contains(&i))
            .map(|t| t.name.clone())
            .unwrap_or_default();
        assert!(e <= 1e-6, "L{layers} H{hidden} bi {bidirectional} {lengths:?}: {name} (flat {i}) analytic {} numeric {numeric} rel {e:e}", gp[i]);
        worst = worst.max(e);
    }
    let mut data = p.batch.data().to_vec();
    let n_rows = data.len() / input;
    for j in 0..data.len() {
        let v = data[j];
        let batch_at = |data: &[f64]| rebuild(&p.batch, data, lengths);
        let numeric = central(
            |d| {
                data[j] = v + d;
                let l = loss(&mut lstm, &p, &p.params, &batch_at(&data), seed);
                data[j] = v;
                l
            },
            eps,
        );
        let e = rel_err(gx[j], numeric);
        assert!(
            e <= 1e-6,
            "L{layers} H{hidden}: input row {} col {}: analytic {} rel {e:e}",
            j / input,
            j % input,
            gx[j]
        );
        worst = worst.max(e);
    }
    eprintln!("L{layers} I{input} H{hidden} lengths {lengths:?} dropout {dropout} bidirectional {bidirectional}: {} params, {n_rows} frames, worst rel err {worst:e}", p.params.len());
    worst
}

/// The same batch with its packed data replaced.
fn rebuild(batch: &PackedBatch<f64>, packed: &[f64], lengths: &[usize]) -> PackedBatch<f64> {
    let i = batch.input_size();
    let seqs: Vec<Vec<f64>> = (0..lengths.len())
        .map(|b| {
            (0..lengths[b])
                .flat_map(|t| packed[batch.row_of(b, t) * i..][..i].to_vec())
                .collect()
        })
        .collect();
    let refs: Vec<&[f64]> = seqs.iter().map(|s| s.as_slice()).collect();
    PackedBatch::from_sequences(&refs, i)
}

#[test]
fn one_layer_hidden_1_batch_1_length_1() {
    check(1, 3, 1, &[1], 0.0, 1);
}

#[test]
fn one_layer_hidden_17_unequal_lengths() {
    check(1, 4, 17, &[3, 5, 1], 0.0, 2);
}

#[test]
fn two_layers_hidden_7_unequal_lengths() {
    check(2, 5, 7, &[2, 6, 1, 4], 0.0, 3);
}

#[test]
fn three_layers_hidden_9_batch_1() {
    check(3, 3, 9, &[5], 0.0, 4);
}

#[test]
fn three_layers_hidden_17_with_dropout() {
    check(3, 2, 17, &[4, 1, 3], 0.3, 5);
}

#[test]
fn two_layers_many_sequences_spanning_chunks() {
    // 19 sequences: more than one batch chunk.
    let lengths: Vec<usize> = (0..19).map(|b| 1 + (b * 7) % 5).collect();
    check(2, 3, 7, &lengths, 0.0, 6);
}

#[test]
fn bidirectional_one_layer_hidden_1_batch_1_length_1() {
    check_bi(1, 3, 1, &[1], 0.0, 11);
}

#[test]
fn bidirectional_one_layer_hidden_7_unequal_lengths() {
    check_bi(1, 4, 7, &[3, 5, 1, 2], 0.0, 12);
}

#[test]
fn bidirectional_two_layers_hidden_9_unequal_lengths() {
    check_bi(2, 3, 9, &[2, 4, 1, 3], 0.0, 13);
}

#[test]
fn bidirectional_three_layers_hidden_5_batch_1() {
    check_bi(3, 2, 5, &[4], 0.0, 14);
}

#[test]
fn bidirectional_three_layers_hidden_3_with_dropout() {
    check_bi(3, 2, 3, &[3, 1, 4], 0.3, 15);
}

#[test]
fn bidirectional_two_layers_many_sequences_spanning_chunks() {
    // 19 sequences: more than one batch chunk.
    let lengths: Vec<usize> = (0..19).map(|b| 1 + (b * 7) % 5).collect();
    check_bi(2, 2, 3, &lengths, 0.2, 16);
}
