//! End to end across crates: WAV bytes → MFCC ("paper" preset) → z-scored → LSTM classifier →
//! probabilities, one clip at a time, as `ser predict` does. Throughput in clips.
//!
//! The clip is a synthetic 3.5 s, 48 kHz, 16-bit tone with a vibrato and noise (RAVDESS clips are
//! 2.9–5.3 s), built in memory so the benchmark needs no data.

use std::hint::black_box;
use std::io::Cursor;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ser_dsp::{decode_wav, MfccConfig, MfccExtractor};
use ser_nn::{Classifier, ClassifierConfig, Head, PackedBatch};

const SAMPLE_RATE: u32 = 48_000;
const SECONDS: f64 = 3.5;

/// A 16-bit mono WAV file in memory.
fn synthetic_wav() -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut bytes = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut bytes, spec).expect("in-memory WAV header");
    let n = (SECONDS * SAMPLE_RATE as f64) as usize;
    let mut lcg: u32 = 12_345;
    for i in 0..n {
        let t = i as f64 / SAMPLE_RATE as f64;
        let pitch = 180.0 + 20.0 * (2.0 * std::f64::consts::PI * 5.0 * t).sin();
        lcg = lcg.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = (lcg >> 8) as f64 / (1u32 << 24) as f64 - 0.5;
        let x = 0.3 * (2.0 * std::f64::consts::PI * pitch * t).sin() + 0.02 * noise;
        writer
            .write_sample((x * 32_767.0) as i16)
            .expect("in-memory WAV sample");
    }
    writer.finalize().expect("in-memory WAV finalize");
    bytes.into_inner()
}

fn clip_to_emotion(c: &mut Criterion) {
    let wav = synthetic_wav();
    let config = MfccConfig::paper();
    let mut group = c.benchmark_group("clip_to_emotion");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    for (layers, hidden) in [(1, 32), (3, 128)] {
        let mut model =
            Classifier::<f32>::new(ClassifierConfig::paper(hidden, layers, Head::Last), 0);
        let mut extractor =
            MfccExtractor::new(&config, SAMPLE_RATE).expect("paper preset at 48 kHz");
        let id = format!("paper_L{layers}h{hidden}_3.5s");
        group.bench_function(id, |b| {
            b.iter(|| {
                let audio = decode_wav(black_box(&wav), Path::new("bench.wav")).expect("valid WAV");
                let mut features = extractor.compute(&audio.samples).expect("long enough");
                // Stand-in normalisation: the same arithmetic as a model's stored z-score.
                for v in &mut features.data {
                    *v = (*v + 200.0) / 100.0;
                }
                let batch = PackedBatch::from_sequences(&[&features.data], features.n_coeffs);
                black_box(model.predict_proba(&batch))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, clip_to_emotion);
criterion_main!(benches);
