//! Power STFT per frame, both presets' framing at 48 kHz; throughput in frames.

mod common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ser_dsp::stft::{Framing, PowerStft};
use ser_dsp::WindowKind;

fn bench_stft(c: &mut Criterion) {
    let signal = common::test_signal(48_000, 4.0);
    let mut group = c.benchmark_group("stft_power");
    for (label, n_fft, win, hop, center) in [
        ("paper", 4096, 4096, 2048, true),
        ("25ms", 2048, 1200, 480, false),
    ] {
        let stft = PowerStft::new(
            Framing {
                n_fft,
                hop_length: hop,
                center,
            },
            win,
            WindowKind::Hann,
        );
        let n_frames = stft.framing().n_frames(signal.len()).unwrap();
        let mut scratch = stft.make_scratch();
        let mut power = vec![0.0f32; stft.n_bins()];
        group.throughput(Throughput::Elements(n_frames as u64));
        let id = BenchmarkId::new(
            label,
            format!("nfft{n_fft}_win{win}_hop{hop}_frames{n_frames}"),
        );
        group.bench_function(id, |b| {
            b.iter(|| {
                for t in 0..n_frames {
                    stft.frame_power(&signal, t, &mut scratch, &mut power);
                }
                power[1]
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_stft);
criterion_main!(benches);
