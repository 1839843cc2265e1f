//! MFCC features for every clip, extracted once per run, with an optional on-disk cache.
//!
//! Cache entry of one clip: `<cache dir>/<key>.bin`, `key = SHA-256("ser-experiment features v1\n" ‖
//! JSON(MfccConfig) ‖ "\n" ‖ hex SHA-256(file bytes))`, so a changed file or a changed feature config never
//! hits a stale entry. File layout, little endian: magic `SERMFCC1`, `n_frames: u32`, `n_coeffs: u32`,
//! then `data: [n_frames, n_coeffs]` f32 row-major. Entries are written to a temporary file and renamed,
//! so an interrupted run leaves either a whole entry or none; an entry that does not parse is recomputed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;
use ser_dsp::{Features, MfccConfig};
use sha2::{Digest, Sha256};

use crate::dataset::Clip;
use crate::error::{ExperimentError, Result};

const MAGIC: &[u8; 8] = b"SERMFCC1";

/// Features of all clips, in the order of the clips given.
#[derive(Clone, Debug)]
pub struct FeatureTable {
    pub config: MfccConfig,
    pub n_coeffs: usize,
    /// `clips[i]`: `[n_frames_i, n_coeffs]` row-major.
    pub clips: Vec<Features>,
    pub stats: ExtractionStats,
}

/// What extraction did.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExtractionStats {
    pub cache_hits: usize,
    pub extracted: usize,
    pub seconds: f64,
}

/// Extracts features of all `clips` with `config`, reading and writing cache entries under `cache_dir`
/// when given. `progress(done, total)` is called as chunks finish.
///
/// # Errors
/// The first file that fails to read or decode ([`ExperimentError::Dsp`]), clips that disagree on the
/// coefficient count ([`ExperimentError::FeatureShape`]), and cache folder I/O errors.
pub fn extract_all(
    clips: &[Clip],
    config: &MfccConfig,
    cache_dir: Option<&Path>,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<FeatureTable> {
    let start = std::time::Instant::now();
    let config_json = serde_json::to_string(config).map_err(|source| ExperimentError::Json {
        path: PathBuf::from("<feature config>"),
        source,
    })?;
    if let Some(dir) = cache_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| ExperimentError::io("creating cache folder", dir, e))?;
    }
    let keys: Vec<Option<PathBuf>> = match cache_dir {
        Some(dir) => clips
            .par_iter()
            .map(|clip| cache_path(dir, &config_json, &clip.path).map(Some))
            .collect::<Result<_>>()?,
        None => vec![None; clips.len()],
    };
    let mut out: Vec<Option<Features>> = keys
        .par_iter()
        .map(|key| key.as_deref().and_then(read_entry))
        .collect();
    let cache_hits = out.iter().filter(|f| f.is_some()).count();
    let missing: Vec<usize> = (0..clips.len()).filter(|&i| out[i].is_none()).collect();
    progress(cache_hits, clips.len());
    let chunk = (rayon::current_num_threads() * 16).max(16);
    let mut done = cache_hits;
    for indices in missing.chunks(chunk) {
        let paths: Vec<PathBuf> = indices.iter().map(|&i| clips[i].path.clone()).collect();
        let results = ser_dsp::extract_files(&paths, config);
        for (&i, result) in indices.iter().zip(results) {
            let features = result.map_err(|source| ExperimentError::Dsp {
                path: clips[i].path.clone(),
                source,
            })?;
            if let Some(key) = &keys[i] {
                write_entry(key, &features)?;
            }
            out[i] = Some(features);
        }
        done += indices.len();
        progress(done, clips.len());
    }
    let clips_features: Vec<Features> = out.into_iter().flatten().collect();
    let n_coeffs = config.n_features();
    for (clip, f) in clips.iter().zip(&clips_features) {
        if f.n_coeffs != n_coeffs || f.data.len() != f.n_frames * f.n_coeffs || f.n_frames == 0 {
            return Err(ExperimentError::FeatureShape {
                path: clip.path.clone(),
                expected: n_coeffs,
                got: f.n_coeffs,
            });
        }
    }
    Ok(FeatureTable {
        config: config.clone(),
        n_coeffs,
        clips: clips_features,
        stats: ExtractionStats {
            cache_hits,
            extracted: missing.len(),
            seconds: start.elapsed().as_secs_f64(),
        },
    })
}

/// Hex SHA-256 of a file's bytes.
pub fn file_sha256(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| ExperimentError::io("reading", path, e))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

/// The cache entry path of one file under one feature config.
pub fn cache_path(dir: &Path, config_json: &str, file: &Path) -> Result<PathBuf> {
    let content = file_sha256(file)?;
    let mut h = Sha256::new();
    h.update(b"ser-experiment features v1\n");
    h.update(config_json.as_bytes());
    h.update(b"\n");
    h.update(content.as_bytes());
    Ok(dir.join(format!("{}.bin", &hex(&h.finalize())[..32])))
}

/// Reads a cache entry; `None` when absent or malformed.
pub fn read_entry(path: &Path) -> Option<Features> {
    let bytes = std::fs::read(path).ok()?;
    let header = bytes.get(..16)?;
    if &header[..8] != MAGIC {
        return None;
    }
    let n_frames = u32::from_le_bytes(header[8..12].try_into().ok()?) as usize;
    let n_coeffs = u32::from_le_bytes(header[12..16].try_into().ok()?) as usize;
    let body = &bytes[16..];
    if body.len() != n_frames.checked_mul(n_coeffs)?.checked_mul(4)? {
        return None;
    }
    let data = body
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Some(Features {
        n_frames,
        n_coeffs,
        data,
    })
}

/// Writes a cache entry atomically (temporary file in the same folder, then rename).
pub fn write_entry(path: &Path, features: &Features) -> Result<()> {
    let mut bytes = Vec::with_capacity(16 + 4 * features.data.len());
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(features.n_frames as u32).to_le_bytes());
    bytes.extend_from_slice(&(features.n_coeffs as u32).to_le_bytes());
    for v in &features.data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_atomic(path, &bytes)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes every `(path, bytes)` with [`write_atomic`], in order; returns the paths.
///
/// # Errors
/// The first failing write (the files before it are complete).
pub fn write_all_atomic(files: Vec<(PathBuf, Vec<u8>)>) -> Result<Vec<PathBuf>> {
    let mut written = Vec::with_capacity(files.len());
    for (path, bytes) in files {
        write_atomic(&path, &bytes)?;
        written.push(path);
    }
    Ok(written)
}

/// Writes `bytes` to `path` via a uniquely named temporary file `.<name>.tmp-<pid>-<n>` in the same
/// folder and a rename, so readers see the old file or the whole new one, never a part.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ExperimentError::io("creating folder", dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        ExperimentError::io("writing", path, e)
    })
}

/// Per-coefficient z-score: `x'[t][c] = (x[t][c] - mean_c) / std_c`, with `mean_c` and the population
/// `std_c` over every frame of the clips it was fitted on (as sklearn's `StandardScaler`); a coefficient
/// with `std_c < 1e-8` is only centred.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Standardizer {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Standardizer {
    /// Fits over all frames of `clips` (each `[n_frames, n_coeffs]`), accumulating in f64.
    ///
    /// # Panics
    /// If a clip has a different `n_coeffs` (the table checks this first).
    pub fn fit<'a>(n_coeffs: usize, clips: impl Iterator<Item = &'a Features>) -> Self {
        let mut sum = vec![0f64; n_coeffs];
        let mut sum_sq = vec![0f64; n_coeffs];
        let mut frames = 0usize;
        let clips: Vec<&Features> = clips.collect();
        for f in &clips {
            assert_eq!(
                f.n_coeffs, n_coeffs,
                "clip with a different coefficient count"
            );
            for row in f.data.chunks_exact(n_coeffs) {
                for (s, &v) in sum.iter_mut().zip(row) {
                    *s += f64::from(v);
                }
            }
            frames += f.n_frames;
        }
        let n = frames.max(1) as f64;
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        for f in &clips {
            for row in f.data.chunks_exact(n_coeffs) {
                for ((s, &v), m) in sum_sq.iter_mut().zip(row).zip(&mean) {
                    let d = f64::from(v) - m;
                    *s += d * d;
                }
            }
        }
        let std = sum_sq
            .iter()
            .map(|s| {
                let sd = (s / n).sqrt();
                if sd < 1e-8 {
                    1.0
                } else {
                    sd as f32
                }
            })
            .collect();
        Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std,
        }
    }

    /// The normalised copy of one clip, `[n_frames, n_coeffs]` row-major.
    pub fn apply(&self, f: &Features) -> Vec<f32> {
        let c = self.mean.len();
        let mut out = f.data.clone();
        for row in out.chunks_exact_mut(c) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        out
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
