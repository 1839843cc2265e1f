//! `cargo xtask fuzz --seconds N [--target NAME]`: runs a `cargo fuzz` target of `fuzz/` for N seconds
//! (not in CI: it needs the nightly toolchain and cargo-fuzz).
//!
//! Steps: check for `cargo +nightly` (stop with the rustup command if missing) and for cargo-fuzz
//! (installed with `cargo install cargo-fuzz` if missing, saying so); seed `fuzz/corpus/<target>/` with
//! a few generated WAV files (valid and broken, in every encoding the decoder knows); run `cargo +nightly fuzz run <target> <corpus> --debug-assertions --
//! -max_total_time=N`; then print executions, coverage and the crashes found. libFuzzer stops at the
//! first crash and saves the input under `fuzz/artifacts/<target>/`; with the fix, add a generator that
//! rebuilds it to `crates/ser-dsp/tests/fuzz_regressions.rs`, which replays it in `cargo test` (no binary
//! inputs are committed).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

#[derive(clap::Args)]
pub struct Args {
    /// Fuzzing time in seconds (libFuzzer's -max_total_time).
    #[arg(long)]
    seconds: u64,
    /// Fuzz target: a file name (without .rs) under fuzz/fuzz_targets/.
    #[arg(long, default_value = "wav_mfcc")]
    target: String,
    /// Seconds one input may run before libFuzzer reports a hang.
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Extra libFuzzer flags, after `--` (e.g. `-- -max_len=16384`).
    #[arg(last = true)]
    libfuzzer_args: Vec<String>,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the repository")
        .to_path_buf()
}

/// `cargo +nightly …`, with the toolchain choice of the outer `cargo xtask` removed.
fn nightly_cargo() -> Command {
    let mut cmd = Command::new("cargo");
    cmd.arg("+nightly").env_remove("RUSTUP_TOOLCHAIN");
    cmd
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Stops when nightly is missing; installs cargo-fuzz when it is.
fn check_tools() -> anyhow::Result<()> {
    if !succeeds(nightly_cargo().arg("--version")) {
        bail!(
            "the nightly toolchain is missing (cargo fuzz needs it): install it with \
             `rustup toolchain install nightly`"
        );
    }
    if !succeeds(nightly_cargo().args(["fuzz", "--version"])) {
        println!("cargo-fuzz not found: installing it with `cargo install cargo-fuzz`");
        let status = Command::new("cargo")
            .args(["install", "cargo-fuzz"])
            .env_remove("CARGO_TARGET_DIR")
            .status()
            .context("running cargo install cargo-fuzz")?;
        if !status.success() {
            bail!("`cargo install cargo-fuzz` failed ({status})");
        }
    }
    Ok(())
}

/// A WAV file with a plain 16-byte `fmt ` chunk: format `tag`, `bits` per sample, raw `data` bytes.
fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block = channels * bits.div_ceil(8);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    out.extend_from_slice(&block.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// Generated seeds, each under 4 KiB (libFuzzer's default input size limit): a 440 Hz tone in every
/// decoded encoding, several rates and channel counts, and the structural faults of the hostile corpus.
fn generated_seeds() -> Vec<(String, Vec<u8>)> {
    let tone = |n: usize, rate: u32| -> Vec<f32> {
        (0..n)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin())
            .collect()
    };
    let i16_bytes = |x: &[f32]| -> Vec<u8> {
        x.iter()
            .flat_map(|v| ((v * 32767.0) as i16).to_le_bytes())
            .collect()
    };
    let x = tone(400, 8_000);
    let mut seeds = vec![
        ("pcm16_8k".to_string(), wav(1, 1, 8_000, 16, &i16_bytes(&x))),
        (
            "pcm8_8k".into(),
            wav(
                1,
                1,
                8_000,
                8,
                &x.iter()
                    .map(|v| (v * 127.0 + 128.0) as u8)
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "pcm24_8k".into(),
            wav(
                1,
                1,
                8_000,
                24,
                &x.iter()
                    .flat_map(|v| ((v * 8_388_607.0) as i32).to_le_bytes()[..3].to_vec())
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "pcm32_8k".into(),
            wav(
                1,
                1,
                8_000,
                32,
                &x.iter()
                    .flat_map(|v| ((v * 2.147e9) as i32).to_le_bytes())
                    .collect::<Vec<_>>(),
            ),
        ),
        (
            "float32_8k".into(),
            wav(
                3,
                1,
                8_000,
                32,
                &x.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<_>>(),
            ),
        ),
        (
            "stereo_16k".into(),
            wav(1, 2, 16_000, 16, &i16_bytes(&tone(600, 16_000))),
        ),
        (
            "six_channels_48k".into(),
            wav(1, 6, 48_000, 16, &i16_bytes(&tone(600, 48_000))),
        ),
        (
            "pcm16_96k".into(),
            wav(1, 1, 96_000, 16, &i16_bytes(&tone(1500, 96_000))),
        ),
        ("zero_samples".into(), wav(1, 1, 16_000, 16, &[])),
        ("one_sample".into(), wav(1, 1, 16_000, 16, &[0x10, 0x27])),
        ("alaw".into(), wav(6, 1, 8_000, 8, &[0x55; 64])),
    ];
    let valid = seeds[0].1.clone();
    seeds.push(("truncated_header".into(), valid[..30].to_vec()));
    seeds.push(("truncated_data".into(), valid[..valid.len() - 101].to_vec()));
    let mut over = valid.clone();
    over[40..44].copy_from_slice(&(u32::MAX - 1).to_le_bytes());
    seeds.push(("data_claims_too_much".into(), over));
    let mut nan = seeds[4].1.clone();
    nan[44 + 4 * 7..44 + 4 * 8].copy_from_slice(&f32::NAN.to_le_bytes());
    seeds.push(("float32_nan".into(), nan));
    seeds
}

/// Writes the seeds into `corpus` (kept between runs, so later runs start from what earlier ones found).
fn seed_corpus(corpus: &Path) -> anyhow::Result<usize> {
    std::fs::create_dir_all(corpus).with_context(|| format!("creating {}", corpus.display()))?;
    let mut n = 0;
    for (name, bytes) in generated_seeds() {
        let path = corpus.join(format!("seed-{name}.wav"));
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        n += 1;
    }
    Ok(n)
}

/// What libFuzzer printed that the summary needs.
#[derive(Default)]
struct Stats {
    executions: Option<u64>,
    exec_per_sec: Option<u64>,
    /// The last `cov: N ft: M corp: A/B` status line, from `cov:` on.
    coverage: Option<String>,
    new_units: Option<u64>,
    peak_rss_mb: Option<u64>,
}

impl Stats {
    fn read(&mut self, line: &str) {
        let stat = |key: &str| {
            line.strip_prefix(key)
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        if let Some(v) = stat("stat::number_of_executed_units:") {
            self.executions = Some(v);
        } else if let Some(v) = stat("stat::average_exec_per_sec:") {
            self.exec_per_sec = Some(v);
        } else if let Some(v) = stat("stat::new_units_added:") {
            self.new_units = Some(v);
        } else if let Some(v) = stat("stat::peak_rss_mb:") {
            self.peak_rss_mb = Some(v);
        } else if line.starts_with('#') {
            if let Some(at) = line.find("cov: ") {
                let end = line.find(" exec/s").unwrap_or(line.len());
                self.coverage = Some(line[at..end.max(at)].trim().to_string());
            }
            if let Some(n) = line
                .strip_prefix('#')
                .and_then(|s| s.split_whitespace().next())
                .and_then(|n| n.parse().ok())
            {
                self.executions = Some(n);
            }
        }
    }
}

/// Crash, out-of-memory, timeout and leak inputs saved by libFuzzer.
fn artifacts(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.seconds == 0 {
        bail!("--seconds must be at least 1");
    }
    let root = repo_root();
    let fuzz_dir = root.join("fuzz");
    let target_file = fuzz_dir
        .join("fuzz_targets")
        .join(format!("{}.rs", args.target));
    if !target_file.is_file() {
        bail!("no fuzz target {} ({})", args.target, target_file.display());
    }
    check_tools()?;
    let corpus = fuzz_dir.join("corpus").join(&args.target);
    let seeded = seed_corpus(&corpus)?;
    let artifact_dir = fuzz_dir.join("artifacts").join(&args.target);
    let before = artifacts(&artifact_dir);
    println!(
        "fuzzing {} for {} s; corpus {} ({seeded} seeds written)",
        args.target,
        args.seconds,
        corpus.display()
    );

    let mut cmd = nightly_cargo();
    cmd.current_dir(&root)
        .args(["fuzz", "run", "--debug-assertions"])
        .arg(&args.target)
        .arg(&corpus);
    // Keep fuzz builds (their own RUSTFLAGS) apart from the workspace's target folder.
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        cmd.arg("--target-dir").arg(PathBuf::from(dir).join("fuzz"));
    }
    cmd.arg("--")
        .arg(format!("-max_total_time={}", args.seconds))
        .arg(format!("-timeout={}", args.timeout))
        .arg("-print_final_stats=1")
        .args(&args.libfuzzer_args)
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().context("starting cargo +nightly fuzz run")?;
    let mut stats = Stats::default();
    let stderr = child.stderr.take().context("fuzzer stderr")?;
    for line in BufReader::new(stderr).lines() {
        let line = line.context("reading the fuzzer output")?;
        eprintln!("{line}");
        stats.read(&line);
    }
    let status = child.wait().context("waiting for the fuzzer")?;

    let new: Vec<PathBuf> = artifacts(&artifact_dir)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    let show = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    println!("\n== fuzz {} ({} s requested)", args.target, args.seconds);
    println!("executions       {}", show(stats.executions));
    println!("executions / s   {}", show(stats.exec_per_sec));
    println!(
        "coverage         {}",
        stats.coverage.as_deref().unwrap_or("?")
    );
    println!("new corpus units {}", show(stats.new_units));
    println!("peak RSS (MB)    {}", show(stats.peak_rss_mb));
    println!("crashes found    {}", new.len());
    for path in &new {
        println!("  {}", path.display());
    }
    if !new.is_empty() {
        bail!(
            "the fuzzer found {} failing input(s); reproduce with `cargo +nightly fuzz run {} <file>`, \
             fix, and add a generator rebuilding it to crates/ser-dsp/tests/fuzz_regressions.rs",
            new.len(),
            args.target
        );
    }
    if !status.success() {
        bail!("cargo fuzz run failed ({status})");
    }
    Ok(())
}
