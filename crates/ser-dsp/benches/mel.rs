//! Sparse mel filterbank application and dB conversion per frame; throughput in frames.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ser_dsp::db::PowerToDb;
use ser_dsp::mel::{MelFilterbank, MelParams};
use ser_dsp::{MelNorm, MelScale};

const FRAMES: usize = 100;

fn bench_mel(c: &mut Criterion) {
    let mut group = c.benchmark_group("mel");
    for (label, n_fft, n_mels) in [("paper", 4096usize, 128usize), ("25ms", 2048, 40)] {
        let bank = MelFilterbank::new(&MelParams {
            sample_rate: 48_000,
            n_fft,
            n_mels,
            fmin: 0.0,
            fmax: 24_000.0,
            scale: MelScale::Slaney,
            norm: MelNorm::Slaney,
        });
        let n_bins = bank.n_bins();
        let power: Vec<f32> = (0..FRAMES * n_bins)
            .map(|i| 1.0 + (i % 97) as f32)
            .collect();
        let mut out = vec![0.0f32; FRAMES * n_mels];
        let db = PowerToDb::default();
        group.throughput(Throughput::Elements(FRAMES as u64));
        let shape = format!("bins{n_bins}_mels{n_mels}_frames{FRAMES}");
        group.bench_function(
            BenchmarkId::new(format!("{label}/filterbank"), &shape),
            |b| {
                b.iter(|| {
                    for (p, o) in power.chunks_exact(n_bins).zip(out.chunks_exact_mut(n_mels)) {
                        bank.apply(p, o);
                    }
                    out[0]
                })
            },
        );
        group.bench_function(
            BenchmarkId::new(format!("{label}/power_to_db"), &shape),
            |b| {
                b.iter(|| {
                    let mut x = out.clone();
                    db.to_db(&mut x);
                    db.clip(&mut x);
                    x[0]
                })
            },
        );
    }
    group.finish();
}

criterion_group!(benches, bench_mel);
criterion_main!(benches);
