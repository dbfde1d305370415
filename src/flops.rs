//! Compute accounting (DESIGN §3). FLOPs = 2 × multiply-adds.

use crate::config::ModelConfig;
use crate::schedule::{CachePolicy, Schedule, masked_counts};

/// FLOPs for one sequence at one step: width index `width`, `rows` processed rows, `masked`
/// rows that need logits. Attention reads all S = N+1 keys.
pub fn step_flops(config: &ModelConfig, width: usize, rows: usize, masked: usize) -> u64 {
    let d = config.widths[width] as u64;
    let r = rows as u64;
    let s = config.seq_len() as u64;
    let mlp = (config.mlp_ratio as u64) * d;
    let per_layer = 2 * r * d * 3 * d + 2 * r * d * d + 2 * r * d * 2 * mlp + 2 * 2 * r * s * d;
    config.depth as u64 * per_layer + 2 * masked as u64 * d * config.codebook as u64
}

/// Per-step cost of a schedule without running it: the rows a step processes only depend on
/// the mask schedule (every image has the same masked count at every step).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PlannedStep {
    pub step: usize,
    pub width: usize,
    pub width_name: String,
    pub refresh: bool,
    pub masked_before: usize,
    pub masked_after: usize,
    pub rows: usize,
    /// Per image, including the unconditional pass when guidance is on.
    pub flops: u64,
    pub baseline_flops: u64,
}

/// Rows processed at a step: all N+1 on a refresh, else the tokens still masked plus those
/// fixed at the previous step.
pub fn rows_for_step(config: &ModelConfig, refresh: bool, masked_before: usize, fixed_previous: usize) -> usize {
    if refresh { config.seq_len() } else { masked_before + fixed_previous }
}

pub fn plan(config: &ModelConfig, schedule: &Schedule, cache: CachePolicy, guidance: bool) -> Vec<PlannedStep> {
    let n = config.tokens();
    let t_total = schedule.len();
    let m = masked_counts(n, t_total);
    let passes = if guidance { 2 } else { 1 };
    let full = config.full_width_index();
    let mut out = Vec::with_capacity(t_total);
    for t in 0..t_total {
        let width = schedule.steps[t];
        let previous = (t > 0).then(|| schedule.steps[t - 1]);
        let refresh = cache.is_refresh(t, width, previous);
        let fixed_previous = if t == 0 { 0 } else { m[t - 1] - m[t] };
        let rows = rows_for_step(config, refresh, m[t], fixed_previous);
        out.push(PlannedStep {
            step: t + 1,
            width,
            width_name: config.width_names[width].clone(),
            refresh,
            masked_before: m[t],
            masked_after: m[t + 1],
            rows,
            flops: passes * step_flops(config, width, rows, m[t]),
            baseline_flops: passes * step_flops(config, full, config.seq_len(), m[t]),
        });
    }
    out
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FlopsSummary {
    pub schedule: String,
    pub cache: String,
    pub steps: Vec<PlannedStep>,
    pub total_gflops: f64,
    pub baseline_gflops: f64,
    /// baseline / this schedule: how many times less compute.
    pub ratio: f64,
}

pub fn summarize(config: &ModelConfig, schedule: &Schedule, cache: CachePolicy, guidance: bool) -> FlopsSummary {
    let steps = plan(config, schedule, cache, guidance);
    let total: u64 = steps.iter().map(|s| s.flops).sum();
    let base: u64 = steps.iter().map(|s| s.baseline_flops).sum();
    FlopsSummary {
        schedule: schedule.format(config),
        cache: cache.format(),
        steps,
        total_gflops: total as f64 / 1e9,
        baseline_gflops: base as f64 / 1e9,
        ratio: base as f64 / total as f64,
    }
}
