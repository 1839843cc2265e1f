//! Writing output files safely.
//!
//! Rules every subcommand follows:
//! - a file that already exists is never replaced unless the user passed `--force`; all outputs of a
//!   command are checked *before* any work starts ([`OutputPolicy::check_all`]), so a refused run
//!   leaves nothing half-done;
//! - missing parent folders are created;
//! - a file is written to a temporary sibling (`.<name>.tmp-XXXX`) that is synced and renamed over the
//!   target, so a reader (or a crash) never sees a partial file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Whether existing files may be replaced.
#[derive(Clone, Copy, Debug)]
pub struct OutputPolicy {
    pub force: bool,
}

impl OutputPolicy {
    /// Fails if `path` exists and `--force` was not given; a folder is never replaced.
    pub fn check(&self, path: &Path) -> Result<()> {
        if path.is_dir() {
            bail!(
                "{} is a folder; expected a file path for this output",
                path.display()
            );
        }
        if path.exists() && !self.force {
            bail!(
                "{} already exists; pass --force to overwrite it",
                path.display()
            );
        }
        Ok(())
    }

    /// [`OutputPolicy::check`] for every path, reporting how many exist when several do.
    pub fn check_all<'a>(&self, paths: impl IntoIterator<Item = &'a PathBuf>) -> Result<()> {
        if self.force {
            return Ok(());
        }
        let existing: Vec<&PathBuf> = paths.into_iter().filter(|p| p.exists()).collect();
        match existing.as_slice() {
            [] => Ok(()),
            [one] => self.check(one),
            [first, ..] => bail!(
                "{} output files already exist (first: {}); pass --force to overwrite them",
                existing.len(),
                first.display()
            ),
        }
    }

    /// Writes `bytes` to `path` atomically after [`OutputPolicy::check`], creating parent folders.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        self.check(path)?;
        write_atomic(path, bytes)
    }
}

/// Creates the parent folder of `path` if needed.
pub fn create_parent(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create folder {}", dir.display()))?;
    }
    Ok(())
}

/// Writes through a temporary file in the same folder, then renames it onto `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    create_parent(path)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut temp = tempfile::Builder::new()
        .prefix(&format!(".{name}.tmp-"))
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    temp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot rename the temporary file onto {}", path.display()))?;
    make_readable(path)
}

/// Gives a persisted temporary file the usual `rw-r--r--` mode (temporary files are created
/// `rw-------`).
pub fn make_readable(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("cannot set the permissions of {}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// `dir/stem.ext`, where `stem` is `model`'s file name without its extension: the companion files
/// of a model (`model.safetensors` → `model.training.csv`, `model.curves.png`).
pub fn sibling(model: &Path, suffix: &str) -> PathBuf {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    model.with_file_name(format!("{stem}.{suffix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_existing_file_without_force_and_replaces_with_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/out.txt");
        let keep = OutputPolicy { force: false };
        keep.write(&path, b"one").unwrap();
        let err = keep.write(&path, b"two").unwrap_err().to_string();
        assert!(err.contains("--force"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        OutputPolicy { force: true }.write(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn sibling_replaces_the_extension() {
        let p = sibling(Path::new("out/m.safetensors"), "curves.png");
        assert_eq!(p, Path::new("out/m.curves.png"));
    }
}
