//! Fully connected layer `y = x · Wᵀ + b`, PyTorch layout and default initialisation.
//!
//! The layer owns no parameters: `weight: [out, in]` row-major and `bias: [out]` are slices of the
//! caller's flat parameter buffer (and the gradients slices of the flat gradient buffer), so one
//! optimiser updates every layer at once.

use lstm_core::{gemm, Real};
use rand::Rng;

/// Shape of a fully connected layer `in_features → out_features` (PyTorch `nn.Linear`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Linear {
    pub in_features: usize,
    pub out_features: usize,
}

impl Linear {
    pub fn new(in_features: usize, out_features: usize) -> Self {
        Self {
            in_features,
            out_features,
        }
    }

    /// Elements of `weight` (`out × in`).
    pub fn weight_len(&self) -> usize {
        self.in_features * self.out_features
    }

    /// Elements of `weight` plus `bias`: `out · in + out`.
    pub fn num_params(&self) -> usize {
        self.weight_len() + self.out_features
    }

    /// PyTorch's default `nn.Linear` initialisation: `kaiming_uniform_(a = √5)` on the weight, which is
    /// `U(−1/√in, 1/√in)`, and the same bound for the bias (`fan_in = in`).
    ///
    /// # Panics
    /// If `weight.len() != out·in` or `bias.len() != out`.
    pub fn init_pytorch_default<T: Real, R: Rng>(
        &self,
        rng: &mut R,
        weight: &mut [T],
        bias: &mut [T],
    ) {
        self.check_params(weight.len(), bias.len());
        let bound = 1.0 / (self.in_features as f64).sqrt();
        for w in weight.iter_mut().chain(bias.iter_mut()) {
            *w = T::from_f64(rng.gen_range(-bound..bound));
        }
    }

    /// Xavier (Glorot) uniform weight `U(±gain·√(6/(in+out)))`, zero bias.
    ///
    /// # Panics
    /// If `weight.len() != out·in` or `bias.len() != out`.
    pub fn init_xavier_uniform<T: Real, R: Rng>(
        &self,
        gain: f64,
        rng: &mut R,
        weight: &mut [T],
        bias: &mut [T],
    ) {
        self.check_params(weight.len(), bias.len());
        let bound = gain * (6.0 / (self.in_features + self.out_features) as f64).sqrt();
        for w in weight.iter_mut() {
            *w = T::from_f64(rng.gen_range(-bound..bound));
        }
        bias.fill(T::ZERO);
    }

    /// Forward pass `y[b, o] = Σ_i x[b, i] · W[o, i] + bias[o]`.
    ///
    /// Shapes: `x: [B, in]`, `weight: [out, in]`, `bias: [out]`, `y: [B, out]`, all row-major.
    /// `y` is overwritten (its previous contents are never read).
    ///
    /// # Panics
    /// If any slice length disagrees with `batch` and the layer's shape.
    pub fn forward<T: Real>(&self, batch: usize, x: &[T], weight: &[T], bias: &[T], y: &mut [T]) {
        let (i, o) = (self.in_features, self.out_features);
        self.check_params(weight.len(), bias.len());
        assert_eq!(
            x.len(),
            batch * i,
            "Linear::forward: x must be [B={batch}, in={i}]"
        );
        assert_eq!(
            y.len(),
            batch * o,
            "Linear::forward: y must be [B={batch}, out={o}]"
        );
        for row in y.chunks_exact_mut(o) {
            row.copy_from_slice(bias);
        }
        // y[B×out] += x[B×in] · Wᵀ[in×out]; Wᵀ(i, o) = W[o·in + i] → row stride 1, column stride in.
        gemm(
            batch,
            i,
            o,
            T::ONE,
            x,
            i as isize,
            1,
            weight,
            1,
            i as isize,
            T::ONE,
            y,
            o as isize,
            1,
        );
    }

    /// Backward pass of [`Linear::forward`].
    ///
    /// ```text
    /// dW[o, i] += Σ_b dy[b, o] · x[b, i]      (dW = dyᵀ · x)
    /// db[o]    += Σ_b dy[b, o]
    /// dx[b, i]  = Σ_o dy[b, o] · W[o, i]      (dx = dy · W), when `dx` is given
    /// ```
    /// Shapes: `x, dx: [B, in]`, `dy: [B, out]`, `weight, d_weight: [out, in]`, `d_bias: [out]`.
    /// Parameter gradients ACCUMULATE (`+=`), like PyTorch's `.grad`; `dx` is overwritten.
    ///
    /// # Panics
    /// If any slice length disagrees with `batch` and the layer's shape.
    pub fn backward<T: Real>(
        &self,
        batch: usize,
        x: &[T],
        weight: &[T],
        dy: &[T],
        d_weight: &mut [T],
        d_bias: &mut [T],
        dx: Option<&mut [T]>,
    ) {
        let (i, o) = (self.in_features, self.out_features);
        self.check_params(weight.len(), d_bias.len());
        assert_eq!(
            d_weight.len(),
            o * i,
            "Linear::backward: d_weight must be [out={o}, in={i}]"
        );
        assert_eq!(
            x.len(),
            batch * i,
            "Linear::backward: x must be [B={batch}, in={i}]"
        );
        assert_eq!(
            dy.len(),
            batch * o,
            "Linear::backward: dy must be [B={batch}, out={o}]"
        );
        // dW[out×in] += dyᵀ[out×B] · x[B×in]; dyᵀ(o, b) = dy[b·out + o] → row stride 1, column stride out.
        gemm(
            o,
            batch,
            i,
            T::ONE,
            dy,
            1,
            o as isize,
            x,
            i as isize,
            1,
            T::ONE,
            d_weight,
            i as isize,
            1,
        );
        for row in dy.chunks_exact(o) {
            for (db, &g) in d_bias.iter_mut().zip(row) {
                *db += g;
            }
        }
        if let Some(dx) = dx {
            assert_eq!(
                dx.len(),
                batch * i,
                "Linear::backward: dx must be [B={batch}, in={i}]"
            );
            dx.fill(T::ZERO);
            // dx[B×in] = dy[B×out] · W[out×in].
            gemm(
                batch,
                o,
                i,
                T::ONE,
                dy,
                o as isize,
                1,
                weight,
                i as isize,
                1,
                T::ZERO,
                dx,
                i as isize,
                1,
            );
        }
    }

    fn check_params(&self, weight_len: usize, bias_len: usize) {
        assert_eq!(
            weight_len,
            self.weight_len(),
            "Linear: weight must be [out={}, in={}]",
            self.out_features,
            self.in_features
        );
        assert_eq!(
            bias_len, self.out_features,
            "Linear: bias must be [out={}]",
            self.out_features
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Plain-loop oracle for forward and backward, compared with the gemm path on odd shapes.
    #[test]
    fn gemm_path_matches_loops() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for &(b, i, o) in &[(1, 1, 1), (3, 7, 5), (4, 17, 8), (2, 9, 1)] {
            let lin = Linear::new(i, o);
            let x: Vec<f64> = (0..b * i).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let w: Vec<f64> = (0..o * i).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let bias: Vec<f64> = (0..o).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let dy: Vec<f64> = (0..b * o).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let mut y = vec![f64::NAN; b * o];
            lin.forward(b, &x, &w, &bias, &mut y);
            let mut dw = vec![0.5; o * i];
            let mut db = vec![0.25; o];
            let mut dx = vec![f64::NAN; b * i];
            lin.backward(b, &x, &w, &dy, &mut dw, &mut db, Some(&mut dx));
            for bb in 0..b {
                for oo in 0..o {
                    let want: f64 =
                        bias[oo] + (0..i).map(|k| x[bb * i + k] * w[oo * i + k]).sum::<f64>();
                    assert!((y[bb * o + oo] - want).abs() < 1e-12);
                }
                for k in 0..i {
                    let want: f64 = (0..o).map(|oo| dy[bb * o + oo] * w[oo * i + k]).sum();
                    assert!((dx[bb * i + k] - want).abs() < 1e-12);
                }
            }
            for oo in 0..o {
                let want_b: f64 = 0.25 + (0..b).map(|bb| dy[bb * o + oo]).sum::<f64>();
                assert!((db[oo] - want_b).abs() < 1e-12);
                for k in 0..i {
                    let want: f64 = 0.5
                        + (0..b)
                            .map(|bb| dy[bb * o + oo] * x[bb * i + k])
                            .sum::<f64>();
                    assert!((dw[oo * i + k] - want).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn default_init_is_within_bound() {
        let lin = Linear::new(16, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut w = vec![f32::NAN; 48];
        let mut b = vec![f32::NAN; 3];
        lin.init_pytorch_default(&mut rng, &mut w, &mut b);
        assert!(w.iter().chain(&b).all(|v| v.abs() <= 0.25));
        assert!(
            w.iter().any(|v| v.abs() > 0.1),
            "weights should spread over the bound"
        );
    }
}
