//! Unit files: atomic writing, resume (finished units are found, stray temporary files and foreign
//! fingerprints are not), the scheduler, and the feature cache entries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use ser_dsp::Features;
use ser_experiment::cells::Cell;
use ser_experiment::config::ExperimentConfig;
use ser_experiment::features::{read_entry, write_atomic, write_entry, Standardizer};
use ser_experiment::metrics::Metrics;
use ser_experiment::scheduler::{run_units, Placement};
use ser_experiment::units::{Unit, UnitRecord, UnitStore, UNIT_FORMAT};
use ser_experiment::ExperimentError;
use ser_nn::ClassifierConfig;

fn record(unit: &Unit, fingerprint: &str) -> UnitRecord {
    UnitRecord {
        format: UNIT_FORMAT,
        fingerprint: fingerprint.to_string(),
        cell: unit.cell,
        fold: unit.fold + 1,
        seed: unit.seed,
        unit_seed: 7,
        test_actors: vec![1, 8],
        validation_actors: vec![2, 7],
        train_actors: vec![3, 4, 5, 6],
        num_params: unit.cell.expected_params(),
        paper_params: unit.cell.expected_params(),
        best_epoch: 1,
        best_val_uar: 0.25,
        epochs_run: 1,
        stopped_early: false,
        skipped_batches: 0,
        history: vec![],
        test_clips: vec!["03-01-01-01-01-01-01".into()],
        test_labels: vec![0],
        test_predictions: vec![0],
        metrics: Metrics {
            uar: 1.0,
            wa: 1.0,
            macro_f1: 1.0,
            n: 1,
        },
        seconds: 0.5,
        schedule: "alone".into(),
        git_revision: "unknown".into(),
        kernels: String::new(),
        config: ExperimentConfig::quick(),
        classifier: ClassifierConfig::paper(unit.cell.hidden, unit.cell.layers, unit.cell.head),
        features: serde_json::json!({"preset": "test"}),
        standardizer: Standardizer {
            mean: vec![0.0; 2],
            std: vec![1.0; 2],
        },
    }
}

fn unit(fold: usize, seed: u64) -> Unit {
    Unit {
        cell: Cell::parse("L1h32").unwrap(),
        fold,
        seed,
    }
}

#[test]
fn finished_units_are_found_and_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = UnitStore::open(dir.path(), "abc123").unwrap();
    let done = unit(0, 0);
    let todo = unit(1, 0);
    assert!(store.load(&done).is_none());
    let path = store.save(&done, &record(&done, "abc123")).unwrap();
    assert!(
        path.ends_with("units/abc123/L1h32_fold1_seed0.json"),
        "{}",
        path.display()
    );
    let loaded = store.load(&done).unwrap();
    assert_eq!(loaded.test_predictions, vec![0]);
    assert!(store.load(&todo).is_none());

    // A stray temporary file of an interrupted write is never taken for a result.
    std::fs::write(
        store.dir.join(format!(".{}.tmp-999-0", todo.file_name())),
        b"{\"partial",
    )
    .unwrap();
    assert!(store.load(&todo).is_none());
    // A truncated result file (not possible with rename, but be safe) is redone.
    std::fs::write(store.path(&todo), b"{\"format\": 1").unwrap();
    assert!(store.load(&todo).is_none());
    // A file from other settings (fingerprint) or for another unit is redone.
    let other = UnitStore::open(dir.path(), "abc123").unwrap();
    other.save(&todo, &record(&todo, "different")).unwrap();
    assert!(store.load(&todo).is_none());
    std::fs::copy(store.path(&done), store.path(&unit(2, 0))).unwrap();
    assert!(store.load(&unit(2, 0)).is_none());
}

#[test]
fn atomic_write_replaces_whole_files_and_leaves_no_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/result.json");
    write_atomic(&path, b"first").unwrap();
    write_atomic(&path, b"second, longer").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second, longer");
    let names: Vec<String> = std::fs::read_dir(dir.path().join("sub"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["result.json".to_string()]);
}

#[test]
fn feature_cache_entries_round_trip_and_reject_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("entry.bin");
    let features = Features {
        n_frames: 3,
        n_coeffs: 2,
        data: vec![1.0, -2.5, 3.25, f32::MIN_POSITIVE, 0.0, 1e9],
    };
    write_entry(&path, &features).unwrap();
    assert_eq!(read_entry(&path).unwrap(), features);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    assert!(read_entry(&path).is_none(), "truncated entry");
    let mut bad_magic = bytes.clone();
    bad_magic[0] = b'X';
    std::fs::write(&path, &bad_magic).unwrap();
    assert!(read_entry(&path).is_none(), "wrong magic");
    assert!(read_entry(&dir.path().join("absent.bin")).is_none());
}

#[test]
fn standardizer_gives_zero_mean_unit_variance_on_its_data() {
    let clips = [
        Features {
            n_frames: 2,
            n_coeffs: 2,
            data: vec![1.0, 10.0, 3.0, 10.0],
        },
        Features {
            n_frames: 1,
            n_coeffs: 2,
            data: vec![5.0, 10.0],
        },
    ];
    let s = Standardizer::fit(2, clips.iter());
    assert!((s.mean[0] - 3.0).abs() < 1e-6 && (s.mean[1] - 10.0).abs() < 1e-6);
    assert!((s.std[0] - (8.0f32 / 3.0).sqrt()).abs() < 1e-6);
    assert_eq!(s.std[1], 1.0, "constant coefficient is only centred");
    let all: Vec<f32> = clips.iter().flat_map(|c| s.apply(c)).collect();
    let col0: Vec<f32> = all.iter().step_by(2).copied().collect();
    let m: f32 = col0.iter().sum::<f32>() / 3.0;
    let v: f32 = col0.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / 3.0;
    assert!(m.abs() < 1e-6 && (v - 1.0).abs() < 1e-5);
    assert!(all.iter().skip(1).step_by(2).all(|&x| x == 0.0));
}

#[test]
fn scheduler_runs_every_unit_once_within_the_slot_limit() {
    let units: Vec<Unit> = (0..5)
        .flat_map(|f| (0..2).map(move |s| unit(f, s)))
        .collect();
    for (slots, placement) in [
        (1, Placement::Alone),
        (2, Placement::Concurrent),
        (2, Placement::Alone),
    ] {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let seen = Mutex::new(Vec::new());
        let pool_threads = rayon::current_num_threads();
        run_units(&units, slots, &|_| placement, &|u: &Unit, p| {
            assert_eq!(p, placement);
            // Side by side, a unit's parallel loops run in a one-thread pool of its own; alone, on the
            // whole global pool.
            let want = match p {
                Placement::Concurrent => 1,
                Placement::Alone => pool_threads,
            };
            assert_eq!(rayon::current_num_threads(), want, "{p:?}");
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
            seen.lock().unwrap().push((u.fold, u.seed));
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        let mut seen = seen.into_inner().unwrap();
        seen.sort_unstable();
        let mut expected: Vec<(usize, u64)> = units.iter().map(|u| (u.fold, u.seed)).collect();
        expected.sort_unstable();
        assert_eq!(seen, expected);
        let limit = if placement == Placement::Alone {
            1
        } else {
            slots
        };
        assert!(
            peak.load(Ordering::SeqCst) <= limit,
            "slots {slots} {placement:?}"
        );
    }
}

#[test]
fn scheduler_stops_starting_units_after_an_error_and_reports_panics() {
    let units: Vec<Unit> = (0..6).map(|f| unit(f, 0)).collect();
    let started = AtomicUsize::new(0);
    let err = run_units(&units, 1, &|_| Placement::Concurrent, &|u: &Unit, _| {
        started.fetch_add(1, Ordering::SeqCst);
        if u.fold == 1 {
            return Err(ExperimentError::EmptySplit {
                fold: u.fold,
                role: "test",
            });
        }
        Ok(())
    })
    .unwrap_err();
    assert!(matches!(err, ExperimentError::EmptySplit { fold: 1, .. }));
    assert_eq!(started.load(Ordering::SeqCst), 2);

    let err = run_units(
        &units[..2],
        2,
        &|_| Placement::Concurrent,
        &|u: &Unit, _| {
            if u.fold == 0 {
                panic!("boom in unit");
            }
            Ok(())
        },
    )
    .unwrap_err();
    match err {
        ExperimentError::WorkerPanic { unit, message } => {
            assert!(
                unit.contains("fold 1") && message.contains("boom"),
                "{unit}: {message}"
            );
        }
        other => panic!("expected WorkerPanic, got {other}"),
    }
}
