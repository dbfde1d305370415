//! Options shared by several subcommands.

use std::path::PathBuf;

use magnets::config::ModelConfig;
use magnets::sampling::SamplingParams;
use magnets::schedule::{CachePolicy, Schedule};
use magnets::weights::Weights;

/// The model the CLI uses when `--weights` is not given.
pub const DEFAULT_WEIGHTS: &str = "models/magnets-emoji.safetensors";

pub fn load_weights(path: &Option<PathBuf>) -> magnets::Result<Weights> {
    let p = path.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_WEIGHTS));
    Weights::load(&p)
}

/// `--schedule` accepts a schedule string or a preset name: baseline, magnets, reverse.
pub fn parse_schedule(text: &str, steps: usize, config: &ModelConfig) -> magnets::Result<Schedule> {
    use magnets::schedule::Preset;
    let preset = match text {
        "baseline" | "maskgit" => Some(Preset::Baseline),
        "magnets" => Some(Preset::Magnets),
        "reverse" => Some(Preset::Reverse),
        _ => None,
    };
    let s = match preset {
        Some(p) => Schedule::preset(p, config, steps),
        None => Schedule::parse(text, config)?,
    };
    s.check(config)?;
    Ok(s)
}

pub fn parse_cache(text: &str, refresh_every: Option<usize>) -> magnets::Result<CachePolicy> {
    let policy = CachePolicy::parse(text)?;
    Ok(match (policy, refresh_every) {
        (CachePolicy::On { .. }, Some(k)) if k > 0 => CachePolicy::On { refresh_every: Some(k) },
        (p, _) => p,
    })
}

/// Schedule, cache, sampling and engine options shared by `generate` and `eval`.
#[derive(clap::Args, Clone, Debug)]
pub struct DecodeArgs {
    /// Schedule string (`S3M3L3XL3`) or preset (baseline, magnets, reverse).
    #[arg(long, default_value = "magnets")]
    pub schedule: String,
    /// Steps for presets.
    #[arg(long, default_value_t = 12)]
    pub steps: usize,
    /// off, on, or on:K.
    #[arg(long, default_value = "on")]
    pub cache: String,
    #[arg(long)]
    pub refresh_every: Option<usize>,
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// τ, the Gumbel noise scale on confidences.
    #[arg(long, default_value_t = 4.5)]
    pub noise: f32,
    #[arg(long, default_value_t = 0.0)]
    pub guidance: f32,
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "gpu"])]
    pub engine: String,
}

impl DecodeArgs {
    pub fn schedule(&self, config: &ModelConfig) -> magnets::Result<Schedule> {
        parse_schedule(&self.schedule, self.steps, config)
    }
    pub fn cache_policy(&self) -> magnets::Result<CachePolicy> {
        parse_cache(&self.cache, self.refresh_every)
    }
    pub fn sampling(&self, seed: u32) -> SamplingParams {
        SamplingParams { seed, temperature: self.temperature, confidence_noise: self.noise, guidance: self.guidance }
    }
    pub fn gpu(&self) -> bool {
        self.engine == "gpu"
    }
}
