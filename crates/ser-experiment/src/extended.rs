//! Beyond the paper: named variants of the base protocol, run on exactly the same folds and compared
//! in one table (`cargo xtask reproduce-table1 --extended`).
//!
//! A variant file (see `configs/extended.toml`) has a `[base]` table — any [`ExperimentConfig`] fields,
//! applied to every variant — and `[[variant]]` entries, each with a `name`, a `description` and a `set`
//! table merged over the base (tables merge key by key; any other value replaces). Each variant runs
//! through [`crate::table1::run`] into `<out>/<name>/`, so it is resumable unit by unit like Table 1,
//! and its units are fingerprinted by its own effective config. The comparison goes to
//! `<out>/extended.{md,csv,json}`, with every row's difference to the first variant (the baseline).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::ExperimentConfig;
use crate::error::{ExperimentError, Result};
use crate::features::write_all_atomic;
use crate::report::{fmt_duration, CellReport};
use crate::table1::{run, RunOptions};

/// The variant file shipped with the crate (`configs/extended.toml`).
pub const BUILTIN_VARIANTS: &str = include_str!("../configs/extended.toml");

/// One row group of the extended table.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Short name, also the sub-folder of the output (letters, digits, `-`, `_`, `+`).
    pub name: String,
    pub description: String,
    /// The effective config: base ← `set`.
    pub config: ExperimentConfig,
}

/// A parsed variant file.
#[derive(Clone, Debug)]
pub struct ExtendedConfig {
    pub variants: Vec<Variant>,
}

/// Merges `over` into `base`: tables recursively, key by key; anything else replaces.
fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

impl ExtendedConfig {
    /// Reads and checks a variant file.
    ///
    /// # Errors
    /// [`ExperimentError::InvalidConfig`] / [`ExperimentError::ConfigParse`] naming the variant.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ExperimentError::io("reading variant file", path, e))?;
        Self::from_toml(&text, path)
    }

    /// Parses variant-file text; `path` is only used in errors.
    pub fn from_toml(text: &str, path: &Path) -> Result<Self> {
        let parse_err = |source| ExperimentError::ConfigParse {
            path: path.to_path_buf(),
            source,
        };
        let mut root: toml::Table = toml::from_str(text).map_err(parse_err)?;
        let base = match root.remove("base") {
            Some(toml::Value::Table(t)) => t,
            None => toml::Table::new(),
            Some(_) => return Err(invalid("base", "not a table", "must be a [base] table")),
        };
        let entries = match root.remove("variant") {
            Some(toml::Value::Array(a)) if !a.is_empty() => a,
            _ => {
                return Err(invalid(
                    "variant",
                    "missing",
                    "need at least one [[variant]]",
                ))
            }
        };
        if let Some(key) = root.keys().next() {
            return Err(invalid(
                "(top level)",
                key,
                "unknown key: expected base or variant",
            ));
        }
        let mut variants: Vec<Variant> = Vec::new();
        for entry in entries {
            let toml::Value::Table(mut entry) = entry else {
                return Err(invalid(
                    "variant",
                    "not a table",
                    "each [[variant]] is a table",
                ));
            };
            let name = match entry.remove("name") {
                Some(toml::Value::String(s)) => s,
                _ => {
                    return Err(invalid(
                        "variant.name",
                        "missing",
                        "every variant needs a name",
                    ))
                }
            };
            let name_ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_+".contains(c));
            if !name_ok || variants.iter().any(|v| v.name == name) {
                return Err(invalid(
                    "variant.name",
                    &name,
                    "must be unique and use only letters, digits, '-', '_', '+'",
                ));
            }
            let description = match entry.remove("description") {
                Some(toml::Value::String(s)) => s,
                _ => String::new(),
            };
            let mut merged = base.clone();
            match entry.remove("set") {
                Some(toml::Value::Table(set)) => merge(&mut merged, &set),
                None => {}
                Some(_) => return Err(invalid("variant.set", &name, "must be a table")),
            }
            if let Some(key) = entry.keys().next() {
                return Err(invalid(
                    "variant",
                    &format!("{name}: {key}"),
                    "unknown key: expected name, description, set",
                ));
            }
            let text = toml::to_string(&merged)?;
            let config = ExperimentConfig::from_toml(&text, &path.join(&name))?;
            variants.push(Variant {
                name,
                description,
                config,
            });
        }
        Ok(Self { variants })
    }
}

fn invalid(field: &'static str, value: &str, reason: &'static str) -> ExperimentError {
    ExperimentError::InvalidConfig {
        field,
        value: value.to_string(),
        reason,
    }
}

/// One row of the comparison: a (variant, cell) pair.
#[derive(Clone, Debug, Serialize)]
pub struct ExtendedRow {
    pub variant: String,
    pub description: String,
    pub cell: String,
    pub params: usize,
    pub uar_pct_mean: f64,
    pub uar_pct_std: f64,
    pub uar_pct_per_seed: Vec<f64>,
    pub wa_pct_mean: f64,
    pub macro_f1_pct_mean: f64,
    /// Mean UAR minus the first row's, percentage points.
    pub uar_gain_pct: f64,
    pub mean_best_epoch: f64,
    pub train_seconds: f64,
    pub complete: bool,
}

/// The whole comparison.
#[derive(Clone, Debug, Serialize)]
pub struct ExtendedReport {
    pub rows: Vec<ExtendedRow>,
    pub seeds: usize,
    pub epochs: usize,
    pub patience: Option<usize>,
}

impl ExtendedReport {
    fn from_cells(variants: &[(Variant, Vec<CellReport>)]) -> Self {
        let mut rows: Vec<ExtendedRow> = Vec::new();
        for (variant, cells) in variants {
            for c in cells {
                rows.push(ExtendedRow {
                    variant: variant.name.clone(),
                    description: variant.description.clone(),
                    cell: c.cell.to_string(),
                    params: c.params,
                    uar_pct_mean: c.uar_pct_mean,
                    uar_pct_std: c.uar_pct_std,
                    uar_pct_per_seed: c.uar_pct_per_seed.clone(),
                    wa_pct_mean: c.wa_pct_mean,
                    macro_f1_pct_mean: c.macro_f1_pct_mean,
                    uar_gain_pct: f64::NAN,
                    mean_best_epoch: c.mean_best_epoch,
                    train_seconds: c.train_seconds,
                    complete: c.complete,
                });
            }
        }
        let baseline = rows.first().map_or(f64::NAN, |r| r.uar_pct_mean);
        for r in &mut rows {
            r.uar_gain_pct = r.uar_pct_mean - baseline;
        }
        let first = variants.first().map(|(v, _)| &v.config);
        Self {
            rows,
            seeds: first.map_or(0, |c| c.seeds),
            epochs: first.map_or(0, |c| c.training.epochs),
            patience: first.and_then(|c| c.training.patience),
        }
    }

    /// GitHub markdown table.
    pub fn markdown_table(&self) -> String {
        let mut s = String::from(
            "| Variant | Cell | Params | UAR % (mean ± std) | Δ vs first row | WA % | macro-F1 % | best epoch | train time | What changes |\n\
             |---|---|---:|---:|---:|---:|---:|---:|---:|---|\n",
        );
        for r in &self.rows {
            s += &format!(
                "| {}{} | {} | {} | {:.2} ± {:.2} | {:+.2} | {:.2} | {:.2} | {:.1} | {} | {} |\n",
                r.variant,
                if r.complete { "" } else { " (incomplete)" },
                r.cell,
                r.params,
                r.uar_pct_mean,
                r.uar_pct_std,
                r.uar_gain_pct,
                r.wa_pct_mean,
                r.macro_f1_pct_mean,
                r.mean_best_epoch,
                fmt_duration(r.train_seconds),
                r.description
            );
        }
        s
    }

    /// CSV with one line per row (per-seed UARs separated by `;`).
    pub fn csv(&self) -> String {
        let mut s = String::from(
            "variant,cell,params,uar_pct_mean,uar_pct_std,uar_pct_per_seed,uar_gain_pct,wa_pct_mean,macro_f1_pct_mean,mean_best_epoch,train_seconds,complete\n",
        );
        for r in &self.rows {
            let seeds: Vec<String> = r
                .uar_pct_per_seed
                .iter()
                .map(|u| format!("{u:.4}"))
                .collect();
            s += &format!(
                "{},{},{},{:.4},{:.4},{},{:.4},{:.4},{:.4},{:.2},{:.1},{}\n",
                r.variant,
                r.cell,
                r.params,
                r.uar_pct_mean,
                r.uar_pct_std,
                seeds.join(";"),
                r.uar_gain_pct,
                r.wa_pct_mean,
                r.macro_f1_pct_mean,
                r.mean_best_epoch,
                r.train_seconds,
                r.complete
            );
        }
        s
    }

    /// Writes `extended.{md,csv,json}` under `out` atomically; returns the paths.
    pub fn write(&self, out: &Path) -> Result<Vec<PathBuf>> {
        let json_path = out.join("extended.json");
        let json = serde_json::to_vec_pretty(self).map_err(|source| ExperimentError::Json {
            path: json_path.clone(),
            source,
        })?;
        let md = format!(
            "# Beyond the paper: same 5 folds, {} seed(s), up to {} epochs{}\n\n\
             UAR is pooled over the out-of-fold test predictions, mean ± sample std over seeds; the epoch \
             with the best validation UAR is kept. Δ is against the first row.\n\n{}",
            self.seeds,
            self.epochs,
            self.patience
                .map_or(String::new(), |p| format!(" (patience {p})")),
            self.markdown_table()
        );
        write_all_atomic(vec![
            (out.join("extended.md"), md.into_bytes()),
            (out.join("extended.csv"), self.csv().into_bytes()),
            (json_path, json),
        ])
    }
}

/// Runs every variant (each resumable) and writes the comparison. `template` gives the data folder,
/// jobs and verbosity; its config is ignored (each variant has its own) and its `out` is the parent
/// folder. `adjust` may change each variant's config (command-line overrides) before it runs.
///
/// # Errors
/// The first failing variant's error; the variants finished before it keep their results.
pub fn run_extended(
    variants: &ExtendedConfig,
    template: &RunOptions,
    adjust: &dyn Fn(&mut ExperimentConfig),
) -> Result<(ExtendedReport, Vec<PathBuf>)> {
    let mut done: Vec<(Variant, Vec<CellReport>)> = Vec::new();
    let mut files = Vec::new();
    for variant in &variants.variants {
        let mut config = variant.config.clone();
        adjust(&mut config);
        let mut options = template.clone();
        options.config = config.clone();
        options.out = template.out.join(&variant.name);
        if template.verbosity != crate::progress::Verbosity::Quiet {
            eprintln!("== variant {}: {}", variant.name, variant.description);
        }
        let summary = run(&options)?;
        files.extend(summary.files);
        let mut v = variant.clone();
        v.config = config;
        done.push((v, summary.report.cells));
    }
    let report = ExtendedReport::from_cells(&done);
    files.extend(report.write(&template.out)?);
    Ok((report, files))
}
