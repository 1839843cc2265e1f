//! Truncated orthonormal DCT-II per frame; throughput in frames.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ser_dsp::dct::Dct2;

const FRAMES: usize = 100;

fn bench_dct(c: &mut Criterion) {
    let mut group = c.benchmark_group("dct2");
    for (n_in, n_out) in [(128usize, 34usize), (40, 34)] {
        let dct = Dct2::new(n_in, n_out, 0.0);
        let x: Vec<f32> = (0..FRAMES * n_in).map(|i| -((i % 61) as f32)).collect();
        let mut out = vec![0.0f32; FRAMES * n_out];
        group.throughput(Throughput::Elements(FRAMES as u64));
        group.bench_function(
            BenchmarkId::from_parameter(format!("in{n_in}_out{n_out}_frames{FRAMES}")),
            |b| {
                b.iter(|| {
                    for (src, dst) in x.chunks_exact(n_in).zip(out.chunks_exact_mut(n_out)) {
                        dct.apply(src, dst);
                    }
                    out[0]
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_dct);
criterion_main!(benches);
