//! The reverse direction of a bidirectional layer, as a row permutation of the packed layout.
//!
//! PyTorch's reverse direction runs every sequence backwards over its own valid frames: for a sequence
//! of length `len`, reverse step `s` processes frame `t = len − 1 − s`, from zero state at `s = 0` (frame
//! `len − 1`), and its final state is the one after frame 0. Reversing each sequence keeps its length, so
//! the reversed batch has exactly the same packing (same `batch_sizes`, same active prefixes). Only the
//! row mapping changes: the row of `(r, t)` in natural order holds what the reversed layout stores at the
//! row of `(r, len_r − 1 − t)`. That map, `rev` (`ChunkPlan::rev_rows`), is an involution.
//!
//! So the reverse direction gathers its input into reversed rows, `X_rev[i] = X[rev[i]]`, runs the very
//! same per-layer machinery as the forward direction, and keeps its gates, cells and outputs in reversed
//! rows. The layer output `[n, 2H]` in natural rows is `[h_fwd[i] ‖ h_rev[rev[i]]]`. Backward splits the
//! output gradient the same way and scatters the reverse direction's input gradient back through `rev`.

/// The rows a direction reads: `rows` itself for the forward direction (`direction == 0`), else
/// `rows` gathered through `rev` into the first `rev.len()·width` values of `scratch`, which are
/// returned (`scratch` is not touched, and may be empty, for the forward direction).
///
/// # Panics
/// For the reverse direction, if `scratch` or `rows` is too short.
pub fn direction_rows<'a, T: Copy>(
    direction: usize,
    rows: &'a [T],
    rev: &[usize],
    width: usize,
    scratch: &'a mut [T],
) -> &'a [T] {
    if direction == 0 {
        rows
    } else {
        let out = &mut scratch[..rev.len() * width];
        gather_rows(rev, rows, width, out);
        out
    }
}

/// `dst[i, :] = src[map[i], :]` for rows of `width` values; `dst: [map.len(), width]`.
///
/// # Panics
/// If `src` or `dst` is too short for the rows addressed.
pub fn gather_rows<T: Copy>(map: &[usize], src: &[T], width: usize, dst: &mut [T]) {
    for (d, &m) in dst.chunks_exact_mut(width).zip(map) {
        d.copy_from_slice(&src[m * width..(m + 1) * width]);
    }
}

/// `dst[i, :] += src[map[i], :]` for rows of `width` values.
///
/// # Panics
/// If `src` or `dst` is too short for the rows addressed.
pub fn add_gathered<T: Copy + std::ops::AddAssign>(
    map: &[usize],
    src: &[T],
    width: usize,
    dst: &mut [T],
) {
    for (d, &m) in dst.chunks_exact_mut(width).zip(map) {
        for (a, &b) in d.iter_mut().zip(&src[m * width..(m + 1) * width]) {
            *a += b;
        }
    }
}

/// Concatenates the two directions' outputs into natural rows: `cat[i] = [fwd[i] ‖ rev_h[map[i]]]`.
/// `fwd: [n, H]` natural rows, `rev_h: [n, H]` reversed rows, `cat: [n, 2H]`.
///
/// # Panics
/// If a slice is shorter than its shape.
pub fn concat_directions<T: Copy>(map: &[usize], h: usize, fwd: &[T], rev_h: &[T], cat: &mut [T]) {
    for (i, (row, &m)) in cat.chunks_exact_mut(2 * h).zip(map).enumerate() {
        let (a, b) = row.split_at_mut(h);
        a.copy_from_slice(&fwd[i * h..(i + 1) * h]);
        b.copy_from_slice(&rev_h[m * h..(m + 1) * h]);
    }
}

/// The inverse of [`concat_directions`] for gradients: `d: [n, 2H]` natural rows into
/// `split = [d_fwd [n, H] natural rows ‖ d_rev [n, H] reversed rows]`.
///
/// # Panics
/// If a slice is shorter than its shape.
pub fn split_directions<T: Copy>(map: &[usize], h: usize, d: &[T], split: &mut [T]) {
    let n = map.len();
    let (fwd, rev_d) = split[..2 * n * h].split_at_mut(n * h);
    for (i, (row, &m)) in d.chunks_exact(2 * h).zip(map).enumerate() {
        fwd[i * h..(i + 1) * h].copy_from_slice(&row[..h]);
        rev_d[m * h..(m + 1) * h].copy_from_slice(&row[h..]);
    }
}
