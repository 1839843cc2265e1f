//! Band-limited resampling of a mono signal to another rate, the first stage of the pipeline when
//! [`MfccConfig::target_sample_rate`](crate::MfccConfig::target_sample_rate) differs from a
//! file's rate.
//!
//! ```text
//! x : [n]                              at rate_in
//! y : [ceil(n · rate_out / rate_in)]   at rate_out      (librosa.resample(fix=True) length)
//! y[m] = Σ_n x[n] · h(m · rate_in / rate_out − n)      n over 0..n: silence outside the clip
//! ```
//!
//! `h(t)` (`t` in input samples) is a symmetric windowed-sinc low-pass whose stop band starts at
//! the lower of the two Nyquist frequencies. Being symmetric about 0 (the filter's delay is
//! removed), `y[m]` estimates the band-limited signal at the very instant `m / rate_out` s: no
//! time shift between input and output.
//!
//! Method: rubato's synchronous FFT resampler ([`rubato::Fft`]). For a fixed ratio reduced to
//! `p : q = rate_in/g : rate_out/g` (`g = gcd`), it filters blocks of `k·p` input samples in the
//! frequency domain and keeps `k·q` output bins, so every output sample lies exactly on the output
//! grid and the filter is applied exactly; its accuracy is that of the filter alone. rubato's
//! asynchronous sinc resampler, the alternative, reads its filter from oversampled tables with
//! interpolation between them (an error floor of its own) and costs `O(sinc length)` per output
//! sample instead of `O(log block)`. The filter spans one block (`k·p` input samples), with `k`
//! the smallest even count for which both blocks hold at least [`MIN_BLOCK`] samples; even `k`
//! makes the delay a whole number of output samples (`k·q / 2`), removed exactly.
//!
//! Measured (`tests/resample.rs`, 48, 44.1, 22.05 kHz → 16 kHz and 16 → 48, 44.1 kHz, 8 → 16 kHz):
//! sines up to 0.97 of the lower Nyquist keep their amplitude within 3e-6 and their phase within
//! 2e-7 rad (max error against the analytic sine at the new rate 1.3e-6); the transition band is
//! 0.97–1.0 of the lower Nyquist (-0.1 dB at 0.98, -17.6 dB at 0.99 with 1024-sample blocks);
//! tones from 1.01 of the lower Nyquist up are attenuated by ≥ 139 dB (the f32 noise floor).
//! About 1 ms per second of 48 kHz audio.
//!
//! Refused with [`DspError::Resampling`]: a rate of 0, a ratio beyond [`MAX_RATIO`] either way, a
//! reduced ratio with a term above [`MAX_REDUCED_TERM`] (its FFT blocks would be huge).

use std::path::Path;

use audioadapter_buffers::direct::SequentialSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use crate::error::DspError;
use crate::wav::{check_samples, Audio};

/// Fewest samples in an FFT block, on each side; sets the filter length (and so its sharpness).
pub const MIN_BLOCK: usize = 1024;

/// Largest ratio `rate_out / rate_in` or `rate_in / rate_out` accepted.
pub const MAX_RATIO: u32 = 64;

/// Largest term of the reduced ratio `rate_in/g : rate_out/g` accepted (any two rates up to
/// 262 144 Hz qualify).
pub const MAX_REDUCED_TERM: u32 = 1 << 18;

/// Why a signal cannot be resampled (carried by [`DspError::Resampling`]).
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ResampleFailure {
    /// One of the two rates is 0 Hz.
    #[error("a sample rate of 0 Hz")]
    ZeroRate,
    /// The rates differ by more than [`MAX_RATIO`].
    #[error("the rates differ by more than a factor of {MAX_RATIO}")]
    RatioTooLarge,
    /// The reduced ratio has a term above [`MAX_REDUCED_TERM`].
    #[error("the ratio reduces to {num}:{den}, a term above {MAX_REDUCED_TERM} (the FFT blocks would be too large)")]
    RatioTooFine {
        /// `rate_in / gcd`.
        num: u32,
        /// `rate_out / gcd`.
        den: u32,
    },
    /// rubato itself reported an error.
    #[error("resampler error: {0}")]
    Resampler(String),
}

/// `ceil(n · rate_out / rate_in)` in exact integer arithmetic; `None` if `rate_in` is 0 or the
/// length does not fit in `usize`. librosa computes it in floating point and gets one sample more
/// when the quotient is whole but the float product lands just above it (e.g. 147 samples from
/// 44.1 to 48 kHz: 161 against 160; never towards 16 kHz from the usual rates, see
/// `tests/resample.rs`).
pub fn resampled_len(n: usize, rate_in: u32, rate_out: u32) -> Option<usize> {
    if rate_in == 0 {
        return None;
    }
    let num = n as u128 * u128::from(rate_out);
    usize::try_from(num.div_ceil(u128::from(rate_in))).ok()
}

/// `samples` (`[n]`, mono, at `rate_in` Hz) resampled to `rate_out` Hz:
/// `[ceil(n · rate_out / rate_in)]`, time-aligned (module docs). Equal rates return a copy.
///
/// Errors with [`DspError::Resampling`] (path `"<memory>"`) for the refusals listed in the module
/// docs, and as [`crate::MfccExtractor::compute`] for a sample that is not finite or too large.
pub fn resample(samples: &[f32], rate_in: u32, rate_out: u32) -> Result<Vec<f32>, DspError> {
    let fail = |reason| DspError::Resampling {
        path: "<memory>".into(),
        from: rate_in,
        to: rate_out,
        reason,
    };
    let blocks = BlockSizes::new(rate_in, rate_out).map_err(fail)?;
    check_samples(samples, Path::new("<memory>"))?;
    if rate_in == rate_out {
        return Ok(samples.to_vec());
    }
    let out_len = resampled_len(samples.len(), rate_in, rate_out).ok_or_else(|| {
        fail(ResampleFailure::Resampler(
            "the output length overflows usize".into(),
        ))
    })?;
    if out_len == 0 {
        return Ok(Vec::new());
    }
    run_fft_resampler(samples, rate_in, rate_out, blocks, out_len)
        .map_err(|e| fail(ResampleFailure::Resampler(e)))
}

/// `audio` at `target` Hz: unchanged (same buffer, no copy) when `target` is `None` or already its
/// rate, else resampled with [`resample`]. Errors name `path`.
pub(crate) fn to_target_rate(
    audio: Audio,
    target: Option<u32>,
    path: &Path,
) -> Result<Audio, DspError> {
    match target {
        Some(rate) if rate != audio.sample_rate => {
            let samples =
                resample(&audio.samples, audio.sample_rate, rate).map_err(|e| e.with_path(path))?;
            // The extractor trusts this output (it skips its own scan), so check what came out.
            check_samples(&samples, path)?;
            Ok(Audio {
                samples,
                sample_rate: rate,
            })
        }
        _ => Ok(audio),
    }
}

/// FFT block lengths for one pair of rates: `k·p` input and `k·q` output samples.
#[derive(Clone, Copy, Debug)]
struct BlockSizes {
    input: usize,
    output: usize,
}

impl BlockSizes {
    /// Checks the rates against the limits and picks the smallest even `k` reaching [`MIN_BLOCK`].
    fn new(rate_in: u32, rate_out: u32) -> Result<Self, ResampleFailure> {
        if rate_in == 0 || rate_out == 0 {
            return Err(ResampleFailure::ZeroRate);
        }
        let (low, high) = (rate_in.min(rate_out), rate_in.max(rate_out));
        if u64::from(high) > u64::from(low) * u64::from(MAX_RATIO) {
            return Err(ResampleFailure::RatioTooLarge);
        }
        let g = gcd(rate_in, rate_out);
        let (p, q) = (rate_in / g, rate_out / g);
        if p.max(q) > MAX_REDUCED_TERM {
            return Err(ResampleFailure::RatioTooFine { num: p, den: q });
        }
        let (p, q) = (p as usize, q as usize);
        let k = 2 * MIN_BLOCK.div_ceil(2 * p.min(q));
        Ok(Self {
            input: k * p,
            output: k * q,
        })
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Feeds `samples`, then silence, one block at a time, and keeps `out_len` samples after the
/// filter delay. `samples` is not empty; errors are rubato's messages.
fn run_fft_resampler(
    samples: &[f32],
    rate_in: u32,
    rate_out: u32,
    blocks: BlockSizes,
    out_len: usize,
) -> Result<Vec<f32>, String> {
    let mut resampler = Fft::<f32>::new(
        rate_in as usize,
        rate_out as usize,
        blocks.input,
        1,
        1,
        FixedSync::Input,
    )
    .map_err(|e| e.to_string())?;
    let delay = resampler.output_delay();
    // The delay is half a block of the filter (block.output / 2 with k even): a whole sample.
    if (
        resampler.input_frames_next(),
        resampler.output_frames_next(),
        delay,
    ) != (blocks.input, blocks.output, blocks.output / 2)
    {
        return Err(format!(
            "unexpected block layout: {} in, {} out, delay {delay} (planned {blocks:?})",
            resampler.input_frames_next(),
            resampler.output_frames_next()
        ));
    }
    let wanted = delay + out_len;
    let mut out = vec![0.0f32; wanted + blocks.output];
    let input = SequentialSlice::new(samples, 1, samples.len()).map_err(|e| e.to_string())?;
    let (mut read, mut written) = (0usize, 0usize);
    while written < wanted {
        let indexing = Indexing {
            input_offset: read,
            output_offset: written,
            partial_len: Some((samples.len() - read).min(blocks.input)),
            active_channels_mask: None,
        };
        let mut output = SequentialSlice::new_mut(&mut out, 1, wanted + blocks.output)
            .map_err(|e| e.to_string())?;
        let (_, n_out) = resampler
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| e.to_string())?;
        if n_out == 0 {
            return Err("the resampler returned no output".into());
        }
        read = (read + blocks.input).min(samples.len());
        written += n_out;
    }
    out.truncate(wanted);
    out.drain(..delay);
    Ok(out)
}
