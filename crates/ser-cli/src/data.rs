//! Labelled audio for `ser train` and `ser eval`: a RAVDESS-style folder or a CSV list.
//!
//! - A folder is indexed by `ser_experiment::dataset::DatasetIndex` (file names
//!   `03-01-EE-II-SS-RR-AA.wav`; the speaker is the actor number).
//! - A `.csv` file lists `path,label[,speaker]`, one clip per line, for other corpora. An optional
//!   header line starting with `path` is skipped; relative paths are resolved against the CSV's own
//!   folder; `label` is one of the eight RAVDESS emotion names (the classifier has these 8 outputs);
//!   `speaker` is any text (needed for a speaker-independent validation split).
//!   The CSV parser is deliberately minimal (no quoting): paths must not contain commas.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ser_experiment::dataset::{DatasetIndex, Emotion};

use crate::progress::Ui;

/// One labelled clip.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub path: PathBuf,
    /// Class index into [`LabelledData::class_names`].
    pub label: usize,
    pub speaker: Option<String>,
}

/// Labelled clips and where they came from.
#[derive(Clone, Debug)]
pub struct LabelledData {
    /// `RAVDESS folder DIR` or `CSV list FILE`.
    pub description: String,
    pub items: Vec<Item>,
    /// The 8 RAVDESS emotions in class-index order.
    pub class_names: Vec<String>,
}

impl LabelledData {
    /// Distinct speakers, sorted (empty when the source has none).
    pub fn speakers(&self) -> Vec<String> {
        let mut s: Vec<String> = self
            .items
            .iter()
            .filter_map(|i| i.speaker.clone())
            .collect();
        s.sort();
        s.dedup();
        s
    }
}

/// Reads a RAVDESS folder or a CSV list, by what `path` is.
pub fn load(path: &Path, ui: &Ui) -> Result<LabelledData> {
    if path.is_dir() {
        load_ravdess(path, ui)
    } else if path.is_file() {
        load_csv(path)
    } else {
        bail!(
            "data {} does not exist (expected a RAVDESS-style folder or a CSV list path,label[,speaker])",
            path.display()
        )
    }
}

fn load_ravdess(dir: &Path, ui: &Ui) -> Result<LabelledData> {
    let index =
        DatasetIndex::scan(dir).with_context(|| format!("cannot index {}", dir.display()))?;
    for skipped in &index.skipped {
        ui.detail(&format!(
            "skipped {}: {}",
            skipped.path.display(),
            skipped.reason
        ));
    }
    if !index.skipped.is_empty() {
        ui.warn(&format!(
            "{} .wav files in {} do not follow the RAVDESS naming and were skipped (-v lists them)",
            index.skipped.len(),
            dir.display()
        ));
    }
    if index.clips.is_empty() {
        bail!(
            "{} holds no RAVDESS speech file (03-01-EE-II-SS-RR-AA.wav); for other corpora pass a CSV list path,label[,speaker]",
            dir.display()
        );
    }
    ui.detail(index.summary().trim_end());
    let items = index
        .clips
        .iter()
        .map(|clip| Item {
            path: clip.path.clone(),
            label: clip.label(),
            speaker: Some(format!("{:02}", clip.actor())),
        })
        .collect();
    Ok(LabelledData {
        description: format!("RAVDESS folder {}", dir.display()),
        items,
        class_names: Emotion::class_names(),
    })
}

fn load_csv(file: &Path) -> Result<LabelledData> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let base = file.parent().unwrap_or(Path::new("."));
    let class_names = Emotion::class_names();
    let mut items = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if number == 0 && fields[0].eq_ignore_ascii_case("path") {
            continue;
        }
        let at = || format!("{}:{}", file.display(), number + 1);
        if !(2..=3).contains(&fields.len()) || fields[0].is_empty() {
            bail!("{}: expected `path,label[,speaker]`, found {line:?}", at());
        }
        let label = class_names
            .iter()
            .position(|c| c.eq_ignore_ascii_case(fields[1]))
            .with_context(|| {
                format!(
                    "{}: unknown label {:?}; expected one of {}",
                    at(),
                    fields[1],
                    class_names.join(", ")
                )
            })?;
        let path = base.join(fields[0]);
        let speaker = fields
            .get(2)
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string());
        items.push(Item {
            path,
            label,
            speaker,
        });
    }
    if items.is_empty() {
        bail!("{} lists no clips", file.display());
    }
    Ok(LabelledData {
        description: format!("CSV list {}", file.display()),
        items,
        class_names,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Verbosity;

    #[test]
    fn csv_list_resolves_paths_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("list.csv");
        std::fs::write(
            &csv,
            "path,label,speaker\na.wav,Angry,s1\n\nsub/b.wav,calm\n",
        )
        .unwrap();
        let data = load(&csv, &Ui::new(Verbosity::Quiet)).unwrap();
        assert_eq!(data.items.len(), 2);
        assert_eq!(data.items[0].path, dir.path().join("a.wav"));
        assert_eq!(data.class_names[data.items[0].label], "angry");
        assert_eq!(data.items[0].speaker.as_deref(), Some("s1"));
        assert_eq!(data.items[1].speaker, None);
        assert_eq!(data.speakers(), ["s1"]);
    }

    #[test]
    fn csv_list_names_the_line_of_a_bad_label() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("list.csv");
        std::fs::write(&csv, "a.wav,bored\n").unwrap();
        let err = format!("{:#}", load(&csv, &Ui::new(Verbosity::Quiet)).unwrap_err());
        assert!(err.contains("list.csv:1") && err.contains("bored"), "{err}");
    }
}
