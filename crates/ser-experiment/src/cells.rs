//! The 15 configurations ("cells") of the paper's Table 1 and their published numbers.
//!
//! A cell is named `L<layers>h<hidden>` (clip vector = last layer's final state) or
//! `L<layers>h<hidden>-concat` (final states of all layers concatenated; only for `layers >= 2`).
//! Beyond the paper, `-mean`, `-max` and `-attn` pool the last layer's outputs over the clip's frames
//! (see `ser_nn::pooling`); those cells take any `1 ≤ layers ≤ 4`, `1 ≤ hidden ≤ 1024` and have no
//! paper numbers. The attention layer adds `A·D·h + 2A` parameters with `A = h`. A `-bi` token
//! before the head (`L2h64-bi`, `L2h64-bi-attn`) makes the LSTM bidirectional (`D = 2`).
//! Parameter count of a cell, as PyTorch counts `nn.LSTM(34, h, L)` plus `nn.Linear(d, 8)`:
//! `Σ_l 4h (in_l + h + 2) + 8 d + 8` with `in_0 = 34`, `in_l = h`, and `d = h` (last) or `L·h` (concat).

use std::fmt;

use ser_nn::Head;
use serde::{Deserialize, Serialize};

use crate::error::{ExperimentError, Result};

/// One LSTM configuration of Table 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub layers: usize,
    pub hidden: usize,
    pub head: Head,
    /// Bidirectional LSTM (name token `-bi`, e.g. `L2h64-bi-attn`); never in Table 1.
    pub bidirectional: bool,
}

/// One row of the paper's Table 1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaperRow {
    pub layers: usize,
    pub hidden: usize,
    pub params_last: usize,
    pub uar_last_pct: f64,
    pub params_concat: Option<usize>,
    pub uar_concat_pct: Option<f64>,
}

/// Table 1 of Krasnoproshin & Vashkevich (parameter counts and UAR in percent).
pub const PAPER_TABLE1: [PaperRow; 9] = [
    row(1, 32, 8968, 22.40, None),
    row(1, 64, 26120, 26.04, None),
    row(1, 128, 85000, 31.38, None),
    row(2, 32, 17416, 23.11, Some((17672, 25.20))),
    row(2, 64, 59400, 27.08, Some((59912, 28.84))),
    row(2, 128, 217096, 31.58, Some((218120, 31.71))),
    row(3, 32, 25864, 23.96, Some((26376, 23.96))),
    row(3, 64, 92680, 29.30, Some((93704, 26.24))),
    row(3, 128, 349192, 32.10, Some((351240, 32.03))),
];

const fn row(
    layers: usize,
    hidden: usize,
    params_last: usize,
    uar_last_pct: f64,
    concat: Option<(usize, f64)>,
) -> PaperRow {
    let (params_concat, uar_concat_pct) = match concat {
        Some((p, u)) => (Some(p), Some(u)),
        None => (None, None),
    };
    PaperRow {
        layers,
        hidden,
        params_last,
        uar_last_pct,
        params_concat,
        uar_concat_pct,
    }
}

/// Input size (MFCC coefficients) and class count of the paper's model.
pub const PAPER_INPUT: usize = 34;
pub const PAPER_CLASSES: usize = 8;

impl Cell {
    /// All 15 cells in the paper's row order (each row's last-state cell, then its concat cell).
    pub fn all() -> Vec<Cell> {
        let mut cells = Vec::new();
        for r in PAPER_TABLE1 {
            cells.push(Cell {
                layers: r.layers,
                hidden: r.hidden,
                head: Head::Last,
                bidirectional: false,
            });
            if r.params_concat.is_some() {
                cells.push(Cell {
                    layers: r.layers,
                    hidden: r.hidden,
                    head: Head::Concat,
                    bidirectional: false,
                });
            }
        }
        cells
    }

    /// Parses `L2h64`, `L2h64-concat` (case-insensitive, `-last` accepted; the cell must be in Table 1)
    /// and the pooling cells `L2h64-mean`, `L2h64-max`, `L2h64-attn`.
    pub fn parse(name: &str) -> Result<Cell> {
        let unknown = || ExperimentError::UnknownCell {
            name: name.to_string(),
            known: "L1h32, L3h128, L2h64-concat, L2h64-attn, L1h128-mean, L2h32-max".into(),
        };
        let lower = name.trim().to_ascii_lowercase();
        let suffixes = [
            ("-concat", Head::Concat),
            ("-last", Head::Last),
            ("-mean", Head::Mean),
            ("-max", Head::Max),
            ("-attn", Head::Attention),
            ("-attention", Head::Attention),
        ];
        let (body, head) = suffixes
            .iter()
            .find_map(|(suffix, head)| lower.strip_suffix(suffix).map(|b| (b, *head)))
            .unwrap_or((lower.as_str(), Head::Last));
        let (body, bidirectional) = match body.strip_suffix("-bi") {
            Some(b) => (b, true),
            None => (body, false),
        };
        let rest = body.strip_prefix('l').ok_or_else(unknown)?;
        let (layers, hidden) = rest.split_once('h').ok_or_else(unknown)?;
        let layers: usize = layers.parse().map_err(|_| unknown())?;
        let hidden: usize = hidden.parse().map_err(|_| unknown())?;
        let cell = Cell {
            layers,
            hidden,
            head,
            bidirectional,
        };
        if head.pools_frames() || bidirectional {
            if !(1..=4).contains(&layers) || !(1..=1024).contains(&hidden) {
                return Err(unknown());
            }
        } else {
            cell.paper().ok_or_else(unknown)?;
        }
        Ok(cell)
    }

    /// Parses a comma-separated list, keeping the order given and dropping repeats.
    pub fn parse_list(list: &str) -> Result<Vec<Cell>> {
        let mut cells: Vec<Cell> = Vec::new();
        for part in list.split(',').filter(|p| !p.trim().is_empty()) {
            let cell = Cell::parse(part)?;
            if !cells.contains(&cell) {
                cells.push(cell);
            }
        }
        Ok(cells)
    }

    /// The paper's (parameter count, UAR %) for this cell, `None` if Table 1 has no such cell.
    pub fn paper(&self) -> Option<(usize, f64)> {
        if self.bidirectional {
            return None;
        }
        let r = PAPER_TABLE1
            .iter()
            .find(|r| r.layers == self.layers && r.hidden == self.hidden)?;
        match self.head {
            Head::Last => Some((r.params_last, r.uar_last_pct)),
            Head::Concat => Some((r.params_concat?, r.uar_concat_pct?)),
            Head::Mean | Head::Max | Head::Attention => None,
        }
    }

    /// Parameter count from the formula in the module docs (independent of ser-nn, used as a check),
    /// for the paper's 34 inputs.
    pub fn expected_params(&self) -> usize {
        self.expected_params_with_input(PAPER_INPUT)
    }

    /// [`Cell::expected_params`] for `input` features per frame (deltas and chroma widen the input).
    pub fn expected_params_with_input(&self, input: usize) -> usize {
        let h = self.hidden;
        let dirs = if self.bidirectional { 2 } else { 1 };
        let lstm: usize = (0..self.layers)
            .map(|l| {
                let input = if l == 0 { input } else { dirs * h };
                dirs * 4 * h * (input + h + 2)
            })
            .sum();
        let (d, attention) = match self.head {
            Head::Last | Head::Mean | Head::Max => (dirs * h, 0),
            Head::Concat => (self.layers * dirs * h, 0),
            Head::Attention => (dirs * h, h * dirs * h + 2 * h),
        };
        lstm + attention + PAPER_CLASSES * d + PAPER_CLASSES
    }

    /// Rough training cost per frame, proportional to the LSTM's multiply-adds (for scheduling).
    pub fn cost(&self) -> usize {
        self.expected_params()
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "L{}h{}", self.layers, self.hidden)?;
        if self.bidirectional {
            write!(f, "-bi")?;
        }
        match self.head {
            Head::Last => {}
            Head::Concat => write!(f, "-concat")?,
            Head::Mean => write!(f, "-mean")?,
            Head::Max => write!(f, "-max")?,
            Head::Attention => write!(f, "-attn")?,
        }
        Ok(())
    }
}

impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Cell::parse(&name).map_err(serde::de::Error::custom)
    }
}
