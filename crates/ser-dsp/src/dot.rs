//! The dot product shared by the mel filterbank, the chroma filterbank and the DCT fallback.

use wide::f32x8;

/// `Σ_i a[i]·b[i]` over `min(a.len(), b.len())` values: two independent eight-lane accumulators over
/// whole groups of eight (fused multiply-add where the CPU has it; two chains so that a long run is
/// not bound by the latency of one), summed across lanes, then the scalar tail.
///
/// The filterbanks pad their runs to whole groups (see [`crate::mel`]), so the tail is usually empty.
#[inline]
pub(crate) fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let (lanes, tail) = dot_partial(a, b);
    lanes.reduce_add() + tail
}

/// The eight-lane accumulator over whole groups of eight, and the scalar sum of the tail.
#[inline(always)]
fn dot_partial(a: &[f32], b: &[f32]) -> (f32x8, f32) {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let (groups_a, groups_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = groups_a
        .remainder()
        .iter()
        .zip(groups_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let (pairs_a, pairs_b) = (a.chunks_exact(16), b.chunks_exact(16));
    let (odd_a, odd_b) = (pairs_a.remainder(), pairs_b.remainder());
    let (mut even, mut odd) = (f32x8::ZERO, f32x8::ZERO);
    for (x, y) in pairs_a.zip(pairs_b) {
        even = f32x8::from(lanes(&x[..8])).mul_add(f32x8::from(lanes(&y[..8])), even);
        odd = f32x8::from(lanes(&x[8..])).mul_add(f32x8::from(lanes(&y[8..])), odd);
    }
    if odd_a.len() >= 8 {
        even = f32x8::from(lanes(&odd_a[..8])).mul_add(f32x8::from(lanes(&odd_b[..8])), even);
    }
    (even + odd, tail)
}

/// The eight values of a `chunks_exact(8)` item as an array.
#[inline(always)]
fn lanes(chunk: &[f32]) -> [f32; 8] {
    let mut out = [0.0; 8];
    out.copy_from_slice(chunk);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_f64_sum_for_every_length() {
        for len in 0..40 {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 1.3).cos() + 2.0).collect();
            let exact: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            let scale: f64 = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| f64::from((x * y).abs()))
                .sum();
            let got = f64::from(dot_lanes(&a, &b));
            assert!(
                (got - exact).abs() <= 1e-6 * scale.max(1.0),
                "len {len}: {got} vs {exact}"
            );
        }
    }
}
