//! Options shared by several subcommands.

use std::path::PathBuf;

use magnets::config::ModelConfig;
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
