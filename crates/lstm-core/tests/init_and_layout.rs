//! Parameter counts against PyTorch for the Table-1 shapes, layout order, and initialiser statistics.

mod common;

use common::rng;
use lstm_core::init::{self, BiasInit, BiasTarget, InitConfig, WeightInit};
use lstm_core::{LstmConfig, ParamLayout};
use safetensors::SafeTensors;

#[test]
fn num_params_equals_pytorch_for_table1_shapes() {
    num_params_match("num_params", false);
}

#[test]
fn bidirectional_num_params_equals_pytorch_for_table1_shapes() {
    num_params_match("num_params_bi", true);
}

fn num_params_match(file: &str, bidirectional: bool) {
    let path = format!(
        "{}/../../fixtures/lstm/{file}.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(path).expect("fixture missing: run fixtures/lstm/make_fixtures.py");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let t = st.tensor("shapes_and_counts").unwrap();
    let v: Vec<i64> = t
        .data()
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(v.len(), 9 * 4);
    for row in v.chunks_exact(4) {
        let config = LstmConfig {
            bidirectional,
            ..LstmConfig::new(row[2] as usize, row[1] as usize, row[0] as usize)
        };
        assert_eq!(config.num_params(), row[3] as usize, "{config:?}");
        assert_eq!(ParamLayout::new(&config).len(), row[3] as usize);
    }
}

#[test]
fn layout_follows_state_dict_order() {
    let layout = ParamLayout::new(&LstmConfig::new(5, 3, 2));
    let names: Vec<&str> = layout.tensors().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "weight_ih_l0",
            "weight_hh_l0",
            "bias_ih_l0",
            "bias_hh_l0",
            "weight_ih_l1",
            "weight_hh_l1",
            "bias_ih_l1",
            "bias_hh_l1"
        ]
    );
    assert_eq!(layout.tensors()[4].shape, vec![12, 3]);
    let mut at = 0;
    for t in layout.tensors() {
        assert_eq!(t.range.start, at);
        at = t.range.end;
    }
    assert_eq!(at, layout.len());
}

#[test]
fn bidirectional_layout_follows_state_dict_order() {
    let config = LstmConfig {
        bidirectional: true,
        ..LstmConfig::new(5, 3, 2)
    };
    let layout = ParamLayout::new(&config);
    let names: Vec<&str> = layout.tensors().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "weight_ih_l0",
            "weight_hh_l0",
            "bias_ih_l0",
            "bias_hh_l0",
            "weight_ih_l0_reverse",
            "weight_hh_l0_reverse",
            "bias_ih_l0_reverse",
            "bias_hh_l0_reverse",
            "weight_ih_l1",
            "weight_hh_l1",
            "bias_ih_l1",
            "bias_hh_l1",
            "weight_ih_l1_reverse",
            "weight_hh_l1_reverse",
            "bias_ih_l1_reverse",
            "bias_hh_l1_reverse",
        ]
    );
    assert_eq!(layout.tensors()[4].shape, vec![12, 5]);
    assert_eq!(layout.tensors()[8].shape, vec![12, 6]); // layer 1 reads [h_fwd ‖ h_rev]
    assert_eq!(layout.tensors()[12].shape, vec![12, 6]);
    assert_eq!((layout.num_layers(), layout.num_directions()), (2, 2));
    assert_eq!(layout.direction(1, 1).weight_ih, layout.tensors()[12].range);
    assert_eq!(layout.layer(1), layout.direction(1, 0));
    let mut at = 0;
    for t in layout.tensors() {
        assert_eq!(t.range.start, at);
        at = t.range.end;
    }
    assert_eq!(at, layout.len());
    assert_eq!(layout.len(), config.num_params());
}

fn gram(q: &[f64], rows: usize, cols: usize, by_columns: bool) -> f64 {
    // max |QᵀQ − I| (columns) or |QQᵀ − I| (rows)
    let (n, len) = if by_columns {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let at = |v: usize, i: usize| {
        if by_columns {
            q[i * cols + v]
        } else {
            q[v * cols + i]
        }
    };
    let mut worst = 0.0f64;
    for a in 0..n {
        for b in 0..n {
            let d: f64 = (0..len).map(|i| at(a, i) * at(b, i)).sum();
            worst = worst.max((d - if a == b { 1.0 } else { 0.0 }).abs());
        }
    }
    worst
}

#[test]
fn orthogonal_is_orthonormal_tall_and_wide() {
    let mut r = rng(3);
    for (rows, cols) in [(4 * 17, 17), (12, 12), (5, 9)] {
        let mut q = vec![f64::NAN; rows * cols];
        init::orthogonal(rows, cols, 1.0, &mut r, &mut q);
        let err = gram(&q, rows, cols, rows >= cols);
        assert!(err < 1e-12, "[{rows}×{cols}] orthogonality error {err:e}");
    }
    let mut q = vec![0.0f64; 8 * 4];
    init::orthogonal(8, 4, 2.0, &mut r, &mut q);
    let col0: f64 = (0..8).map(|i| q[i * 4] * q[i * 4]).sum();
    assert!(
        (col0 - 4.0).abs() < 1e-12,
        "gain 2 gives column norm² {col0}"
    );
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (
        m,
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64,
    )
}

#[test]
fn xavier_variance_matches_definition() {
    let (rows, cols) = (512, 34);
    let want = 2.0 / (rows + cols) as f64; // both Xavier variants have variance gain²·2/(fan_in+fan_out)
    let mut r = rng(5);
    for uniform in [true, false] {
        let mut w = vec![f64::NAN; rows * cols];
        if uniform {
            init::xavier_uniform(rows, cols, 1.0, &mut r, &mut w);
            let a = (6.0 / (rows + cols) as f64).sqrt();
            assert!(w.iter().all(|x| x.abs() <= a));
        } else {
            init::xavier_normal(rows, cols, 1.0, &mut r, &mut w);
        }
        let (m, var) = mean_var(&w);
        // n = 17408 samples: the sample variance's relative standard error is ≈ 1.1% (normal) or 0.7% (uniform).
        assert!(
            m.abs() < 4.0 * (want / w.len() as f64).sqrt(),
            "uniform={uniform}: mean {m}"
        );
        assert!(
            (var / want - 1.0).abs() < 0.05,
            "uniform={uniform}: variance {var} vs {want}"
        );
    }
}

#[test]
fn paper_init_sets_forget_bias_and_zero_elsewhere() {
    let config = LstmConfig::new(34, 32, 2);
    let layout = ParamLayout::new(&config);
    let mut p = vec![f32::NAN; layout.len()];
    init::init_lstm(&layout, &InitConfig::paper(), &mut rng(1), &mut p);
    assert!(p.iter().all(|x| x.is_finite()));
    for k in 0..2 {
        let l = layout.layer(k);
        for bias in [&p[l.bias_ih.clone()], &p[l.bias_hh.clone()]] {
            for (j, &v) in bias.iter().enumerate() {
                assert_eq!(v, if (32..64).contains(&j) { 1.0 } else { 0.0 });
            }
        }
        let hh: Vec<f64> = p[l.weight_hh.clone()].iter().map(|&x| x as f64).collect();
        assert!(gram(&hh, 128, 32, true) < 1e-5);
    }
    let only_ih = InitConfig {
        weight_ih: WeightInit::XavierUniform { gain: 1.0 },
        weight_hh: WeightInit::UniformHidden,
        bias: BiasInit::Zero {
            forget_gate: Some(2.0),
            target: BiasTarget::Ih,
        },
    };
    init::init_lstm(&layout, &only_ih, &mut rng(2), &mut p);
    let l = layout.layer(0);
    assert_eq!(p[l.bias_ih.start + 40], 2.0);
    assert_eq!(p[l.bias_hh.start + 40], 0.0);
    let bound = 1.0 / (32f32).sqrt();
    assert!(p[l.weight_hh.clone()].iter().all(|x| x.abs() <= bound));
}

#[test]
fn bidirectional_paper_init_covers_reverse_tensors() {
    let config = LstmConfig {
        bidirectional: true,
        ..LstmConfig::new(34, 16, 2)
    };
    let layout = ParamLayout::new(&config);
    let mut p = vec![f64::NAN; layout.len()];
    init::init_lstm(&layout, &InitConfig::paper(), &mut rng(1), &mut p);
    assert!(p.iter().all(|x| x.is_finite()));
    for k in 0..2 {
        for d in 0..2 {
            let l = layout.direction(k, d);
            for bias in [&p[l.bias_ih.clone()], &p[l.bias_hh.clone()]] {
                for (j, &v) in bias.iter().enumerate() {
                    assert_eq!(v, if (16..32).contains(&j) { 1.0 } else { 0.0 });
                }
            }
            assert!(
                gram(&p[l.weight_hh.clone()], 64, 16, true) < 1e-12,
                "l{k} d{d}"
            );
            let ih = &p[l.weight_ih.clone()];
            let cols = if k == 0 { 34 } else { 32 };
            assert_eq!(ih.len(), 64 * cols);
            let (_, var) = mean_var(ih);
            let want = 2.0 / (64 + cols) as f64;
            assert!(
                (var / want - 1.0).abs() < 0.2,
                "l{k} d{d}: Xavier variance {var} vs {want}"
            );
        }
    }
    // The forward tensors are drawn first, layer by layer: a unidirectional model's layer-0 draws
    // coincide with the bidirectional model's layer-0 forward tensors.
    let uni = ParamLayout::new(&LstmConfig::new(34, 16, 2));
    let mut q = vec![f64::NAN; uni.len()];
    init::init_lstm(&uni, &InitConfig::paper(), &mut rng(1), &mut q);
    assert_eq!(q[uni.layer(0).weight_ih], p[layout.layer(0).weight_ih]);
    assert_ne!(
        p[layout.direction(0, 0).weight_hh.clone()],
        p[layout.direction(0, 1).weight_hh.clone()]
    );
}
