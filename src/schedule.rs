//! Decode schedules: which sub-model runs at each step (`S3M3L3XL3`), the cosine mask schedule,
//! and the KV-cache policy (DESIGN §3).

use serde::{Deserialize, Serialize};

use crate::config::ModelConfig;
use crate::error::{Error, Result};

/// Longest schedule accepted anywhere (URL, CLI). A model further limits T to its token count.
pub const MAX_STEPS: usize = 1024;

/// The sub-model (index into `config.widths`) used at each decode step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub steps: Vec<usize>,
}

impl Schedule {
    pub fn len(&self) -> usize {
        self.steps.len()
    }
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Parses runs of width names with counts, e.g. `XL12` or `S3M3L3XL3`.
    pub fn parse(text: &str, config: &ModelConfig) -> Result<Self> {
        Self::parse_with_names(text, &config.width_names)
    }

    pub fn parse_with_names(text: &str, names: &[String]) -> Result<Self> {
        let err = |m: String| Err(Error::Schedule(m));
        let text = text.trim();
        if text.is_empty() {
            return err(format!("empty schedule; write runs like `{}12`", names.last().map_or("XL", |s| s)));
        }
        let bytes = text.as_bytes();
        let mut steps = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            let name = &text[start..i];
            if name.is_empty() {
                return err(format!("expected a width name at position {start} of `{text}`"));
            }
            let num_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let digits = &text[num_start..i];
            let Some(width) = names.iter().position(|n| n.eq_ignore_ascii_case(name)) else {
                return err(format!("unknown width name `{name}` in `{text}`; this model has {}", names.join(", ")));
            };
            if digits.is_empty() {
                return err(format!("width `{name}` in `{text}` needs a step count, e.g. `{name}3`"));
            }
            if digits.len() > 5 {
                return err(format!("step count `{digits}` for `{name}` is too large (at most {MAX_STEPS} steps)"));
            }
            let count: usize = digits.parse().map_err(|_| Error::Schedule(format!("bad count `{digits}`")))?;
            if count == 0 {
                return err(format!("`{name}0`: each run needs at least one step"));
            }
            if steps.len() + count > MAX_STEPS {
                return err(format!("schedule `{text}` has more than {MAX_STEPS} steps"));
            }
            steps.extend(std::iter::repeat_n(width, count));
        }
        Ok(Schedule { steps })
    }

    /// Canonical string form: consecutive equal widths merged into runs.
    pub fn format(&self, config: &ModelConfig) -> String {
        self.format_with_names(&config.width_names)
    }

    pub fn format_with_names(&self, names: &[String]) -> String {
        let mut out = String::new();
        let mut i = 0;
        while i < self.steps.len() {
            let w = self.steps[i];
            let mut j = i;
            while j < self.steps.len() && self.steps[j] == w {
                j += 1;
            }
            out.push_str(&names[w]);
            out.push_str(&(j - i).to_string());
            i = j;
        }
        out
    }

    pub fn constant(width: usize, steps: usize) -> Self {
        Schedule { steps: vec![width; steps] }
    }

    /// Splits T steps over the widths as evenly as possible, earlier groups getting fewer extra
    /// steps; `ascending` picks small → large (MaGNeTS) or large → small (its reverse).
    pub fn nested(num_widths: usize, steps: usize, ascending: bool) -> Self {
        let base = steps / num_widths;
        let extra = steps % num_widths;
        let mut out = Vec::with_capacity(steps);
        for g in 0..num_widths {
            let count = base + usize::from(g >= num_widths - extra);
            let width = if ascending { g } else { num_widths - 1 - g };
            out.extend(std::iter::repeat_n(width, count));
        }
        Schedule { steps: out }
    }

    pub fn preset(preset: Preset, config: &ModelConfig, steps: usize) -> Self {
        let n = config.widths.len();
        match preset {
            Preset::Baseline => Self::constant(n - 1, steps),
            Preset::Magnets => Self::nested(n, steps, true),
            Preset::Reverse => Self::nested(n, steps, false),
            Preset::Constant(w) => Self::constant(w.min(n - 1), steps),
        }
    }

    /// What `--schedule` and the page's schedule field accept: a schedule string (`S3M3L3XL3`)
    /// or a preset name (`baseline`/`maskgit`, `magnets`, `reverse`, `const:<width>`) run for
    /// `steps` steps. The step count is checked before a preset is built, so no request can
    /// make it allocate more than [`MAX_STEPS`] entries. The result fits the model.
    pub fn resolve(text: &str, steps: usize, config: &ModelConfig) -> Result<Self> {
        let text = text.trim();
        let preset = match text {
            "baseline" | "maskgit" => Some(Preset::Baseline),
            "magnets" => Some(Preset::Magnets),
            "reverse" => Some(Preset::Reverse),
            t => match t.strip_prefix("const:") {
                Some(w) => Some(Preset::Constant(config.width_index(w).ok_or_else(|| {
                    Error::Schedule(format!("unknown width `{w}`; this model has {}", config.width_names.join(", ")))
                })?)),
                None => None,
            },
        };
        let schedule = match preset {
            Some(p) => {
                let most = config.generated_tokens().min(MAX_STEPS);
                if steps == 0 || steps > most {
                    return Err(Error::Schedule(format!(
                        "{steps} steps: choose 1 to {most} (each step unmasks at least one of the {} tokens)",
                        config.generated_tokens()
                    )));
                }
                Self::preset(p, config, steps)
            }
            None => Self::parse(text, config)?,
        };
        schedule.check(config)?;
        Ok(schedule)
    }

    /// Checks the schedule fits this model: widths exist, 1 ≤ T ≤ N.
    pub fn check(&self, config: &ModelConfig) -> Result<()> {
        if self.steps.is_empty() {
            return Err(Error::Schedule("a schedule needs at least one step".into()));
        }
        if self.steps.len() > config.generated_tokens() {
            return Err(Error::Schedule(format!(
                "{} steps but the model generates only {} tokens; each step must unmask at least one",
                self.steps.len(),
                config.generated_tokens()
            )));
        }
        if let Some(&w) = self.steps.iter().find(|&&w| w >= config.widths.len()) {
            return Err(Error::Schedule(format!("width index {w} does not exist in this model")));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preset {
    /// MaskGIT: the full model at every step.
    Baseline,
    /// MaGNeTS: small → large.
    Magnets,
    /// Large → small, the ablation the paper shows to be worse.
    Reverse,
    Constant(usize),
}

/// Tokens still masked after each step: `m[0] = N`, `m[t] = floor(N·cos(π/2·t/T))`, forced
/// so every step unmasks at least one token and `m[T] = 0`.
pub fn masked_counts(tokens: usize, steps: usize) -> Vec<usize> {
    assert!(steps >= 1 && steps <= tokens, "1 <= T <= N");
    let mut m = vec![tokens; steps + 1];
    for t in 1..=steps {
        let raw = (tokens as f64 * (std::f64::consts::FRAC_PI_2 * t as f64 / steps as f64).cos()).floor();
        let raw = (raw.max(0.0) as usize).min(tokens);
        // At most m[t-1]-1 (progress), at least T-t (room for the remaining steps).
        m[t] = raw.min(m[t - 1] - 1).max(steps - t);
    }
    m[steps] = 0;
    m
}

/// When the KV cache may be used instead of recomputing every row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CachePolicy {
    /// Every step recomputes all N+1 rows (MaskGIT).
    Off,
    /// Reuse cached K/V of decoded tokens; refresh on the first step, on a width switch, and
    /// every `refresh_every` steps when given.
    On { refresh_every: Option<usize> },
}

impl CachePolicy {
    /// Is step `t` (0-based) a refresh step, given the width of this and the previous step?
    pub fn is_refresh(&self, t: usize, width: usize, previous_width: Option<usize>) -> bool {
        match *self {
            CachePolicy::Off => true,
            CachePolicy::On { refresh_every } => {
                t == 0
                    || previous_width != Some(width)
                    || refresh_every.is_some_and(|k| k > 0 && t % k == 0)
            }
        }
    }

    /// `off`, `on`, or `on:K` (refresh every K steps).
    pub fn parse(text: &str) -> Result<Self> {
        match text.trim() {
            "off" => Ok(CachePolicy::Off),
            "on" => Ok(CachePolicy::On { refresh_every: None }),
            s => {
                let k = s
                    .strip_prefix("on:")
                    .and_then(|k| k.parse::<usize>().ok())
                    .filter(|&k| (1..=MAX_STEPS).contains(&k))
                    .ok_or_else(|| Error::Schedule(format!("cache policy `{s}`: use off, on, or on:K (K ≥ 1)")))?;
                Ok(CachePolicy::On { refresh_every: Some(k) })
            }
        }
    }

    pub fn format(&self) -> String {
        match self {
            CachePolicy::Off => "off".into(),
            CachePolicy::On { refresh_every: None } => "on".into(),
            CachePolicy::On { refresh_every: Some(k) } => format!("on:{k}"),
        }
    }
}
