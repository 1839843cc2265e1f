//! Property tests of each stage's invariants, and of fast paths against slow f64 oracles.

use proptest::prelude::*;
use ser_dsp::db::PowerToDb;
use ser_dsp::dct::Dct2;
use ser_dsp::mel::{hz_to_mel, mel_to_hz, MelFilterbank, MelParams};
use ser_dsp::stft::{Framing, PowerStft};
use ser_dsp::window::{padded_window, periodic_window};
use ser_dsp::{Kernel, MelNorm, MelScale, MfccConfig, MfccExtractor, WindowKind};

fn lcg_signal(seed: u32, n: usize, amp: f32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            amp * ((s >> 8) as f32 / 16_777_216.0 * 2.0 - 1.0)
        })
        .collect()
}

fn window_kind() -> impl Strategy<Value = WindowKind> {
    prop_oneof![Just(WindowKind::Hann), Just(WindowKind::Hamming)]
}

/// Slow oracle: |DFT|² of frame `t` in f64, straight from the definition.
fn naive_frame_power(
    x: &[f32],
    t: usize,
    n_fft: usize,
    hop: usize,
    center: bool,
    window: &[f32],
) -> Vec<f64> {
    let pad = if center { n_fft / 2 } else { 0 } as isize;
    let frame: Vec<f64> = (0..n_fft)
        .map(|n| {
            let idx = (t * hop + n) as isize - pad;
            let v = if idx >= 0 && (idx as usize) < x.len() {
                f64::from(x[idx as usize])
            } else {
                0.0
            };
            v * f64::from(window[n])
        })
        .collect();
    (0..=n_fft / 2)
        .map(|k| {
            let (mut re, mut im) = (0.0f64, 0.0f64);
            for (n, &v) in frame.iter().enumerate() {
                let a = -2.0 * std::f64::consts::PI * (k * n) as f64 / n_fft as f64;
                re += v * a.cos();
                im += v * a.sin();
            }
            re * re + im * im
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Periodic windows: w[n] = w[N - n] for 1 <= n < N, values in [0, 1], peak 1 at N/2 (even N).
    #[test]
    fn periodic_window_is_symmetric(kind in window_kind(), n in 1usize..600) {
        let w = periodic_window(kind, n);
        for i in 1..n {
            prop_assert!((w[i] - w[n - i]).abs() < 1e-12, "w[{i}] = {} vs w[{}] = {}", w[i], n - i, w[n - i]);
        }
        prop_assert!(w.iter().all(|&v| (0.0..=1.0 + 1e-12).contains(&v)));
        if n % 2 == 0 { prop_assert!((w[n / 2] - 1.0).abs() < 1e-12); }
    }

    /// Zero padding puts the window in the middle: (n_fft - win) / 2 zeros on the left.
    #[test]
    fn padded_window_is_centred(kind in window_kind(), win in 1usize..300, extra in 0usize..300) {
        let n_fft = win + extra;
        let w = padded_window(kind, win, n_fft);
        let left = extra / 2;
        let reference = periodic_window(kind, win);
        prop_assert!(w[..left].iter().all(|&v| v == 0.0));
        prop_assert!(w[left + win..].iter().all(|&v| v == 0.0));
        for i in 0..win { prop_assert_eq!(w[left + i], reference[i] as f32); }
    }

    /// Parseval for the real FFT of a windowed frame:
    /// Σ|x·w|² = (|X_0|² + |X_{N/2}|² + 2 Σ_{0<k<N/2} |X_k|²) / N.
    #[test]
    fn stft_frame_obeys_parseval(half in 4usize..300, seed: u32, kind in window_kind()) {
        let n_fft = 2 * half;
        let x = lcg_signal(seed, n_fft, 1.0);
        let stft = PowerStft::new(Framing { n_fft, hop_length: 1, center: false }, n_fft, kind);
        let mut scratch = stft.make_scratch();
        let mut power = vec![f32::NAN; stft.n_bins()];
        stft.frame_power(&x, 0, &mut scratch, &mut power);
        let time: f64 = x.iter().zip(stft.window()).map(|(&a, &w)| (f64::from(a) * f64::from(w)).powi(2)).sum();
        let last = power.len() - 1;
        let freq: f64 = (f64::from(power[0]) + f64::from(power[last])
            + 2.0 * power[1..last].iter().map(|&p| f64::from(p)).sum::<f64>()) / n_fft as f64;
        prop_assert!((time - freq).abs() <= 1e-5 * time, "time {time} freq {freq}");
    }

    /// The planned STFT (fast interior path, edge path, dirty scratch) equals the f64 DFT oracle.
    #[test]
    fn stft_matches_naive_dft(
        n_fft in 2usize..80, win_frac in 0.2f64..1.0, hop in 1usize..40, len in 1usize..300,
        center: bool, seed: u32, kind in window_kind(),
    ) {
        let win = ((n_fft as f64 * win_frac).ceil() as usize).clamp(1, n_fft);
        let framing = Framing { n_fft, hop_length: hop, center };
        let stft = PowerStft::new(framing, win, kind);
        let x = lcg_signal(seed, len, 0.8);
        let Some(n_frames) = framing.n_frames(len) else { return Ok(()) };
        let mut scratch = stft.make_scratch();
        let mut power = vec![f32::NAN; stft.n_bins()];
        for t in (0..n_frames).rev() {
            stft.frame_power(&x, t, &mut scratch, &mut power);
            let oracle = naive_frame_power(&x, t, n_fft, hop, center, stft.window());
            let peak = oracle.iter().copied().fold(0.0, f64::max);
            for (k, (&p, &o)) in power.iter().zip(&oracle).enumerate() {
                prop_assert!((f64::from(p) - o).abs() <= 1e-5 * peak + 1e-9, "t {t} k {k}: {p} vs {o}");
            }
        }
    }

    /// The AVX kernels of the per-frame loops give the baseline build's result up to rounding (the
    /// unpacking uses FMA): within 1e-6 of the frame's largest power.
    #[test]
    fn avx_kernel_equals_scalar_kernel(
        half in 1usize..700, win_frac in 0.2f64..1.0, hop in 1usize..500, len in 1usize..5000,
        center: bool, seed: u32, kind in window_kind(),
    ) {
        let Some(avx) = Kernel::avx() else { return Ok(()) };
        let n_fft = 2 * half;
        let win = ((n_fft as f64 * win_frac).ceil() as usize).clamp(1, n_fft);
        let framing = Framing { n_fft, hop_length: hop, center };
        let scalar = PowerStft::with_kernel(framing, win, kind, Kernel::Scalar);
        let fast = PowerStft::with_kernel(framing, win, kind, avx);
        prop_assert_eq!(fast.kernel(), Kernel::Avx);
        let x = lcg_signal(seed, len, 0.9);
        let (want, got) = (scalar.power_spectrogram(&x), fast.power_spectrogram(&x));
        prop_assert_eq!(want.is_some(), got.is_some());
        let (Some(want), Some(got)) = (want, got) else { return Ok(()) };
        let bins = framing.n_fft / 2 + 1;
        for (t, (w_row, g_row)) in want.chunks(bins).zip(got.chunks(bins)).enumerate() {
            let peak = w_row.iter().fold(0.0f32, |a, &b| a.max(b));
            for (k, (w, g)) in w_row.iter().zip(g_row).enumerate() {
                prop_assert!((w - g).abs() <= 1e-6 * peak, "frame {t} bin {k}: {g} vs {w} (peak {peak})");
            }
        }
    }

    /// Centred framing with even n_fft: 1 + len / hop frames; uncentred: 1 + (len - n_fft) / hop.
    #[test]
    fn frame_counts(half in 1usize..3000, hop in 1usize..5000, len in 1usize..200_000) {
        let n_fft = 2 * half;
        prop_assert_eq!(Framing { n_fft, hop_length: hop, center: true }.n_frames(len), Some(1 + len / hop));
        let uncentred = Framing { n_fft, hop_length: hop, center: false }.n_frames(len);
        prop_assert_eq!(uncentred, (len >= n_fft).then(|| 1 + (len - n_fft) / hop));
    }

    /// Filterbank rows are non-negative, every bin touches at most two filters, the sparse
    /// application equals the dense product (f64), and Slaney rows are the peak-1 rows times
    /// 2 / (e_{m+2} - e_m).
    #[test]
    fn filterbank_invariants(
        sr in prop_oneof![Just(8000u32), Just(16000), Just(22050), Just(44100), Just(48000)],
        log_n_fft in 8u32..13, n_mels in 1usize..130, fmin_frac in 0.0f64..0.3, fmax_frac in 0.5f64..1.0,
        htk: bool, seed: u32,
    ) {
        let n_fft = 1usize << log_n_fft;
        let scale = if htk { MelScale::Htk } else { MelScale::Slaney };
        let nyq = f64::from(sr) / 2.0;
        let p = MelParams { sample_rate: sr, n_fft, n_mels, fmin: fmin_frac * nyq, fmax: fmax_frac * nyq, scale, norm: MelNorm::Slaney };
        let bank = MelFilterbank::new(&p);
        let plain = MelFilterbank::new(&MelParams { norm: MelNorm::None, ..p });
        let n_bins = bank.n_bins();
        let dense = bank.dense();
        prop_assert!(dense.iter().all(|&w| w >= 0.0 && w.is_finite()));
        for k in 0..n_bins {
            let touching = (0..n_mels).filter(|&m| dense[m * n_bins + k] > 0.0).count();
            prop_assert!(touching <= 2, "bin {k} touches {touching} filters");
        }
        let lo = hz_to_mel(p.fmin, scale);
        let hi = hz_to_mel(p.fmax, scale);
        let step = (hi - lo) / (n_mels + 1) as f64;
        let edge = |j: usize| mel_to_hz(lo + j as f64 * step, scale);
        let plain_dense = plain.dense();
        for m in 0..n_mels {
            let enorm = 2.0 / (edge(m + 2) - edge(m));
            prop_assert!(plain_dense[m * n_bins..(m + 1) * n_bins].iter().all(|&w| w <= 1.0));
            for k in 0..n_bins {
                let want = f64::from(plain_dense[m * n_bins + k]) * enorm;
                let got = f64::from(dense[m * n_bins + k]);
                prop_assert!((got - want).abs() <= 1e-6 * want.abs() + 1e-12, "W[{m},{k}] {got} vs {want}");
            }
        }
        let power: Vec<f32> = lcg_signal(seed, n_bins, 1.0).iter().map(|v| v * v).collect();
        let mut out = vec![f32::NAN; n_mels];
        bank.apply(&power, &mut out);
        for m in 0..n_mels {
            let want: f64 = (0..n_bins).map(|k| f64::from(dense[m * n_bins + k]) * f64::from(power[k])).sum();
            prop_assert!((f64::from(out[m]) - want).abs() <= 1e-5 * want.abs() + 1e-30, "mel {m}: {} vs {want}", out[m]);
        }
    }

    /// Slaney area normalisation: a triangle much wider than a bin has area ≈ 1 in Hz.
    #[test]
    fn slaney_filters_have_unit_area(n_mels in 5usize..40) {
        let sr = 16000;
        let n_fft = 8192;
        let bank = MelFilterbank::new(&MelParams { sample_rate: sr, n_fft, n_mels, fmin: 0.0, fmax: 8000.0, scale: MelScale::Slaney, norm: MelNorm::Slaney });
        let bin_hz = f64::from(sr) / n_fft as f64;
        for m in 0..n_mels {
            let (_, w) = bank.filter(m);
            prop_assume!(w.len() >= 40);
            let area: f64 = w.iter().map(|&v| f64::from(v)).sum::<f64>() * bin_hz;
            prop_assert!((area - 1.0).abs() < 0.02, "filter {m}: area {area}");
        }
    }

    /// hz_to_mel and mel_to_hz are inverse and increasing on both scales.
    #[test]
    fn mel_scale_round_trips(f in 0.0f64..30000.0, g in 0.0f64..30000.0, htk: bool) {
        let scale = if htk { MelScale::Htk } else { MelScale::Slaney };
        prop_assert!((mel_to_hz(hz_to_mel(f, scale), scale) - f).abs() <= 1e-9 * (1.0 + f));
        if f < g { prop_assert!(hz_to_mel(f, scale) < hz_to_mel(g, scale)); }
    }

    /// The full DCT-II matrix is orthonormal: D·Dᵀ = I; the kept rows equal the f64 definition.
    #[test]
    fn dct_is_orthonormal(n in 1usize..140, seed: u32) {
        let d = Dct2::new(n, n, 0.0);
        for i in 0..n {
            for j in 0..n {
                let dot: f64 = d.row(i).iter().zip(d.row(j)).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
                let want = if i == j { 1.0 } else { 0.0 };
                prop_assert!((dot - want).abs() < 1e-5, "row {i} · row {j} = {dot}");
            }
        }
        let x = lcg_signal(seed, n, 50.0);
        let mut out = vec![f32::NAN; n];
        d.apply(&x, &mut out);
        for (k, &c) in out.iter().enumerate() {
            let s = if k == 0 { (1.0 / n as f64).sqrt() } else { (2.0 / n as f64).sqrt() };
            let want: f64 = s * x.iter().enumerate().map(|(i, &v)| f64::from(v) * (std::f64::consts::PI * (k * (2 * i + 1)) as f64 / (2 * n) as f64).cos()).sum::<f64>();
            prop_assert!((f64::from(c) - want).abs() <= 1e-5 * (1.0 + want.abs()) + 1e-4, "c[{k}] {c} vs {want}");
        }
    }

    /// Lifter L scales coefficient k by 1 + (L/2)·sin(π(k+1)/L).
    #[test]
    fn lifter_scales_rows(n in 2usize..64, lifter in 1.0f64..40.0) {
        let plain = Dct2::new(n, n, 0.0);
        let lifted = Dct2::new(n, n, lifter);
        for k in 0..n {
            let f = 1.0 + lifter / 2.0 * (std::f64::consts::PI * (k + 1) as f64 / lifter).sin();
            for (&a, &b) in plain.row(k).iter().zip(lifted.row(k)) {
                prop_assert!((f64::from(a) * f - f64::from(b)).abs() <= 1e-6 * (1.0 + f.abs()));
            }
        }
    }

    /// power_to_db: 10·log10 above amin, floored at amin, clipped to max - top_db.
    #[test]
    fn power_to_db_semantics(seed: u32, n in 1usize..300, top_db in 0.0f32..120.0) {
        let x: Vec<f32> = lcg_signal(seed, n, 1.0).iter().map(|v| (v * 30.0).exp2() * 1e-6).collect();
        let db = PowerToDb { top_db: Some(top_db), ..PowerToDb::default() };
        let mut y = x.clone();
        db.to_db(&mut y);
        for (&p, &d) in x.iter().zip(&y) {
            let want = 10.0 * f64::from(p.max(1e-10)).log10();
            prop_assert!((f64::from(d) - want).abs() <= 1e-4 * (1.0 + want.abs()));
        }
        let max = y.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let before = y.clone();
        db.clip(&mut y);
        prop_assert_eq!(y.iter().copied().fold(f32::NEG_INFINITY, f32::max), max);
        for (&a, &b) in before.iter().zip(&y) {
            prop_assert_eq!(b, a.max(max - top_db));
        }
    }

    /// Scaling the signal by a adds 20·log10|a| dB to every band (the top_db floor moves with the
    /// maximum), so only c0 changes, by 20·log10|a|·√n_mels, while no band falls to amin.
    #[test]
    fn scaling_shifts_only_c0(seed: u32, a in 0.05f32..20.0, negate: bool, paper: bool) {
        let config = if paper { MfccConfig::paper() } else { MfccConfig::preset_25ms() };
        let sr = 16000;
        let x = lcg_signal(seed, 8000, 0.2);
        let a = if negate { -a } else { a };
        let y: Vec<f32> = x.iter().map(|v| v * a).collect();
        let mut ex = MfccExtractor::new(&config, sr).unwrap();
        let fx = ex.compute(&x).unwrap();
        let fy = ex.compute(&y).unwrap();
        let shift = 20.0 * f64::from(a.abs()).log10() * (config.n_mels as f64).sqrt();
        for t in 0..fx.n_frames {
            for (k, (&cx, &cy)) in fx.frame(t).iter().zip(fy.frame(t)).enumerate() {
                let want = if k == 0 { f64::from(cx) + shift } else { f64::from(cx) };
                prop_assert!((f64::from(cy) - want).abs() <= 2e-3 + 1e-5 * want.abs(), "t {t} c{k}: {cy} vs {want}");
            }
        }
    }

    /// A reused extractor (dirty scratch, longer then shorter input) gives what a fresh one gives.
    #[test]
    fn extractor_reuse_is_clean(seed: u32, len_a in 2048usize..20000, len_b in 2048usize..20000, paper: bool) {
        let config = if paper { MfccConfig::paper() } else { MfccConfig::preset_25ms() };
        let (xa, xb) = (lcg_signal(seed, len_a, 0.5), lcg_signal(seed ^ 1, len_b, 0.1));
        let mut reused = MfccExtractor::new(&config, 22050).unwrap();
        reused.compute(&xa).unwrap();
        let again = reused.compute(&xb).unwrap();
        let fresh = MfccExtractor::new(&config, 22050).unwrap().compute(&xb).unwrap();
        prop_assert_eq!(again, fresh);
    }
}

#[test]
fn too_short_and_invalid_configs_are_errors() {
    let mut ex = MfccExtractor::new(&MfccConfig::preset_25ms(), 16000).unwrap();
    assert!(matches!(
        ex.compute(&[0.0; 100]),
        Err(ser_dsp::DspError::TooShort {
            len: 100,
            needed: 2048,
            ..
        })
    ));
    let mut centred = MfccExtractor::new(&MfccConfig::paper(), 16000).unwrap();
    assert!(matches!(
        centred.compute(&[]),
        Err(ser_dsp::DspError::TooShort { .. })
    ));
    assert_eq!(centred.compute(&[0.5]).unwrap().n_frames, 1);
    let bad = MfccConfig {
        n_mfcc: 200,
        ..MfccConfig::paper()
    };
    assert!(matches!(
        MfccExtractor::new(&bad, 16000),
        Err(ser_dsp::DspError::InvalidConfig {
            field: "n_mfcc",
            ..
        })
    ));
    // 25 ms at 100 kHz is 2500 samples, more than n_fft = 2048.
    assert!(matches!(
        MfccExtractor::new(&MfccConfig::preset_25ms(), 100_000),
        Err(ser_dsp::DspError::InvalidConfig {
            field: "win_length",
            ..
        })
    ));
    assert!(matches!(
        MfccConfig::from_preset("40ms"),
        Err(ser_dsp::DspError::UnknownPreset { .. })
    ));
}

/// `SER_KERNEL=scalar` forces the baseline kernel; otherwise AVX is used where the CPU has it.
#[test]
fn kernel_detection_honours_the_override() {
    let framing = Framing {
        n_fft: 64,
        hop_length: 16,
        center: true,
    };
    let detected = PowerStft::new(framing, 64, WindowKind::Hann).kernel();
    if std::env::var("SER_KERNEL").is_ok_and(|v| v.eq_ignore_ascii_case("scalar")) {
        assert_eq!(detected, Kernel::Scalar);
    } else {
        assert_eq!(detected, Kernel::avx().unwrap_or(Kernel::Scalar));
    }
}
