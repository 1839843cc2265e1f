//! One training step of the paper's classifier (forward + backward + Adam), and Adam alone, in f32.
//! Throughput is in frames (Σ lengths of the batch) for the step, in parameters for Adam.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use ser_nn::{Adam, AdamConfig, Classifier, ClassifierConfig, Head, PackedBatch};

/// `batch` clips of 34 features with lengths spread over `[3/4·max_len, max_len]` (RAVDESS-like).
fn batch(batch: usize, max_len: usize, seed: u64) -> PackedBatch<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let seqs: Vec<Vec<f32>> = (0..batch)
        .map(|_| {
            let len = rng.gen_range(max_len * 3 / 4..=max_len);
            (0..len * 34).map(|_| rng.gen_range(-2.0..2.0)).collect()
        })
        .collect();
    let refs: Vec<&[f32]> = seqs.iter().map(|s| s.as_slice()).collect();
    PackedBatch::from_sequences(&refs, 34)
}

fn train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step");
    group.sample_size(10);
    for (layers, hidden, head) in [(1, 32, Head::Last), (3, 128, Head::Concat)] {
        let (b, t) = (32, 100);
        let data = batch(b, t, 1);
        let labels: Vec<usize> = (0..b).map(|i| i % 8).collect();
        let mut model = Classifier::<f32>::new(ClassifierConfig::paper(hidden, layers, head), 0);
        let mut adam = Adam::new(AdamConfig::default(), model.num_params());
        let mut grads = vec![0.0f32; model.num_params()];
        let id = format!("L{layers}h{hidden}_{head:?}_b{b}_t{t}").to_lowercase();
        group.throughput(Throughput::Elements(data.total_frames() as u64));
        let mut seed = 0u64;
        group.bench_function(BenchmarkId::from_parameter(id), |bench| {
            bench.iter(|| {
                seed += 1;
                let loss = model.forward_backward(&data, &labels, seed, &mut grads);
                adam.step(model.params_mut(), &grads);
                loss
            })
        });
    }
    group.finish();
}

fn adam_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("adam_step");
    let n = ClassifierConfig::paper(128, 3, Head::Concat).num_params();
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut params: Vec<f32> = (0..n).map(|_| rng.gen_range(-0.1..0.1)).collect();
    let grads: Vec<f32> = (0..n).map(|_| rng.gen_range(-0.01..0.01)).collect();
    let mut adam = Adam::new(AdamConfig::default(), n);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function(BenchmarkId::from_parameter(format!("p{n}")), |bench| {
        bench.iter(|| adam.step(&mut params, &grads))
    });
    group.finish();
}

criterion_group!(benches, train_step, adam_step);
criterion_main!(benches);
