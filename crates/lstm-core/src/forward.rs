//! Forward pass of one batch chunk through every layer.
//!
//! Per layer k with input `X_k: [n, in_k]` (chunk-local packed rows):
//! ```text
//! for each block of consecutive steps t0..t1 (see [`projection_block_rows`]):
//!     G[t0..t1] = X_k[t0..t1] · W_ihᵀ               one GEMM over the block's rows   [rows, 4H]
//!                                                   (W_ihᵀ packed once per pass, like W_hhᵀ)
//!     for t = t0..t1:  G[t] += h_{t−1} · W_hhᵀ     one GEMM on the b_t active rows  [b_t, 4H]
//!                      (i, f, g, o, c_t, h_t) = fused gate pass over G[t] + b_ih + b_hh
//!                      (training also keeps tanh(c_t) for backward)
//! ```
//! Rows of finished sequences are simply no longer part of the active prefix, so they cost nothing.
//! The input projection runs block by block rather than once for all n rows so that each step's `G[t]`
//! is still in cache when the recurrent product adds to it (for all rows at once, the projection of a
//! 16-sequence chunk of 300 frames at H = 64 is 4.9 MB, and every step re-read its slice from memory).
//! With dropout in training, `X_{k+1} = h_k ⊙ m`, `m ∈ {0, 1/(1−p)}` drawn per element.
//!
//! Bidirectional: each layer runs this twice, forward over `X_k` and reverse over `X_k` gathered into
//! reversed rows (see [`crate::reverse`]); `X_{k+1} = [h_fwd ‖ h_rev]` `[n, 2H]` in natural rows.

use crate::chunk::{fit, fit_layers, ChunkPlan, ChunkWorkspace};
use crate::config::LstmConfig;
use crate::gemm::gemm;
use crate::kernels::step_gemm::PackedPanels;
use crate::kernels::GateKernel;
use crate::layout::ParamLayout;
use crate::packed::PackedBatch;
use crate::real::Real;
use crate::reverse::{concat_directions, direction_rows};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Everything the chunk passes need besides their own workspace.
pub(crate) struct PassContext<'a, T: Real> {
    pub config: &'a LstmConfig,
    pub layout: &'a ParamLayout,
    pub kernel: GateKernel<T>,
    pub params: &'a [T],
    pub batch: &'a PackedBatch<T>,
    /// Some(seed) with dropout > 0 in training: draw inter-layer dropout masks.
    pub dropout_seed: Option<u64>,
    /// Fill workspaces with NaN before use (tests).
    pub poison: bool,
    /// Per layer, the recurrent weights packed for the step product (W_hhᵀ forward, W_hh backward), when
    /// the element type has a packed kernel.
    pub step_weights: Option<&'a [PackedPanels<T>]>,
    /// Per layer, `W_ihᵀ` packed for the input projection (forward only), when the element type has a
    /// packed kernel.
    pub input_weights: Option<&'a [PackedPanels<T>]>,
    /// Keep every step's gate activations (training: backward needs them). Inference keeps only one
    /// projection block's worth, reused block after block, so the gates never leave the cache.
    pub keep_gates: bool,
}

impl<T: Real> PassContext<'_, T> {
    /// Whether layer 0 projects its input straight from the batch's packed rows, step by step, instead
    /// of from the chunk's gathered copy `x0`: in inference (nothing kept for backward), one direction,
    /// with the packed product kernel (which takes any row stride and 16 rows at a time at full speed).
    /// Gathering 34-value rows cost 6–7 % of the inference pass at L1h32.
    pub fn projects_from_batch(&self) -> bool {
        !self.keep_gates && !self.config.bidirectional && self.input_weights.is_some()
    }

    /// The input of layer `k` as seen by its W_ih GEMM: `[n, in_k]`, natural rows.
    pub fn layer_input<'w>(&self, ws: &'w ChunkWorkspace<T>, k: usize) -> &'w [T] {
        if k == 0 {
            &ws.x0
        } else if self.dropout_seed.is_some() {
            &ws.dropped[k]
        } else if self.config.bidirectional {
            &ws.cat[k - 1]
        } else {
            &ws.h[k - 1]
        }
    }
}

/// Runs chunk `index` forward through all layers, leaving the cache in `ws`.
///
/// # Panics
/// If `ctx.params` does not match the layout (checked by the caller), or, bidirectional, if
/// `plan.rev_rows` was not built.
pub(crate) fn forward_chunk<T: Real>(
    ctx: &PassContext<'_, T>,
    plan: &ChunkPlan,
    index: usize,
    ws: &mut ChunkWorkspace<T>,
) {
    let cfg = ctx.config;
    let (h, layers, input, dirs) = (
        cfg.hidden_size,
        cfg.num_layers,
        cfg.input_size,
        cfg.num_directions(),
    );
    let n = plan.rows();
    // Inference reads layer 0's input in place (`projects_from_batch`): no gathered copy.
    fit(
        &mut ws.x0,
        if ctx.projects_from_batch() {
            0
        } else {
            n * input
        },
    );
    fit_layers(&mut ws.gates, layers * dirs);
    for name in [&mut ws.c, &mut ws.tanh_c, &mut ws.h, &mut ws.bias] {
        fit_layers(name, layers * dirs);
    }
    for name in [&mut ws.dropped, &mut ws.mask] {
        fit_layers(name, layers);
    }
    let gate_rows = if ctx.keep_gates {
        n
    } else {
        // A block ends at the first step boundary at or past `projection_block_rows`, so it holds fewer
        // than that plus one step's rows.
        n.min(projection_block_rows::<T>(h) + plan.batch_sizes.first().copied().unwrap_or(0))
    };
    for u in 0..layers * dirs {
        ws.gates[u].fit(gate_rows * 4 * h);
        fit(&mut ws.c[u], n * h);
        fit(&mut ws.tanh_c[u], if ctx.keep_gates { n * h } else { 0 });
        fit(&mut ws.h[u], n * h);
        fit(&mut ws.bias[u], 4 * h);
    }
    for k in 1..layers {
        if ctx.dropout_seed.is_some() {
            fit(&mut ws.dropped[k], n * dirs * h);
            fit(&mut ws.mask[k], n * dirs * h);
        }
    }
    if cfg.bidirectional {
        assert_eq!(plan.rev_rows.len(), n, "forward_chunk: rev_rows not built");
        fit_layers(&mut ws.cat, layers - 1);
        for cat in ws.cat.iter_mut() {
            fit(cat, n * 2 * h);
        }
        fit(&mut ws.xrev, n * cfg.max_layer_input_size());
    }
    if ctx.poison {
        ws.poison_forward();
    }
    let data = ctx.batch.data();
    if !ctx.projects_from_batch() {
        for (local, &global) in plan.global_rows.iter().enumerate() {
            ws.x0[local * input..(local + 1) * input]
                .copy_from_slice(&data[global * input..(global + 1) * input]);
        }
    }
    ctx.kernel.note_use();
    for k in 0..layers {
        for d in 0..dirs {
            forward_unit(ctx, plan, k, d, ws);
        }
        if k + 1 < layers {
            if cfg.bidirectional {
                let (fwd, rev_h) = (&ws.h[2 * k], &ws.h[2 * k + 1]);
                concat_directions(&plan.rev_rows, h, fwd, rev_h, &mut ws.cat[k]);
            }
            if let Some(seed) = ctx.dropout_seed {
                draw_dropout(cfg, seed, index, k + 1, ws);
            }
        }
    }
}

/// Runs direction `d` of layer `k` (unit `u = D·k + d`) over the chunk: the forward direction over the
/// natural rows, the reverse one over its input gathered into reversed rows.
fn forward_unit<T: Real>(
    ctx: &PassContext<'_, T>,
    plan: &ChunkPlan,
    k: usize,
    d: usize,
    ws: &mut ChunkWorkspace<T>,
) {
    let cfg = ctx.config;
    let h = cfg.hidden_size;
    let u = k * cfg.num_directions() + d;
    let ranges = ctx.layout.direction(k, d);
    let in_k = cfg.layer_input_size(k);
    let w_ih = &ctx.params[ranges.weight_ih.clone()];
    let w_hh = &ctx.params[ranges.weight_hh.clone()];
    for (b, (bi, bh)) in ws.bias[u].iter_mut().zip(
        ctx.params[ranges.bias_ih.clone()]
            .iter()
            .zip(&ctx.params[ranges.bias_hh.clone()]),
    ) {
        *b = *bi + *bh;
    }
    let mut gates = std::mem::take(&mut ws.gates[u]);
    let mut xrev = std::mem::take(&mut ws.xrev);
    let mut c = std::mem::take(&mut ws.c[u]);
    let mut tanh_c = std::mem::take(&mut ws.tanh_c[u]);
    let mut hs = std::mem::take(&mut ws.h[u]);
    let from_batch = k == 0 && ctx.projects_from_batch();
    let x = if from_batch {
        &[][..]
    } else {
        direction_rows(d, ctx.layer_input(ws, k), &plan.rev_rows, in_k, &mut xrev)
    };
    let block_rows = projection_block_rows::<T>(h);
    let mut projected_steps = 0;
    // First packed row held by `gates`: 0 when every step is kept, else the current block's first row.
    let mut gates_origin = 0;
    for t in 0..plan.steps() {
        if t == projected_steps {
            // G[t..t1] = X[t..t1] · W_ihᵀ for the next block; W_ihᵀ [in×4H] is W_ih [4H×in] read with
            // strides (1, in).
            let first = plan.offsets[t];
            let mut t1 = t + 1;
            while t1 < plan.steps() && plan.offsets[t1] - first < block_rows {
                t1 += 1;
            }
            let rows = plan.offsets[t1] - first;
            if !ctx.keep_gates {
                gates_origin = first;
            }
            let g_block = &mut gates[(first - gates_origin) * 4 * h..];
            if from_batch {
                project_from_batch(ctx, plan, u, t..t1, g_block);
            } else {
                let x_block = &x[first * in_k..];
                let packed = ctx.input_weights.is_some_and(|w| {
                    T::step_matmul(rows, x_block, in_k, &w[u], g_block, 4 * h, true)
                });
                if !packed {
                    gemm(
                        rows,
                        in_k,
                        4 * h,
                        T::ONE,
                        x_block,
                        in_k as isize,
                        1,
                        w_ih,
                        1,
                        in_k as isize,
                        T::ZERO,
                        g_block,
                        4 * h as isize,
                        1,
                    );
                }
            }
            projected_steps = t1;
        }
        let (bt, off) = (plan.batch_sizes[t], plan.offsets[t]);
        let g_t = &mut gates[(off - gates_origin) * 4 * h..(off - gates_origin + bt) * 4 * h];
        let (c_done, c_now) = c.split_at_mut(off * h);
        let (h_done, h_now) = hs.split_at_mut(off * h);
        let c_prev = if t > 0 {
            let prev = plan.offsets[t - 1];
            // G[t] += h_{t−1} · W_hhᵀ on the active prefix.
            let packed = ctx.step_weights.is_some_and(|w| {
                T::step_matmul(bt, &h_done[prev * h..], h, &w[u], g_t, 4 * h, false)
            });
            if !packed {
                gemm(
                    bt,
                    h,
                    4 * h,
                    T::ONE,
                    &h_done[prev * h..],
                    h as isize,
                    1,
                    w_hh,
                    1,
                    h as isize,
                    T::ONE,
                    g_t,
                    4 * h as isize,
                    1,
                );
            }
            Some(&c_done[prev * h..(prev + bt) * h])
        } else {
            None
        };
        ctx.kernel.forward(
            bt,
            h,
            &ws.bias[u],
            g_t,
            c_prev,
            &mut c_now[..bt * h],
            &mut h_now[..bt * h],
            ctx.keep_gates.then(|| &mut tanh_c[off * h..(off + bt) * h]),
        );
    }
    ws.xrev = xrev;
    ws.gates[u] = gates;
    ws.c[u] = c;
    ws.tanh_c[u] = tanh_c;
    ws.h[u] = hs;
}

/// `G[s] = X[s]·W_ihᵀ` of layer 0 for the steps `steps`, each step's rows read in place from the
/// batch's packed input: the chunk's sequences sit at sorted positions `first, first + stride, …`, so
/// at step s its rows are every `stride`-th row of the step's rows from `first` on. `gates` starts at
/// the first step's rows. Requires [`PassContext::projects_from_batch`].
fn project_from_batch<T: Real>(
    ctx: &PassContext<'_, T>,
    plan: &ChunkPlan,
    u: usize,
    steps: std::ops::Range<usize>,
    gates: &mut [T],
) {
    let (input, h) = (ctx.config.input_size, ctx.config.hidden_size);
    let (first, stride) = plan.position_progression();
    let data = ctx.batch.data();
    let weights = &ctx.input_weights.expect("projects_from_batch: packed W_ih")[u];
    let origin = plan.offsets[steps.start];
    for s in steps {
        let (bt, off) = (plan.batch_sizes[s], plan.offsets[s]);
        let x = &data[(ctx.batch.offsets()[s] + first) * input..];
        let g = &mut gates[(off - origin) * 4 * h..(off - origin + bt) * 4 * h];
        let done = T::step_matmul(bt, x, stride * input, weights, g, 4 * h, true);
        assert!(done, "projects_from_batch: no packed product kernel");
    }
}

/// Rows of one input-projection block: enough for an efficient GEMM (at least 64), few enough that
/// the block's gate pre-activations (`rows × 4H` values of `T`) stay within about 192 KB of cache.
fn projection_block_rows<T: Real>(hidden: usize) -> usize {
    const CACHE_BYTES: usize = 192 * 1024;
    (CACHE_BYTES / (4 * hidden * std::mem::size_of::<T>())).max(64)
}

/// Draws the dropout mask of layer `k`'s input and applies it: `dropped = out_{k−1} ⊙ mask`, with
/// `out_{k−1}` layer k−1's output (`[n, H]`, or `[n, 2H]` concatenated when bidirectional).
/// The stream depends on (seed, chunk, layer) only.
fn draw_dropout<T: Real>(
    cfg: &LstmConfig,
    seed: u64,
    chunk: usize,
    k: usize,
    ws: &mut ChunkWorkspace<T>,
) {
    let p = cfg.dropout;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((chunk as u64) << 16) | k as u64);
    let keep = T::from_f64(1.0 / (1.0 - p));
    let below = if cfg.bidirectional {
        &ws.cat[k - 1]
    } else {
        &ws.h[k - 1]
    };
    let (mask, dropped) = (&mut ws.mask[k], &mut ws.dropped[k]);
    for ((m, d), &x) in mask.iter_mut().zip(dropped.iter_mut()).zip(below.iter()) {
        *m = if rng.gen::<f64>() < p { T::ZERO } else { keep };
        *d = x * *m;
    }
}
