//! The hostile-audio corpus, generated at test time in a temporary directory (no audio is committed;
//! `fixtures/hostile/make_hostile.py` only lists the cases for documentation).
//!
//! Every case is written to disk, read back with `read_wav` + `MfccExtractor::compute` (and with
//! `extract_file`), on its own thread with a time limit, and must give either finite features of the
//! expected shape or the expected typed [`DspError`] naming the file: never a panic, a NaN or a hang.
//!
//! Frame counts follow librosa's `center=True` framing: `T = 1 + ⌊len / hop⌋` for any `len >= 1`
//! (the signal is padded by `n_fft / 2` on both sides, so a clip shorter than one frame still gives
//! one frame, as `librosa.feature.mfcc` does).

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use ser_dsp::{extract_file, read_wav, DspError, MfccConfig, MfccExtractor};

/// What a case must produce.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Finite features with this many frames (paper preset: hop 2048, centred).
    Frames(usize),
    /// An error of this kind, naming the file.
    Error(ErrorKind),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ErrorKind {
    NotWave,
    TruncatedHeader,
    TruncatedData,
    NoSamples,
    NonFiniteSample,
    SampleOutOfRange,
    TooShort,
}

fn kind(err: &DspError) -> Option<ErrorKind> {
    Some(match err {
        DspError::NotWave { .. } => ErrorKind::NotWave,
        DspError::TruncatedHeader { .. } => ErrorKind::TruncatedHeader,
        DspError::TruncatedData { .. } => ErrorKind::TruncatedData,
        DspError::NoSamples { .. } => ErrorKind::NoSamples,
        DspError::NonFiniteSample { .. } => ErrorKind::NonFiniteSample,
        DspError::SampleOutOfRange { .. } => ErrorKind::SampleOutOfRange,
        DspError::TooShort { .. } => ErrorKind::TooShort,
        _ => return None,
    })
}

/// One hostile file: its name, its bytes and the outcome it must have.
struct Case {
    name: String,
    bytes: Vec<u8>,
    expect: Expect,
}

const HOP: usize = 2048;

/// Frames of a centred paper-preset STFT over `len` samples.
fn frames(len: usize) -> usize {
    1 + len / HOP
}

/// `RIFF....WAVE` + `fmt ` (plain tag, 16-byte body) + `data` with `data_len` announced bytes.
fn wav(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8], data_len: u32) -> Vec<u8> {
    let block = channels * bits.div_ceil(8);
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&tag.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&rate.to_le_bytes());
    fmt.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    fmt.extend_from_slice(&block.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    let mut body = b"WAVE".to_vec();
    body.extend_from_slice(b"fmt ");
    body.extend_from_slice(&16u32.to_le_bytes());
    body.extend_from_slice(&fmt);
    body.extend_from_slice(b"data");
    body.extend_from_slice(&data_len.to_le_bytes());
    body.extend_from_slice(data);
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// A valid 16-bit PCM file of `samples` (interleaved over `channels`).
fn pcm16(channels: u16, rate: u32, samples: &[i16]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    wav(1, channels, rate, 16, &data, data.len() as u32)
}

/// A float32 file (format tag 3) of `samples`.
fn float32(rate: u32, samples: &[f32]) -> Vec<u8> {
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    wav(3, 1, rate, 32, &data, data.len() as u32)
}

/// A file written by hound (`WAVE_FORMAT_EXTENSIBLE` for > 2 channels or > 16 bits).
fn with_hound(
    spec: hound::WavSpec,
    write: impl FnOnce(&mut hound::WavWriter<&mut std::io::Cursor<Vec<u8>>>),
) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut writer = hound::WavWriter::new(&mut cursor, spec).expect("hound writer");
        write(&mut writer);
        writer.finalize().expect("hound finalize");
    }
    cursor.into_inner()
}

fn spec(channels: u16, rate: u32, bits: u16, float: bool) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format: if float {
            hound::SampleFormat::Float
        } else {
            hound::SampleFormat::Int
        },
    }
}

/// A 440 Hz sine at amplitude 0.5, `n` samples at `rate`.
fn sine(n: usize, rate: u32) -> Vec<f32> {
    (0..n)
        .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate as f32).sin())
        .collect()
}

fn to_i16(x: &[f32]) -> Vec<i16> {
    x.iter().map(|v| (v * 32767.0).round() as i16).collect()
}

/// Deterministic pseudo-random bytes (xorshift64*), so the corpus is the same on every run.
fn random_bytes(n: usize, mut state: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

fn corpus() -> Vec<Case> {
    let rate = 48_000;
    let n = 12_000; // 0.25 s: 6 frames
    let tone = to_i16(&sine(n, rate));
    let valid = pcm16(1, rate, &tone);
    let mut cases = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>, expect: Expect| {
        cases.push(Case {
            name: format!("{name}.wav"),
            bytes,
            expect,
        });
    };
    use ErrorKind::*;

    // Structure.
    add(
        "truncated_header",
        valid[..30].to_vec(),
        Expect::Error(TruncatedHeader),
    );
    add(
        "preamble_only",
        valid[..8].to_vec(),
        Expect::Error(TruncatedHeader),
    );
    add(
        "truncated_data",
        valid[..valid.len() - 1001].to_vec(),
        Expect::Error(TruncatedData),
    );
    let mut over = valid.clone();
    over[40..44].copy_from_slice(&(u32::MAX - 1).to_le_bytes());
    add("data_claims_too_much", over, Expect::Error(TruncatedData));
    add(
        "zero_samples",
        pcm16(1, rate, &[]),
        Expect::Error(NoSamples),
    );
    add("one_sample", pcm16(1, rate, &[1000]), Expect::Frames(1));
    add(
        "shorter_than_one_frame",
        pcm16(1, rate, &tone[..1000]),
        Expect::Frames(1),
    );
    add(
        "just_under_n_fft",
        pcm16(1, rate, &tone[..4095]),
        Expect::Frames(2),
    );
    add("empty_file", Vec::new(), Expect::Error(TruncatedHeader));

    // Other formats under a .wav name, and noise.
    let mut aiff = b"FORM\0\0\x10\0AIFFCOMM".to_vec();
    aiff.extend(random_bytes(64, 1));
    add("aiff_bytes", aiff, Expect::Error(NotWave));
    let mut flac = b"fLaC\0\0\0\x22".to_vec();
    flac.extend(random_bytes(64, 2));
    add("flac_bytes", flac, Expect::Error(NotWave));
    let mut mp3 = b"ID3\x04\0\0\0\0\0\0".to_vec();
    mp3.extend(random_bytes(64, 3));
    add("mp3_id3_bytes", mp3, Expect::Error(NotWave));
    let mut mp3_frame = vec![0xFF, 0xFB, 0x90, 0x64];
    mp3_frame.extend(random_bytes(64, 4));
    add("mp3_frame_bytes", mp3_frame, Expect::Error(NotWave));
    let mut noise = random_bytes(4096, 5);
    noise[0] = b'x'; // make sure it cannot start with "RIFF"
    add("random_bytes", noise, Expect::Error(NotWave));

    // Encodings (plain PCM tags and hound's extensible headers).
    let x = sine(n, rate);
    let u8_data: Vec<u8> = x.iter().map(|v| (v * 127.0 + 128.0) as u8).collect();
    add(
        "pcm8",
        wav(1, 1, rate, 8, &u8_data, n as u32),
        Expect::Frames(frames(n)),
    );
    let i24: Vec<u8> = x
        .iter()
        .flat_map(|v| {
            let q = (v * 8_388_607.0) as i32;
            q.to_le_bytes()[..3].to_vec()
        })
        .collect();
    add(
        "pcm24",
        wav(1, 1, rate, 24, &i24, i24.len() as u32),
        Expect::Frames(frames(n)),
    );
    let i32d: Vec<u8> = x
        .iter()
        .flat_map(|v| ((v * 2_147_483_000.0) as i32).to_le_bytes())
        .collect();
    add(
        "pcm32",
        wav(1, 1, rate, 32, &i32d, i32d.len() as u32),
        Expect::Frames(frames(n)),
    );
    add(
        "pcm24_extensible",
        with_hound(spec(1, rate, 24, false), |w| {
            for v in &x {
                w.write_sample((v * 8_388_607.0) as i32).expect("write");
            }
        }),
        Expect::Frames(frames(n)),
    );
    add("float32", float32(rate, &x), Expect::Frames(frames(n)));
    let mut with_nan = x.clone();
    with_nan[777] = f32::NAN;
    add(
        "float32_nan",
        float32(rate, &with_nan),
        Expect::Error(NonFiniteSample),
    );
    let mut with_inf = x.clone();
    with_inf[5] = f32::NEG_INFINITY;
    add(
        "float32_inf",
        float32(rate, &with_inf),
        Expect::Error(NonFiniteSample),
    );

    // Found by `cargo xtask fuzz`: finite float samples too large for the power spectrum.
    let mut with_huge = x.clone();
    with_huge[100] = 1e30;
    add(
        "float32_huge",
        float32(rate, &with_huge),
        Expect::Error(SampleOutOfRange),
    );

    // Channels.
    add("mono", pcm16(1, rate, &tone), Expect::Frames(frames(n)));
    let stereo: Vec<i16> = tone.iter().flat_map(|&s| [s, s / 2]).collect();
    add("stereo", pcm16(2, rate, &stereo), Expect::Frames(frames(n)));
    let six: Vec<i16> = tone.iter().flat_map(|&s| [s; 6]).collect();
    add(
        "six_channels_plain",
        pcm16(6, rate, &six),
        Expect::Frames(frames(n)),
    );
    add(
        "six_channels_extensible",
        with_hound(spec(6, rate, 16, false), |w| {
            for s in &six {
                w.write_sample(*s).expect("write");
            }
        }),
        Expect::Frames(frames(n)),
    );

    // Sample rates (0.25 s each; the paper preset runs at the file's own rate).
    for sr in [8_000u32, 16_000, 44_100, 96_000] {
        let len = sr as usize / 4;
        add(
            &format!("rate_{sr}"),
            pcm16(1, sr, &to_i16(&sine(len, sr))),
            Expect::Frames(frames(len)),
        );
    }

    // Levels.
    add(
        "digital_silence",
        pcm16(1, rate, &vec![0; n]),
        Expect::Frames(frames(n)),
    );
    add(
        "dc_offset",
        pcm16(1, rate, &vec![12_000; n]),
        Expect::Frames(frames(n)),
    );
    let clipped: Vec<i16> = tone
        .iter()
        .map(|&s| if s >= 0 { i16::MAX } else { i16::MIN })
        .collect();
    add(
        "full_scale_clipping",
        pcm16(1, rate, &clipped),
        Expect::Frames(frames(n)),
    );
    cases
}

/// Reads and featurises `path` two ways (read_wav + compute, and extract_file) and checks they agree.
fn featurise(path: &Path) -> Result<ser_dsp::Features, DspError> {
    let config = MfccConfig::paper();
    let via_file = extract_file(path, &config);
    let audio = read_wav(path)?;
    let via_parts = MfccExtractor::new(&config, audio.sample_rate)?.compute(&audio.samples);
    match (&via_file, &via_parts) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{}: two entry points disagree", path.display()),
        (Err(_), Err(_)) => {}
        _ => panic!("{}: entry points disagree on success", path.display()),
    }
    via_file
}

/// Runs `featurise` on its own thread; a panic or a run over 60 s fails the case.
fn run_guarded(path: PathBuf) -> Result<Result<ser_dsp::Features, DspError>, String> {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let result = featurise(&path);
        let _ = tx.send(result);
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(result) => {
            let _ = worker.join();
            Ok(result)
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("panicked".into()),
        Err(mpsc::RecvTimeoutError::Timeout) => Err("hung for more than 60 s".into()),
    }
}

#[test]
fn every_hostile_file_gives_finite_features_or_a_typed_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let cases = corpus();
    assert!(cases.len() >= 30, "corpus shrank to {}", cases.len());
    for case in cases {
        let path = dir.path().join(&case.name);
        std::fs::write(&path, &case.bytes).expect("write case");
        let outcome = match run_guarded(path.clone()) {
            Ok(outcome) => outcome,
            Err(why) => {
                failures.push(format!("{}: {why}", case.name));
                continue;
            }
        };
        match (case.expect, outcome) {
            (Expect::Frames(t), Ok(f)) => {
                if f.n_frames != t || f.n_coeffs != 34 || f.data.len() != t * 34 {
                    failures.push(format!(
                        "{}: shape [{}, {}], expected [{t}, 34]",
                        case.name, f.n_frames, f.n_coeffs
                    ));
                } else if let Some(i) = f.data.iter().position(|v| !v.is_finite()) {
                    failures.push(format!("{}: non-finite feature at {i}", case.name));
                }
            }
            (Expect::Error(want), Err(err)) => {
                if kind(&err) != Some(want) {
                    failures.push(format!("{}: expected {want:?}, got {err}", case.name));
                } else if err.path() != Some(path.as_path())
                    || !err.to_string().contains(&case.name)
                {
                    failures.push(format!(
                        "{}: error does not name the file: {err}",
                        case.name
                    ));
                }
            }
            (want, got) => failures.push(format!("{}: expected {want:?}, got {got:?}", case.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "hostile cases failed:\n{}",
        failures.join("\n")
    );
}

/// librosa pads with `center=True` and returns a frame for a clip shorter than `n_fft`; without
/// centring (preset `25ms`) such a clip is a `TooShort` error naming the file.
#[test]
fn shorter_than_one_frame_is_padded_when_centred_and_too_short_otherwise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("tiny.wav");
    std::fs::write(&path, pcm16(1, 48_000, &to_i16(&sine(500, 48_000)))).expect("write");
    let centred = extract_file(&path, &MfccConfig::paper()).expect("centred framing pads");
    assert_eq!((centred.n_frames, centred.n_coeffs), (1, 34));
    assert!(centred.data.iter().all(|v| v.is_finite()));
    let err = extract_file(&path, &MfccConfig::preset_25ms()).expect_err("500 < n_fft");
    assert!(matches!(err, DspError::TooShort { len: 500, .. }), "{err}");
    assert_eq!(err.path(), Some(path.as_path()));
}

/// Digital silence: every power is below `amin`, so every mel band sits at the floor
/// `10·log10(amin / ref)` = -100 dB, and the orthonormal DCT-II of a constant row `c` over `M` bands
/// is `c·√M` in coefficient 0 and 0 elsewhere.
#[test]
fn silence_gives_the_finite_floor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("silence.wav");
    std::fs::write(&path, pcm16(1, 48_000, &vec![0; 48_000])).expect("write");
    let config = MfccConfig::paper();
    let f = extract_file(&path, &config).expect("silence decodes");
    let floor_db = 10.0 * (f64::from(config.amin) / f64::from(config.ref_power)).log10();
    let c0 = floor_db * (config.n_mels as f64).sqrt();
    for t in 0..f.n_frames {
        let row = f.frame(t);
        assert!(
            ((f64::from(row[0]) - c0) / c0).abs() < 1e-5,
            "frame {t}: c0 {} vs {c0}",
            row[0]
        );
        assert!(
            row[1..].iter().all(|v| v.abs() < 1e-3),
            "frame {t}: {row:?}"
        );
    }
}
