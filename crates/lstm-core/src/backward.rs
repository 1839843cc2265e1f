//! Backward pass (BPTT) of one batch chunk through every layer, top to bottom.
//!
//! Per layer k, with `dH_k: [n, H]` the gradient reaching its outputs from above (from the next layer's
//! input gradient, or the caller's output gradient for the last layer):
//! ```text
//! for t = T−1..0:  rows of sequences ending at t get dh = dL/dh_n, dc = dL/dc_n
//!                  dG[t], dc_{t−1} = fused gate backward(dH_k[t] + dh_rec, dc)
//!                  dh_rec = dG[t] · W_hh                          [b_t, 4H]·[4H, H]
//! dW_hh = dGᵀ · H_prev      dW_ih = dGᵀ · X_k       (two GEMMs over all n rows)
//! db_ih = db_hh = Σ_rows dG  dX_k = dG · W_ih
//! ```
//! `H_prev` holds, for the row of (t, r), the output h_{t−1} of the same sequence (zero for t = 0, whose
//! rows are skipped). The stored gates are overwritten by dG, so the cache serves one backward only.
//!
//! Bidirectional: `dH_k [n, 2H]` splits into the forward half (natural rows) and the reverse half
//! (gathered into reversed rows, see [`crate::reverse`]); each direction runs the loop above on its own
//! rows, and `dX_k = dG_fwd · W_ih,fwd + rev(dG_rev · W_ih,rev)`, the reverse term scattered back.

use crate::chunk::{fit, ChunkPlan, ChunkWorkspace};
use crate::forward::PassContext;
use crate::gemm::gemm;
use crate::real::Real;
use crate::reverse::{add_gathered, direction_rows, split_directions};

/// Upstream gradients in the batch's global layouts.
pub(crate) struct Upstream<'a, T> {
    /// dL/dh_n `[L·D, B, H]`, original batch order.
    pub h_n: Option<&'a [T]>,
    /// dL/dc_n `[L·D, B, H]`.
    pub c_n: Option<&'a [T]>,
    /// dL/d outputs `[N, D·H]`, packed order.
    pub outputs: Option<&'a [T]>,
    /// Whether dL/dx of layer 0 is wanted (written to `ws.dx0`).
    pub want_input: bool,
}

/// Runs BPTT for one chunk, writing its partial gradient into `ws.grad` (overwritten, len P) and, when
/// asked, the layer-0 input gradient into `ws.dx0: [n, I]`.
pub(crate) fn backward_chunk<T: Real>(
    ctx: &PassContext<'_, T>,
    up: &Upstream<'_, T>,
    plan: &ChunkPlan,
    ws: &mut ChunkWorkspace<T>,
) {
    let cfg = ctx.config;
    let (h, layers, width) = (cfg.hidden_size, cfg.num_layers, cfg.output_size());
    let n = plan.rows();
    let b0 = plan.batch_sizes.first().copied().unwrap_or(0);
    fit(&mut ws.grad, ctx.layout.len());
    fit(&mut ws.dh_rec, b0 * h);
    fit(&mut ws.dc, b0 * h);
    fit(&mut ws.h_prev, n * h);
    fit(&mut ws.dh_out, n * width);
    if up.want_input {
        fit(&mut ws.dx0, n * cfg.input_size);
    }
    if cfg.bidirectional {
        fit(&mut ws.dh_split, 2 * n * h);
        fit(&mut ws.xrev, n * cfg.max_layer_input_size());
    }
    if ctx.poison {
        ws.poison_backward();
    }
    ctx.kernel.note_use();

    // Output gradient of the last layer, gathered into chunk rows.
    let mut have_dh_out = false;
    if let Some(d) = up.outputs {
        for (local, &global) in plan.global_rows.iter().enumerate() {
            ws.dh_out[local * width..(local + 1) * width]
                .copy_from_slice(&d[global * width..(global + 1) * width]);
        }
        have_dh_out = true;
    }

    for k in (0..layers).rev() {
        if cfg.bidirectional && have_dh_out {
            split_directions(&plan.rev_rows, h, &ws.dh_out, &mut ws.dh_split);
        }
        for d in 0..cfg.num_directions() {
            backward_unit(ctx, up, plan, k, d, have_dh_out, ws);
        }
        // dX_k: the output gradient of layer k−1 (through the dropout mask), or dL/dx.
        if k > 0 {
            let mut dx = std::mem::take(&mut ws.dh_out);
            input_gradient(ctx, plan, k, ws, &mut dx);
            if ctx.dropout_seed.is_some() {
                for (d, &m) in dx[..n * width].iter_mut().zip(&ws.mask[k]) {
                    *d *= m;
                }
            }
            ws.dh_out = dx;
            have_dh_out = true;
        } else if up.want_input {
            let mut dx = std::mem::take(&mut ws.dx0);
            input_gradient(ctx, plan, k, ws, &mut dx);
            ws.dx0 = dx;
        }
    }
}

/// BPTT of direction `d` of layer `k` (unit `u = D·k + d`): leaves dG in `ws.gates[u]` and writes the
/// unit's dW_hh, dW_ih, db_ih, db_hh into `ws.grad`. The reverse direction works in reversed rows.
fn backward_unit<T: Real>(
    ctx: &PassContext<'_, T>,
    up: &Upstream<'_, T>,
    plan: &ChunkPlan,
    k: usize,
    d: usize,
    have_dh_out: bool,
    ws: &mut ChunkWorkspace<T>,
) {
    let cfg = ctx.config;
    let (h, batch) = (cfg.hidden_size, ctx.batch.batch_size());
    let u = k * cfg.num_directions() + d;
    let n = plan.rows();
    let b0 = plan.batch_sizes.first().copied().unwrap_or(0);
    let ranges = ctx.layout.direction(k, d);
    let in_k = cfg.layer_input_size(k);
    let w_hh = &ctx.params[ranges.weight_hh.clone()];
    let mut dg = std::mem::take(&mut ws.gates[u]);
    let (c, tanh_c, hs) = (&ws.c[u], &ws.tanh_c[u], &ws.h[u]);
    // This direction's output gradient [n, H]: natural rows forward, reversed rows reverse.
    let dh_src: &[T] = if cfg.bidirectional {
        &ws.dh_split[d * n * h..(d + 1) * n * h]
    } else {
        &ws.dh_out
    };
    for t in (0..plan.steps()).rev() {
        let (bt, off) = (plan.batch_sizes[t], plan.offsets[t]);
        let b_next = plan.batch_sizes.get(t + 1).copied().unwrap_or(0);
        // Sequences whose last frame is t start their recurrence with the final-state gradients.
        for r in b_next..bt {
            let b = ctx.batch.sorted_indices()[plan.seqs[r]];
            let at = (u * batch + b) * h;
            let rows = r * h..(r + 1) * h;
            match up.h_n {
                Some(g) => ws.dh_rec[rows.clone()].copy_from_slice(&g[at..at + h]),
                None => ws.dh_rec[rows.clone()].fill(T::ZERO),
            }
            match up.c_n {
                Some(g) => ws.dc[rows].copy_from_slice(&g[at..at + h]),
                None => ws.dc[rows].fill(T::ZERO),
            }
        }
        let c_prev = (t > 0).then(|| &c[plan.offsets[t - 1] * h..(plan.offsets[t - 1] + bt) * h]);
        let dg_t = &mut dg[off * 4 * h..(off + bt) * 4 * h];
        let dh_out = have_dh_out.then(|| &dh_src[off * h..(off + bt) * h]);
        ctx.kernel.backward(
            bt,
            h,
            dg_t,
            c_prev,
            &tanh_c[off * h..(off + bt) * h],
            dh_out,
            &ws.dh_rec[..bt * h],
            &mut ws.dc[..bt * h],
        );
        if t > 0 {
            // dh_{t−1} (active prefix) = dG[t] · W_hh, W_hh [4H×H] row-major.
            let packed = ctx
                .step_weights
                .is_some_and(|w| T::step_matmul(bt, dg_t, 4 * h, &w[u], &mut ws.dh_rec, h, true));
            if !packed {
                gemm(
                    bt,
                    4 * h,
                    h,
                    T::ONE,
                    dg_t,
                    4 * h as isize,
                    1,
                    w_hh,
                    h as isize,
                    1,
                    T::ZERO,
                    &mut ws.dh_rec,
                    h as isize,
                    1,
                );
            }
        }
    }

    // Previous outputs aligned with the rows of steps t ≥ 1.
    for t in 1..plan.steps() {
        let (bt, off, prev) = (plan.batch_sizes[t], plan.offsets[t], plan.offsets[t - 1]);
        ws.h_prev[off * h..(off + bt) * h].copy_from_slice(&hs[prev * h..(prev + bt) * h]);
    }
    let mut g = std::mem::take(&mut ws.grad);
    // dW_hh [4H×H] = dG[b0..]ᵀ · H_prev[b0..]; dGᵀ is dG read with strides (1, 4H).
    gemm(
        4 * h,
        n - b0,
        h,
        T::ONE,
        &dg[b0 * 4 * h..],
        1,
        4 * h as isize,
        &ws.h_prev[b0 * h..],
        h as isize,
        1,
        T::ZERO,
        &mut g[ranges.weight_hh.clone()],
        h as isize,
        1,
    );
    // dW_ih [4H×in] = dGᵀ · X_k (X_k gathered into reversed rows for the reverse direction).
    let mut xrev = std::mem::take(&mut ws.xrev);
    let x_k = direction_rows(d, ctx.layer_input(ws, k), &plan.rev_rows, in_k, &mut xrev);
    gemm(
        4 * h,
        n,
        in_k,
        T::ONE,
        &dg,
        1,
        4 * h as isize,
        x_k,
        in_k as isize,
        1,
        T::ZERO,
        &mut g[ranges.weight_ih.clone()],
        in_k as isize,
        1,
    );
    ws.xrev = xrev;
    let db = &mut g[ranges.bias_ih.clone()];
    db.fill(T::ZERO);
    for row in dg[..n * 4 * h].chunks_exact(4 * h) {
        for (d, &v) in db.iter_mut().zip(row) {
            *d += v;
        }
    }
    let (db_ih, db_hh) = (ranges.bias_ih.clone(), ranges.bias_hh.clone());
    g.copy_within(db_ih, db_hh.start);
    ws.grad = g;
    ws.gates[u] = dg;
}

/// `dx: [n, in_k]` (natural rows) = Σ_d dG_d · W_ih,d, the reverse direction's term scattered back from
/// reversed rows (through `ws.xrev`).
fn input_gradient<T: Real>(
    ctx: &PassContext<'_, T>,
    plan: &ChunkPlan,
    k: usize,
    ws: &mut ChunkWorkspace<T>,
    dx: &mut [T],
) {
    let cfg = ctx.config;
    let (h, n, in_k) = (cfg.hidden_size, plan.rows(), cfg.layer_input_size(k));
    let dirs = cfg.num_directions();
    for d in 0..dirs {
        let w_ih = &ctx.params[ctx.layout.direction(k, d).weight_ih];
        let out: &mut [T] = if d == 0 { &mut *dx } else { &mut ws.xrev };
        gemm(
            n,
            4 * h,
            in_k,
            T::ONE,
            &ws.gates[k * dirs + d],
            4 * h as isize,
            1,
            w_ih,
            in_k as isize,
            1,
            T::ZERO,
            out,
            in_k as isize,
            1,
        );
    }
    if cfg.bidirectional {
        add_gathered(&plan.rev_rows, &ws.xrev, in_k, &mut dx[..n * in_k]);
    }
}
