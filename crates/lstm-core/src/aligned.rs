//! A growable buffer whose values start on a cache-line boundary.
//!
//! The gate pre-activations `G [rows, 4H]` are read and written by the AMX kernel as whole 16 × 16 tiles
//! of C. A tile row that straddles two cache lines costs a second line per row: the step product at
//! H = 128 ran 8–10 % slower from a `Vec<f32>` allocation than from a 64-byte boundary. With the buffer
//! aligned, every row of G starts on a line whenever `4H·size_of::<T>()` is a multiple of 64 (H a
//! multiple of 4 for `f32`).

use crate::real::Real;
use std::ops::{Deref, DerefMut};

/// Byte boundary the values start on.
pub const ALIGN_BYTES: usize = 64;

/// `[len]` values of `T` starting at a multiple of [`ALIGN_BYTES`] (when the allocator's address allows
/// it, which `Vec` always does on the platforms we build for; otherwise unaligned, never wrong).
/// Dereferences to `[T]`. Only grows.
#[derive(Clone, Debug, Default)]
pub struct AlignedBuf<T> {
    raw: Vec<T>,
    start: usize,
    len: usize,
}

impl<T: Real> AlignedBuf<T> {
    /// Makes the buffer hold exactly `len` values, reusing the allocation. The values are unspecified
    /// (zero when new, old ones possibly shifted when the allocation moved); callers write before they
    /// read.
    pub fn fit(&mut self, len: usize) {
        let pad = ALIGN_BYTES / std::mem::size_of::<T>().max(1);
        if self.raw.len() < len + pad {
            self.raw.resize(len + pad, T::ZERO);
        }
        let offset = self.raw.as_ptr().align_offset(ALIGN_BYTES);
        self.start = if offset <= pad { offset } else { 0 };
        self.len = len;
    }
}

impl<T> Deref for AlignedBuf<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.raw[self.start..self.start + self.len]
    }
}

impl<T> DerefMut for AlignedBuf<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.raw[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_start_on_a_line_and_keep_their_length() {
        let mut buf = AlignedBuf::<f32>::default();
        assert!(buf.is_empty());
        for len in [1, 17, 4096, 3, 100_000, 0] {
            buf.fit(len);
            assert_eq!(buf.len(), len);
            assert_eq!(buf.as_ptr() as usize % ALIGN_BYTES, 0, "len {len}");
            buf.fill(1.5);
            assert!(buf.iter().all(|&v| v == 1.5));
        }
        let mut wide = AlignedBuf::<f64>::default();
        wide.fit(33);
        assert_eq!(wide.as_ptr() as usize % ALIGN_BYTES, 0);
    }
}
