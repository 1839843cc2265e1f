//! Parameter initialisers with the semantics of `torch.nn.init` for the same tensor shape.
//!
//! A weight `[rows × cols]` has `fan_out = rows`, `fan_in = cols` (PyTorch's `_calculate_fan_in_and_fan_out`
//! for 2-D tensors). All randomness comes from the caller's RNG; values are drawn in f64 and rounded.

use crate::layout::ParamLayout;
use crate::real::Real;
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// How a weight matrix is initialised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightInit {
    /// U(−a, a) with a = gain·√(6 / (fan_in + fan_out)).
    XavierUniform { gain: f64 },
    /// N(0, σ²) with σ = gain·√(2 / (fan_in + fan_out)).
    XavierNormal { gain: f64 },
    /// (Semi-)orthogonal: Q of the QR of a Gaussian matrix, sign-corrected, times `gain`.
    Orthogonal { gain: f64 },
    /// U(−1/√H, 1/√H), PyTorch's LSTM default.
    UniformHidden,
}

/// Which bias vector(s) receive the forget-gate value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BiasTarget {
    /// `bias_ih` only.
    Ih,
    /// `bias_hh` only.
    Hh,
    /// Both (the effective forget bias is then twice the value).
    Both,
}

/// How the biases are initialised.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BiasInit {
    /// All zero, except the forget-gate slice `H..2H` of `target`, set to `forget_gate` when given.
    Zero {
        forget_gate: Option<f64>,
        target: BiasTarget,
    },
    /// U(−1/√H, 1/√H), PyTorch's LSTM default.
    UniformHidden,
}

/// Initialisation of every tensor of an LSTM.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InitConfig {
    /// Input weights `weight_ih_l{k}`.
    pub weight_ih: WeightInit,
    /// Recurrent weights `weight_hh_l{k}`.
    pub weight_hh: WeightInit,
    /// Both bias vectors.
    pub bias: BiasInit,
}

impl InitConfig {
    /// The paper's scheme: Xavier-normal input weights, orthogonal recurrent weights, biases 0 except the
    /// forget gate = 1 (in both bias vectors).
    pub fn paper() -> Self {
        InitConfig {
            weight_ih: WeightInit::XavierNormal { gain: 1.0 },
            weight_hh: WeightInit::Orthogonal { gain: 1.0 },
            bias: BiasInit::Zero {
                forget_gate: Some(1.0),
                target: BiasTarget::Both,
            },
        }
    }

    /// PyTorch's `nn.LSTM` default: every tensor U(−1/√H, 1/√H).
    pub fn pytorch_default() -> Self {
        InitConfig {
            weight_ih: WeightInit::UniformHidden,
            weight_hh: WeightInit::UniformHidden,
            bias: BiasInit::UniformHidden,
        }
    }
}

/// Xavier/Glorot uniform for `out: [rows × cols]`: U(−a, a), a = gain·√(6/(cols + rows)).
///
/// # Panics
/// If `out.len() != rows·cols`.
pub fn xavier_uniform<T: Real, R: Rng>(
    rows: usize,
    cols: usize,
    gain: f64,
    rng: &mut R,
    out: &mut [T],
) {
    assert_eq!(
        out.len(),
        rows * cols,
        "xavier_uniform: out has {} values for [{rows}×{cols}]",
        out.len()
    );
    let a = gain * (6.0 / (rows + cols) as f64).sqrt();
    uniform(a, rng, out);
}

/// Xavier/Glorot normal for `out: [rows × cols]`: N(0, σ²), σ = gain·√(2/(cols + rows)).
///
/// # Panics
/// If `out.len() != rows·cols`.
pub fn xavier_normal<T: Real, R: Rng>(
    rows: usize,
    cols: usize,
    gain: f64,
    rng: &mut R,
    out: &mut [T],
) {
    assert_eq!(
        out.len(),
        rows * cols,
        "xavier_normal: out has {} values for [{rows}×{cols}]",
        out.len()
    );
    let std = gain * (2.0 / (rows + cols) as f64).sqrt();
    for v in out.iter_mut() {
        let z: f64 = StandardNormal.sample(rng);
        *v = T::from_f64(std * z);
    }
}

/// U(−bound, bound) for every element of `out`.
pub fn uniform<T: Real, R: Rng>(bound: f64, rng: &mut R, out: &mut [T]) {
    for v in out.iter_mut() {
        *v = T::from_f64(rng.gen_range(-bound..=bound));
    }
}

/// Orthogonal init of `out: [rows × cols]` row-major, as `torch.nn.init.orthogonal_`: draw A ~ N(0,1)
/// `[rows × cols]`, transpose it when rows < cols, factor A = QR, multiply Q's columns by sign(diag R),
/// transpose back, scale by `gain`. The result has orthonormal columns (rows ≥ cols) or rows (rows < cols).
///
/// The sign-corrected Q equals the Q with positive diag R, which modified Gram–Schmidt (run twice for
/// stability) yields directly.
///
/// # Panics
/// If `out.len() != rows·cols`.
pub fn orthogonal<T: Real, R: Rng>(
    rows: usize,
    cols: usize,
    gain: f64,
    rng: &mut R,
    out: &mut [T],
) {
    assert_eq!(
        out.len(),
        rows * cols,
        "orthogonal: out has {} values for [{rows}×{cols}]",
        out.len()
    );
    let a: Vec<f64> = (0..rows * cols)
        .map(|_| StandardNormal.sample(rng))
        .collect();
    // Work on the tall matrix M [tall × wide] (tall ≥ wide), stored column by column.
    let transposed = rows < cols;
    let (tall, wide) = if transposed {
        (cols, rows)
    } else {
        (rows, cols)
    };
    let mut q: Vec<Vec<f64>> = (0..wide)
        .map(|j| {
            (0..tall)
                .map(|i| {
                    if transposed {
                        a[j * cols + i]
                    } else {
                        a[i * cols + j]
                    }
                })
                .collect()
        })
        .collect();
    for j in 0..wide {
        for _pass in 0..2 {
            for p in 0..j {
                let dot: f64 = (0..tall).map(|i| q[p][i] * q[j][i]).sum();
                for i in 0..tall {
                    q[j][i] -= dot * q[p][i];
                }
            }
        }
        let norm = q[j].iter().map(|v| v * v).sum::<f64>().sqrt();
        for v in q[j].iter_mut() {
            *v /= norm;
        }
    }
    for r in 0..rows {
        for c in 0..cols {
            let v = if transposed { q[r][c] } else { q[c][r] };
            out[r * cols + c] = T::from_f64(gain * v);
        }
    }
}

fn init_weight<T: Real, R: Rng>(
    kind: WeightInit,
    rows: usize,
    cols: usize,
    hidden: usize,
    rng: &mut R,
    out: &mut [T],
) {
    match kind {
        WeightInit::XavierUniform { gain } => xavier_uniform(rows, cols, gain, rng, out),
        WeightInit::XavierNormal { gain } => xavier_normal(rows, cols, gain, rng, out),
        WeightInit::Orthogonal { gain } => orthogonal(rows, cols, gain, rng, out),
        WeightInit::UniformHidden => uniform(1.0 / (hidden as f64).sqrt(), rng, out),
    }
}

/// Fills every tensor of `params` (laid out by `layout`) according to `config`, layer by layer (and, when
/// bidirectional, forward then reverse direction by the same rule) in `state_dict` order.
///
/// # Panics
/// If `params.len() != layout.len()`.
pub fn init_lstm<T: Real, R: Rng>(
    layout: &ParamLayout,
    config: &InitConfig,
    rng: &mut R,
    params: &mut [T],
) {
    assert_eq!(
        params.len(),
        layout.len(),
        "init_lstm: params has {} values, layout needs {}",
        params.len(),
        layout.len()
    );
    // Units (layer k, direction d) in layout order: l0, l0_reverse, l1, …
    let dirs = layout.num_directions();
    for u in 0..layout.num_layers() * dirs {
        let ranges = layout.direction(u / dirs, u % dirs);
        let t = &layout.tensors()[4 * u];
        let (rows, input) = (t.shape[0], t.shape[1]);
        let hidden = rows / 4;
        init_weight(
            config.weight_ih,
            rows,
            input,
            hidden,
            rng,
            &mut params[ranges.weight_ih.clone()],
        );
        init_weight(
            config.weight_hh,
            rows,
            hidden,
            hidden,
            rng,
            &mut params[ranges.weight_hh.clone()],
        );
        for (range, is_ih) in [
            (ranges.bias_ih.clone(), true),
            (ranges.bias_hh.clone(), false),
        ] {
            let bias = &mut params[range];
            match config.bias {
                BiasInit::UniformHidden => uniform(1.0 / (hidden as f64).sqrt(), rng, bias),
                BiasInit::Zero {
                    forget_gate,
                    target,
                } => {
                    bias.fill(T::ZERO);
                    let hit = matches!(
                        (target, is_ih),
                        (BiasTarget::Both, _) | (BiasTarget::Ih, true) | (BiasTarget::Hh, false)
                    );
                    if let (Some(v), true) = (forget_gate, hit) {
                        bias[hidden..2 * hidden].fill(T::from_f64(v));
                    }
                }
            }
        }
    }
}

/// [`init_lstm`] with a ChaCha8 RNG seeded from `seed` (reproducible across platforms and crates that do
/// not depend on `rand` themselves).
///
/// # Panics
/// If `params.len() != layout.len()`.
pub fn init_lstm_seeded<T: Real>(
    layout: &ParamLayout,
    config: &InitConfig,
    seed: u64,
    params: &mut [T],
) {
    use rand::SeedableRng;
    init_lstm(
        layout,
        config,
        &mut rand_chacha::ChaCha8Rng::seed_from_u64(seed),
        params,
    );
}
