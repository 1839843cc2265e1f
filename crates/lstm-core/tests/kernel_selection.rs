//! The kernel requested through SER_KERNEL (default: wide for f32) is the one that actually runs.

mod common;

use common::{problem, run};
use lstm_core::{KernelKind, Lstm, LstmConfig};

#[test]
fn requested_kernel_runs() {
    let requested = KernelKind::from_env()
        .expect("SER_KERNEL must be scalar or wide")
        .unwrap_or(KernelKind::Wide);
    let config = LstmConfig::new(3, 9, 2);
    let mut lstm = Lstm::<f32>::new(config);
    assert_eq!(
        lstm.kernel(),
        requested,
        "Lstm::new picked {:?}, SER_KERNEL asks for {requested:?}",
        lstm.kernel()
    );
    let before = requested.invocations();
    let p = problem::<f32>(config, &[3, 2], 1);
    run(&mut lstm, &p, 0);
    assert!(
        requested.invocations() > before,
        "the {requested:?} kernel never ran"
    );
    eprintln!(
        "SER_KERNEL -> {requested:?}: {} invocations",
        requested.invocations() - before
    );
}
