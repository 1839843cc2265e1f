//! Batch chunks: the unit of parallel work, and the workspace each one keeps between forward and backward.
//!
//! Sequences never interact, so the batch is split into chunks of sequences that run the whole
//! forward and backward pass independently (one rayon task each). A chunk's sequences are taken
//! round-robin from the length-sorted order — sorted position `p` goes to chunk `p mod C`, with
//! `C = ⌈B / SEQS_PER_CHUNK⌉` — so chunks get similar amounts of work and the split depends only on the
//! batch, never on the thread count. Each chunk has its own packed layout (also sorted, so the active
//! sequences at step t are again a prefix) and writes its own partial weight gradient; partials are summed
//! in chunk order.

use crate::aligned::AlignedBuf;
use crate::packed::PackedBatch;
use crate::real::Real;

/// Most sequences one chunk takes. 16 splits the paper's batch of 32 over two cores while keeping every
/// recurrent GEMM at 16 rows (two 8-row micro-panels of matrixmultiply's AVX kernel).
pub const SEQS_PER_CHUNK: usize = 16;

/// Number of chunks for a batch of `batch` sequences.
pub fn num_chunks(batch: usize) -> usize {
    batch.div_ceil(SEQS_PER_CHUNK).max(1)
}

/// Chunk-local packed layout of some of a batch's sequences.
#[derive(Clone, Debug, Default)]
pub struct ChunkPlan {
    /// Global sorted positions of this chunk's sequences, longest first.
    pub seqs: Vec<usize>,
    /// Active sequences of this chunk per time step.
    pub batch_sizes: Vec<usize>,
    /// First local row of each step, `[T + 1]`; the last entry is the chunk's row count n.
    pub offsets: Vec<usize>,
    /// Local row → row in the batch's packed layout.
    pub global_rows: Vec<usize>,
    /// Bidirectional only (else empty): local row of (r, t) → local row of (r, len_r − 1 − t), see
    /// [`crate::reverse`]. An involution.
    pub rev_rows: Vec<usize>,
}

impl ChunkPlan {
    /// Rebuilds this plan for chunk `index` of `num` over `batch` (reusing its allocations).
    pub fn rebuild<T: Real>(&mut self, batch: &PackedBatch<T>, index: usize, num: usize) {
        self.seqs.clear();
        self.seqs.extend((index..batch.batch_size()).step_by(num));
        let lens: Vec<usize> = self
            .seqs
            .iter()
            .map(|&p| batch.lengths()[batch.sorted_indices()[p]])
            .collect();
        let steps = lens.first().copied().unwrap_or(0);
        self.batch_sizes.clear();
        self.offsets.clear();
        self.global_rows.clear();
        let mut at = 0;
        for t in 0..steps {
            let bt = lens.iter().filter(|&&l| l > t).count();
            self.batch_sizes.push(bt);
            self.offsets.push(at);
            at += bt;
            let base = batch.offsets()[t];
            self.global_rows
                .extend(self.seqs[..bt].iter().map(|&p| base + p));
        }
        self.offsets.push(at);
    }

    /// Fills [`Self::rev_rows`] for the current plan (call after [`Self::rebuild`]).
    pub fn build_reverse_rows(&mut self) {
        self.rev_rows.clear();
        self.rev_rows.resize(self.rows(), 0);
        let b0 = self.batch_sizes.first().copied().unwrap_or(0);
        for r in 0..b0 {
            let len = self.batch_sizes.iter().take_while(|&&bt| bt > r).count();
            for t in 0..len {
                self.rev_rows[self.offsets[t] + r] = self.offsets[len - 1 - t] + r;
            }
        }
    }

    /// `(first, stride)`: this chunk's sequences sit at sorted positions `first + stride·j` of the batch
    /// (round-robin, see the module doc), so local row j of step t is the batch's packed row
    /// `offsets[t] + first + stride·j`.
    pub fn position_progression(&self) -> (usize, usize) {
        let first = self.seqs.first().copied().unwrap_or(0);
        let stride = self.seqs.get(1).map_or(1, |second| second - first);
        (first, stride)
    }

    /// Number of local rows n.
    pub fn rows(&self) -> usize {
        *self.offsets.last().unwrap_or(&0)
    }

    /// Number of time steps of the chunk's longest sequence.
    pub fn steps(&self) -> usize {
        self.batch_sizes.len()
    }

    /// Local row of the last frame of the chunk's `r`-th sequence.
    pub fn last_row(&self, r: usize) -> usize {
        let len = self.batch_sizes.iter().take_while(|&&bt| bt > r).count();
        self.offsets[len - 1] + r
    }
}

/// Everything one chunk keeps from forward for backward, plus backward scratch. Buffers only grow.
///
/// Kept per frame for backward (bytes per frame = this × `size_of::<T>()`): the input `I`, and per layer
/// the activated gates `4H`, the cell `H`, its tanh `H` and the output `H` — `I + 7H·L` values — plus,
/// with dropout, the dropped input and its mask (`2H`) for every layer above the first.
///
/// Bidirectional (D = 2, buffers indexed by unit `u = D·k + d`; the reverse direction's rows are in
/// reversed order, see [`crate::reverse`]): `I + 14H·L + 4H·(L − 1)` values — both directions' gates,
/// cell, tanh of the cell and output, plus the concatenated `[n, 2H]` output of every layer below the
/// top — plus, with dropout, `4H` (dropped input and mask, `2H` wide) for every layer above the first.
#[derive(Debug, Default)]
pub struct ChunkWorkspace<T> {
    /// Gathered layer-0 input `[n, I]` (empty in inference, which reads the batch in place).
    pub x0: Vec<T>,
    /// Per layer: gates `[n, 4H]` (activations after forward, pre-activation gradients after backward),
    /// starting on a cache line (the AMX kernel reads and writes them as tiles).
    pub gates: Vec<AlignedBuf<T>>,
    /// Per layer: cell states `[n, H]`.
    pub c: Vec<Vec<T>>,
    /// Per layer, training only (empty in inference): tanh of the cell states `[n, H]`, which backward
    /// reads instead of evaluating tanh again.
    pub tanh_c: Vec<Vec<T>>,
    /// Per layer: outputs `[n, H]`.
    pub h: Vec<Vec<T>>,
    /// Per layer ≥ 1 with dropout: dropped input `[n, DH]` and mask `[n, DH]` (0 or 1/(1−p)).
    pub dropped: Vec<Vec<T>>,
    pub mask: Vec<Vec<T>>,
    /// Combined bias b_ih + b_hh per unit `[4H]`.
    pub bias: Vec<Vec<T>>,
    /// Bidirectional, per layer below the top: its output `[h_fwd ‖ h_rev]`, `[n, 2H]` in natural row order.
    pub cat: Vec<Vec<T>>,
    /// Bidirectional scratch `[n, max in_k]`: the layer input in reversed row order, or the reverse
    /// direction's input gradient before it is scattered back.
    pub xrev: Vec<T>,
    /// Backward scratch: recurrent dh and dc `[b_0, H]`, previous outputs `[n, H]`, output gradient of the
    /// current layer `[n, DH]`, input gradient of layer 0 `[n, I]`.
    pub dh_rec: Vec<T>,
    pub dc: Vec<T>,
    pub h_prev: Vec<T>,
    pub dh_out: Vec<T>,
    pub dx0: Vec<T>,
    /// Bidirectional backward scratch `[2, n, H]`: `dh_out` split into the forward direction's half
    /// (natural rows) and the reverse direction's half (reversed rows).
    pub dh_split: Vec<T>,
    /// This chunk's partial parameter gradient `[P]`.
    pub grad: Vec<T>,
}

/// Makes `v` hold exactly `n` values, reusing its allocation (new values are zero; old ones stay).
pub fn fit<T: Real>(v: &mut Vec<T>, n: usize) {
    v.resize(n, T::ZERO);
}

/// Makes `v` hold `layers` buffers.
pub fn fit_layers<B: Default>(v: &mut Vec<B>, layers: usize) {
    v.resize_with(layers, B::default);
}

impl<T: Real> ChunkWorkspace<T> {
    /// Fills every forward buffer with NaN (tests use this to catch reads of stale values).
    pub fn poison_forward(&mut self) {
        self.x0.fill(T::NAN);
        self.xrev.fill(T::NAN);
        for v in self.gates.iter_mut() {
            v.fill(T::NAN);
        }
        for group in [
            &mut self.c,
            &mut self.tanh_c,
            &mut self.h,
            &mut self.dropped,
            &mut self.mask,
            &mut self.bias,
            &mut self.cat,
        ] {
            for v in group.iter_mut() {
                v.fill(T::NAN);
            }
        }
    }

    /// Fills every backward scratch buffer with NaN.
    pub fn poison_backward(&mut self) {
        for v in [
            &mut self.dh_rec,
            &mut self.dc,
            &mut self.h_prev,
            &mut self.dh_out,
            &mut self.dx0,
            &mut self.grad,
            &mut self.xrev,
            &mut self.dh_split,
        ] {
            v.fill(T::NAN);
        }
    }
}
