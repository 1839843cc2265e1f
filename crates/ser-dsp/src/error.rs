//! The one error type of this crate.
//!
//! Every variant that concerns a file carries its path, so a message printed for one bad file in a
//! folder of thousands says which one and why. Shape mismatches inside the kernels are bugs and
//! panic instead (documented under `# Panics` where they can happen).

use std::path::PathBuf;

use crate::resample::ResampleFailure;

/// Everything that can go wrong while reading a WAV file or computing its features.
#[derive(thiserror::Error, Debug)]
pub enum DspError {
    /// The file does not start with `RIFF....WAVE` (e.g. an AIFF or MP3 file renamed `.wav`).
    #[error("{path}: not a RIFF/WAVE file (starts with {found})")]
    NotWave {
        /// File being read.
        path: PathBuf,
        /// The first bytes found, escaped, with a guess at the real format when it is a known one.
        found: String,
    },

    /// The file ends before its header (RIFF chunks up to the start of the sample data) is complete.
    #[error("{path}: truncated WAV header ({reason})")]
    TruncatedHeader {
        /// File being read.
        path: PathBuf,
        /// What the reader was looking for when the bytes ran out.
        reason: String,
    },

    /// The header is complete but self-contradictory (e.g. a block size that is not a multiple of
    /// the channel count).
    #[error("{path}: malformed WAV header: {reason}")]
    MalformedHeader {
        /// File being read.
        path: PathBuf,
        /// The inconsistency found.
        reason: String,
    },

    /// The `data` chunk announces more bytes than the file holds.
    #[error("{path}: truncated sample data: the data chunk announces {expected} bytes, the file holds {got}")]
    TruncatedData {
        /// File being read.
        path: PathBuf,
        /// Bytes announced by the `data` chunk header.
        expected: u64,
        /// Bytes actually present after the chunk header.
        got: u64,
    },

    /// A valid header with an empty `data` chunk.
    #[error("{path}: the WAV file holds no samples")]
    NoSamples {
        /// File being read.
        path: PathBuf,
    },

    /// A sample encoding this crate does not decode (supported: PCM 8/16/24/32-bit, IEEE float 32).
    #[error("{path}: unsupported sample encoding {format} with {bits} bits per sample (supported: PCM 8/16/24/32-bit, IEEE float 32-bit)")]
    UnsupportedEncoding {
        /// File being read.
        path: PathBuf,
        /// Name of the WAVE format tag (`"PCM"`, `"IEEE float"`, `"A-law"`, `"format 0x0055"`, ...).
        format: String,
        /// Bits per sample stated in the `fmt ` chunk.
        bits: u16,
    },

    /// A float sample is NaN or infinite.
    #[error("{path}: sample {index} (interleaved index) is not finite ({value})")]
    NonFiniteSample {
        /// File being read.
        path: PathBuf,
        /// Index of the offending sample among all interleaved samples.
        index: usize,
        /// The value found.
        value: f32,
    },

    /// A float sample is finite but so large that its power spectrum would overflow `f32` (found by
    /// fuzzing: a float file with samples of 1e24 to 1e38 gave infinite features). Float WAV files normally
    /// hold `[-1, 1]`; some tools write integer-scaled floats (up to ±32768, or ±2^23), which stay
    /// well inside the limit [`crate::wav::MAX_ABS_SAMPLE`].
    #[error("{path}: sample {index} (interleaved index) is {value}, outside +-{limit} (float samples are expected in [-1, 1]; larger ones would overflow the power spectrum)")]
    SampleOutOfRange {
        /// File being read (`"<memory>"` when computed from a slice).
        path: PathBuf,
        /// Index of the offending sample (interleaved in a file, mono in a slice).
        index: usize,
        /// The value found.
        value: f32,
        /// The largest magnitude accepted, [`crate::wav::MAX_ABS_SAMPLE`].
        limit: f32,
    },

    /// Reading the file or listing a directory failed.
    #[error("{path}: {source}")]
    Io {
        /// File or directory being read.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The signal is too short for the framing (only with `center = false`, or empty input).
    #[error("{path}: signal of {len} samples is too short: at least {needed} are needed")]
    TooShort {
        /// File the signal came from (`"<memory>"` when computed from a slice).
        path: PathBuf,
        /// Samples given.
        len: usize,
        /// Samples needed for one frame.
        needed: usize,
    },

    /// Resampling to `MfccConfig::target_sample_rate` was refused or failed (see
    /// [`crate::resample`]: a rate of 0, rates too far apart, or an error of the resampler).
    #[error("{path}: cannot resample {from} Hz to {to} Hz: {reason}")]
    Resampling {
        /// File being read (`"<memory>"` when resampling a slice).
        path: PathBuf,
        /// The signal's rate.
        from: u32,
        /// The rate asked for.
        to: u32,
        /// What went wrong.
        reason: ResampleFailure,
    },

    /// `MfccConfig::from_preset` got a name it does not know.
    #[error("unknown MFCC preset {name:?}; known presets: {known:?}")]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The names that exist.
        known: &'static [&'static str],
    },

    /// A configuration value out of range for the sample rate it is used with.
    #[error("invalid MFCC configuration: {field} = {value} ({rule})")]
    InvalidConfig {
        /// Name of the offending field.
        field: &'static str,
        /// Its value, as given or as derived for this sample rate.
        value: String,
        /// The rule it breaks.
        rule: String,
    },
}

impl DspError {
    /// The file this error concerns, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            DspError::NotWave { path, .. }
            | DspError::TruncatedHeader { path, .. }
            | DspError::MalformedHeader { path, .. }
            | DspError::TruncatedData { path, .. }
            | DspError::NoSamples { path }
            | DspError::UnsupportedEncoding { path, .. }
            | DspError::NonFiniteSample { path, .. }
            | DspError::SampleOutOfRange { path, .. }
            | DspError::Io { path, .. }
            | DspError::TooShort { path, .. }
            | DspError::Resampling { path, .. } => Some(path),
            DspError::UnknownPreset { .. } | DspError::InvalidConfig { .. } => None,
        }
    }

    /// Replaces the path of a path-carrying error (used when a slice-level error is raised for a
    /// known file).
    pub(crate) fn with_path(mut self, file: &std::path::Path) -> Self {
        if let DspError::TooShort { path, .. }
        | DspError::NonFiniteSample { path, .. }
        | DspError::SampleOutOfRange { path, .. }
        | DspError::Resampling { path, .. } = &mut self
        {
            *path = file.to_path_buf();
        }
        self
    }
}
