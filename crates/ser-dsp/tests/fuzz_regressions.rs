//! Replays, in `cargo test`, the inputs that made the cargo-fuzz target (`fuzz/fuzz_targets/wav_mfcc.rs`,
//! run by `cargo xtask fuzz`) fail. No binary input is committed: each finding is rebuilt here, byte
//! structure for byte structure, by a generator. Every finding must now give finite features or a typed
//! error naming the file, through the bytes and the file entry points, with the paper and the 25ms
//! presets; specific findings are also checked for their exact error.
//!
//! | finding | found | failure | fix |
//! |---|---|---|---|
//! | `float32_huge_sample` | first 30 s run | the 440 Hz float32 seed (8 kHz, 400 samples) mutated so that 67 samples are finite but huge (the first, sample 176, is −1.8e24; up to 1.5e38): the power spectrum overflowed f32 and the features were `inf` | `DspError::SampleOutOfRange` for a sample above 2^24 in magnitude, in `decode_wav` and in `MfccExtractor::compute` |

use std::path::Path;

use ser_dsp::{decode_wav, extract_file, DspError, MfccConfig, MfccExtractor, MAX_ABS_SAMPLE};

/// A mono IEEE-float WAV at `rate` holding `samples`.
fn float32_wav(rate: u32, samples: &[f32]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|v| v.to_le_bytes()).collect();
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    for field in [16u32, 3 | (1 << 16), rate, rate * 4, 4 | (32 << 16)] {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&data);
    out
}

/// The `float32_huge_sample` finding: the fuzzer's 440 Hz float32 seed with huge finite samples written
/// where the fuzzer put its largest ones (the first at 176).
fn float32_huge_sample() -> Vec<u8> {
    let rate = 8_000;
    let mut x: Vec<f32> = (0..400)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin())
        .collect();
    for (i, v) in [
        (176, -1.800_505_4e24),
        (271, 1.296_087e18),
        (272, -1.120_075_6e38),
        (277, -1.469_737_8e38),
        (286, -4.175_109e37),
        (295, -9.018_734e36),
    ] {
        x[i] = v;
    }
    float32_wav(rate, &x)
}

/// Every finding, by name.
fn findings() -> Vec<(&'static str, Vec<u8>)> {
    vec![("float32_huge_sample", float32_huge_sample())]
}

/// The fuzz target's check, for one input; `Err` describes a violation.
fn check(bytes: &[u8], name: &Path) -> Result<(), String> {
    let audio = match decode_wav(bytes, name) {
        Ok(audio) => audio,
        Err(e) if e.path() == Some(name) => return Ok(()),
        Err(e) => return Err(format!("decode error does not name the file: {e}")),
    };
    for config in [MfccConfig::paper(), MfccConfig::preset_25ms()] {
        let Ok(mut extractor) = MfccExtractor::new(&config, audio.sample_rate) else {
            continue;
        };
        if let Ok(f) = extractor.compute(&audio.samples) {
            if f.data.len() != f.n_frames * f.n_coeffs {
                return Err("feature shape".into());
            }
            if let Some(i) = f.data.iter().position(|v| !v.is_finite()) {
                return Err(format!("non-finite feature {} at {i}", f.data[i]));
            }
        }
        if let Ok(f) = extract_file(name, &config) {
            if let Some(i) = f.data.iter().position(|v| !v.is_finite()) {
                return Err(format!("extract_file: non-finite feature at {i}"));
            }
        }
    }
    Ok(())
}

#[test]
fn every_fuzz_finding_now_gives_finite_features_or_a_typed_error() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let failures: Vec<String> = findings()
        .into_iter()
        .filter_map(|(name, bytes)| {
            let path = dir.path().join(format!("{name}.wav"));
            std::fs::write(&path, &bytes).expect("write finding");
            check(&bytes, &path)
                .err()
                .map(|why| format!("{name}: {why}"))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_float_file_with_huge_finite_samples_is_rejected_naming_the_sample() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("float32_huge_sample.wav");
    let bytes = float32_huge_sample();
    std::fs::write(&path, &bytes).expect("write finding");
    match decode_wav(&bytes, &path) {
        Err(DspError::SampleOutOfRange {
            path: p,
            index,
            value,
            limit,
        }) => {
            assert_eq!(p, path);
            assert_eq!(index, 176);
            assert!(value.is_finite() && value.abs() > MAX_ABS_SAMPLE);
            assert_eq!(limit, MAX_ABS_SAMPLE);
        }
        other => panic!("expected SampleOutOfRange, got {other:?}"),
    }
    let err = extract_file(&path, &MfccConfig::paper()).unwrap_err();
    assert!(
        err.to_string().contains("float32_huge_sample") && err.to_string().contains("sample 176"),
        "{err}"
    );
}

#[test]
fn compute_rejects_out_of_range_and_non_finite_slices_and_accepts_the_limit() {
    let mut extractor = MfccExtractor::new(&MfccConfig::paper(), 8_000).expect("plan");
    let tone: Vec<f32> = (0..4000).map(|i| (i as f32 * 0.3).sin()).collect();
    // At the limit the features stay finite: the bound is not too tight.
    let loud: Vec<f32> = tone.iter().map(|x| x.signum() * MAX_ABS_SAMPLE).collect();
    let f = extractor.compute(&loud).expect("at the limit");
    assert!(f.data.iter().all(|v| v.is_finite()));
    let mut huge = tone.clone();
    huge[10] = 1e30;
    assert!(matches!(
        extractor.compute(&huge),
        Err(DspError::SampleOutOfRange { index: 10, .. })
    ));
    let mut nan = tone;
    nan[3] = f32::NAN;
    assert!(matches!(
        extractor.compute(&nan),
        Err(DspError::NonFiniteSample { index: 3, .. })
    ));
}
