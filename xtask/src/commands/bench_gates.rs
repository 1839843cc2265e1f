//! `cargo xtask bench-gates`: the fused gate passes alone, scalar and wide, as the best time over many
//! rounds.
//!
//! On a VM whose speed drifts, a median still moves with the drift. The best of several hundred short
//! rounds is much steadier, so it can show a change of a few per cent between two builds. Each call
//! starts from the same realistic pre-activations: a copy of them is made before every forward call, and
//! of the forward's activations before every backward call. The copies are inside the timed loop; they
//! are the same for every build and kernel. One thread. The forward pass is timed as training runs it,
//! keeping tanh(c_t) for the backward pass, which reads it.
//!
//! Reported: nanoseconds per hidden unit and row (time of one call / (rows · H)).

use lstm_core::kernels::{gates_wide, GateKernel};
use std::hint::black_box;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// Rows per call (active sequences of one chunk at one time step).
    #[arg(long, default_value_t = 16)]
    rows: usize,
    /// Timed rounds per measurement; the best one is reported.
    #[arg(long, default_value_t = 300)]
    rounds: usize,
    /// Calls per round.
    #[arg(long, default_value_t = 200)]
    calls: usize,
}

/// Inputs of one gate pass: `pre: [rows, 4H]` in −3..3, `c_prev: [rows, H]` in −1..1, bias 0.1,
/// upstream `dh: [rows, H]` = 0.01.
struct Inputs {
    hidden: usize,
    rows: usize,
    pre: Vec<f32>,
    bias: Vec<f32>,
    c_prev: Vec<f32>,
    dh: Vec<f32>,
}

impl Inputs {
    fn new(rows: usize, hidden: usize) -> Self {
        let spread = |n: usize, mult: usize, modulus: usize, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|i| ((i * mult % modulus) as f32 / modulus as f32 - 0.5) * scale)
                .collect()
        };
        Inputs {
            hidden,
            rows,
            pre: spread(rows * 4 * hidden, 7919, 1013, 6.0),
            bias: vec![0.1; 4 * hidden],
            c_prev: spread(rows * hidden, 31, 101, 2.0),
            dh: vec![0.01; rows * hidden],
        }
    }
}

/// Best seconds per call of the forward and the backward pass of `kernel`.
fn time_kernel(kernel: GateKernel<f32>, x: &Inputs, rounds: usize, calls: usize) -> (f64, f64) {
    let (rows, h) = (x.rows, x.hidden);
    let mut gates = x.pre.clone();
    let (mut c, mut out) = (vec![0.0f32; rows * h], vec![0.0f32; rows * h]);
    let mut tanh_c = vec![0.0f32; rows * h];
    let mut dc = vec![0.0f32; rows * h];
    let (mut forward, mut backward) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..rounds.max(1) {
        let start = Instant::now();
        for _ in 0..calls {
            gates.copy_from_slice(&x.pre);
            kernel.forward(
                rows,
                h,
                &x.bias,
                &mut gates,
                Some(&x.c_prev),
                &mut c,
                &mut out,
                Some(&mut tanh_c),
            );
        }
        forward = forward.min(start.elapsed().as_secs_f64());
        let activations = gates.clone();
        let start = Instant::now();
        for _ in 0..calls {
            gates.copy_from_slice(&activations);
            dc.fill(0.0);
            kernel.backward(
                rows,
                h,
                &mut gates,
                Some(&x.c_prev),
                &tanh_c,
                None,
                &x.dh,
                &mut dc,
            );
        }
        backward = backward.min(start.elapsed().as_secs_f64());
        black_box((&gates, &out, &dc));
    }
    let per_call = calls.max(1) as f64;
    (forward / per_call, backward / per_call)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    anyhow::ensure!(args.rows > 0, "--rows must be positive");
    let wide = gates_wide::kernel().ok_or_else(|| anyhow::anyhow!("no wide kernel for f32"))?;
    println!(
        "gate passes alone (training: forward keeps tanh(c)): {} rows per call, best of {} rounds × {} calls, one thread; ns per hidden unit and row",
        args.rows, args.rounds, args.calls
    );
    println!("| H   | scalar forward | wide forward | scalar backward | wide backward |");
    println!("|-----|---------------:|-------------:|----------------:|--------------:|");
    for hidden in [32, 64, 128] {
        let inputs = Inputs::new(args.rows, hidden);
        let units = (args.rows * hidden) as f64;
        let (sf, sb) = time_kernel(GateKernel::scalar(), &inputs, args.rounds, args.calls);
        let (wf, wb) = time_kernel(wide, &inputs, args.rounds, args.calls);
        let ns = |s: f64| s / units * 1e9;
        println!(
            "| {hidden:<3} | {:>14.2} | {:>12.2} | {:>15.2} | {:>13.2} |",
            ns(sf),
            ns(wf),
            ns(sb),
            ns(wb)
        );
    }
    Ok(())
}
