//! `cargo xtask bench-features`: MFCC extraction over a folder of WAVs, both presets, all cores,
//! side by side with librosa (`../shared/peers/mfcc_bench.py`) in the same run.
//!
//! Our time includes reading and decoding every file. The peer decodes once (soundfile) and then
//! times each librosa preset; its column adds that decode time so both sides count the same work.
//! Our time is the best of `--repeat` runs (the first warms the page cache), half of them before the
//! peer and half after it; the peer runs once.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use ser_dsp::{extract_files, find_wavs, read_wav, MfccConfig};

#[derive(clap::Args)]
pub struct Args {
    /// Folder searched recursively for *.wav (default: $RAVDESS_DIR, else ../shared/ravdess
    /// relative to the repository root).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Skip the librosa peer.
    #[arg(long)]
    no_peer: bool,
    /// Python with librosa for the peer (default: $SER_PYTHON, else python3).
    #[arg(long)]
    python: Option<PathBuf>,
    /// Peer script (default: ../shared/peers/mfcc_bench.py relative to the repository root).
    #[arg(long)]
    peer_script: Option<PathBuf>,
    /// Timed runs per preset for our side, half before and half after the peer; the best is reported.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Time only this preset on our side (default: every preset). The peer, when run, times all.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(MfccConfig::preset_names()))]
    preset: Option<String>,
}

/// Best wall time of `runs` extractions of every file, per preset.
fn time_presets<'p>(
    pool: &rayon::ThreadPool,
    files: &[PathBuf],
    presets: &[&'p str],
    runs: usize,
) -> anyhow::Result<Vec<(&'p str, Ours)>> {
    let mut timed = Vec::new();
    for &preset in presets {
        let config = MfccConfig::from_preset(preset)?;
        let mut best = f64::INFINITY;
        let mut frames = 0;
        for _ in 0..runs {
            let start = Instant::now();
            let results = pool.install(|| extract_files(files, &config));
            let elapsed = start.elapsed().as_secs_f64();
            frames = 0;
            for r in results {
                frames += r?.n_frames;
            }
            best = best.min(elapsed);
        }
        timed.push((
            preset,
            Ours {
                frames,
                seconds: best,
            },
        ));
    }
    Ok(timed)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Ours {
    frames: usize,
    seconds: f64,
}

/// Peer results as printed by `mfcc_bench.py --json`.
#[derive(serde::Deserialize)]
struct Peer {
    files: usize,
    audio_s: f64,
    decode_s: f64,
    librosa_paper_s: f64,
    paper_frames: usize,
    librosa_25ms_s: f64,
    frames_25ms: usize,
    psf_25ms_s: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let data = args
        .data
        .or_else(|| std::env::var_os("RAVDESS_DIR").map(PathBuf::from))
        .unwrap_or_else(|| repo_root().join("../shared/ravdess"));
    let files = find_wavs(&data).with_context(|| format!("listing {}", data.display()))?;
    if files.is_empty() {
        bail!("no *.wav under {}", data.display());
    }
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("building the thread pool")?;

    // Untimed pass: total audio duration (and an early, clear error for a bad file).
    let audio_s: f64 = pool
        .install(|| {
            use rayon::prelude::*;
            files
                .par_iter()
                .map(|p| read_wav(p).map(|a| a.duration_s()))
                .collect::<Result<Vec<f64>, _>>()
        })?
        .iter()
        .sum();
    println!(
        "{} files, {:.1} s of audio under {}; {threads} threads",
        files.len(),
        audio_s,
        data.display()
    );

    let presets: Vec<&str> = MfccConfig::preset_names()
        .iter()
        .copied()
        .filter(|p| !matches!(args.preset.as_deref(), Some(only) if only != *p))
        .collect();
    let repeat = args.repeat.max(1);
    // With the peer, half of our runs come before it and half after: the peer takes about a minute
    // and averages over any slow spell of this shared machine, while a few seconds of ours could
    // fall entirely inside one.
    let before = if args.no_peer {
        repeat
    } else {
        repeat.div_ceil(2)
    };
    let mut ours = time_presets(&pool, &files, &presets, before)?;

    let peer = if args.no_peer {
        None
    } else {
        let python = args
            .python
            .or_else(|| std::env::var_os("SER_PYTHON").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("python3"));
        let script = args
            .peer_script
            .unwrap_or_else(|| repo_root().join("../shared/peers/mfcc_bench.py"));
        run_peer(&python, &script, &data)
    };
    if peer.is_some() && repeat > before {
        for ((_, first), (_, second)) in
            ours.iter_mut()
                .zip(time_presets(&pool, &files, &presets, repeat - before)?)
        {
            first.seconds = first.seconds.min(second.seconds);
        }
    }

    println!();
    println!(
        "{:<26} {:>6} {:>9} {:>9} {:>9} {:>11} {:>9}",
        "implementation / preset", "files", "audio_s", "frames", "seconds", "x_realtime", "speedup"
    );
    let row = |name: &str, frames: usize, secs: f64, speedup: Option<f64>| {
        println!(
            "{:<26} {:>6} {:>9.1} {:>9} {:>9.3} {:>11.0} {:>9}",
            name,
            files.len(),
            audio_s,
            frames,
            secs,
            audio_s / secs,
            speedup.map_or("-".to_string(), |s| format!("{s:.1}x"))
        )
    };
    for (preset, o) in &ours {
        let peer_secs = peer.as_ref().map(|p| match *preset {
            "paper" => p.librosa_paper_s + p.decode_s,
            _ => p.librosa_25ms_s + p.decode_s,
        });
        row(
            &format!("ser-dsp {preset}"),
            o.frames,
            o.seconds,
            peer_secs.map(|s| s / o.seconds),
        );
    }
    if let Some(p) = &peer {
        row(
            "librosa paper (+decode)",
            p.paper_frames,
            p.librosa_paper_s + p.decode_s,
            None,
        );
        row(
            "librosa 25ms (+decode)",
            p.frames_25ms,
            p.librosa_25ms_s + p.decode_s,
            None,
        );
        row(
            "psf 25ms (+decode)",
            p.frames_25ms,
            p.psf_25ms_s + p.decode_s,
            None,
        );
        println!("(peer decode {:.2} s, included above)", p.decode_s);
        if p.files != files.len() || (p.audio_s - audio_s).abs() > 1e-3 * audio_s {
            println!(
                "WARNING: the peer saw {} files / {:.1} s, we saw {} / {:.1} s",
                p.files,
                p.audio_s,
                files.len(),
                audio_s
            );
        }
        for (name, ours_frames, peer_frames) in ours.iter().map(|(preset, o)| match *preset {
            "paper" => (*preset, o.frames, p.paper_frames),
            _ => (*preset, o.frames, p.frames_25ms),
        }) {
            let verdict = if ours_frames == peer_frames {
                "match"
            } else {
                "MISMATCH"
            };
            println!("frame totals {name}: ours {ours_frames}, librosa {peer_frames}: {verdict}");
        }
    }
    Ok(())
}

/// Runs the peer script; on any failure prints why and returns `None`.
fn run_peer(python: &Path, script: &Path, data: &Path) -> Option<Peer> {
    println!(
        "running the librosa peer: {} {} {} --json",
        python.display(),
        script.display(),
        data.display()
    );
    let output = match Command::new(python)
        .arg(script)
        .arg(data)
        .arg("--json")
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            println!("peer skipped: cannot run {}: {e}", python.display());
            return None;
        }
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr.lines().last().unwrap_or("").trim();
        println!(
            "peer skipped: {} exited with {} ({last})",
            script.display(),
            output.status
        );
        return None;
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or("");
    match serde_json::from_str(json) {
        Ok(p) => Some(p),
        Err(e) => {
            println!(
                "peer skipped: cannot parse its output ({e}): {}",
                stdout.trim()
            );
            None
        }
    }
}
