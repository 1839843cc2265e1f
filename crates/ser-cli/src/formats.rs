//! Feature-matrix file formats written by `ser features`.
//!
//! Both take one clip's MFCC matrix `data: [n_frames, n_coeffs]` row-major (time-major, librosa's
//! `mfcc` output transposed).
//!
//! - `.npy` (NumPy format v1.0): the 6-byte magic `\x93NUMPY`, version `1 0`, a little-endian `u16`
//!   header length, the header — a Python dict literal
//!   `{'descr': '<f4', 'fortran_order': False, 'shape': (n_frames, n_coeffs), }` padded with spaces
//!   and ended by `\n` so that the data starts at a multiple of 64 bytes — then the `f32` values in
//!   little-endian C order. `numpy.load(path)` returns an array of shape `(n_frames, n_coeffs)`.
//! - `.csv`: a header `frame,mfcc_0,…,mfcc_{C-1}`, then one row per frame (frame `t` covers the
//!   samples from `t · hop`; centred frames are centred there).

use std::fmt::Write as _;

/// Alignment of the data section (what NumPy itself writes).
const NPY_ALIGN: usize = 64;

/// Encodes `data: [rows, cols]` row-major as a `.npy` v1.0 file of `<f4`.
///
/// # Panics
/// If `data.len() != rows * cols` (a caller bug: the matrix comes from `ser_dsp::Features`).
pub fn npy_f32(data: &[f32], rows: usize, cols: usize) -> Vec<u8> {
    assert_eq!(data.len(), rows * cols, "npy_f32: data is not [rows, cols]");
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // magic (6) + version (2) + header length (2) + dict + padding + '\n'
    let unpadded = 10 + dict.len() + 1;
    let padding = (NPY_ALIGN - unpadded % NPY_ALIGN) % NPY_ALIGN;
    let header_len = dict.len() + padding + 1;
    let mut out = Vec::with_capacity(10 + header_len + 4 * data.len());
    out.extend_from_slice(b"\x93NUMPY");
    out.extend_from_slice(&[1, 0]);
    // A v1.0 header length is a u16; ours is < 128 bytes.
    out.extend_from_slice(&(header_len as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + padding, b' ');
    out.push(b'\n');
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Encodes `data: [rows, cols]` row-major as CSV with `frame,mfcc_0..` columns.
///
/// # Panics
/// If `data.len() != rows * cols`.
pub fn csv_matrix(data: &[f32], rows: usize, cols: usize) -> String {
    assert_eq!(
        data.len(),
        rows * cols,
        "csv_matrix: data is not [rows, cols]"
    );
    let mut s = String::from("frame");
    for c in 0..cols {
        let _ = write!(s, ",mfcc_{c}");
    }
    s.push('\n');
    for (t, row) in data.chunks_exact(cols.max(1)).enumerate().take(rows) {
        let _ = write!(s, "{t}");
        for v in row {
            // `{}` prints the shortest text that reads back as the same f32.
            let _ = write!(s, ",{v}");
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_describes_the_shape() {
        let data: Vec<f32> = (0..6).map(|i| i as f32 * 0.5).collect();
        let bytes = npy_f32(&data, 2, 3);
        assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
        assert!(header.contains("'shape': (2, 3)"), "{header}");
        assert!(header.ends_with('\n'));
        let body = &bytes[10 + header_len..];
        assert_eq!(body.len(), 24);
        let back: Vec<f32> = body
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(back, data);
    }

    #[test]
    fn csv_has_one_row_per_frame_and_round_trips_values() {
        let data = [1.5f32, -0.1, 3.25, 1e-7];
        let text = csv_matrix(&data, 2, 2);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "frame,mfcc_0,mfcc_1");
        assert_eq!(lines.len(), 3);
        let last: Vec<f32> = lines[2]
            .split(',')
            .skip(1)
            .map(|v| v.parse().unwrap())
            .collect();
        assert_eq!(last, [3.25, 1e-7]);
    }
}
