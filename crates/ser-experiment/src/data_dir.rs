//! Finding the RAVDESS folder.
//!
//! Precedence: `--data DIR`, then `$RAVDESS_DIR`, then `./data/ravdess`, then `../shared/ravdess` (both
//! relative to the current directory). A folder named explicitly (flag or variable) must hold data, or the
//! search stops with an error naming it; the two default locations are tried in turn. A folder "holds data"
//! when it contains at least one valid RAVDESS speech file name.

use std::path::{Path, PathBuf};

use crate::dataset::DatasetIndex;
use crate::error::{ExperimentError, Result};

/// Environment variable naming the RAVDESS folder.
pub const ENV_VAR: &str = "RAVDESS_DIR";

/// A folder that was chosen, where the choice came from, and its index.
#[derive(Clone, Debug)]
pub struct ResolvedData {
    pub dir: PathBuf,
    /// "--data", "$RAVDESS_DIR", or "default location".
    pub source: String,
    pub index: DatasetIndex,
}

/// Resolves the data folder with the documented precedence, reading `$RAVDESS_DIR` from the environment
/// (an empty value counts as unset).
pub fn resolve(flag: Option<&Path>) -> Result<ResolvedData> {
    let env = std::env::var_os(ENV_VAR)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    resolve_with(flag, env.as_deref(), Path::new("."))
}

/// [`resolve`] with the environment value and the base of the default locations passed in (for tests).
pub fn resolve_with(flag: Option<&Path>, env: Option<&Path>, base: &Path) -> Result<ResolvedData> {
    let explicit = [("--data", flag), ("$RAVDESS_DIR", env)];
    for (source, dir) in explicit {
        let Some(dir) = dir else { continue };
        let index = index_if_present(dir)?;
        return match index {
            Some(index) if !index.clips.is_empty() => Ok(ResolvedData {
                dir: dir.to_path_buf(),
                source: source.to_string(),
                index,
            }),
            _ => Err(ExperimentError::EmptyDataDir {
                source_name: source.to_string(),
                path: dir.to_path_buf(),
            }),
        };
    }
    let defaults = default_locations(base);
    for dir in &defaults {
        if let Some(index) = index_if_present(dir)? {
            if !index.clips.is_empty() {
                return Ok(ResolvedData {
                    dir: dir.clone(),
                    source: "default location".to_string(),
                    index,
                });
            }
        }
    }
    let mut tried: Vec<(String, PathBuf)> = Vec::new();
    if env.is_none() {
        tried.push(("$RAVDESS_DIR".into(), PathBuf::from("(not set)")));
    }
    tried.extend(defaults.into_iter().map(|d| ("default".to_string(), d)));
    Err(ExperimentError::NoData { tried })
}

/// `./data/ravdess` and `../shared/ravdess` under `base`.
pub fn default_locations(base: &Path) -> Vec<PathBuf> {
    vec![
        base.join("data").join("ravdess"),
        base.join("..").join("shared").join("ravdess"),
    ]
}

fn index_if_present(dir: &Path) -> Result<Option<DatasetIndex>> {
    if !dir.is_dir() {
        return Ok(None);
    }
    DatasetIndex::scan(dir).map(Some)
}

/// Where to get the data and where to put it.
pub fn download_hint() -> String {
    "RAVDESS speech audio is Zenodo record 1188976 (https://zenodo.org/records/1188976), file \
     Audio_Speech_Actors_01-24.zip (about 200 MB, CC BY-NC-SA 4.0). Unpack it so that the Actor_01 .. \
     Actor_24 folders sit in ./data/ravdess (e.g. `mkdir -p data/ravdess && unzip \
     Audio_Speech_Actors_01-24.zip -d data/ravdess`), or anywhere and pass --data DIR or set RAVDESS_DIR."
        .to_string()
}

/// The message of [`ExperimentError::NoData`].
pub fn no_data_message(tried: &[(String, PathBuf)]) -> String {
    let mut s = String::from("no RAVDESS speech files found. Looked in:\n");
    for (source, dir) in tried {
        s += &format!("  {source}: {}\n", dir.display());
    }
    s += &download_hint();
    s
}
