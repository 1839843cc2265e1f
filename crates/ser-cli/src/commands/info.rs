//! `ser info`: what a model file holds — architecture, tensor shapes, parameter count, feature
//! config, normalisation and how it was trained.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::model::{self, LoadedModel, ModelSource, BUILTIN_CARD, RAVDESS_CREDIT};

/// Describe a model: architecture, tensor shapes, parameter count, features and training.
///
/// With no MODEL, describes the built-in model used by `ser predict` (trained on RAVDESS,
/// CC BY-NC-SA 4.0).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ser info                               the built-in model
  ser info run/model.safetensors
  ser info run/model.safetensors --json  everything, machine-readable")]
pub struct Args {
    /// Model file written by `ser train` (default: the built-in model).
    #[arg(value_name = "MODEL")]
    model: Option<PathBuf>,

    /// Print the full metadata as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> Result<()> {
    let model = model::load(args.model.as_deref())?;
    if args.json {
        let value = serde_json::json!({
            "model": model.source.to_string(),
            "classifier": model.classifier.config(),
            "num_params": model.classifier.num_params(),
            "tensors": model.classifier.named_tensors().iter()
                .map(|t| serde_json::json!({"name": t.name, "shape": t.shape}))
                .collect::<Vec<_>>(),
            "meta": model.meta,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).context("cannot serialise")?
        );
        return Ok(());
    }
    print!("{}", describe(&model));
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The human-readable description.
fn describe(model: &LoadedModel) -> String {
    let c = model.classifier.config();
    let training = &model.meta.training;
    let mut s = String::new();
    let mut line = |key: &str, value: String| s.push_str(&format!("{key:<15} {value}\n"));
    line("model", model.source.to_string());
    if training.get("untrained").and_then(|v| v.as_bool()) == Some(true) {
        line(
            "WARNING",
            "placeholder with random weights: UNTRAINED, predictions are meaningless".into(),
        );
    }
    line(
        "architecture",
        format!(
            "LSTM(input {}, hidden {}, layers {}) -> {} -> dropout {} -> Linear({} -> {})",
            c.input_size,
            c.hidden_size,
            c.num_layers,
            match c.head {
                ser_nn::Head::Last => "last layer's final state".to_string(),
                ser_nn::Head::Concat =>
                    format!("final states of all {} layers concatenated", c.num_layers),
                ser_nn::Head::Mean => "mean of the last layer's outputs over time".to_string(),
                ser_nn::Head::Max => "max of the last layer's outputs over time".to_string(),
                ser_nn::Head::Attention => format!(
                    "attention pooling of the last layer's outputs (width {})",
                    c.attention().map_or(0, |a| a.attention_size)
                ),
            },
            c.dropout,
            c.feature_size(),
            c.num_classes
        ),
    );
    line(
        "parameters",
        format!(
            "{} (f32, {} bytes)",
            model.classifier.num_params(),
            4 * model.classifier.num_params()
        ),
    );
    line("classes", model.class_names.join(", "));
    let m = &model.mfcc;
    line(
        "features",
        format!(
            "{} per frame, preset {}",
            feature_columns(m),
            model
                .preset
                .as_deref()
                .or(model::preset_of(m))
                .unwrap_or("custom")
        ),
    );
    line(
        "",
        format!(
            "n_fft {}, window {:?} {}, hop {}, centred {}, {} mels ({:?} scale, {:?} norm), fmin {} Hz, fmax {}{}",
            m.n_fft,
            m.window,
            span(m.win_length).unwrap_or_else(|| "of n_fft samples".into()),
            span(m.hop_length).unwrap_or_else(|| "window / 4".into()),
            yes_no(m.center),
            m.n_mels,
            m.mel_scale,
            m.mel_norm,
            m.fmin,
            m.fmax.map_or("sr/2".to_string(), |f| format!("{f} Hz")),
            m.target_sample_rate
                .map_or(String::new(), |r| format!(", audio resampled to {r} Hz")),
        ),
    );
    line(
        "normalisation",
        if model.meta.norm_mean.is_empty() {
            "none".into()
        } else {
            format!(
                "z-score per coefficient (mean/std of the training clips; c0 mean {:.2}, std {:.2})",
                model.meta.norm_mean[0], model.meta.norm_std[0]
            )
        },
    );
    if let Some(obj) = training.as_object() {
        let mut first = true;
        for (key, value) in obj {
            if key == "config" || key == "untrained" {
                continue;
            }
            let text = match value {
                serde_json::Value::String(v) => v.clone(),
                other => other.to_string(),
            };
            line(
                if first { "training" } else { "" },
                format!("{key}: {text}"),
            );
            first = false;
        }
    }
    s.push_str("tensors\n");
    for t in model.classifier.named_tensors() {
        s.push_str(&format!("  {:<22} {:?}\n", t.name, t.shape));
    }
    let ravdess = model.source == ModelSource::Builtin
        || training.get("dataset").and_then(|d| d.as_str()) == Some("RAVDESS");
    if model.source == ModelSource::Builtin {
        s.push_str(&format!("\n{}", BUILTIN_CARD.trim_end()));
        s.push('\n');
    }
    if ravdess {
        s.push_str(&format!("\n{RAVDESS_CREDIT}\n"));
    }
    s
}

fn span(s: Option<ser_dsp::Span>) -> Option<String> {
    Some(match s? {
        ser_dsp::Span::Samples(n) => format!("{n} samples"),
        ser_dsp::Span::Seconds(t) => format!("{} ms", t * 1000.0),
    })
}

/// `34 MFCC`, or e.g. `34 MFCC + 34 Δ + 34 ΔΔ + 12 chroma = 114 values`.
fn feature_columns(m: &ser_dsp::MfccConfig) -> String {
    let n = m.n_mfcc();
    let mut parts = vec![format!("{n} MFCC")];
    if m.deltas >= 1 {
        parts.push(format!("{n} Δ"));
    }
    if m.deltas >= 2 {
        parts.push(format!("{n} ΔΔ"));
    }
    if m.chroma {
        parts.push("12 chroma".into());
    }
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        format!("{} = {} values", parts.join(" + "), m.n_features())
    }
}
