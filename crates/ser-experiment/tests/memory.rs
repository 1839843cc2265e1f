//! Training does not leak: after a warm-up epoch, the resident set size (Linux `VmRSS`) stays flat
//! from epoch to epoch. Skips (with a message) where `/proc/self/status` is not available.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ser_experiment::cells::Cell;
use ser_experiment::config::TrainingConfig;
use ser_experiment::seeds::unit_seed;
use ser_experiment::train::{train_model, Split, UnitData, UnitId};

const INPUT: usize = 34;

/// `VmRSS` of this process in KiB, `None` off Linux.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn split(n: usize, rng: &mut ChaCha8Rng) -> Split {
    let mut s = Split::default();
    for i in 0..n {
        let frames = rng.gen_range(20..60);
        s.inputs.push(
            (0..frames * INPUT)
                .map(|_| rng.gen_range(-1.0..1.0))
                .collect(),
        );
        s.labels.push(i % 8);
    }
    s
}

#[test]
fn rss_does_not_grow_from_epoch_to_epoch() {
    if rss_kib().is_none() {
        eprintln!("skipping: /proc/self/status VmRSS is not available on this platform");
        return;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let data = UnitData {
        input_size: INPUT,
        train: split(96, &mut rng),
        validation: split(16, &mut rng),
        test: split(8, &mut rng),
    };
    let cell = Cell::parse("L2h64").expect("cell");
    let id = UnitId {
        cell,
        fold: 0,
        seed: 0,
        unit_seed: unit_seed(0, &cell, 0),
    };
    let config = TrainingConfig {
        epochs: 8,
        batch_size: 16,
        ..TrainingConfig::default()
    };
    let mut samples = Vec::new();
    // One training thread: other tests of this binary would blur the process-wide measure.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    pool.install(|| {
        train_model(&id, &data, &config, &mut |log, _, _| {
            samples.push((log.epoch, rss_kib().unwrap_or(0)));
        })
        .expect("trains")
    });
    // Epochs 1-2 are warm-up (allocator pools, lazily sized scratch). From then on allow 4 MiB of
    // allocator noise in total: a leak of more than ~700 KiB per epoch (6 measured epochs) fails.
    let after_warmup: Vec<u64> = samples.iter().skip(2).map(|&(_, kib)| kib).collect();
    let first = after_warmup[0];
    let last = *after_warmup.last().expect("epochs");
    let max = *after_warmup.iter().max().expect("epochs");
    assert!(
        last <= first + 4096 && max <= first + 4096,
        "RSS grew after warm-up (epoch, KiB): {samples:?}"
    );
}
