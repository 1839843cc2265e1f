//! `reproduce-table1 --quick` killed with SIGKILL at seeded random points: no partial or corrupt file
//! is ever visible under a final name, and a rerun finishes with the results of a run that was never
//! interrupted.
//!
//! Smallest run the command allows: RAVDESS actors 1–3 (symbolic links into the data folder; the
//! reduced plan's minimum: 3 folds, one actor each for train, validation and test), cell L1h32, 20
//! epochs, one job (no scheduler calibration). An uninterrupted reference run writes into `ref/`; the
//! same command is then started into `killed/` and killed until 4 attempts were killed mid-run (an
//! attempt that finishes before its kill point does not count; at most 16 attempts), at delays drawn
//! from a seeded generator over an estimate of the time left (each restart resumes: finished units and
//! cached features are reused).
//! While each attempt runs, and after each kill, every file under `killed/` is checked: a temporary file
//! (`.<name>.tmp-…`) is skipped, every other one must be complete (unit records and `table1.json`
//! deserialise, feature-cache entries parse, the PNG ends with its IEND chunk, the SVG is closed, the
//! CSV and Markdown are whole). A last run then completes, and its outputs are compared with the
//! reference:
//!
//! * the same set of files (temporary leftovers of the killed attempts aside);
//! * feature-cache entries, `table1.png` and `table1.svg`: byte-identical;
//! * unit records `units/<fingerprint>/*.json`: identical except their wall times (`seconds` and
//!   `history[].seconds`);
//! * `table1.json`: identical except `run_wall_seconds`, `feature_seconds`, `feature_cache_hits`
//!   (the resumed run reads features from its cache) and `cells[].train_seconds`;
//! * `table1.csv`: identical except the `train_seconds` column; `table1.md`: identical except the
//!   `train time` column and the `Run wall time …` line.
//!
//! Skips, with a message, when RAVDESS is absent ($RAVDESS_DIR, else `../shared/ravdess` beside the
//! repository).

#![cfg(unix)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const KILLS: usize = 4;
/// Attempts that finish before their kill point do not count; give up after this many attempts.
const MAX_ATTEMPTS: usize = 16;
const SEED: u64 = 8;
const ACTORS: [&str; 3] = ["Actor_01", "Actor_02", "Actor_03"];

/// `$RAVDESS_DIR`, else `<repo>/../shared/ravdess`, if it holds Actor_01..03; `None` (with a message) if not.
fn ravdess_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("RAVDESS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/ravdess"))
        });
    if ACTORS.iter().all(|a| dir.join(a).is_dir()) {
        Some(dir)
    } else {
        eprintln!(
            "skipping: no RAVDESS data (Actor_01..03) at {} (set RAVDESS_DIR)",
            dir.display()
        );
        None
    }
}

/// splitmix64: the seeded kill points.
fn next_unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

fn reproduce(root: &Path, out: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.current_dir(root)
        .args([
            "reproduce-table1",
            "--quick",
            "--quiet",
            "--data",
            "data",
            "--cells",
            "L1h32",
            "--epochs",
            "20",
            "--jobs",
            "1",
            "--out",
            out,
        ])
        .env_remove("RAVDESS_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// Final-name files under `dir`, as paths relative to it.
fn final_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(base, &path, out);
            } else if !is_temporary(&entry.file_name().to_string_lossy()) {
                out.push(path.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Panics unless `bytes`, visible under the final name `rel`, are a complete output file.
fn check_complete(rel: &Path, bytes: &[u8]) {
    let name = rel.to_string_lossy();
    let fail = |why: &str| -> ! { panic!("{name} is visible but {why}") };
    let text = || std::str::from_utf8(bytes).unwrap_or_else(|_| fail("is not UTF-8"));
    if rel.starts_with("units") {
        if let Err(e) = serde_json::from_slice::<ser_experiment::units::UnitRecord>(bytes) {
            fail(&format!("is not a unit record: {e}"));
        }
    } else if rel.starts_with("cache") {
        let probe = std::env::temp_dir().join(format!("killed-runs-probe-{}", std::process::id()));
        std::fs::write(&probe, bytes).unwrap();
        let ok = ser_experiment::features::read_entry(&probe).is_some();
        let _ = std::fs::remove_file(&probe);
        if !ok {
            fail("is not a feature-cache entry");
        }
    } else {
        match name.as_ref() {
            "table1.json" => {
                let v: Value =
                    serde_json::from_slice(bytes).unwrap_or_else(|e| fail(&format!("{e}")));
                if v.get("cells").is_none() {
                    fail("has no cells");
                }
            }
            "table1.png" => {
                const IEND: [u8; 12] = [0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82];
                if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || !bytes.ends_with(&IEND) {
                    fail("is not a whole PNG");
                }
            }
            "table1.svg" => {
                if !text().trim_end().ends_with("</svg>") {
                    fail("is not a closed SVG");
                }
            }
            "table1.csv" => {
                let t = text();
                let columns = t.lines().next().unwrap_or("").split(',').count();
                if !t.ends_with('\n')
                    || t.lines().count() < 2
                    || t.lines().any(|l| l.split(',').count() != columns)
                {
                    fail("is not a whole CSV");
                }
            }
            "table1.md" => {
                let t = text();
                if !t.ends_with("|\n") || !t.contains("## Confusion matrices") {
                    fail("is not a whole report");
                }
            }
            _ => fail("is not an expected output"),
        }
    }
}

/// Checks every final-name file under a folder, each version of a file once (a file under a final
/// name changes only by a rename, which gives it a new inode); counts the temporary files it sees.
#[derive(Default)]
struct Checker {
    checked: HashMap<PathBuf, (u64, u64)>,
    temporary: usize,
}

impl Checker {
    /// Checks what is new under `dir`; returns the run's progress as seen in this scan.
    fn scan(&mut self, dir: &Path) -> Progress {
        use std::os::unix::fs::MetadataExt;
        let mut seen = Progress::default();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if is_temporary(&entry.file_name().to_string_lossy()) {
                    self.temporary += 1;
                    continue;
                }
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                if rel.starts_with("cache") {
                    seen.cached += 1;
                } else if rel.starts_with("units") {
                    seen.units += 1;
                } else if rel == Path::new("table1.json") {
                    seen.report = true;
                }
                let Ok(meta) = entry.metadata() else {
                    continue;
                };
                if self.checked.get(&path) == Some(&(meta.ino(), meta.len())) {
                    continue;
                }
                let Ok(file) = std::fs::File::open(&path) else {
                    continue; // replaced between listing and opening: the next scan sees it
                };
                // The version read is the one opened (a rename afterwards does not change it).
                let meta = file.metadata().expect("metadata");
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut &file, &mut bytes).expect("read");
                check_complete(&rel, &bytes);
                self.checked.insert(path, (meta.ino(), meta.len()));
            }
        }
        seen
    }
}

/// Removes `keys` from a JSON object.
fn drop_keys(v: &mut Value, keys: &[&str]) {
    if let Some(map) = v.as_object_mut() {
        for k in keys {
            map.remove(*k);
        }
    }
}

/// An output with its wall-time fields taken out (see the module docs).
fn without_timing(rel: &Path, bytes: &[u8]) -> Vec<u8> {
    let name = rel.to_string_lossy();
    if rel.starts_with("units") {
        let mut v: Value = serde_json::from_slice(bytes).unwrap();
        drop_keys(&mut v, &["seconds"]);
        for epoch in v["history"].as_array_mut().unwrap() {
            drop_keys(epoch, &["seconds"]);
        }
        serde_json::to_vec_pretty(&v).unwrap()
    } else if name == "table1.json" {
        let mut v: Value = serde_json::from_slice(bytes).unwrap();
        drop_keys(
            &mut v,
            &["run_wall_seconds", "feature_seconds", "feature_cache_hits"],
        );
        for cell in v["cells"].as_array_mut().unwrap() {
            drop_keys(cell, &["train_seconds"]);
        }
        serde_json::to_vec_pretty(&v).unwrap()
    } else if name == "table1.csv" {
        let text = std::str::from_utf8(bytes).unwrap();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let col = header.iter().position(|c| *c == "train_seconds").unwrap();
        let mut out = String::new();
        for line in text.lines() {
            let mut fields: Vec<&str> = line.split(',').collect();
            fields.remove(col);
            out += &fields.join(",");
            out.push('\n');
        }
        out.into_bytes()
    } else if name == "table1.md" {
        let mut out = String::new();
        let mut in_main_table = false;
        for line in std::str::from_utf8(bytes).unwrap().lines() {
            if line.starts_with("Run wall time") {
                continue;
            }
            if line.contains("| train time |") {
                in_main_table = true;
            } else if !line.starts_with('|') {
                in_main_table = false;
            }
            if in_main_table {
                // Drop the last cell, the train time.
                let trimmed = line.trim_end_matches('|');
                out += &trimmed[..trimmed.rfind('|').unwrap_or(0)];
            } else {
                out += line;
            }
            out.push('\n');
        }
        out.into_bytes()
    } else {
        bytes.to_vec()
    }
}

fn outputs(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    final_files(dir)
        .into_iter()
        .map(|rel| {
            let bytes = std::fs::read(dir.join(&rel)).unwrap();
            let comparable = without_timing(&rel, &bytes);
            (rel, comparable)
        })
        .collect()
}

/// When an attempt reaches the point it aims at.
type Aim = Box<dyn Fn(&Progress) -> bool>;

/// Progress of a run, read from its output folder.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Progress {
    cached: usize,
    units: usize,
    report: bool,
}

fn progress(dir: &Path) -> Progress {
    let files = final_files(dir);
    let count = |sub: &str| files.iter().filter(|p| p.starts_with(sub)).count();
    Progress {
        cached: count("cache"),
        units: count("units"),
        report: files.iter().any(|p| p == Path::new("table1.json")),
    }
}

/// Runs `cmd` while checking `dir` every 5 ms (and once more at the end); kills it (SIGKILL) as soon
/// as `kill_now(elapsed, progress)` says so. Returns whether it was killed.
fn watch(
    mut cmd: Command,
    dir: &Path,
    checker: &mut Checker,
    mut kill_now: impl FnMut(Duration, Progress) -> bool,
) -> bool {
    let mut child = cmd.spawn().expect("start xtask");
    let started = Instant::now();
    loop {
        let progress = checker.scan(dir);
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                use std::io::Read;
                let _ = pipe.read_to_string(&mut stderr);
            }
            assert!(status.success(), "run failed ({status}):\n{stderr}");
            checker.scan(dir);
            return false;
        }
        if kill_now(started.elapsed(), progress) {
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
            checker.scan(dir);
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sigkilled_reproduce_table1_leaves_no_partial_file_and_resumes_to_the_same_results() {
    let Some(ravdess) = ravdess_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("data")).unwrap();
    for actor in ACTORS {
        std::os::unix::fs::symlink(ravdess.join(actor), root.join("data").join(actor)).unwrap();
    }

    // The reference run, watched like the others; its timeline gives the length of each phase.
    let ref_dir = root.join("ref");
    let mut checker = Checker::default();
    let mut timeline: Vec<(Duration, Progress)> = Vec::new();
    let start = Instant::now();
    watch(reproduce(root, "ref"), &ref_dir, &mut checker, |t, p| {
        if !matches!(timeline.last(), Some((_, last)) if *last == p) {
            timeline.push((t, p));
        }
        false
    });
    let reference_time = start.elapsed();
    let clips = progress(&ref_dir).cached;
    let first = |pred: &dyn Fn(&Progress) -> bool| {
        timeline
            .iter()
            .find(|(_, p)| pred(p))
            .map_or(reference_time, |(t, _)| *t)
    };
    let features = (first(&|p| p.cached > 0), first(&|p| p.cached == clips));
    let last_unit = first(&|p| p.units == 3);
    let unit_time = last_unit.saturating_sub(features.1) / 3;
    let report_time = reference_time.saturating_sub(last_unit);
    eprintln!(
        "reference run: {:.0} ms; features {:.0}..{:.0} ms, 3 units by {:.0} ms",
        reference_time.as_secs_f64() * 1e3,
        features.0.as_secs_f64() * 1e3,
        features.1.as_secs_f64() * 1e3,
        last_unit.as_secs_f64() * 1e3,
    );

    // Attempt k aims at phase k % 4 of what is left, at a seeded random point inside it: (0) after a
    // random fraction of the feature-cache entries were written; (1) a random time into training, once
    // the features are all there; (2) a random time after this attempt finished a unit; (3) a random
    // time into writing the report, once all units are there. An attempt that finishes before its
    // point is not counted and the next one aims at the next phase.
    let killed_dir = root.join("killed");
    let mut checker = Checker::default();
    let mut state = SEED;
    let mut interrupted = 0;
    for attempt in 0..MAX_ATTEMPTS {
        if interrupted == KILLS {
            break;
        }
        let u = next_unit(&mut state);
        let before = progress(&killed_dir);
        let phase = attempt % 4;
        let (aim, extra): (Aim, Duration) = match phase {
            0 => {
                let n = ((u * clips as f64) as usize).clamp(1, clips.saturating_sub(1));
                (Box::new(move |p| p.cached >= n), Duration::ZERO)
            }
            1 => (Box::new(move |p| p.cached == clips), unit_time.mul_f64(u)),
            2 => (
                Box::new(move |p| p.units > before.units),
                unit_time.mul_f64(u),
            ),
            _ => (Box::new(|p| p.units == 3), report_time.mul_f64(u)),
        };
        let mut aimed_at: Option<Duration> = None;
        let mut killed_at = Duration::ZERO;
        let killed = watch(
            reproduce(root, "killed"),
            &killed_dir,
            &mut checker,
            |t, p| {
                if aimed_at.is_none() && aim(&p) {
                    aimed_at = Some(t);
                }
                killed_at = t;
                aimed_at.is_some_and(|at| t >= at + extra)
            },
        );
        let after = progress(&killed_dir);
        interrupted += usize::from(killed);
        eprintln!(
            "attempt {attempt} (phase {phase}, u {u:.2}): {} at {:.0} ms; {before:?} -> {after:?}",
            if killed {
                "killed"
            } else {
                "finished before its kill point"
            },
            killed_at.as_secs_f64() * 1e3,
        );
    }
    assert_eq!(
        interrupted, KILLS,
        "only {interrupted} of {MAX_ATTEMPTS} attempts were killed mid-run"
    );

    watch(
        reproduce(root, "killed"),
        &killed_dir,
        &mut checker,
        |_, _| false,
    );
    let mut leftovers = Checker::default();
    leftovers.scan(&killed_dir);
    eprintln!(
        "temporary files seen {} times in all scans, never taken as outputs ({} left over by the \
         killed attempts); {} final-name files checked",
        checker.temporary,
        leftovers.temporary,
        checker.checked.len()
    );

    let want = outputs(&root.join("ref"));
    let got = outputs(&killed_dir);
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "the resumed run wrote other files"
    );
    assert!(
        want.keys().any(|p| p.starts_with("units")) && want.contains_key(Path::new("table1.json")),
        "reference outputs missing: {:?}",
        want.keys()
    );
    for (rel, bytes) in &want {
        assert!(
            got[rel] == *bytes,
            "{} differs from the uninterrupted run (timing fields excluded)",
            rel.display()
        );
    }
}
