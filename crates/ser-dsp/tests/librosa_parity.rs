//! Parity with librosa 0.11 (fixtures from fixtures/mfcc/make_fixtures.py): every MFCC
//! coefficient of every frame within 2e-3, filterbanks, frame counts, intermediate stages.

mod common;

use std::path::Path;

use common::{dense_filterbank, max_abs_diff, ravdess_dir, signals, transpose, Fixture};
use ser_dsp::mel::{MelFilterbank, MelParams};
use ser_dsp::stft::Framing;
use ser_dsp::{decode_wav, MelNorm, MelScale, MfccConfig, MfccExtractor};

const MFCC_TOL: f32 = 2e-3;

/// Compares our `[T, C]` MFCC with librosa's `[C, T]`.
fn assert_mfcc_close(what: &str, ours: &ser_dsp::Features, shape: &[usize], theirs: &[f32]) {
    assert_eq!(
        (ours.n_coeffs, ours.n_frames),
        (shape[0], shape[1]),
        "{what}: shape [C, T]"
    );
    let expected = transpose(shape, theirs);
    let (d, i) = max_abs_diff(&ours.data, &expected);
    eprintln!("{what}: max |diff| {d:.2e}");
    assert!(
        d <= MFCC_TOL,
        "{what}: max |diff| {d} at frame {} coeff {} (ours {}, librosa {})",
        i / ours.n_coeffs,
        i % ours.n_coeffs,
        ours.data[i],
        expected[i]
    );
}

#[test]
fn synthetic_mfcc_matches_librosa_for_both_presets() {
    let fx = Fixture::load("synthetic.safetensors");
    let sigs = signals(&fx);
    assert!(sigs.len() >= 6);
    for sig in &sigs {
        let mono = sig.render_mono();
        for preset in MfccConfig::preset_names() {
            let config = MfccConfig::from_preset(preset).unwrap();
            let ours = MfccExtractor::new(&config, sig.sr)
                .unwrap()
                .compute(&mono)
                .unwrap();
            let (shape, theirs) = fx.f32(&format!("{}/{preset}/mfcc", sig.name));
            let n_frames = fx.i64(&format!("{}/{preset}/n_frames", sig.name))[0] as usize;
            assert_eq!(
                ours.n_frames, n_frames,
                "{} {preset}: frame count",
                sig.name
            );
            assert_mfcc_close(&format!("{} {preset}", sig.name), &ours, &shape, &theirs);
        }
    }
}

/// The multi-channel signals also go through a WAV file (f32, interleaved) and the decoder.
#[test]
fn synthetic_stereo_through_wav_matches_librosa() {
    let fx = Fixture::load("synthetic.safetensors");
    let dir = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for sig in signals(&fx).iter().filter(|s| s.channels.len() > 1) {
        let channels = sig.render_channels();
        let path = dir.path().join(format!("{}.wav", sig.name));
        let spec = hound::WavSpec {
            channels: channels.len() as u16,
            sample_rate: sig.sr,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for i in 0..sig.n {
            for c in &channels {
                w.write_sample(c[i]).unwrap();
            }
        }
        w.finalize().unwrap();
        let audio = decode_wav(&std::fs::read(&path).unwrap(), &path).unwrap();
        assert_eq!(audio.samples, sig.render_mono(), "channel averaging");
        for preset in MfccConfig::preset_names() {
            let config = MfccConfig::from_preset(preset).unwrap();
            let ours = ser_dsp::extract_file(&path, &config).unwrap();
            let (shape, theirs) = fx.f32(&format!("{}/{preset}/mfcc", sig.name));
            assert_mfcc_close(
                &format!("{} {preset} via WAV", sig.name),
                &ours,
                &shape,
                &theirs,
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no multi-channel signal in the fixture");
}

#[test]
fn filterbanks_match_librosa() {
    let fx = Fixture::load("filterbanks.safetensors");
    let specs: Vec<serde_json::Value> = serde_json::from_str(&fx.metadata("filterbanks")).unwrap();
    assert!(specs.len() >= 10);
    for s in &specs {
        let name = s["name"].as_str().unwrap();
        let sr = s["sr"].as_u64().unwrap() as u32;
        let params = MelParams {
            sample_rate: sr,
            n_fft: s["n_fft"].as_u64().unwrap() as usize,
            n_mels: s["n_mels"].as_u64().unwrap() as usize,
            fmin: s["fmin"].as_f64().unwrap(),
            fmax: s["fmax"].as_f64().unwrap_or(f64::from(sr) / 2.0),
            scale: if s["htk"].as_bool().unwrap() {
                MelScale::Htk
            } else {
                MelScale::Slaney
            },
            norm: if s["norm"].is_null() {
                MelNorm::None
            } else {
                MelNorm::Slaney
            },
        };
        let ours = MelFilterbank::new(&params);
        let (rows, cols, theirs) = dense_filterbank(&fx, name);
        assert_eq!(
            (ours.n_mels(), ours.n_bins()),
            (rows, cols),
            "{name}: shape"
        );
        let dense = ours.dense();
        let peak = theirs.iter().copied().fold(0.0f32, f32::max);
        for (i, (a, b)) in dense.iter().zip(&theirs).enumerate() {
            // Same f64 formula, rounded to f32 twice as librosa does: a few ulps at most.
            assert!(
                (a - b).abs() <= 4.0 * f32::EPSILON * peak,
                "{name}: W[{}, {}] ours {a} librosa {b}",
                i / cols,
                i % cols
            );
            // Zeros must be exactly where librosa has them.
            assert_eq!(
                *a == 0.0,
                *b == 0.0,
                "{name}: support differs at W[{}, {}]",
                i / cols,
                i % cols
            );
        }
    }
}

#[test]
fn frame_counts_match_librosa() {
    let fx = Fixture::load("stages.safetensors");
    let lengths = fx.i64("frames/lengths");
    for preset in MfccConfig::preset_names() {
        let config = MfccConfig::from_preset(preset).unwrap();
        for sr in [16000u32, 48000] {
            let expected = fx.i64(&format!("frames/{preset}/{sr}"));
            let r = config.resolve(sr).unwrap();
            let framing = Framing {
                n_fft: r.n_fft,
                hop_length: r.hop_length,
                center: config.center,
            };
            for (&len, &want) in lengths.iter().zip(&expected) {
                let got = framing.n_frames(len as usize).map_or(-1, |n| n as i64);
                assert_eq!(got, want, "{preset} at {sr} Hz, {len} samples");
            }
        }
    }
}

#[test]
fn intermediate_stages_match_librosa() {
    let fx = Fixture::load("stages.safetensors");
    let syn = Fixture::load("synthetic.safetensors");
    let name = fx.metadata("stage_signal");
    let sig = signals(&syn).into_iter().find(|s| s.name == name).unwrap();
    let mono = sig.render_mono();
    for preset in MfccConfig::preset_names() {
        let config = MfccConfig::from_preset(preset).unwrap();
        let mut ex = MfccExtractor::new(&config, sig.sr).unwrap();

        // Power spectrogram (first frames): f32 FFT against librosa's f64 FFT rounded to f32,
        // so the error scales with the frame's peak power.
        let (pshape, ptheirs) = fx.f32(&format!("{name}/{preset}/power"));
        let (n_bins, n_cmp) = (pshape[0], pshape[1]);
        let power = ex.plan().stft().power_spectrogram(&mono).unwrap();
        for t in 0..n_cmp {
            let ours = &power[t * n_bins..(t + 1) * n_bins];
            let peak = (0..n_bins)
                .map(|k| ptheirs[k * n_cmp + t])
                .fold(0.0f32, f32::max);
            for k in 0..n_bins {
                let theirs = ptheirs[k * n_cmp + t];
                let tol = 1e-5 * peak + 1e-4 * theirs.abs();
                assert!(
                    (ours[k] - theirs).abs() <= tol,
                    "{preset}: power[t={t}, k={k}] ours {} librosa {theirs} (peak {peak})",
                    ours[k]
                );
            }
        }

        // Clipped mel dB, every frame.
        let (dshape, dtheirs) = fx.f32(&format!("{name}/{preset}/mel_db"));
        let (n_frames, db) = ex.mel_db(&mono).unwrap();
        assert_eq!((n_frames, config.n_mels), (dshape[1], dshape[0]));
        let (d, i) = max_abs_diff(db, &transpose(&dshape, &dtheirs));
        assert!(d <= 1e-3, "{preset}: mel dB max |diff| {d} at {i}");
    }
}

#[test]
fn ravdess_mfcc_matches_librosa() {
    let Some(dir) = ravdess_dir("ravdess_mfcc_matches_librosa") else {
        return;
    };
    let fx = Fixture::load("ravdess.safetensors");
    let files: Vec<String> = serde_json::from_str(&fx.metadata("files")).unwrap();
    assert_eq!(files.len(), 3);
    for (i, rel) in files.iter().enumerate() {
        let path = dir.join(Path::new(rel));
        if !path.is_file() {
            eprintln!(
                "ravdess_mfcc_matches_librosa: {} absent; skipping it",
                path.display()
            );
            continue;
        }
        for preset in MfccConfig::preset_names() {
            let config = MfccConfig::from_preset(preset).unwrap();
            let ours = ser_dsp::extract_file(&path, &config).unwrap();
            let (shape, theirs) = fx.f32(&format!("file{i}/{preset}/mfcc"));
            assert_mfcc_close(&format!("{rel} {preset}"), &ours, &shape, &theirs);
        }
    }
}
