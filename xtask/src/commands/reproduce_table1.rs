//! `cargo xtask reproduce-table1`: the paper's Table 1 (15 LSTM cells × 5 speaker-independent folds).
//!
//! Settings are layered: built-in defaults (the paper's protocol) ← `--config FILE` (TOML, see
//! `crates/ser-experiment/configs/table1.toml`) ← `--quick` (reduced fold plan over the actors present,
//! cells L1h32 and L2h32-concat, 3 epochs) ← the other flags. Results go to `--out` (default `results`,
//! or `results/quick` with `--quick`): `table1.{md,csv,json,png,svg}`, one JSON per finished
//! (cell, fold, seed) under `units/`, the feature cache under `cache/`. Rerunning skips finished units.
//!
//! `--extended` runs the variants beyond the paper instead (default file
//! `crates/ser-experiment/configs/extended.toml`, or `--variants-file FILE`) into `--out` (default
//! `results/extended`): one sub-folder per variant, and `extended.{md,csv,json}` comparing them.
//! `--epochs`, `--seeds`, `--seed`, `--patience`, `--norm`, `--no-cache` and `--quick` apply to every
//! variant.

use std::path::PathBuf;

use anyhow::Context;
use ser_experiment::{Cell, ExperimentConfig, ExtendedConfig, Norm, RunOptions, Verbosity};

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
    /// Units side by side; default: measured per LSTM shape (see ser_experiment::scheduler). The
    /// measurement trains a few throw-away epochs per shape (43 s for all 15 cells on 24 actors, measured);
    /// in short runs `--jobs 2` skips it (on this 2-core machine pairs were faster for every shape).
    #[arg(long)]
    jobs: Option<usize>,
    /// CI smoke run: actors present, reduced fold plan, L1h32 and L2h32-concat, 3 epochs.
    #[arg(long)]
    quick: bool,
    /// No progress bars or log lines on stderr.
    #[arg(long)]
    quiet: bool,
    /// z-score statistics from the training actors (train, default), all actors (global, the authors'), or
    /// each actor's own clips (speaker; uses the test actors' unlabelled audio).
    #[arg(long, value_name = "train|global|speaker")]
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
    /// Run the variants beyond the paper (pooling heads, features, augmentation) on the same folds.
    #[arg(long)]
    extended: bool,
    /// Variant file for --extended (default: the built-in configs/extended.toml).
    #[arg(long, value_name = "FILE", requires = "extended")]
    variants_file: Option<PathBuf>,
    /// Only these variants of --extended, comma-separated names.
    #[arg(long, value_name = "LIST", requires = "extended")]
    variants: Option<String>,
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
    apply_overrides(args, &mut config);
    config.validate().context("checking the effective config")?;
    Ok(config)
}

/// The flags that apply to Table 1 and to every --extended variant alike.
fn apply_overrides(args: &Args, config: &mut ExperimentConfig) {
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
}

/// `--extended`: every variant of the variant file, then the comparison table.
fn run_extended(args: &Args, mut options: RunOptions) -> anyhow::Result<()> {
    let mut variants = match &args.variants_file {
        Some(path) => ExtendedConfig::load(path)
            .with_context(|| format!("loading variants {}", path.display()))?,
        None => ExtendedConfig::from_toml(
            ser_experiment::extended::BUILTIN_VARIANTS,
            std::path::Path::new("configs/extended.toml"),
        )
        .context("parsing the built-in variant file")?,
    };
    if let Some(list) = &args.variants {
        let wanted: Vec<&str> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(unknown) = wanted
            .iter()
            .find(|w| !variants.variants.iter().any(|v| v.name == **w))
        {
            let known: Vec<&str> = variants.variants.iter().map(|v| v.name.as_str()).collect();
            anyhow::bail!("unknown variant {unknown:?}; known: {}", known.join(", "));
        }
        variants
            .variants
            .retain(|v| wanted.contains(&v.name.as_str()));
    }
    if args.print_config {
        for v in &variants.variants {
            let mut config = v.config.clone();
            apply_overrides(args, &mut config);
            println!(
                "# variant {}: {}\n{}",
                v.name,
                v.description,
                config.to_toml()?
            );
        }
        return Ok(());
    }
    if args.out.is_none() {
        options.out = PathBuf::from("results/extended");
    }
    let quick = args.quick;
    let adjust = |config: &mut ExperimentConfig| {
        if quick {
            let cells = config.cells.clone();
            config.make_quick();
            config.cells = cells;
        }
        apply_overrides(args, config);
    };
    let (report, files) =
        ser_experiment::run_extended(&variants, &options, &adjust).context("extended run")?;
    println!("{}", report.markdown_table());
    for file in &files {
        println!("wrote {}", file.display());
    }
    let non_finite: Vec<String> = report
        .rows
        .iter()
        .filter(|r| !r.uar_pct_mean.is_finite())
        .map(|r| format!("{}/{}", r.variant, r.cell))
        .collect();
    if !non_finite.is_empty() {
        anyhow::bail!("no finite UAR for: {}", non_finite.join(", "));
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = build_config(&args)?;
    if args.extended {
        let mut options = RunOptions::new(config);
        options.data = args.data.clone();
        options.out = args.out.clone().unwrap_or_default();
        options.jobs = args.jobs;
        if args.jobs == Some(0) {
            anyhow::bail!("--jobs must be at least 1");
        }
        options.verbosity = if args.quiet {
            Verbosity::Quiet
        } else {
            Verbosity::Normal
        };
        return run_extended(&args, options);
    }
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
