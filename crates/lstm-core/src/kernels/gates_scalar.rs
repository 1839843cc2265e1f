//! Scalar reference gate kernels: plain loops, generic over [`Real`], always compiled.
//!
//! Equations and slice shapes: see [`crate::kernels`]. The `*_cols` functions process a column range of
//! one row; the SIMD kernel reuses them for its lane tails.

use crate::kernels::{check_backward, check_forward};
use crate::real::Real;
use std::ops::Range;

/// Forward pass over `rows` rows (see [`crate::kernels::ForwardFn`]).
///
/// # Panics
/// If a slice is shorter than its documented shape.
pub fn forward_rows<T: Real>(
    rows: usize,
    hidden: usize,
    bias: &[T],
    gates: &mut [T],
    c_prev: Option<&[T]>,
    c: &mut [T],
    h: &mut [T],
    mut tanh_c: Option<&mut [T]>,
) {
    check_forward(rows, hidden, bias, gates, c_prev, c, h, tanh_c.as_deref());
    for r in 0..rows {
        let row = r * hidden..(r + 1) * hidden;
        forward_cols(
            0..hidden,
            hidden,
            bias,
            &mut gates[r * 4 * hidden..(r + 1) * 4 * hidden],
            c_prev.map(|cp| &cp[row.clone()]),
            &mut c[row.clone()],
            &mut h[row.clone()],
            tanh_c.as_deref_mut().map(|tc| &mut tc[row]),
        );
    }
}

/// Forward equations for columns `cols` of one row: `gate_row: [4H]`, `c_prev_row, c_row, h_row,
/// tanh_c_row: [H]`.
#[inline]
pub fn forward_cols<T: Real>(
    cols: Range<usize>,
    hidden: usize,
    bias: &[T],
    gate_row: &mut [T],
    c_prev_row: Option<&[T]>,
    c_row: &mut [T],
    h_row: &mut [T],
    mut tanh_c_row: Option<&mut [T]>,
) {
    for j in cols {
        let i = (gate_row[j] + bias[j]).sigmoid();
        let f = (gate_row[hidden + j] + bias[hidden + j]).sigmoid();
        let g = (gate_row[2 * hidden + j] + bias[2 * hidden + j]).tanh();
        let o = (gate_row[3 * hidden + j] + bias[3 * hidden + j]).sigmoid();
        let cp = c_prev_row.map_or(T::ZERO, |cp| cp[j]);
        let cn = f * cp + i * g;
        let tc = cn.tanh();
        c_row[j] = cn;
        h_row[j] = o * tc;
        if let Some(t) = tanh_c_row.as_deref_mut() {
            t[j] = tc;
        }
        gate_row[j] = i;
        gate_row[hidden + j] = f;
        gate_row[2 * hidden + j] = g;
        gate_row[3 * hidden + j] = o;
    }
}

/// Backward pass over `rows` rows (see [`crate::kernels::BackwardFn`]).
///
/// # Panics
/// If a slice is shorter than its documented shape.
pub fn backward_rows<T: Real>(
    rows: usize,
    hidden: usize,
    gates: &mut [T],
    c_prev: Option<&[T]>,
    tanh_c: &[T],
    dh_out: Option<&[T]>,
    dh_rec: &[T],
    dc: &mut [T],
) {
    check_backward(rows, hidden, gates, c_prev, tanh_c, dh_out, dh_rec, dc);
    for r in 0..rows {
        let row = r * hidden..(r + 1) * hidden;
        backward_cols(
            0..hidden,
            hidden,
            &mut gates[r * 4 * hidden..(r + 1) * 4 * hidden],
            c_prev.map(|cp| &cp[row.clone()]),
            &tanh_c[row.clone()],
            dh_out.map(|d| &d[row.clone()]),
            &dh_rec[row.clone()],
            &mut dc[row],
        );
    }
}

/// Backward equations for columns `cols` of one row: `gate_row: [4H]`, every other slice `[H]`.
#[inline]
pub fn backward_cols<T: Real>(
    cols: Range<usize>,
    hidden: usize,
    gate_row: &mut [T],
    c_prev_row: Option<&[T]>,
    tanh_c_row: &[T],
    dh_out_row: Option<&[T]>,
    dh_rec_row: &[T],
    dc_row: &mut [T],
) {
    for j in cols {
        let i = gate_row[j];
        let f = gate_row[hidden + j];
        let g = gate_row[2 * hidden + j];
        let o = gate_row[3 * hidden + j];
        let dh = dh_rec_row[j] + dh_out_row.map_or(T::ZERO, |d| d[j]);
        let tc = tanh_c_row[j];
        let d_o = dh * tc;
        let dcn = dc_row[j] + dh * o * (T::ONE - tc * tc);
        let cp = c_prev_row.map_or(T::ZERO, |cp| cp[j]);
        dc_row[j] = dcn * f;
        gate_row[j] = dcn * g * i * (T::ONE - i);
        gate_row[hidden + j] = dcn * cp * f * (T::ONE - f);
        gate_row[2 * hidden + j] = dcn * i * (T::ONE - g * g);
        gate_row[3 * hidden + j] = d_o * o * (T::ONE - o);
    }
}
