//! `ser features`: MFCC matrices of WAV files and folders, as `.npy` or `.csv`, one file per input.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use ser_dsp::{MfccConfig, Span};

use crate::formats::{csv_matrix, npy_f32};
use crate::model::feature_metadata;
use crate::output::OutputPolicy;
use crate::progress::Ui;

/// Compute MFCC features of WAV files or folders.
///
/// Each input WAV gives one output file holding a [n_frames, n_coeffs] matrix (time-major, i.e.
/// librosa's `mfcc` output transposed), float32. A folder is searched recursively for *.wav and its
/// sub-folders are mirrored under OUT. OUT also receives `features.json`, the exact MFCC settings.
/// Multi-channel files are averaged to mono; features are computed at the file's own sample rate,
/// or at --sample-rate (files at another rate are resampled first).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ser features clip.wav -o mfcc/                      -> mfcc/clip.npy  (numpy.load: shape (T, 34))
  ser features ravdess/ -o mfcc/ --preset 25ms        -> mfcc/Actor_01/03-01-01-01-01-01-01.npy, ...
  ser features a.wav b.wav -o out/ --format csv       -> out/a.csv, out/b.csv (frame,mfcc_0,..)
  ser features clip.wav -o mfcc/ --n-mfcc 13 --n-mels 40 --hop-length 512
  ser features corpus/ -o mfcc16k/ --sample-rate 16000  (every file resampled to 16 kHz first)

Presets:
  paper  librosa.feature.mfcc(n_mfcc=34, n_fft=4096, hop_length=2048), centred, 128 Slaney mels
  25ms   n_fft 2048, 25 ms Hann window, 10 ms hop, 40 mels, not centred, 34 coefficients")]
pub struct Args {
    /// WAV files and/or folders (searched recursively for *.wav).
    #[arg(required = true, value_name = "IN")]
    inputs: Vec<PathBuf>,

    /// Output folder (created if missing).
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,

    /// Named MFCC preset; the options below override single parameters.
    #[arg(long, default_value = "paper", value_parser = preset_parser())]
    preset: String,

    /// Number of cepstral coefficients per frame.
    #[arg(long, value_name = "N")]
    n_mfcc: Option<usize>,

    /// FFT size in samples.
    #[arg(long, value_name = "N")]
    n_fft: Option<usize>,

    /// Window length in samples (default: n_fft, or the preset's).
    #[arg(long, value_name = "SAMPLES")]
    win_length: Option<usize>,

    /// Hop between frames in samples.
    #[arg(long, value_name = "SAMPLES")]
    hop_length: Option<usize>,

    /// Number of mel bands.
    #[arg(long, value_name = "N")]
    n_mels: Option<usize>,

    /// Lowest mel band edge in Hz.
    #[arg(long, value_name = "HZ")]
    fmin: Option<f32>,

    /// Highest mel band edge in Hz (default: half the sample rate).
    #[arg(long, value_name = "HZ")]
    fmax: Option<f32>,

    /// Resample every file to this rate before framing (band-limited, time-aligned; a file
    /// already at this rate is left as it is). Default: each file's own rate.
    #[arg(long, value_name = "HZ", value_parser = clap::value_parser!(u32).range(1..))]
    sample_rate: Option<u32>,

    /// Output file format.
    #[arg(long, value_enum, default_value_t = Format::Npy)]
    format: Format,

    /// Stop at the first file that cannot be read (files before it are written). Default: go on,
    /// list every bad file at the end and exit with status 1.
    #[arg(long)]
    strict: bool,
}

/// How each matrix is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// NumPy .npy v1.0, float32 little-endian, shape (n_frames, n_coeffs).
    Npy,
    /// CSV with a header `frame,mfcc_0,...`, one row per frame.
    Csv,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Npy => "npy",
            Format::Csv => "csv",
        }
    }
}

/// Accepts exactly the presets `ser_dsp` knows (and lists them in `--help` and in the error).
pub fn preset_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(MfccConfig::preset_names().iter().copied())
}

impl Args {
    /// The preset with the explicit overrides applied.
    fn mfcc_config(&self) -> Result<(MfccConfig, Option<String>)> {
        let mut config = MfccConfig::from_preset(&self.preset)
            .with_context(|| format!("unknown preset {:?}", self.preset))?;
        let base = config.clone();
        if let Some(n) = self.n_mfcc {
            config.n_mfcc = n;
        }
        if let Some(n) = self.n_fft {
            config.n_fft = n;
        }
        if let Some(n) = self.win_length {
            config.win_length = Some(Span::Samples(n));
        }
        if let Some(n) = self.hop_length {
            config.hop_length = Some(Span::Samples(n));
        }
        if let Some(n) = self.n_mels {
            config.n_mels = n;
        }
        if let Some(f) = self.fmin {
            config.fmin = f;
        }
        if self.fmax.is_some() {
            config.fmax = self.fmax;
        }
        if self.sample_rate.is_some() {
            config.target_sample_rate = self.sample_rate;
        }
        // Reject impossible combinations before touching any file (48 kHz is only a probe rate).
        let probe = config.target_sample_rate.unwrap_or(48_000);
        config.resolve(probe).context("invalid MFCC parameters")?;
        let preset = (config == base).then(|| self.preset.clone());
        Ok((config, preset))
    }
}

/// Every input WAV with the output path it maps to.
fn plan_outputs(inputs: &[PathBuf], out: &Path, ext: &str) -> Result<Vec<(PathBuf, PathBuf)>> {
    let mut plan = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let wavs = ser_dsp::find_wavs(input)
                .with_context(|| format!("cannot list {}", input.display()))?;
            if wavs.is_empty() {
                bail!("folder {} holds no .wav file", input.display());
            }
            for wav in wavs {
                let relative = wav.strip_prefix(input).unwrap_or(&wav).with_extension(ext);
                plan.push((wav, out.join(relative)));
            }
        } else if input.is_file() {
            let stem = input.file_stem().unwrap_or(input.as_os_str());
            plan.push((input.clone(), out.join(stem).with_extension(ext)));
        } else {
            bail!("input {} does not exist", input.display());
        }
    }
    let mut targets: Vec<&PathBuf> = plan.iter().map(|(_, o)| o).collect();
    targets.sort();
    if let Some(pair) = targets.windows(2).find(|w| w[0] == w[1]) {
        bail!(
            "two inputs would both be written to {}; give them different names or run them separately",
            pair[0].display()
        );
    }
    Ok(plan)
}

/// Files featurised in parallel at a time; with --strict, nothing after the chunk holding the first bad
/// file is read.
const EXTRACT_CHUNK: usize = 32;

pub fn run(args: Args, ui: &Ui, policy: OutputPolicy) -> Result<()> {
    let (config, preset) = args.mfcc_config()?;
    let ext = args.format.extension();
    let plan = plan_outputs(&args.inputs, &args.output, ext)?;
    let settings_path = args.output.join("features.json");
    policy.check_all(plan.iter().map(|(_, o)| o).chain([&settings_path]))?;
    ui.detail(&format!(
        "{} files, preset {}, {} coefficients",
        plan.len(),
        preset.as_deref().unwrap_or("custom"),
        config.n_features()
    ));

    let bar = ui.bar(
        plan.len(),
        "MFCC     [{bar:30}] {pos}/{len} files {elapsed} ETA {eta}",
    );
    // The messages from ser-dsp name the file.
    let mut failures: Vec<ser_dsp::DspError> = Vec::new();
    let mut frames = 0usize;
    for chunk in plan.chunks(EXTRACT_CHUNK) {
        let wavs: Vec<PathBuf> = chunk.iter().map(|(w, _)| w.clone()).collect();
        let results = ser_dsp::extract_files(&wavs, &config);
        bar.inc(chunk.len() as u64);
        for ((wav, out), result) in chunk.iter().zip(results) {
            let features = match result {
                Ok(f) => f,
                Err(e) if args.strict => {
                    bar.finish_and_clear();
                    return Err(
                        anyhow::Error::new(e).context("stopped at the first bad file (--strict)")
                    );
                }
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            };
            let bytes = match args.format {
                Format::Npy => npy_f32(&features.data, features.n_frames, features.n_coeffs),
                Format::Csv => {
                    csv_matrix(&features.data, features.n_frames, features.n_coeffs).into_bytes()
                }
            };
            policy.write(out, &bytes)?;
            frames += features.n_frames;
            ui.detail(&format!(
                "{} -> {} [{} x {}]",
                wav.display(),
                out.display(),
                features.n_frames,
                features.n_coeffs
            ));
        }
    }
    bar.finish_and_clear();
    for e in &failures {
        eprintln!("error: {e}");
    }
    let failures = failures.len();
    let written = plan.len() - failures;
    if written > 0 {
        let settings = serde_json::json!({
            "features": feature_metadata(&config, preset.as_deref())?,
            "layout": "[n_frames, n_coeffs] row-major float32",
            "format": ext,
            "files": written,
        });
        let text = serde_json::to_string_pretty(&settings).context("cannot serialise settings")?;
        policy.write(&settings_path, text.as_bytes())?;
    }
    if written > 0 {
        ui.info(&format!(
            "wrote {written} {ext} files ({frames} frames x {} coefficients) to {}",
            config.n_features(),
            args.output.display()
        ));
    }
    if failures > 0 {
        bail!("{failures} of {} files failed (listed above)", plan.len());
    }
    Ok(())
}
