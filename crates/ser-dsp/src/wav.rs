//! WAV decoding to mono `f32`, scaled as soundfile/librosa scale it.
//!
//! The header (RIFF chunk walk, `fmt ` parsing, extra chunks such as `LIST`, `bext`, `FLLR`) is
//! read by `hound`; the sample bytes are then converted in one pass over the in-memory `data`
//! chunk, which is several times faster than hound's per-sample iterator.
//!
//! Sample scaling (integer code `q`, `b` bits):
//!
//! ```text
//! PCM  8-bit (unsigned): x = (q - 128) / 128
//! PCM 16/24/32-bit:      x = q / 2^(b-1)
//! IEEE float 32:         x = q            (must be finite)
//! ```
//!
//! Channels are averaged, `mono[t] = (Σ_c x[t, c]) / C` in `f32`, as `numpy.mean(axis=1)` does.
//!
//! Float samples must be finite and at most [`MAX_ABS_SAMPLE`] in magnitude: the power spectrum of a
//! frame is bounded by `(n_fft · max|x|)²`, which must stay inside `f32` (2^24 leaves a factor of
//! 10^16 of headroom at n_fft = 4096).

use std::io::Cursor;
use std::path::Path;

use crate::error::DspError;
use crate::signal::{pcm16_lanes, pcm16_sample, Pcm16};

/// Largest sample magnitude accepted (2^24): [`decode_wav`] rejects a float file with a larger sample
/// ([`DspError::SampleOutOfRange`]), and so does [`crate::MfccExtractor::compute`] for a slice.
pub const MAX_ABS_SAMPLE: f32 = 16_777_216.0;

/// Mono audio, channels averaged, samples in `[-1, 1]` for integer formats.
#[derive(Clone, Debug, PartialEq)]
pub struct Audio {
    /// Samples `[n_samples]`.
    pub samples: Vec<f32>,
    /// Sampling rate in Hz, as stated in the file.
    pub sample_rate: u32,
}

impl Audio {
    /// Duration in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }
}

/// Reads and decodes the WAV file at `path` (the whole file is read into memory once).
pub fn read_wav(path: &Path) -> Result<Audio, DspError> {
    decode_wav(&read_bytes(path)?, path)
}

/// The whole file at `path`, or [`DspError::Io`] naming it.
pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, DspError> {
    std::fs::read(path).map_err(|source| DspError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Decodes WAV bytes; `name` is only used in error messages.
pub fn decode_wav(bytes: &[u8], name: &Path) -> Result<Audio, DspError> {
    parse_wav(bytes, name)?.decode(name)
}

/// A validated WAV file whose samples are not decoded yet: the `data` chunk's bytes and their format.
pub(crate) struct WavBody<'a> {
    data: &'a [u8],
    encoding: Encoding,
    channels: usize,
    sample_rate: u32,
}

impl<'a> WavBody<'a> {
    /// Sampling rate in Hz, as stated in the file.
    pub(crate) fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// The codes themselves when the file is 16-bit PCM with one channel, which the framing can read
    /// without decoding (integer codes need no finiteness check).
    pub(crate) fn pcm16_mono(&self) -> Option<Pcm16<'a>> {
        (self.encoding == Encoding::I16 && self.channels == 1).then(|| Pcm16::new(self.data))
    }

    /// Decoded mono samples: scaled, checked (float data) and averaged over channels.
    pub(crate) fn decode(self, name: &Path) -> Result<Audio, DspError> {
        let interleaved = self.encoding.decode(self.data);
        // Only float data can hold NaN, infinities or huge values; scaled integers are within [-1, 1].
        if self.encoding == Encoding::F32 {
            check_samples(&interleaved, name)?;
        }
        Ok(Audio {
            samples: average_channels(interleaved, self.channels),
            sample_rate: self.sample_rate,
        })
    }
}

/// Validates the header and locates the sample data: every error [`decode_wav`] reports except
/// those about sample values.
pub(crate) fn parse_wav<'a>(bytes: &'a [u8], name: &Path) -> Result<WavBody<'a>, DspError> {
    check_riff_magic(bytes, name)?;
    let reader =
        hound::WavReader::new(Cursor::new(bytes)).map_err(|e| map_hound_error(e, bytes, name))?;
    let spec = reader.spec();
    let n_interleaved = reader.len() as usize;
    let data_start = reader.into_inner().position() as usize;
    // hound leaves the cursor on the first data byte, right after the chunk's 4-byte length.
    let announced = match bytes.get(data_start.wrapping_sub(4)..data_start) {
        Some(&[a, b, c, d]) => u64::from(u32::from_le_bytes([a, b, c, d])),
        _ => {
            return Err(DspError::MalformedHeader {
                path: name.to_path_buf(),
                reason: "no data chunk header before the sample data".into(),
            })
        }
    };
    let present = (bytes.len() - data_start) as u64;
    if present < announced {
        return Err(DspError::TruncatedData {
            path: name.to_path_buf(),
            expected: announced,
            got: present,
        });
    }
    if n_interleaved == 0 {
        return Err(DspError::NoSamples {
            path: name.to_path_buf(),
        });
    }
    let bytes_per_sample = (announced / n_interleaved as u64) as usize;
    let encoding = Encoding::from_spec(spec.sample_format, spec.bits_per_sample, bytes_per_sample)
        .ok_or_else(|| DspError::UnsupportedEncoding {
            path: name.to_path_buf(),
            format: match spec.sample_format {
                hound::SampleFormat::Int => "PCM".to_string(),
                hound::SampleFormat::Float => "IEEE float".to_string(),
            },
            bits: spec.bits_per_sample,
        })?;
    Ok(WavBody {
        data: &bytes[data_start..data_start + n_interleaved * bytes_per_sample],
        encoding,
        channels: usize::from(spec.channels),
        sample_rate: spec.sample_rate,
    })
}

/// The first sample that is not finite ([`DspError::NonFiniteSample`]) or larger in magnitude than
/// [`MAX_ABS_SAMPLE`] ([`DspError::SampleOutOfRange`]), as an error naming `name`.
pub(crate) fn check_samples(samples: &[f32], name: &Path) -> Result<(), DspError> {
    if !any_out_of_range(samples) {
        return Ok(());
    }
    let Some(index) = samples
        .iter()
        .position(|x| !x.is_finite() || x.abs() > MAX_ABS_SAMPLE)
    else {
        return Ok(());
    };
    let value = samples[index];
    Err(if value.is_finite() {
        DspError::SampleOutOfRange {
            path: name.to_path_buf(),
            index,
            value,
            limit: MAX_ABS_SAMPLE,
        }
    } else {
        DspError::NonFiniteSample {
            path: name.to_path_buf(),
            index,
            value,
        }
    })
}

/// Whether some sample is NaN, ±∞ or larger in magnitude than [`MAX_ABS_SAMPLE`]:
/// `max_i (bits(x_i) & 0x7fff_ffff) > bits(MAX_ABS_SAMPLE)`.
///
/// IEEE-754 magnitudes order like their bit patterns read as unsigned integers, and ∞ and every NaN
/// sort above all finite values, so one branch-free integer maximum (eight lanes, vectorised by the
/// compiler) decides; the caller then scans for the first offending index only when there is one.
fn any_out_of_range(samples: &[f32]) -> bool {
    const MAGNITUDE: u32 = 0x7fff_ffff;
    let mut lanes = [0u32; 8];
    let chunks = samples.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (lane, x) in lanes.iter_mut().zip(chunk) {
            *lane = (*lane).max(x.to_bits() & MAGNITUDE);
        }
    }
    let largest = tail
        .iter()
        .map(|x| x.to_bits() & MAGNITUDE)
        .chain(lanes)
        .max()
        .unwrap_or(0);
    largest > MAX_ABS_SAMPLE.to_bits()
}

/// The sample encodings this crate decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    U8,
    I16,
    I24,
    I32,
    F32,
}

impl Encoding {
    fn from_spec(format: hound::SampleFormat, bits: u16, bytes_per_sample: usize) -> Option<Self> {
        match (format, bits, bytes_per_sample) {
            (hound::SampleFormat::Int, 8, 1) => Some(Encoding::U8),
            (hound::SampleFormat::Int, 16, 2) => Some(Encoding::I16),
            (hound::SampleFormat::Int, 24, 3) => Some(Encoding::I24),
            (hound::SampleFormat::Int, 32, 4) => Some(Encoding::I32),
            (hound::SampleFormat::Float, 32, 4) => Some(Encoding::F32),
            _ => None,
        }
    }

    /// Converts little-endian sample bytes `[n * width]` to scaled `f32` `[n]`.
    fn decode(self, data: &[u8]) -> Vec<f32> {
        match self {
            Encoding::U8 => data
                .iter()
                .map(|&q| (f32::from(q) - 128.0) / 128.0)
                .collect(),
            Encoding::I16 => decode_i16(data),
            Encoding::I24 => {
                const SCALE: f32 = 1.0 / 8_388_608.0;
                data.chunks_exact(3)
                    // Place the 3 bytes in the top of an i32, then shift back to sign-extend.
                    .map(|c| (i32::from_le_bytes([0, c[0], c[1], c[2]]) >> 8) as f32 * SCALE)
                    .collect()
            }
            Encoding::I32 => {
                const SCALE: f32 = 1.0 / 2_147_483_648.0;
                data.chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32 * SCALE)
                    .collect()
            }
            Encoding::F32 => data
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        }
    }
}

/// 16-bit little-endian PCM to `x = q / 32768`, `data: [2n]` bytes to `[n]` samples: blocks of
/// eight through [`pcm16_lanes`] (the compiler's own vectorisation of the byte-pair loop assembled each
/// vector one 16-bit insert at a time), the tail through the scalar reference [`pcm16_sample`].
fn decode_i16(data: &[u8]) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.len() / 2);
    let mut blocks = data.chunks_exact(16);
    for src in blocks.by_ref() {
        out.extend_from_slice(&pcm16_lanes(src).to_array());
    }
    out.extend(
        blocks
            .remainder()
            .chunks_exact(2)
            .map(|c| pcm16_sample([c[0], c[1]])),
    );
    out
}

/// Averages interleaved `[n_frames, channels]` samples to mono `[n_frames]`.
fn average_channels(interleaved: Vec<f32>, channels: usize) -> Vec<f32> {
    if channels == 1 {
        return interleaved;
    }
    let inv = channels as f32;
    interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().fold(0.0f32, |acc, &x| acc + x) / inv)
        .collect()
}

/// Rejects anything that does not start with `RIFF????WAVE`, naming what it looks like.
fn check_riff_magic(bytes: &[u8], name: &Path) -> Result<(), DspError> {
    let not_wave = |found: &[u8]| DspError::NotWave {
        path: name.to_path_buf(),
        found: describe_magic(found),
    };
    let head = &bytes[..bytes.len().min(4)];
    if !b"RIFF".starts_with(head) {
        return Err(not_wave(head));
    }
    if bytes.len() >= 12 && &bytes[8..12] != b"WAVE" {
        return Err(not_wave(&bytes[..12]));
    }
    if bytes.len() < 12 {
        return Err(DspError::TruncatedHeader {
            path: name.to_path_buf(),
            reason: format!(
                "{} bytes, the RIFF/WAVE preamble alone needs 12",
                bytes.len()
            ),
        });
    }
    Ok(())
}

/// Escapes the first bytes of a file and names the format they suggest, if known.
fn describe_magic(found: &[u8]) -> String {
    let escaped: String = found
        .iter()
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    let guess = if found.starts_with(b"FORM") {
        " (an AIFF/IFF file?)"
    } else if found.starts_with(b"ID3")
        || (found.len() >= 2 && found[0] == 0xFF && found[1] & 0xE0 == 0xE0)
    {
        " (an MP3 file?)"
    } else if found.starts_with(b"fLaC") {
        " (a FLAC file?)"
    } else if found.starts_with(b"OggS") {
        " (an Ogg file?)"
    } else if found.starts_with(b"RIFF") {
        " (a RIFF file of another type)"
    } else if found.is_empty() {
        " (an empty file)"
    } else {
        ""
    };
    format!("\"{escaped}\"{guess}")
}

/// Turns a hound header error into ours; `bytes` is re-scanned to name the format tag and bits.
fn map_hound_error(err: hound::Error, bytes: &[u8], name: &Path) -> DspError {
    let path = name.to_path_buf();
    match err {
        hound::Error::IoError(e) => DspError::TruncatedHeader {
            path,
            reason: format!(
                "ran out of bytes while reading the chunks before the sample data ({e})"
            ),
        },
        hound::Error::Unsupported
        | hound::Error::FormatError("bits per sample is not 32")
        | hound::Error::FormatError("bits per sample is not 8 or 16") => {
            let (tag, bits) = scan_fmt_chunk(bytes).unwrap_or((0, 0));
            DspError::UnsupportedEncoding {
                path,
                format: format_tag_name(tag),
                bits,
            }
        }
        hound::Error::FormatError(reason) => DspError::MalformedHeader {
            path,
            reason: reason.to_string(),
        },
        other => DspError::MalformedHeader {
            path,
            reason: other.to_string(),
        },
    }
}

/// Walks the RIFF chunks to the `fmt ` chunk: `(format_tag, bits_per_sample)`.
fn scan_fmt_chunk(bytes: &[u8]) -> Option<(u16, u16)> {
    let mut pos = 12usize;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().ok()?) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            let fmt = bytes.get(body..body + 16)?;
            let tag = u16::from_le_bytes([fmt[0], fmt[1]]);
            let bits = u16::from_le_bytes([fmt[14], fmt[15]]);
            return Some((tag, bits));
        }
        pos = body.checked_add(len)?.checked_add(len % 2)?;
    }
    None
}

fn format_tag_name(tag: u16) -> String {
    match tag {
        0x0001 => "PCM".into(),
        0x0002 => "MS ADPCM".into(),
        0x0003 => "IEEE float".into(),
        0x0006 => "A-law".into(),
        0x0007 => "mu-law".into(),
        0x0011 => "IMA ADPCM".into(),
        0x0055 => "MPEG layer 3".into(),
        0xFFFE => "WAVE_FORMAT_EXTENSIBLE (unknown sub-format)".into(),
        other => format!("format 0x{other:04X}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The scalar definition that [`any_out_of_range`] must agree with.
    fn reference(samples: &[f32]) -> bool {
        samples
            .iter()
            .any(|x| !x.is_finite() || x.abs() > MAX_ABS_SAMPLE)
    }

    #[test]
    fn bit_maximum_flags_exactly_the_bad_values() {
        let edge = [
            0.0,
            -0.0,
            MAX_ABS_SAMPLE,
            -MAX_ABS_SAMPLE,
            f32::from_bits(MAX_ABS_SAMPLE.to_bits() + 1),
            -f32::from_bits(MAX_ABS_SAMPLE.to_bits() + 1),
            f32::MAX,
            f32::MIN_POSITIVE,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            -f32::NAN,
        ];
        for &value in &edge {
            // At every position of a block longer than one lane group, including the tail.
            for position in 0..19 {
                let mut samples = vec![0.25f32; 19];
                samples[position] = value;
                assert_eq!(
                    any_out_of_range(&samples),
                    reference(&samples),
                    "value {value:e} at {position}"
                );
            }
        }
        assert!(!any_out_of_range(&[]));
    }

    proptest! {
        #[test]
        fn i16_blocks_decode_like_the_definition(
            bytes in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            let even = &bytes[..bytes.len() / 2 * 2];
            let reference: Vec<f32> = even
                .chunks_exact(2)
                .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
                .collect();
            prop_assert_eq!(decode_i16(even), reference);
        }

        #[test]
        fn bit_maximum_matches_the_scalar_predicate(
            bits in proptest::collection::vec(any::<u32>(), 0..70),
        ) {
            let samples: Vec<f32> = bits.into_iter().map(f32::from_bits).collect();
            prop_assert_eq!(any_out_of_range(&samples), reference(&samples));
        }
    }
}
