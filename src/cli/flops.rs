//! `magnets flops`: compute of a schedule vs the MaskGIT baseline, per step and in total.

use std::path::PathBuf;

use magnets::config::ModelConfig;
use magnets::flops::summarize;

use super::common::{load_weights, parse_cache, parse_schedule};

#[derive(clap::Args)]
pub struct Args {
    /// Weights file (its config is used); defaults to the shipped model.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Or a bare config JSON instead of weights.
    #[arg(long, conflicts_with = "weights")]
    config: Option<PathBuf>,
    /// Schedule string (`S3M3L3XL3`) or preset (baseline, magnets, reverse).
    #[arg(long, default_value = "magnets")]
    schedule: String,
    /// Steps for presets.
    #[arg(long, default_value_t = 12)]
    steps: usize,
    #[arg(long, default_value = "on")]
    cache: String,
    #[arg(long)]
    refresh_every: Option<usize>,
    /// Count the classifier-free guidance pass.
    #[arg(long)]
    guidance: bool,
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> magnets::Result<()> {
    let config = match &a.config {
        Some(p) => ModelConfig::load(p)?,
        None => load_weights(&a.weights)?.config,
    };
    let schedule = parse_schedule(&a.schedule, a.steps, &config)?;
    let cache = parse_cache(&a.cache, a.refresh_every)?;
    let s = summarize(&config, &schedule, cache, a.guidance);
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&s).expect("serialisable"))?;
        return Ok(());
    }
    outln!("schedule {}  cache {}  (N = {}, D = {}, depth {})", s.schedule, s.cache, config.tokens(), config.dim, config.depth)?;
    outln!("{:>4} {:>5} {:>8} {:>6} {:>7} {:>12} {:>12}", "step", "width", "refresh", "rows", "masked", "GFLOPs", "baseline")?;
    for st in &s.steps {
        outln!(
            "{:>4} {:>5} {:>8} {:>6} {:>7} {:>12.5} {:>12.5}",
            st.step,
            st.width_name,
            if st.refresh { "yes" } else { "" },
            st.rows,
            st.masked_before,
            st.flops as f64 / 1e9,
            st.baseline_flops as f64 / 1e9
        )?;
    }
    outln!("total {:.5} GFLOPs per image; baseline {:.5}; {:.2}x less compute", s.total_gflops, s.baseline_gflops, s.ratio)?;
    Ok(())
}
