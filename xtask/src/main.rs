//! Developer tasks for the workspace, run as `cargo xtask <command>`.
//!
//! One file per command under `commands/`.

mod commands;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "xtask",
    about = "Developer tasks: reproduce the paper, run side-by-side benchmarks, fuzz"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Reproduce Table 1 of the paper: 15 LSTM configurations, 5 speaker-independent folds.
    ReproduceTable1(commands::reproduce_table1::Args),
    /// Time MFCC extraction over a folder of WAVs, side by side with librosa.
    BenchFeatures(commands::bench_features::Args),
    /// Time LSTM training and inference for the Table-1 shapes, side by side with PyTorch.
    BenchLstm(commands::bench_lstm::Args),
    /// Time the fused gate passes alone (scalar and wide), best of many rounds.
    BenchGates(commands::bench_gates::Args),
    /// Run a cargo-fuzz target (nightly) for N seconds and report executions, coverage and crashes.
    Fuzz(commands::fuzz::Args),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::ReproduceTable1(args) => commands::reproduce_table1::run(args),
        Command::BenchFeatures(args) => commands::bench_features::run(args),
        Command::BenchLstm(args) => commands::bench_lstm::run(args),
        Command::BenchGates(args) => commands::bench_gates::run(args),
        Command::Fuzz(args) => commands::fuzz::run(args),
    }
}
