//! `ser train`: one model on a labelled corpus, with a speaker-independent validation split that picks
//! the epoch kept; writes the model, a per-epoch log (CSV) and the training curves (PNG).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use ser_dsp::MfccConfig;
use ser_experiment::cells::Cell;
use ser_experiment::config::ExperimentConfig;
use ser_experiment::features::Standardizer;
use ser_experiment::folds::reduced_plan;
use ser_experiment::seeds::unit_seed;
use ser_experiment::train::{EpochLog, Split, UnitData, UnitId};
use ser_nn::ModelMeta;

use crate::data::{self, LabelledData};
use crate::model::feature_metadata;
use crate::output::{sibling, OutputPolicy};
use crate::pipeline::extract_with_progress;
use crate::plot;
use crate::progress::Ui;
use ser_experiment::train::train_model;

/// The cell trained when neither --cell nor a one-cell --config names one: the paper's best.
const DEFAULT_CELL: &str = "L3h128";

/// Train a model on a RAVDESS-style folder or a CSV list `path,label[,speaker]`.
///
/// Speakers are split into training and validation speakers (no speaker in both); the epoch with the
/// best validation UAR (unweighted average recall) is kept. Features are z-scored per coefficient
/// with statistics of the training clips; feature settings and statistics are stored in the model.
/// Hyperparameters come from --config (the TOML format of `cargo xtask reproduce-table1`, defaults =
/// the paper: Adam 1e-3, batch 32, dropout 0.3, 100 epochs) and the flags below, which win.
///
/// Writes MODEL (safetensors with all metadata), MODEL-stem.training.csv (epoch, train_loss,
/// val_uar, seconds, kept) and MODEL-stem.curves.png. Training is deterministic: the same data,
/// config and seed give the same weights.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ser train --data ravdess/ -o run/model.safetensors
  ser train --data ravdess/ --cell L1h32 --epochs 20 --seed 1 -o run/small.safetensors
  ser train --data corpus.csv --val-speakers spk3,spk7 -o run/model.safetensors
  ser train --data /data/ravdess --config crates/ser-cli/model/builtin.toml \\
            -o crates/ser-cli/model/builtin.safetensors --force      (retrains the built-in model)

CSV list: one clip per line, `path,label[,speaker]`, optional header `path,label,speaker`; paths
relative to the CSV's folder; labels: neutral calm happy sad angry fearful disgust surprised.")]
pub struct Args {
    /// RAVDESS-style folder (03-01-EE-II-SS-RR-AA.wav names) or CSV list `path,label[,speaker]`.
    #[arg(long, value_name = "DIR|CSV")]
    data: PathBuf,

    /// Experiment config (TOML, ser-experiment format; its `cells` must name one cell unless --cell).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Output model file (.safetensors); the log and the plot are written beside it.
    #[arg(short, long, value_name = "MODEL")]
    output: PathBuf,

    /// Architecture, e.g. L3h128 (3 layers, 128 hidden, last state) or L2h64-concat.
    #[arg(long, value_name = "CELL")]
    cell: Option<String>,

    /// Number of epochs (overrides the config).
    #[arg(long, value_name = "N")]
    epochs: Option<usize>,

    /// Random seed (overrides the config; default 0).
    #[arg(long, value_name = "N")]
    seed: Option<u64>,

    /// MFCC preset (overrides the config).
    #[arg(long, value_parser = super::features::preset_parser())]
    preset: Option<String>,

    /// Validation speakers, comma-separated (RAVDESS: actor numbers, e.g. 3,6). Default: a fixed
    /// speaker-independent choice of about a fifth of the speakers (fold 1 of ser-experiment's
    /// reduced plan).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    val_speakers: Option<Vec<String>>,

    /// On a NaN/Inf loss or gradient, skip the batch with a warning and count it, instead of stopping
    /// with an error naming the epoch and step (an epoch whose batches are all bad still stops).
    #[arg(long)]
    skip_nonfinite: bool,
}

/// Settings resolved from the config and the flags.
struct Plan {
    config: ExperimentConfig,
    cell: Cell,
    mfcc: MfccConfig,
}

fn resolve_settings(args: &Args) -> Result<Plan> {
    let mut config = match &args.config {
        Some(path) => ExperimentConfig::load(path)
            .with_context(|| format!("cannot use config {}", path.display()))?,
        None => ExperimentConfig::default(),
    };
    let cell = match (&args.cell, &args.config) {
        (Some(name), _) => Cell::parse(name)?,
        (None, Some(path)) => match config.cells.as_slice() {
            [one] => *one,
            many => bail!(
                "config {} lists {} cells; pick one with --cell (e.g. --cell {DEFAULT_CELL})",
                path.display(),
                many.len()
            ),
        },
        (None, None) => Cell::parse(DEFAULT_CELL)?,
    };
    config.cells = vec![cell];
    if config.features.norm == ser_experiment::Norm::Speaker {
        bail!(
            "norm = \"speaker\" is an evaluation protocol of `cargo xtask reproduce-table1` (each actor \
             normalised with its own clips); a model for `ser predict` normalises every clip with its \
             training statistics: use norm = \"train\""
        );
    }
    if let Some(e) = args.epochs {
        config.training.epochs = e;
    }
    if let Some(s) = args.seed {
        config.seed = s;
    }
    config.seeds = 1;
    if args.skip_nonfinite {
        config.training.skip_nonfinite = true;
    }
    if let Some(p) = &args.preset {
        config.features.preset = p.clone();
    }
    config.validate()?;
    let mfcc = config
        .features
        .mfcc_config()
        .with_context(|| format!("config names preset {:?}", config.features.preset))?;
    Ok(Plan { config, cell, mfcc })
}

/// Which clips validate: by speaker when the data has speakers, else every fifth clip.
fn validation_mask(
    data: &LabelledData,
    requested: Option<&[String]>,
    ui: &Ui,
) -> Result<Vec<bool>> {
    let speakers = data.speakers();
    if speakers.is_empty() {
        if requested.is_some() {
            bail!(
                "--val-speakers given but {} has no speaker column",
                data.description
            );
        }
        ui.warn("no speaker information: validating on every fifth clip (not speaker-independent)");
        return Ok((0..data.items.len()).map(|i| i % 5 == 4).collect());
    }
    let chosen: Vec<String> = match requested {
        Some(list) => {
            let mut chosen = Vec::new();
            for wanted in list {
                let found = speakers
                    .iter()
                    .find(|s| same_speaker(s, wanted))
                    .with_context(|| {
                        format!(
                            "validation speaker {wanted:?} is not in {} (speakers: {})",
                            data.description,
                            speakers.join(",")
                        )
                    })?;
                chosen.push(found.clone());
            }
            chosen
        }
        None => {
            if speakers.len() > usize::from(u8::MAX) {
                bail!("too many speakers for the automatic split; pass --val-speakers");
            }
            // Speakers numbered 1..=n in sorted order; ser-experiment's plan picks fold 1's validation group.
            let numbers: Vec<u8> = (1..=speakers.len() as u8).collect();
            let plan = reduced_plan(&numbers)
                .context("the automatic split needs at least 3 speakers; pass --val-speakers")?;
            plan.folds[0]
                .validation
                .iter()
                .map(|&n| speakers[usize::from(n) - 1].clone())
                .collect()
        }
    };
    if chosen.len() == speakers.len() {
        bail!("every speaker would validate; leave some for training");
    }
    Ok(data
        .items
        .iter()
        .map(|i| i.speaker.as_ref().is_some_and(|s| chosen.contains(s)))
        .collect())
}

/// `3` matches `03` (RAVDESS actors), otherwise exact.
fn same_speaker(have: &str, wanted: &str) -> bool {
    match (have.parse::<u32>(), wanted.trim().parse::<u32>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => have == wanted.trim(),
    }
}

pub fn run(args: Args, ui: &Ui, policy: OutputPolicy) -> Result<()> {
    let plan = resolve_settings(&args)?;
    let log_path = sibling(&args.output, "training.csv");
    let curves_path = sibling(&args.output, "curves.png");
    policy.check_all([&args.output, &log_path, &curves_path])?;

    let data = data::load(&args.data, ui)?;
    let is_val = validation_mask(&data, args.val_speakers.as_deref(), ui)?;
    let paths: Vec<PathBuf> = data.items.iter().map(|i| i.path.clone()).collect();
    let results = extract_with_progress(&paths, &plan.mfcc, ui, "MFCC");
    let mut features = Vec::with_capacity(results.len());
    for r in results {
        features.push(r.context("cannot compute the features of a training clip")?);
    }
    let standardizer = Standardizer::fit(
        plan.mfcc.n_features(),
        features
            .iter()
            .zip(&is_val)
            .filter(|(_, v)| !**v)
            .map(|(f, _)| f),
    );
    let (mut train, mut validation) = (Split::default(), Split::default());
    for ((item, f), &v) in data.items.iter().zip(&features).zip(&is_val) {
        let split = if v { &mut validation } else { &mut train };
        split.inputs.push(standardizer.apply(f));
        split.labels.push(item.label);
    }
    let speakers_of = |val: bool| -> Vec<String> {
        let mut s: Vec<String> = data
            .items
            .iter()
            .zip(&is_val)
            .filter(|(_, v)| **v == val)
            .filter_map(|(i, _)| i.speaker.clone())
            .collect();
        s.dedup();
        s.sort();
        s.dedup();
        s
    };
    let (train_speakers, val_speakers) = (speakers_of(false), speakers_of(true));
    ui.info(&format!(
        "{}: {} training clips ({} speakers), {} validation clips (speakers {})",
        data.description,
        train.inputs.len(),
        train_speakers.len(),
        validation.inputs.len(),
        val_speakers.join(",")
    ));
    let unit_data = UnitData {
        input_size: plan.mfcc.n_features(),
        test: Default::default(),
        train,
        validation,
    };
    let config = &plan.config;
    let id = UnitId {
        cell: plan.cell,
        fold: 0,
        seed: config.seed,
        unit_seed: unit_seed(config.seed, &plan.cell, 0),
    };
    let epochs = config.training.epochs;
    ui.info(&format!(
        "training {} ({} parameters) for {epochs} epochs, seed {}",
        plan.cell,
        plan.cell.expected_params_with_input(plan.mfcc.n_features()),
        config.seed
    ));
    let bar = ui.bar(
        epochs,
        "epoch {pos}/{len} [{bar:30}] {elapsed} ETA {eta} {msg}",
    );
    let mut on_epoch = |log: &EpochLog, best_epoch: usize, best: f64| {
        let msg = format!(
            "loss {:.4}  val UAR {:5.1}%  (best {:.1}% @ {best_epoch})",
            log.train_loss,
            log.val_uar * 100.0,
            best * 100.0
        );
        ui.line(
            &bar,
            &format!(
                "epoch {:>3}/{epochs}  {msg}  {:.1}s",
                log.epoch, log.seconds
            ),
        );
        bar.set_message(msg);
        bar.inc(1);
    };
    let (outcome, classifier) = train_model(&id, &unit_data, &config.training, &mut on_epoch)
        .with_context(|| format!("training on {} failed", data.description))?;
    bar.finish_and_clear();

    let training_info = serde_json::json!({
        "tool": concat!("ser ", env!("CARGO_PKG_VERSION")),
        "dataset": if data.description.starts_with("RAVDESS") { "RAVDESS" } else { "CSV list" },
        "data": data.description,
        "cell": plan.cell.to_string(),
        "seed": config.seed,
        "train_clips": unit_data.train.inputs.len(),
        "validation_clips": unit_data.validation.inputs.len(),
        "train_speakers": train_speakers,
        "validation_speakers": val_speakers,
        "epochs_run": outcome.history.len(),
        "best_epoch": outcome.best_epoch,
        "best_val_uar": outcome.best_val_uar,
        "skipped_batches": outcome.skipped_batches,
        "config": config,
    });
    let meta = ModelMeta {
        features: feature_metadata(&plan.mfcc, crate::model::preset_of(&plan.mfcc))?,
        norm_mean: standardizer.mean.clone(),
        norm_std: standardizer.std.clone(),
        class_names: data.class_names.clone(),
        training: training_info,
    };
    crate::output::create_parent(&args.output)?;
    ser_nn::save_model(&args.output, &classifier, &meta)
        .with_context(|| format!("cannot save the model to {}", args.output.display()))?;

    let mut log = String::from("epoch,train_loss,val_uar,seconds,kept\n");
    for e in &outcome.history {
        log += &format!(
            "{},{},{},{:.3},{}\n",
            e.epoch,
            e.train_loss,
            e.val_uar,
            e.seconds,
            u8::from(e.epoch == outcome.best_epoch)
        );
    }
    policy.write(&log_path, log.as_bytes())?;
    let title = format!(
        "{} on {} — seed {}, kept epoch {}",
        plan.cell,
        if data.description.starts_with("RAVDESS") {
            "RAVDESS"
        } else {
            "CSV list"
        },
        config.seed,
        outcome.best_epoch
    );
    plot::training_curves(
        &curves_path,
        &outcome.history,
        outcome.best_epoch,
        &title,
        policy,
    )?;

    println!(
        "kept epoch {} of {}: validation UAR {:.2}%",
        outcome.best_epoch,
        outcome.history.len(),
        outcome.best_val_uar * 100.0
    );
    if outcome.skipped_batches > 0 {
        println!(
            "skipped   {} batches with a NaN/Inf loss or gradient (--skip-nonfinite)",
            outcome.skipped_batches
        );
    }
    println!("model     {}", args.output.display());
    println!("log       {}", log_path.display());
    println!("curves    {}", curves_path.display());
    Ok(())
}
