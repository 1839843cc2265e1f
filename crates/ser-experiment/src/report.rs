//! Table 1 from the unit records: `table1.md`, `table1.csv`, `table1.json`.
//!
//! Per cell and seed, the test predictions of all folds are pooled (each clip is tested once) and UAR, WA
//! and macro-F1 computed on the pool; the table shows their mean ± sample std over seeds. Per-fold UAR is
//! each fold's own test UAR (mean over seeds). The confusion matrix is pooled over folds and summed over
//! seeds. "Train time" is the sum of the cell's unit wall times (units may have run side by side, so the
//! column does not add up to the run's wall time, which is given separately).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cells::Cell;
use crate::config::ExperimentConfig;
use crate::dataset::Emotion;
use crate::error::{ExperimentError, Result};
use crate::features::write_all_atomic;
use crate::folds::FoldPlan;
use crate::metrics::{mean, sample_std, ConfusionMatrix};
use crate::scheduler::Calibration;
use crate::units::UnitRecord;

/// One fold of one cell.
#[derive(Clone, Debug, Serialize)]
pub struct FoldSummary {
    /// 1-based.
    pub fold: usize,
    pub test_actors: Vec<u8>,
    pub uar_pct_mean: f64,
    pub uar_pct_per_seed: Vec<f64>,
    pub best_epoch_per_seed: Vec<usize>,
}

/// One row of Table 1.
#[derive(Clone, Debug, Serialize)]
pub struct CellReport {
    pub cell: Cell,
    pub layers: usize,
    pub hidden: usize,
    pub head: ser_nn::Head,
    pub params: usize,
    pub paper_params: usize,
    pub params_equal: bool,
    pub uar_pct_mean: f64,
    pub uar_pct_std: f64,
    pub paper_uar_pct: f64,
    /// Ours minus the paper's, percentage points.
    pub uar_diff_pct: f64,
    pub wa_pct_mean: f64,
    pub wa_pct_std: f64,
    pub macro_f1_pct_mean: f64,
    pub macro_f1_pct_std: f64,
    /// Pooled out-of-fold UAR of each seed.
    pub uar_pct_per_seed: Vec<f64>,
    pub seeds: Vec<u64>,
    pub folds: Vec<FoldSummary>,
    /// `[true, predicted]`, pooled over folds, summed over seeds.
    pub confusion: ConfusionMatrix,
    pub mean_best_epoch: f64,
    /// Sum of unit wall times, seconds.
    pub train_seconds: f64,
    /// Every (fold, seed) unit finished.
    pub complete: bool,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Table1Report {
    pub git_revision: String,
    /// The distinct LSTM kernel descriptions of the units in the table (more than one when units from
    /// runs on other kernels were reused; "" for units written before session 11).
    pub kernels: Vec<String>,
    pub data_dir: PathBuf,
    pub clips: usize,
    pub actors: Vec<u8>,
    pub fingerprint: String,
    pub config: ExperimentConfig,
    pub fold_plan: FoldPlan,
    pub class_names: Vec<String>,
    pub cells: Vec<CellReport>,
    pub run_wall_seconds: f64,
    pub feature_seconds: f64,
    pub feature_cache_hits: usize,
    pub calibrations: Vec<Calibration>,
}

/// Builds one cell's row from its finished units (any order; missing units make it incomplete).
pub fn cell_report(
    cell: &Cell,
    plan: &FoldPlan,
    seeds: &[u64],
    records: &[&UnitRecord],
) -> CellReport {
    let (paper_params, paper_uar) = cell.paper().unwrap_or((0, f64::NAN));
    let n_classes = Emotion::ALL.len();
    let find = |fold: usize, seed: u64| {
        records
            .iter()
            .find(|r| r.cell == *cell && r.fold == fold + 1 && r.seed == seed)
    };
    let mut per_seed = Vec::new();
    let mut confusion = ConfusionMatrix::new(n_classes);
    let mut complete = true;
    for &seed in seeds {
        let mut pooled = ConfusionMatrix::new(n_classes);
        let mut all = true;
        for fold in &plan.folds {
            match find(fold.index, seed) {
                Some(r) => pooled.merge(&ConfusionMatrix::from_predictions(
                    &r.test_labels,
                    &r.test_predictions,
                    n_classes,
                )),
                None => all = false,
            }
        }
        complete &= all;
        if all {
            per_seed.push(pooled.metrics());
            confusion.merge(&pooled);
        }
    }
    let pct = |f: fn(&crate::metrics::Metrics) -> f64| -> Vec<f64> {
        per_seed.iter().map(|m| 100.0 * f(m)).collect()
    };
    let uar = pct(|m| m.uar);
    let wa = pct(|m| m.wa);
    let f1 = pct(|m| m.macro_f1);
    let folds = plan
        .folds
        .iter()
        .map(|fold| {
            let rs: Vec<&&UnitRecord> = seeds.iter().filter_map(|&s| find(fold.index, s)).collect();
            let uars: Vec<f64> = rs.iter().map(|r| 100.0 * r.metrics.uar).collect();
            FoldSummary {
                fold: fold.index + 1,
                test_actors: fold.test.clone(),
                uar_pct_mean: mean(&uars),
                uar_pct_per_seed: uars,
                best_epoch_per_seed: rs.iter().map(|r| r.best_epoch).collect(),
            }
        })
        .collect();
    let params = records.first().map_or(0, |r| r.num_params);
    let best_epochs: Vec<f64> = records.iter().map(|r| r.best_epoch as f64).collect();
    let uar_mean = mean(&uar);
    CellReport {
        cell: *cell,
        layers: cell.layers,
        hidden: cell.hidden,
        head: cell.head,
        params,
        paper_params,
        // Cells beyond the paper are checked against the closed-form count instead.
        params_equal: params
            == cell.paper().map_or_else(
                || {
                    let input = records.first().map_or(34, |r| r.classifier.input_size);
                    cell.expected_params_with_input(input)
                },
                |p| p.0,
            )
            && records.iter().all(|r| r.num_params == params),
        uar_pct_mean: uar_mean,
        uar_pct_std: sample_std(&uar),
        paper_uar_pct: paper_uar,
        uar_diff_pct: uar_mean - paper_uar,
        wa_pct_mean: mean(&wa),
        wa_pct_std: sample_std(&wa),
        macro_f1_pct_mean: mean(&f1),
        macro_f1_pct_std: sample_std(&f1),
        uar_pct_per_seed: uar,
        seeds: seeds.to_vec(),
        folds,
        confusion,
        mean_best_epoch: mean(&best_epochs),
        train_seconds: records.iter().map(|r| r.seconds).sum(),
        complete,
    }
}

fn fmt_pct(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.2}")
    } else {
        "–".into()
    }
}

impl Table1Report {
    /// The main table as GitHub markdown.
    pub fn markdown_table(&self) -> String {
        let mut s = String::from(
            "| Cell | Params (ours) | Params (paper) | UAR % ours (mean ± std) | UAR % paper | Δ UAR | WA % | macro-F1 % | best epoch | train time |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for c in &self.cells {
            let params_mark = if c.params_equal { "" } else { " ≠" };
            let incomplete = if c.complete { "" } else { " (incomplete)" };
            s += &format!(
                "| {}{} | {}{} | {} | {} ± {} | {} | {} | {} | {} | {:.1} | {} |\n",
                c.cell,
                incomplete,
                c.params,
                params_mark,
                if c.paper_params == 0 {
                    "—".to_string()
                } else {
                    c.paper_params.to_string()
                },
                fmt_pct(c.uar_pct_mean),
                fmt_pct(c.uar_pct_std),
                fmt_pct(c.paper_uar_pct),
                if c.uar_diff_pct.is_finite() {
                    format!("{:+.2}", c.uar_diff_pct)
                } else {
                    "—".to_string()
                },
                fmt_pct(c.wa_pct_mean),
                fmt_pct(c.macro_f1_pct_mean),
                c.mean_best_epoch,
                fmt_duration(c.train_seconds),
            );
        }
        s
    }

    /// The full markdown document: settings, main table, per-fold UAR, confusion matrices.
    pub fn markdown(&self) -> String {
        let t = &self.config.training;
        let mut s = String::from("# Table 1 reproduction\n\n");
        s += &format!(
            "Data: {} ({} clips, actors {}). Fold plan: {:?}, {} folds. Features: preset `{}`, z-score from {:?} actors. \
             Adam lr {}, batch {}, dropout {}, {} epochs{}, best validation-UAR epoch kept. Seeds: {:?}. \
             git {}; unit fingerprint {}.\n\n",
            self.data_dir.display(),
            self.clips,
            compact_actors(&self.actors),
            self.fold_plan.kind,
            self.fold_plan.folds.len(),
            self.config.features.preset,
            self.config.features.norm,
            t.learning_rate,
            t.batch_size,
            t.dropout,
            t.epochs,
            t.patience.map_or(String::new(), |p| format!(" (patience {p})")),
            self.config.seed_list(),
            self.git_revision,
            self.fingerprint,
        );
        s += &kernels_note(&self.kernels);
        s += "UAR, WA and macro-F1 are computed on the pooled out-of-fold test predictions (mean ± sample std over seeds).\n\n";
        s += &self.markdown_table();
        s += &format!(
            "\nRun wall time {} (feature extraction {}, {} of {} clips from cache).\n",
            fmt_duration(self.run_wall_seconds),
            fmt_duration(self.feature_seconds),
            self.feature_cache_hits,
            self.clips
        );
        s += "\n## Per-fold test UAR %\n\n| Cell |";
        let n_folds = self.fold_plan.folds.len();
        for f in &self.fold_plan.folds {
            s += &format!(" fold {} {:?} |", f.index + 1, f.test);
        }
        s += " pooled |\n|---|";
        s += &"---:|".repeat(n_folds + 1);
        s += "\n";
        for c in &self.cells {
            s += &format!("| {} |", c.cell);
            for f in &c.folds {
                s += &format!(" {} |", fmt_pct(f.uar_pct_mean));
            }
            s += &format!(" {} |\n", fmt_pct(c.uar_pct_mean));
        }
        s += "\n## Confusion matrices (rows true, columns predicted; pooled over folds, summed over seeds)\n";
        for c in &self.cells {
            s += &format!("\n### {}\n\n| true \\ pred |", c.cell);
            for name in &self.class_names {
                s += &format!(" {} |", &name[..name.len().min(4)]);
            }
            s += " recall % |\n|---|";
            s += &"---:|".repeat(self.class_names.len() + 1);
            s += "\n";
            for (t, name) in self.class_names.iter().enumerate() {
                s += &format!("| {name} |");
                for p in 0..self.class_names.len() {
                    s += &format!(" {} |", c.confusion.get(t, p));
                }
                let recall = c.confusion.recall(t).map_or(f64::NAN, |r| 100.0 * r);
                s += &format!(" {} |\n", fmt_pct(recall));
            }
        }
        s
    }

    /// One line per cell.
    pub fn csv(&self) -> String {
        let mut s = String::from(
            "cell,layers,hidden,head,params,paper_params,params_equal,uar_pct_mean,uar_pct_std,paper_uar_pct,uar_diff_pct,wa_pct_mean,macro_f1_pct_mean,mean_best_epoch,train_seconds,seeds,complete",
        );
        for f in &self.fold_plan.folds {
            s += &format!(",fold{}_uar_pct", f.index + 1);
        }
        s += "\n";
        for c in &self.cells {
            s += &format!(
                "{},{},{},{},{},{},{},{:.4},{:.4},{:.2},{:.4},{:.4},{:.4},{:.2},{:.1},{},{}",
                c.cell,
                c.layers,
                c.hidden,
                c.head.name(),
                c.params,
                c.paper_params,
                c.params_equal,
                c.uar_pct_mean,
                c.uar_pct_std,
                c.paper_uar_pct,
                c.uar_diff_pct,
                c.wa_pct_mean,
                c.macro_f1_pct_mean,
                c.mean_best_epoch,
                c.train_seconds,
                c.seeds.len(),
                c.complete
            );
            for f in &c.folds {
                s += &format!(",{:.4}", f.uar_pct_mean);
            }
            s += "\n";
        }
        s
    }

    /// Writes `table1.md`, `table1.csv`, `table1.json` under `out` (each atomically); returns their paths.
    pub fn write(&self, out: &Path) -> Result<Vec<PathBuf>> {
        let json_path = out.join("table1.json");
        let json = serde_json::to_vec_pretty(self).map_err(|source| ExperimentError::Json {
            path: json_path.clone(),
            source,
        })?;
        write_all_atomic(vec![
            (out.join("table1.md"), self.markdown().into_bytes()),
            (out.join("table1.csv"), self.csv().into_bytes()),
            (json_path, json),
        ])
    }
}

/// `1h02m03s`, `4m05s`, `6.1s`.
pub fn fmt_duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "–".into();
    }
    let s = seconds.round() as u64;
    if seconds < 60.0 {
        format!("{seconds:.1}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{}h{:02}m{:02}s", s / 3600, (s % 3600) / 60, s % 60)
    }
}

/// `1-8, 10, 12-24`.
pub fn compact_actors(actors: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < actors.len() {
        let mut j = i;
        while j + 1 < actors.len() && actors[j + 1] == actors[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}-{}", actors[i], actors[j])
        } else {
            actors[i].to_string()
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// One markdown line naming the LSTM kernels the units ran on, with a warning when they differ (their
/// results differ in the last bits, so such a table mixes two slightly different computations).
fn kernels_note(kernels: &[String]) -> String {
    let named: Vec<&str> = kernels
        .iter()
        .map(|k| {
            if k.is_empty() {
                "not recorded"
            } else {
                k.as_str()
            }
        })
        .collect();
    match named.as_slice() {
        [] => String::new(),
        [one] => format!("LSTM kernels: {one}.\n\n"),
        many => format!(
            "LSTM kernels: **the units ran on different kernels** ({}); their results differ in the \
             last bits. Rerun into a fresh `--out` for a table from one.\n\n",
            many.join("; ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::kernels_note;

    #[test]
    fn kernels_note_names_one_and_warns_about_several() {
        assert_eq!(kernels_note(&[]), "");
        let one = kernels_note(&["gates wide on Avx512, products Avx512 FMA".to_string()]);
        assert_eq!(
            one,
            "LSTM kernels: gates wide on Avx512, products Avx512 FMA.\n\n"
        );
        let mixed = kernels_note(&[
            String::new(),
            "gates wide on Avx2, products Avx2 FMA".to_string(),
        ]);
        assert!(mixed.contains("different kernels"), "{mixed}");
        assert!(
            mixed.contains("not recorded; gates wide on Avx2"),
            "{mixed}"
        );
    }
}
