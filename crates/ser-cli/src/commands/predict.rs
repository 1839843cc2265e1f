//! `ser predict`: the emotion of each clip, with the probabilities of all classes.

use std::io::BufRead;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::model::{self, LoadedModel};
use crate::pipeline::{extract_with_progress, normalise, probabilities};
use crate::progress::Ui;

/// Predict the emotion of speech clips (WAV).
///
/// Prints, per file, the most likely of the 8 emotions (neutral, calm, happy, sad, angry, fearful,
/// disgust, surprised) and the probability of each. The clip goes through the same front end and
/// normalisation the model was trained with (stored in the model file).
///
/// Without a model argument the built-in model is used: the paper's LSTM trained on RAVDESS speech
/// (Livingstone & Russo 2018, CC BY-NC-SA 4.0 — non-commercial use; `ser info` shows how it was
/// trained and its cross-validated accuracy). It knows 8 acted emotions of North-American English
/// speakers in a quiet studio; expect much lower accuracy on other voices, languages and recordings.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ser predict clip.wav                               built-in model
  ser predict run/model.safetensors a.wav b.wav      your own model (first argument ending .safetensors)
  ser predict --json clip.wav | jq .predictions[0].emotion
  find recordings -name '*.wav' | ser predict -      file names from stdin, one per line

JSON schema (--json):
  {\"model\": str, \"classes\": [str; 8],
   \"predictions\": [{\"file\": str, \"emotion\": str, \"confidence\": float,
                    \"probabilities\": {class: float}}],
   \"errors\": [{\"file\": str, \"error\": str}]}")]
pub struct Args {
    /// [MODEL.safetensors] then WAV files; `-` reads more file names from stdin (one per line).
    #[arg(required = true, value_name = "[MODEL] FILE")]
    items: Vec<PathBuf>,

    /// Model file (alternative to giving it as the first argument).
    #[arg(short, long, value_name = "MODEL")]
    model: Option<PathBuf>,

    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,

    /// For a model with an attention head: write `DIR/<file stem>.attention.png` per clip, the
    /// attention weights over time beside the clip's loudness (c0).
    #[arg(long, value_name = "DIR")]
    plot_attention: Option<PathBuf>,

    /// Overwrite existing attention plots.
    #[arg(long)]
    force: bool,
}

/// One clip's result.
#[derive(Serialize, Debug)]
struct Prediction {
    file: String,
    emotion: String,
    confidence: f32,
    probabilities: ClassProbabilities,
}

/// `{class: probability}` in class-index order (not alphabetical), values as f32.
#[derive(Debug)]
struct ClassProbabilities(Vec<(String, f32)>);

impl Serialize for ClassProbabilities {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, p) in &self.0 {
            map.serialize_entry(name, p)?;
        }
        map.end()
    }
}

#[derive(Serialize, Debug)]
struct FileError {
    file: String,
    error: String,
}

#[derive(Serialize, Debug)]
struct Report {
    model: String,
    classes: Vec<String>,
    predictions: Vec<Prediction>,
    errors: Vec<FileError>,
}

fn is_model_path(p: &Path) -> bool {
    p.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"))
}

/// Splits the positional arguments into (model, files), expanding `-` from stdin.
fn resolve_items(args: &Args) -> Result<(Option<PathBuf>, Vec<PathBuf>)> {
    let mut items = args.items.clone();
    let mut model = args.model.clone();
    if model.is_none() && items.first().is_some_and(|p| is_model_path(p)) {
        model = Some(items.remove(0));
    }
    let mut files = Vec::new();
    for item in items {
        if item.as_os_str() == "-" {
            for line in std::io::stdin().lock().lines() {
                let line = line.context("cannot read file names from stdin")?;
                let line = line.trim();
                if !line.is_empty() {
                    files.push(PathBuf::from(line));
                }
            }
        } else {
            files.push(item);
        }
    }
    if files.is_empty() {
        bail!("no audio file given (pass WAV files, or `-` to read names from stdin)");
    }
    Ok((model, files))
}

pub fn run(args: Args, ui: &Ui) -> Result<()> {
    let (model_path, files) = resolve_items(&args)?;
    let mut model = model::load(model_path.as_deref())?;
    ui.detail(&format!("model: {}", model.source));
    if args.plot_attention.is_some() && model.classifier.config().head != ser_nn::Head::Attention {
        bail!(
            "--plot-attention: {} has no attention head (head = {}); train one with e.g. \
             `ser train --cell L2h64-attn`",
            model.source,
            model.classifier.config().head.name()
        );
    }
    let report = predict_files(
        &mut model,
        &files,
        ui,
        args.plot_attention.as_deref(),
        args.force,
    );
    if args.json {
        let text = serde_json::to_string_pretty(&report).context("cannot serialise the results")?;
        println!("{text}");
    } else {
        print_table(&report);
        for e in &report.errors {
            eprintln!("error: {}", e.error);
        }
    }
    if !report.errors.is_empty() {
        bail!(
            "{} of {} files could not be classified",
            report.errors.len(),
            files.len()
        );
    }
    Ok(())
}

fn predict_files(
    model: &mut LoadedModel,
    files: &[PathBuf],
    ui: &Ui,
    plot_dir: Option<&Path>,
    force: bool,
) -> Report {
    let results = extract_with_progress(files, &model.mfcc, ui, "MFCC");
    let mut ok_files = Vec::new();
    let mut features = Vec::new();
    let mut errors = Vec::new();
    for (file, result) in files.iter().zip(results) {
        match result {
            Ok(f) => {
                ok_files.push(file);
                features.push(f);
            }
            Err(e) => errors.push(FileError {
                file: file.display().to_string(),
                error: e.to_string(),
            }),
        }
    }
    let inputs = normalise(&model.standardizer, &features);
    let alphas = match plot_dir {
        Some(_) => attention(&mut model.classifier, &inputs),
        None => Vec::new(),
    };
    let probs = probabilities(&mut model.classifier, inputs.clone());
    let predictions: Vec<Prediction> = ok_files
        .iter()
        .zip(probs)
        .map(|(file, p)| {
            let best = ser_experiment::metrics::argmax(&p);
            let probabilities = ClassProbabilities(
                model
                    .class_names
                    .iter()
                    .cloned()
                    .zip(p.iter().copied())
                    .collect(),
            );
            Prediction {
                file: file.display().to_string(),
                emotion: model.class_names[best].clone(),
                confidence: p[best],
                probabilities,
            }
        })
        .collect();
    if let Some(dir) = plot_dir {
        let policy = crate::output::OutputPolicy { force };
        for (i, ((file, alpha), p)) in ok_files.iter().zip(&alphas).zip(&predictions).enumerate() {
            let stem = file
                .file_stem()
                .map_or_else(|| format!("clip{i}"), |s| s.to_string_lossy().into_owned());
            let path = dir.join(format!("{stem}.attention.png"));
            let n_features = model.classifier.config().input_size;
            let c0: Vec<f32> = inputs[i].iter().step_by(n_features).copied().collect();
            let hop = match hop_seconds(&model.mfcc, file) {
                Ok(h) => h,
                Err(e) => {
                    errors.push(FileError {
                        file: file.display().to_string(),
                        error: format!("{e:#}"),
                    });
                    continue;
                }
            };
            let title = format!("{stem}: predicted {} (p = {:.2})", p.emotion, p.confidence);
            match crate::plot::attention_weights(&path, alpha, &c0, hop, &title, policy) {
                Ok(()) => ui.detail(&format!("wrote {}", path.display())),
                Err(e) => errors.push(FileError {
                    file: path.display().to_string(),
                    error: format!("{e:#}"),
                }),
            }
        }
    }
    Report {
        model: model.source.to_string(),
        classes: model.class_names.clone(),
        predictions,
        errors,
    }
}

/// Seconds between frames for `file` (the hop resolved at the rate the features are computed at:
/// the model's `target_sample_rate`, else the file's own).
fn hop_seconds(mfcc: &ser_dsp::MfccConfig, file: &Path) -> Result<f64> {
    let rate = match mfcc.target_sample_rate {
        Some(rate) => rate,
        None => ser_dsp::read_wav(file)?.sample_rate,
    };
    let resolved = mfcc.resolve(rate)?;
    Ok(resolved.hop_length as f64 / f64::from(rate))
}

/// Attention weights of every clip (each sums to 1), in order.
fn attention(model: &mut ser_nn::Classifier<f32>, inputs: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let n_features = model.config().input_size;
    let mut out = Vec::with_capacity(inputs.len());
    for chunk in inputs.chunks(64) {
        let refs: Vec<&[f32]> = chunk.iter().map(Vec::as_slice).collect();
        let batch = ser_nn::PackedBatch::from_sequences(&refs, n_features);
        out.extend(model.attention_weights(&batch).unwrap_or_default());
    }
    out
}

fn print_table(report: &Report) {
    let width = report
        .predictions
        .iter()
        .map(|p| p.file.chars().count())
        .chain([4])
        .max()
        .unwrap_or(4)
        .min(60);
    let mut header = format!("{:<width$}  {:<9} {:>5}", "file", "emotion", "p");
    for c in &report.classes {
        let short: String = c.chars().take(7).collect();
        header += &format!(" {short:>7}");
    }
    println!("{header}");
    for p in &report.predictions {
        let mut line = format!("{:<width$}  {:<9} {:>5.2}", p.file, p.emotion, p.confidence);
        for (_, v) in &p.probabilities.0 {
            line += &format!(" {v:>7.3}");
        }
        println!("{line}");
    }
}
