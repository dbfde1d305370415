//! Compute accounting (DESIGN §3): the cost formula of one step, and a schedule's total
//! against the baseline's. FLOPs = 2 × multiply-adds. Which rows a step processes is the
//! cache plan's business ([`crate::plan`]).

use crate::config::ModelConfig;
use crate::plan::{PlannedStep, plan};
use crate::schedule::{CachePolicy, Schedule};

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
