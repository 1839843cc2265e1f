//! The built-in model and real RAVDESS clips (skipped with a message when the data is absent).

mod common;

use common::{png_size, ravdess_dir, ser};

#[test]
fn info_describes_the_built_in_model_and_credits_ravdess() {
    let dir = tempfile::tempdir().unwrap();
    let run = ser(dir.path(), &["info"]).ok();
    assert!(run.stdout.contains("built-in model"), "{}", run.stdout);
    assert!(run.stdout.contains("Livingstone & Russo") && run.stdout.contains("CC BY-NC-SA 4.0"));
    assert!(run.stdout.contains("parameters"));
}

#[test]
fn built_in_model_predicts_ravdess_clips() {
    let Some(data) = ravdess_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = data.join("Actor_01/03-01-05-01-01-01-01.wav");
    let b = data.join("Actor_01/03-01-02-01-01-02-01.wav"); // stereo with identical channels
    let run = ser(
        dir.path(),
        &[
            "predict",
            "--json",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
    )
    .ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["model"], "built-in model");
    assert_eq!(v["predictions"].as_array().unwrap().len(), 2);
}

#[test]
fn eval_on_one_ravdess_actor() {
    let Some(data) = ravdess_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let actor = data.join("Actor_08");
    let run = ser(
        dir.path(),
        &[
            "eval",
            "--data",
            actor.to_str().unwrap(),
            "-o",
            "out",
            "--json",
        ],
    )
    .ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["clips"], 60);
    let uar = v["uar"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&uar));
    assert_eq!(png_size(&dir.path().join("out/confusion.png")), (1000, 820));
}

#[test]
fn features_of_a_ravdess_clip_match_its_length() {
    let Some(data) = ravdess_dir() else { return };
    let dir = tempfile::tempdir().unwrap();
    let clip = data.join("Actor_02/03-01-01-01-01-01-02.wav");
    ser(
        dir.path(),
        &["features", clip.to_str().unwrap(), "-o", "out"],
    )
    .ok();
    let bytes = std::fs::read(dir.path().join("out/03-01-01-01-01-01-02.npy")).unwrap();
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    let samples = hound::WavReader::open(&clip).unwrap().duration() as usize;
    assert!(
        header.contains(&format!("'shape': ({}, 34)", 1 + samples / 2048)),
        "{header}"
    );
}
