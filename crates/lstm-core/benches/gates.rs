//! The fused gate passes alone, scalar against wide, on one step of 32 rows. Throughput in rows.

mod common;

use common::criterion;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lstm_core::kernels::{gates_wide, GateKernel};
use std::hint::black_box;

fn gates(c: &mut Criterion) {
    let rows = 32;
    let mut group = c.benchmark_group("gates");
    for hidden in [32, 64, 128] {
        let bias = vec![0.1f32; 4 * hidden];
        let pre: Vec<f32> = (0..rows * 4 * hidden)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 20.0)
            .collect();
        let c_prev: Vec<f32> = (0..rows * hidden)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 7.0)
            .collect();
        let (mut cs, mut hs) = (vec![0.0f32; rows * hidden], vec![0.0f32; rows * hidden]);
        let mut tanh_c = vec![0.0f32; rows * hidden];
        group.throughput(Throughput::Elements(rows as u64));
        let kernels = [
            ("scalar", GateKernel::<f32>::scalar()),
            ("wide", gates_wide::kernel().expect("f32 has a wide kernel")),
        ];
        for (name, k) in kernels {
            let mut g = pre.clone();
            group.bench_function(format!("forward_{name}_h{hidden}_b{rows}"), |b| {
                b.iter(|| {
                    g.copy_from_slice(&pre);
                    k.forward(
                        rows,
                        hidden,
                        &bias,
                        &mut g,
                        Some(&c_prev),
                        &mut cs,
                        &mut hs,
                        Some(&mut tanh_c),
                    );
                    black_box(&hs);
                })
            });
            let dh = vec![0.01f32; rows * hidden];
            let mut dc = vec![0.0f32; rows * hidden];
            group.bench_function(format!("backward_{name}_h{hidden}_b{rows}"), |b| {
                b.iter(|| {
                    g.copy_from_slice(&pre);
                    k.backward(
                        rows,
                        hidden,
                        &mut g,
                        Some(&c_prev),
                        &tanh_c,
                        None,
                        &dh,
                        &mut dc,
                    );
                    black_box(&dc);
                })
            });
        }
    }
    group.finish();
}

criterion_group! { name = benches; config = criterion(); targets = gates }
criterion_main!(benches);
