//! The dot product shared by the mel filterbank, the chroma filterbank and the DCT fallback.

use wide::f32x8;

/// `Σ_i a[i]·b[i]` over `min(a.len(), b.len())` values: one eight-lane accumulator over whole groups
/// of eight (fused multiply-add where the CPU has it), summed across lanes, then the scalar tail.
///
/// The filterbanks pad their runs to whole groups (see [`crate::mel`]), so the tail is usually empty.
#[inline]
pub(crate) fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let (groups_a, groups_b) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = groups_a
        .remainder()
        .iter()
        .zip(groups_b.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut acc = f32x8::ZERO;
    for (x, y) in groups_a.zip(groups_b) {
        acc = f32x8::from(lanes(x)).mul_add(f32x8::from(lanes(y)), acc);
    }
    acc.reduce_add() + tail
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
