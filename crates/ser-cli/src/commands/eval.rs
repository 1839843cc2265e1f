//! `ser eval`: a model's UAR, WA, macro-F1, per-class recall and confusion matrix on labelled data.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use ser_experiment::metrics::{argmax, ConfusionMatrix};

use crate::data;
use crate::model;
use crate::output::OutputPolicy;
use crate::pipeline::{extract_with_progress, normalise, probabilities};
use crate::plot;
use crate::progress::Ui;

/// Evaluate a model on a RAVDESS-style folder or a CSV list `path,label[,speaker]`.
///
/// Prints UAR (unweighted average recall: the mean of the per-class recalls, the paper's metric),
/// WA (weighted accuracy: the share of clips classified correctly), macro-F1, the recall of each class
/// and the confusion matrix. With -o DIR also writes DIR/confusion.png (heatmap) and
/// DIR/metrics.json. Evaluating on speakers the model was trained on gives optimistic numbers; a
/// warning says so when the model records its training speakers.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ser eval run/model.safetensors --data ravdess/Actor_08
  ser eval run/model.safetensors --data test.csv -o run/eval/     + confusion.png, metrics.json
  ser eval --data ravdess/ --json                                 the built-in model, JSON on stdout")]
pub struct Args {
    /// Model file (default: the built-in model).
    #[arg(value_name = "MODEL")]
    model: Option<PathBuf>,

    /// RAVDESS-style folder or CSV list `path,label[,speaker]`.
    #[arg(long, value_name = "DIR|CSV")]
    data: PathBuf,

    /// Folder for confusion.png and metrics.json (created if missing).
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,

    /// Print the metrics as JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ui: &Ui, policy: OutputPolicy) -> Result<()> {
    let outputs = args
        .output
        .as_ref()
        .map(|dir| (dir.join("confusion.png"), dir.join("metrics.json")));
    if let Some((png, json)) = &outputs {
        policy.check_all([png, json])?;
    }
    let mut model = model::load(args.model.as_deref())?;
    let data = data::load(&args.data, ui)?;
    if model.class_names != data.class_names {
        bail!(
            "model {} predicts [{}], the data is labelled with [{}]",
            model.source,
            model.class_names.join(", "),
            data.class_names.join(", ")
        );
    }
    warn_on_seen_speakers(&model.meta.training, &data, ui);

    let paths: Vec<PathBuf> = data.items.iter().map(|i| i.path.clone()).collect();
    let mut features = Vec::with_capacity(paths.len());
    for r in extract_with_progress(&paths, &model.mfcc, ui, "MFCC") {
        features.push(r.context("cannot compute the features of an evaluation clip")?);
    }
    let inputs = normalise(&model.standardizer, &features);
    let probs = probabilities(&mut model.classifier, inputs);
    let predicted: Vec<usize> = probs.iter().map(|p| argmax(p)).collect();
    let truth: Vec<usize> = data.items.iter().map(|i| i.label).collect();
    let matrix = ConfusionMatrix::from_predictions(&truth, &predicted, model.class_names.len());
    let metrics = matrix.metrics();
    let recalls: Vec<Option<f64>> = (0..matrix.num_classes).map(|c| matrix.recall(c)).collect();

    let report = serde_json::json!({
        "model": model.source.to_string(),
        "data": data.description,
        "clips": metrics.n,
        "uar": metrics.uar,
        "wa": metrics.wa,
        "macro_f1": metrics.macro_f1,
        "recall": model.class_names.iter().zip(&recalls)
            .map(|(n, r)| (n.clone(), serde_json::json!(r)))
            .collect::<serde_json::Map<_, _>>(),
        "classes": model.class_names,
        "confusion": matrix.counts.chunks(matrix.num_classes).collect::<Vec<_>>(),
    });
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("cannot serialise")?
        );
    } else {
        print!(
            "{}",
            text_report(
                &model.source.to_string(),
                &data.description,
                &matrix,
                &model.class_names
            )
        );
    }
    if let Some((png, json)) = &outputs {
        let title = format!(
            "Confusion matrix — UAR {:.1} %, WA {:.1} %, {} clips",
            metrics.uar * 100.0,
            metrics.wa * 100.0,
            metrics.n
        );
        plot::confusion_heatmap(png, &matrix, &model.class_names, &title, policy)?;
        let text = serde_json::to_string_pretty(&report).context("cannot serialise")?;
        policy.write(json, text.as_bytes())?;
        ui.info(&format!("wrote {} and {}", png.display(), json.display()));
    } else {
        ui.detail("pass -o DIR to also write confusion.png and metrics.json");
    }
    Ok(())
}

/// Warns when the model's recorded training or validation speakers overlap the evaluated ones.
fn warn_on_seen_speakers(training: &serde_json::Value, data: &data::LabelledData, ui: &Ui) {
    let recorded = |key: &str| -> Vec<String> {
        training
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let seen: Vec<String> = recorded("train_speakers")
        .into_iter()
        .chain(recorded("validation_speakers"))
        .collect();
    let overlap: Vec<String> = data
        .speakers()
        .into_iter()
        .filter(|s| seen.contains(s))
        .collect();
    if !overlap.is_empty() {
        ui.warn(&format!(
            "the model was trained or validated on {} of these speakers ({}): the scores are optimistic",
            overlap.len(),
            overlap.join(",")
        ));
    }
}

/// Metrics, per-class recall and the confusion matrix as text.
fn text_report(model: &str, data: &str, m: &ConfusionMatrix, names: &[String]) -> String {
    let metrics = m.metrics();
    let mut s = String::new();
    let _ = writeln!(s, "model     {model}");
    let _ = writeln!(s, "data      {data} ({} clips)", metrics.n);
    let _ = writeln!(
        s,
        "UAR       {:6.2} %   (mean of per-class recalls)",
        metrics.uar * 100.0
    );
    let _ = writeln!(
        s,
        "WA        {:6.2} %   (share of clips correct)",
        metrics.wa * 100.0
    );
    let _ = writeln!(s, "macro-F1  {:6.2} %", metrics.macro_f1 * 100.0);
    let _ = writeln!(s, "\nper-class recall");
    for (c, name) in names.iter().enumerate() {
        let total = m.row_total(c);
        match m.recall(c) {
            Some(r) => {
                let _ = writeln!(
                    s,
                    "  {name:<10} {:>4}/{:<4} {:6.2} %",
                    m.get(c, c),
                    total,
                    r * 100.0
                );
            }
            None => {
                let _ = writeln!(s, "  {name:<10}    no clips");
            }
        }
    }
    let _ = writeln!(s, "\nconfusion matrix (rows: true, columns: predicted)");
    let short: Vec<String> = names.iter().map(|n| n.chars().take(5).collect()).collect();
    let _ = write!(s, "{:<10}", "");
    for n in &short {
        let _ = write!(s, " {n:>5}");
    }
    s.push('\n');
    for (t, name) in names.iter().enumerate() {
        let _ = write!(s, "{name:<10}");
        for p in 0..m.num_classes {
            let _ = write!(s, " {:>5}", m.get(t, p));
        }
        s.push('\n');
    }
    s
}
