//! File-name parsing, indexing and the data-folder precedence.

use std::path::{Path, PathBuf};

use ser_experiment::data_dir::resolve_with;
use ser_experiment::dataset::{parse_file_name, DatasetIndex, Emotion, SkipReason};
use ser_experiment::ExperimentError;

fn touch(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"").unwrap();
}

#[test]
fn parses_every_field_of_a_valid_name() {
    let name = parse_file_name("03-01-05-02-01-02-14.wav").unwrap();
    assert_eq!(name.emotion, Emotion::Angry);
    assert_eq!(name.emotion.index(), 4);
    assert_eq!(name.intensity, 2);
    assert_eq!(name.statement, 1);
    assert_eq!(name.repetition, 2);
    assert_eq!(name.actor, 14);
    // Extension optional and case-insensitive.
    assert_eq!(parse_file_name("03-01-05-02-01-02-14").unwrap(), name);
    assert_eq!(parse_file_name("03-01-05-02-01-02-14.WAV").unwrap(), name);
}

#[test]
fn every_emotion_code_maps_to_its_index() {
    for code in 1..=8u8 {
        let name = format!("03-01-{code:02}-01-01-01-01.wav");
        assert_eq!(
            parse_file_name(&name).unwrap().emotion.index(),
            usize::from(code) - 1
        );
    }
}

#[test]
fn rejects_bad_names_with_the_reason() {
    let pattern = [
        "03-01-05-02-01-02.wav",
        "03-01-05-02-01-02-14-01.wav",
        "03-01-5-02-01-02-14.wav",
        "03_01_05_02_01_02_14.wav",
        "03-01-05-02-01-02-1a.wav",
        "",
        "readme.wav",
    ];
    for name in pattern {
        assert_eq!(parse_file_name(name), Err(SkipReason::Pattern), "{name}");
    }
    let field = |name: &str| match parse_file_name(name) {
        Err(SkipReason::Field { field, .. }) => field,
        other => panic!("{name}: expected a field error, got {other:?}"),
    };
    assert_eq!(field("01-01-05-02-01-02-14.wav"), "modality");
    assert_eq!(field("03-02-05-02-01-02-14.wav"), "vocal channel");
    assert_eq!(field("03-01-09-02-01-02-14.wav"), "emotion");
    assert_eq!(field("03-01-00-02-01-02-14.wav"), "emotion");
    assert_eq!(field("03-01-05-03-01-02-14.wav"), "intensity");
    assert_eq!(field("03-01-01-02-01-02-14.wav"), "intensity"); // neutral has no strong intensity
    assert_eq!(field("03-01-05-02-03-02-14.wav"), "statement");
    assert_eq!(field("03-01-05-02-01-00-14.wav"), "repetition");
    assert_eq!(field("03-01-05-02-01-02-25.wav"), "actor");
    assert_eq!(field("03-01-05-02-01-02-00.wav"), "actor");
}

#[test]
fn index_lists_skipped_files_counts_and_missing_actors() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut expected = 0;
    for actor in [1u8, 2, 5] {
        for emotion in 1..=8u8 {
            touch(&root.join(format!(
                "Actor_{actor:02}/03-01-{emotion:02}-01-01-01-{actor:02}.wav"
            )));
            expected += 1;
        }
    }
    touch(&root.join("Actor_01/03-01-09-01-01-01-01.wav")); // bad emotion
    touch(&root.join("Actor_01/notes.wav")); // bad pattern
    touch(&root.join("Actor_02/03-01-03-01-01-01-05.wav")); // actor 5 in actor 2's folder
    touch(&root.join("copy/03-01-03-01-01-01-01.wav")); // duplicate name of an Actor_01 file
    touch(&root.join("Actor_01/README.md")); // not a wav: ignored silently
    let index = DatasetIndex::scan(root).unwrap();
    assert_eq!(index.clips.len(), expected);
    assert_eq!(index.skipped.len(), 4, "{:#?}", index.skipped);
    assert!(index
        .skipped
        .iter()
        .any(|s| matches!(s.reason, SkipReason::ActorFolder { actor: 5, .. })));
    assert!(index
        .skipped
        .iter()
        .any(|s| matches!(s.reason, SkipReason::Duplicate { .. })));
    assert_eq!(index.actors(), vec![1, 2, 5]);
    let missing = index.missing_actors();
    assert_eq!(missing.len(), 21);
    assert!(!missing.contains(&5) && missing.contains(&3) && missing.contains(&24));
    let per_actor = index.counts_per_actor();
    assert_eq!(per_actor.values().sum::<usize>(), expected);
    assert!(per_actor.values().all(|&n| n == 8));
    assert_eq!(index.counts_per_emotion(), [3; 8]);
    let summary = index.summary();
    assert!(summary.contains("missing actors: 03 04 06"), "{summary}");
    assert!(summary.contains("notes.wav"), "{summary}");
    // Sorted by path, so the index is independent of directory order.
    let paths: Vec<&PathBuf> = index.clips.iter().map(|c| &c.path).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
}

#[test]
fn data_folder_precedence_and_messages() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("repo");
    let with_data = |p: &Path| touch(&p.join("Actor_03/03-01-02-01-01-01-03.wav"));
    let flag = dir.path().join("flag");
    let env = dir.path().join("env");
    let local = base.join("data/ravdess");
    let shared = dir.path().join("shared/ravdess");
    std::fs::create_dir_all(&base).unwrap();

    // Nothing anywhere: the message says where to get the data.
    let err = resolve_with(None, None, &base).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ExperimentError::NoData { .. }));
    assert!(
        message.contains("1188976") && message.contains("Audio_Speech_Actors_01-24.zip"),
        "{message}"
    );
    assert!(message.contains("data/ravdess"), "{message}");

    with_data(&shared);
    assert_eq!(
        resolve_with(None, None, &base).unwrap().dir,
        base.join("../shared/ravdess")
    );
    with_data(&local);
    assert_eq!(resolve_with(None, None, &base).unwrap().dir, local);
    with_data(&env);
    assert_eq!(resolve_with(None, Some(&env), &base).unwrap().dir, env);
    with_data(&flag);
    let chosen = resolve_with(Some(&flag), Some(&env), &base).unwrap();
    assert_eq!(chosen.dir, flag);
    assert_eq!(chosen.source, "--data");
    assert_eq!(chosen.index.clips.len(), 1);

    // An explicit folder without data is an error, not a silent fall-through.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let err = resolve_with(Some(&empty), Some(&env), &base).unwrap_err();
    assert!(matches!(err, ExperimentError::EmptyDataDir { .. }), "{err}");
    assert!(err.to_string().contains("1188976"));
}
