//! Replays the inputs that made the cargo-fuzz target (`fuzz/fuzz_targets/wav_mfcc.rs`, run by
//! `cargo xtask fuzz`) fail, saved in `fixtures/hostile/fuzz/*.bin`: each must now give finite features
//! or a typed error naming the file, through both the bytes and the file entry points, with the paper
//! and the 25ms presets. Specific findings are also checked for their exact error.

use std::path::{Path, PathBuf};

use ser_dsp::{decode_wav, extract_file, DspError, MfccConfig, MfccExtractor, MAX_ABS_SAMPLE};

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/hostile/fuzz")
}

fn regression_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(regressions_dir())
        .expect("fixtures/hostile/fuzz exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bin"))
        .collect();
    files.sort();
    files
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
fn every_saved_fuzz_failure_now_gives_finite_features_or_a_typed_error() {
    let files = regression_files();
    assert!(
        !files.is_empty(),
        "no *.bin in {}",
        regressions_dir().display()
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let bytes = std::fs::read(path).expect("read regression");
            check(&bytes, path)
                .err()
                .map(|why| format!("{}: {why}", path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_float_file_with_huge_finite_samples_is_rejected_naming_the_sample() {
    let path = regressions_dir().join("float32_huge_sample-bfcfd807.bin");
    let bytes = std::fs::read(&path).expect("read regression");
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
