//! Turning logits into proposals: temperature sampling and confidence with annealed Gumbel
//! noise (DESIGN §3). The WGSL sampler mirrors this function by function.

use serde::{Deserialize, Serialize};

use crate::rng;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    pub seed: u32,
    /// Softmax temperature for sampling codes; 0 picks the arg-max.
    pub temperature: f32,
    /// τ: scale of the Gumbel noise added to confidences, annealed as τ·(1 − t/T).
    pub confidence_noise: f32,
    /// Classifier-free guidance scale s: logits = (1+s)·cond − s·uncond. 0 disables it.
    pub guidance: f32,
    /// How s is spread over the steps (the unconditional pass runs at every step either way).
    #[serde(default)]
    pub guidance_schedule: GuidanceSchedule,
}

/// The guidance scale per step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum GuidanceSchedule {
    /// s at every step.
    #[default]
    Constant,
    /// s·t/T at step t of T: the early steps, which fix the first tokens from little context
    /// (and, under MaGNeTS, with the smallest sub-models), are barely guided; the last get all of s.
    Linear,
}

impl Default for SamplingParams {
    fn default() -> Self {
        SamplingParams { seed: 0, temperature: 1.0, confidence_noise: 4.5, guidance: 0.0, guidance_schedule: GuidanceSchedule::Constant }
    }
}

impl SamplingParams {
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::Error::Decode(m.to_string()));
        // 0 means arg-max; a tiny positive T would make 1/T overflow to infinity (NaN scores).
        if !(self.temperature == 0.0 || (MIN_TEMPERATURE..=10.0).contains(&self.temperature)) {
            return bad("temperature must be 0 (arg-max) or between 0.01 and 10");
        }
        if !(self.confidence_noise.is_finite() && (0.0..=100.0).contains(&self.confidence_noise)) {
            return bad("confidence noise τ must be between 0 and 100");
        }
        if !(self.guidance.is_finite() && (0.0..=20.0).contains(&self.guidance)) {
            return bad("guidance scale must be between 0 and 20");
        }
        Ok(())
    }
    pub fn uses_guidance(&self) -> bool {
        self.guidance > 0.0
    }
}

/// Smallest positive softmax temperature accepted.
pub const MIN_TEMPERATURE: f32 = 0.01;

/// Counter draws used per masked position.
pub const DRAW_SAMPLE: u32 = 0;
pub const DRAW_CONFIDENCE: u32 = 1;

/// The sampled code and its confidence for one masked position.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proposal {
    pub code: u32,
    pub confidence: f32,
}

/// Annealed noise scale at step `step` (1-based) of `total`.
pub fn noise_scale(params: &SamplingParams, step: usize, total: usize) -> f32 {
    params.confidence_noise * (1.0 - step as f32 / total as f32)
}

/// Guidance scale at step `step` (1-based) of `total`.
pub fn guidance_scale(params: &SamplingParams, step: usize, total: usize) -> f32 {
    match params.guidance_schedule {
        GuidanceSchedule::Constant => params.guidance,
        GuidanceSchedule::Linear => params.guidance * step as f32 / total as f32,
    }
}

/// Samples one code from `logits` (already guidance-mixed) by inverse CDF in code order, and
/// scores it with log p(code) + noise·Gumbel. `image`, `step` (1-based), `position` (sequence
/// position) are the RNG counters. `scratch` holds the softmax weights, so that a caller
/// sampling many positions reuses one buffer instead of allocating one per position.
pub fn propose(
    logits: &[f32],
    scratch: &mut Vec<f32>,
    params: &SamplingParams,
    image: u32,
    step: u32,
    position: u32,
    noise: f32,
) -> Proposal {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (code, log_p) = if params.temperature <= 0.0 {
        let code = logits.iter().position(|&v| v == max).unwrap_or(0);
        let sum: f32 = logits.iter().map(|&v| (v - max).exp()).sum();
        (code, -sum.ln())
    } else {
        let inv_t = 1.0 / params.temperature;
        // Each weight once (exp is most of a narrow step's time on the CPU engine); the sum and
        // the scan add the same values in the same order as computing them twice would.
        scratch.clear();
        scratch.extend(logits.iter().map(|&v| ((v - max) * inv_t).exp()));
        let weights = &scratch[..];
        let sum: f32 = weights.iter().sum();
        let target = rng::uniform(params.seed, image, step, position, DRAW_SAMPLE) * sum;
        let mut acc = 0.0f32;
        let mut code = logits.len() - 1;
        for (i, &w) in weights.iter().enumerate() {
            acc += w;
            if acc > target {
                code = i;
                break;
            }
        }
        (code, (logits[code] - max) * inv_t - sum.ln())
    };
    let g = rng::gumbel(params.seed, image, step, position, DRAW_CONFIDENCE);
    Proposal { code: code as u32, confidence: log_p + noise * g }
}

/// Mixes conditional and unconditional logits in place: (1+s)·cond − s·uncond.
pub fn apply_guidance(cond: &mut [f32], uncond: &[f32], scale: f32) {
    for (c, &u) in cond.iter_mut().zip(uncond) {
        *c = (1.0 + scale) * *c - scale * u;
    }
}

/// Indices (into `confidences`) of the `k` most confident entries; ties go to the lower index.
pub fn most_confident(confidences: &[f32], k: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..confidences.len()).collect();
    order.sort_by(|&a, &b| confidences[b].total_cmp(&confidences[a]).then(a.cmp(&b)));
    order.truncate(k);
    order
}
