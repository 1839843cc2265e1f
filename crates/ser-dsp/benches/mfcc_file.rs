//! Whole-clip MFCC (4 s at 48 kHz, a typical RAVDESS clip), from samples and from WAV bytes
//! (decoding included); throughput in frames.

mod common;

use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ser_dsp::{decode_wav, MfccConfig, MfccExtractor};

fn wav_bytes(samples: &[f32], sr: u32) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: sr,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for &x in samples {
        w.write_sample((x * 32767.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    cursor.into_inner()
}

fn bench_mfcc(c: &mut Criterion) {
    let sr = 48_000;
    let signal = common::test_signal(sr, 4.0);
    let bytes = wav_bytes(&signal, sr);
    let mut group = c.benchmark_group("mfcc_file");
    for preset in MfccConfig::preset_names() {
        let config = MfccConfig::from_preset(preset).unwrap();
        let mut ex = MfccExtractor::new(&config, sr).unwrap();
        let n_frames = ex.compute(&signal).unwrap().n_frames;
        group.throughput(Throughput::Elements(n_frames as u64));
        let shape = format!("sr{sr}_4s_frames{n_frames}");
        group.bench_function(BenchmarkId::new(format!("{preset}/samples"), &shape), |b| {
            b.iter(|| ex.compute(&signal).unwrap().n_frames)
        });
        group.bench_function(BenchmarkId::new(format!("{preset}/wav16"), &shape), |b| {
            b.iter(|| {
                let audio = decode_wav(&bytes, Path::new("bench.wav")).unwrap();
                ex.compute(&audio.samples).unwrap().n_frames
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_mfcc);
criterion_main!(benches);
