//! `ser features`: file formats, folder mirroring, overwrite rules, and error messages.

mod common;

use common::{ser, write_wav};

/// Parses a `.npy` v1.0 file of `<f4`: (shape, values).
fn read_npy(bytes: &[u8]) -> ((usize, usize), Vec<f32>) {
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00", "magic and version");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + header_len) % 16, 0, "data must be aligned");
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'descr': '<f4'"), "{header}");
    assert!(header.contains("'fortran_order': False"), "{header}");
    let shape = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    let dims: Vec<usize> = shape
        .split(',')
        .map(|d| d.trim().parse().unwrap())
        .collect();
    let values: Vec<f32> = bytes[10 + header_len..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    ((dims[0], dims[1]), values)
}

#[test]
fn npy_has_numpy_header_and_frames_by_coefficients() {
    let dir = tempfile::tempdir().unwrap();
    // 1 s at 16 kHz, paper preset: centred frames every 2048 samples -> 1 + 16000 / 2048 = 8 frames.
    write_wav(&dir.path().join("tone.wav"), 440.0, 1.0, 16_000, 1);
    ser(dir.path(), &["features", "tone.wav", "-o", "out"]).ok();
    let ((frames, coeffs), values) =
        read_npy(&std::fs::read(dir.path().join("out/tone.npy")).unwrap());
    assert_eq!((frames, coeffs), (1 + 16_000 / 2048, 34));
    assert_eq!(values.len(), frames * coeffs);
    assert!(values.iter().all(|v| v.is_finite()));
    let settings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/features.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(settings["features"]["preset"], "paper");
    assert_eq!(settings["features"]["mfcc"]["n_mfcc"], 34);
}

#[test]
fn explicit_parameters_override_the_preset() {
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("tone.wav"), 300.0, 0.5, 16_000, 2);
    let args = [
        "features",
        "tone.wav",
        "-o",
        "out",
        "--preset",
        "25ms",
        "--n-mfcc",
        "13",
        "--hop-length",
        "400",
    ];
    ser(dir.path(), &args).ok();
    let ((frames, coeffs), _) = read_npy(&std::fs::read(dir.path().join("out/tone.npy")).unwrap());
    // Not centred: frames of n_fft = 2048 samples every 400 samples.
    assert_eq!((frames, coeffs), (1 + (8000 - 2048) / 400, 13));
}

#[test]
fn sample_rate_resamples_every_file_before_framing() {
    let dir = tempfile::tempdir().unwrap();
    // 1 s at 48 kHz resampled to 16 kHz: 16000 samples, paper preset -> 1 + 16000 / 2048 = 8 frames
    // (24 at the native rate).
    write_wav(&dir.path().join("tone.wav"), 440.0, 1.0, 48_000, 3);
    ser(
        dir.path(),
        &[
            "features",
            "tone.wav",
            "-o",
            "out",
            "--sample-rate",
            "16000",
        ],
    )
    .ok();
    let ((frames, coeffs), values) =
        read_npy(&std::fs::read(dir.path().join("out/tone.npy")).unwrap());
    assert_eq!((frames, coeffs), (1 + 16_000 / 2048, 34));
    assert!(values.iter().all(|v| v.is_finite()));
    let settings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/features.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(settings["features"]["mfcc"]["target_sample_rate"], 16000);
    assert!(settings["features"]["preset"].is_null(), "{settings}");

    let run = ser(
        dir.path(),
        &["features", "tone.wav", "-o", "zero", "--sample-rate", "0"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(!dir.path().join("zero").exists());
}

#[test]
fn csv_has_frame_and_coefficient_columns_and_folders_are_mirrored() {
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("in/a/one.wav"), 200.0, 0.5, 16_000, 3);
    write_wav(&dir.path().join("in/b/two.wav"), 250.0, 0.7, 16_000, 4);
    ser(
        dir.path(),
        &["features", "in", "-o", "out", "--format", "csv"],
    )
    .ok();
    for (name, samples) in [("out/a/one.csv", 8000), ("out/b/two.csv", 11200)] {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(header.len(), 35);
        assert_eq!(header[0], "frame");
        assert_eq!(header[1], "mfcc_0");
        assert_eq!(header[34], "mfcc_33");
        let rows: Vec<&str> = lines.collect();
        assert_eq!(rows.len(), 1 + samples / 2048, "{name}");
        for (t, row) in rows.iter().enumerate() {
            let fields: Vec<&str> = row.split(',').collect();
            assert_eq!(fields.len(), 35);
            assert_eq!(fields[0].parse::<usize>().unwrap(), t);
            assert!(fields[1..]
                .iter()
                .all(|v| v.parse::<f32>().unwrap().is_finite()));
        }
    }
}

#[test]
fn existing_outputs_are_kept_without_force() {
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("tone.wav"), 440.0, 0.5, 16_000, 5);
    ser(dir.path(), &["features", "tone.wav", "-o", "out"]).ok();
    let out = dir.path().join("out/tone.npy");
    std::fs::write(&out, b"keep me").unwrap();
    let refused = ser(dir.path(), &["features", "tone.wav", "-o", "out"]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    ser(
        dir.path(),
        &["--force", "features", "tone.wav", "-o", "out"],
    )
    .ok();
    assert_eq!(&std::fs::read(&out).unwrap()[..6], b"\x93NUMPY");
}

#[test]
fn missing_file_is_named_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let run = ser(dir.path(), &["features", "missing.wav", "-o", "out"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("missing.wav") && run.stderr.contains("does not exist"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("backtrace") && !run.stderr.contains("panicked"),
        "{}",
        run.stderr
    );
}

#[test]
fn non_wav_file_is_named_and_fails_but_others_are_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.wav"), "this is text, not audio").unwrap();
    write_wav(&dir.path().join("good.wav"), 440.0, 0.5, 16_000, 6);
    let run = ser(
        dir.path(),
        &["features", "notes.wav", "good.wav", "-o", "out"],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("notes.wav") && run.stderr.contains("not a RIFF/WAVE"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("1 of 2 files failed"), "{}", run.stderr);
    assert!(dir.path().join("out/good.npy").is_file());
    assert!(!dir.path().join("out/notes.npy").exists());
}

#[test]
fn unknown_preset_is_a_usage_error_listing_the_presets() {
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("tone.wav"), 440.0, 0.5, 16_000, 7);
    let run = ser(
        dir.path(),
        &["features", "tone.wav", "-o", "out", "--preset", "fast"],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("'fast'")
            && run.stderr.contains("paper")
            && run.stderr.contains("25ms"),
        "{}",
        run.stderr
    );
    assert!(!dir.path().join("out").exists());
}

#[test]
fn every_subcommand_has_help_with_examples() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["features", "train", "eval", "predict", "info"] {
        let run = ser(dir.path(), &[sub, "--help"]).ok();
        assert!(
            run.stdout.contains("Examples:"),
            "{sub} --help:\n{}",
            run.stdout
        );
    }
    let run = ser(dir.path(), &["predict", "--help"]).ok();
    assert!(run.stdout.contains("RAVDESS") && run.stdout.contains("CC BY-NC-SA 4.0"));
}

#[test]
fn strict_stops_at_the_first_bad_file_and_the_default_lists_bad_files_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    write_wav(&dir.path().join("a_good.wav"), 440.0, 0.5, 16_000, 6);
    std::fs::write(dir.path().join("b_bad.wav"), b"fLaC not audio").unwrap();
    write_wav(&dir.path().join("c_good.wav"), 330.0, 0.5, 16_000, 7);
    std::fs::write(dir.path().join("d_empty.wav"), b"").unwrap();
    let inputs = ["a_good.wav", "b_bad.wav", "c_good.wav", "d_empty.wav"];

    let mut args = vec!["features"];
    args.extend(inputs);
    args.extend(["-o", "lenient"]);
    let run = ser(dir.path(), &args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(dir.path().join("lenient/c_good.npy").is_file());
    let bad = run.stderr.find("b_bad.wav").expect("names b_bad.wav");
    let empty = run.stderr.find("d_empty.wav").expect("names d_empty.wav");
    let summary = run.stderr.find("2 of 4 files failed").expect("summary");
    assert!(bad < summary && empty < summary, "{}", run.stderr);

    let mut args = vec!["features", "--strict"];
    args.extend(inputs);
    args.extend(["-o", "strict"]);
    let run = ser(dir.path(), &args);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("b_bad.wav") && run.stderr.contains("--strict"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("d_empty.wav"),
        "went past the first bad file: {}",
        run.stderr
    );
    assert!(dir.path().join("strict/a_good.npy").is_file());
}
