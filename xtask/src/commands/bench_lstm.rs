//! `cargo xtask bench-lstm`: training and inference throughput of lstm-core for the nine Table-1 shapes,
//! side by side with PyTorch (`../shared/peers/torch_lstm_bench.py`) in the same run.
//!
//! The run has `--rounds` rounds (default 3). Each round measures the FMA peak (from registers only) and
//! the recurrent step product alone on one thread (its weights in L2: a cache-bound reference, see
//! [`measured_step_product`]), then both sides on all shapes, PyTorch first in odd rounds and ours first
//! in even ones, so that a drift of the machine's speed during the run does not favour one side. The
//! table gives, per shape, the median over rounds of each throughput and the median of the per-round
//! ratios, with their range (min–max over rounds): a ratio compares two measurements taken at most a
//! minute apart.
//!
//! Our training step = forward (training mode) + BPTT with a gradient on the last layer's h_n + a plain
//! SGD update of every parameter; PyTorch's step = forward + backward + Adam on the same LSTM plus an
//! 8-way Linear head (negligible work). Both use 2 threads by default and report the median of 5 timed
//! steps after 2 warm-up steps.
//!
//! PyTorch runs with `torch.set_flush_denormal(True)` (set before the peer script starts; the script
//! itself is unchanged) unless `--peer-denormals`. On an Intel Xeon with AVX-512, its LSTM backward
//! otherwise meets subnormal gradients and slows down by an order of magnitude (L1h128, batch 32 × 300:
//! 21.7 k training frames/s with PyTorch's default, 176 k with flushing); the flushed figure is the
//! fair, stronger peer. lstm-core's own training showed no such slowdown there (the same epochs of a
//! real L3h128 unit took the same time with the flush-to-zero and denormals-are-zero bits set).
//!
//! FP32 peak, measured: every rayon thread runs 12 independent fused multiply-add chains at once (enough
//! to keep both FMA pipes busy despite their latency), on the widest vectors the CPU has (16 lanes with
//! AVX-512, else `f32x8`), best of 3 (see [`measured_fma_peak`]). The nominal figure, cores × 2 FMA
//! units × lanes × 2 flops × the `cpu MHz` of /proc/cpuinfo, is printed beside it; a VM's reported clock
//! can be below the clock it runs at. Where the packed products run on AMX tiles (f32 as bf16x3, see
//! `lstm_core::kernels::step_gemm`), that part of the work does not use the FMA units at all, so the
//! "% peak" column says how our f32-equivalent rate compares with the FMA peak, not how busy the FMAs
//! are. Training FLOPs count the
//! GEMMs only: forward 2·4H·(in_k + H) per frame and layer; backward the same twice for dW_ih and dW_hh
//! and dh, plus 2·4H·in_k for dX of every layer above the first.

use anyhow::Context;
use lstm_core::init::{init_lstm_seeded, InitConfig};
use lstm_core::kernels::isa::Isa;
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
    /// Timed repetitions per measurement (median reported), on both sides.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Rounds of (FMA peak, step product alone, PyTorch, ours), the order of the two sides alternating;
    /// medians reported.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Run PyTorch with its default handling of subnormal floats instead of flushing them to zero.
    #[arg(long)]
    peer_denormals: bool,
}

/// Nine Table-1 LSTM shapes `(layers, hidden)`, in table order.
fn shapes() -> impl Iterator<Item = (usize, usize)> {
    (1..=3).flat_map(|layers| [32, 64, 128].map(|hidden| (layers, hidden)))
}

/// One round: the FMA peak, ours per shape (table order), and PyTorch's rows when it ran.
struct Round {
    peak: f64,
    step_product: Option<f64>,
    ours: Vec<Ours>,
    torch: Option<Vec<TorchRow>>,
}

/// Median of `values` (upper median for an even count); NaN when empty.
fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// `(median, min, max)` of `values`; NaN and ±∞ when empty.
fn spread(values: &[f64]) -> (f64, f64, f64) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (median(values.to_vec()), lo, hi)
}

/// `"median (min–max)"` of per-round ratios, or just the median for one round.
fn ratio_cell(ratios: &[f64]) -> String {
    let (mid, lo, hi) = spread(ratios);
    if ratios.len() < 2 {
        return format!("{mid:.2}");
    }
    format!("{mid:.2} ({lo:.2}–{hi:.2})")
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
    median(
        (0..reps.max(1))
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed().as_secs_f64()
            })
            .collect(),
    )
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

/// `f32` lanes of the widest FMA vectors this CPU has.
fn fma_lanes() -> usize {
    if Isa::Avx512.is_available() {
        16
    } else {
        8
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
    (
        cores,
        ghz,
        cores as f64 * 2.0 * fma_lanes() as f64 * 2.0 * ghz,
    )
}

/// Rounds of the FMA loop per thread and measurement.
const FMA_ITERS: usize = 50_000_000;
/// Independent FMA chains per thread.
const FMA_CHAINS: usize = 12;

/// `FMA_ITERS` rounds of 12 independent `a ← a·b + c` on 16 lanes (AVX-512); returns their sum.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_chains_avx512() -> f32 {
    use std::arch::x86_64::*;
    let mut acc: [__m512; FMA_CHAINS] = std::array::from_fn(|i| _mm512_set1_ps(i as f32));
    let scale = std::hint::black_box(_mm512_set1_ps(0.999_999));
    let shift = std::hint::black_box(_mm512_set1_ps(1e-7));
    for _ in 0..FMA_ITERS {
        for a in acc.iter_mut() {
            *a = _mm512_fmadd_ps(*a, scale, shift);
        }
    }
    acc.iter().map(|&a| _mm512_reduce_add_ps(a)).sum()
}

/// Measured FP32 peak in GFLOP/s over all rayon threads: each runs `FMA_ITERS` rounds of 12 independent
/// `a ← a·b + c` on the widest vectors (16 or 8 lanes, 2 flops per lane), all threads at once; best of
/// 3 runs.
fn measured_fma_peak() -> f64 {
    let lanes = fma_lanes();
    let chains = |_: rayon::BroadcastContext<'_>| -> f32 {
        #[cfg(target_arch = "x86_64")]
        if lanes == 16 {
            // SAFETY: `fma_lanes` returns 16 only when AVX-512 was detected.
            return unsafe { fma_chains_avx512() };
        }
        let mut acc: [f32x8; FMA_CHAINS] = std::array::from_fn(|i| f32x8::splat(i as f32));
        let (scale, shift) = (
            std::hint::black_box(f32x8::splat(0.999_999)),
            std::hint::black_box(f32x8::splat(1e-7)),
        );
        for _ in 0..FMA_ITERS {
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
        let flops = sums.len() as f64 * FMA_ITERS as f64 * FMA_CHAINS as f64 * 2.0 * lanes as f64;
        best = best.max(flops / secs / 1e9);
    }
    best
}

/// One thread's rate, in GFLOP/s, of the recurrent step product at L·h128 (`[16×128]·[128×512]`
/// against packed weights, 256 KB, which stay in this core's L2), best of 5 rounds of 2000 calls, on the
/// selected micro-kernel (AMX, AVX-512 or AVX2); `None` when the CPU has none. Beside the FMA loop, which runs from registers only, it shows
/// how fast the caches serve a kernel at the time of the run.
fn measured_step_product() -> Option<f64> {
    use lstm_core::kernels::step_gemm::{available, matmul_f32, PackedPanels};
    if !available() {
        return None;
    }
    let (m, k, n) = (16, 128, 512);
    let a: Vec<f32> = (0..m * k)
        .map(|i| ((i * 31 % 17) as f32 - 8.0) / 80.0)
        .collect();
    let w: Vec<f32> = (0..k * n)
        .map(|i| ((i * 7 % 23) as f32 - 11.0) / 110.0)
        .collect();
    let mut packed = PackedPanels::default();
    packed.pack(k, n, &w, n, 1);
    let mut out = vec![0.0f32; m * n];
    const CALLS: usize = 2000;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..CALLS {
            matmul_f32(m, &a, k, &packed, &mut out, n, true);
            std::hint::black_box(&mut out);
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    Some(2.0 * (m * k * n * CALLS) as f64 / best / 1e9)
}

/// One PyTorch row: `(layers, hidden)` and `(train fr/s, infer fr/s)`.
type TorchRow = ((usize, usize), (f64, f64));

/// Runs the peer script as `__main__` after `torch.set_flush_denormal(True)`, with the script's own
/// arguments after it (`python -c WRAPPER SCRIPT ARGS…`).
const FLUSH_DENORMAL_WRAPPER: &str = "import runpy, sys, torch\n\
    torch.set_flush_denormal(True)\n\
    sys.argv = sys.argv[1:]\n\
    runpy.run_path(sys.argv[0], run_name='__main__')\n";

/// PyTorch rows, or why not; subnormals flushed to zero unless `denormals`.
fn torch_rows(
    python: &str,
    batch: usize,
    frames: usize,
    reps: usize,
    denormals: bool,
) -> anyhow::Result<Vec<TorchRow>> {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers/torch_lstm_bench.py");
    let mut command = Command::new(python);
    if !denormals {
        command.args(["-c", FLUSH_DENORMAL_WRAPPER]);
    }
    let out = command
        .arg(&script)
        .args([
            "--json",
            "--batch",
            &batch.to_string(),
            "--frames",
            &frames.to_string(),
            "--reps",
            &reps.to_string(),
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
        args.batch > 0 && args.frames > 0 && args.rounds > 0,
        "--batch, --frames and --rounds must be positive"
    );
    let (cores, ghz, nominal) = fp32_peak();
    let python = (!args.no_peer).then(|| {
        args.python
            .clone()
            .or_else(|| std::env::var("SER_PYTHON").ok())
            .unwrap_or_else(|| "python3".into())
    });
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
    let mut peer_error = None;
    let mut rounds: Vec<Round> = Vec::with_capacity(args.rounds);
    for round in 0..args.rounds {
        eprintln!("bench-lstm: round {} of {}", round + 1, args.rounds);
        let peak = measured_fma_peak();
        let step_product = measured_step_product();
        let mut run_peer = || match (&python, &peer_error) {
            (Some(python), None) => {
                match torch_rows(
                    python,
                    args.batch,
                    args.frames,
                    args.reps,
                    args.peer_denormals,
                ) {
                    Ok(rows) => Some(rows),
                    Err(e) => {
                        peer_error = Some(format!("{e:#}"));
                        None
                    }
                }
            }
            _ => None,
        };
        let run_ours = || -> Vec<Ours> {
            shapes()
                .map(|(layers, hidden)| measure(layers, hidden, &batch, args.reps))
                .collect()
        };
        let (torch, ours) = if round % 2 == 0 {
            let torch = run_peer();
            (torch, run_ours())
        } else {
            let ours = run_ours();
            (run_peer(), ours)
        };
        rounds.push(Round {
            peak,
            step_product,
            ours,
            torch,
        });
    }
    if let Some(e) = &peer_error {
        println!("PyTorch side skipped: {e}");
    }
    let peaks: Vec<f64> = rounds.iter().map(|r| r.peak).collect();
    let (peak, peak_lo, peak_hi) = spread(&peaks);
    let step_products: Vec<f64> = rounds.iter().filter_map(|r| r.step_product).collect();
    let step_note = if step_products.is_empty() {
        String::new()
    } else {
        let (mid, lo, hi) = spread(&step_products);
        format!(
            "; step product alone {mid:.0} GFLOP/s on one thread ({lo:.0}–{hi:.0}; [16×128]·[128×512], weights in L2)"
        )
    };
    println!(
        "lstm-core vs PyTorch{}: batch {} × {} frames, input {INPUT}, {} rayon threads, kernel {kernel:?} on {isa}, matrix products on {products}, {} round(s), medians over rounds; FP32 peak {peak:.0} GFLOP/s measured ({peak_lo:.0}–{peak_hi:.0}; FMA loop on every thread; nominal {nominal:.0} = {cores} cores × 2 FMA × {lanes} lanes × 2 × {ghz:.2} GHz from /proc/cpuinfo){step_note}",
        if args.peer_denormals { " (PyTorch's default subnormals)" } else { " (PyTorch with set_flush_denormal)" },
        args.batch,
        args.frames,
        rayon::current_num_threads(),
        args.rounds,
        lanes = fma_lanes(),
        isa = Isa::selected().map_or("no SIMD".to_string(), |i| format!("{i:?}")),
        products = lstm_core::kernels::products_summary(),
    );
    println!("| shape    | ours train fr/s | ours infer fr/s | train GFLOP/s | % peak | torch train fr/s | train ×           | torch infer fr/s | infer ×           |");
    println!("|----------|----------------:|----------------:|--------------:|-------:|-----------------:|------------------:|-----------------:|------------------:|");
    for (s, (layers, hidden)) in shapes().enumerate() {
        let column =
            |f: &dyn Fn(&Ours) -> f64| median(rounds.iter().map(|r| f(&r.ours[s])).collect());
        let (train, infer, gflops) = (
            column(&|o| o.train),
            column(&|o| o.infer),
            column(&|o| o.gflops),
        );
        // Per round: PyTorch's (train, infer) for this shape, when it ran.
        let peer: Vec<(f64, f64, &Ours)> = rounds
            .iter()
            .filter_map(|r| {
                let rows = r.torch.as_ref()?;
                let (_, v) = rows.iter().find(|(k, _)| *k == (layers, hidden))?;
                Some((v.0, v.1, &r.ours[s]))
            })
            .collect();
        let (tt, tr, ti, ir) = if peer.is_empty() {
            ("-".into(), "-".into(), "-".into(), "-".into())
        } else {
            let train_ratios: Vec<f64> = peer.iter().map(|(t, _, o)| o.train / t).collect();
            let infer_ratios: Vec<f64> = peer.iter().map(|(_, i, o)| o.infer / i).collect();
            (
                format!("{:.0}", median(peer.iter().map(|p| p.0).collect())),
                ratio_cell(&train_ratios),
                format!("{:.0}", median(peer.iter().map(|p| p.1).collect())),
                ratio_cell(&infer_ratios),
            )
        };
        println!(
            "| L{layers}h{hidden:<5} | {train:>15.0} | {infer:>15.0} | {gflops:>13.1} | {:>5.1}% | {tt:>16} | {tr:>17} | {ti:>16} | {ir:>17} |",
            100.0 * gflops / peak.max(1e-9)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_middle_value() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 3.0);
        assert!(median(Vec::new()).is_nan());
    }

    #[test]
    fn ratio_cell_gives_median_and_range() {
        assert_eq!(ratio_cell(&[1.5]), "1.50");
        assert_eq!(ratio_cell(&[2.0, 1.0, 3.0]), "2.00 (1.00–3.00)");
        assert_eq!(spread(&[5.0, 2.0, 9.0, 4.0]), (5.0, 2.0, 9.0));
    }

    #[test]
    fn nine_table1_shapes_in_order() {
        let all: Vec<_> = shapes().collect();
        assert_eq!(all.len(), 9);
        assert_eq!(all[0], (1, 32));
        assert_eq!(all[5], (2, 128));
        assert_eq!(all[8], (3, 128));
    }
}
