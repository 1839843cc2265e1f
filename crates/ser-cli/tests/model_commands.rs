//! `ser train`, `info`, `eval` and `predict` on a tiny model trained on generated WAVs.

mod common;

use common::{png_size, ser, ser_with_stdin, trained_fixture, EMOTIONS};

#[test]
fn train_writes_model_log_and_curves() {
    let dir = trained_fixture();
    let log = std::fs::read_to_string(dir.join("run/model.training.csv")).unwrap();
    let mut lines = log.lines();
    assert_eq!(
        lines.next().unwrap(),
        "epoch,train_loss,val_uar,seconds,kept"
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    assert_eq!(rows.len(), 2);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0].parse::<usize>().unwrap(), i + 1);
        assert!(row[1].parse::<f64>().unwrap().is_finite());
        let uar: f64 = row[2].parse().unwrap();
        assert!((0.0..=1.0).contains(&uar));
    }
    assert_eq!(
        rows.iter().filter(|r| r[4] == "1").count(),
        1,
        "exactly one kept epoch"
    );
    assert_eq!(png_size(&dir.join("run/model.curves.png")), (1200, 500));
}

#[test]
fn train_refuses_to_overwrite_a_model() {
    let dir = trained_fixture();
    let before = std::fs::read(dir.join("run/model.safetensors")).unwrap();
    let args = [
        "train",
        "--data",
        "list.csv",
        "--cell",
        "L1h32",
        "--epochs",
        "1",
        "-o",
        "run/model.safetensors",
    ];
    let run = ser(dir, &args);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("already exist") && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(dir.join("run/model.safetensors")).unwrap(),
        before
    );
}

#[test]
fn training_is_deterministic() {
    let dir = trained_fixture();
    let args = [
        "-q",
        "train",
        "--data",
        "list.csv",
        "--cell",
        "L1h32",
        "--epochs",
        "2",
        "--val-speakers",
        "s2",
        "-o",
        "again/model.safetensors",
    ];
    ser(dir, &args).ok();
    let info = |m: &str| {
        let run = ser(dir, &["info", m, "--json"]).ok();
        let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        v["meta"].clone()
    };
    assert_eq!(
        info("run/model.safetensors"),
        info("again/model.safetensors")
    );
    // Same weights: the tensors section of the file is identical.
    let weights = |m: &str| {
        let bytes = std::fs::read(dir.join(m)).unwrap();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        bytes[8 + n..].to_vec()
    };
    assert_eq!(
        weights("run/model.safetensors"),
        weights("again/model.safetensors")
    );
}

#[test]
fn info_reports_architecture_parameters_and_features() {
    let dir = trained_fixture();
    let run = ser(dir, &["info", "run/model.safetensors"]).ok();
    assert!(
        run.stdout.contains("LSTM(input 34, hidden 32, layers 1)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("8968"),
        "paper's parameter count for L1h32:\n{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("lstm.weight_ih_l0      [128, 34]"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("preset paper"), "{}", run.stdout);
    let json = ser(dir, &["info", "run/model.safetensors", "--json"]).ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["num_params"], 8968);
    assert_eq!(v["meta"]["training"]["cell"], "L1h32");
    assert_eq!(v["meta"]["norm_mean"].as_array().unwrap().len(), 34);
}

#[test]
fn eval_prints_metrics_and_draws_the_confusion_matrix() {
    let dir = trained_fixture();
    let run = ser(
        dir,
        &[
            "eval",
            "run/model.safetensors",
            "--data",
            "list.csv",
            "-o",
            "eval",
        ],
    )
    .ok();
    for key in [
        "UAR",
        "WA",
        "macro-F1",
        "per-class recall",
        "confusion matrix",
    ] {
        assert!(run.stdout.contains(key), "{key} missing:\n{}", run.stdout);
    }
    assert!(
        run.stderr.contains("optimistic"),
        "evaluating on training speakers must warn:\n{}",
        run.stderr
    );
    assert_eq!(png_size(&dir.join("eval/confusion.png")), (1000, 820));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("eval/metrics.json")).unwrap())
            .unwrap();
    assert_eq!(m["clips"], 48);
    let uar = m["uar"].as_f64().unwrap();
    let recalls: Vec<f64> = EMOTIONS
        .iter()
        .map(|e| m["recall"][e].as_f64().unwrap())
        .collect();
    let mean = recalls.iter().sum::<f64>() / 8.0;
    assert!((uar - mean).abs() < 1e-12, "UAR is the mean recall");
    let confusion = m["confusion"].as_array().unwrap();
    let total: u64 = confusion
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(total, 48);
}

#[test]
fn predict_json_follows_the_documented_schema() {
    let dir = trained_fixture();
    let run = ser(
        dir,
        &[
            "predict",
            "run/model.safetensors",
            "wav/s0_angry_0.wav",
            "wav/s1_sad_1.wav",
            "--json",
        ],
    )
    .ok();
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["model"], "run/model.safetensors");
    let classes: Vec<&str> = v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(classes, EMOTIONS);
    let predictions = v["predictions"].as_array().unwrap();
    assert_eq!(predictions.len(), 2);
    assert_eq!(predictions[0]["file"], "wav/s0_angry_0.wav");
    for p in predictions {
        let probs = p["probabilities"].as_object().unwrap();
        let keys: Vec<&str> = probs.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 8);
        let sum: f64 = probs.values().map(|x| x.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "probabilities sum to {sum}");
        let emotion = p["emotion"].as_str().unwrap();
        let best = probs
            .iter()
            .max_by(|a, b| a.1.as_f64().partial_cmp(&b.1.as_f64()).unwrap())
            .unwrap();
        assert_eq!(best.0, emotion);
        assert_eq!(p["confidence"].as_f64(), best.1.as_f64());
    }
    assert_eq!(v["errors"].as_array().unwrap().len(), 0);
}

#[test]
fn predict_reads_file_names_from_stdin_and_prints_a_table() {
    let dir = trained_fixture();
    let names = "wav/s0_calm_0.wav\nwav/s2_happy_1.wav\n";
    let run = ser_with_stdin(dir, &["predict", "run/model.safetensors", "-"], names).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    assert!(
        lines[0].starts_with("file")
            && lines[0].contains("emotion")
            && lines[0].contains("neutral")
    );
    assert!(lines[1].starts_with("wav/s0_calm_0.wav"));
    assert_eq!(lines[2].split_whitespace().count(), 3 + 8);
}

#[test]
fn predict_names_a_missing_file_and_fails() {
    let dir = trained_fixture();
    let run = ser(
        dir,
        &[
            "predict",
            "run/model.safetensors",
            "wav/s0_calm_0.wav",
            "nope.wav",
            "--json",
        ],
    );
    assert_eq!(run.code, 1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(v["predictions"].as_array().unwrap().len(), 1);
    assert_eq!(v["errors"][0]["file"], "nope.wav");
    assert!(run.stderr.contains("1 of 2 files"), "{}", run.stderr);
    let missing_model = ser(dir, &["predict", "absent.safetensors", "wav/s0_calm_0.wav"]);
    assert_eq!(missing_model.code, 1);
    assert!(
        missing_model.stderr.contains("absent.safetensors"),
        "{}",
        missing_model.stderr
    );
}

#[test]
fn attention_model_trains_and_plots_its_weights() {
    let dir = tempfile::tempdir().unwrap();
    common::synthetic_corpus(dir.path());
    let train = [
        "-q",
        "train",
        "--data",
        "list.csv",
        "--cell",
        "L1h16-bi-attn",
        "--epochs",
        "1",
        "--val-speakers",
        "s2",
        "-o",
        "run/attn.safetensors",
    ];
    ser(dir.path(), &train).ok();
    let info = ser(dir.path(), &["info", "run/attn.safetensors"]).ok();
    assert!(info.stdout.contains("attention pooling"), "{}", info.stdout);
    let clips = ["wav/s0_angry_0.wav", "wav/s1_sad_1.wav"];
    let mut args = vec![
        "predict",
        "run/attn.safetensors",
        "--plot-attention",
        "plots",
    ];
    args.extend(clips);
    ser(dir.path(), &args).ok();
    for stem in ["s0_angry_0", "s1_sad_1"] {
        let png = dir.path().join(format!("plots/{stem}.attention.png"));
        assert_eq!(png_size(&png), (1100, 460), "{}", png.display());
    }
    // A second run refuses to overwrite the plots without --force, and names the file.
    let again = ser(dir.path(), &args);
    assert_ne!(again.code, 0);
    assert!(
        again.stderr.contains("s0_angry_0.attention.png"),
        "{}",
        again.stderr
    );
    args.push("--force");
    ser(dir.path(), &args).ok();
    // A model without an attention head is refused with a clear message.
    let fixture = trained_fixture();
    let model = fixture.join("run/model.safetensors");
    let wav = fixture.join("wav/s0_angry_0.wav");
    let no_attention = ser(
        dir.path(),
        &[
            "predict",
            model.to_str().unwrap(),
            "--plot-attention",
            "plots2",
            wav.to_str().unwrap(),
        ],
    );
    assert_ne!(no_attention.code, 0);
    assert!(
        no_attention.stderr.contains("no attention head"),
        "{}",
        no_attention.stderr
    );
}
