//! Bit-identical results for 1 and 2 rayon threads, and no dependence on stale workspace contents,
//! unidirectional and bidirectional.

mod common;

use common::{problem, run};
use lstm_core::{KernelKind, Lstm, LstmConfig};

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn same_bits_for_one_and_two_threads() {
    for bidirectional in [false, true] {
        let config = LstmConfig {
            input_size: 6,
            hidden_size: 17,
            num_layers: 3,
            dropout: 0.25,
            bidirectional,
        };
        let lengths: Vec<usize> = (0..40).map(|b| 1 + (b * 11) % 13).collect(); // 3 chunks
        let p = problem::<f32>(config, &lengths, 7);
        let go = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                let mut lstm = Lstm::<f32>::with_kernel(config, KernelKind::Wide).unwrap();
                let (o, gp, gx) = run(&mut lstm, &p, 3);
                (
                    bits(&o.h_n),
                    bits(&o.c_n),
                    bits(o.outputs.as_deref().unwrap()),
                    bits(&gp),
                    bits(&gx),
                )
            })
        };
        assert!(
            go(1) == go(2),
            "bidirectional {bidirectional}: results differ between 1 and 2 threads"
        );
    }
}

#[test]
fn nan_prefilled_workspaces_change_nothing() {
    for (kind, bidirectional) in [
        (KernelKind::Scalar, false),
        (KernelKind::Wide, false),
        (KernelKind::Scalar, true),
        (KernelKind::Wide, true),
    ] {
        let config = LstmConfig {
            input_size: 4,
            hidden_size: 9,
            num_layers: 2,
            dropout: 0.2,
            bidirectional,
        };
        let big: Vec<usize> = (0..21).map(|b| 2 + b % 6).collect();
        let small = [5, 1, 3];
        let p_big = problem::<f32>(config, &big, 1);
        let p_small = problem::<f32>(config, &small, 2);
        let mut fresh = Lstm::<f32>::with_kernel(config, kind).unwrap();
        let want = run(&mut fresh, &p_small, 4);
        let mut dirty = Lstm::<f32>::with_kernel(config, kind).unwrap();
        run(&mut dirty, &p_big, 4); // grow every buffer
        dirty.set_poison_workspaces(true);
        let got = run(&mut dirty, &p_small, 4);
        let what = format!("{kind:?} bidirectional {bidirectional}");
        assert_eq!(bits(&got.0.h_n), bits(&want.0.h_n), "{what} h_n");
        assert_eq!(bits(&got.0.c_n), bits(&want.0.c_n), "{what} c_n");
        assert_eq!(
            bits(got.0.outputs.as_deref().unwrap()),
            bits(want.0.outputs.as_deref().unwrap()),
            "{what} outputs"
        );
        assert_eq!(bits(&got.1), bits(&want.1), "{what} grad params");
        assert_eq!(bits(&got.2), bits(&want.2), "{what} grad input");
    }
}

/// Inference (which projects layer 0 straight from the batch's rows and keeps one block of gates) gives
/// the same bits as a training forward without dropout (which gathers each chunk's rows first and keeps
/// every step), for one and several chunks and unequal lengths.
#[test]
fn inference_equals_training_forward_bitwise() {
    use lstm_core::ForwardOptions;
    for (layers, hidden, sequences) in [(1, 32, 3), (2, 20, 17), (3, 64, 40)] {
        let config = LstmConfig::new(34, hidden, layers);
        let lengths: Vec<usize> = (0..sequences).map(|b| 1 + (b * 37) % 130).collect();
        let p = problem::<f32>(config, &lengths, 5);
        let mut lstm = Lstm::<f32>::with_kernel(config, KernelKind::Wide).unwrap();
        let mut forward = |train_seed| {
            let o = lstm.forward(
                &p.params,
                &p.batch,
                ForwardOptions {
                    keep_outputs: true,
                    train_seed,
                },
            );
            (
                bits(&o.h_n),
                bits(&o.c_n),
                bits(o.outputs.as_deref().unwrap()),
            )
        };
        let trained = forward(Some(1));
        assert!(
            forward(None) == trained,
            "L{layers}h{hidden}, {sequences} sequences: inference differs from the training forward"
        );
    }
}

/// The packed weights are reused only while the parameters are bit for bit the same: after one weight
/// changes and after a training step (backward packs the recurrent weights its own way), the results
/// equal those of a fresh module.
#[test]
fn packed_weights_follow_the_parameters() {
    use lstm_core::{ForwardOptions, LstmGradients};
    let config = LstmConfig::new(34, 32, 2);
    let lengths: Vec<usize> = (0..20).map(|b| 1 + (b * 37) % 90).collect();
    let p = problem::<f32>(config, &lengths, 9);
    let inference = ForwardOptions {
        keep_outputs: true,
        train_seed: None,
    };
    let fresh = |params: &[f32]| {
        let mut lstm = Lstm::<f32>::with_kernel(config, KernelKind::Wide).unwrap();
        let o = lstm.forward(params, &p.batch, inference);
        (bits(&o.h_n), bits(o.outputs.as_deref().unwrap()))
    };
    let mut lstm = Lstm::<f32>::with_kernel(config, KernelKind::Wide).unwrap();
    let mut reused = |params: &[f32]| {
        let o = lstm.forward(params, &p.batch, inference);
        (bits(&o.h_n), bits(o.outputs.as_deref().unwrap()))
    };
    let mut params = p.params.clone();
    assert!(reused(&params) == fresh(&params));
    let w_hh_l1 = lstm_core::ParamLayout::new(&config)
        .direction(1, 0)
        .weight_hh;
    params[w_hh_l1.start + 5] += 0.25;
    assert!(
        reused(&params) == fresh(&params),
        "one recurrent weight changed"
    );
    let mut lstm = Lstm::<f32>::with_kernel(config, KernelKind::Wide).unwrap();
    let train = ForwardOptions {
        keep_outputs: false,
        train_seed: Some(1),
    };
    lstm.forward(&params, &p.batch, train);
    let g_h = vec![0.01f32; 2 * lengths.len() * 32];
    let mut grad = vec![0.0f32; params.len()];
    lstm.backward(
        &params,
        &p.batch,
        LstmGradients {
            h_n: Some(&g_h),
            c_n: None,
            outputs: None,
        },
        &mut grad,
        None,
    );
    let o = lstm.forward(&params, &p.batch, inference);
    assert!(
        (bits(&o.h_n), bits(o.outputs.as_deref().unwrap())) == fresh(&params),
        "inference after a training step"
    );
}
