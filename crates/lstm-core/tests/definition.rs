//! The forward pass against the LSTM equations written out per sequence and per step, for shapes whose
//! chunks span several input-projection blocks (long sequences, H = 32 and 128): f64 to 1e-12, f32 (SIMD
//! gates, packed step kernel) to 1e-4 (weights U(±0.5) make pre-activations sums of up to 162 terms of
//! order 0.5, and f32 rounding of them carries through up to 300 steps; measured worst ≈ 1.7e-5).
//!
//! ```text
//! (i, f, g, o) = (σ, σ, tanh, σ)(W_ih·x_t + b_ih + W_hh·h_{t−1} + b_hh)
//! c_t = f ⊙ c_{t−1} + i ⊙ g,   h_t = o ⊙ tanh(c_t),   h_0 = c_0 = 0
//! ```

mod common;

use common::{assert_close, convert, problem, Problem};
use lstm_core::{ForwardOptions, Lstm, LstmConfig, LstmOutput, Real};

/// `(h_n, c_n, top outputs)` in the library's layouts (`[L, B, H]`, `[L, B, H]`, packed `[N, H]`).
fn reference(p: &Problem<f64>) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let cfg = &p.config;
    let (h, layers, b) = (cfg.hidden_size, cfg.num_layers, p.batch.batch_size());
    let layout = lstm_core::ParamLayout::new(cfg);
    let n = p.batch.total_frames();
    let (mut h_n, mut c_n) = (vec![0.0; layers * b * h], vec![0.0; layers * b * h]);
    // Packed rows of the current layer's input, replaced by its output after each layer.
    let mut input = p.batch.data().to_vec();
    let mut width = cfg.input_size;
    for k in 0..layers {
        let r = layout.layer(k);
        let (w_ih, w_hh) = (&p.params[r.weight_ih], &p.params[r.weight_hh]);
        let (b_ih, b_hh) = (&p.params[r.bias_ih], &p.params[r.bias_hh]);
        let mut output = vec![0.0; n * h];
        for (seq, &len) in p.batch.lengths().iter().enumerate() {
            let (mut hs, mut cs) = (vec![0.0; h], vec![0.0; h]);
            for t in 0..len {
                let row = p.batch.row_of(seq, t);
                let x = &input[row * width..(row + 1) * width];
                let pre: Vec<f64> = (0..4 * h)
                    .map(|q| {
                        let wx: f64 = (0..width).map(|j| w_ih[q * width + j] * x[j]).sum();
                        let wh: f64 = (0..h).map(|j| w_hh[q * h + j] * hs[j]).sum();
                        wx + b_ih[q] + wh + b_hh[q]
                    })
                    .collect();
                let sigmoid = |v: f64| 1.0 / (1.0 + (-v).exp());
                for j in 0..h {
                    let (i, f) = (sigmoid(pre[j]), sigmoid(pre[h + j]));
                    let (g, o) = (pre[2 * h + j].tanh(), sigmoid(pre[3 * h + j]));
                    cs[j] = f * cs[j] + i * g;
                    hs[j] = o * cs[j].tanh();
                }
                output[row * h..(row + 1) * h].copy_from_slice(&hs);
            }
            h_n[(k * b + seq) * h..][..h].copy_from_slice(&hs);
            c_n[(k * b + seq) * h..][..h].copy_from_slice(&cs);
        }
        input = output;
        width = h;
    }
    (h_n, c_n, input)
}

fn check(layers: usize, input: usize, hidden: usize, lengths: &[usize], seed: u64) {
    let config = LstmConfig::new(input, hidden, layers);
    let p64 = problem::<f64>(config, lengths, seed);
    let p32 = convert::<f64, f32>(&p64, lengths);
    let (h_n, c_n, outputs) = reference(&p64);
    let inference = ForwardOptions {
        keep_outputs: true,
        train_seed: None,
    };
    let o64 = Lstm::<f64>::new(config).forward(&p64.params, &p64.batch, inference);
    compare("f64", &o64, [&h_n, &c_n, &outputs], 1e-12);
    let o32 = Lstm::<f32>::new(config).forward(&p32.params, &p32.batch, inference);
    compare("f32", &o32, [&h_n, &c_n, &outputs], 1e-4);
}

/// `h_n`, `c_n` and the outputs of `got` against `expected` (same order), within `tol` relative + absolute.
fn compare<T: Real>(precision: &str, got: &LstmOutput<T>, expected: [&[f64]; 3], tol: f64) {
    let outputs = got.outputs.as_deref().unwrap_or_default();
    for (name, values, reference) in [
        ("h_n", got.h_n.as_slice(), expected[0]),
        ("c_n", got.c_n.as_slice(), expected[1]),
        ("outputs", outputs, expected[2]),
    ] {
        assert_close(&format!("{precision} {name}"), values, reference, tol, tol);
    }
}

/// Lengths 40..=118 over 20 sequences: two chunks of 10 with ~800 rows each.
fn long_lengths() -> Vec<usize> {
    (0..20).map(|i| 40 + (i * 37) % 79).collect()
}

#[test]
fn two_layers_hidden_128_many_projection_blocks() {
    check(2, 34, 128, &long_lengths(), 11);
}

#[test]
fn one_layer_hidden_32_many_projection_blocks() {
    check(1, 34, 32, &[300, 257, 180, 3, 1, 299, 120], 12);
}
