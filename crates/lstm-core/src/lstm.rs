//! The LSTM module: configuration, chosen gate kernel and reusable workspaces.

use crate::backward::{backward_chunk, Upstream};
use crate::chunk::{num_chunks, ChunkPlan, ChunkWorkspace};
use crate::config::LstmConfig;
use crate::error::LstmError;
use crate::forward::{forward_chunk, PassContext};
use crate::kernels::step_gemm::PackedPanels;
use crate::kernels::{GateKernel, KernelKind};
use crate::layout::ParamLayout;
use crate::packed::PackedBatch;
use crate::real::Real;
use rayon::prelude::*;

/// What a forward pass should do besides computing the final states.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardOptions {
    /// Also return the last layer's output at every frame (packed `[N, D·H]`).
    pub keep_outputs: bool,
    /// `Some(seed)`: training mode — inter-layer dropout drawn from `seed`, cache kept for
    /// [`Lstm::backward`]. `None`: inference.
    pub train_seed: Option<u64>,
}

/// Result of [`Lstm::forward`].
#[derive(Clone, Debug, PartialEq)]
pub struct LstmOutput<T> {
    /// Every layer's (and direction's) final h, `[L·D, B, H]` ordered l0, l0 reverse, l1, …, batch in
    /// original order (like PyTorch's `h_n`). The forward direction's final h is the one at each
    /// sequence's own last frame, the reverse direction's the one after frame 0.
    pub h_n: Vec<T>,
    /// Every layer's (and direction's) final c, `[L·D, B, H]`, same order.
    pub c_n: Vec<T>,
    /// Last layer's output at every frame, packed `[N, D·H]` (`[h_fwd ‖ h_rev]` when bidirectional) in
    /// the batch's packed order (when asked for).
    pub outputs: Option<Vec<T>>,
}

/// Upstream gradients for [`Lstm::backward`]; `None` means zero.
#[derive(Clone, Copy, Debug, Default)]
pub struct LstmGradients<'a, T> {
    /// dL/dh_n `[L·D, B, H]`, original batch order.
    pub h_n: Option<&'a [T]>,
    /// dL/dc_n `[L·D, B, H]`.
    pub c_n: Option<&'a [T]>,
    /// dL/d outputs, packed `[N, D·H]`.
    pub outputs: Option<&'a [T]>,
}

/// What the last training forward pass left in the workspaces.
#[derive(Clone, Copy, Debug)]
struct Cached {
    frames: usize,
    batch: usize,
    dropout_seed: Option<u64>,
}

/// A stacked LSTM with PyTorch semantics (`nn.LSTM`, `batch_first` irrelevant: inputs are packed).
///
/// Parameters live outside, in one flat buffer laid out by [`ParamLayout`]. The batch is split into
/// fixed chunks of sequences (see [`crate::chunk`]) that run in parallel on rayon's pool; results are
/// bit-identical for any thread count. Keep one `Lstm` per caller thread.
///
/// Memory kept for backward per frame: `(I + 7·H·L)·size_of::<T>()` bytes (input; per layer gates 4H,
/// cell H, tanh of the cell H, output H), plus `2·H·size_of::<T>()` per layer above the first when dropout
/// is active — e.g. 3 720 bytes for I = 34, H = 128, L = 1 in f32. Bidirectional:
/// `(I + 14·H·L + 4·H·(L − 1))·size_of::<T>()` (both directions' gates, cells, tanh of the cells and
/// outputs, plus every lower layer's concatenated `2H` output), plus `4·H·size_of::<T>()` per layer above
/// the first with dropout — e.g. 7 304 bytes for I = 34, H = 128, L = 1 in f32. The reverse direction reuses the same machinery on time-reversed rows
/// (see [`crate::reverse`]).
#[derive(Debug)]
pub struct Lstm<T: Real> {
    config: LstmConfig,
    layout: ParamLayout,
    kernel: GateKernel<T>,
    plans: Vec<ChunkPlan>,
    chunks: Vec<ChunkWorkspace<T>>,
    cached: Option<Cached>,
    poison: bool,
    /// Recurrent weights packed per layer for the step product (see [`crate::kernels::step_gemm`]).
    step_weights: Vec<PackedPanels<T>>,
    /// Input weights `W_ihᵀ` packed per unit for the forward input projection.
    input_weights: Vec<PackedPanels<T>>,
    /// The parameters `step_weights` (forward orientation) and `input_weights` were packed from, or
    /// empty when backward has since packed the step weights for itself.
    packed_from: Vec<T>,
}

impl<T: Real> Lstm<T> {
    /// Builds the module with the fastest kernel available for `T` (wide for `f32`, scalar for `f64`),
    /// unless `SER_KERNEL=scalar|wide` forces one (an unknown value, or `wide` for `f64`, falls back to
    /// the default with a warning on stderr).
    ///
    /// # Panics
    /// If `config` is invalid (see [`LstmConfig::validate`]); use [`Lstm::with_kernel`] for a `Result`.
    pub fn new(config: LstmConfig) -> Self {
        if let Err(e) = config.validate() {
            panic!("Lstm::new: {e}");
        }
        let requested = KernelKind::from_env().unwrap_or_else(|e| {
            eprintln!("lstm-core: {e}; using the default kernel");
            None
        });
        let kernel = requested
            .and_then(|kind| {
                let k = T::gate_kernel(kind);
                if k.is_none() {
                    eprintln!(
                        "lstm-core: SER_KERNEL={kind:?} is unavailable for {}; using the default",
                        std::any::type_name::<T>()
                    );
                }
                k
            })
            .or_else(|| T::gate_kernel(KernelKind::Wide))
            .unwrap_or_else(GateKernel::scalar);
        Self::build(config, kernel)
    }

    /// Builds the module with a specific kernel (ignores `SER_KERNEL`).
    pub fn with_kernel(config: LstmConfig, kernel: KernelKind) -> Result<Self, LstmError> {
        config.validate()?;
        let k = T::gate_kernel(kernel).ok_or(LstmError::KernelUnavailable {
            requested: kernel,
            element: std::any::type_name::<T>(),
        })?;
        Ok(Self::build(config, k))
    }

    fn build(config: LstmConfig, kernel: GateKernel<T>) -> Self {
        Lstm {
            layout: ParamLayout::new(&config),
            config,
            kernel,
            plans: Vec::new(),
            chunks: Vec::new(),
            cached: None,
            poison: false,
            step_weights: Vec::new(),
            input_weights: Vec::new(),
            packed_from: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LstmConfig {
        &self.config
    }
    /// Where each parameter tensor lives in the flat buffer.
    pub fn layout(&self) -> &ParamLayout {
        &self.layout
    }
    /// The gate kernel chosen at construction.
    pub fn kernel(&self) -> KernelKind {
        self.kernel.kind()
    }

    /// Testing aid: fill every workspace with NaN before each pass, so a read of a stale value shows.
    pub fn set_poison_workspaces(&mut self, on: bool) {
        self.poison = on;
    }

    fn context<'a>(
        &'a self,
        params: &'a [T],
        batch: &'a PackedBatch<T>,
        dropout_seed: Option<u64>,
    ) -> PassContext<'a, T> {
        let step_weights = (!self.step_weights.is_empty()).then_some(self.step_weights.as_slice());
        let input_weights =
            (!self.input_weights.is_empty()).then_some(self.input_weights.as_slice());
        PassContext {
            config: &self.config,
            layout: &self.layout,
            kernel: self.kernel,
            params,
            batch,
            dropout_seed,
            poison: self.poison,
            step_weights,
            input_weights,
            keep_gates: true,
        }
    }

    /// Packs every unit's (layer k, direction d; index D·k + d) W_hh for the step product: transposed
    /// (`B = W_hhᵀ`, forward) or as is (backward).
    fn pack_step_weights(&mut self, params: &[T], transposed: bool) {
        let h = self.config.hidden_size;
        pack_per_unit(&self.config, &mut self.step_weights, |u, dirs, packed| {
            let w_hh = &params[self.layout.direction(u / dirs, u % dirs).weight_hh];
            if transposed {
                packed.pack(h, 4 * h, w_hh, 1, h);
            } else {
                packed.pack(4 * h, h, w_hh, h, 1);
            }
        });
    }

    /// Packs every unit's W_ih transposed (`B = W_ihᵀ`, `[in_k × 4H]`) for the forward input projection.
    fn pack_input_weights(&mut self, params: &[T]) {
        let h = self.config.hidden_size;
        pack_per_unit(&self.config, &mut self.input_weights, |u, dirs, packed| {
            let in_k = self.config.layer_input_size(u / dirs);
            let w_ih = &params[self.layout.direction(u / dirs, u % dirs).weight_ih];
            packed.pack(in_k, 4 * h, w_ih, 1, in_k);
        });
    }

    /// Runs the LSTM over `batch` from zero initial states.
    ///
    /// `params: [P]` in [`ParamLayout`] order. Returns the final `(h, c)` of every layer and direction,
    /// `[L·D, B, H]`, and, with `keep_outputs`, the last layer's packed outputs `[N, D·H]`. In training
    /// mode (`train_seed: Some`) dropout applies between layers and the cache for [`Lstm::backward`] is kept.
    ///
    /// # Panics
    /// If `params.len() != layout().len()` or `batch.input_size() != config().input_size`.
    pub fn forward(
        &mut self,
        params: &[T],
        batch: &PackedBatch<T>,
        options: ForwardOptions,
    ) -> LstmOutput<T> {
        assert_eq!(
            params.len(),
            self.layout.len(),
            "Lstm::forward: params has {} values, layout needs {}",
            params.len(),
            self.layout.len()
        );
        assert_eq!(
            batch.input_size(),
            self.config.input_size,
            "Lstm::forward: batch input_size {} but config input_size {}",
            batch.input_size(),
            self.config.input_size
        );
        let chunks = num_chunks(batch.batch_size());
        self.plans.resize_with(chunks, ChunkPlan::default);
        self.chunks.resize_with(chunks, ChunkWorkspace::default);
        for (i, plan) in self.plans.iter_mut().enumerate() {
            plan.rebuild(batch, i, chunks);
            if self.config.bidirectional {
                plan.build_reverse_rows();
            }
        }
        let dropout_seed = options
            .train_seed
            .filter(|_| self.config.dropout > 0.0 && self.config.num_layers > 1);
        // Evaluation runs many batches through the same parameters: keep the packed weights while the
        // parameters are bit for bit those they were packed from (a compare of P values instead of a
        // repack of every weight matrix).
        let packed_fresh = !self.packed_from.is_empty()
            && bytemuck::cast_slice::<T, u8>(&self.packed_from)
                == bytemuck::cast_slice::<T, u8>(params);
        if !packed_fresh {
            self.pack_step_weights(params, true);
            self.pack_input_weights(params);
            self.packed_from.clear();
            self.packed_from.extend_from_slice(params);
        }
        let mut work = std::mem::take(&mut self.chunks);
        {
            let mut ctx = self.context(params, batch, dropout_seed);
            ctx.keep_gates = options.train_seed.is_some();
            let plans = &self.plans;
            if chunks == 1 {
                forward_chunk(&ctx, &plans[0], 0, &mut work[0]);
            } else {
                work.par_iter_mut()
                    .enumerate()
                    .for_each(|(i, ws)| forward_chunk(&ctx, &plans[i], i, ws));
            }
        }
        self.chunks = work;

        let (h, units, b) = (
            self.config.hidden_size,
            self.config.num_layers * self.config.num_directions(),
            batch.batch_size(),
        );
        let width = self.config.output_size();
        let mut h_n = vec![T::ZERO; units * b * h];
        let mut c_n = vec![T::ZERO; units * b * h];
        let mut outputs = options
            .keep_outputs
            .then(|| vec![T::ZERO; batch.total_frames() * width]);
        for (plan, ws) in self.plans.iter().zip(&self.chunks) {
            for (r, &p) in plan.seqs.iter().enumerate() {
                let orig = batch.sorted_indices()[p];
                // The reverse direction's rows are reversed, so its final state sits at the same row.
                let row = plan.last_row(r);
                for u in 0..units {
                    let dst = (u * b + orig) * h;
                    h_n[dst..dst + h].copy_from_slice(&ws.h[u][row * h..(row + 1) * h]);
                    c_n[dst..dst + h].copy_from_slice(&ws.c[u][row * h..(row + 1) * h]);
                }
            }
            if let Some(out) = outputs.as_mut() {
                if self.config.bidirectional {
                    let (fwd, rev_h) = (&ws.h[units - 2], &ws.h[units - 1]);
                    for (local, &global) in plan.global_rows.iter().enumerate() {
                        let m = plan.rev_rows[local];
                        let dst = &mut out[global * width..(global + 1) * width];
                        dst[..h].copy_from_slice(&fwd[local * h..(local + 1) * h]);
                        dst[h..].copy_from_slice(&rev_h[m * h..(m + 1) * h]);
                    }
                } else {
                    let top = &ws.h[units - 1];
                    for (local, &global) in plan.global_rows.iter().enumerate() {
                        out[global * h..(global + 1) * h]
                            .copy_from_slice(&top[local * h..(local + 1) * h]);
                    }
                }
            }
        }
        self.cached = options.train_seed.map(|_| Cached {
            frames: batch.total_frames(),
            batch: b,
            dropout_seed,
        });
        LstmOutput { h_n, c_n, outputs }
    }

    /// Backpropagation through time for the last training [`Lstm::forward`] (same `params` and `batch`).
    ///
    /// ACCUMULATES (`+=`) dL/dθ into `grad_params: [P]` and, when given, WRITES dL/dx into
    /// `grad_input: [N, I]` (packed order). Upstream gradients: `h_n, c_n: [L·D, B, H]` original order,
    /// `outputs: [N, D·H]` packed; missing ones count as zero. Consumes the forward cache.
    ///
    /// # Panics
    /// If no training forward preceded this call (or it was already consumed), if `batch` differs in
    /// shape from that forward's, or if a slice has the wrong length.
    pub fn backward(
        &mut self,
        params: &[T],
        batch: &PackedBatch<T>,
        grads: LstmGradients<'_, T>,
        grad_params: &mut [T],
        grad_input: Option<&mut [T]>,
    ) {
        let cached = self.cached.take().expect("Lstm::backward: no training forward pass to differentiate (train_seed was None, or backward already ran)");
        let (h, units, b, n) = (
            self.config.hidden_size,
            self.config.num_layers * self.config.num_directions(),
            batch.batch_size(),
            batch.total_frames(),
        );
        assert!(
            cached.frames == n && cached.batch == b,
            "Lstm::backward: batch shape differs from the forward pass"
        );
        assert_eq!(
            params.len(),
            self.layout.len(),
            "Lstm::backward: params has {} values, layout needs {}",
            params.len(),
            self.layout.len()
        );
        assert_eq!(
            grad_params.len(),
            self.layout.len(),
            "Lstm::backward: grad_params has {} values, layout needs {}",
            grad_params.len(),
            self.layout.len()
        );
        for (what, g, want) in [
            ("h_n", grads.h_n, units * b * h),
            ("c_n", grads.c_n, units * b * h),
            ("outputs", grads.outputs, n * self.config.output_size()),
        ] {
            if let Some(g) = g {
                assert_eq!(
                    g.len(),
                    want,
                    "Lstm::backward: gradient of {what} has {} values, need {want}",
                    g.len()
                );
            }
        }
        if let Some(gi) = grad_input.as_ref() {
            assert_eq!(
                gi.len(),
                n * self.config.input_size,
                "Lstm::backward: grad_input has {} values, need N·I = {}",
                gi.len(),
                n * self.config.input_size
            );
        }
        let up = Upstream {
            h_n: grads.h_n,
            c_n: grads.c_n,
            outputs: grads.outputs,
            want_input: grad_input.is_some(),
        };
        self.pack_step_weights(params, false);
        self.packed_from.clear();
        let mut work = std::mem::take(&mut self.chunks);
        {
            let ctx = self.context(params, batch, cached.dropout_seed);
            let plans = &self.plans;
            if work.len() == 1 {
                backward_chunk(&ctx, &up, &plans[0], &mut work[0]);
            } else {
                work.par_iter_mut()
                    .enumerate()
                    .for_each(|(i, ws)| backward_chunk(&ctx, &up, &plans[i], ws));
            }
        }
        self.chunks = work;
        // Fixed-order reduction: grad += chunk 0 + chunk 1 + …, independent of the thread count.
        for ws in &self.chunks {
            for (g, &p) in grad_params.iter_mut().zip(&ws.grad) {
                *g += p;
            }
        }
        if let Some(gi) = grad_input {
            let i = self.config.input_size;
            for (plan, ws) in self.plans.iter().zip(&self.chunks) {
                for (local, &global) in plan.global_rows.iter().enumerate() {
                    gi[global * i..(global + 1) * i]
                        .copy_from_slice(&ws.dx0[local * i..(local + 1) * i]);
                }
            }
        }
    }
}

/// One packed matrix per unit `u = D·k + d`, filled by `pack(u, D, panels)`; none when `T` has no packed
/// kernel (the passes then fall back to [`crate::gemm`]).
fn pack_per_unit<T: Real>(
    config: &LstmConfig,
    panels: &mut Vec<PackedPanels<T>>,
    pack: impl Fn(usize, usize, &mut PackedPanels<T>) + Sync,
) {
    if !T::has_step_matmul() {
        panels.clear();
        return;
    }
    let dirs = config.num_directions();
    panels.resize_with(config.num_layers * dirs, PackedPanels::default);
    // One task per unit: packing is the serial start of every pass.
    panels
        .par_iter_mut()
        .enumerate()
        .for_each(|(u, packed)| pack(u, dirs, packed));
}
