//! `ser train` killed with SIGKILL at seeded random points: no partial or corrupt file is ever visible
//! under a final name, and a rerun gives the same model as a run that was never interrupted.
//!
//! Runs on the synthetic corpus of `common` (48 clips of 0.6 s, cell L1h32, 12 epochs; a run takes about 0.1 s), so it needs no
//! data. An uninterrupted reference run writes into `ref/`; the same command is then started into
//! `killed/` and killed until 4 attempts were killed mid-run (an attempt that finishes before its kill
//! point does not count; at most 16 attempts), at delays drawn from a seeded generator over (about)
//! the reference run's duration. While each attempt runs, and after each kill, every file under `killed/` is checked: a
//! temporary file (`.<name>.tmp-…`) is skipped, every other file must be complete (the model loads, the
//! log has all its rows, the PNG decodes). A last run (`--force`, as `ser train` does not resume)
//! completes, and its model and plot must be byte-identical to the reference; its log too, except the
//! `seconds` column (wall time per epoch).

#![cfg(unix)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::synthetic_corpus;

const EPOCHS: usize = 12;
const KILLS: usize = 4;
/// Attempts that finish before their kill point do not count; give up after this many attempts.
const MAX_ATTEMPTS: usize = 16;
const SEED: u64 = 8;

/// splitmix64: the seeded kill points.
fn next_unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn train(dir: &Path, out: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ser"));
    cmd.current_dir(dir)
        .args([
            "-q",
            "train",
            "--data",
            "list.csv",
            "--cell",
            "L1h32",
            "--epochs",
            &EPOCHS.to_string(),
            "--val-speakers",
            "s2",
            "--force",
            "-o",
        ])
        .arg(format!("{out}/model.safetensors"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// Checks that every final-name file under `dir` is complete; returns how many temporary files it saw.
fn check_outputs(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0; // not created yet
    };
    let mut temporary = 0;
    for entry in entries {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if is_temporary(&name) {
            temporary += 1;
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue; // renamed over between listing and reading: the next scan sees it
        };
        match name.as_str() {
            "model.safetensors" => {
                if let Err(e) =
                    ser_nn::load_model_from_bytes::<f32>(&bytes, Path::new("model.safetensors"))
                {
                    panic!("{} is visible but does not load: {e}", path.display());
                }
            }
            "model.training.csv" => {
                let text = String::from_utf8(bytes).expect("UTF-8 log");
                let lines: Vec<&str> = text.lines().collect();
                assert!(
                    text.ends_with('\n')
                        && lines.len() == EPOCHS + 1
                        && lines[0] == "epoch,train_loss,val_uar,seconds,kept"
                        && lines[1..].iter().all(|l| l.split(',').count() == 5),
                    "{} is visible but incomplete:\n{text}",
                    path.display()
                );
            }
            "model.curves.png" => {
                if let Err(e) = image::load_from_memory(&bytes) {
                    panic!("{} is visible but does not decode: {e}", path.display());
                }
            }
            other => panic!("unexpected file {other} in {}", dir.display()),
        }
    }
    temporary
}

/// The log without its `seconds` column (4th of `epoch,train_loss,val_uar,seconds,kept`).
fn log_without_seconds(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| {
            let mut fields: Vec<&str> = l.split(',').collect();
            fields.remove(3);
            fields.join(",")
        })
        .collect()
}

fn read(path: PathBuf) -> Vec<u8> {
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn sigkilled_train_leaves_no_partial_file_and_reruns_to_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    synthetic_corpus(root);

    let start = Instant::now();
    let reference = train(root, "ref").output().expect("start ser");
    let reference_time = start.elapsed();
    assert!(
        reference.status.success(),
        "reference run failed:\n{}",
        String::from_utf8_lossy(&reference.stderr)
    );

    let killed_dir = root.join("killed");
    let mut state = SEED;
    let mut interrupted = 0;
    let mut temporary_seen = 0;
    // Kill points are drawn over `window`, an estimate of what is left to run: the reference duration at
    // first, shortened by 80 % of the time each killed attempt ran (a resumed run reuses what that
    // attempt finished), and set to the duration of an attempt that finished before its kill.
    let mut window = reference_time;
    for attempt in 0..MAX_ATTEMPTS {
        if interrupted == KILLS {
            break;
        }
        let delay = window.mul_f64(next_unit(&mut state));
        let mut child = train(root, "killed").spawn().expect("start ser");
        let started = Instant::now();
        // Watch the folder while the run goes on, then kill it at `delay`.
        let finished = loop {
            temporary_seen += check_outputs(&killed_dir);
            if let Some(status) = child.try_wait().expect("wait") {
                break Some(status);
            }
            if started.elapsed() >= delay {
                break None;
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        match finished {
            None => {
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
                interrupted += 1;
                window = window
                    .saturating_sub(delay.mul_f64(0.8))
                    .max(Duration::from_millis(20));
            }
            Some(status) => {
                assert!(status.success(), "attempt {attempt} failed: {status}");
                window = started.elapsed();
            }
        }
        temporary_seen += check_outputs(&killed_dir);
        let outputs: Vec<String> = std::fs::read_dir(&killed_dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !is_temporary(n))
                    .collect()
            })
            .unwrap_or_default();
        eprintln!(
            "attempt {attempt}: {} at {:.0} ms (reference run {:.0} ms); outputs {outputs:?}",
            if finished.is_none() {
                "killed"
            } else {
                "finished before the kill"
            },
            delay.as_secs_f64() * 1e3,
            reference_time.as_secs_f64() * 1e3
        );
    }
    assert_eq!(
        interrupted, KILLS,
        "only {interrupted} of {MAX_ATTEMPTS} attempts were killed mid-run"
    );

    let last = train(root, "killed").output().expect("start ser");
    assert!(
        last.status.success(),
        "rerun failed:\n{}",
        String::from_utf8_lossy(&last.stderr)
    );
    temporary_seen += check_outputs(&killed_dir);
    eprintln!("temporary files seen {temporary_seen} times in all scans (never taken as outputs)");

    let ref_dir = root.join("ref");
    for name in ["model.safetensors", "model.curves.png"] {
        assert!(
            read(ref_dir.join(name)) == read(killed_dir.join(name)),
            "{name} differs from the uninterrupted run"
        );
    }
    assert_eq!(
        log_without_seconds(&ref_dir.join("model.training.csv")),
        log_without_seconds(&killed_dir.join("model.training.csv")),
        "training log (seconds column excluded) differs from the uninterrupted run"
    );
}
