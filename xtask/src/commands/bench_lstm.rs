//! `cargo xtask bench-lstm`: training and inference throughput of lstm-core for the nine Table-1 shapes,
//! side by side with PyTorch (`../shared/peers/torch_lstm_bench.py`) in the same run.
//!
//! Our training step = forward (training mode) + BPTT with a gradient on the last layer's h_n + a plain
//! SGD update of every parameter; PyTorch's step = forward + backward + Adam on the same LSTM plus an
//! 8-way Linear head (negligible work). Both use 2 threads by default and report the median of 5 timed
//! steps after 2 warm-up steps.
//!
//! FP32 peak, measured: every rayon thread runs 12 independent `f32x8` fused multiply-add chains at once
//! (enough to keep both FMA pipes busy despite their latency), best of 3 (see [`measured_fma_peak`]).
//! The nominal figure, cores × 2 FMA units × 8 lanes (AVX2) × 2 flops × the `cpu MHz` of /proc/cpuinfo,
//! is printed beside it; a VM's reported clock can be below the clock it runs at. Training FLOPs count the
//! GEMMs only: forward 2·4H·(in_k + H) per frame and layer; backward the same twice for dW_ih and dW_hh
//! and dh, plus 2·4H·in_k for dX of every layer above the first.

use anyhow::Context;
use lstm_core::init::{init_lstm_seeded, InitConfig};
use lstm_core::{ForwardOptions, Lstm, LstmConfig, LstmGradients, PackedBatch, ParamLayout};
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;
use wide::f32x8;

const INPUT: usize = 34;

#[derive(clap::Args)]
pub struct Args {
    /// Sequences per batch.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Frames per sequence.
    #[arg(long, default_value_t = 300)]
    frames: usize,
    /// Python with torch (default: $SER_PYTHON, else python3).
    #[arg(long)]
    python: Option<String>,
    /// Skip the PyTorch side.
    #[arg(long)]
    no_peer: bool,
    /// Timed repetitions per measurement (median reported).
    #[arg(long, default_value_t = 5)]
    reps: usize,
}

struct Ours {
    train: f64,
    infer: f64,
    gflops: f64,
}

/// Median seconds of `reps` calls of `f` after two warm-up calls.
fn median_secs(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    f();
    let mut ts: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    ts.sort_by(|a, b| a.total_cmp(b));
    ts[ts.len() / 2]
}

fn train_flops_per_frame(c: &LstmConfig) -> f64 {
    let h = c.hidden_size as f64;
    (0..c.num_layers)
        .map(|k| {
            let i = c.layer_input_size(k) as f64;
            let fwd = 2.0 * 4.0 * h * (i + h);
            let dx = if k > 0 { 2.0 * 4.0 * h * i } else { 0.0 };
            fwd + fwd + 2.0 * 4.0 * h * h + dx
        })
        .sum()
}

fn measure(layers: usize, hidden: usize, batch: &PackedBatch<f32>, reps: usize) -> Ours {
    let config = LstmConfig::new(INPUT, hidden, layers);
    let layout = ParamLayout::new(&config);
    let mut params = vec![0.0f32; layout.len()];
    init_lstm_seeded(&layout, &InitConfig::paper(), 7, &mut params);
    let mut lstm = Lstm::<f32>::new(config);
    let mut grad = vec![0.0f32; params.len()];
    let g_h: Vec<f32> = vec![0.01; layers * batch.batch_size() * hidden];
    let frames = batch.total_frames() as f64;
    let train = median_secs(reps, || {
        lstm.forward(
            &params,
            batch,
            ForwardOptions {
                keep_outputs: false,
                train_seed: Some(1),
            },
        );
        grad.fill(0.0);
        lstm.backward(
            &params,
            batch,
            LstmGradients {
                h_n: Some(&g_h),
                c_n: None,
                outputs: None,
            },
            &mut grad,
            None,
        );
        for (p, g) in params.iter_mut().zip(&grad) {
            *p -= 1e-6 * g;
        }
    });
    let infer = median_secs(reps, || {
        lstm.forward(
            &params,
            batch,
            ForwardOptions {
                keep_outputs: false,
                train_seed: None,
            },
        );
    });
    Ours {
        train: frames / train,
        infer: frames / infer,
        gflops: frames * train_flops_per_frame(&config) / train / 1e9,
    }
}

/// `(cores, GHz, peak GFLOP/s)`.
fn fp32_peak() -> (usize, f64, f64) {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mhz = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .filter(|l| l.starts_with("cpu MHz"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
                .reduce(f64::max)
        })
        .unwrap_or(0.0);
    let ghz = mhz / 1000.0;
    (cores, ghz, cores as f64 * 2.0 * 8.0 * 2.0 * ghz)
}

/// Measured FP32 peak in GFLOP/s over all rayon threads: each runs `ITERS` rounds of 12 independent
/// `a ← a·b + c` on eight lanes (16 flops each), all threads at once; best of 3 runs.
fn measured_fma_peak() -> f64 {
    const ITERS: usize = 50_000_000;
    const CHAINS: usize = 12;
    let chains = |_: rayon::BroadcastContext<'_>| -> f32 {
        let mut acc: [f32x8; CHAINS] = std::array::from_fn(|i| f32x8::splat(i as f32));
        let (scale, shift) = (
            std::hint::black_box(f32x8::splat(0.999_999)),
            std::hint::black_box(f32x8::splat(1e-7)),
        );
        for _ in 0..ITERS {
            for a in acc.iter_mut() {
                *a = a.mul_add(scale, shift);
            }
        }
        acc.iter().map(|a| a.reduce_add()).sum()
    };
    let mut best = 0.0f64;
    for _ in 0..3 {
        let start = Instant::now();
        let sums: Vec<f32> = rayon::broadcast(chains);
        let secs = start.elapsed().as_secs_f64();
        std::hint::black_box(&sums);
        let flops = sums.len() as f64 * ITERS as f64 * CHAINS as f64 * 16.0;
        best = best.max(flops / secs / 1e9);
    }
    best
}

/// One PyTorch row: `(layers, hidden)` and `(train fr/s, infer fr/s)`.
type TorchRow = ((usize, usize), (f64, f64));

/// PyTorch rows, or why not.
fn torch_rows(python: &str, batch: usize, frames: usize) -> anyhow::Result<Vec<TorchRow>> {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers/torch_lstm_bench.py");
    let out = Command::new(python)
        .arg(&script)
        .args([
            "--json",
            "--batch",
            &batch.to_string(),
            "--frames",
            &frames.to_string(),
        ])
        .output()
        .with_context(|| format!("running {python} {}", script.display()))?;
    anyhow::ensure!(
        out.status.success(),
        "{python} {} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .last()
            .unwrap_or("")
    );
    let rows: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).context("parsing torch_lstm_bench.py --json output")?;
    Ok(rows
        .iter()
        .filter(|r| r["concat"] == serde_json::Value::Bool(false))
        .filter_map(|r| {
            let key = (
                r["layers"].as_u64()? as usize,
                r["hidden"].as_u64()? as usize,
            );
            Some((
                key,
                (
                    r["train_frames_per_s"].as_f64()?,
                    r["infer_frames_per_s"].as_f64()?,
                ),
            ))
        })
        .collect())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.batch > 0 && args.frames > 0,
        "--batch and --frames must be positive"
    );
    let (cores, ghz, nominal) = fp32_peak();
    let torch = if args.no_peer {
        None
    } else {
        let python = args
            .python
            .clone()
            .or_else(|| std::env::var("SER_PYTHON").ok())
            .unwrap_or_else(|| "python3".into());
        match torch_rows(&python, args.batch, args.frames) {
            Ok(rows) => Some(rows),
            Err(e) => {
                println!("PyTorch side skipped: {e:#}");
                None
            }
        }
    };
    let x: Vec<f32> = (0..args.batch * args.frames * INPUT)
        .map(|i| ((i * 7919 % 1013) as f32 / 1013.0 - 0.5) * 3.0)
        .collect();
    let batch = PackedBatch::from_padded(
        &x,
        args.batch,
        args.frames,
        INPUT,
        &vec![args.frames; args.batch],
    );
    let kernel = Lstm::<f32>::new(LstmConfig::new(INPUT, 8, 1)).kernel();
    let peak = measured_fma_peak();
    println!(
        "lstm-core vs PyTorch: batch {} × {} frames, input {INPUT}, {} rayon threads, kernel {kernel:?}; FP32 peak {peak:.0} GFLOP/s measured (FMA loop on every thread; nominal {nominal:.0} = {cores} cores × 2 FMA × 8 lanes × 2 × {ghz:.2} GHz from /proc/cpuinfo)",
        args.batch,
        args.frames,
        rayon::current_num_threads()
    );
    println!("| shape    | ours train fr/s | ours infer fr/s | train GFLOP/s | % peak | torch train fr/s | train × | torch infer fr/s | infer × |");
    println!("|----------|----------------:|----------------:|--------------:|-------:|-----------------:|--------:|-----------------:|--------:|");
    for layers in 1..=3 {
        for hidden in [32, 64, 128] {
            let ours = measure(layers, hidden, &batch, args.reps);
            let peer = torch.as_ref().and_then(|rows| {
                rows.iter()
                    .find(|(k, _)| *k == (layers, hidden))
                    .map(|(_, v)| *v)
            });
            let (tt, tr, ti, ir) = match peer {
                Some((t, i)) => (
                    format!("{t:.0}"),
                    format!("{:.2}", ours.train / t),
                    format!("{i:.0}"),
                    format!("{:.2}", ours.infer / i),
                ),
                None => ("-".into(), "-".into(), "-".into(), "-".into()),
            };
            println!(
                "| L{layers}h{hidden:<5} | {:>15.0} | {:>15.0} | {:>13.1} | {:>5.1}% | {tt:>16} | {tr:>7} | {ti:>16} | {ir:>7} |",
                ours.train,
                ours.infer,
                ours.gflops,
                100.0 * ours.gflops / peak.max(1e-9)
            );
        }
    }
    Ok(())
}
