//! The MFCC pipeline: power STFT → mel filterbank → dB (clipped per utterance) → DCT-II, plus
//! the optional deltas and chroma.
//!
//! ```text
//! S[t, k]  = |STFT(x)[t, k]|²                       [T, N/2+1]   (crate::stft)
//! E[t, m]  = Σ_k W[m, k] · S[t, k]                  [T, M]       (crate::mel)
//! D[t, m]  = power_to_db(E)[t, m]                   [T, M]       (crate::db, top_db over all t)
//! C[t, j]  = Σ_m DCT[j, m] · D[t, m]                [T, n_mfcc]  (crate::dct)
//! Δ, ΔΔ    = Savitzky–Golay derivatives of C along t [T, n_mfcc] (crate::deltas, optional)
//! H[t, c]  = max-normalised Σ_k F[c, k] · S[t, k]   [T, 12]      (crate::chroma, optional)
//! ```
//!
//! Output is time-major, `[n_frames, n_features]` row-major with the columns
//! `[C | Δ | ΔΔ | H]` (absent blocks skipped, see [`MfccConfig::n_features`]); the MFCC block is
//! librosa's `[n_mfcc, n_frames]` transposed. The chroma uses the very power frames `S` the MFCC
//! uses, so its frames align 1:1 with the MFCC frames. A [`MfccPlan`] holds everything that
//! depends only on the configuration and the sample rate (FFT plan, window, filterbanks, DCT
//! matrix) and is shared between threads; an [`MfccExtractor`] adds the per-thread scratch, so
//! computing a frame allocates nothing.

use std::path::Path;
use std::sync::Arc;

use crate::chroma::{ChromaFilterbank, N_CHROMA};
use crate::config::{MfccConfig, Resolved};
use crate::db::PowerToDb;
use crate::dct::Dct2;
use crate::deltas::{delta_into, DELTA_WIDTH};
use crate::error::DspError;
use crate::mel::{MelFilterbank, MelParams};
use crate::resample::to_target_rate;
use crate::signal::Signal;
use crate::stft::{Framing, PowerStft, StftScratch};
use crate::wav::{parse_wav, read_bytes};

/// Features of one clip, time-major: `data: [n_frames, n_coeffs]` row-major, columns
/// `[mfcc | Δ | ΔΔ | chroma]` as configured.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    /// Number of frames `T`.
    pub n_frames: usize,
    /// Values per frame, [`MfccConfig::n_features`] (= `n_mfcc` without deltas and chroma).
    pub n_coeffs: usize,
    /// `[n_frames, n_coeffs]` row-major.
    pub data: Vec<f32>,
}

impl Features {
    /// Values of frame `t`, `[n_coeffs]`.
    ///
    /// # Panics
    /// If `t >= n_frames`.
    pub fn frame(&self, t: usize) -> &[f32] {
        &self.data[t * self.n_coeffs..(t + 1) * self.n_coeffs]
    }
}

/// Everything precomputed for one configuration at one sample rate; immutable, shared by threads.
#[derive(Debug)]
pub struct MfccPlan {
    resolved: Resolved,
    stft: PowerStft,
    mel: MelFilterbank,
    db: PowerToDb,
    dct: Dct2,
    /// Derivative orders appended after the MFCC: 0, 1 or 2.
    deltas: usize,
    chroma: Option<ChromaFilterbank>,
}

impl MfccPlan {
    /// Validates `config` for `sample_rate` and plans every stage.
    pub fn new(config: &MfccConfig, sample_rate: u32) -> Result<Self, DspError> {
        let resolved = config.resolve(sample_rate)?;
        let framing = Framing {
            n_fft: resolved.n_fft,
            hop_length: resolved.hop_length,
            center: config.center,
        };
        Ok(Self {
            resolved,
            stft: PowerStft::new(framing, resolved.win_length, config.window),
            mel: MelFilterbank::new(&MelParams {
                sample_rate,
                n_fft: resolved.n_fft,
                n_mels: config.n_mels,
                fmin: f64::from(config.fmin),
                fmax: resolved.fmax,
                scale: config.mel_scale,
                norm: config.mel_norm,
            }),
            db: PowerToDb {
                reference: config.ref_power,
                amin: config.amin,
                top_db: config.top_db,
            },
            dct: Dct2::new(config.n_mels, config.n_mfcc, f64::from(config.lifter)),
            deltas: usize::from(config.deltas),
            chroma: config
                .chroma
                .then(|| ChromaFilterbank::new(sample_rate, resolved.n_fft, 0.0)),
        })
    }

    /// The parameters resolved for this sample rate.
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }

    /// The STFT stage.
    pub fn stft(&self) -> &PowerStft {
        &self.stft
    }

    /// The mel stage.
    pub fn mel(&self) -> &MelFilterbank {
        &self.mel
    }

    /// The dB stage.
    pub fn db(&self) -> &PowerToDb {
        &self.db
    }

    /// The DCT stage.
    pub fn dct(&self) -> &Dct2 {
        &self.dct
    }

    /// The chroma stage, if configured.
    pub fn chroma(&self) -> Option<&ChromaFilterbank> {
        self.chroma.as_ref()
    }

    /// Derivative orders appended after the MFCC (0, 1 or 2).
    pub fn deltas(&self) -> usize {
        self.deltas
    }

    /// Values per output frame: `n_mfcc · (1 + deltas) + (12 if chroma)`.
    pub fn n_features(&self) -> usize {
        self.dct.n_out() * (1 + self.deltas) + self.chroma.as_ref().map_or(0, |_| N_CHROMA)
    }
}

/// A plan plus this thread's scratch buffers.
pub struct MfccExtractor {
    plan: Arc<MfccPlan>,
    stft_scratch: StftScratch,
    power: Vec<f32>,
    mel_db: Vec<f32>,
    /// `[n_frames, 12]` chroma of the last [`Self::mel_db`] call (empty without chroma).
    chroma: Vec<f32>,
    /// `[n_frames, n_mfcc]` contiguous MFCC, the input of the deltas (empty without deltas).
    mfcc: Vec<f32>,
}

impl MfccExtractor {
    /// Plans the pipeline for `config` at `sample_rate`.
    pub fn new(config: &MfccConfig, sample_rate: u32) -> Result<Self, DspError> {
        Ok(Self::from_plan(Arc::new(MfccPlan::new(
            config,
            sample_rate,
        )?)))
    }

    /// An extractor over a shared plan, with fresh scratch.
    pub fn from_plan(plan: Arc<MfccPlan>) -> Self {
        Self {
            stft_scratch: plan.stft.make_scratch(),
            power: vec![0.0; plan.stft.n_bins()],
            mel_db: Vec::new(),
            chroma: Vec::new(),
            mfcc: Vec::new(),
            plan,
        }
    }

    /// The shared plan.
    pub fn plan(&self) -> &Arc<MfccPlan> {
        &self.plan
    }

    /// Log-mel spectrogram in dB, clipped to `top_db` below the utterance maximum,
    /// `[n_frames, n_mels]` row-major. Valid until the next call. With chroma configured, the
    /// chromagram of the same frames is computed in the same pass (see [`Self::compute`]).
    /// Errors as [`Self::compute`].
    pub fn mel_db(&mut self, samples: &[f32]) -> Result<(usize, &[f32]), DspError> {
        crate::wav::check_samples(samples, Path::new("<memory>"))?;
        self.mel_db_of_valid(samples)
    }

    /// [`Self::mel_db`] of samples already known to be finite and within
    /// [`crate::wav::MAX_ABS_SAMPLE`] (the output of [`crate::read_wav`] and of resampling it): the scan
    /// for bad samples is skipped, which on a decoded file would re-read every sample from memory.
    fn mel_db_of_valid<S: Signal + ?Sized>(
        &mut self,
        samples: &S,
    ) -> Result<(usize, &[f32]), DspError> {
        let plan = &*self.plan;
        let framing = plan.stft.framing();
        let n_frames = framing
            .n_frames(samples.len())
            .ok_or_else(|| DspError::TooShort {
                path: "<memory>".into(),
                len: samples.len(),
                needed: framing.min_len(),
            })?;
        let n_mels = plan.mel.n_mels();
        self.mel_db.clear();
        self.mel_db.resize(n_frames * n_mels, 0.0);
        match &plan.chroma {
            None => {
                for (t, row) in self.mel_db.chunks_exact_mut(n_mels).enumerate() {
                    plan.stft
                        .frame_power(samples, t, &mut self.stft_scratch, &mut self.power);
                    plan.mel.apply(&self.power, row);
                    plan.db.to_db(row);
                }
            }
            Some(chroma) => {
                self.chroma.clear();
                self.chroma.resize(n_frames * N_CHROMA, 0.0);
                let rows = self
                    .mel_db
                    .chunks_exact_mut(n_mels)
                    .zip(self.chroma.chunks_exact_mut(N_CHROMA));
                for (t, (row, chroma_row)) in rows.enumerate() {
                    plan.stft
                        .frame_power(samples, t, &mut self.stft_scratch, &mut self.power);
                    plan.mel.apply(&self.power, row);
                    plan.db.to_db(row);
                    chroma.apply(&self.power, chroma_row);
                }
            }
        }
        plan.db.clip(&mut self.mel_db);
        Ok((n_frames, &self.mel_db))
    }

    /// Features of `samples` (mono, at the plan's sample rate): `[n_frames, n_features]`
    /// row-major, columns `[mfcc | Δ | ΔΔ | chroma]` as configured (module docs).
    ///
    /// Errors with [`DspError::TooShort`] if the signal has no complete frame, with
    /// [`DspError::NonFiniteSample`] or [`DspError::SampleOutOfRange`] for a sample that is not
    /// finite or exceeds [`crate::wav::MAX_ABS_SAMPLE`] in magnitude (which would give non-finite
    /// features).
    pub fn compute(&mut self, samples: &[f32]) -> Result<Features, DspError> {
        crate::wav::check_samples(samples, Path::new("<memory>"))?;
        self.compute_valid(samples)
    }

    /// [`Self::compute`] of samples already known to be finite and within
    /// [`crate::wav::MAX_ABS_SAMPLE`]: those of an [`Audio`](crate::wav::Audio) from
    /// [`crate::read_wav`] (integer PCM scales into ±1, float data was checked) and of
    /// `resample::to_target_rate` (which checks what it produces).
    pub(crate) fn compute_valid<S: Signal + ?Sized>(
        &mut self,
        samples: &S,
    ) -> Result<Features, DspError> {
        let (n_frames, _) = self.mel_db_of_valid(samples)?;
        let plan = &*self.plan;
        let dct = &plan.dct;
        let (n_mels, n_mfcc) = (dct.n_in(), dct.n_out());
        let width = plan.n_features();
        let mut data = vec![0.0f32; n_frames * width];
        for (src, dst) in self
            .mel_db
            .chunks_exact(n_mels)
            .zip(data.chunks_exact_mut(width))
        {
            dct.apply(src, &mut dst[..n_mfcc]);
        }
        if plan.deltas > 0 {
            self.mfcc.clear();
            for row in data.chunks_exact(width) {
                self.mfcc.extend_from_slice(&row[..n_mfcc]);
            }
            for order in 1..=plan.deltas {
                let out = &mut data[order * n_mfcc..];
                delta_into(&self.mfcc, n_mfcc, order, DELTA_WIDTH, out, width);
            }
        }
        if plan.chroma.is_some() {
            for (src, dst) in self
                .chroma
                .chunks_exact(N_CHROMA)
                .zip(data.chunks_exact_mut(width))
            {
                dst[width - N_CHROMA..].copy_from_slice(src);
            }
        }
        Ok(Features {
            n_frames,
            n_coeffs: width,
            data,
        })
    }
}

/// Reads `path` and computes its features (`[n_frames, config.n_features()]`) with `config`, at
/// `config.target_sample_rate` if set (resampling the file when its rate differs, see
/// [`crate::resample`]), else at the file's own rate.
///
/// Errors name the file: decoding errors, [`DspError::Resampling`], [`DspError::TooShort`].
pub fn extract_file(path: &Path, config: &MfccConfig) -> Result<Features, DspError> {
    let mut extractor = None;
    file_features(path, config, |rate| {
        Ok(extractor.insert(MfccExtractor::new(config, rate)?))
    })
}

/// Reads `path` and computes its features with the extractor `extractor_for(rate)` gives for the rate
/// they are computed at (the file's, or `config.target_sample_rate`). A 16-bit mono file that needs no
/// resampling is framed straight from its PCM codes ([`crate::signal::Pcm16`]), bit-identical to
/// decoding it first; every other file is decoded (and resampled) into `f32`.
///
/// Errors name the file: reading, decoding, resampling, and [`DspError::TooShort`].
pub(crate) fn file_features<'e>(
    path: &Path,
    config: &MfccConfig,
    extractor_for: impl FnOnce(u32) -> Result<&'e mut MfccExtractor, DspError>,
) -> Result<Features, DspError> {
    let bytes = read_bytes(path)?;
    let body = parse_wav(&bytes, path)?;
    let rate = body.sample_rate();
    let needs_resampling = config
        .target_sample_rate
        .is_some_and(|target| target != rate);
    let features = match body.pcm16_mono() {
        Some(codes) if !needs_resampling => extractor_for(rate)?.compute_valid(&codes),
        _ => {
            let audio = to_target_rate(body.decode(path)?, config.target_sample_rate, path)?;
            extractor_for(audio.sample_rate)?.compute_valid(audio.samples.as_slice())
        }
    };
    features.map_err(|e| e.with_path(path))
}
