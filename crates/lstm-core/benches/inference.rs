//! Inference (forward only, final states) for the nine Table-1 shapes, batch 32, 100 and 300 frames.
//! Throughput in frames.

mod common;

use common::{batch, criterion, params, shapes, BATCH, FRAMES, INPUT};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lstm_core::{ForwardOptions, Lstm, LstmConfig};

fn inference(c: &mut Criterion) {
    let mut group = c.benchmark_group("inference");
    for frames in FRAMES {
        let x = batch(frames);
        for (layers, hidden) in shapes() {
            let config = LstmConfig::new(INPUT, hidden, layers);
            let p = params(&config);
            let mut lstm = Lstm::<f32>::new(config);
            group.throughput(Throughput::Elements((BATCH * frames) as u64));
            group.bench_function(format!("L{layers}h{hidden}_b{BATCH}_t{frames}"), |b| {
                b.iter(|| {
                    lstm.forward(
                        &p,
                        &x,
                        ForwardOptions {
                            keep_outputs: false,
                            train_seed: None,
                        },
                    )
                })
            });
        }
    }
    group.finish();
}

criterion_group! { name = benches; config = criterion(); targets = inference }
criterion_main!(benches);
