//! Parameter counts equal Table 1 of the paper for all 15 configurations
//! (numbers copied from /work/shared/paper/table1.csv; they are facts about PyTorch's nn.LSTM + nn.Linear).

use ser_nn::{Classifier, ClassifierConfig, Head};

/// (layers, hidden, params with the `last` head, params with the `concat` head if the paper has one).
const TABLE1: [(usize, usize, usize, Option<usize>); 9] = [
    (1, 32, 8968, None),
    (1, 64, 26120, None),
    (1, 128, 85000, None),
    (2, 32, 17416, Some(17672)),
    (2, 64, 59400, Some(59912)),
    (2, 128, 217096, Some(218120)),
    (3, 32, 25864, Some(26376)),
    (3, 64, 92680, Some(93704)),
    (3, 128, 349192, Some(351240)),
];

#[test]
fn num_params_equals_table1_for_all_15_cells() {
    let mut cells = 0;
    for (layers, hidden, last, concat) in TABLE1 {
        for (head, expected) in [(Head::Last, Some(last)), (Head::Concat, concat)] {
            let Some(expected) = expected else { continue };
            let config = ClassifierConfig::paper(hidden, layers, head);
            assert_eq!(
                config.num_params(),
                expected,
                "config L{layers}h{hidden} {head:?}"
            );
            let model = Classifier::<f32>::new(config, 0);
            assert_eq!(
                model.num_params(),
                expected,
                "model L{layers}h{hidden} {head:?}"
            );
            let tensors = model.named_tensors();
            assert_eq!(
                tensors.iter().map(|t| t.range.len()).sum::<usize>(),
                expected
            );
            assert_eq!(
                tensors
                    .iter()
                    .map(|t| t.shape.iter().product::<usize>())
                    .sum::<usize>(),
                expected
            );
            cells += 1;
        }
    }
    assert_eq!(cells, 15);
}

/// Concat with one layer is the same network as Last (the paper lists no separate cell for it).
#[test]
fn single_layer_concat_equals_last() {
    for hidden in [32, 64, 128] {
        let last = ClassifierConfig::paper(hidden, 1, Head::Last).num_params();
        let concat = ClassifierConfig::paper(hidden, 1, Head::Concat).num_params();
        assert_eq!(last, concat);
    }
}
