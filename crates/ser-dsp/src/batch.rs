//! Whole folders: find the WAVs, extract them all in parallel, keep the input order.
//!
//! Work is spread over files with rayon. Plans ([`MfccPlan`]) are built once per sample rate and
//! shared by all threads; each worker keeps its own scratch ([`MfccExtractor`]) per rate. A bad
//! file yields an `Err` naming it in its slot and does not stop the others.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use crate::config::MfccConfig;
use crate::error::DspError;
use crate::mfcc::{file_features, Features, MfccExtractor, MfccPlan};

/// Plans shared between workers, one per sample rate met so far.
struct PlanCache<'c> {
    config: &'c MfccConfig,
    plans: Mutex<HashMap<u32, Arc<MfccPlan>>>,
}

impl PlanCache<'_> {
    fn get(&self, sample_rate: u32) -> Result<Arc<MfccPlan>, DspError> {
        // A poisoned lock only means another worker panicked while inserting; the map is intact.
        let mut plans = self.plans.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(plan) = plans.get(&sample_rate) {
            return Ok(Arc::clone(plan));
        }
        let plan = Arc::new(MfccPlan::new(self.config, sample_rate)?);
        plans.insert(sample_rate, Arc::clone(&plan));
        Ok(plan)
    }
}

/// Features (`[n_frames, config.n_features()]` each) of every file in `paths` in parallel
/// (rayon, all cores of the current pool); result `i` belongs to `paths[i]`.
pub fn extract_files(paths: &[PathBuf], config: &MfccConfig) -> Vec<Result<Features, DspError>> {
    let cache = PlanCache {
        config,
        plans: Mutex::new(HashMap::new()),
    };
    paths
        .par_iter()
        .map_init(HashMap::<u32, MfccExtractor>::new, |extractors, path| {
            file_features(path, config, |rate| {
                Ok(match extractors.entry(rate) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(MfccExtractor::from_plan(cache.get(rate)?))
                    }
                })
            })
        })
        .collect()
}

/// Every `*.wav` file (extension compared case-insensitively) under `dir`, recursively, sorted
/// by path.
pub fn find_wavs(dir: &Path) -> Result<Vec<PathBuf>, DspError> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let io_err = |source| DspError::Io {
            path: d.clone(),
            source,
        };
        for entry in std::fs::read_dir(&d).map_err(io_err)? {
            let entry = entry.map_err(io_err)?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|source| DspError::Io {
                path: path.clone(),
                source,
            })?;
            if kind.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("wav"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}
