//! Parity of the optional feature columns with librosa 0.11 (fixtures from
//! fixtures/mfcc/make_fixtures.py): `librosa.feature.delta` (order 1 and 2) of the synthetic MFCC,
//! `librosa.feature.chroma_stft(S=power, tuning=0.0)` of the same frames, and
//! `librosa.filters.chroma`; every value of every frame is compared.

mod common;

use common::{max_abs_diff, signals, transpose, Fixture};
use ser_dsp::chroma::{ChromaFilterbank, N_CHROMA};
use ser_dsp::deltas::{effective_width, DELTA_WIDTH};
use ser_dsp::{extract_file, extract_files, Features, MfccConfig, MfccExtractor};

const FEATURE_TOL: f32 = 2e-3;

/// Columns `cols` of a time-major `[T, n_coeffs]` matrix, `[T, cols.len()]`.
fn block(f: &Features, cols: std::ops::Range<usize>) -> Vec<f32> {
    (0..f.n_frames)
        .flat_map(|t| f.frame(t)[cols.clone()].to_vec())
        .collect()
}

/// Max |ours - librosa| of a block against librosa's `[C, T]` tensor, asserted ≤ `tol`.
fn check_block(what: &str, ours: &[f32], shape: &[usize], theirs: &[f32], tol: f32) -> f32 {
    let expected = transpose(shape, theirs);
    assert_eq!(ours.len(), expected.len(), "{what}: size");
    let (d, i) = max_abs_diff(ours, &expected);
    assert!(
        d <= tol,
        "{what}: max |diff| {d} at frame {} row {} (ours {}, librosa {})",
        i / shape[0],
        i % shape[0],
        ours[i],
        expected[i]
    );
    d
}

fn full_config(preset: &str) -> MfccConfig {
    MfccConfig {
        deltas: 2,
        chroma: true,
        ..MfccConfig::from_preset(preset).unwrap()
    }
}

#[test]
fn synthetic_deltas_and_chroma_match_librosa() {
    let fx = Fixture::load("deltas_chroma.safetensors");
    let mfcc_fx = Fixture::load("synthetic.safetensors");
    assert_eq!(fx.metadata("delta_width"), DELTA_WIDTH.to_string());
    let mut worst = [0.0f32; 4];
    let mut widths_seen = std::collections::BTreeSet::new();
    for sig in &signals(&fx) {
        let mono = sig.render_mono();
        for preset in MfccConfig::preset_names() {
            let config = full_config(preset);
            let n = config.n_mfcc();
            assert_eq!(config.n_features(), 3 * n + N_CHROMA);
            let ours = MfccExtractor::new(&config, sig.sr)
                .unwrap()
                .compute(&mono)
                .unwrap();
            assert_eq!(ours.n_coeffs, config.n_features());
            let key = |what: &str| format!("{}/{preset}/{what}", sig.name);
            let what = |b: &str| format!("{} {preset} {b}", sig.name);

            let width = fx.i64(&key("delta_width"))[0] as usize;
            let ours_width = effective_width(DELTA_WIDTH, ours.n_frames).unwrap_or(0);
            assert_eq!(ours_width, width, "{}: delta width", what("policy"));
            widths_seen.insert(width);

            let (shape, theirs) = mfcc_fx.f32(&key("mfcc"));
            let checks = [
                ("mfcc", 0..n, shape, theirs),
                (
                    "delta",
                    n..2 * n,
                    fx.f32(&key("delta1")).0,
                    fx.f32(&key("delta1")).1,
                ),
                (
                    "delta2",
                    2 * n..3 * n,
                    fx.f32(&key("delta2")).0,
                    fx.f32(&key("delta2")).1,
                ),
                (
                    "chroma",
                    3 * n..3 * n + N_CHROMA,
                    fx.f32(&key("chroma")).0,
                    fx.f32(&key("chroma")).1,
                ),
            ];
            for (i, (name, cols, shape, theirs)) in checks.into_iter().enumerate() {
                assert_eq!(shape[1], ours.n_frames, "{}: frame count", what(name));
                let d = check_block(
                    &what(name),
                    &block(&ours, cols),
                    &shape,
                    &theirs,
                    FEATURE_TOL,
                );
                worst[i] = worst[i].max(d);
            }
        }
    }
    eprintln!(
        "worst |diff|: mfcc {:.2e}, delta {:.2e}, delta2 {:.2e}, chroma {:.2e}",
        worst[0], worst[1], worst[2], worst[3]
    );
    // The fixture exercises the full window, shrunk windows and the all-zero policy.
    assert!(
        widths_seen.contains(&9) && widths_seen.contains(&0),
        "{widths_seen:?}"
    );
    assert!(
        widths_seen.iter().any(|&w| (3..9).contains(&w)),
        "{widths_seen:?}"
    );
}

#[test]
fn chroma_filterbanks_match_librosa() {
    let fx = Fixture::load("chroma_filterbanks.safetensors");
    let specs: Vec<serde_json::Value> = serde_json::from_str(&fx.metadata("filterbanks")).unwrap();
    assert!(specs.len() >= 4);
    let mut worst_rel = 0.0f64;
    for s in &specs {
        let name = s["name"].as_str().unwrap();
        let sr = s["sr"].as_u64().unwrap() as u32;
        let n_fft = s["n_fft"].as_u64().unwrap() as usize;
        let tuning = s["tuning"].as_f64().unwrap();
        let ours = ChromaFilterbank::new(sr, n_fft, tuning);
        let (shape, theirs) = fx.f32(name);
        assert_eq!(shape, [N_CHROMA, n_fft / 2 + 1], "{name}: librosa shape");
        assert_eq!(ours.n_bins(), shape[1], "{name}: bins");
        assert_eq!(ours.dense().len(), theirs.len(), "{name}: size");
        let cols = shape[1];
        for (i, (&a, &b)) in ours.dense().iter().zip(&theirs).enumerate() {
            // Same f64 formula rounded once to f32; only libm's log2/exp may differ by an ulp.
            let rel = f64::from((a - b).abs()) / f64::from(b.abs()).max(f64::MIN_POSITIVE);
            worst_rel = worst_rel.max(rel);
            assert!(
                (a - b).abs() <= 1e-6 * b.abs(),
                "{name}: F[{}, {}] ours {a} librosa {b}",
                i / cols,
                i % cols
            );
        }
    }
    eprintln!("chroma filterbank: worst relative diff {worst_rel:.2e}");
}

/// Every combination of options gives `[mfcc | Δ | ΔΔ | chroma]` with the blocks it asks for,
/// identical to the same blocks of the full output; the default path is the plain MFCC.
#[test]
fn column_layout_follows_the_options() {
    let fx = Fixture::load("synthetic.safetensors");
    let sig = signals(&fx)
        .into_iter()
        .find(|s| s.name == "two_sines_44k")
        .unwrap();
    let mono = sig.render_mono();
    for preset in MfccConfig::preset_names() {
        let full = MfccExtractor::new(&full_config(preset), sig.sr)
            .unwrap()
            .compute(&mono)
            .unwrap();
        let n = MfccConfig::from_preset(preset).unwrap().n_mfcc();
        for deltas in 0..=2u8 {
            for chroma in [false, true] {
                let config = MfccConfig {
                    deltas,
                    chroma,
                    ..MfccConfig::from_preset(preset).unwrap()
                };
                let f = MfccExtractor::new(&config, sig.sr)
                    .unwrap()
                    .compute(&mono)
                    .unwrap();
                let width = n * (1 + usize::from(deltas)) + if chroma { N_CHROMA } else { 0 };
                assert_eq!(config.n_features(), width);
                assert_eq!((f.n_frames, f.n_coeffs), (full.n_frames, width));
                assert_eq!(f.data.len(), f.n_frames * width);
                // Blocks of the full output, in order: mfcc, then Δ, ΔΔ as asked, then chroma.
                let mut expected: Vec<std::ops::Range<usize>> = (0..=usize::from(deltas))
                    .map(|d| d * n..(d + 1) * n)
                    .collect();
                if chroma {
                    expected.push(3 * n..3 * n + N_CHROMA);
                }
                let mut col = 0;
                for cols in expected {
                    let len = cols.len();
                    assert_eq!(
                        block(&f, col..col + len),
                        block(&full, cols.clone()),
                        "{preset} deltas {deltas} chroma {chroma}: block {cols:?}"
                    );
                    col += len;
                }
                assert_eq!(col, width);
            }
        }
    }
}

/// `extract_file` and `extract_files` produce the same full-width features as `compute`.
#[test]
fn file_entry_points_produce_the_full_width() {
    let fx = Fixture::load("synthetic.safetensors");
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut direct = Vec::new();
    let config = full_config("paper");
    for sig in signals(&fx)
        .iter()
        .filter(|s| s.channels.len() == 1)
        .take(3)
    {
        let mono = sig.render_mono();
        let path = dir.path().join(format!("{}.wav", sig.name));
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: sig.sr,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for &x in &mono {
            w.write_sample(x).unwrap();
        }
        w.finalize().unwrap();
        direct.push(
            MfccExtractor::new(&config, sig.sr)
                .unwrap()
                .compute(&mono)
                .unwrap(),
        );
        paths.push(path);
    }
    let batch = extract_files(&paths, &config);
    for ((path, want), got) in paths.iter().zip(&direct).zip(batch) {
        assert_eq!(want.n_coeffs, config.n_features());
        assert_eq!(&got.unwrap(), want, "{}: extract_files", path.display());
        assert_eq!(
            &extract_file(path, &config).unwrap(),
            want,
            "{}: extract_file",
            path.display()
        );
    }
}
