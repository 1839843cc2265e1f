//! The classifier's configuration: everything needed to rebuild the network, serialised into saved models.

use crate::error::NnError;
use crate::init_spec::InitSpec;

/// Which final hidden states form the clip vector fed to the output layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Head {
    /// `h_n` of the last layer: `[B, H]` (torch `hn[-1]`).
    Last,
    /// `h_n` of every layer, layer 0 first: `[B, L·H]` (torch `hn.permute(1, 0, 2).reshape(B, -1)`).
    Concat,
    /// Mean of the last layer's outputs over each clip's frames: `[B, H]`.
    Mean,
    /// Element-wise maximum of the last layer's outputs over each clip's frames: `[B, H]`.
    Max,
    /// Soft attention pooling of the last layer's outputs (see [`crate::pooling`]): `[B, H]`.
    Attention,
}

impl Head {
    /// Every head, in a stable order.
    pub const ALL: [Head; 5] = [
        Head::Last,
        Head::Concat,
        Head::Mean,
        Head::Max,
        Head::Attention,
    ];

    /// Lower-case name, as in configs and files: `last`, `concat`, `mean`, `max`, `attention`.
    pub fn name(self) -> &'static str {
        match self {
            Head::Last => "last",
            Head::Concat => "concat",
            Head::Mean => "mean",
            Head::Max => "max",
            Head::Attention => "attention",
        }
    }

    /// Pools the per-frame outputs (needs them from the LSTM) rather than reading final states.
    pub fn pools_frames(self) -> bool {
        matches!(self, Head::Mean | Head::Max | Head::Attention)
    }
}

/// LSTM(input_size, hidden_size, num_layers) → head → dropout → Linear(→ num_classes).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ClassifierConfig {
    /// Features per frame (34 MFCCs in the paper).
    pub input_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub head: Head,
    /// Dropout on the clip vector before `fc` (paper: 0.3).
    pub dropout: f64,
    /// Dropout between LSTM layers, training only (PyTorch `nn.LSTM(dropout=…)`; default 0).
    pub lstm_dropout: f64,
    /// Output classes (8 emotions in RAVDESS).
    pub num_classes: usize,
    /// Initialisation; default = the paper's.
    #[serde(default)]
    pub init: InitSpec,
    /// Width `A` of the attention projection ([`Head::Attention`] only); 0 means `A = H`.
    /// Left out of the JSON when 0, so configurations of the other heads serialise as before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attention_size: usize,
    /// Bidirectional LSTM (PyTorch `bidirectional=True`, `*_reverse` tensors): every state and output
    /// is `D = 2` directions wide. Left out of the JSON when false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bidirectional: bool,
}

fn is_zero(v: &usize) -> bool {
    *v == 0
}

impl ClassifierConfig {
    /// The paper's network: 34 inputs, 8 classes, dropout 0.3 before `fc`, no inter-layer dropout,
    /// the paper's initialisation.
    pub fn paper(hidden_size: usize, num_layers: usize, head: Head) -> Self {
        Self {
            input_size: 34,
            hidden_size,
            num_layers,
            head,
            dropout: 0.3,
            lstm_dropout: 0.0,
            num_classes: 8,
            init: InitSpec::paper(),
            attention_size: 0,
            bidirectional: false,
        }
    }

    /// Directions `D`: 2 when bidirectional, else 1.
    pub fn num_directions(&self) -> usize {
        self.lstm_config().num_directions()
    }

    /// Width of the LSTM's per-frame output: `D·H`.
    pub fn output_size(&self) -> usize {
        self.lstm_config().output_size()
    }

    /// Width `F` of the clip vector: `L·D·H` (Concat), else `D·H` (Last: both directions' final
    /// states of the last layer, forward first).
    pub fn feature_size(&self) -> usize {
        match self.head {
            Head::Concat => self.num_layers * self.output_size(),
            Head::Last | Head::Mean | Head::Max | Head::Attention => self.output_size(),
        }
    }

    /// The attention pooling layer, when the head is [`Head::Attention`].
    pub fn attention(&self) -> Option<crate::pooling::AttentionPool> {
        (self.head == Head::Attention).then(|| {
            let width = if self.attention_size == 0 {
                self.hidden_size
            } else {
                self.attention_size
            };
            crate::pooling::AttentionPool::new(self.output_size(), width)
        })
    }

    /// The LSTM part as lstm-core sees it.
    pub fn lstm_config(&self) -> lstm_core::LstmConfig {
        lstm_core::LstmConfig {
            input_size: self.input_size,
            hidden_size: self.hidden_size,
            num_layers: self.num_layers,
            dropout: self.lstm_dropout,
            bidirectional: self.bidirectional,
        }
    }

    /// Total parameters: PyTorch `nn.LSTM`, the attention layer if any (`A·D·H + 2A`), and
    /// `nn.Linear(F, C)`: `D·Σ_k 4H(in_k + H + 2) [+ A·D·H + 2A] + F·C + C`.
    pub fn num_params(&self) -> usize {
        self.lstm_config().num_params()
            + self.attention().map_or(0, |a| a.num_params())
            + self.feature_size() * self.num_classes
            + self.num_classes
    }

    /// # Errors
    /// [`NnError::InvalidConfig`] for a zero size, fewer than 2 classes, or a dropout outside `[0, 1)`.
    pub fn validate(&self) -> Result<(), NnError> {
        let positive = [
            ("input_size", self.input_size),
            ("hidden_size", self.hidden_size),
            ("num_layers", self.num_layers),
        ];
        for (field, v) in positive {
            if v == 0 {
                return Err(NnError::invalid(
                    "classifier config",
                    field,
                    v,
                    "must be > 0",
                ));
            }
        }
        if self.num_classes < 2 {
            return Err(NnError::invalid(
                "classifier config",
                "num_classes",
                self.num_classes,
                "must be >= 2",
            ));
        }
        for (field, p) in [
            ("dropout", self.dropout),
            ("lstm_dropout", self.lstm_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return Err(NnError::invalid(
                    "classifier config",
                    field,
                    p,
                    "must satisfy 0 <= p < 1",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_uses_lowercase_head_and_defaults_init() {
        let cfg = ClassifierConfig::paper(32, 2, Head::Concat);
        let json = serde_json::to_value(&cfg).unwrap();
        assert_eq!(json["head"], "concat");
        let mut without_init = json.clone();
        without_init.as_object_mut().unwrap().remove("init");
        let back: ClassifierConfig = serde_json::from_value(without_init).unwrap();
        assert_eq!(back, cfg);
        assert!(ClassifierConfig {
            dropout: 1.0,
            ..cfg
        }
        .validate()
        .is_err());
    }
}
