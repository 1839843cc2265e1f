//! Folder extraction: stable order, recursive discovery, one bad file does not stop the rest;
//! and, when RAVDESS is present, every file decodes and yields finite features.

mod common;

use ser_dsp::{
    extract_file, extract_files, find_wavs, read_wav, DspError, MfccConfig, MfccExtractor,
};

fn write_tone(path: &std::path::Path, sr: u32, n: usize, freq: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: sr,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..n {
        let x = 0.5 * (2.0 * std::f32::consts::PI * freq * i as f32 / sr as f32).sin();
        w.write_sample((x * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn folder_extraction_keeps_order_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("b/nested")).unwrap();
    write_tone(&dir.path().join("b/nested/z.wav"), 16000, 9000, 300.0);
    write_tone(&dir.path().join("a.WAV"), 48000, 30000, 1000.0);
    write_tone(&dir.path().join("c.wav"), 22050, 4000, 700.0);
    std::fs::write(dir.path().join("b/broken.wav"), b"ID3\x04not really audio").unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not a wav").unwrap();

    let paths = find_wavs(dir.path()).unwrap();
    let names: Vec<_> = paths
        .iter()
        .map(|p| {
            p.strip_prefix(dir.path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["a.WAV", "b/broken.wav", "b/nested/z.wav", "c.wav"]);

    for preset in MfccConfig::preset_names() {
        let config = MfccConfig::from_preset(preset).unwrap();
        let results = extract_files(&paths, &config);
        assert_eq!(results.len(), paths.len());
        for (path, r) in paths.iter().zip(&results) {
            if path.ends_with("broken.wav") {
                let err = r.as_ref().unwrap_err();
                assert!(matches!(err, DspError::NotWave { .. }), "{err:?}");
                assert!(err.to_string().contains("broken.wav"));
            } else {
                assert_eq!(
                    r.as_ref().unwrap(),
                    &extract_file(path, &config).unwrap(),
                    "{}",
                    path.display()
                );
            }
        }
    }
}

/// A folder at mixed rates with `target_sample_rate`: every file is resampled to it (frame count of
/// the resampled length), in parallel exactly as one by one; a file already at the target is
/// untouched.
#[test]
fn mixed_rates_are_resampled_to_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("a.wav", 16000u32, 9000usize),
        ("b.wav", 48000, 30000),
        ("c.wav", 22050, 4000),
    ];
    for (name, sr, n) in files {
        write_tone(&dir.path().join(name), sr, n, 440.0);
    }
    let paths = find_wavs(dir.path()).unwrap();
    let config = MfccConfig {
        target_sample_rate: Some(16000),
        ..MfccConfig::paper()
    };
    let results = extract_files(&paths, &config);
    for ((path, result), (_, sr, n)) in paths.iter().zip(&results).zip(files) {
        let features = result.as_ref().unwrap();
        let resampled = ser_dsp::resample::resampled_len(n, sr, 16000).unwrap();
        assert_eq!(
            features.n_frames,
            1 + resampled / 2048,
            "{}",
            path.display()
        );
        assert_eq!(features, &extract_file(path, &config).unwrap());
    }
    assert_eq!(
        results[0].as_ref().unwrap(),
        &extract_file(&paths[0], &MfccConfig::paper()).unwrap(),
        "a file at the target rate is not resampled"
    );
}

#[test]
fn every_ravdess_file_decodes_with_finite_features() {
    let Some(dir) = common::ravdess_dir("every_ravdess_file_decodes_with_finite_features") else {
        return;
    };
    let paths = find_wavs(&dir).unwrap();
    assert!(!paths.is_empty(), "no WAV under {}", dir.display());
    for preset in MfccConfig::preset_names() {
        let config = MfccConfig::from_preset(preset).unwrap();
        let results = extract_files(&paths, &config);
        for (path, r) in paths.iter().zip(results) {
            let f = r.unwrap_or_else(|e| panic!("{preset}: {e}"));
            assert!(f.n_frames > 0 && f.n_coeffs == 34, "{}", path.display());
            assert!(
                f.data.iter().all(|v| v.is_finite()),
                "{preset}: non-finite feature in {}",
                path.display()
            );
        }
    }
    // 16-bit mono files are framed straight from their codes: bit-identical to decoding them first.
    for path in paths.iter().step_by(7) {
        for preset in MfccConfig::preset_names() {
            let config = MfccConfig::from_preset(preset).unwrap();
            assert_same_as_decoded(path, &config);
        }
    }
    let a = read_wav(&paths[0]).unwrap();
    assert!(a.sample_rate > 0 && !a.samples.is_empty());
    eprintln!(
        "checked {} RAVDESS files under {}",
        paths.len(),
        dir.display()
    );
}

/// `extract_file` (which frames 16-bit mono files from their codes) equals `compute` on the decoded
/// samples, bit for bit.
fn assert_same_as_decoded(path: &std::path::Path, config: &MfccConfig) {
    let audio = read_wav(path).unwrap();
    let decoded = MfccExtractor::new(config, audio.sample_rate)
        .unwrap()
        .compute(&audio.samples)
        .unwrap();
    let direct = extract_file(path, config).unwrap();
    assert_eq!(direct.n_frames, decoded.n_frames, "{}", path.display());
    let bits = |d: &[f32]| d.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert!(
        bits(&direct.data) == bits(&decoded.data),
        "{}: features from the codes differ from those of the decoded samples",
        path.display()
    );
}

#[test]
fn pcm16_mono_files_give_the_decoded_features_exactly() {
    let dir = tempfile::tempdir().unwrap();
    for (i, (sr, n)) in [(16_000, 5_000), (48_000, 20_001), (22_050, 4_097)]
        .into_iter()
        .enumerate()
    {
        let path = dir.path().join(format!("tone{i}.wav"));
        write_tone(&path, sr, n, 440.0 + 100.0 * i as f32);
        for preset in MfccConfig::preset_names() {
            assert_same_as_decoded(&path, &MfccConfig::from_preset(preset).unwrap());
        }
    }
}
