//! What the user sees on stderr while a command runs.
//!
//! - Results (tables, JSON, metrics) go to stdout; everything here goes to stderr.
//! - Progress bars are drawn only when stderr is a terminal and `-q` is off. Without a terminal (logs,
//!   CI, pipes) a bar stays hidden and long jobs print plain lines instead (see [`Ui::line`]).
//! - `-q` silences everything but errors; `-v` adds detail lines ([`Ui::detail`]).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How much to print on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

impl Verbosity {
    /// From the counts of `-q` and `-v` flags (`-q` wins).
    pub fn from_flags(quiet: bool, verbose: u8) -> Self {
        if quiet {
            Verbosity::Quiet
        } else if verbose > 0 {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        }
    }
}

/// The stderr side of a command.
#[derive(Clone, Copy, Debug)]
pub struct Ui {
    pub verbosity: Verbosity,
    /// Bars are drawn (stderr is a terminal and not quiet).
    pub bars: bool,
}

impl Ui {
    pub fn new(verbosity: Verbosity) -> Self {
        let bars = verbosity > Verbosity::Quiet && std::io::stderr().is_terminal();
        Self { verbosity, bars }
    }

    /// A status line (hidden by `-q`).
    pub fn info(&self, message: &str) {
        if self.verbosity >= Verbosity::Normal {
            eprintln!("{message}");
        }
    }

    /// A detail line (shown with `-v`).
    pub fn detail(&self, message: &str) {
        if self.verbosity >= Verbosity::Verbose {
            eprintln!("{message}");
        }
    }

    /// A warning (hidden by `-q`).
    pub fn warn(&self, message: &str) {
        if self.verbosity >= Verbosity::Normal {
            eprintln!("warning: {message}");
        }
    }

    /// A per-step line for logs: printed when no bar is drawn (not a terminal) or with `-v`.
    pub fn line(&self, bar: &ProgressBar, message: &str) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        if self.bars {
            if self.verbosity >= Verbosity::Verbose {
                bar.println(message);
            }
        } else {
            eprintln!("{message}");
        }
    }

    /// A bar of `len` steps with `template` (indicatif syntax); hidden unless [`Ui::bars`].
    pub fn bar(&self, len: usize, template: &str) -> ProgressBar {
        if !self.bars {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_wins_over_verbose() {
        assert_eq!(Verbosity::from_flags(true, 2), Verbosity::Quiet);
        assert_eq!(Verbosity::from_flags(false, 1), Verbosity::Verbose);
        assert_eq!(Verbosity::from_flags(false, 0), Verbosity::Normal);
    }
}
