//! Invariants of the deltas and the chroma, the short-clip policy, and the configuration fields
//! that switch them on (validation, JSON compatibility).

use proptest::prelude::*;
use ser_dsp::chroma::{normalize_max, ChromaFilterbank, N_CHROMA};
use ser_dsp::deltas::{delta, delta_into, effective_width, savgol_taps, DELTA_WIDTH};
use ser_dsp::{DspError, MfccConfig, MfccExtractor};

fn lcg_signal(seed: u32, n: usize, amp: f32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            amp * ((s >> 8) as f32 / 16_777_216.0 * 2.0 - 1.0)
        })
        .collect()
}

/// `[n_frames, n_coeffs]` with `x[t, j] = a_j + b_j·t + q_j·t²`.
fn polynomial(n_frames: usize, a: &[f32], b: &[f32], q: &[f32]) -> Vec<f32> {
    (0..n_frames)
        .flat_map(|t| {
            let t = t as f64;
            (0..a.len()).map(move |j| {
                (f64::from(a[j]) + f64::from(b[j]) * t + f64::from(q[j]) * t * t) as f32
            })
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Both derivatives of a signal constant in time are 0 at every frame, edges included.
    #[test]
    fn deltas_of_a_constant_are_zero(
        n_frames in 1usize..40,
        values in prop::collection::vec(-500.0f32..500.0, 1..12),
        order in 1usize..=2,
    ) {
        let a = values;
        let zeros = vec![0.0; a.len()];
        let x = polynomial(n_frames, &a, &zeros, &zeros);
        let d = delta(&x, a.len(), order, DELTA_WIDTH);
        let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1.0);
        for (i, &v) in d.iter().enumerate() {
            prop_assert!(v.abs() <= 1e-6 * scale, "order {order} T {n_frames}: d[{i}] = {v}");
        }
    }

    /// The first delta of a linear ramp is its slope at every frame, edges included (interp
    /// mode), and its second delta is 0; for T < 3 both are 0 by policy.
    #[test]
    fn delta_of_a_ramp_is_its_slope(
        n_frames in 1usize..40,
        ab in prop::collection::vec((-50.0f32..50.0, -5.0f32..5.0), 1..12),
    ) {
        let (a, b): (Vec<f32>, Vec<f32>) = ab.into_iter().unzip();
        let n = a.len();
        let x = polynomial(n_frames, &a, &b, &vec![0.0; n]);
        let d1 = delta(&x, n, 1, DELTA_WIDTH);
        let d2 = delta(&x, n, 2, DELTA_WIDTH);
        for t in 0..n_frames {
            for j in 0..n {
                let tol = 1e-5 * (a[j].abs() + b[j].abs() * n_frames as f32 + 1.0);
                let slope = if n_frames >= 3 { b[j] } else { 0.0 };
                prop_assert!((d1[t * n + j] - slope).abs() <= tol,
                    "T {n_frames}: delta[{t}, {j}] = {} vs slope {slope}", d1[t * n + j]);
                prop_assert!(d2[t * n + j].abs() <= tol,
                    "T {n_frames}: delta2[{t}, {j}] = {}", d2[t * n + j]);
            }
        }
    }

    /// The second delta of a parabola `q·t²` is `2q` at every frame, edges included.
    #[test]
    fn second_delta_of_a_parabola_is_twice_its_curvature(
        n_frames in 3usize..40,
        q in prop::collection::vec(-2.0f32..2.0, 1..6),
    ) {
        let n = q.len();
        let zeros = vec![0.0; n];
        let x = polynomial(n_frames, &zeros, &zeros, &q);
        let d2 = delta(&x, n, 2, DELTA_WIDTH);
        for t in 0..n_frames {
            for j in 0..n {
                let tol = 1e-4 * (q[j].abs() * (n_frames * n_frames) as f32 + 1.0);
                prop_assert!((d2[t * n + j] - 2.0 * q[j]).abs() <= tol,
                    "T {n_frames}: delta2[{t}, {j}] = {} vs {}", d2[t * n + j], 2.0 * q[j]);
            }
        }
    }

    /// Writing into a column block of a wider, NaN-filled matrix touches exactly that block and
    /// gives the same values as the contiguous output.
    #[test]
    fn strided_output_touches_only_its_block(
        n_frames in 1usize..30, n in 1usize..8, extra in 0usize..5, offset in 0usize..4, seed: u32,
    ) {
        let x = lcg_signal(seed, n_frames * n, 10.0);
        let stride = n + extra + offset;
        for order in 1..=2 {
            let mut out = vec![f32::NAN; n_frames * stride];
            delta_into(&x, n, order, DELTA_WIDTH, &mut out[offset..], stride);
            let want = delta(&x, n, order, DELTA_WIDTH);
            for t in 0..n_frames {
                for c in 0..stride {
                    let v = out[t * stride + c];
                    if (offset..offset + n).contains(&c) {
                        prop_assert_eq!(v, want[t * n + c - offset]);
                    } else {
                        prop_assert!(v.is_nan(), "stray write at [{t}, {c}]");
                    }
                }
            }
        }
    }

    /// Chroma values lie in [0, 1] and every non-silent frame has maximum exactly 1.
    #[test]
    fn chroma_is_max_normalised(seed: u32, len in 4096usize..20_000, amp in 1e-3f32..1.0, paper: bool) {
        let base = if paper { MfccConfig::paper() } else { MfccConfig::preset_25ms() };
        let config = MfccConfig { chroma: true, ..base };
        let x = lcg_signal(seed, len, amp);
        let f = MfccExtractor::new(&config, 16_000).unwrap().compute(&x).unwrap();
        let n = config.n_mfcc();
        for t in 0..f.n_frames {
            let c = &f.frame(t)[n..n + N_CHROMA];
            prop_assert!(c.iter().all(|v| (0.0..=1.0).contains(v)), "frame {t}: {c:?}");
            prop_assert_eq!(c.iter().copied().fold(0.0f32, f32::max), 1.0, "frame {}", t);
        }
    }

    /// The chroma filterbank is `[12, n_fft/2 + 1]`, finite and non-negative, and every column
    /// has an L2 norm in (0, 1] (unit before the octave weighting, which is ≤ 1).
    #[test]
    fn chroma_filterbank_shape(sr in 4000u32..96_000, n_fft in 2usize..4500, tuning in -0.5f64..0.5) {
        let fb = ChromaFilterbank::new(sr, n_fft, tuning);
        let n_bins = n_fft / 2 + 1;
        prop_assert_eq!(fb.n_bins(), n_bins);
        prop_assert_eq!(fb.dense().len(), N_CHROMA * n_bins);
        prop_assert!(fb.dense().iter().all(|w| w.is_finite() && *w >= 0.0));
        for k in 0..n_bins {
            let norm: f64 = (0..N_CHROMA)
                .map(|c| f64::from(fb.dense()[c * n_bins + k]).powi(2))
                .sum::<f64>()
                .sqrt();
            prop_assert!(norm > 0.0 && norm <= 1.0 + 1e-6, "column {k}: norm {norm}");
        }
    }
}

#[test]
fn short_clip_policy() {
    assert_eq!(effective_width(9, 0), None);
    assert_eq!(effective_width(9, 1), None);
    assert_eq!(effective_width(9, 2), None);
    assert_eq!(effective_width(9, 3), Some(3));
    assert_eq!(effective_width(9, 4), Some(3));
    assert_eq!(effective_width(9, 5), Some(5));
    assert_eq!(effective_width(9, 8), Some(7));
    assert_eq!(effective_width(9, 9), Some(9));
    assert_eq!(effective_width(9, 1000), Some(9));
    // 1 and 2 frames: zeros, whatever the data; no error, the width of the clip is kept.
    for n_frames in 1..=2 {
        let x = lcg_signal(7, n_frames * 5, 3.0);
        for order in 1..=2 {
            assert!(delta(&x, 5, order, DELTA_WIDTH).iter().all(|&v| v == 0.0));
        }
    }
    // A clip with a single frame (one sample, centred) gets zero deltas through the extractor.
    let config = MfccConfig {
        deltas: 2,
        chroma: true,
        ..MfccConfig::paper()
    };
    let f = MfccExtractor::new(&config, 16_000)
        .unwrap()
        .compute(&[0.5])
        .unwrap();
    assert_eq!((f.n_frames, f.n_coeffs), (1, 3 * 34 + 12));
    assert!(f.frame(0)[34..102].iter().all(|&v| v == 0.0));
}

#[test]
fn savgol_taps_are_the_least_squares_derivatives() {
    // Width 5: slope taps k/10, curvature taps 2(k² - 2)/14.
    let t1 = savgol_taps(1, 5);
    let t2 = savgol_taps(2, 5);
    for (i, k) in (-2i32..=2).enumerate() {
        assert!((t1[i] - f64::from(k) / 10.0).abs() < 1e-15);
        assert!((t2[i] - 2.0 * f64::from(k * k - 2) / 14.0).abs() < 1e-15);
    }
}

#[test]
fn silent_frames_give_zero_chroma() {
    let config = MfccConfig {
        chroma: true,
        ..MfccConfig::paper()
    };
    let f = MfccExtractor::new(&config, 16_000)
        .unwrap()
        .compute(&vec![0.0; 20_000])
        .unwrap();
    for t in 0..f.n_frames {
        assert!(f.frame(t)[34..].iter().all(|&v| v == 0.0), "frame {t}");
    }
    // Below the smallest normal f32 the frame is left as is (librosa's threshold = tiny).
    let mut tiny = [0.0f32; 12];
    tiny[3] = 1e-40;
    normalize_max(&mut tiny);
    assert_eq!(tiny[3], 1e-40);
    let mut normal = [0.0f32; 12];
    normal[3] = 2.0 * f32::MIN_POSITIVE;
    normal[5] = f32::MIN_POSITIVE;
    normalize_max(&mut normal);
    assert_eq!((normal[3], normal[5]), (1.0, 0.5));
}

/// The JSON of both presets (deltas 0, chroma false) is byte-identical to the one written before
/// the fields existed: models and feature-cache keys hash it.
#[test]
fn default_config_json_is_unchanged() {
    const PAPER: &str = r#"{"n_mfcc":34,"n_fft":4096,"win_length":null,"hop_length":{"samples":2048},"window":"hann","center":true,"n_mels":128,"fmin":0.0,"fmax":null,"mel_scale":"slaney","mel_norm":"slaney","ref_power":1.0,"amin":1e-10,"top_db":80.0,"lifter":0.0,"target_sample_rate":null}"#;
    const MS25: &str = r#"{"n_mfcc":34,"n_fft":2048,"win_length":{"seconds":0.025},"hop_length":{"seconds":0.01},"window":"hann","center":false,"n_mels":40,"fmin":0.0,"fmax":null,"mel_scale":"slaney","mel_norm":"slaney","ref_power":1.0,"amin":1e-10,"top_db":80.0,"lifter":0.0,"target_sample_rate":null}"#;
    for (preset, json) in [("paper", PAPER), ("25ms", MS25)] {
        let config = MfccConfig::from_preset(preset).unwrap();
        assert_eq!((config.deltas, config.chroma), (0, false));
        assert_eq!(serde_json::to_string(&config).unwrap(), json, "{preset}");
        // Old JSON still reads, with the options off.
        let back: MfccConfig = serde_json::from_str(json).unwrap();
        assert_eq!(back, config);
        assert_eq!(config.n_features(), config.n_mfcc());
    }
    let on = MfccConfig {
        deltas: 2,
        chroma: true,
        ..MfccConfig::paper()
    };
    let json = serde_json::to_string(&on).unwrap();
    assert!(
        json.ends_with(r#""target_sample_rate":null,"deltas":2,"chroma":true}"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<MfccConfig>(&json).unwrap(), on);
    assert_eq!(on.n_features(), 3 * 34 + 12);
}

#[test]
fn deltas_above_two_are_a_config_error() {
    let bad = MfccConfig {
        deltas: 3,
        ..MfccConfig::paper()
    };
    let err = MfccExtractor::new(&bad, 16_000).err().unwrap();
    assert!(
        matches!(err, DspError::InvalidConfig { field: "deltas", ref value, .. } if value == "3"),
        "{err:?}"
    );
    assert!(err.to_string().contains("deltas"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tone.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..8000 {
        w.write_sample(((i % 37) * 100) as i16).unwrap();
    }
    w.finalize().unwrap();
    assert!(matches!(
        ser_dsp::extract_file(&path, &bad),
        Err(DspError::InvalidConfig {
            field: "deltas",
            ..
        })
    ));
    assert!(matches!(
        ser_dsp::extract_files(&[path], &bad).pop().unwrap(),
        Err(DspError::InvalidConfig {
            field: "deltas",
            ..
        })
    ));
}
