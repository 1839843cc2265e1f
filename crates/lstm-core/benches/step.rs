//! One inference step of one 16-sequence chunk, in parts and whole: the recurrent product
//! `G += h·W_hhᵀ` ([16×H]·[H×4H] on the selected product kernel), the fused gate pass of 16 rows, and the
//! two one after the other as the forward pass runs them. The whole step against the sum of its parts
//! shows what the two kernels cost each other (on AMX, the tile unit and 512-bit vector code slow each
//! other down). Time per step.

mod common;

use common::criterion;
use criterion::{criterion_group, criterion_main, Criterion};
use lstm_core::aligned::AlignedBuf;
use lstm_core::kernels::gates_wide;
use lstm_core::kernels::step_gemm::{matmul_f32, PackedPanels};
use std::hint::black_box;

fn step(c: &mut Criterion) {
    let rows = 16;
    let mut group = c.benchmark_group("step");
    let kernel = gates_wide::kernel().expect("f32 has a wide kernel");
    for hidden in [32, 64, 128] {
        let h: Vec<f32> = (0..rows * hidden)
            .map(|i| ((i * 31 % 17) as f32 - 8.0) / 9.0)
            .collect();
        let w: Vec<f32> = (0..hidden * 4 * hidden)
            .map(|i| ((i * 7 % 23) as f32 - 11.0) / (11.0 * hidden as f32).sqrt())
            .collect();
        let mut packed = PackedPanels::default();
        packed.pack(hidden, 4 * hidden, &w, 1, hidden); // B = W_hhᵀ, W_hh [4H×H]
        let projected: Vec<f32> = (0..rows * 4 * hidden)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 40.0)
            .collect();
        let bias = vec![0.1f32; 4 * hidden];
        let c_prev: Vec<f32> = (0..rows * hidden)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 7.0)
            .collect();
        let (mut cs, mut hs) = (vec![0.0f32; rows * hidden], vec![0.0f32; rows * hidden]);
        // Aligned like the forward pass's gate buffer (`AlignedBuf`), so the AMX kernel's C tiles do
        // not straddle cache lines.
        let mut g = AlignedBuf::default();
        g.fit(projected.len());
        // One step, with or without each part: G = projected; G += h·W_hhᵀ; gate pass over G.
        let mut run = |product: bool, gates: bool| {
            g.copy_from_slice(&projected);
            if product {
                matmul_f32(rows, &h, hidden, &packed, &mut g, 4 * hidden, false);
            }
            if gates {
                let c_prev = Some(c_prev.as_slice());
                kernel.forward(rows, hidden, &bias, &mut g, c_prev, &mut cs, &mut hs, None);
            }
            black_box((&g, &hs));
        };
        for (name, product, gates) in [
            ("product", true, false),
            ("gates", false, true),
            ("product_then_gates", true, true),
        ] {
            group.bench_function(format!("{name}_h{hidden}_m{rows}"), |b| {
                b.iter(|| run(product, gates))
            });
        }
    }
    group.finish();
}

criterion_group! { name = benches; config = criterion(); targets = step }
criterion_main!(benches);
