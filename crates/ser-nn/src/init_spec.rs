//! Serde mirror of [`lstm_core::init::InitConfig`] (lstm-core has no serde), plus the choice for the
//! final Linear layer, so that a model's initialisation is part of its saved JSON configuration.
//!
//! JSON looks like
//! `{"weight_ih":{"kind":"xavier_normal","gain":1.0},"weight_hh":{"kind":"orthogonal","gain":1.0},
//!   "bias":{"kind":"zero","forget_gate":1.0,"target":"both"},"fc":{"kind":"pytorch_default"}}`.

use lstm_core::init::{BiasInit, BiasTarget, InitConfig, WeightInit};

/// Mirror of [`WeightInit`]: how an LSTM weight matrix `[rows × cols]` is drawn (torch.nn.init semantics).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WeightInitSpec {
    XavierUniform {
        gain: f64,
    },
    XavierNormal {
        gain: f64,
    },
    Orthogonal {
        gain: f64,
    },
    /// `U(−1/√H, 1/√H)`, PyTorch's LSTM default.
    UniformHidden,
}

/// Mirror of [`BiasTarget`]: which of the two PyTorch bias vectors get the forget-gate value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BiasTargetSpec {
    Ih,
    Hh,
    Both,
}

/// Mirror of [`BiasInit`].
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BiasInitSpec {
    /// Zero, except the forget slice `[H, 2H)` set to `forget_gate` in the `target` vectors.
    Zero {
        forget_gate: Option<f64>,
        target: BiasTargetSpec,
    },
    /// `U(−1/√H, 1/√H)`, PyTorch's LSTM default.
    UniformHidden,
}

/// Initialisation of the classifier's output layer `fc` (`[C × F]` weight, `[C]` bias).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LinearInitSpec {
    /// `nn.Linear`'s default: weight and bias `U(±1/√F)` (kaiming_uniform with a = √5).
    #[default]
    PytorchDefault,
    /// Xavier uniform weight, zero bias.
    XavierUniform { gain: f64 },
}

/// The whole initialisation of a classifier. `Default` = the paper's
/// (xavier_normal `weight_ih`, orthogonal `weight_hh`, biases 0 but forget slice 1 in both vectors,
/// PyTorch default `fc`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InitSpec {
    pub weight_ih: WeightInitSpec,
    pub weight_hh: WeightInitSpec,
    pub bias: BiasInitSpec,
    #[serde(default)]
    pub fc: LinearInitSpec,
}

impl Default for InitSpec {
    fn default() -> Self {
        Self::paper()
    }
}

impl InitSpec {
    /// The paper's initialisation (mirrors [`InitConfig::paper`]) with PyTorch's default `fc`.
    pub fn paper() -> Self {
        Self::from_config(&InitConfig::paper(), LinearInitSpec::PytorchDefault)
    }

    /// PyTorch's defaults everywhere (mirrors [`InitConfig::pytorch_default`]).
    pub fn pytorch_default() -> Self {
        Self::from_config(
            &InitConfig::pytorch_default(),
            LinearInitSpec::PytorchDefault,
        )
    }

    /// Mirror of an lstm-core configuration.
    pub fn from_config(config: &InitConfig, fc: LinearInitSpec) -> Self {
        Self {
            weight_ih: weight_spec(&config.weight_ih),
            weight_hh: weight_spec(&config.weight_hh),
            bias: match config.bias {
                BiasInit::Zero {
                    forget_gate,
                    target,
                } => BiasInitSpec::Zero {
                    forget_gate,
                    target: match target {
                        BiasTarget::Ih => BiasTargetSpec::Ih,
                        BiasTarget::Hh => BiasTargetSpec::Hh,
                        BiasTarget::Both => BiasTargetSpec::Both,
                    },
                },
                BiasInit::UniformHidden => BiasInitSpec::UniformHidden,
            },
            fc,
        }
    }

    /// The lstm-core configuration this spec mirrors (the `fc` part is not in it).
    pub fn lstm_config(&self) -> InitConfig {
        InitConfig {
            weight_ih: weight_init(self.weight_ih),
            weight_hh: weight_init(self.weight_hh),
            bias: match self.bias {
                BiasInitSpec::Zero {
                    forget_gate,
                    target,
                } => BiasInit::Zero {
                    forget_gate,
                    target: match target {
                        BiasTargetSpec::Ih => BiasTarget::Ih,
                        BiasTargetSpec::Hh => BiasTarget::Hh,
                        BiasTargetSpec::Both => BiasTarget::Both,
                    },
                },
                BiasInitSpec::UniformHidden => BiasInit::UniformHidden,
            },
        }
    }
}

fn weight_spec(w: &WeightInit) -> WeightInitSpec {
    match *w {
        WeightInit::XavierUniform { gain } => WeightInitSpec::XavierUniform { gain },
        WeightInit::XavierNormal { gain } => WeightInitSpec::XavierNormal { gain },
        WeightInit::Orthogonal { gain } => WeightInitSpec::Orthogonal { gain },
        WeightInit::UniformHidden => WeightInitSpec::UniformHidden,
    }
}

fn weight_init(w: WeightInitSpec) -> WeightInit {
    match w {
        WeightInitSpec::XavierUniform { gain } => WeightInit::XavierUniform { gain },
        WeightInitSpec::XavierNormal { gain } => WeightInit::XavierNormal { gain },
        WeightInitSpec::Orthogonal { gain } => WeightInit::Orthogonal { gain },
        WeightInitSpec::UniformHidden => WeightInit::UniformHidden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json_and_lstm_core() {
        for spec in [InitSpec::paper(), InitSpec::pytorch_default()] {
            let json = serde_json::to_string(&spec).unwrap();
            let back: InitSpec = serde_json::from_str(&json).unwrap();
            assert_eq!(back, spec);
            assert_eq!(InitSpec::from_config(&spec.lstm_config(), spec.fc), spec);
        }
        assert_ne!(InitSpec::paper(), InitSpec::pytorch_default());
    }
}
