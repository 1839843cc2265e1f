//! The paper's network: LSTM(I, H, L) → head → dropout → Linear(F → C) → logits.
//!
//! ```text
//! h_n, O     = LSTM(x)                               [L, B, H], packed [N, H]
//! f[b]       = h_n[L−1, b]                 (Last)    [B, F = H]
//! f[b]       = h_n[0, b] ‖ h_n[1, b] ‖ …   (Concat)  [B, F = L·H]
//! f[b]       = pool_t O[b, t]    (Mean | Max | Attention, see crate::pooling)  [B, F = H]
//! d          = f ⊙ mask                    (training; mask ∈ {0, 1/(1−p)})
//! logits     = d · Wᵀ + b                            [B, C]
//! loss       = CrossEntropy(logits, labels)          (mean over the batch)
//! ```
//! Parameters live in ONE flat buffer: the LSTM tensors in [`lstm_core::ParamLayout`] order
//! (`weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, …`), then for the attention head
//! `attention.proj.weight [A, H]`, `attention.proj.bias [A]`, `attention.score.weight [1, A]`, then
//! `fc.weight [C, F]`, `fc.bias [C]`;
//! gradients use the same layout, so one optimiser updates everything.
//!
//! Workspaces for the head, dropout, logits and their gradients live in the classifier and are reused
//! across steps (they only grow); the sequence data is never copied (the LSTM reads the packed batch).

use crate::config::{ClassifierConfig, Head};
use crate::dropout::Dropout;
use crate::error::NnError;
use crate::init_spec::LinearInitSpec;
use crate::linear::Linear;
use crate::loss::{softmax, CrossEntropy};
use crate::pooling::{self, AttentionCache, AttentionPool};
use lstm_core::{ForwardOptions, KernelKind, Lstm, LstmGradients, PackedBatch, Real, TensorSpec};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Reusable buffers of one forward/backward pass (`B` = batch, `F` = clip-vector width, `C` = classes).
#[derive(Debug, Default)]
struct Workspace<T> {
    /// Clip vectors `[B, F]`.
    features: Vec<T>,
    /// Dropout mask `[B, F]` of the last training forward.
    mask: Vec<T>,
    /// `fc` input after dropout `[B, F]`.
    dropped: Vec<T>,
    /// `[B, C]`.
    logits: Vec<T>,
    /// Scratch for log-softmax `[B, C]`.
    log_probs: Vec<T>,
    /// dLoss/dlogits `[B, C]`.
    grad_logits: Vec<T>,
    /// dLoss/d(clip vector) `[B, F]`.
    grad_features: Vec<T>,
    /// dLoss/dh_n `[L, B, H]`.
    grad_h_n: Vec<T>,
    /// Last layer's outputs of the last forward, packed `[N, H]` (pooling heads only).
    outputs: Vec<T>,
    /// dLoss/d outputs, packed `[N, H]` (pooling heads only).
    grad_outputs: Vec<T>,
    /// Packed row of each maximum `[B, H]` (max head).
    argmax: Vec<usize>,
    attention: AttentionCache<T>,
}

/// The paper's classifier with its parameters and workspaces. One per thread.
pub struct Classifier<T: Real> {
    config: ClassifierConfig,
    lstm: Lstm<T>,
    fc: Linear,
    /// The attention layer ([`Head::Attention`] only).
    attention: Option<AttentionPool>,
    dropout: Dropout,
    loss: CrossEntropy,
    /// Flat parameters: LSTM (`lstm_len`), attention (up to `fc_start`), then `fc.weight`, `fc.bias`.
    params: Vec<T>,
    lstm_len: usize,
    fc_start: usize,
    ws: Workspace<T>,
    /// Testing aid: NaN-fill workspaces before every use.
    poison: bool,
}

/// Decorrelates the streams derived from one user seed (SplitMix64 finaliser).
fn derive_seed(seed: u64, stream: u64) -> u64 {
    let mut z = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl<T: Real> Classifier<T> {
    /// Builds and initialises the network as `config.init` says, drawing from a ChaCha8 stream seeded by
    /// `seed` (LSTM tensors first, in layout order, then attention, then `fc`). Picks the fastest LSTM
    /// kernel.
    ///
    /// # Panics
    /// If the configuration is invalid; use [`Classifier::try_new`] for user-supplied configurations.
    pub fn new(config: ClassifierConfig, seed: u64) -> Self {
        match Self::try_new(config, seed) {
            Ok(model) => model,
            Err(e) => panic!("Classifier::new: {e}"),
        }
    }

    /// [`Classifier::new`] with validation.
    ///
    /// # Errors
    /// See [`ClassifierConfig::validate`].
    pub fn try_new(config: ClassifierConfig, seed: u64) -> Result<Self, NnError> {
        config.validate()?;
        let lstm = Lstm::new(config.lstm_config());
        Self::with_lstm(config, seed, lstm)
    }

    /// Like [`Classifier::try_new`] with a chosen LSTM gate kernel (for benchmarks and kernel tests).
    ///
    /// # Errors
    /// Invalid configuration, or [`NnError::Lstm`] when the kernel does not exist for `T`.
    pub fn with_kernel(
        config: ClassifierConfig,
        seed: u64,
        kernel: KernelKind,
    ) -> Result<Self, NnError> {
        config.validate()?;
        let lstm =
            Lstm::with_kernel(config.lstm_config(), kernel).map_err(|source| NnError::Lstm {
                op: "with_kernel",
                source,
            })?;
        Self::with_lstm(config, seed, lstm)
    }

    fn with_lstm(config: ClassifierConfig, seed: u64, lstm: Lstm<T>) -> Result<Self, NnError> {
        let dropout = Dropout::new(config.dropout)?;
        let fc = Linear::new(config.feature_size(), config.num_classes);
        let attention = config.attention();
        let lstm_len = lstm.layout().len();
        let fc_start = lstm_len + attention.map_or(0, |a| a.num_params());
        let mut params = vec![T::ZERO; fc_start + fc.num_params()];
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        lstm_core::init::init_lstm(
            lstm.layout(),
            &config.init.lstm_config(),
            &mut rng,
            &mut params[..lstm_len],
        );
        if let Some(a) = &attention {
            a.init(&mut rng, &mut params[lstm_len..fc_start]);
        }
        let (w, b) = params[fc_start..].split_at_mut(fc.weight_len());
        match config.init.fc {
            LinearInitSpec::PytorchDefault => fc.init_pytorch_default(&mut rng, w, b),
            LinearInitSpec::XavierUniform { gain } => fc.init_xavier_uniform(gain, &mut rng, w, b),
        }
        Ok(Self {
            config,
            lstm,
            fc,
            attention,
            dropout,
            loss: CrossEntropy::new(),
            params,
            lstm_len,
            fc_start,
            ws: Workspace::default(),
            poison: false,
        })
    }

    pub fn config(&self) -> &ClassifierConfig {
        &self.config
    }

    /// The LSTM module (kernel choice, layout).
    pub fn lstm(&self) -> &Lstm<T> {
        &self.lstm
    }

    /// Testing aid: fill every workspace (ours and the LSTM's) with NaN before each pass, so that a read
    /// of a stale value shows up as NaN in the results.
    pub fn set_poison_workspaces(&mut self, on: bool) {
        self.poison = on;
        self.lstm.set_poison_workspaces(on);
    }

    /// Total parameters = PyTorch's count (Table 1 of the paper).
    pub fn num_params(&self) -> usize {
        self.params.len()
    }

    /// Flat parameters (see the module doc for the layout).
    pub fn params(&self) -> &[T] {
        &self.params
    }

    pub fn params_mut(&mut self) -> &mut [T] {
        &mut self.params
    }

    /// The loss used by [`Classifier::forward_backward`] (default: plain mean cross-entropy).
    pub fn loss_fn(&self) -> &CrossEntropy {
        &self.loss
    }

    /// Replaces the loss (class weights, label smoothing).
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] if the class weights are not one per class.
    pub fn set_loss(&mut self, loss: CrossEntropy) -> Result<(), NnError> {
        if let Some(w) = loss.class_weights() {
            if w.len() != self.config.num_classes {
                return Err(NnError::invalid(
                    "cross-entropy",
                    "class_weights.len()",
                    w.len(),
                    "must equal num_classes",
                ));
            }
        }
        self.loss = loss;
        Ok(())
    }

    /// Every tensor of the flat buffer with its PyTorch `state_dict` name, shape and range:
    /// `lstm.weight_ih_l0 [4H, I]`, …, `fc.weight [C, F]`, `fc.bias [C]`.
    pub fn named_tensors(&self) -> Vec<TensorSpec> {
        let mut out: Vec<TensorSpec> = self
            .lstm
            .layout()
            .tensors()
            .iter()
            .map(|t| TensorSpec {
                name: format!("lstm.{}", t.name),
                shape: t.shape.clone(),
                range: t.range.clone(),
            })
            .collect();
        if let Some(a) = &self.attention {
            let (h, width) = (a.input_size, a.attention_size);
            let start = self.lstm_len;
            out.push(TensorSpec {
                name: "attention.proj.weight".into(),
                shape: vec![width, h],
                range: start..start + width * h,
            });
            out.push(TensorSpec {
                name: "attention.proj.bias".into(),
                shape: vec![width],
                range: start + width * h..start + width * h + width,
            });
            out.push(TensorSpec {
                name: "attention.score.weight".into(),
                shape: vec![1, width],
                range: start + width * h + width..self.fc_start,
            });
        }
        let w_end = self.fc_start + self.fc.weight_len();
        out.push(TensorSpec {
            name: "fc.weight".into(),
            shape: vec![self.fc.out_features, self.fc.in_features],
            range: self.fc_start..w_end,
        });
        out.push(TensorSpec {
            name: "fc.bias".into(),
            shape: vec![self.fc.out_features],
            range: w_end..self.params.len(),
        });
        out
    }

    /// Training step: mean loss over the batch; OVERWRITES `grads` (len `num_params`) with dLoss/dparams.
    ///
    /// `labels[b]` is the class of sequence `b` in the batch's ORIGINAL order. Both dropouts (between LSTM
    /// layers and before `fc`) draw their masks from `seed`, so equal seeds give equal steps.
    ///
    /// # Panics
    /// If `batch.input_size() != input_size`, `labels.len() != B`, a label is `≥ C`, or
    /// `grads.len() != num_params`.
    pub fn forward_backward(
        &mut self,
        batch: &PackedBatch<T>,
        labels: &[usize],
        seed: u64,
        grads: &mut [T],
    ) -> f64 {
        assert_eq!(
            grads.len(),
            self.params.len(),
            "forward_backward: grads must have num_params elements"
        );
        let loss = self.train_forward(batch, labels, seed, true);
        let b = batch.batch_size();
        let (h, l) = (self.config.hidden_size, self.config.num_layers);
        let poison = self.poison;
        let ws = &mut self.ws;
        grads.fill(T::ZERO);
        let fc_input = if self.dropout.is_identity() {
            &ws.features
        } else {
            &ws.dropped
        };
        let (g_lstm, g_rest) = grads.split_at_mut(self.lstm_len);
        let (g_attention, g_fc) = g_rest.split_at_mut(self.fc_start - self.lstm_len);
        let (g_w, g_b) = g_fc.split_at_mut(self.fc.weight_len());
        let w = &self.params[self.fc_start..self.fc_start + self.fc.weight_len()];
        self.fc.backward(
            b,
            fc_input,
            w,
            &ws.grad_logits,
            g_w,
            g_b,
            Some(&mut ws.grad_features),
        );
        if !self.dropout.is_identity() {
            Dropout::backward_in_place(&mut ws.grad_features, &ws.mask);
        }
        let head = self.config.head;
        let grads_in = if head.pools_frames() {
            resize(&mut ws.grad_outputs, ws.outputs.len(), poison);
            let width = self.config.output_size();
            match head {
                Head::Mean => {
                    pooling::mean_backward(batch, width, &ws.grad_features, &mut ws.grad_outputs)
                }
                Head::Max => pooling::max_backward(
                    width,
                    &ws.grad_features,
                    &ws.argmax,
                    &mut ws.grad_outputs,
                ),
                _ => {
                    let attention = self.attention.as_ref().expect("attention head has a layer");
                    attention.backward(
                        batch,
                        &self.params[self.lstm_len..self.fc_start],
                        &ws.outputs,
                        &ws.grad_features,
                        &mut ws.attention,
                        &mut ws.grad_outputs,
                        g_attention,
                    );
                }
            }
            LstmGradients {
                h_n: None,
                c_n: None,
                outputs: Some(&ws.grad_outputs[..]),
            }
        } else {
            let dirs = self.config.num_directions();
            resize(&mut ws.grad_h_n, l * dirs * b * h, poison);
            let slots = head_slots(head, l * dirs, dirs);
            scatter_head(slots, b, h, &ws.grad_features, &mut ws.grad_h_n);
            LstmGradients {
                h_n: Some(&ws.grad_h_n[..]),
                c_n: None,
                outputs: None,
            }
        };
        self.lstm
            .backward(&self.params[..self.lstm_len], batch, grads_in, g_lstm, None);
        loss
    }

    /// Training-mode loss only (same masks as [`Classifier::forward_backward`] with the same `seed`);
    /// used by finite-difference checks.
    ///
    /// # Panics
    /// As [`Classifier::forward_backward`].
    pub fn loss(&mut self, batch: &PackedBatch<T>, labels: &[usize], seed: u64) -> f64 {
        self.train_forward(batch, labels, seed, false)
    }

    /// Logits `[B, C]` of the last training forward (original batch order), e.g. for training accuracy.
    pub fn last_logits(&self) -> &[T] {
        &self.ws.logits
    }

    /// Evaluation mode (no dropout): logits `[B, C]` in original batch order.
    ///
    /// # Panics
    /// If `batch.input_size() != input_size`.
    pub fn logits(&mut self, batch: &PackedBatch<T>) -> Vec<T> {
        self.eval_forward(batch);
        self.ws.logits.clone()
    }

    /// Softmax of [`Classifier::logits`]: class probabilities `[B, C]`, each row summing to 1.
    ///
    /// # Panics
    /// If `batch.input_size() != input_size`.
    pub fn predict_proba(&mut self, batch: &PackedBatch<T>) -> Vec<T> {
        self.eval_forward(batch);
        let mut probs = vec![T::ZERO; self.ws.logits.len()];
        softmax(&self.ws.logits, self.config.num_classes, &mut probs);
        probs
    }

    fn check_batch(&self, batch: &PackedBatch<T>) {
        assert_eq!(
            batch.input_size(),
            self.config.input_size,
            "Classifier: batch has {} features per frame, model expects {}",
            batch.input_size(),
            self.config.input_size
        );
    }

    /// LSTM → head into `ws.features`; training mode when `train_seed` is given.
    fn lstm_head(&mut self, batch: &PackedBatch<T>, train_seed: Option<u64>) {
        self.check_batch(batch);
        let head = self.config.head;
        let out = self.lstm.forward(
            &self.params[..self.lstm_len],
            batch,
            ForwardOptions {
                keep_outputs: head.pools_frames(),
                train_seed,
            },
        );
        let (b, h, l) = (
            batch.batch_size(),
            self.config.hidden_size,
            self.config.num_layers,
        );
        let ws = &mut self.ws;
        resize(&mut ws.features, b * self.fc.in_features, self.poison);
        let dirs = self.config.num_directions();
        let Some(outputs) = out.outputs else {
            let slots = head_slots(head, l * dirs, dirs);
            gather_head(slots, b, h, &out.h_n, &mut ws.features);
            return;
        };
        let h = dirs * h;
        ws.outputs = outputs;
        match head {
            Head::Mean => pooling::mean_forward(batch, h, &ws.outputs, &mut ws.features),
            Head::Max => {
                pooling::max_forward(batch, h, &ws.outputs, &mut ws.features, &mut ws.argmax)
            }
            _ => {
                let attention = self.attention.as_ref().expect("attention head has a layer");
                attention.forward(
                    batch,
                    &self.params[self.lstm_len..self.fc_start],
                    &ws.outputs,
                    &mut ws.features,
                    &mut ws.attention,
                );
            }
        }
    }

    /// Attention weights of every clip of `batch` (evaluation mode): `alpha[b]` has `len_b` values,
    /// summing to 1, frame order. `None` unless the head is [`Head::Attention`].
    pub fn attention_weights(&mut self, batch: &PackedBatch<T>) -> Option<Vec<Vec<T>>> {
        self.attention?;
        self.lstm_head(batch, None);
        let alpha = &self.ws.attention.alpha;
        Some(
            (0..batch.batch_size())
                .map(|b| {
                    (0..batch.lengths()[b])
                        .map(|t| alpha[batch.row_of(b, t)])
                        .collect()
                })
                .collect(),
        )
    }

    fn eval_forward(&mut self, batch: &PackedBatch<T>) {
        self.lstm_head(batch, None);
        let b = batch.batch_size();
        resize(
            &mut self.ws.logits,
            b * self.config.num_classes,
            self.poison,
        );
        let (w, bias) = self.params[self.fc_start..].split_at(self.fc.weight_len());
        self.fc
            .forward(b, &self.ws.features, w, bias, &mut self.ws.logits);
    }

    /// Training forward through the loss; fills `ws.grad_logits` when `with_grad`.
    fn train_forward(
        &mut self,
        batch: &PackedBatch<T>,
        labels: &[usize],
        seed: u64,
        with_grad: bool,
    ) -> f64 {
        let b = batch.batch_size();
        assert_eq!(
            labels.len(),
            b,
            "Classifier: {} labels for a batch of {b}",
            labels.len()
        );
        self.lstm_head(batch, Some(derive_seed(seed, 1)));
        let c = self.config.num_classes;
        let poison = self.poison;
        let ws = &mut self.ws;
        let fc_input = if self.dropout.is_identity() {
            &ws.features
        } else {
            resize(&mut ws.mask, ws.features.len(), poison);
            resize(&mut ws.dropped, ws.features.len(), poison);
            self.dropout.fill_mask(derive_seed(seed, 2), &mut ws.mask);
            Dropout::apply_mask(&ws.features, &ws.mask, &mut ws.dropped);
            &ws.dropped
        };
        resize(&mut ws.logits, b * c, poison);
        resize(&mut ws.log_probs, b * c, poison);
        let (w, bias) = self.params[self.fc_start..].split_at(self.fc.weight_len());
        self.fc.forward(b, fc_input, w, bias, &mut ws.logits);
        let grad = if with_grad {
            resize(&mut ws.grad_logits, b * c, poison);
            resize(&mut ws.grad_features, b * self.fc.in_features, poison);
            Some(&mut ws.grad_logits[..])
        } else {
            None
        };
        self.loss
            .forward_backward(&ws.logits, labels, c, &mut ws.log_probs, grad)
    }
}

/// Sets a workspace's length (contents unspecified: every user overwrites it; NaN-filled when `poison`).
/// Never shrinks capacity, so steady-state training allocates nothing here.
fn resize<T: Real>(v: &mut Vec<T>, len: usize, poison: bool) {
    v.resize(len, T::ZERO);
    if poison {
        v.fill(T::NAN);
    }
}

/// The `(layer, direction)` slots of `h_n: [L·D, B, H]` that form the clip vector: the last layer's
/// `D` slots (Last) or all `L·D` (Concat).
fn head_slots(head: Head, slots: usize, directions: usize) -> std::ops::Range<usize> {
    match head {
        Head::Concat => 0..slots,
        Head::Last | Head::Mean | Head::Max | Head::Attention => slots - directions..slots,
    }
}

/// `h_n: [S, B, H]` (S = L·D slots) → clip vectors `[B, F]`: for each clip the chosen slots' states
/// side by side, slot order (see [`Head`]).
fn gather_head<T: Real>(
    slots: std::ops::Range<usize>,
    b: usize,
    h: usize,
    h_n: &[T],
    features: &mut [T],
) {
    let width = slots.len() * h;
    for (bi, row) in features.chunks_exact_mut(width).enumerate() {
        for (dst, k) in row.chunks_exact_mut(h).zip(slots.clone()) {
            dst.copy_from_slice(&h_n[(k * b + bi) * h..(k * b + bi + 1) * h]);
        }
    }
}

/// Adjoint of [`gather_head`]: clip-vector gradients `[B, F]` → `grad_h_n: [S, B, H]` (zero in the
/// slots not chosen).
fn scatter_head<T: Real>(
    slots: std::ops::Range<usize>,
    b: usize,
    h: usize,
    grad_features: &[T],
    grad_h_n: &mut [T],
) {
    grad_h_n.fill(T::ZERO);
    let width = slots.len() * h;
    for (bi, row) in grad_features.chunks_exact(width).enumerate() {
        for (src, k) in row.chunks_exact(h).zip(slots.clone()) {
            grad_h_n[(k * b + bi) * h..(k * b + bi + 1) * h].copy_from_slice(src);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat_order_is_layer_major_per_sample() {
        // h_n[k, b, j] = 100k + 10b + j, L = 2, B = 3, H = 2.
        let h_n: Vec<f64> = (0..2)
            .flat_map(|k| {
                (0..3).flat_map(move |b| (0..2).map(move |j| (100 * k + 10 * b + j) as f64))
            })
            .collect();
        let mut f = vec![f64::NAN; 12];
        gather_head(head_slots(Head::Concat, 2, 1), 3, 2, &h_n, &mut f);
        assert_eq!(&f[4..8], &[10.0, 11.0, 110.0, 111.0]);
        assert_eq!(&f[8..12], &[20.0, 21.0, 120.0, 121.0]);
        let mut back = vec![f64::NAN; 12];
        scatter_head(head_slots(Head::Concat, 2, 1), 3, 2, &f, &mut back);
        assert_eq!(back, h_n);
        let mut last = vec![f64::NAN; 6];
        gather_head(head_slots(Head::Last, 2, 1), 3, 2, &h_n, &mut last);
        assert_eq!(last, h_n[6..].to_vec());
        scatter_head(head_slots(Head::Last, 2, 1), 3, 2, &last, &mut back);
        assert!(back[..6].iter().all(|&v| v == 0.0) && back[6..] == h_n[6..]);
    }
}
