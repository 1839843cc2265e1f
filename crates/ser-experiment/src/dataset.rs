//! Indexing a RAVDESS speech folder from its file names.
//!
//! A RAVDESS speech file is named `03-01-EE-II-SS-RR-AA.wav`: modality 03 (audio only), vocal channel 01
//! (speech), emotion `EE` (01..=08), intensity `II` (01 normal, 02 strong; neutral has no strong),
//! statement `SS` (01, 02), repetition `RR` (01, 02) and actor `AA` (01..=24). Every `.wav` file under the
//! root whose name does not follow this pattern is listed in [`DatasetIndex::skipped`] with the reason and
//! left out; other files (README, checksums) are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};

/// Number of RAVDESS emotion classes.
pub const NUM_EMOTIONS: usize = 8;
/// Actors are numbered 1..=NUM_ACTORS.
pub const NUM_ACTORS: u8 = 24;

/// The eight RAVDESS emotions; the class index used for training is `code - 1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    Neutral,
    Calm,
    Happy,
    Sad,
    Angry,
    Fearful,
    Disgust,
    Surprised,
}

impl Emotion {
    /// All emotions in class-index order.
    pub const ALL: [Emotion; NUM_EMOTIONS] = [
        Emotion::Neutral,
        Emotion::Calm,
        Emotion::Happy,
        Emotion::Sad,
        Emotion::Angry,
        Emotion::Fearful,
        Emotion::Disgust,
        Emotion::Surprised,
    ];

    /// From the two-digit file-name code 1..=8.
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    /// Class index 0..8 (file-name code minus one).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lower-case English name, as in the RAVDESS documentation.
    pub fn name(self) -> &'static str {
        match self {
            Emotion::Neutral => "neutral",
            Emotion::Calm => "calm",
            Emotion::Happy => "happy",
            Emotion::Sad => "sad",
            Emotion::Angry => "angry",
            Emotion::Fearful => "fearful",
            Emotion::Disgust => "disgust",
            Emotion::Surprised => "surprised",
        }
    }

    /// Class names in index order.
    pub fn class_names() -> Vec<String> {
        Self::ALL.iter().map(|e| e.name().to_string()).collect()
    }
}

/// The fields encoded in a RAVDESS speech file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipName {
    pub emotion: Emotion,
    /// 1 normal, 2 strong.
    pub intensity: u8,
    /// 1 "Kids are talking by the door", 2 "Dogs are sitting by the door".
    pub statement: u8,
    /// 1 or 2.
    pub repetition: u8,
    /// 1..=24; odd male, even female.
    pub actor: u8,
}

/// Why a `.wav` file was left out of the index.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum SkipReason {
    /// Not seven dash-separated two-digit fields.
    Pattern,
    /// A field holds a value RAVDESS does not use.
    Field {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    /// The file sits in an `Actor_NN` folder of another actor.
    ActorFolder { folder: String, actor: u8 },
    /// Another file with the same name was indexed first.
    Duplicate { first: PathBuf },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::Pattern => write!(f, "name is not 03-01-EE-II-SS-RR-AA.wav"),
            SkipReason::Field {
                field,
                value,
                expected,
            } => write!(f, "{field} is {value}, expected {expected}"),
            SkipReason::ActorFolder { folder, actor } => {
                write!(f, "actor {actor:02} file inside folder {folder}")
            }
            SkipReason::Duplicate { first } => {
                write!(f, "same name as {} (indexed first)", first.display())
            }
        }
    }
}

/// Parses a RAVDESS speech file name (with or without the `.wav` extension, case-insensitive).
pub fn parse_file_name(name: &str) -> std::result::Result<ClipName, SkipReason> {
    let stem = strip_wav_extension(name).unwrap_or(name);
    let fields: Vec<&str> = stem.split('-').collect();
    if fields.len() != 7
        || fields
            .iter()
            .any(|f| f.len() != 2 || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(SkipReason::Pattern);
    }
    let num: Vec<u8> = fields.iter().map(|f| f.parse().unwrap_or(0)).collect();
    let check = |field: &'static str, value: u8, ok: bool, expected: &'static str| {
        if ok {
            Ok(value)
        } else {
            Err(SkipReason::Field {
                field,
                value: format!("{value:02}"),
                expected,
            })
        }
    };
    check("modality", num[0], num[0] == 3, "03 (audio only)")?;
    check("vocal channel", num[1], num[1] == 1, "01 (speech)")?;
    let emotion = Emotion::from_code(num[2]).ok_or_else(|| SkipReason::Field {
        field: "emotion",
        value: format!("{:02}", num[2]),
        expected: "01..=08",
    })?;
    let intensity = check("intensity", num[3], (1..=2).contains(&num[3]), "01 or 02")?;
    if emotion == Emotion::Neutral && intensity == 2 {
        return Err(SkipReason::Field {
            field: "intensity",
            value: "02".into(),
            expected: "01 for neutral (neutral has no strong intensity)",
        });
    }
    let statement = check("statement", num[4], (1..=2).contains(&num[4]), "01 or 02")?;
    let repetition = check("repetition", num[5], (1..=2).contains(&num[5]), "01 or 02")?;
    let actor = check(
        "actor",
        num[6],
        (1..=NUM_ACTORS).contains(&num[6]),
        "01..=24",
    )?;
    Ok(ClipName {
        emotion,
        intensity,
        statement,
        repetition,
        actor,
    })
}

fn strip_wav_extension(name: &str) -> Option<&str> {
    let cut = name.len().checked_sub(4)?;
    let (stem, ext) = name.split_at_checked(cut)?;
    ext.eq_ignore_ascii_case(".wav").then_some(stem)
}

/// One indexed speech clip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    pub path: PathBuf,
    /// File stem, e.g. `03-01-05-02-01-01-14`; unique within an index.
    pub id: String,
    #[serde(flatten)]
    pub name: ClipName,
}

impl Clip {
    /// Class index 0..8.
    pub fn label(&self) -> usize {
        self.name.emotion.index()
    }

    /// Actor number 1..=24.
    pub fn actor(&self) -> u8 {
        self.name.actor
    }
}

/// A `.wav` file that was left out, with the reason.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SkippedFile {
    pub path: PathBuf,
    pub reason: SkipReason,
}

/// All speech clips under a root folder, sorted by path.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DatasetIndex {
    pub root: PathBuf,
    pub clips: Vec<Clip>,
    pub skipped: Vec<SkippedFile>,
}

impl DatasetIndex {
    /// Walks `root` recursively and indexes every `*.wav` file (case-insensitive extension).
    pub fn scan(root: &Path) -> Result<Self> {
        let mut wavs = Vec::new();
        collect_wavs(root, &mut wavs)?;
        Ok(Self::from_paths(root, wavs))
    }

    /// Indexes the given `.wav` paths (sorted first, so the index does not depend on their order).
    pub fn from_paths(root: &Path, mut paths: Vec<PathBuf>) -> Self {
        paths.sort();
        let mut index = DatasetIndex {
            root: root.to_path_buf(),
            ..Default::default()
        };
        let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
        for path in paths {
            let file_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let verdict = parse_file_name(&file_name).and_then(|name| {
                check_actor_folder(&path, name.actor)?;
                Ok(name)
            });
            let name = match verdict {
                Ok(name) => name,
                Err(reason) => {
                    index.skipped.push(SkippedFile { path, reason });
                    continue;
                }
            };
            let id = strip_wav_extension(&file_name)
                .unwrap_or(&file_name)
                .to_string();
            if let Some(first) = seen.get(&id) {
                let reason = SkipReason::Duplicate {
                    first: first.clone(),
                };
                index.skipped.push(SkippedFile { path, reason });
                continue;
            }
            seen.insert(id.clone(), path.clone());
            index.clips.push(Clip { path, id, name });
        }
        index
    }

    /// Actors with at least one clip, ascending.
    pub fn actors(&self) -> Vec<u8> {
        let set: BTreeSet<u8> = self.clips.iter().map(Clip::actor).collect();
        set.into_iter().collect()
    }

    /// Actors 1..=24 without any clip.
    pub fn missing_actors(&self) -> Vec<u8> {
        let present: BTreeSet<u8> = self.clips.iter().map(Clip::actor).collect();
        (1..=NUM_ACTORS).filter(|a| !present.contains(a)).collect()
    }

    /// Clip count per present actor.
    pub fn counts_per_actor(&self) -> BTreeMap<u8, usize> {
        let mut counts = BTreeMap::new();
        for clip in &self.clips {
            *counts.entry(clip.actor()).or_insert(0) += 1;
        }
        counts
    }

    /// Clip count per emotion, in class-index order.
    pub fn counts_per_emotion(&self) -> [usize; NUM_EMOTIONS] {
        let mut counts = [0; NUM_EMOTIONS];
        for clip in &self.clips {
            counts[clip.label()] += 1;
        }
        counts
    }

    /// Human-readable summary: totals, counts per actor and emotion, missing actors, skipped files.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "RAVDESS index of {}: {} clips from {} actors, {} files skipped\n",
            self.root.display(),
            self.clips.len(),
            self.actors().len(),
            self.skipped.len()
        );
        let per_actor: Vec<String> = self
            .counts_per_actor()
            .iter()
            .map(|(a, n)| format!("{a:02}:{n}"))
            .collect();
        s += &format!("  per actor:   {}\n", per_actor.join(" "));
        let per_emotion: Vec<String> = Emotion::ALL
            .iter()
            .zip(self.counts_per_emotion())
            .map(|(e, n)| format!("{}:{n}", e.name()))
            .collect();
        s += &format!("  per emotion: {}\n", per_emotion.join(" "));
        let missing = self.missing_actors();
        if missing.is_empty() {
            s += "  missing actors: none\n";
        } else {
            let list: Vec<String> = missing.iter().map(|a| format!("{a:02}")).collect();
            s += &format!("  missing actors: {}\n", list.join(" "));
        }
        for skipped in &self.skipped {
            s += &format!("  skipped {}: {}\n", skipped.path.display(), skipped.reason);
        }
        s
    }
}

/// A file inside a folder named `Actor_NN` must belong to actor NN.
fn check_actor_folder(path: &Path, actor: u8) -> std::result::Result<(), SkipReason> {
    let Some(folder) = path.parent().and_then(Path::file_name) else {
        return Ok(());
    };
    let folder = folder.to_string_lossy();
    let Some(number) = folder.strip_prefix("Actor_") else {
        return Ok(());
    };
    match number.parse::<u8>() {
        Ok(n) if n != actor => Err(SkipReason::ActorFolder {
            folder: folder.into_owned(),
            actor,
        }),
        _ => Ok(()),
    }
}

fn collect_wavs(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| ExperimentError::io("reading folder", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| ExperimentError::io("reading folder", dir, e))?;
        let path = entry.path();
        // `metadata` follows symbolic links, so a linked actor folder is walked too.
        let kind =
            std::fs::metadata(&path).map_err(|e| ExperimentError::io("inspecting", &path, e))?;
        if kind.is_dir() {
            collect_wavs(&path, out)?;
        } else if path
            .file_name()
            .and_then(|n| strip_wav_extension(&n.to_string_lossy()).map(|_| ()))
            .is_some()
        {
            out.push(path);
        }
    }
    Ok(())
}
