//! Options shared by several subcommands.

use std::path::PathBuf;

use magnets::config::ModelConfig;
use magnets::reference::ReferenceEngine;
use magnets::registry::{Registry, Sampling};

use magnets::sampling::{GuidanceSchedule, SamplingParams};
use magnets::schedule::{CachePolicy, Schedule};
use magnets::weights::Weights;

pub fn load_weights(path: &Option<PathBuf>) -> magnets::Result<Weights> {
    Weights::load(&weights_path(path)?)
}

/// `--weights`, or the default shipped model's (models/models.json).
pub fn weights_path(path: &Option<PathBuf>) -> magnets::Result<PathBuf> {
    match path {
        Some(p) => Ok(p.clone()),
        None => Ok(Registry::load()?.default_model().weights_path()),
    }
}

/// `--tokenizer`, or the one shipped with these weights (the default model's for other weights).
pub fn tokenizer_path(path: &Option<PathBuf>, weights: &std::path::Path) -> magnets::Result<PathBuf> {
    match path {
        Some(p) => Ok(p.clone()),
        None => Ok(Registry::load()?.tokenizer_for(weights)),
    }
}

/// `--schedule` accepts a schedule string or a preset name (baseline, magnets, reverse,
/// const:W) run for `--steps` steps; errors name the flag.
pub fn parse_schedule(text: &str, steps: usize, config: &ModelConfig) -> magnets::Result<Schedule> {
    Schedule::resolve(text, steps, config)
        .map_err(|e| magnets::Error::Schedule(format!("--schedule {text} --steps {steps}: {}", e.detail())))
}

/// A count flag that must lie in `1..=most` (zero is an error, never silently one).
pub fn check_count(flag: &str, value: usize, most: usize) -> magnets::Result<usize> {
    if value == 0 || value > most {
        return Err(magnets::Error::Other(format!("{flag} {value}: use 1 to {most}")));
    }
    Ok(value)
}

pub fn parse_cache(text: &str, refresh_every: Option<usize>) -> magnets::Result<CachePolicy> {
    let policy = CachePolicy::parse(text).map_err(|e| magnets::Error::Schedule(format!("--cache: {}", e.detail())))?;
    match (policy, refresh_every) {
        (_, None) => Ok(policy),
        (CachePolicy::On { .. }, Some(k)) => {
            Ok(CachePolicy::On { refresh_every: Some(check_count("--refresh-every", k, magnets::schedule::MAX_STEPS)?) })
        }
        (CachePolicy::Off, Some(_)) => Err(magnets::Error::Other("--refresh-every needs --cache on".into())),
    }
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
    /// Softmax temperature for the codes (0: arg-max). Default: the shipped model's setting
    /// (models/models.json `sampling`), else 1.
    #[arg(long)]
    pub temperature: Option<f32>,
    /// τ, the Gumbel noise scale on confidences. Default: the shipped model's, else 4.5.
    #[arg(long)]
    pub noise: Option<f32>,
    /// Classifier-free guidance scale (0: none). Default: the shipped model's, else 0.
    #[arg(long)]
    pub guidance: Option<f32>,
    /// How the guidance scale is spread over the steps: `constant`, or `linear` (s·t/T at step
    /// t of T). Default: the shipped model's, else constant.
    #[arg(long, value_enum)]
    pub guidance_schedule: Option<GuidanceSchedule>,
    #[arg(long, value_enum, default_value_t = EngineChoice::Cpu)]
    pub engine: EngineChoice,
}

/// `--engine`: the burn reference model on the CPU (burn-flex), the same model on LibTorch's CPU
/// kernels (`torch`, a build with `--features tch`: faster for long evaluations), or the WGSL
/// engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineChoice {
    Cpu,
    Torch,
    Gpu,
}

impl EngineChoice {
    pub fn name(self) -> &'static str {
        match self {
            EngineChoice::Cpu => "cpu",
            EngineChoice::Torch => "torch",
            EngineChoice::Gpu => "gpu",
        }
    }

    /// The burn reference engine this choice names (`cpu` or `torch`; `gpu` is not one).
    pub fn reference(self, weights: &Weights) -> magnets::Result<ReferenceEngine> {
        match self {
            EngineChoice::Cpu => Ok(ReferenceEngine::cpu(weights)),
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            EngineChoice::Torch => Ok(ReferenceEngine::on_device(weights, burn::tensor::Device::libtorch(), "LibTorch (CPU)")),
            #[cfg(not(feature = "tch"))]
            EngineChoice::Torch => Err(magnets::Error::Other(
                "--engine torch needs a build with `--features tch` (scripts/magnets-fast.sh; README, \"Training\")".into(),
            )),
            EngineChoice::Gpu => Err(magnets::Error::Other("--engine gpu is the WGSL engine, not a burn reference".into())),
        }
    }
}

impl DecodeArgs {
    pub fn schedule(&self, config: &ModelConfig) -> magnets::Result<Schedule> {
        parse_schedule(&self.schedule, self.steps, config)
    }
    pub fn cache_policy(&self) -> magnets::Result<CachePolicy> {
        parse_cache(&self.cache, self.refresh_every)
    }
    /// Sampling settings for decoding `weights`: each flag given, else the shipped model's
    /// recommended setting (outside the repository, with other weights: the library's
    /// defaults). Checked here so an error names the flags.
    pub fn sampling(&self, seed: u32, weights: &std::path::Path) -> magnets::Result<SamplingParams> {
        let recommended = match (self.temperature, self.noise, self.guidance, self.guidance_schedule) {
            (Some(_), Some(_), Some(_), Some(_)) => Sampling::default(),
            _ => Registry::load().map(|r| r.sampling_for(weights)).unwrap_or_default(),
        };
        let s = SamplingParams {
            seed,
            temperature: self.temperature.unwrap_or(recommended.temperature),
            confidence_noise: self.noise.unwrap_or(recommended.tau),
            guidance: self.guidance.unwrap_or(recommended.guidance),
            guidance_schedule: self.guidance_schedule.unwrap_or(recommended.guidance_schedule),
        };
        s.validate().map_err(|e| magnets::Error::Decode(format!("--temperature/--noise/--guidance: {}", e.detail())))?;
        Ok(s)
    }
    pub fn gpu(&self) -> bool {
        self.engine == EngineChoice::Gpu
    }
}

/// Prints a command's result: one line with `--json` (for scripts), else indented.
pub fn print_result(out: &serde_json::Value, compact: bool) -> magnets::Result<()> {
    if compact {
        outln!("{out}")?;
    } else {
        outln!("{}", serde_json::to_string_pretty(out).expect("json"))?;
    }
    Ok(())
}
