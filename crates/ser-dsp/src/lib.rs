//! WAV decoding and an MFCC front end that reproduces `librosa.feature.mfcc` (librosa ≥ 0.10).
//!
//! Stages, one module each, with the equation in the module docs:
//! [`wav`] (decode, average channels) → [`resample`](mod@resample) (only for a
//! `target_sample_rate` other than the file's) → [`stft`] (frames read through [`signal`], window
//! from [`window`], `|FFT|²`, the real-FFT unpacking in `unpack`) → [`mel`] (filterbank) → [`db`]
//! (`power_to_db`, clipped per utterance) → [`dct`]
//! (DCT-II ortho, lifter) — assembled in [`mfcc`], configured in [`config`], run over folders in
//! [`batch`].
//! Optional extra columns per frame: MFCC deltas ([`deltas`], `librosa.feature.delta`) and a
//! 12-bin chromagram of the same power frames ([`chroma`], `librosa.feature.chroma_stft`).
//!
//! Conventions: samples are `f32` in `[-1, 1]` (integer PCM divided by `2^(bits-1)`); matrices
//! are row-major and time-major (`[n_frames, n_features]`), i.e. librosa's layout transposed;
//! spectra are power (`|X|²`), not magnitude; no pre-emphasis. Every error is a [`DspError`]
//! naming the file concerned. Features are computed at the file's own rate (librosa's `sr=None`)
//! unless `target_sample_rate` asks for another; the signal is then resampled first
//! ([`resample`](mod@resample): band-limited, time-aligned, `ceil(n · r / rate)` samples as
//! `librosa.resample`). A 16-bit mono file at the rate wanted is framed straight from its PCM codes
//! ([`signal::Pcm16`]), bit-identical to decoding it first.

pub mod batch;
pub mod chroma;
pub mod config;
pub mod db;
pub mod dct;
pub mod deltas;
mod dot;
pub mod error;
pub mod kernel;
pub mod mel;
pub mod mfcc;
pub mod resample;
pub mod signal;
pub mod stft;
mod unpack;
pub mod wav;
pub mod window;

pub use batch::{extract_files, find_wavs};
pub use config::{MfccConfig, Span};
pub use error::DspError;
pub use kernel::Kernel;
pub use mel::{MelNorm, MelScale};
pub use mfcc::{extract_file, Features, MfccExtractor, MfccPlan};
pub use resample::ResampleFailure;
pub use wav::{decode_wav, read_wav, Audio, MAX_ABS_SAMPLE};
pub use window::WindowKind;
