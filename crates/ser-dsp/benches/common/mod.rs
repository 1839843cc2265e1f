//! Shared bench inputs: a deterministic speech-like test signal.
#![allow(dead_code)]

/// `seconds` of a 220 Hz harmonic tone plus LCG noise at `sr`, in [-1, 1]: `[n]`.
pub fn test_signal(sr: u32, seconds: f64) -> Vec<f32> {
    let n = (seconds * f64::from(sr)) as usize;
    let mut s: u32 = 12345;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(sr);
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = f64::from(s >> 8) / 16_777_216.0 - 0.5;
            let tone: f64 = (1..6)
                .map(|h| (2.0 * std::f64::consts::PI * 220.0 * h as f64 * t).sin() / h as f64)
                .sum();
            (0.3 * tone + 0.05 * noise) as f32
        })
        .collect()
}
