//! Saved models: ONE safetensors file holding the weights under PyTorch `state_dict` names (f32) and,
//! in its `__metadata__` header, everything else needed to predict, as JSON strings.
//!
//! ```text
//! tensors:       lstm.weight_ih_l0 [4H, I], lstm.weight_hh_l0 [4H, H], lstm.bias_ih_l0 [4H],
//!                lstm.bias_hh_l0 [4H], … (every layer), fc.weight [C, F], fc.bias [C]      (F32, row-major)
//! __metadata__:  "ser_nn" = JSON {"version": 2,
//!                                  "config": ClassifierConfig,
//!                                  "meta": ModelMeta (features, normalisation, class names, training)}
//! ```
//! One metadata key only: the safetensors writer keeps metadata in a `HashMap`, whose order varies
//! from run to run, so a single key is what makes the same model give the same file bytes.
//! PyTorch reads the file with `safetensors.torch.load_file(path)` and `model.load_state_dict(sd,
//! strict=True)`; the metadata is visible with `safe_open(path, "pt").metadata()` or any JSON reader of
//! the header. Files are written atomically (temporary file in the same directory, then rename), and a
//! model with a NaN or infinite weight is refused.

use crate::classifier::Classifier;
use crate::config::ClassifierConfig;
use crate::error::NnError;
use lstm_core::Real;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The single `__metadata__` key holding [`StoredMetadata`] as JSON.
const KEY_METADATA: &str = "ser_nn";
const FORMAT_VERSION: u32 = 2;

/// Everything a saved model carries besides its tensors.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredMetadata {
    version: u32,
    config: ClassifierConfig,
    meta: ModelMeta,
}

/// Everything besides weights and architecture that prediction needs, plus free-form provenance.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelMeta {
    /// Feature-extraction settings (opaque here, so ser-nn knows nothing of ser-dsp).
    pub features: serde_json::Value,
    /// Per-coefficient z-score mean `[input_size]` (or empty when features are not normalised).
    pub norm_mean: Vec<f32>,
    /// Per-coefficient z-score standard deviation `[input_size]` (or empty).
    pub norm_std: Vec<f32>,
    /// Name of each class, index = label (or empty).
    pub class_names: Vec<String>,
    /// Free-form training information (fold, epoch, seed, scores, …).
    pub training: serde_json::Value,
}

impl ModelMeta {
    /// Checks the lengths against the configuration; `path` only labels the error.
    fn check(&self, config: &ClassifierConfig, path: &Path) -> Result<(), NnError> {
        let lens = [
            ("norm_mean", self.norm_mean.len(), config.input_size),
            ("norm_std", self.norm_std.len(), config.input_size),
            ("class_names", self.class_names.len(), config.num_classes),
        ];
        for (field, got, expected) in lens {
            if got != 0 && got != expected {
                return Err(NnError::MetadataMismatch {
                    path: path.to_path_buf(),
                    field,
                    expected: format!("0 or {expected} entries"),
                    got: got.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// Saves `model` and `meta` to `path` (see the module doc for the format), atomically.
///
/// # Errors
/// [`NnError::NonFiniteWeight`] if a weight is NaN/∞ (nothing is written), [`NnError::MetadataMismatch`]
/// if `meta`'s vectors have the wrong length, [`NnError::Io`] if the file cannot be written.
pub fn save_model<T: Real>(
    path: &Path,
    model: &Classifier<T>,
    meta: &ModelMeta,
) -> Result<(), NnError> {
    meta.check(model.config(), path)?;
    let tensors = model.named_tensors();
    let params = model.params();
    let mut blobs = Vec::with_capacity(tensors.len());
    for spec in &tensors {
        let values = &params[spec.range.clone()];
        if let Some(index) = values.iter().position(|v| !v.is_finite()) {
            return Err(NnError::NonFiniteWeight {
                path: path.to_path_buf(),
                tensor: spec.name.clone(),
                index,
                value: values[index].to_f64(),
            });
        }
        let bytes: Vec<u8> = values
            .iter()
            .flat_map(|v| (v.to_f64() as f32).to_le_bytes())
            .collect();
        blobs.push(bytes);
    }
    let stored = StoredMetadata {
        version: FORMAT_VERSION,
        config: model.config().clone(),
        meta: meta.clone(),
    };
    let stored_json = serde_json::to_string(&stored).map_err(|source| NnError::MetadataJson {
        path: path.to_path_buf(),
        key: KEY_METADATA,
        source,
    })?;
    let header: HashMap<String, String> = HashMap::from([(KEY_METADATA.to_string(), stored_json)]);
    let st_err = |source| NnError::Safetensors {
        op: "serialize",
        path: path.to_path_buf(),
        source,
    };
    let mut views = Vec::with_capacity(tensors.len());
    for (spec, bytes) in tensors.iter().zip(&blobs) {
        views.push((
            spec.name.clone(),
            TensorView::new(Dtype::F32, spec.shape.clone(), bytes).map_err(st_err)?,
        ));
    }
    let bytes = safetensors::serialize(views, &Some(header)).map_err(st_err)?;
    write_atomically(path, &bytes)
}

/// Loads a model saved by [`save_model`] as `Classifier<f32>`.
///
/// # Errors
/// I/O and format errors, missing metadata, and every mismatch [`load_state_dict`] reports.
pub fn load_model(path: &Path) -> Result<(Classifier<f32>, ModelMeta), NnError> {
    load_model_as::<f32>(path)
}

/// [`load_model`] into any element type (f64 for checks).
///
/// # Errors
/// As [`load_model`].
pub fn load_model_as<T: Real>(path: &Path) -> Result<(Classifier<T>, ModelMeta), NnError> {
    let bytes = read_file(path)?;
    load_model_from_bytes(&bytes, path)
}

/// [`load_model_as`] from the bytes of a model file already in memory (e.g. one embedded in a
/// binary); `name` only labels errors.
///
/// # Errors
/// As [`load_model`].
pub fn load_model_from_bytes<T: Real>(
    bytes: &[u8],
    name: &Path,
) -> Result<(Classifier<T>, ModelMeta), NnError> {
    let path = name;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|source| NnError::Safetensors {
        op: "read header",
        path: path.to_path_buf(),
        source,
    })?;
    let stored_json = header
        .metadata()
        .as_ref()
        .and_then(|map| map.get(KEY_METADATA))
        .ok_or(NnError::MissingMetadata {
            path: path.to_path_buf(),
            key: KEY_METADATA,
        })?;
    let stored: StoredMetadata =
        serde_json::from_str(stored_json).map_err(|source| NnError::MetadataJson {
            path: path.to_path_buf(),
            key: KEY_METADATA,
            source,
        })?;
    if stored.version != FORMAT_VERSION {
        return Err(NnError::MetadataMismatch {
            path: path.to_path_buf(),
            field: "ser_nn.version",
            expected: FORMAT_VERSION.to_string(),
            got: stored.version.to_string(),
        });
    }
    stored.meta.check(&stored.config, path)?;
    let mut model = Classifier::try_new(stored.config, 0)?;
    fill_from_bytes(path, bytes, &mut model)?;
    Ok((model, stored.meta))
}

/// Strictly loads weights saved under PyTorch `state_dict` names (e.g. by `torch` + `safetensors`) into
/// an existing model of the right configuration, like `load_state_dict(strict=True)`. F32 and F64
/// tensors are accepted; metadata is ignored.
///
/// # Errors
/// [`NnError::MissingTensor`], [`NnError::UnexpectedTensor`], [`NnError::TensorShape`],
/// [`NnError::TensorDtype`], and I/O or format errors.
pub fn load_state_dict<T: Real>(path: &Path, model: &mut Classifier<T>) -> Result<(), NnError> {
    let bytes = read_file(path)?;
    fill_from_bytes(path, &bytes, model)
}

fn fill_from_bytes<T: Real>(
    path: &Path,
    bytes: &[u8],
    model: &mut Classifier<T>,
) -> Result<(), NnError> {
    let st = SafeTensors::deserialize(bytes).map_err(|source| NnError::Safetensors {
        op: "deserialize",
        path: path.to_path_buf(),
        source,
    })?;
    let specs = model.named_tensors();
    for name in st.names() {
        if !specs.iter().any(|s| &s.name == name) {
            return Err(NnError::UnexpectedTensor {
                path: path.to_path_buf(),
                name: name.clone(),
            });
        }
    }
    let params = model.params_mut();
    for spec in &specs {
        let view = st.tensor(&spec.name).map_err(|_| NnError::MissingTensor {
            path: path.to_path_buf(),
            name: spec.name.clone(),
        })?;
        if view.shape() != spec.shape.as_slice() {
            return Err(NnError::TensorShape {
                path: path.to_path_buf(),
                name: spec.name.clone(),
                expected: spec.shape.clone(),
                got: view.shape().to_vec(),
            });
        }
        let dst = &mut params[spec.range.clone()];
        match view.dtype() {
            Dtype::F32 => {
                for (d, b) in dst.iter_mut().zip(view.data().chunks_exact(4)) {
                    *d = T::from_f64(f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64);
                }
            }
            Dtype::F64 => {
                for (d, b) in dst.iter_mut().zip(view.data().chunks_exact(8)) {
                    *d = T::from_f64(f64::from_le_bytes([
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
                    ]));
                }
            }
            other => {
                return Err(NnError::TensorDtype {
                    path: path.to_path_buf(),
                    name: spec.name.clone(),
                    got: format!("{other:?}"),
                })
            }
        }
    }
    Ok(())
}

fn read_file(path: &Path) -> Result<Vec<u8>, NnError> {
    std::fs::read(path).map_err(|source| NnError::Io {
        op: "read",
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `bytes` to a fresh temporary file next to `path`, syncs it, then renames it over `path`, so a
/// reader never sees a half-written model. The temporary file is removed on failure.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), NnError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{file_name}.tmp-{}-{nanos}", std::process::id()));
    let io_err = |op, p: &Path| {
        let p = p.to_path_buf();
        move |source| NnError::Io {
            op,
            path: p,
            source,
        }
    };
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
        f.write_all(bytes).map_err(io_err("write", &tmp))?;
        f.sync_all().map_err(io_err("sync", &tmp))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(io_err("rename onto", path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
