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

use crate::chunk::{fit, ChunkPlan, ChunkWorkspace};
use crate::forward::PassContext;
use crate::gemm::gemm;
use crate::real::Real;

/// Upstream gradients in the batch's global layouts.
pub(crate) struct Upstream<'a, T> {
    /// dL/dh_n `[L, B, H]`, original batch order.
    pub h_n: Option<&'a [T]>,
    /// dL/dc_n `[L, B, H]`.
    pub c_n: Option<&'a [T]>,
    /// dL/d outputs `[N, H]`, packed order.
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
    let (h, layers, batch) = (cfg.hidden_size, cfg.num_layers, ctx.batch.batch_size());
    let n = plan.rows();
    let b0 = plan.batch_sizes.first().copied().unwrap_or(0);
    fit(&mut ws.grad, ctx.layout.len());
    fit(&mut ws.dh_rec, b0 * h);
    fit(&mut ws.dc, b0 * h);
    fit(&mut ws.h_prev, n * h);
    fit(&mut ws.dh_out, n * h);
    if up.want_input {
        fit(&mut ws.dx0, n * cfg.input_size);
    }
    if ctx.poison {
        ws.poison_backward();
    }
    ctx.kernel.note_use();

    // Output gradient of the last layer, gathered into chunk rows.
    let mut have_dh_out = false;
    if let Some(d) = up.outputs {
        for (local, &global) in plan.global_rows.iter().enumerate() {
            ws.dh_out[local * h..(local + 1) * h].copy_from_slice(&d[global * h..(global + 1) * h]);
        }
        have_dh_out = true;
    }

    for k in (0..layers).rev() {
        let ranges = ctx.layout.layer(k);
        let in_k = cfg.layer_input_size(k);
        let w_ih = &ctx.params[ranges.weight_ih.clone()];
        let w_hh = &ctx.params[ranges.weight_hh.clone()];
        let mut dg = std::mem::take(&mut ws.gates[k]);
        let (c, hs) = (&ws.c[k], &ws.h[k]);
        for t in (0..plan.steps()).rev() {
            let (bt, off) = (plan.batch_sizes[t], plan.offsets[t]);
            let b_next = plan.batch_sizes.get(t + 1).copied().unwrap_or(0);
            // Sequences whose last frame is t start their recurrence with the final-state gradients.
            for r in b_next..bt {
                let b = ctx.batch.sorted_indices()[plan.seqs[r]];
                let at = (k * batch + b) * h;
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
            let c_prev =
                (t > 0).then(|| &c[plan.offsets[t - 1] * h..(plan.offsets[t - 1] + bt) * h]);
            let dg_t = &mut dg[off * 4 * h..(off + bt) * 4 * h];
            let dh_out = have_dh_out.then(|| &ws.dh_out[off * h..(off + bt) * h]);
            ctx.kernel.backward(
                bt,
                h,
                dg_t,
                c_prev,
                &c[off * h..(off + bt) * h],
                dh_out,
                &ws.dh_rec[..bt * h],
                &mut ws.dc[..bt * h],
            );
            if t > 0 {
                // dh_{t−1} (active prefix) = dG[t] · W_hh, W_hh [4H×H] row-major.
                let packed = ctx.step_weights.is_some_and(|w| {
                    T::step_matmul(bt, dg_t, 4 * h, &w[k], &mut ws.dh_rec, h, true)
                });
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
        let g = &mut ws.grad;
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
        // dW_ih [4H×in] = dGᵀ · X_k.
        let x_k: &[T] = if k == 0 {
            &ws.x0
        } else if ctx.dropout_seed.is_some() {
            &ws.dropped[k]
        } else {
            &ws.h[k - 1]
        };
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
        let db = &mut g[ranges.bias_ih.clone()];
        db.fill(T::ZERO);
        for row in dg[..n * 4 * h].chunks_exact(4 * h) {
            for (d, &v) in db.iter_mut().zip(row) {
                *d += v;
            }
        }
        let (db_ih, db_hh) = (ranges.bias_ih.clone(), ranges.bias_hh.clone());
        g.copy_within(db_ih, db_hh.start);

        // dX_k = dG · W_ih: the output gradient of layer k−1 (through the dropout mask), or dL/dx.
        if k > 0 {
            gemm(
                n,
                4 * h,
                in_k,
                T::ONE,
                &dg,
                4 * h as isize,
                1,
                w_ih,
                in_k as isize,
                1,
                T::ZERO,
                &mut ws.dh_out,
                in_k as isize,
                1,
            );
            if ctx.dropout_seed.is_some() {
                for (d, &m) in ws.dh_out[..n * h].iter_mut().zip(&ws.mask[k]) {
                    *d *= m;
                }
            }
            have_dh_out = true;
        } else if up.want_input {
            gemm(
                n,
                4 * h,
                in_k,
                T::ONE,
                &dg,
                4 * h as isize,
                1,
                w_ih,
                in_k as isize,
                1,
                T::ZERO,
                &mut ws.dx0,
                in_k as isize,
                1,
            );
        }
        ws.gates[k] = dg;
    }
}
