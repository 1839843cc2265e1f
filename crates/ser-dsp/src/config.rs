//! MFCC configuration and the two named presets.
//!
//! Defaults follow `librosa.feature.mfcc` (librosa ≥ 0.10): `win_length = n_fft`,
//! `hop_length = win_length / 4`, periodic Hann, `center = true` with zero padding, 128 Slaney
//! mel bands with Slaney normalisation from 0 Hz to `sr / 2`, `power_to_db(ref = 1, amin = 1e-10,
//! top_db = 80)`, orthonormal DCT-II, no lifter. Lengths given in seconds are converted with
//! `floor(seconds · sr)`, as Python's `int(0.025 * sr)` does.
//!
//! Optional extra columns, off in both presets: MFCC deltas ([`crate::deltas`]) and a 12-bin
//! chromagram ([`crate::chroma`]). A frame's features are then
//! `[mfcc (n_mfcc) | Δ (n_mfcc, deltas ≥ 1) | ΔΔ (n_mfcc, deltas = 2) | chroma (12, chroma)]`,
//! [`MfccConfig::n_features`] wide. Both fields are left out of the JSON when off, so a
//! configuration without them serialises exactly as before they existed (models and feature-cache
//! keys hash that JSON).

use serde::{Deserialize, Serialize};

use crate::error::DspError;
use crate::mel::{MelNorm, MelScale};
use crate::window::WindowKind;

/// A length in samples, or in seconds converted at the signal's own rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Span {
    /// A fixed number of samples.
    Samples(usize),
    /// Seconds; `floor(seconds · sample_rate)` samples.
    Seconds(f64),
}

impl Span {
    /// Length in samples at `sample_rate`.
    pub fn to_samples(self, sample_rate: u32) -> usize {
        match self {
            Span::Samples(n) => n,
            Span::Seconds(s) => (s * f64::from(sample_rate)).floor().max(0.0) as usize,
        }
    }
}

/// Every parameter of the MFCC pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MfccConfig {
    /// Coefficients kept per frame.
    pub n_mfcc: usize,
    /// FFT size.
    pub n_fft: usize,
    /// Window length; `None` = `n_fft`.
    pub win_length: Option<Span>,
    /// Hop between frames; `None` = `win_length / 4`.
    pub hop_length: Option<Span>,
    /// Window shape.
    pub window: WindowKind,
    /// Centre frames with `n_fft / 2` zeros of padding on each side.
    pub center: bool,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Lowest mel edge, Hz.
    pub fmin: f32,
    /// Highest mel edge, Hz; `None` = `sr / 2`.
    pub fmax: Option<f32>,
    /// Mel scale.
    pub mel_scale: MelScale,
    /// Mel filter normalisation.
    pub mel_norm: MelNorm,
    /// `power_to_db` reference.
    pub ref_power: f32,
    /// `power_to_db` floor, > 0.
    pub amin: f32,
    /// `power_to_db` dynamic range below the utterance maximum; `None` = unclipped.
    pub top_db: Option<f32>,
    /// Cepstral lifter `L` (0 = none).
    pub lifter: f32,
    /// Resample to this rate (Hz) before framing, when a file's rate differs ([`crate::resample`]);
    /// `None` (the presets) keeps each file's native rate. Lengths in seconds and `fmax = None`
    /// then resolve at this rate.
    pub target_sample_rate: Option<u32>,
    /// MFCC time derivatives appended to each frame: 0 = none, 1 = Δ, 2 = Δ and ΔΔ
    /// (`librosa.feature.delta(width=9, order=1|2)`, see [`crate::deltas`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub deltas: u8,
    /// Append the 12-bin chromagram of the same power frames (`librosa.feature.chroma_stft`
    /// with `tuning=0`, see [`crate::chroma`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub chroma: bool,
}

fn is_zero(v: &u8) -> bool {
    *v == 0
}

/// Parameters resolved for one sample rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resolved {
    /// Sampling rate, Hz.
    pub sample_rate: u32,
    /// FFT size.
    pub n_fft: usize,
    /// Window length in samples.
    pub win_length: usize,
    /// Hop in samples.
    pub hop_length: usize,
    /// Highest mel edge, Hz.
    pub fmax: f64,
}

const PRESETS: &[&str] = &["paper", "25ms"];

impl MfccConfig {
    /// The paper's features: librosa `mfcc(n_mfcc=34, n_fft=4096, hop_length=2048)` at the
    /// native rate, librosa defaults otherwise.
    pub fn paper() -> Self {
        Self {
            n_mfcc: 34,
            n_fft: 4096,
            win_length: None,
            hop_length: Some(Span::Samples(2048)),
            window: WindowKind::Hann,
            center: true,
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            mel_scale: MelScale::Slaney,
            mel_norm: MelNorm::Slaney,
            ref_power: 1.0,
            amin: 1e-10,
            top_db: Some(80.0),
            lifter: 0.0,
            target_sample_rate: None,
            deltas: 0,
            chroma: false,
        }
    }

    /// Speech-style features: n_fft 2048, 25 ms Hann window, 10 ms hop, 40 mel bands,
    /// `center = false`, 34 coefficients (as `../shared/peers/mfcc_bench.py`).
    pub fn preset_25ms() -> Self {
        Self {
            n_fft: 2048,
            win_length: Some(Span::Seconds(0.025)),
            hop_length: Some(Span::Seconds(0.010)),
            center: false,
            n_mels: 40,
            ..Self::paper()
        }
    }

    /// A preset by name: `"paper"` or `"25ms"`.
    pub fn from_preset(name: &str) -> Result<Self, DspError> {
        match name {
            "paper" => Ok(Self::paper()),
            "25ms" => Ok(Self::preset_25ms()),
            _ => Err(DspError::UnknownPreset {
                name: name.to_string(),
                known: PRESETS,
            }),
        }
    }

    /// Names accepted by [`Self::from_preset`].
    pub fn preset_names() -> &'static [&'static str] {
        PRESETS
    }

    /// MFCC coefficients per frame (the first columns of a frame's features).
    pub fn n_mfcc(&self) -> usize {
        self.n_mfcc
    }

    /// Feature columns per frame: `n_mfcc · (1 + deltas) + (12 if chroma)`, in the order
    /// `[mfcc | Δ | ΔΔ | chroma]` (module docs).
    pub fn n_features(&self) -> usize {
        self.n_mfcc * (1 + usize::from(self.deltas))
            + if self.chroma {
                crate::chroma::N_CHROMA
            } else {
                0
            }
    }

    /// Checks every field and resolves lengths and `fmax` for `sample_rate`.
    pub fn resolve(&self, sample_rate: u32) -> Result<Resolved, DspError> {
        let invalid = |field: &'static str, value: String, rule: &str| DspError::InvalidConfig {
            field,
            value,
            rule: rule.to_string(),
        };
        if sample_rate == 0 {
            return Err(invalid("sample_rate", "0".into(), "must be positive"));
        }
        if self.target_sample_rate == Some(0) {
            return Err(invalid(
                "target_sample_rate",
                "0".into(),
                "must be positive",
            ));
        }
        if self.n_fft < 2 {
            return Err(invalid(
                "n_fft",
                self.n_fft.to_string(),
                "must be at least 2",
            ));
        }
        let win_length = self
            .win_length
            .map_or(self.n_fft, |s| s.to_samples(sample_rate));
        if win_length == 0 || win_length > self.n_fft {
            return Err(invalid(
                "win_length",
                win_length.to_string(),
                &format!("must be in 1..={} (n_fft) at {sample_rate} Hz", self.n_fft),
            ));
        }
        let hop_length = self
            .hop_length
            .map_or(win_length / 4, |s| s.to_samples(sample_rate));
        if hop_length == 0 {
            return Err(invalid(
                "hop_length",
                "0".into(),
                &format!("must be positive at {sample_rate} Hz"),
            ));
        }
        if self.n_mels == 0 {
            return Err(invalid("n_mels", "0".into(), "must be positive"));
        }
        if self.n_mfcc == 0 || self.n_mfcc > self.n_mels {
            return Err(invalid(
                "n_mfcc",
                self.n_mfcc.to_string(),
                &format!("must be in 1..={} (n_mels)", self.n_mels),
            ));
        }
        let fmax = self.fmax.map_or(f64::from(sample_rate) / 2.0, f64::from);
        if !(self.fmin >= 0.0 && f64::from(self.fmin) < fmax && fmax.is_finite()) {
            return Err(invalid(
                "fmin/fmax",
                format!("{}/{fmax}", self.fmin),
                "need 0 <= fmin < fmax, both finite",
            ));
        }
        if !(self.amin > 0.0 && self.amin.is_finite()) {
            return Err(invalid(
                "amin",
                self.amin.to_string(),
                "must be positive and finite",
            ));
        }
        if !(self.ref_power >= 0.0 && self.ref_power.is_finite()) {
            return Err(invalid(
                "ref_power",
                self.ref_power.to_string(),
                "must be >= 0 and finite",
            ));
        }
        if let Some(top) = self.top_db {
            if !(top >= 0.0 && top.is_finite()) {
                return Err(invalid(
                    "top_db",
                    top.to_string(),
                    "must be >= 0 and finite",
                ));
            }
        }
        if !(self.lifter >= 0.0 && self.lifter.is_finite()) {
            return Err(invalid(
                "lifter",
                self.lifter.to_string(),
                "must be >= 0 and finite",
            ));
        }
        if self.deltas > 2 {
            return Err(invalid(
                "deltas",
                self.deltas.to_string(),
                "must be 0 (none), 1 (delta) or 2 (delta and delta-delta)",
            ));
        }
        Ok(Resolved {
            sample_rate,
            n_fft: self.n_fft,
            win_length,
            hop_length,
            fmax,
        })
    }
}
