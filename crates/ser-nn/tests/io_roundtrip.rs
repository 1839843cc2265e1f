//! Saving and loading models: exact round trip, strictness, atomic writes, typed errors.

mod common;

use common::random_batch;
use ser_nn::{
    load_model, load_model_as, load_state_dict, save_model, Classifier, ClassifierConfig, Head,
    ModelMeta, NnError,
};

fn meta() -> ModelMeta {
    ModelMeta {
        features: serde_json::json!({"n_mfcc": 34, "hop_length": 2048}),
        norm_mean: vec![0.5; 34],
        norm_std: vec![2.0; 34],
        class_names: (0..8).map(|c| format!("class{c}")).collect(),
        training: serde_json::json!({"fold": 3, "epoch": 41}),
    }
}

#[test]
fn save_then_load_reproduces_weights_config_meta_and_logits() {
    let dir = tempfile::tempdir().unwrap();
    for head in Head::ALL {
        let mut config = ClassifierConfig::paper(7, 3, head);
        config.lstm_dropout = 0.1;
        if head == Head::Attention {
            config.attention_size = 5;
        }
        // Two heads also bidirectional, so the `*_reverse` tensors go through the file too.
        config.bidirectional = matches!(head, Head::Concat | Head::Attention);
        let mut model = Classifier::<f32>::new(config.clone(), 5);
        let path = dir.path().join(format!("m_{head:?}.safetensors"));
        save_model(&path, &model, &meta()).unwrap();
        let (mut loaded, loaded_meta) = load_model(&path).unwrap();
        assert_eq!(loaded.config(), &config);
        assert_eq!(loaded_meta, meta());
        assert_eq!(loaded.params(), model.params());
        let batch = random_batch::<f32>(&[3, 8, 1], 34, 4);
        assert_eq!(loaded.logits(&batch), model.logits(&batch));
        let (as_f64, _) = load_model_as::<f64>(&path).unwrap();
        assert!(as_f64
            .params()
            .iter()
            .zip(model.params())
            .all(|(a, &b)| *a == b as f64));
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
}

#[test]
fn refuses_to_save_non_finite_weights_and_keeps_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let mut model = Classifier::<f32>::new(ClassifierConfig::paper(4, 1, Head::Last), 1);
    save_model(&path, &model, &meta()).unwrap();
    let before = std::fs::read(&path).unwrap();
    let n = model.num_params();
    model.params_mut()[n - 1] = f32::NAN;
    match save_model(&path, &model, &meta()) {
        Err(NnError::NonFiniteWeight { tensor, index, .. }) => {
            assert_eq!(tensor, "fc.bias");
            assert_eq!(index, 7);
        }
        other => panic!("expected NonFiniteWeight, got {other:?}"),
    }
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn strict_loading_reports_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let small = Classifier::<f32>::new(ClassifierConfig::paper(4, 2, Head::Last), 1);
    save_model(&path, &small, &ModelMeta::default()).unwrap();
    // Wider hidden size: shapes differ.
    let mut wide = Classifier::<f32>::new(ClassifierConfig::paper(5, 2, Head::Last), 1);
    assert!(
        matches!(load_state_dict(&path, &mut wide), Err(NnError::TensorShape { name, .. }) if name == "lstm.weight_ih_l0")
    );
    // More layers: the file lacks layer 2.
    let mut deeper = Classifier::<f32>::new(ClassifierConfig::paper(4, 3, Head::Last), 1);
    assert!(
        matches!(load_state_dict(&path, &mut deeper), Err(NnError::MissingTensor { name, .. }) if name == "lstm.weight_ih_l2")
    );
    // Fewer layers: the file has an extra tensor.
    let mut shallow = Classifier::<f32>::new(ClassifierConfig::paper(4, 1, Head::Last), 1);
    assert!(matches!(
        load_state_dict(&path, &mut shallow),
        Err(NnError::UnexpectedTensor { .. })
    ));
    // Missing file and garbage file carry their path.
    let missing = dir.path().join("nope.safetensors");
    assert!(matches!(load_model(&missing), Err(NnError::Io { path, .. }) if path == missing));
    let garbage = dir.path().join("garbage.safetensors");
    std::fs::write(&garbage, b"not a safetensors file").unwrap();
    assert!(matches!(
        load_model(&garbage),
        Err(NnError::Safetensors { .. })
    ));
    // Wrong-length normalisation vectors are refused at save time.
    let bad_meta = ModelMeta {
        norm_mean: vec![0.0; 3],
        ..ModelMeta::default()
    };
    assert!(matches!(
        save_model(&path, &small, &bad_meta),
        Err(NnError::MetadataMismatch {
            field: "norm_mean",
            ..
        })
    ));
}

#[test]
fn same_model_gives_the_same_file_bytes_and_loads_from_memory() {
    let dir = tempfile::tempdir().unwrap();
    let model = Classifier::<f32>::new(ClassifierConfig::paper(5, 2, Head::Concat), 11);
    let first = dir.path().join("first.safetensors");
    let second = dir.path().join("second.safetensors");
    save_model(&first, &model, &meta()).unwrap();
    save_model(&second, &model, &meta()).unwrap();
    let bytes = std::fs::read(&first).unwrap();
    assert_eq!(bytes, std::fs::read(&second).unwrap());
    let (loaded, loaded_meta) =
        ser_nn::load_model_from_bytes::<f32>(&bytes, std::path::Path::new("in-memory")).unwrap();
    assert_eq!(loaded.params(), model.params());
    assert_eq!(loaded_meta, meta());
    match ser_nn::load_model_from_bytes::<f32>(&bytes[..40], std::path::Path::new("cut-short")) {
        Err(e) => assert!(e.to_string().contains("cut-short"), "{e}"),
        Ok(_) => panic!("a truncated model file loaded"),
    }
}
