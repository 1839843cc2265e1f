//! The recurrent-step product alone, `C[m×n] += A[m×k] · B[k×n]` against packed panels, on the shapes one
//! thread meets per time step (m = 16 active rows of a batch chunk). Throughput in FLOP (2·m·k·n).

mod common;

use common::criterion;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lstm_core::kernels::step_gemm::{matmul_f32, PackedPanels};
use std::hint::black_box;

fn step_gemm(c: &mut Criterion) {
    let mut group = c.benchmark_group("step_gemm");
    let m = 16;
    for hidden in [32, 64, 128] {
        // forward: h·W_hhᵀ [m×H]·[H×4H]; backward: dG·W_hh [m×4H]·[4H×H]
        for (name, k, n) in [
            ("forward", hidden, 4 * hidden),
            ("backward", 4 * hidden, hidden),
        ] {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 31 % 17) as f32 - 8.0) / 8.0)
                .collect();
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 7 % 23) as f32 - 11.0) / 11.0)
                .collect();
            let mut packed = PackedPanels::default();
            packed.pack(k, n, &w, n, 1);
            let mut out = vec![0.0f32; m * n];
            group.throughput(Throughput::Elements((2 * m * k * n) as u64));
            group.bench_function(format!("{name}_h{hidden}_m{m}"), |b| {
                b.iter(|| {
                    matmul_f32(m, &a, k, &packed, &mut out, n, false);
                    black_box(&out);
                })
            });
        }
    }
    group.finish();
}

criterion_group! { name = benches; config = criterion(); targets = step_gemm }
criterion_main!(benches);
