//! The decode plan: what each step of a schedule does before anything runs — its width,
//! whether it refreshes the KV cache, how many rows it processes, what it costs. Every image
//! has the same masked count at every step (DESIGN §4), so the plan depends only on the
//! schedule, the cache policy and guidance; the decode loop and the compute accounting both
//! read it from here.

use crate::config::ModelConfig;
use crate::flops::step_flops;
use crate::schedule::{CachePolicy, Schedule, masked_counts};

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
    let t_total = schedule.len();
    let m = masked_counts(config.generated_tokens(), t_total);
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

