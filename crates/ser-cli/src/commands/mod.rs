//! One module per subcommand: its clap `Args` (with help and examples) and its `run`.

pub mod eval;
pub mod features;
pub mod info;
pub mod predict;
pub mod train;
