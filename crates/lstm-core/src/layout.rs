//! Where each PyTorch parameter tensor lives inside one flat buffer.

use crate::config::LstmConfig;
use std::ops::Range;

/// One named tensor of the flat buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    /// PyTorch name without prefix, e.g. `weight_ih_l0`.
    pub name: String,
    /// PyTorch shape, e.g. `[4H, I]`.
    pub shape: Vec<usize>,
    /// Position in the flat buffer (row-major contents).
    pub range: Range<usize>,
}

/// The four tensors of one layer and direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRanges {
    /// `weight_ih_l{k}`: `[4H, in_k]` row-major.
    pub weight_ih: Range<usize>,
    /// `weight_hh_l{k}`: `[4H, H]` row-major.
    pub weight_hh: Range<usize>,
    /// `bias_ih_l{k}`: `[4H]`.
    pub bias_ih: Range<usize>,
    /// `bias_hh_l{k}`: `[4H]`.
    pub bias_hh: Range<usize>,
}

/// Layout of all parameters (and, identically, of their gradients) in one flat buffer, in PyTorch
/// `state_dict` order: `weight_ih_l0 [4H×I], weight_hh_l0 [4H×H], bias_ih_l0 [4H], bias_hh_l0 [4H],
/// weight_ih_l1 [4H×H], …`. Gate order inside every `4H` dimension: i, f, g, o.
///
/// Bidirectional: after each layer's four tensors come the same four for the reverse direction, suffixed
/// `_reverse` (`weight_ih_l0_reverse [4H×I]`, …), and layers above the first take `2H` inputs
/// (`weight_ih_l1 [4H×2H]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamLayout {
    tensors: Vec<TensorSpec>,
    directions: usize,
    len: usize,
}

impl ParamLayout {
    /// The layout of `config` (sizes are not validated here; see [`LstmConfig::validate`]).
    pub fn new(config: &LstmConfig) -> Self {
        let h = config.hidden_size;
        let directions = config.num_directions();
        let mut tensors = Vec::with_capacity(4 * directions * config.num_layers);
        let mut at = 0;
        for k in 0..config.num_layers {
            let input = config.layer_input_size(k);
            for d in 0..directions {
                let sfx = if d == 0 { "" } else { "_reverse" };
                for (name, shape) in [
                    (format!("weight_ih_l{k}{sfx}"), vec![4 * h, input]),
                    (format!("weight_hh_l{k}{sfx}"), vec![4 * h, h]),
                    (format!("bias_ih_l{k}{sfx}"), vec![4 * h]),
                    (format!("bias_hh_l{k}{sfx}"), vec![4 * h]),
                ] {
                    let n: usize = shape.iter().product();
                    tensors.push(TensorSpec {
                        name,
                        shape,
                        range: at..at + n,
                    });
                    at += n;
                }
            }
        }
        ParamLayout {
            tensors,
            directions,
            len: at,
        }
    }

    /// Total number of scalars (= [`LstmConfig::num_params`]).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no parameters (only for a zero-layer config).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every tensor in `state_dict` order; names carry no prefix.
    pub fn tensors(&self) -> &[TensorSpec] {
        &self.tensors
    }

    /// Number of layers described.
    pub fn num_layers(&self) -> usize {
        self.tensors.len() / (4 * self.directions)
    }

    /// Number of directions D (2 when bidirectional).
    pub fn num_directions(&self) -> usize {
        self.directions
    }

    /// Ranges of layer `k`'s forward-direction tensors (`= self.direction(k, 0)`).
    ///
    /// # Panics
    /// If `k` is not a layer of this layout.
    pub fn layer(&self, k: usize) -> LayerRanges {
        self.direction(k, 0)
    }

    /// Ranges of the tensors of layer `k`, direction `d` (0 forward, 1 reverse).
    ///
    /// # Panics
    /// If `k` is not a layer or `d` not a direction of this layout.
    pub fn direction(&self, k: usize, d: usize) -> LayerRanges {
        assert!(
            k < self.num_layers() && d < self.directions,
            "ParamLayout::direction({k}, {d}) but there are {} layers × {} directions",
            self.num_layers(),
            self.directions
        );
        let u = 4 * (k * self.directions + d);
        let t = &self.tensors[u..u + 4];
        LayerRanges {
            weight_ih: t[0].range.clone(),
            weight_hh: t[1].range.clone(),
            bias_ih: t[2].range.clone(),
            bias_hh: t[3].range.clone(),
        }
    }

    /// The tensor called `name` (without prefix), if any.
    pub fn find(&self, name: &str) -> Option<&TensorSpec> {
        self.tensors.iter().find(|t| t.name == name)
    }
}
