//! Writes models saved by ser-nn into fixtures/nn/ours/ for the PyTorch strict-load check:
//!
//! ```text
//! cargo run -p ser-nn --example write_fixture_model
//! /work/venv/bin/python fixtures/nn/make_fixtures.py --check-ours
//! ```
//! For each head: `model_<head>.safetensors` (our save format) and `io_<head>.safetensors` holding padded
//! inputs `x [B, T, 34]`, `lengths [B]` (int64) and our eval-mode logits `[B, 8]`.

use anyhow::Context;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use ser_nn::{save_model, Classifier, ClassifierConfig, Head, ModelMeta, PackedBatch};
use std::path::Path;

fn main() -> anyhow::Result<()> {
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/nn/ours");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("create {}", out_dir.display()))?;
    for (head, hidden, layers, seed) in [(Head::Last, 5, 2, 11u64), (Head::Concat, 4, 3, 12)] {
        let name = head.name();
        let config = ClassifierConfig::paper(hidden, layers, head);
        let mut model = Classifier::<f32>::try_new(config, seed)?;
        // Perturb the paper's init (zero biases) so that every tensor carries information.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for p in model.params_mut() {
            *p += rng.gen_range(-0.1..0.1);
        }
        let meta = ModelMeta {
            features: serde_json::json!({"kind": "mfcc", "n_mfcc": 34, "note": "fixture"}),
            norm_mean: (0..34).map(|i| i as f32 * 0.1).collect(),
            norm_std: vec![1.5; 34],
            class_names: [
                "neutral",
                "calm",
                "happy",
                "sad",
                "angry",
                "fearful",
                "disgust",
                "surprised",
            ]
            .map(String::from)
            .to_vec(),
            training: serde_json::json!({"seed": seed, "purpose": "torch strict-load fixture"}),
        };
        let model_path = out_dir.join(format!("model_{name}.safetensors"));
        save_model(&model_path, &model, &meta)
            .with_context(|| format!("save {}", model_path.display()))?;

        let lengths = [6usize, 2, 9, 4];
        let (b, t, i) = (lengths.len(), 9, 34);
        let x: Vec<f32> = (0..b * t * i).map(|_| rng.gen_range(-2.0..2.0)).collect();
        let batch = PackedBatch::from_padded(&x, b, t, i, &lengths);
        let logits = model.logits(&batch);
        let bytes_f32 = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
        let x_bytes = bytes_f32(&x);
        let logit_bytes = bytes_f32(&logits);
        let len_bytes: Vec<u8> = lengths
            .iter()
            .flat_map(|&l| (l as i64).to_le_bytes())
            .collect();
        let tensors = vec![
            ("x", TensorView::new(Dtype::F32, vec![b, t, i], &x_bytes)?),
            ("lengths", TensorView::new(Dtype::I64, vec![b], &len_bytes)?),
            (
                "logits",
                TensorView::new(Dtype::F32, vec![b, 8], &logit_bytes)?,
            ),
        ];
        let io_path = out_dir.join(format!("io_{name}.safetensors"));
        let bytes = safetensors::serialize(tensors, &None)?;
        std::fs::write(&io_path, bytes).with_context(|| format!("write {}", io_path.display()))?;
        println!("wrote {} and {}", model_path.display(), io_path.display());
    }
    Ok(())
}
