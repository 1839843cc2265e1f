//! The whole Table-1 experiment: data → folds → features → units (resumable, scheduled) → report and plot.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use ser_dsp::MfccConfig;

use crate::config::{ExperimentConfig, Norm};
use crate::data_dir;
use crate::dataset::{Clip, Emotion};
use crate::error::{ExperimentError, Result};
use crate::features::{extract_all, FeatureTable, Standardizer};
use crate::folds::{plan_for, reduced_plan, Fold, PlanKind, Role};
use crate::metrics::ConfusionMatrix;
use crate::plot::plot_table1;
use crate::progress::{Progress, Verbosity};
use crate::report::{cell_report, fmt_duration, Table1Report};
use crate::scheduler::{calibrate, run_units, Calibration, Placement};
use crate::seeds::unit_seed;
use crate::train::{train_unit, Split, UnitData, UnitId};
use crate::units::{fingerprint, git_revision, Unit, UnitRecord, UnitStore};

/// What to run and where.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub config: ExperimentConfig,
    /// `--data DIR`; `None` follows the precedence in [`crate::data_dir`].
    pub data: Option<PathBuf>,
    /// Output folder: `table1.*`, `units/`, `cache/`.
    pub out: PathBuf,
    /// `Some(n)`: n units side by side without measuring; `None`: measure per shape.
    pub jobs: Option<usize>,
    pub verbosity: Verbosity,
}

impl RunOptions {
    /// Defaults: data by precedence, `results/`, measured placement, bars.
    pub fn new(config: ExperimentConfig) -> Self {
        Self {
            config,
            data: None,
            out: PathBuf::from("results"),
            jobs: None,
            verbosity: Verbosity::Normal,
        }
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub report: Table1Report,
    /// Report and plot files written.
    pub files: Vec<PathBuf>,
    pub units_run: usize,
    pub units_skipped: usize,
    pub wall_seconds: f64,
}

/// The fold's clips split by role and normalised, plus the statistics used.
struct FoldData {
    data: UnitData,
    test_ids: Vec<String>,
    standardizer: Standardizer,
}

/// Runs the experiment described by `options` (see the crate docs).
///
/// # Errors
/// Data folder, fold plan, features, config, training (non-finite values) and output errors. When a unit
/// fails, the units already finished stay on disk and the report of the finished units is still written.
pub fn run(options: &RunOptions) -> Result<RunSummary> {
    let start = Instant::now();
    let config = &options.config;
    config.validate()?;
    let quiet = options.verbosity == Verbosity::Quiet;
    let say = |m: &str| {
        if !quiet {
            eprintln!("{m}");
        }
    };

    let resolved = data_dir::resolve(options.data.as_deref())?;
    say(&format!(
        "data folder ({}): {}",
        resolved.source,
        resolved.dir.display()
    ));
    say(resolved.index.summary().trim_end());
    let actors = resolved.index.actors();
    let plan = match config.fold_plan {
        PlanKind::Paper => plan_for(&actors, false, &resolved.dir)?,
        PlanKind::Reduced => reduced_plan(&actors)?,
    };
    say(plan.describe().trim_end());
    let plan_actors = plan.actors();
    let clips: Vec<Clip> = resolved
        .index
        .clips
        .iter()
        .filter(|c| plan_actors.contains(&c.actor()))
        .cloned()
        .collect();

    let mfcc: MfccConfig = config.features.mfcc_config()?;
    let mfcc_json = serde_json::to_value(&mfcc).map_err(|source| ExperimentError::Json {
        path: PathBuf::from("<feature config>"),
        source,
    })?;
    let clip_ids: Vec<String> = clips.iter().map(|c| c.id.clone()).collect();
    let fp = fingerprint(config, &mfcc_json, &plan, &clip_ids);
    let store = UnitStore::open(&options.out, &fp)?;
    let seeds = config.seed_list();
    let all_units: Vec<Unit> = config
        .cells
        .iter()
        .flat_map(|&cell| {
            let seeds = &seeds;
            plan.folds.iter().flat_map(move |f| {
                seeds.iter().map(move |&seed| Unit {
                    cell,
                    fold: f.index,
                    seed,
                })
            })
        })
        .collect();
    let mut pending: Vec<Unit> = all_units
        .iter()
        .copied()
        .filter(|u| store.load(u).is_none())
        .collect();
    // Longest first, so the last units to finish are short ones (stable: fold and seed order kept).
    pending.sort_by_key(|u| std::cmp::Reverse(u.cell.cost()));
    let skipped = all_units.len() - pending.len();
    say(&format!(
        "{} units ({} cells x {} folds x {} seeds): {} finished earlier, {} to run; unit files in {}",
        all_units.len(),
        config.cells.len(),
        plan.folds.len(),
        seeds.len(),
        skipped,
        pending.len(),
        store.dir.display()
    ));

    let mut remaining_per_cell: BTreeMap<String, usize> = BTreeMap::new();
    for u in &pending {
        *remaining_per_cell.entry(u.cell.to_string()).or_insert(0) += 1;
    }
    let progress = Progress::new(options.verbosity, remaining_per_cell.len(), pending.len());

    // Features (only when there is something to train).
    let mut feature_seconds = 0.0;
    let mut cache_hits = 0;
    let mut calibrations: Vec<Calibration> = Vec::new();
    let mut run_error: Option<ExperimentError> = None;
    if !pending.is_empty() {
        let bar = progress.features_bar(clips.len());
        let cache_dir = config.features.cache.then(|| options.out.join("cache"));
        let table = extract_all(&clips, &mfcc, cache_dir.as_deref(), &|done, _| {
            bar.set_position(done as u64)
        })?;
        bar.finish_and_clear();
        feature_seconds = table.stats.seconds;
        cache_hits = table.stats.cache_hits;
        progress.println(&format!(
            "features: {} clips ({} from cache, {} extracted) in {}",
            clips.len(),
            table.stats.cache_hits,
            table.stats.extracted,
            fmt_duration(table.stats.seconds)
        ));
        let fold_data: Vec<FoldData> = plan
            .folds
            .iter()
            .map(|f| build_fold(f, &clips, &table, config.features.norm))
            .collect();

        let slots = options
            .jobs
            .unwrap_or_else(rayon::current_num_threads)
            .max(1);
        let mut placement_by_shape: BTreeMap<(usize, usize), Placement> = BTreeMap::new();
        for u in &pending {
            let shape = (u.cell.layers, u.cell.hidden);
            if placement_by_shape.contains_key(&shape) {
                continue;
            }
            let placement = match options.jobs {
                Some(1) => Placement::Alone,
                Some(_) => Placement::Concurrent,
                None => {
                    let c = calibrate(&u.cell, &fold_data[0].data, &config.training);
                    progress.println(&format!(
                        "schedule L{}h{}: {:.2} s/epoch alone, {:.2} s/epoch each of a pair (pair throughput x{:.2}) -> {}",
                        c.layers,
                        c.hidden,
                        c.alone_epoch_s,
                        c.pair_epoch_s,
                        c.pair_speedup,
                        c.placement.name()
                    ));
                    let p = c.placement;
                    calibrations.push(c);
                    p
                }
            };
            placement_by_shape.insert(shape, placement);
        }

        let revision = git_revision();
        let kernels = ser_nn::kernel_summary();
        let remaining = Mutex::new(remaining_per_cell);
        let finished = AtomicUsize::new(0);
        let total = pending.len();
        let placement_of = |u: &Unit| {
            placement_by_shape
                .get(&(u.cell.layers, u.cell.hidden))
                .copied()
                .unwrap_or(Placement::Alone)
        };
        let work = |unit: &Unit, placement: Placement| -> Result<()> {
            let fd = &fold_data[unit.fold];
            let fold = &plan.folds[unit.fold];
            let id = UnitId {
                cell: unit.cell,
                fold: unit.fold,
                seed: unit.seed,
                unit_seed: unit_seed(unit.seed, &unit.cell, unit.fold),
            };
            let bar = progress.unit_bar(&unit.label(), config.training.epochs);
            let unit_start = Instant::now();
            let outcome = train_unit(
                &id,
                &fd.data,
                &config.training,
                &mut |log, best_epoch, best| {
                    bar.set_position(log.epoch as u64);
                    bar.set_message(format!(
                        "val UAR {:.1}% (best {:.1}% @ {best_epoch}) loss {:.3}",
                        100.0 * log.val_uar,
                        100.0 * best,
                        log.train_loss
                    ));
                },
            );
            bar.finish_and_clear();
            let outcome = outcome?;
            let seconds = unit_start.elapsed().as_secs_f64();
            let metrics = ConfusionMatrix::from_predictions(
                &fd.data.test.labels,
                &outcome.test_predictions,
                Emotion::ALL.len(),
            )
            .metrics();
            let record = UnitRecord {
                format: crate::units::UNIT_FORMAT,
                fingerprint: store.fingerprint.clone(),
                cell: unit.cell,
                fold: unit.fold + 1,
                seed: unit.seed,
                unit_seed: id.unit_seed,
                test_actors: fold.test.clone(),
                validation_actors: fold.validation.clone(),
                train_actors: fold.train.clone(),
                num_params: outcome.num_params,
                paper_params: unit.cell.paper().map_or(0, |p| p.0),
                best_epoch: outcome.best_epoch,
                best_val_uar: outcome.best_val_uar,
                epochs_run: outcome.history.len(),
                stopped_early: outcome.stopped_early,
                skipped_batches: outcome.skipped_batches,
                history: outcome.history,
                test_clips: fd.test_ids.clone(),
                test_labels: fd.data.test.labels.clone(),
                test_predictions: outcome.test_predictions,
                metrics,
                seconds,
                schedule: placement.name().to_string(),
                git_revision: revision.clone(),
                kernels: kernels.clone(),
                config: config.clone(),
                classifier: outcome.classifier,
                features: mfcc_json.clone(),
                standardizer: fd.standardizer.clone(),
            };
            store.save(unit, &record)?;
            let cell_finished = {
                let mut map = remaining.lock().unwrap_or_else(|p| p.into_inner());
                let left = map.entry(unit.cell.to_string()).or_insert(1);
                *left = left.saturating_sub(1);
                *left == 0
            };
            let n = finished.fetch_add(1, Ordering::Relaxed) + 1;
            progress.unit_done(
                &format!(
                    "[{n}/{total}] {}: test UAR {:.2}%, best epoch {} (val UAR {:.2}%), {} params, {} ({})",
                    unit.label(),
                    100.0 * metrics.uar,
                    record.best_epoch,
                    100.0 * record.best_val_uar,
                    record.num_params,
                    fmt_duration(seconds),
                    placement.name()
                ),
                cell_finished,
            );
            Ok(())
        };
        if let Err(e) = run_units(&pending, slots, &placement_of, &work) {
            run_error = Some(e);
        }
    }
    progress.finish();

    let records: Vec<UnitRecord> = all_units.iter().filter_map(|u| store.load(u)).collect();
    let refs: Vec<&UnitRecord> = records.iter().collect();
    let cells = config
        .cells
        .iter()
        .map(|cell| {
            let mine: Vec<&UnitRecord> = refs.iter().copied().filter(|r| r.cell == *cell).collect();
            cell_report(cell, &plan, &seeds, &mine)
        })
        .collect();
    let wall_seconds = start.elapsed().as_secs_f64();
    let mut kernels: Vec<String> = records.iter().map(|r| r.kernels.clone()).collect();
    kernels.sort();
    kernels.dedup();
    let report = Table1Report {
        git_revision: git_revision(),
        kernels,
        data_dir: resolved.dir.clone(),
        clips: clips.len(),
        actors: plan_actors,
        fingerprint: fp,
        config: config.clone(),
        fold_plan: plan.clone(),
        class_names: Emotion::class_names(),
        cells,
        run_wall_seconds: wall_seconds,
        feature_seconds,
        feature_cache_hits: cache_hits,
        calibrations,
    };
    let mut files = report.write(&options.out)?;
    let title = format!(
        "UAR % per cell: ours vs paper ({} folds, {} epoch{}, {} seed{})",
        plan.folds.len(),
        config.training.epochs,
        if config.training.epochs == 1 { "" } else { "s" },
        seeds.len(),
        if seeds.len() == 1 { "" } else { "s" }
    );
    match plot_table1(&report.cells, &options.out, "table1", &title) {
        Ok(paths) => files.extend(paths),
        Err(e) => say(&format!("warning: {e}")),
    }
    if let Some(e) = run_error {
        return Err(e);
    }
    Ok(RunSummary {
        report,
        files,
        units_run: pending.len(),
        units_skipped: skipped,
        wall_seconds,
    })
}

/// Splits the clips of `fold` by role and normalises them with statistics from the training actors
/// (`Norm::Train`), from every clip (`Norm::Global`) or from each clip's own actor (`Norm::Speaker`;
/// the recorded standardizer is then the training actors' one, for reference).
fn build_fold(fold: &Fold, clips: &[Clip], table: &FeatureTable, norm: Norm) -> FoldData {
    let per_actor: BTreeMap<u8, Standardizer> = if norm == Norm::Speaker {
        let actors: std::collections::BTreeSet<u8> = clips.iter().map(|c| c.actor()).collect();
        actors
            .into_iter()
            .map(|a| {
                let own = clips
                    .iter()
                    .zip(&table.clips)
                    .filter(|(c, _)| c.actor() == a)
                    .map(|(_, f)| f);
                (a, Standardizer::fit(table.n_coeffs, own))
            })
            .collect()
    } else {
        BTreeMap::new()
    };
    let standardizer = match norm {
        Norm::Train | Norm::Speaker => Standardizer::fit(
            table.n_coeffs,
            clips
                .iter()
                .zip(&table.clips)
                .filter(|(c, _)| fold.role_of(c.actor()) == Some(Role::Train))
                .map(|(_, f)| f),
        ),
        Norm::Global => Standardizer::fit(table.n_coeffs, table.clips.iter()),
    };
    let mut data = UnitData {
        input_size: table.n_coeffs,
        train: Split::default(),
        validation: Split::default(),
        test: Split::default(),
    };
    let mut test_ids = Vec::new();
    for (clip, features) in clips.iter().zip(&table.clips) {
        let split = match fold.role_of(clip.actor()) {
            Some(Role::Train) => &mut data.train,
            Some(Role::Validation) => &mut data.validation,
            Some(Role::Test) => {
                test_ids.push(clip.id.clone());
                &mut data.test
            }
            None => continue,
        };
        let stats = per_actor.get(&clip.actor()).unwrap_or(&standardizer);
        split.inputs.push(stats.apply(features));
        split.labels.push(clip.label());
    }
    FoldData {
        data,
        test_ids,
        standardizer,
    }
}

/// Where `run` writes unit files for a given output folder (for tools that inspect them).
pub fn units_dir(out: &Path) -> PathBuf {
    out.join("units")
}
