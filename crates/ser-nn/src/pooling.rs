//! Pooling of an LSTM's per-frame outputs into one vector per clip, with hand-written backward.
//!
//! Input: the last layer's outputs `O`, packed `[N, D]` in the order of a [`PackedBatch`] (row of
//! (clip b, frame t) = [`PackedBatch::row_of`]), `D` = output width. Output: `z: [B, D]` in the batch's
//! original order. Only each clip's own `len_b` frames take part (packed sequences carry no padding).
//!
//! ```text
//! mean:       z_b = (1/len_b) Σ_t o_{b,t}
//! max:        z_{b,j} = max_t o_{b,t,j}                      (gradient to the first maximum)
//! attention:  u_{b,t} = tanh(W o_{b,t} + c)                  W: [A, D], c: [A]
//!             e_{b,t} = vᵀ u_{b,t}                           v: [A]
//!             α_{b,·} = softmax over t < len_b of e_{b,·}    (masked: padding never exists)
//!             z_b     = Σ_t α_{b,t} o_{b,t}
//! ```
//! Attention backward, given `dz_b`:
//! ```text
//! dα_{b,t} = dz_b · o_{b,t};   de_{b,t} = α_{b,t} (dα_{b,t} − Σ_s α_{b,s} dα_{b,s})
//! dv  = Σ de_{b,t} u_{b,t};    dp_{b,t} = de_{b,t} v ⊙ (1 − u_{b,t}²)
//! dW  = Σ dp_{b,t} o_{b,t}ᵀ;   dc = Σ dp_{b,t}
//! do_{b,t} = α_{b,t} dz_b + Wᵀ dp_{b,t}
//! ```
//! The projections `P = O Wᵀ`, `dW = dPᵀ O` and `dO += dP W` are each one GEMM over all N frames.

use lstm_core::{gemm, PackedBatch, Real};

/// Calls `f(b, row)` for every valid frame of every clip, in packed (time-major) order.
fn for_each_frame<T: Real>(batch: &PackedBatch<T>, mut f: impl FnMut(usize, usize)) {
    let sorted = batch.sorted_indices();
    for (t, &active) in batch.batch_sizes().iter().enumerate() {
        let first = batch.offsets()[t];
        for (p, &b) in sorted.iter().enumerate().take(active) {
            f(b, first + p);
        }
    }
}

/// Mean pooling forward: `outputs: [N, D]` packed → `z: [B, D]` (overwritten).
///
/// # Panics
/// If the shapes disagree with `batch` and `d`.
pub fn mean_forward<T: Real>(batch: &PackedBatch<T>, d: usize, outputs: &[T], z: &mut [T]) {
    check(batch, d, outputs, z);
    z.fill(T::ZERO);
    for_each_frame(batch, |b, row| {
        for (acc, &o) in z[b * d..(b + 1) * d]
            .iter_mut()
            .zip(&outputs[row * d..(row + 1) * d])
        {
            *acc += o;
        }
    });
    for (b, zb) in z.chunks_exact_mut(d).enumerate() {
        let inv = T::ONE / T::from_f64(batch.lengths()[b] as f64);
        zb.iter_mut().for_each(|v| *v *= inv);
    }
}

/// Mean pooling backward: `grad_z: [B, D]` → `grad_outputs: [N, D]` (overwritten), `dO_{b,t} = dz_b / len_b`.
pub fn mean_backward<T: Real>(
    batch: &PackedBatch<T>,
    d: usize,
    grad_z: &[T],
    grad_outputs: &mut [T],
) {
    check(batch, d, grad_outputs, grad_z);
    let lengths = batch.lengths();
    for_each_frame(batch, |b, row| {
        let inv = T::ONE / T::from_f64(lengths[b] as f64);
        for (g, &dz) in grad_outputs[row * d..(row + 1) * d]
            .iter_mut()
            .zip(&grad_z[b * d..(b + 1) * d])
        {
            *g = dz * inv;
        }
    });
}

/// Max pooling forward: `z: [B, D]` (overwritten) and `argmax: [B, D]`, the packed row of each maximum
/// (the earliest frame on ties).
pub fn max_forward<T: Real>(
    batch: &PackedBatch<T>,
    d: usize,
    outputs: &[T],
    z: &mut [T],
    argmax: &mut Vec<usize>,
) {
    check(batch, d, outputs, z);
    z.fill(T::from_f64(f64::NEG_INFINITY));
    argmax.clear();
    argmax.resize(z.len(), 0);
    for_each_frame(batch, |b, row| {
        for j in 0..d {
            let o = outputs[row * d + j];
            if o > z[b * d + j] {
                z[b * d + j] = o;
                argmax[b * d + j] = row;
            }
        }
    });
}

/// Max pooling backward: `grad_outputs: [N, D]` (overwritten) is `dz` at each maximum, zero elsewhere.
pub fn max_backward<T: Real>(d: usize, grad_z: &[T], argmax: &[usize], grad_outputs: &mut [T]) {
    assert_eq!(grad_z.len(), argmax.len(), "max_backward: argmax shape");
    grad_outputs.fill(T::ZERO);
    for (i, (&g, &row)) in grad_z.iter().zip(argmax).enumerate() {
        grad_outputs[row * d + i % d] += g;
    }
}

/// Shape of an attention pooling layer: output width `D`, attention width `A`.
///
/// Parameters (PyTorch names, in this order in the flat buffer): `attention.proj.weight [A, D]`,
/// `attention.proj.bias [A]`, `attention.score.weight [1, A]` (the vector `v`, no bias: a constant
/// added to every score cancels in the softmax).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionPool {
    pub input_size: usize,
    pub attention_size: usize,
}

/// What [`AttentionPool::forward`] keeps for the backward pass.
#[derive(Debug, Default)]
pub struct AttentionCache<T> {
    /// `u = tanh(W o + c)`, `[N, A]`.
    pub u: Vec<T>,
    /// Attention weights α per packed row, `[N]` (each clip's weights sum to 1).
    pub alpha: Vec<T>,
    /// Scratch: `dp`, `[N, A]`.
    grad_pre: Vec<T>,
    /// Scratch: `dα` per row then `de`, `[N]`; per-clip sums `[B]`.
    grad_score: Vec<T>,
    per_clip: Vec<T>,
    per_clip_sum: Vec<T>,
}

impl AttentionPool {
    pub fn new(input_size: usize, attention_size: usize) -> Self {
        Self {
            input_size,
            attention_size,
        }
    }

    /// `A·D + A + A`.
    pub fn num_params(&self) -> usize {
        self.attention_size * self.input_size + 2 * self.attention_size
    }

    /// Splits a parameter (or gradient) slice into `(W [A, D], c [A], v [A])`.
    fn split<'a, T>(&self, params: &'a [T]) -> (&'a [T], &'a [T], &'a [T]) {
        let (w, rest) = params.split_at(self.attention_size * self.input_size);
        let (c, v) = rest.split_at(self.attention_size);
        (w, c, v)
    }

    /// Xavier-uniform `W` and `v` (gain 1), zero `c`.
    pub fn init<T: Real, R: rand::Rng>(&self, rng: &mut R, params: &mut [T]) {
        assert_eq!(params.len(), self.num_params(), "AttentionPool::init");
        let (a, d) = (self.attention_size, self.input_size);
        let (w, rest) = params.split_at_mut(a * d);
        let (c, v) = rest.split_at_mut(a);
        let bound_w = (6.0 / (a + d) as f64).sqrt();
        w.iter_mut()
            .for_each(|x| *x = T::from_f64(rng.gen_range(-bound_w..bound_w)));
        c.fill(T::ZERO);
        let bound_v = (6.0 / (a + 1) as f64).sqrt();
        v.iter_mut()
            .for_each(|x| *x = T::from_f64(rng.gen_range(-bound_v..bound_v)));
    }

    /// Forward: `outputs: [N, D]` packed → `z: [B, D]` (overwritten); fills `cache`.
    ///
    /// # Panics
    /// If a shape disagrees with `batch`, `D` or `num_params`.
    pub fn forward<T: Real>(
        &self,
        batch: &PackedBatch<T>,
        params: &[T],
        outputs: &[T],
        z: &mut [T],
        cache: &mut AttentionCache<T>,
    ) {
        let (a, d) = (self.attention_size, self.input_size);
        check(batch, d, outputs, z);
        assert_eq!(params.len(), self.num_params(), "AttentionPool: params");
        let n = batch.total_frames();
        let (w, c, v) = self.split(params);
        cache.u.resize(n * a, T::ZERO);
        cache.alpha.resize(n, T::ZERO);
        cache.per_clip.resize(batch.batch_size(), T::ZERO);
        // P = O · Wᵀ  ([N, D] · [D, A]).
        gemm(
            n,
            d,
            a,
            T::ONE,
            outputs,
            d as isize,
            1,
            w,
            1,
            d as isize,
            T::ZERO,
            &mut cache.u,
            a as isize,
            1,
        );
        for (u_row, alpha) in cache.u.chunks_exact_mut(a).zip(cache.alpha.iter_mut()) {
            let mut e = T::ZERO;
            for ((u, &ci), &vi) in u_row.iter_mut().zip(c).zip(v) {
                *u = (*u + ci).tanh();
                e += vi * *u;
            }
            *alpha = e;
        }
        // Masked softmax per clip: max, exp, sum, divide.
        let max = &mut cache.per_clip;
        max.fill(T::from_f64(f64::NEG_INFINITY));
        let alpha = &mut cache.alpha;
        for_each_frame(batch, |b, row| {
            if alpha[row] > max[b] {
                max[b] = alpha[row];
            }
        });
        let sum = &mut cache.per_clip_sum;
        sum.clear();
        sum.resize(batch.batch_size(), T::ZERO);
        for_each_frame(batch, |b, row| {
            alpha[row] = (alpha[row] - max[b]).exp();
            sum[b] += alpha[row];
        });
        z.fill(T::ZERO);
        for_each_frame(batch, |b, row| {
            alpha[row] = alpha[row] / sum[b];
            let weight = alpha[row];
            for (acc, &o) in z[b * d..(b + 1) * d]
                .iter_mut()
                .zip(&outputs[row * d..(row + 1) * d])
            {
                *acc += weight * o;
            }
        });
    }

    /// Backward: given `grad_z: [B, D]`, OVERWRITES `grad_outputs: [N, D]` and ACCUMULATES into
    /// `grad_params` (`dW`, `dc`, `dv`). Uses the cache of the last [`AttentionPool::forward`] with the
    /// same `batch`, `params` and `outputs`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: Real>(
        &self,
        batch: &PackedBatch<T>,
        params: &[T],
        outputs: &[T],
        grad_z: &[T],
        cache: &mut AttentionCache<T>,
        grad_outputs: &mut [T],
        grad_params: &mut [T],
    ) {
        let (a, d) = (self.attention_size, self.input_size);
        check(batch, d, outputs, grad_z);
        assert_eq!(
            grad_outputs.len(),
            outputs.len(),
            "AttentionPool: grad_outputs"
        );
        assert_eq!(grad_params.len(), self.num_params(), "AttentionPool: grads");
        let n = batch.total_frames();
        let (w, _c, v) = self.split(params);
        let alpha = &cache.alpha;
        cache.grad_score.resize(n, T::ZERO);
        cache.per_clip.resize(batch.batch_size(), T::ZERO);
        let (grad_score, weighted) = (&mut cache.grad_score, &mut cache.per_clip);
        weighted.fill(T::ZERO);
        // dα_t = dz · o_t (kept in grad_score); do_t = α_t dz; Σ_s α_s dα_s per clip.
        for_each_frame(batch, |b, row| {
            let dz = &grad_z[b * d..(b + 1) * d];
            let o = &outputs[row * d..(row + 1) * d];
            let dalpha = dz.iter().zip(o).fold(T::ZERO, |acc, (&g, &x)| acc + g * x);
            grad_score[row] = dalpha;
            weighted[b] += alpha[row] * dalpha;
            for (g, &gz) in grad_outputs[row * d..(row + 1) * d].iter_mut().zip(dz) {
                *g = alpha[row] * gz;
            }
        });
        for_each_frame(batch, |b, row| {
            grad_score[row] = alpha[row] * (grad_score[row] - weighted[b]);
        });
        // dv = Σ de_t u_t; dp_t = de_t v ⊙ (1 − u_t²).
        let (gw, rest) = grad_params.split_at_mut(a * d);
        let (gc, gv) = rest.split_at_mut(a);
        cache.grad_pre.resize(n * a, T::ZERO);
        for ((dp, u), &de) in cache
            .grad_pre
            .chunks_exact_mut(a)
            .zip(cache.u.chunks_exact(a))
            .zip(grad_score.iter())
        {
            for j in 0..a {
                gv[j] += de * u[j];
                dp[j] = de * v[j] * (T::ONE - u[j] * u[j]);
                gc[j] += dp[j];
            }
        }
        // dW += dPᵀ · O  ([A, N] · [N, D]);  dO += dP · W  ([N, A] · [A, D]).
        gemm(
            a,
            n,
            d,
            T::ONE,
            &cache.grad_pre,
            1,
            a as isize,
            outputs,
            d as isize,
            1,
            T::ONE,
            gw,
            d as isize,
            1,
        );
        gemm(
            n,
            a,
            d,
            T::ONE,
            &cache.grad_pre,
            a as isize,
            1,
            w,
            d as isize,
            1,
            T::ONE,
            grad_outputs,
            d as isize,
            1,
        );
    }
}

fn check<T: Real>(batch: &PackedBatch<T>, d: usize, per_frame: &[T], per_clip: &[T]) {
    assert_eq!(
        per_frame.len(),
        batch.total_frames() * d,
        "pooling: per-frame buffer must be [N, D]"
    );
    assert_eq!(
        per_clip.len(),
        batch.batch_size() * d,
        "pooling: per-clip buffer must be [B, D]"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn clips(lengths: &[usize], d: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
        lengths
            .iter()
            .map(|&n| (0..n * d).map(|_| rng.gen_range(-2.0..2.0)).collect())
            .collect()
    }

    /// Pools `clips` (each `[len, D]`, used directly as the "outputs") with every pooling.
    fn pool_all(
        clips: &[Vec<f64>],
        d: usize,
        attention: &AttentionPool,
        params: &[f64],
    ) -> Vec<Vec<f64>> {
        let refs: Vec<&[f64]> = clips.iter().map(|c| c.as_slice()).collect();
        let batch = PackedBatch::from_sequences(&refs, d);
        let b = clips.len();
        let (mut mean, mut max, mut att) = (vec![0.0; b * d], vec![0.0; b * d], vec![0.0; b * d]);
        mean_forward(&batch, d, batch.data(), &mut mean);
        max_forward(&batch, d, batch.data(), &mut max, &mut Vec::new());
        let mut cache = AttentionCache::default();
        attention.forward(&batch, params, batch.data(), &mut att, &mut cache);
        // Each clip's attention weights sum to 1.
        for (bi, clip) in clips.iter().enumerate() {
            let n = clip.len() / d;
            let total: f64 = (0..n).map(|t| cache.alpha[batch.row_of(bi, t)]).sum();
            assert!(
                (total - 1.0).abs() < 1e-12,
                "alpha of clip {bi} sums to {total}"
            );
        }
        vec![mean, max, att]
    }

    #[test]
    fn pooled_vectors_ignore_other_clips_and_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for (d, a) in [(3usize, 4usize), (5, 2), (8, 8)] {
            let attention = AttentionPool::new(d, a);
            let mut params = vec![0.0; attention.num_params()];
            attention.init(&mut rng, &mut params);
            let lengths = [4, 1, 9, 4, 2];
            let batch_clips = clips(&lengths, d, &mut rng);
            let together = pool_all(&batch_clips, d, &attention, &params);
            for (bi, clip) in batch_clips.iter().enumerate() {
                let alone = pool_all(std::slice::from_ref(clip), d, &attention, &params);
                for (k, (t, s)) in together.iter().zip(&alone).enumerate() {
                    for j in 0..d {
                        assert!(
                            (t[bi * d + j] - s[j]).abs() < 1e-12,
                            "pooling {k}, clip {bi}: batch and alone differ"
                        );
                    }
                }
                // mean ≤ max, and attention lies inside the per-coefficient [min, max] hull.
                let n = clip.len() / d;
                for j in 0..d {
                    let col = (0..n).map(|t| clip[t * d + j]);
                    let lo = col.clone().fold(f64::INFINITY, f64::min);
                    let hi = col.fold(f64::NEG_INFINITY, f64::max);
                    assert_eq!(together[1][bi * d + j], hi);
                    assert!(together[0][bi * d + j] <= hi + 1e-12);
                    assert!((lo - 1e-12..=hi + 1e-12).contains(&together[2][bi * d + j]));
                }
            }
        }
    }
}
