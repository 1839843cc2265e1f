//! `cargo xtask reproduce-table1`: the paper's Table 1 (15 LSTM cells × 5 speaker-independent folds).
//!
//! Settings are layered: built-in defaults (the paper's protocol) ← `--config FILE` (TOML, see
//! `crates/ser-experiment/configs/table1.toml`) ← `--quick` (reduced fold plan over the actors present,
//! cells L1h32 and L2h32-concat, 3 epochs) ← the other flags. Results go to `--out` (default `results`,
//! or `results/quick` with `--quick`): `table1.{md,csv,json,png,svg}`, one JSON per finished
//! (cell, fold, seed) under `units/`, the feature cache under `cache/`. Rerunning skips finished units.

use std::path::PathBuf;

use anyhow::Context;
use ser_experiment::{Cell, ExperimentConfig, Norm, RunOptions, Verbosity};

#[derive(clap::Args)]
pub struct Args {
    /// RAVDESS folder (else $RAVDESS_DIR, ./data/ravdess, ../shared/ravdess).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Comma-separated cells, e.g. L3h128,L2h64-concat (default: all 15).
    #[arg(long, value_name = "LIST")]
    cells: Option<String>,
    /// Training epochs per unit (default 100).
    #[arg(long)]
    epochs: Option<usize>,
    /// Number of seeds; the report shows mean ± std over them (default 1).
    #[arg(long)]
    seeds: Option<usize>,
    /// First seed (default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Units side by side; default: measured per LSTM shape (see ser_experiment::scheduler).
    #[arg(long)]
    jobs: Option<usize>,
    /// CI smoke run: actors present, reduced fold plan, L1h32 and L2h32-concat, 3 epochs.
    #[arg(long)]
    quick: bool,
    /// No progress bars or log lines on stderr.
    #[arg(long)]
    quiet: bool,
    /// z-score statistics from the training actors (train, default) or all actors (global, the authors').
    #[arg(long, value_name = "train|global")]
    norm: Option<Norm>,
    /// TOML config file (every hyper-parameter; missing fields keep their defaults).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Output folder (default results, or results/quick with --quick).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Early stopping: stop a unit after N epochs without a better validation UAR (default: off).
    #[arg(long, value_name = "N")]
    patience: Option<usize>,
    /// Do not read or write the feature cache.
    #[arg(long)]
    no_cache: bool,
    /// On a NaN/Inf loss or gradient, skip the batch with a warning and count it (skipped_batches in
    /// the unit JSON) instead of stopping the run with an error naming cell, fold, epoch and step.
    #[arg(long)]
    skip_nonfinite: bool,
    /// Print the effective config as TOML and exit.
    #[arg(long)]
    print_config: bool,
}

/// The effective config: defaults ← file ← --quick ← flags.
fn build_config(args: &Args) -> anyhow::Result<ExperimentConfig> {
    let mut config = match &args.config {
        Some(path) => ExperimentConfig::load(path)
            .with_context(|| format!("loading config {}", path.display()))?,
        None => ExperimentConfig::default(),
    };
    if args.quick {
        config.make_quick();
    }
    if let Some(list) = &args.cells {
        config.cells = Cell::parse_list(list).with_context(|| format!("parsing --cells {list}"))?;
    }
    if let Some(epochs) = args.epochs {
        config.training.epochs = epochs;
    }
    if let Some(seeds) = args.seeds {
        config.seeds = seeds;
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    if let Some(norm) = args.norm {
        config.features.norm = norm;
    }
    if let Some(patience) = args.patience {
        config.training.patience = Some(patience);
    }
    if args.no_cache {
        config.features.cache = false;
    }
    if args.skip_nonfinite {
        config.training.skip_nonfinite = true;
    }
    config.validate().context("checking the effective config")?;
    Ok(config)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = build_config(&args)?;
    if args.print_config {
        print!("{}", config.to_toml()?);
        return Ok(());
    }
    if args.jobs == Some(0) {
        anyhow::bail!("--jobs must be at least 1");
    }
    let out = args.out.clone().unwrap_or_else(|| {
        if args.quick {
            PathBuf::from("results/quick")
        } else {
            PathBuf::from("results")
        }
    });
    let mut options = RunOptions::new(config);
    options.data = args.data.clone();
    options.out = out;
    options.jobs = args.jobs;
    options.verbosity = if args.quiet {
        Verbosity::Quiet
    } else {
        Verbosity::Normal
    };
    let summary = ser_experiment::run(&options).context("reproduce-table1")?;
    println!("{}", summary.report.markdown_table());
    println!(
        "{} units run, {} reused; wall time {:.1} s",
        summary.units_run, summary.units_skipped, summary.wall_seconds
    );
    for file in &summary.files {
        println!("wrote {}", file.display());
    }
    let unequal: Vec<String> = summary
        .report
        .cells
        .iter()
        .filter(|c| !c.params_equal)
        .map(|c| format!("{} ({} vs paper {})", c.cell, c.params, c.paper_params))
        .collect();
    if !unequal.is_empty() {
        anyhow::bail!(
            "parameter counts differ from the paper: {}",
            unequal.join(", ")
        );
    }
    let non_finite: Vec<String> = summary
        .report
        .cells
        .iter()
        .filter(|c| !c.uar_pct_mean.is_finite())
        .map(|c| c.cell.to_string())
        .collect();
    if !non_finite.is_empty() {
        anyhow::bail!("no finite UAR for: {}", non_finite.join(", "));
    }
    Ok(())
}
