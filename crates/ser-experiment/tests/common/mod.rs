//! Synthetic data shared by the integration tests.

use std::ops::Range;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use ser_experiment::train::Split;

/// `n` clips of uniform noise in [−1, 1), `input` values per frame and a frame count drawn from
/// `frames`; labels cycle through the 8 classes.
pub fn noise_split(n: usize, input: usize, frames: Range<usize>, rng: &mut ChaCha8Rng) -> Split {
    let mut s = Split::default();
    for i in 0..n {
        let count = rng.gen_range(frames.clone());
        s.inputs.push(
            (0..count * input)
                .map(|_| rng.gen_range(-1.0..1.0))
                .collect(),
        );
        s.labels.push(i % 8);
    }
    s
}
