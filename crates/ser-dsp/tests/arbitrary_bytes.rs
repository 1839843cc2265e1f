//! Bytes → `decode_wav` → `MfccExtractor::compute` (paper and 25ms presets) never panics: arbitrary
//! bytes, and valid WAV files with a few bytes overwritten, truncated or extended, either decode to
//! finite features or give a `DspError` naming the file. (The CI stand-in for the cargo-fuzz target
//! `fuzz/fuzz_targets/wav_mfcc.rs`, run by `cargo xtask fuzz`; 256 cases per property, small files.)

use std::path::Path;

use proptest::prelude::*;
use ser_dsp::{decode_wav, MfccConfig, MfccExtractor};

/// A valid 16-bit PCM mono file of `samples` at `rate`.
fn pcm16(rate: u32, samples: &[i16]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// The path under test (the same as the cargo-fuzz target `fuzz/fuzz_targets/wav_mfcc.rs`): decode,
/// then MFCC with the `paper` and the `25ms` presets at whatever rate the (possibly mutated) header
/// states.
fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    let name = Path::new("fuzz/case.wav");
    let Ok(audio) = decode_wav(bytes, name) else {
        return Ok(());
    };
    for config in [MfccConfig::paper(), MfccConfig::preset_25ms()] {
        // A mutated header may state any rate; the extractor must still not panic.
        let features = match MfccExtractor::new(&config, audio.sample_rate) {
            Ok(mut extractor) => extractor.compute(&audio.samples),
            Err(_) => continue,
        };
        if let Ok(f) = features {
            prop_assert_eq!(f.data.len(), f.n_frames * f.n_coeffs);
            prop_assert_eq!(f.n_coeffs, config.n_mfcc());
            prop_assert!(f.data.iter().all(|v| v.is_finite()), "non-finite features");
        }
    }
    Ok(())
}

/// A mutation of a valid file: overwrite `(offset, byte)` pairs, then cut to or pad to `len`.
fn mutated() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(vec![8_000u32, 16_000, 48_000]),
        prop::collection::vec(any::<i16>(), 0..3000),
        prop::collection::vec((0usize..64, any::<u8>()), 1..6),
        prop::option::of(0usize..6100),
    )
        .prop_map(|(rate, samples, edits, len)| {
            let mut bytes = pcm16(rate, &samples);
            let n = bytes.len();
            for (offset, value) in edits {
                // Edits land mostly in the 44-byte header, sometimes in the first samples.
                bytes[offset % n] = value;
            }
            if let Some(len) = len {
                bytes.resize(len, 0x5A);
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        check(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes_after_a_riff_wave_preamble_never_panic(
        tail in prop::collection::vec(any::<u8>(), 0..2048)
    ) {
        let mut bytes = b"RIFF\x00\x10\x00\x00WAVE".to_vec();
        bytes.extend_from_slice(&tail);
        check(&bytes)?;
    }

    #[test]
    fn mutated_valid_files_never_panic(bytes in mutated()) {
        check(&bytes)?;
    }
}
