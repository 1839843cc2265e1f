//! Progress display on stderr: bars for features, cells, units and each running unit's epochs.
//!
//! Bars are drawn only when stderr is a terminal and `--quiet` is off. Without a terminal (logs, CI) and
//! without `--quiet`, one plain line per finished unit is printed instead; with `--quiet` nothing is.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How much to tell the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verbosity {
    /// Bars on a terminal, plain lines otherwise.
    Normal,
    /// Nothing on stderr but errors.
    Quiet,
}

/// The run's progress bars.
pub struct Progress {
    multi: MultiProgress,
    bars: bool,
    verbosity: Verbosity,
    cells: ProgressBar,
    units: ProgressBar,
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress {
    /// Bars for `cells` cells and `units` units still to run.
    pub fn new(verbosity: Verbosity, cells: usize, units: usize) -> Self {
        let bars = verbosity == Verbosity::Normal && std::io::stderr().is_terminal();
        let target = if bars {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let cells_bar = multi.add(ProgressBar::new(cells as u64));
        cells_bar.set_style(style("cells  [{bar:30}] {pos}/{len} {msg}"));
        let units_bar = multi.add(ProgressBar::new(units as u64));
        units_bar.set_style(style(
            "units  [{bar:30}] {pos}/{len} elapsed {elapsed_precise} ETA {eta_precise} {msg}",
        ));
        if !bars {
            cells_bar.set_draw_target(ProgressDrawTarget::hidden());
            units_bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        Self {
            multi,
            bars,
            verbosity,
            cells: cells_bar,
            units: units_bar,
        }
    }

    /// A message above the bars (or a plain stderr line without bars; nothing when quiet).
    pub fn println(&self, message: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        if self.bars {
            let _ = self.multi.println(message);
        } else {
            eprintln!("{message}");
        }
    }

    /// A bar for feature extraction over `total` clips.
    pub fn features_bar(&self, total: usize) -> ProgressBar {
        let bar = self.add_bar(total);
        bar.set_style(style(
            "MFCC   [{bar:30}] {pos}/{len} clips {elapsed_precise} ETA {eta_precise}",
        ));
        bar
    }

    /// A bar for one unit's `epochs`, labelled e.g. `L3h128 fold 2 seed 0`.
    pub fn unit_bar(&self, label: &str, epochs: usize) -> ProgressBar {
        let bar = self.add_bar(epochs);
        bar.set_style(style(
            "{prefix:26} [{bar:20}] epoch {pos}/{len} ETA {eta_precise} {msg}",
        ));
        bar.set_prefix(label.to_string());
        if self.bars {
            bar.enable_steady_tick(Duration::from_millis(500));
        }
        bar
    }

    fn add_bar(&self, len: usize) -> ProgressBar {
        if self.bars {
            self.multi.add(ProgressBar::new(len as u64))
        } else {
            ProgressBar::hidden()
        }
    }

    /// One unit finished; `cell_finished` when it was its cell's last.
    pub fn unit_done(&self, line: &str, cell_finished: bool) {
        self.units.inc(1);
        if cell_finished {
            self.cells.inc(1);
        }
        if !self.bars {
            self.println(line);
        } else {
            self.units.set_message(line.to_string());
        }
    }

    /// Removes the bars.
    pub fn finish(&self) {
        self.cells.finish_and_clear();
        self.units.finish_and_clear();
        let _ = self.multi.clear();
    }
}
