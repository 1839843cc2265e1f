//! Bit-identical training: the same seed and config give the same parameters, logits, predictions and
//! losses inside rayon pools of 1 and 2 threads, and across reruns in one process.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ser_experiment::cells::Cell;
use ser_experiment::config::TrainingConfig;
use ser_experiment::seeds::unit_seed;
use ser_experiment::train::{eval_batches, train_model, Split, UnitData, UnitId};

const INPUT: usize = 13;

/// Noise clips of 2..9 frames with a class offset on coefficient `label`.
fn split(n: usize, rng: &mut ChaCha8Rng) -> Split {
    let mut s = Split::default();
    for i in 0..n {
        let label = i % 8;
        let frames = rng.gen_range(2..9);
        let mut x: Vec<f32> = (0..frames * INPUT)
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        for t in 0..frames {
            x[t * INPUT + label] += 1.5;
        }
        s.inputs.push(x);
        s.labels.push(label);
    }
    s
}

fn data() -> UnitData {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    UnitData {
        input_size: INPUT,
        train: split(48, &mut rng),
        validation: split(16, &mut rng),
        test: split(16, &mut rng),
    }
}

/// Everything a run produces, as bits.
#[derive(Debug, PartialEq, Eq)]
struct Fingerprint {
    params: Vec<u32>,
    test_logits: Vec<u32>,
    test_predictions: Vec<usize>,
    losses: Vec<u64>,
    val_uars: Vec<u64>,
}

fn run(threads: usize) -> Fingerprint {
    let cell = Cell::parse("L2h32-concat").expect("cell");
    let id = UnitId {
        cell,
        fold: 0,
        seed: 3,
        unit_seed: unit_seed(3, &cell, 0),
    };
    let config = TrainingConfig {
        epochs: 2,
        batch_size: 8,
        learning_rate: 1e-2,
        ..TrainingConfig::default()
    };
    let data = data();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| {
        let (outcome, mut model) =
            train_model(&id, &data, &config, &mut |_, _, _| {}).expect("trains");
        let mut test_logits = Vec::new();
        for batch in eval_batches(&data.test, 5, INPUT) {
            test_logits.extend(model.logits(&batch).iter().map(|v| v.to_bits()));
        }
        Fingerprint {
            params: model.params().iter().map(|p| p.to_bits()).collect(),
            test_logits,
            test_predictions: outcome.test_predictions,
            losses: outcome
                .history
                .iter()
                .map(|h| h.train_loss.to_bits())
                .collect(),
            val_uars: outcome
                .history
                .iter()
                .map(|h| h.val_uar.to_bits())
                .collect(),
        }
    })
}

#[test]
fn one_and_two_threads_and_reruns_are_bit_identical() {
    let one = run(1);
    let two = run(2);
    let again = run(2);
    assert!(!one.params.is_empty() && !one.test_logits.is_empty());
    assert_eq!(
        one.params, two.params,
        "parameters differ between 1 and 2 threads"
    );
    assert_eq!(one, two, "1 vs 2 threads");
    assert_eq!(two, again, "rerun");
}
