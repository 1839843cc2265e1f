//! Shared helpers of the integration tests: run the built `ser` binary, make WAV files, find RAVDESS.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Result of one `ser` run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics with both streams unless the exit code is 0.
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "ser failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `ser args…` in `dir` (stdin closed, so no progress bars: stderr is not a terminal).
pub fn ser(dir: &Path, args: &[&str]) -> Run {
    ser_with_stdin(dir, args, "")
}

/// Runs `ser args…` in `dir` with `stdin` as standard input.
pub fn ser_with_stdin(dir: &Path, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ser"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the ser binary");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    Run::from(child.wait_with_output().expect("ser did not finish"))
}

/// Writes a mono 16-bit WAV: a tone of `freq` Hz plus a little seeded noise, `seconds` long.
pub fn write_wav(path: &Path, freq: f32, seconds: f32, sample_rate: u32, seed: u32) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).unwrap();
    let mut state = seed.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
    let n = (seconds * sample_rate as f32) as usize;
    for i in 0..n {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
        let t = i as f32 / sample_rate as f32;
        let v = 0.4 * (2.0 * std::f32::consts::PI * freq * t).sin() + 0.05 * noise;
        writer.write_sample((v * 32767.0) as i16).unwrap();
    }
    writer.finalize().unwrap();
}

pub const EMOTIONS: [&str; 8] = [
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
];

/// A small labelled corpus: 8 emotions × 3 speakers × 2 clips of 0.6 s at 16 kHz (tone pitch
/// depends on the emotion), listed in `list.csv` as `path,label,speaker`.
pub fn synthetic_corpus(dir: &Path) -> PathBuf {
    let mut csv = String::from("path,label,speaker\n");
    for (e, emotion) in EMOTIONS.iter().enumerate() {
        for speaker in 0..3 {
            for take in 0..2 {
                let name = format!("wav/s{speaker}_{emotion}_{take}.wav");
                let freq = 150.0 + 60.0 * e as f32 + 7.0 * speaker as f32;
                write_wav(
                    &dir.join(&name),
                    freq,
                    0.6,
                    16_000,
                    (e * 10 + speaker * 2 + take) as u32,
                );
                csv += &format!("{name},{emotion},s{speaker}\n");
            }
        }
    }
    let list = dir.join("list.csv");
    std::fs::write(&list, csv).unwrap();
    list
}

/// A folder holding the synthetic corpus and a tiny model trained on it (built once per test
/// binary): `dir/list.csv`, `dir/wav/*.wav`, `dir/run/model.safetensors` and its companions.
pub fn trained_fixture() -> &'static Path {
    static FIXTURE: OnceLock<tempfile::TempDir> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            synthetic_corpus(dir.path());
            ser(
                dir.path(),
                &[
                    "-q",
                    "train",
                    "--data",
                    "list.csv",
                    "--cell",
                    "L1h32",
                    "--epochs",
                    "2",
                    "--val-speakers",
                    "s2",
                    "-o",
                    "run/model.safetensors",
                ],
            )
            .ok();
            dir
        })
        .path()
}

/// `$RAVDESS_DIR`, else `<repo>/../shared/ravdess`, if it holds Actor_01; `None` (with a message) if not.
pub fn ravdess_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RAVDESS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/ravdess"
            ))
        });
    if dir.join("Actor_01").is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no RAVDESS data at {} (set RAVDESS_DIR)",
            dir.display()
        );
        None
    }
}

/// Width and height of a PNG file, decoding the whole image (fails on a corrupt file).
pub fn png_size(path: &Path) -> (u32, u32) {
    let img =
        image::open(path).unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
    (img.width(), img.height())
}
