//! Deterministic seeds.
//!
//! Each unit of work (cell, fold, seed) gets its own seed from those three values only,
//! `unit = first 8 bytes (LE) of SHA-256("ser-experiment unit v1" ‖ seed ‖ cell name ‖ fold)`, so its result
//! does not depend on which other units run, in what order, or on how many threads. Inside a unit,
//! the streams (initialisation, shuffling, dropout of step `s` of epoch `e`) are split off with
//! [`derive()`], a SplitMix64 finaliser over the unit seed, a stream tag and two counters.

use sha2::{Digest, Sha256};

use crate::cells::Cell;

/// Seed of one (cell, fold, seed) unit.
pub fn unit_seed(seed: u64, cell: &Cell, fold: usize) -> u64 {
    let mut h = Sha256::new();
    h.update(b"ser-experiment unit v1\0");
    h.update(seed.to_le_bytes());
    h.update(cell.to_string().as_bytes());
    h.update(b"\0");
    h.update((fold as u64).to_le_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// Stream tags for [`derive()`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Stream {
    Init = 1,
    Shuffle = 2,
    Dropout = 3,
    Augment = 4,
}

/// An independent seed for `stream` at counters `(a, b)` (e.g. epoch and step).
pub fn derive(unit: u64, stream: Stream, a: u64, b: u64) -> u64 {
    let mut x = splitmix(unit ^ splitmix(stream as u64));
    x = splitmix(x ^ splitmix(a.wrapping_add(0x51_7c_c1_b7_27_22_0a_95)));
    splitmix(x ^ splitmix(b.wrapping_add(0x2545_f491_4f6c_dd1d)))
}

/// SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mix.
fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
