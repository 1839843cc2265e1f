//! Time derivatives of a feature matrix, with `librosa.feature.delta(width=9, mode="interp")`
//! semantics along time.
//!
//! librosa's delta of order `p` is a Savitzky–Golay derivative filter (`polyorder = deriv = p`):
//! around every frame, fit a polynomial of degree `p` to the `W = 2M + 1` frames `t-M..=t+M` by
//! least squares and take its `p`-th derivative (frames are one unit apart). That derivative is a
//! fixed linear filter `c`:
//!
//! ```text
//! Δ[t, j]  = Σ_{k=-M}^{M} c¹_k · x[τ + k, j]     c¹_k = k / Σ_{i=-M}^{M} i²
//! ΔΔ[t, j] = Σ_{k=-M}^{M} c²_k · x[τ + k, j]     c²_k = 2 (k² - μ) / Σ_{i=-M}^{M} (i² - μ)²,
//!                                                μ = M(M+1)/3 (the mean of k²)
//! τ = clamp(t, M, T-1-M)
//! ```
//!
//! The clamp is scipy's `mode="interp"`: the first and last `M` frames take the `p`-th derivative
//! of the polynomial fitted to the first (last) `W` frames. For degree `p` that derivative is a
//! constant, equal to the filter output at the window's centre, so the edge frames repeat the
//! value of frame `M` (`T-1-M`). A linear ramp therefore has its exact slope at every frame.
//!
//! Short clips (librosa raises an error when `T < W`): the width shrinks to the largest odd
//! number `≤ T`, so clips of 3 to 8 frames use `W = 3, 5, 7` (`librosa.feature.delta(width=W)`).
//! With fewer than 3 frames no polynomial of degree ≥ 1 can be fitted around a frame, and every
//! delta is 0 (what a width-1 filter, a degree-0 fit, gives); the clip keeps its feature width
//! instead of failing, as its MFCC does.
//!
//! Sums run in `f64` (as `scipy.ndimage.correlate1d` does) and are rounded to `f32`.

/// The window librosa uses by default, `W = 9` frames.
pub const DELTA_WIDTH: usize = 9;

/// The width actually used for a clip of `n_frames` frames when `width` is asked for: the largest
/// odd number `≤ min(width, n_frames)`, or `None` (all deltas 0) when that is below 3.
pub fn effective_width(width: usize, n_frames: usize) -> Option<usize> {
    let w = width.min(n_frames);
    let w = if w.is_multiple_of(2) {
        w.saturating_sub(1)
    } else {
        w
    };
    (w >= 3).then_some(w)
}

/// Filter taps `c_k`, `k = -M..=M`, of the order-`order` derivative over `width` frames (module
/// equation), in `f64`: `[width]`.
///
/// # Panics
/// If `order` is not 1 or 2, or `width` is not an odd number ≥ 3.
pub fn savgol_taps(order: usize, width: usize) -> Vec<f64> {
    assert!(
        width >= 3 && width % 2 == 1,
        "delta width {width} must be odd and >= 3"
    );
    let m = (width / 2) as f64;
    let ks = (0..width).map(|i| i as f64 - m);
    match order {
        1 => {
            let norm: f64 = ks.clone().map(|k| k * k).sum();
            ks.map(|k| k / norm).collect()
        }
        2 => {
            let mu = m * (m + 1.0) / 3.0;
            let norm: f64 = ks.clone().map(|k| (k * k - mu) * (k * k - mu)).sum();
            ks.map(|k| 2.0 * (k * k - mu) / norm).collect()
        }
        _ => panic!("delta order {order} is not supported (1 or 2)"),
    }
}

/// Writes the order-`order` delta of `x` along time into `out` (module equation).
///
/// Shapes: `x: [n_frames, n_coeffs]` row-major with `n_frames = x.len() / n_coeffs`; `out` is
/// row-major with row stride `out_stride` and frame `t` written to
/// `out[t · out_stride .. t · out_stride + n_coeffs]` (other entries untouched), so `out` may be
/// a column block of a wider matrix, e.g. `&mut features[n_mfcc..]` with stride `n_features`.
/// `width` is the nominal window ([`DELTA_WIDTH`]), shrunk for short clips by
/// [`effective_width`]. Allocates only the taps, once per call.
///
/// # Panics
/// If `n_coeffs == 0`, `x.len()` is not a multiple of it, `out_stride < n_coeffs`, `out` is too
/// short (`(n_frames - 1) · out_stride + n_coeffs`), `order` is not 1 or 2, or `width` is even
/// or below 3.
pub fn delta_into(
    x: &[f32],
    n_coeffs: usize,
    order: usize,
    width: usize,
    out: &mut [f32],
    out_stride: usize,
) {
    assert!(n_coeffs > 0, "n_coeffs must be positive");
    assert_eq!(x.len() % n_coeffs, 0, "x is not [n_frames, {n_coeffs}]");
    assert!(out_stride >= n_coeffs, "out_stride below n_coeffs");
    assert!(
        (1..=2).contains(&order),
        "delta order {order} is not supported (1 or 2)"
    );
    assert!(
        width >= 3 && width % 2 == 1,
        "delta width {width} must be odd and >= 3"
    );
    let n_frames = x.len() / n_coeffs;
    if n_frames == 0 {
        return;
    }
    assert!(
        out.len() >= (n_frames - 1) * out_stride + n_coeffs,
        "out is too short for {n_frames} frames of stride {out_stride}"
    );
    let Some(w) = effective_width(width, n_frames) else {
        for row in 0..n_frames {
            out[row * out_stride..row * out_stride + n_coeffs].fill(0.0);
        }
        return;
    };
    let half = w / 2;
    let taps = savgol_taps(order, w);
    for t in 0..n_frames {
        let window = &x[(t.clamp(half, n_frames - 1 - half) - half) * n_coeffs..][..w * n_coeffs];
        let dst = &mut out[t * out_stride..t * out_stride + n_coeffs];
        for (j, d) in dst.iter_mut().enumerate() {
            let acc: f64 = taps
                .iter()
                .zip(window.chunks_exact(n_coeffs))
                .map(|(&c, row)| c * f64::from(row[j]))
                .sum();
            *d = acc as f32;
        }
    }
}

/// The order-`order` delta of `x: [n_frames, n_coeffs]` as a new `[n_frames, n_coeffs]` matrix
/// (see [`delta_into`], which this wraps).
///
/// # Panics
/// As [`delta_into`].
pub fn delta(x: &[f32], n_coeffs: usize, order: usize, width: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    delta_into(x, n_coeffs, order, width, &mut out, n_coeffs);
    out
}
