//! `ser`: speech emotion recognition from the command line.
//!
//! MFCC features (`ser-dsp`), the paper's LSTM classifier (`ser-nn`), and the RAVDESS tooling and
//! training loop (`ser-experiment`), behind five subcommands — one file each in `commands/`.
//! Results go to stdout, progress and messages to stderr; every error names the file concerned and
//! ends the process with exit code 1 (2 for command-line usage errors, as clap reports them).

mod commands;
mod data;
mod formats;
mod model;
mod output;
mod pipeline;
mod plot;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::OutputPolicy;
use crate::progress::{Ui, Verbosity};

/// Speech emotion recognition: MFCC features, an LSTM classifier, training and evaluation.
///
/// `ser predict clip.wav` works out of the box with the built-in model (8 RAVDESS emotions; trained
/// on RAVDESS, CC BY-NC-SA 4.0 — see `ser info` and `ser predict --help`).
#[derive(Parser, Debug)]
#[command(name = "ser", version, propagate_version = true, after_help = EXAMPLES)]
struct Cli {
    /// Print nothing on stderr but errors (no progress bars, no status lines).
    #[arg(short, long, global = true)]
    quiet: bool,

    /// Print more detail on stderr (repeatable). Per-epoch lines are printed even with a progress bar.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,

    /// Overwrite output files that already exist (by default existing files are never replaced).
    #[arg(long, global = true)]
    force: bool,

    #[command(subcommand)]
    command: Command,
}

const EXAMPLES: &str = "\
Examples:
  ser predict clip.wav                          top emotion with the built-in model
  ser features recordings/ -o mfcc/             MFCC of every WAV under recordings/ as .npy
  ser train --data ravdess/ -o run/model.safetensors
  ser eval run/model.safetensors --data ravdess/ -o run/eval/
  ser info run/model.safetensors";

#[derive(Subcommand, Debug)]
enum Command {
    Features(commands::features::Args),
    Train(commands::train::Args),
    Eval(commands::eval::Args),
    Predict(commands::predict::Args),
    Info(commands::info::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ui = Ui::new(Verbosity::from_flags(cli.quiet, cli.verbose));
    let policy = OutputPolicy { force: cli.force };
    let result = match cli.command {
        Command::Features(args) => commands::features::run(args, &ui, policy),
        Command::Train(args) => commands::train::run(args, &ui, policy),
        Command::Eval(args) => commands::eval::run(args, &ui, policy),
        Command::Predict(args) => commands::predict::run(args, &ui),
        Command::Info(args) => commands::info::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The chain of contexts, outermost first; no backtrace (these are user-facing errors).
            eprintln!("error: {error}");
            for cause in error.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
