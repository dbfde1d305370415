//! The shipped models (`models/models.json`): each is a weights file and the VQ tokenizer its
//! codes mean something in. The CLI takes its default model from here and pairs any shipped
//! weights with their tokenizer; `scripts/stage-models.mjs` stages the same list for the page,
//! which offers every model that is present and picks the starting one from `light`
//! (www/models.js); the tests read the list through here too.

use std::path::{Path, PathBuf};

use crate::sampling::{GuidanceSchedule, SamplingParams};
use serde::Deserialize;

/// Where the list lives, relative to the repository root (the CLI's working directory).
pub const REGISTRY: &str = "models/models.json";
/// A model list is a few kilobytes; anything near this is not one.
const MAX_REGISTRY_BYTES: u64 = 1 << 20;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShippedModel {
    /// Short name used on the command line and in the page's URL (`m=`).
    pub id: String,
    /// What the page's model menu shows.
    pub name: String,
    /// One line on what it is and when to pick it.
    pub about: String,
    /// Weights and tokenizer file names, inside `models/`.
    pub weights: String,
    pub tokenizer: String,
    /// Quick on the CPU fallback and software GPUs: the page starts with it there.
    #[serde(default)]
    pub light: bool,
    /// What it makes: images (class → emoji) or clips (a first frame → the frames after it).
    #[serde(default)]
    pub kind: ModelKind,
    /// The decode settings it is shown and measured with (chosen on the selection seed;
    /// docs/RESULTS.md). The CLI's flags and the page's link override them.
    #[serde(default)]
    pub sampling: Option<Sampling>,
}

/// A model's recommended sampling settings (`magnets eval --temperature --noise --guidance`;
/// the page's `temp`, `tau`, `g`).
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    pub temperature: f32,
    pub tau: f32,
    pub guidance: f32,
    #[serde(default, skip_serializing_if = "is_constant")]
    pub guidance_schedule: GuidanceSchedule,
}

fn is_constant(s: &GuidanceSchedule) -> bool {
    *s == GuidanceSchedule::Constant
}

impl Sampling {
    pub fn params(self, seed: u32) -> SamplingParams {
        SamplingParams {
            seed,
            temperature: self.temperature,
            confidence_noise: self.tau,
            guidance: self.guidance,
            guidance_schedule: self.guidance_schedule,
        }
    }
}

impl Default for Sampling {
    /// The settings of a model without its own: `SamplingParams::default()`'s.
    fn default() -> Self {
        let d = SamplingParams::default();
        Sampling { temperature: d.temperature, tau: d.confidence_noise, guidance: d.guidance, guidance_schedule: d.guidance_schedule }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    #[default]
    Image,
    Clip,
}

impl ShippedModel {
    pub fn weights_path(&self) -> PathBuf {
        Path::new("models").join(&self.weights)
    }
    /// Its int8 copy, `NAME.int8.safetensors` (what the page downloads; `magnets init --int8`):
    /// the same model, so it pairs with the same tokenizer and sampling settings.
    pub fn int8_path(&self) -> PathBuf {
        let stem = self.weights.strip_suffix(".safetensors").unwrap_or(&self.weights);
        Path::new("models").join(format!("{stem}.int8.safetensors"))
    }
    pub fn tokenizer_path(&self) -> PathBuf {
        Path::new("models").join(&self.tokenizer)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    /// The id of the model the CLI uses without `--weights`, and the page on a hardware GPU.
    pub default: String,
    pub models: Vec<ShippedModel>,
}

impl Registry {
    pub fn parse(text: &str, origin: &Path) -> crate::Result<Registry> {
        let bad = |why: String| crate::Error::Other(format!("{}: {why}", origin.display()));
        let r: Registry = serde_json::from_str(text).map_err(|e| bad(format!("not a model list: {e}")))?;
        match r.models.iter().find(|m| m.id == r.default) {
            None => return Err(bad(format!("the default model `{}` is not in its list", r.default))),
            Some(m) if m.kind != ModelKind::Image => {
                return Err(bad(format!("the default model `{}` must make images (it is a clip model)", r.default)));
            }
            _ => {}
        }
        for (i, m) in r.models.iter().enumerate() {
            if r.models[..i].iter().any(|o| o.id == m.id) {
                return Err(bad(format!("model id `{}` is listed twice", m.id)));
            }
            if let Some(sampling) = m.sampling {
                sampling.params(0).validate().map_err(|e| bad(format!("model `{}`: sampling: {}", m.id, e.detail())))?;
            }
            for f in [&m.weights, &m.tokenizer] {
                if !f.ends_with(".safetensors") || f.contains('/') || f.contains("..") {
                    return Err(bad(format!("`{f}` must be a .safetensors file name inside models/")));
                }
            }
        }
        Ok(r)
    }

    /// The list in the working directory (the CLI runs from the repository root).
    pub fn load() -> crate::Result<Registry> {
        let path = Path::new(REGISTRY);
        let text = crate::files::read_text_capped(path, MAX_REGISTRY_BYTES).map_err(|e| {
            crate::Error::Other(format!("{} (run from the repository root, or name the files with --weights and --tokenizer)", e.detail()))
        })?;
        Self::parse(&text, path)
    }

    /// The list at `path` (the tests name their checkout's file).
    pub fn load_from(path: &Path) -> crate::Result<Registry> {
        Self::parse(&crate::files::read_text_capped(path, MAX_REGISTRY_BYTES)?, path)
    }

    pub fn default_model(&self) -> &ShippedModel {
        self.models.iter().find(|m| m.id == self.default).expect("checked in parse")
    }

    /// The shipped model whose weights file (or its int8 copy) this path is, if any.
    pub fn by_weights(&self, weights: &Path) -> Option<&ShippedModel> {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        self.models.iter().find(|m| same(&m.weights_path(), weights) || same(&m.int8_path(), weights))
    }

    /// The tokenizer for decoding these weights' codes: the shipped pair when the weights are a
    /// shipped model, else the default model's tokenizer (whose grid and codebook the caller
    /// still checks against the weights).
    pub fn tokenizer_for(&self, weights: &Path) -> PathBuf {
        self.by_weights(weights).unwrap_or_else(|| self.default_model()).tokenizer_path()
    }

    /// The sampling settings for these weights: the shipped model's, else the library's defaults.
    pub fn sampling_for(&self, weights: &Path) -> Sampling {
        self.by_weights(weights).and_then(|m| m.sampling).unwrap_or_default()
    }
}

