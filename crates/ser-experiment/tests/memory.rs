//! Training does not leak: after warm-up, memory stays flat from epoch 3 to epoch 10, measured two ways
//! at the end of every epoch:
//!
//! * live heap bytes (allocated minus freed), counted by a wrapper around the system allocator installed
//!   as this test binary's global allocator: exact, so a leak of a few hundred bytes per training step
//!   shows;
//! * the resident set size (Linux `VmRSS` of `/proc/self/status`; skipped, with a message, elsewhere):
//!   what the operating system sees, allocator pools and all.
//!
//! The test then shows that the check can fail: the same run with 256 KiB leaked (and touched) per
//! training step, from the epoch callback, must be flagged by both measures.
//!
//! This file holds a single test on purpose: both measures are process-wide, and a second test running
//! on another thread of the same binary would blur them.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};

mod common;

use common::noise_split;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ser_experiment::cells::Cell;
use ser_experiment::config::TrainingConfig;
use ser_experiment::seeds::unit_seed;
use ser_experiment::train::{train_model, Split, UnitData, UnitId};

/// The system allocator, counting live bytes.
struct Counting;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the `GlobalAlloc` contract; the
// counter is only arithmetic on the sizes the caller passes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same layout contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator (i.e. by `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as i64, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr`/`layout` come from this allocator; `new_size` follows the caller's contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const INPUT: usize = 34;
const EPOCHS: usize = 10;
/// Epochs before this one are warm-up (allocator pools, lazily sized scratch, rayon's thread start).
const FIRST_MEASURED: usize = 3;
const TRAIN_CLIPS: usize = 96;
const BATCH: usize = 16;
const STEPS_PER_EPOCH: usize = TRAIN_CLIPS / BATCH;
/// Allowed growth of the live heap from epoch 3 to 10 (measured: exactly 0 from epoch 2 on): 16 KiB,
/// i.e. a leak of more than ~400 bytes per training step (42 steps) fails.
const HEAP_SLACK_BYTES: i64 = 16 * 1024;
/// Allowed growth of the resident set (measured: 0): 2 MiB of allocator noise, i.e. a leak of more than
/// ~50 KiB of touched memory per training step fails.
const RSS_SLACK_KIB: i64 = 2048;
/// The deliberate leak of the second run, per training step.
const LEAK_PER_STEP: usize = 256 * 1024;

/// `VmRSS` of this process in KiB, `None` off Linux.
fn rss_kib() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn split(n: usize, rng: &mut ChaCha8Rng) -> Split {
    noise_split(n, INPUT, 20..60, rng)
}

/// `(epoch, live heap bytes, VmRSS KiB)` at the end of every epoch of one training run; with
/// `leak_per_epoch > 0` the epoch callback leaks that many touched bytes each epoch.
fn measure(leak_per_epoch: usize) -> Vec<(usize, i64, i64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let data = UnitData {
        input_size: INPUT,
        train: split(TRAIN_CLIPS, &mut rng),
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
        epochs: EPOCHS,
        batch_size: BATCH,
        ..TrainingConfig::default()
    };
    // Allocated before training, so recording a sample allocates nothing.
    let mut samples = Vec::with_capacity(EPOCHS);
    // One training thread, so the measure does not depend on how work lands on threads.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    pool.install(|| {
        train_model(&id, &data, &config, &mut |log, _, _| {
            if leak_per_epoch > 0 {
                // black_box: otherwise the never-read fill is optimised away and the pages stay
                // untouched, which the heap count sees but the RSS does not.
                std::mem::forget(std::hint::black_box(vec![1u8; leak_per_epoch]));
            }
            samples.push((
                log.epoch,
                LIVE_BYTES.load(Ordering::Relaxed),
                rss_kib().unwrap_or(0),
            ));
        })
        .expect("trains")
    });
    samples
}

/// Growth of the live heap and of the RSS from the end of epoch 3 to the end of epoch 10 (and the
/// largest value in between), each against its slack; the messages of the checks that fail.
fn growth_failures(samples: &[(usize, i64, i64)], rss_available: bool) -> Vec<String> {
    let measured: Vec<&(usize, i64, i64)> =
        samples.iter().filter(|s| s.0 >= FIRST_MEASURED).collect();
    assert_eq!(measured.len(), EPOCHS - FIRST_MEASURED + 1, "{samples:?}");
    let first = measured[0];
    let mut failures = Vec::new();
    let heap_max = measured.iter().map(|s| s.1).max().unwrap_or(0);
    if heap_max - first.1 > HEAP_SLACK_BYTES {
        failures.push(format!(
            "live heap grew by {} bytes after epoch {FIRST_MEASURED} (slack {HEAP_SLACK_BYTES})",
            heap_max - first.1
        ));
    }
    let rss_max = measured.iter().map(|s| s.2).max().unwrap_or(0);
    if rss_available && rss_max - first.2 > RSS_SLACK_KIB {
        failures.push(format!(
            "RSS grew by {} KiB after epoch {FIRST_MEASURED} (slack {RSS_SLACK_KIB})",
            rss_max - first.2
        ));
    }
    failures
}

#[test]
fn memory_does_not_grow_from_epoch_3_to_epoch_10() {
    let rss_available = rss_kib().is_some();
    if !rss_available {
        eprintln!("/proc/self/status VmRSS is not available on this platform: checking the live heap only");
    }
    let clean = measure(0);
    eprintln!("(epoch, live heap bytes, RSS KiB): {clean:?}");
    let failures = growth_failures(&clean, rss_available);
    assert!(
        failures.is_empty(),
        "{}\n(epoch, live heap bytes, RSS KiB): {clean:?}",
        failures.join("; ")
    );

    // The check can fail: a per-step leak is caught by each measure.
    let leaky = measure(STEPS_PER_EPOCH * LEAK_PER_STEP);
    let failures = growth_failures(&leaky, rss_available);
    let expected = if rss_available { 2 } else { 1 };
    assert_eq!(
        failures.len(),
        expected,
        "a leak of {LEAK_PER_STEP} bytes per step went unnoticed: {failures:?}\n\
         (epoch, live heap bytes, RSS KiB): {leaky:?}"
    );
}
