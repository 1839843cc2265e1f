//! Bytes → `ser_dsp::decode_wav` → MFCC with the `paper` and the `25ms` presets.
//!
//! Any input may be rejected with a `DspError`; what must never happen is a panic, an abort, a hang
//! or an out-of-memory, or `Ok` features that are not finite or not `[n_frames, n_coeffs]`.
//! `crates/ser-dsp/tests/arbitrary_bytes.rs` runs the same check under proptest in CI, and
//! `crates/ser-dsp/tests/fuzz_regressions.rs` rebuilds and replays every input it found.
//!
//! Plans (`MfccPlan::new`, what `MfccExtractor::new` builds) are kept per (preset, sample rate), so the
//! fuzzer spends its time on decoding and feature computation; a rate not seen before is still planned,
//! and planning errors are part of the check. The cache is emptied when it holds 256 plans.

#![no_main]

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use ser_dsp::{decode_wav, MfccConfig, MfccExtractor, MfccPlan};

type Plans = HashMap<(usize, u32), Option<Arc<MfccPlan>>>;

thread_local! {
    static PLANS: RefCell<Plans> = RefCell::new(HashMap::new());
}

fn plan(preset: usize, config: &MfccConfig, rate: u32) -> Option<Arc<MfccPlan>> {
    PLANS.with(|plans| {
        let mut plans = plans.borrow_mut();
        if plans.len() >= 256 {
            plans.clear();
        }
        plans
            .entry((preset, rate))
            .or_insert_with(|| MfccPlan::new(config, rate).ok().map(Arc::new))
            .clone()
    })
}

fuzz_target!(|bytes: &[u8]| {
    let Ok(audio) = decode_wav(bytes, Path::new("fuzz.wav")) else {
        return;
    };
    for (preset, config) in [MfccConfig::paper(), MfccConfig::preset_25ms()]
        .iter()
        .enumerate()
    {
        // A mutated header may state any rate; a rate the preset cannot use is a typed error.
        let Some(plan) = plan(preset, config, audio.sample_rate) else {
            continue;
        };
        let mut extractor = MfccExtractor::from_plan(plan);
        if let Ok(f) = extractor.compute(&audio.samples) {
            assert_eq!(f.data.len(), f.n_frames * f.n_coeffs, "feature shape");
            assert_eq!(f.n_coeffs, config.n_mfcc(), "coefficients per frame");
            if let Some(i) = f.data.iter().position(|v| !v.is_finite()) {
                panic!(
                    "non-finite feature {} at {i} ({} Hz, {} samples)",
                    f.data[i],
                    audio.sample_rate,
                    audio.samples.len()
                );
            }
        }
    }
});
