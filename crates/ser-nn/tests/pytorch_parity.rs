//! Agreement with PyTorch, through the fixtures written by fixtures/nn/make_fixtures.py:
//! (a) our loader + forward reproduce torch's logits for weights torch saved;
//! (b) a model file WE saved loads into torch with `load_state_dict(strict=True)` and gives our logits;
//! (c) a few Adam / AdamW steps give torch.optim's weights.

mod common;

use common::{fixture_batch, fixture_dir, max_abs_diff, read_tensor};
use ser_nn::{
    load_model, load_state_dict, Adam, AdamConfig, Classifier, ClassifierConfig, CrossEntropy,
    Head, InitSpec, Real,
};
use std::path::Path;

fn read_json(path: &Path) -> serde_json::Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

fn model_config(case: &serde_json::Value, input_size: usize) -> ClassifierConfig {
    ClassifierConfig {
        input_size,
        hidden_size: case["hidden_size"].as_u64().unwrap() as usize,
        num_layers: case["num_layers"].as_u64().unwrap() as usize,
        head: serde_json::from_value::<Head>(case["head"].clone()).unwrap(),
        dropout: 0.0,
        lstm_dropout: 0.0,
        num_classes: case["num_classes"].as_u64().unwrap() as usize,
        init: InitSpec::paper(),
        attention_size: 0,
        bidirectional: false,
    }
}

fn to_f64<T: Real>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.to_f64()).collect()
}

fn check_forward_case<T: Real>(case: &serde_json::Value, input_size: usize, tol: f64) {
    let dir = fixture_dir();
    let name = case["name"].as_str().unwrap();
    let mut model = Classifier::<T>::new(model_config(case, input_size), 1);
    load_state_dict(&dir.join(format!("forward_{name}.safetensors")), &mut model)
        .expect("torch state_dict loads");
    let io = dir.join(format!("forward_{name}_io.safetensors"));
    let batch = fixture_batch::<T>(&io);
    let (expected, shape) = read_tensor(&io, "logits");
    let got = to_f64(&model.logits(&batch));
    assert_eq!(got.len(), shape.iter().product::<usize>());
    let diff = max_abs_diff(&got, &expected);
    println!(
        "forward {name} ({}): max |ours − torch| = {diff:.2e}",
        std::any::type_name::<T>()
    );
    assert!(diff <= tol, "{name}: logits differ from torch by {diff:e}");
}

#[test]
fn a_logits_match_torch_for_torch_saved_weights() {
    let meta = read_json(&fixture_dir().join("forward_cases.json"));
    let input_size = meta["input_size"].as_u64().unwrap() as usize;
    let cases = meta["cases"].as_array().unwrap();
    assert!(cases.len() >= 2);
    let heads: Vec<&str> = cases.iter().map(|c| c["head"].as_str().unwrap()).collect();
    assert!(heads.contains(&"last") && heads.contains(&"concat"));
    for case in cases {
        check_forward_case::<f32>(case, input_size, 1e-5);
        check_forward_case::<f64>(case, input_size, 1e-5);
    }
}

#[test]
fn b_our_saved_model_loads_strictly_in_torch() {
    let ours = fixture_dir().join("ours");
    let check = read_json(&ours.join("load_check.json"));
    let models = check["models"]
        .as_object()
        .expect("load_check.json lists models");
    assert!(
        models.contains_key("last") && models.contains_key("concat"),
        "both heads checked by torch"
    );
    for (head, entry) in models {
        assert_eq!(
            entry["strict_ok"], true,
            "{head}: torch strict load failed: {}",
            entry["error"]
        );
        assert_eq!(entry["missing_keys"].as_array().map(Vec::len), Some(0));
        assert_eq!(entry["unexpected_keys"].as_array().map(Vec::len), Some(0));
        assert_eq!(entry["dtypes"], serde_json::json!(["torch.float32"]));
        // Re-run OUR current loader and forward on the same file and compare with torch's logits.
        let (mut model, _meta) =
            load_model(&ours.join(format!("model_{head}.safetensors"))).expect("our file loads");
        let batch = fixture_batch::<f32>(&ours.join(format!("io_{head}.safetensors")));
        let torch_logits: Vec<f64> = entry["torch_logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let diff = max_abs_diff(&to_f64(&model.logits(&batch)), &torch_logits);
        println!("ours/{head}: strict load ok, max |ours − torch| = {diff:.2e}");
        assert!(
            diff <= 1e-5,
            "{head}: torch logits of our file differ by {diff:e}"
        );
    }
}

fn run_adam_variant<T: Real>(
    meta: &serde_json::Value,
    variant: &serde_json::Value,
    tag: &str,
    tol: f64,
) {
    let dir = fixture_dir();
    let input_size = meta["input_size"].as_u64().unwrap() as usize;
    let mut model = Classifier::<T>::new(model_config(&meta["model"], input_size), 1);
    load_state_dict(&dir.join("adam_init.safetensors"), &mut model).unwrap();
    let weights: Option<Vec<f64>> =
        serde_json::from_value(variant["class_weights"].clone()).unwrap();
    let smoothing = variant["label_smoothing"].as_f64().unwrap();
    model
        .set_loss(CrossEntropy::with_options(weights, smoothing).unwrap())
        .unwrap();
    let batch_file = dir.join("adam_batch.safetensors");
    let batch = fixture_batch::<T>(&batch_file);
    let labels: Vec<usize> = read_tensor(&batch_file, "labels")
        .0
        .iter()
        .map(|&l| l as usize)
        .collect();
    let betas = variant["betas"].as_array().unwrap();
    let config = AdamConfig {
        lr: variant["lr"].as_f64().unwrap(),
        beta1: betas[0].as_f64().unwrap(),
        beta2: betas[1].as_f64().unwrap(),
        eps: variant["eps"].as_f64().unwrap(),
        weight_decay: variant["weight_decay"].as_f64().unwrap(),
        decoupled: variant["optimizer"] == "adamw",
    };
    let mut adam = Adam::<T>::try_new(config, model.num_params()).unwrap();
    let mut grads = vec![T::NAN; model.num_params()];
    let torch_losses = variant["losses"][tag].as_array().unwrap();
    for (step, torch_loss) in torch_losses.iter().enumerate() {
        let loss = model.forward_backward(&batch, &labels, step as u64, &mut grads);
        let torch_loss = torch_loss.as_f64().unwrap();
        assert!(
            (loss - torch_loss).abs() <= tol,
            "step {step}: loss {loss} vs torch {torch_loss}"
        );
        adam.step(model.params_mut(), &grads);
    }
    let name = variant["name"].as_str().unwrap();
    let mut expected = Classifier::<T>::new(model_config(&meta["model"], input_size), 2);
    load_state_dict(
        &dir.join(format!("adam_{name}_{tag}.safetensors")),
        &mut expected,
    )
    .unwrap();
    let diff = max_abs_diff(&to_f64(model.params()), &to_f64(expected.params()));
    let moved = max_abs_diff(&to_f64(model.params()), &{
        let mut init = Classifier::<T>::new(model_config(&meta["model"], input_size), 3);
        load_state_dict(&dir.join("adam_init.safetensors"), &mut init).unwrap();
        to_f64(init.params())
    });
    println!(
        "{name} {tag}: {} steps, weights moved up to {moved:.2e}, max |ours − torch| = {diff:.2e}",
        torch_losses.len()
    );
    assert!(
        moved > 100.0 * tol,
        "{name}: the steps must move the weights measurably"
    );
    assert!(
        diff <= tol,
        "{name} {tag}: weights differ from torch by {diff:e}"
    );
}

#[test]
fn c_adam_steps_match_torch_optim() {
    let meta = read_json(&fixture_dir().join("adam_cases.json"));
    let variants = meta["variants"].as_array().unwrap();
    for variant in variants {
        run_adam_variant::<f32>(&meta, variant, "f32", 1e-5);
        run_adam_variant::<f64>(&meta, variant, "f64", 1e-9);
    }
}
