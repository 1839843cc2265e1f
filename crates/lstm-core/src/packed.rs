//! Variable-length batches in PyTorch's packed layout.

use crate::real::Real;

/// A batch of variable-length sequences laid out like `pack_padded_sequence(..., enforce_sorted=False)`.
///
/// Sequences are sorted by length, longest first (stable for equal lengths). Time step `t` holds
/// `batch_sizes[t]` consecutive rows, one per still-running sequence in sorted order, so the rows of step
/// `t` start at `offsets[t] = Σ_{u<t} batch_sizes[u]`. `data: [N, I]` row-major with N = Σ lengths.
/// Because lengths are sorted, the sequences alive at step `t` are a prefix of those alive at `t − 1`.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedBatch<T> {
    data: Vec<T>,
    input_size: usize,
    lengths: Vec<usize>,
    sorted_indices: Vec<usize>,
    /// original index -> sorted position
    position: Vec<usize>,
    batch_sizes: Vec<usize>,
    offsets: Vec<usize>,
}

impl<T: Real> PackedBatch<T> {
    /// Packs `sequences[b]: [len_b, I]` row-major.
    ///
    /// # Panics
    /// If there are no sequences, `input_size` is 0, a sequence is empty, or its length is not a multiple
    /// of `input_size`.
    pub fn from_sequences(sequences: &[&[T]], input_size: usize) -> Self {
        assert!(input_size > 0, "PackedBatch: input_size must be positive");
        let lengths: Vec<usize> = sequences
            .iter()
            .enumerate()
            .map(|(b, s)| {
                assert!(
                    !s.is_empty() && s.len() % input_size == 0,
                    "PackedBatch: sequence {b} has {} values, need a positive multiple of input_size {input_size}",
                    s.len()
                );
                s.len() / input_size
            })
            .collect();
        Self::build(&lengths, input_size, |b, t| {
            &sequences[b][t * input_size..(t + 1) * input_size]
        })
    }

    /// Packs a padded, batch-first `x: [B, T_max, I]` row-major with `lengths[b] ≤ T_max` valid frames each.
    ///
    /// # Panics
    /// If `x.len() != B·T_max·I`, `lengths.len() != B`, B = 0, or a length is 0 or above `T_max`.
    pub fn from_padded(
        x: &[T],
        batch: usize,
        max_len: usize,
        input_size: usize,
        lengths: &[usize],
    ) -> Self {
        assert!(input_size > 0, "PackedBatch: input_size must be positive");
        assert_eq!(
            x.len(),
            batch * max_len * input_size,
            "PackedBatch::from_padded: x has {} values, need B·T·I = {}",
            x.len(),
            batch * max_len * input_size
        );
        assert_eq!(
            lengths.len(),
            batch,
            "PackedBatch::from_padded: {} lengths for batch {batch}",
            lengths.len()
        );
        for (b, &l) in lengths.iter().enumerate() {
            assert!(
                l >= 1 && l <= max_len,
                "PackedBatch::from_padded: lengths[{b}] = {l}, need 1..={max_len}"
            );
        }
        Self::build(lengths, input_size, |b, t| {
            let at = (b * max_len + t) * input_size;
            &x[at..at + input_size]
        })
    }

    fn build<'a>(
        lengths: &[usize],
        input_size: usize,
        frame: impl Fn(usize, usize) -> &'a [T],
    ) -> Self
    where
        T: 'a,
    {
        assert!(!lengths.is_empty(), "PackedBatch: empty batch");
        let mut sorted_indices: Vec<usize> = (0..lengths.len()).collect();
        sorted_indices.sort_by(|&a, &b| lengths[b].cmp(&lengths[a])); // stable: ties keep input order
        let mut position = vec![0; lengths.len()];
        for (p, &b) in sorted_indices.iter().enumerate() {
            position[b] = p;
        }
        let max_len = lengths[sorted_indices[0]];
        let batch_sizes: Vec<usize> = (0..max_len)
            .map(|t| lengths.iter().filter(|&&l| l > t).count())
            .collect();
        let mut offsets = Vec::with_capacity(max_len + 1);
        let mut at = 0;
        for &bs in &batch_sizes {
            offsets.push(at);
            at += bs;
        }
        offsets.push(at);
        let mut data = Vec::with_capacity(at * input_size);
        for (t, &bs) in batch_sizes.iter().enumerate() {
            for &b in &sorted_indices[..bs] {
                data.extend_from_slice(frame(b, t));
            }
        }
        PackedBatch {
            data,
            input_size,
            lengths: lengths.to_vec(),
            sorted_indices,
            position,
            batch_sizes,
            offsets,
        }
    }

    /// Number of sequences B.
    pub fn batch_size(&self) -> usize {
        self.lengths.len()
    }
    /// Longest length T_max.
    pub fn max_len(&self) -> usize {
        self.batch_sizes.len()
    }
    /// N = Σ lengths (rows of `data`).
    pub fn total_frames(&self) -> usize {
        self.offsets[self.batch_sizes.len()]
    }
    /// Features per frame I.
    pub fn input_size(&self) -> usize {
        self.input_size
    }
    /// Packed frames `[N, I]` row-major.
    pub fn data(&self) -> &[T] {
        &self.data
    }
    /// Active sequences per time step, `[T_max]`, non-increasing.
    pub fn batch_sizes(&self) -> &[usize] {
        &self.batch_sizes
    }
    /// First packed row of each time step, `[T_max + 1]` (the last entry is N).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }
    /// Sequence lengths in original order.
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }
    /// Sorted position → original index.
    pub fn sorted_indices(&self) -> &[usize] {
        &self.sorted_indices
    }
    /// Original index → sorted position (the inverse of [`Self::sorted_indices`]).
    pub fn sorted_position(&self, b: usize) -> usize {
        self.position[b]
    }
    /// Row of (original sequence `b`, time `t`) inside `data` and inside packed outputs.
    ///
    /// # Panics
    /// If `b` is out of range or `t ≥ lengths[b]`.
    pub fn row_of(&self, b: usize, t: usize) -> usize {
        assert!(
            t < self.lengths[b],
            "PackedBatch::row_of: t = {t} but sequence {b} has length {}",
            self.lengths[b]
        );
        self.offsets[t] + self.position[b]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_like_pytorch() {
        // lengths 2, 3, 1 -> sorted order [1, 0, 2], batch_sizes [3, 2, 1]
        let seqs: [Vec<f64>; 3] = [vec![10.0, 11.0], vec![20.0, 21.0, 22.0], vec![30.0]];
        let refs: Vec<&[f64]> = seqs.iter().map(|s| s.as_slice()).collect();
        let p = PackedBatch::from_sequences(&refs, 1);
        assert_eq!(p.sorted_indices(), &[1, 0, 2]);
        assert_eq!(p.batch_sizes(), &[3, 2, 1]);
        assert_eq!(p.data(), &[20.0, 10.0, 30.0, 21.0, 11.0, 22.0]);
        assert_eq!(p.row_of(0, 1), 4);
        let padded = [10.0, 11.0, 0.0, 20.0, 21.0, 22.0, 30.0, 0.0, 0.0];
        assert_eq!(PackedBatch::from_padded(&padded, 3, 3, 1, &[2, 3, 1]), p);
    }
}
