//! Shared test helpers: fixture loading, synthetic signal recipes, RAVDESS lookup.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

/// `fixtures/mfcc/` of the workspace.
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/mfcc")
}

/// RAVDESS folder: `$RAVDESS_DIR`, else `<workspace>/../shared/ravdess`; `None` (with a message)
/// when absent.
pub fn ravdess_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("RAVDESS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ravdess"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "{test}: RAVDESS not found at {} (set RAVDESS_DIR); skipping",
            dir.display()
        );
        None
    }
}

/// A loaded safetensors fixture file.
pub struct Fixture {
    bytes: Vec<u8>,
}

impl Fixture {
    pub fn load(name: &str) -> Self {
        Self::load_path(&fixture_dir().join(name))
    }

    /// `fixtures/<folder>/<name>` of the workspace.
    pub fn load_from(folder: &str, name: &str) -> Self {
        Self::load_path(&fixture_dir().join("..").join(folder).join(name))
    }

    fn load_path(path: &Path) -> Self {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Self { bytes }
    }

    fn st(&self) -> SafeTensors<'_> {
        SafeTensors::deserialize(&self.bytes).expect("fixture parses")
    }

    pub fn metadata(&self, key: &str) -> String {
        let (_, meta) = SafeTensors::read_metadata(&self.bytes).expect("fixture metadata");
        meta.metadata()
            .as_ref()
            .and_then(|m| m.get(key).cloned())
            .unwrap_or_else(|| panic!("metadata key {key} missing"))
    }

    /// `(shape, values)` of an f32 tensor.
    pub fn f32(&self, name: &str) -> (Vec<usize>, Vec<f32>) {
        let st = self.st();
        let t = st
            .tensor(name)
            .unwrap_or_else(|e| panic!("tensor {name}: {e}"));
        assert_eq!(t.dtype(), Dtype::F32, "{name}");
        let v = t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        (t.shape().to_vec(), v)
    }

    /// Values of an i64 tensor.
    pub fn i64(&self, name: &str) -> Vec<i64> {
        let st = self.st();
        let t = st
            .tensor(name)
            .unwrap_or_else(|e| panic!("tensor {name}: {e}"));
        assert_eq!(t.dtype(), Dtype::I64, "{name}");
        t.data()
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.st().tensor(name).is_ok()
    }
}

/// One additive component of a synthetic channel (see fixtures/mfcc/make_fixtures.py).
#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Component {
    Sine {
        amp: f64,
        freq: f64,
        phase: f64,
        start: usize,
        end: Option<usize>,
    },
    Chirp {
        amp: f64,
        f0: f64,
        f1: f64,
        start: usize,
        end: Option<usize>,
    },
    Noise {
        amp: f64,
        seed: u64,
        start: usize,
        end: Option<usize>,
    },
}

/// A synthetic signal recipe.
#[derive(Deserialize, Debug, Clone)]
pub struct Signal {
    pub name: String,
    pub sr: u32,
    pub n: usize,
    pub channels: Vec<Vec<Component>>,
}

/// The 32-bit LCG of the fixture script: uniform in [0, 1) with 24 bits.
pub struct Lcg(u32);

impl Lcg {
    pub fn new(seed: u64) -> Self {
        Lcg(seed as u32)
    }
    pub fn next_unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        f64::from(self.0 >> 8) / 16_777_216.0
    }
}

fn render_component(c: &Component, n_total: usize, sr: f64, out: &mut [f64]) {
    use std::f64::consts::PI;
    match *c {
        Component::Sine {
            amp,
            freq,
            phase,
            start,
            end,
        } => {
            for n in start..end.unwrap_or(n_total) {
                out[n] += amp * (2.0 * PI * freq * n as f64 / sr + phase).sin();
            }
        }
        Component::Chirp {
            amp,
            f0,
            f1,
            start,
            end,
        } => {
            let end = end.unwrap_or(n_total);
            let big_t = (end - start) as f64 / sr;
            for n in start..end {
                let t = (n as f64 - start as f64) / sr;
                out[n] += amp * (2.0 * PI * (f0 * t + (f1 - f0) * t * t / (2.0 * big_t))).sin();
            }
        }
        Component::Noise {
            amp,
            seed,
            start,
            end,
        } => {
            let mut lcg = Lcg::new(seed);
            for n in start..end.unwrap_or(n_total) {
                out[n] += amp * (2.0 * lcg.next_unit() - 1.0);
            }
        }
    }
}

impl Signal {
    /// Each channel in f32, `[channels][n]`.
    pub fn render_channels(&self) -> Vec<Vec<f32>> {
        self.channels
            .iter()
            .map(|comps| {
                let mut x = vec![0.0f64; self.n];
                for c in comps {
                    render_component(c, self.n, f64::from(self.sr), &mut x);
                }
                x.into_iter().map(|v| v as f32).collect()
            })
            .collect()
    }

    /// Mono, channels averaged in f32 (numpy.mean semantics for small channel counts).
    pub fn render_mono(&self) -> Vec<f32> {
        let ch = self.render_channels();
        if ch.len() == 1 {
            return ch.into_iter().next().unwrap();
        }
        (0..self.n)
            .map(|i| ch.iter().fold(0.0f32, |a, c| a + c[i]) / ch.len() as f32)
            .collect()
    }
}

pub fn signals(fx: &Fixture) -> Vec<Signal> {
    serde_json::from_str(&fx.metadata("signals")).expect("signal recipes parse")
}

/// Max |a - b| and its index.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> (f32, usize) {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .enumerate()
        .map(|(i, (x, y))| ((x - y).abs(), i))
        .fold(
            (0.0, 0),
            |m, d| if d.0 > m.0 || d.0.is_nan() { d } else { m },
        )
}

/// librosa `[rows, cols]` → `[cols, rows]` (time-major).
pub fn transpose(shape: &[usize], v: &[f32]) -> Vec<f32> {
    let (r, c) = (shape[0], shape[1]);
    let mut out = vec![f32::NAN; r * c];
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = v[i * c + j];
        }
    }
    out
}

/// A dense [rows, cols] matrix from a filterbank fixture's non-zero runs.
pub fn dense_filterbank(fx: &Fixture, name: &str) -> (usize, usize, Vec<f32>) {
    let shape = fx.i64(&format!("{name}/shape"));
    let (rows, cols) = (shape[0] as usize, shape[1] as usize);
    let starts = fx.i64(&format!("{name}/start"));
    let ends = fx.i64(&format!("{name}/end"));
    let (_, vals) = fx.f32(&format!("{name}/values"));
    let mut out = vec![0.0f32; rows * cols];
    let mut off = 0;
    for r in 0..rows {
        let (s, e) = (starts[r] as usize, ends[r] as usize);
        out[r * cols + s..r * cols + e].copy_from_slice(&vals[off..off + e - s]);
        off += e - s;
    }
    assert_eq!(off, vals.len());
    (rows, cols, out)
}

pub type Meta = HashMap<String, serde_json::Value>;
