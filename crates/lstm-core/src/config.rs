//! Shape and regularisation of a multi-layer LSTM.

use crate::error::LstmError;

/// Configuration of a stacked LSTM, mirroring PyTorch's `nn.LSTM(input_size, hidden_size, num_layers,
/// dropout=..., bidirectional=...)` with `bias=True`, no projection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LstmConfig {
    /// Features per frame `I` of the first layer's input.
    pub input_size: usize,
    /// Hidden (and cell) size `H` of every layer.
    pub hidden_size: usize,
    /// Number of stacked layers `L` (≥ 1).
    pub num_layers: usize,
    /// Dropout on the outputs of every layer but the last, training only (PyTorch `dropout`), in [0, 1).
    pub dropout: f64,
    /// PyTorch `bidirectional`: every layer also runs each sequence backwards over its own valid frames,
    /// and its per-frame output is `[h_fwd ‖ h_rev]` (`D·H` wide, D = 2). `false`: one direction (D = 1).
    pub bidirectional: bool,
}

impl LstmConfig {
    /// Convenience constructor without dropout.
    pub fn new(input_size: usize, hidden_size: usize, num_layers: usize) -> Self {
        LstmConfig {
            input_size,
            hidden_size,
            num_layers,
            dropout: 0.0,
            bidirectional: false,
        }
    }

    /// Number of directions D: 2 when bidirectional, else 1.
    pub fn num_directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Width of every layer's per-frame output, `D·H`.
    pub fn output_size(&self) -> usize {
        self.num_directions() * self.hidden_size
    }

    /// Input width of layer `k`: `I` for layer 0, `D·H` above.
    pub fn layer_input_size(&self, k: usize) -> usize {
        if k == 0 {
            self.input_size
        } else {
            self.output_size()
        }
    }

    /// Widest layer input, `max_k in_k`.
    pub fn max_layer_input_size(&self) -> usize {
        (0..self.num_layers)
            .map(|k| self.layer_input_size(k))
            .max()
            .unwrap_or(self.input_size)
    }

    /// Number of scalar parameters, equal to PyTorch's `sum(p.numel() for p in lstm.parameters())`:
    /// Σ_k D·4H·(in_k + H + 2).
    pub fn num_params(&self) -> usize {
        (0..self.num_layers)
            .map(|k| {
                self.num_directions()
                    * 4
                    * self.hidden_size
                    * (self.layer_input_size(k) + self.hidden_size + 2)
            })
            .sum()
    }

    /// Checks that every size is positive and dropout lies in [0, 1).
    pub fn validate(&self) -> Result<(), LstmError> {
        let positive = |field: &'static str, v: usize| {
            if v == 0 {
                Err(LstmError::InvalidConfig {
                    field,
                    value: v.to_string(),
                    rule: "must be at least 1",
                })
            } else {
                Ok(())
            }
        };
        positive("input_size", self.input_size)?;
        positive("hidden_size", self.hidden_size)?;
        positive("num_layers", self.num_layers)?;
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(LstmError::InvalidConfig {
                field: "dropout",
                value: self.dropout.to_string(),
                rule: "must lie in [0, 1)",
            });
        }
        Ok(())
    }
}
