//! One training step (forward in training mode + BPTT with a gradient on the last layer's h_n) for the
//! nine Table-1 shapes, batch 32, 100 and 300 frames. Throughput in frames.

mod common;

use common::{batch, criterion, params, shapes, BATCH, FRAMES, INPUT};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lstm_core::{ForwardOptions, Lstm, LstmConfig, LstmGradients};

fn train_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("train_step");
    for frames in FRAMES {
        let x = batch(frames);
        for (layers, hidden) in shapes() {
            let config = LstmConfig::new(INPUT, hidden, layers);
            let p = params(&config);
            let mut lstm = Lstm::<f32>::new(config);
            let mut grad = vec![0.0f32; p.len()];
            let g_h = vec![0.01f32; layers * BATCH * hidden];
            group.throughput(Throughput::Elements((BATCH * frames) as u64));
            group.bench_function(format!("L{layers}h{hidden}_b{BATCH}_t{frames}"), |b| {
                b.iter(|| {
                    lstm.forward(
                        &p,
                        &x,
                        ForwardOptions {
                            keep_outputs: false,
                            train_seed: Some(1),
                        },
                    );
                    lstm.backward(
                        &p,
                        &x,
                        LstmGradients {
                            h_n: Some(&g_h),
                            c_n: None,
                            outputs: None,
                        },
                        &mut grad,
                        None,
                    );
                })
            });
        }
    }
    group.finish();
}

criterion_group! { name = benches; config = criterion(); targets = train_step }
criterion_main!(benches);
