//! Model configuration (DESIGN §2). Stored as JSON in the safetensors metadata under
//! `magnets.config`, and accepted as a standalone JSON file by `magnets init`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Metadata key holding the model config inside a weights file.
pub const CONFIG_METADATA_KEY: &str = "magnets.config";

/// Most image tokens N (grid h·w) a model may have.
pub const MAX_TOKENS: usize = 4096;
/// Most classes and most nested widths a config may list.
pub const MAX_CLASSES: usize = 65_535;
pub const MAX_WIDTHS: usize = 16;
/// Most parameters a model may have (1 GiB as f32): every size is checked against this before
/// anything is allocated, so a config cannot make `init` or a loader allocate without bound.
pub const MAX_PARAMETERS: usize = 1 << 28;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Token grid `[h, w]`; N = h·w image tokens.
    pub grid: [usize; 2],
    /// Codebook size K; the mask id is K.
    pub codebook: usize,
    /// Number of classes C; the null class (for guidance) is C.
    pub classes: usize,
    pub class_names: Vec<String>,
    /// Full model width D.
    pub dim: usize,
    pub depth: usize,
    pub head_dim: usize,
    #[serde(default = "default_mlp_ratio")]
    pub mlp_ratio: usize,
    /// Nested sub-model widths, ascending, each a multiple of `head_dim`, the last equal to `dim`.
    pub widths: Vec<usize>,
    pub width_names: Vec<String>,
}

fn default_mlp_ratio() -> usize {
    4
}

impl ModelConfig {
    /// Number of image tokens N (saturating: an unvalidated huge grid reads as too large,
    /// never as a small wrapped-around number).
    pub fn tokens(&self) -> usize {
        self.grid[0].saturating_mul(self.grid[1])
    }
    /// Sequence length N + 1 (class slot first).
    pub fn seq_len(&self) -> usize {
        self.tokens() + 1
    }
    pub fn mask_id(&self) -> u32 {
        self.codebook as u32
    }
    pub fn null_class(&self) -> u32 {
        self.classes as u32
    }
    pub fn mlp_dim(&self, width: usize) -> usize {
        self.mlp_ratio * width
    }
    pub fn full_width_index(&self) -> usize {
        self.widths.len() - 1
    }
    pub fn width_index(&self, name: &str) -> Option<usize> {
        self.width_names.iter().position(|n| n == name)
    }

    /// A config with the default four nested widths D/8, D/4, D/2, D named S, M, L, XL.
    pub fn with_default_widths(mut self) -> Self {
        let d = self.dim;
        self.widths = vec![d / 8, d / 4, d / 2, d];
        self.width_names = ["S", "M", "L", "XL"].iter().map(|s| s.to_string()).collect();
        self
    }

    /// Small config used by tests and as the starting point for engine work.
    pub fn tiny() -> Self {
        ModelConfig {
            grid: [4, 4],
            codebook: 32,
            classes: 3,
            class_names: vec!["a".into(), "b".into(), "c".into()],
            dim: 64,
            depth: 2,
            head_dim: 8,
            mlp_ratio: 4,
            widths: vec![],
            width_names: vec![],
        }
        .with_default_widths()
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(msg));
        if self.grid[0] == 0 || self.grid[1] == 0 {
            return bad(format!("grid {:?} must have positive sides", self.grid));
        }
        match self.grid[0].checked_mul(self.grid[1]) {
            Some(n) if n <= MAX_TOKENS => {}
            _ => return bad(format!("grid {:?} has more than {MAX_TOKENS} tokens", self.grid)),
        }
        if self.codebook < 2 || self.codebook > 65_535 {
            return bad(format!("codebook {} must be in 2..=65535", self.codebook));
        }
        if self.classes == 0 || self.classes > MAX_CLASSES {
            return bad(format!("classes {} must be in 1..={MAX_CLASSES}", self.classes));
        }
        if self.class_names.len() != self.classes {
            return bad(format!(
                "class_names has {} entries but classes = {}",
                self.class_names.len(),
                self.classes
            ));
        }
        if self.depth == 0 || self.depth > 64 {
            return bad(format!("depth {} must be in 1..=64", self.depth));
        }
        if self.head_dim == 0 || self.dim == 0 || self.dim % self.head_dim != 0 {
            return bad(format!("dim {} must be a positive multiple of head_dim {}", self.dim, self.head_dim));
        }
        if self.dim > 8192 {
            return bad(format!("dim {} is larger than the supported 8192", self.dim));
        }
        if self.mlp_ratio == 0 || self.mlp_ratio > 16 {
            return bad(format!("mlp_ratio {} must be in 1..=16", self.mlp_ratio));
        }
        if self.widths.is_empty() || self.widths.len() > MAX_WIDTHS {
            return bad(format!("widths must list 1 to {MAX_WIDTHS} widths, not {}", self.widths.len()));
        }
        if self.widths.len() != self.width_names.len() {
            return bad(format!(
                "widths has {} entries but width_names has {}",
                self.widths.len(),
                self.width_names.len()
            ));
        }
        for (i, &w) in self.widths.iter().enumerate() {
            if w == 0 || w % self.head_dim != 0 {
                return bad(format!("width {w} is not a positive multiple of head_dim {}", self.head_dim));
            }
            if i > 0 && w <= self.widths[i - 1] {
                return bad(format!("widths {:?} must be strictly ascending", self.widths));
            }
        }
        if *self.widths.last().unwrap() != self.dim {
            return bad(format!("the last width {} must equal dim {}", self.widths.last().unwrap(), self.dim));
        }
        for (i, name) in self.width_names.iter().enumerate() {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphabetic()) {
                return bad(format!("width name {name:?} must be non-empty ASCII letters (schedule strings use them)"));
            }
            if self.width_names[..i].contains(name) {
                return bad(format!("width name {name:?} appears twice"));
            }
        }
        match self.checked_parameter_count() {
            Some(p) if p <= MAX_PARAMETERS => Ok(()),
            p => bad(format!(
                "{} parameters is more than the supported {MAX_PARAMETERS}",
                p.map_or("an overflowing number of".to_string(), |p| p.to_string())
            )),
        }
    }

    /// Parameter count with checked arithmetic (`None` if it overflows `usize`).
    fn checked_parameter_count(&self) -> Option<usize> {
        self.tensor_shapes()
            .iter()
            .try_fold(0usize, |acc, (_, s)| acc.checked_add(s.iter().try_fold(1usize, |p, &d| p.checked_mul(d))?))
    }

    /// Reads and validates a standalone config JSON file; errors name the file.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = crate::files::read_text_capped(path, crate::files::MAX_JSON_BYTES)
            .map_err(|e| Error::Config(e.to_string()))?;
        Self::from_json(&text).map_err(|e| Error::Config(format!("{}: {}", path.display(), e.detail())))
    }

    pub fn from_json(text: &str) -> Result<Self> {
        let cfg: ModelConfig =
            serde_json::from_str(text).map_err(|e| Error::Config(format!("invalid config JSON: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("config serialises")
    }

    /// Every tensor the model needs, with its full shape, in a stable order.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (d, k, c, n, r) = (self.dim, self.codebook, self.classes, self.tokens(), self.mlp_dim(self.dim));
        let mut out = vec![
            ("tokens.embedding".to_string(), vec![k + 1, d]),
            ("classes.embedding".to_string(), vec![c + 1, d]),
            ("positions.embedding".to_string(), vec![n + 1, d]),
        ];
        for l in 0..self.depth {
            let p = |s: &str| format!("blocks.{l}.{s}");
            out.push((p("norm1.gamma"), vec![d]));
            out.push((p("norm1.beta"), vec![d]));
            for w in ["wq", "wk", "wv", "wo"] {
                out.push((p(&format!("attn.{w}")), vec![d, d]));
            }
            for b in ["bq", "bk", "bv", "bo"] {
                out.push((p(&format!("attn.{b}")), vec![d]));
            }
            out.push((p("norm2.gamma"), vec![d]));
            out.push((p("norm2.beta"), vec![d]));
            out.push((p("mlp.w1"), vec![d, r]));
            out.push((p("mlp.b1"), vec![r]));
            out.push((p("mlp.w2"), vec![r, d]));
            out.push((p("mlp.b2"), vec![d]));
        }
        out.push(("final_norm.gamma".to_string(), vec![d]));
        out.push(("final_norm.beta".to_string(), vec![d]));
        out.push(("head.w".to_string(), vec![d, k]));
        out.push(("head.b".to_string(), vec![k]));
        out
    }

    /// The nesting rule, stated once: the sub-model at width index `width` is the model of
    /// dimension `widths[width]` whose every tensor is the leading slice (`[:extent]` along
    /// each axis) of the full model's tensor of the same name, with the extents of
    /// [`Self::tensor_shapes`] at that dimension. Model dimension, heads and MLP width shrink;
    /// vocabulary, classes and positions do not.
    pub fn submodel(&self, width: usize) -> ModelConfig {
        let mut sub = self.clone();
        sub.dim = self.widths[width];
        sub.widths = self.widths[..=width].to_vec();
        sub.width_names = self.width_names[..=width].to_vec();
        sub
    }

    /// Per tensor name, the leading extents that width index `width` uses (see [`Self::submodel`]).
    pub fn prefix_shapes(&self, width: usize) -> Vec<(String, Vec<usize>)> {
        self.submodel(width).tensor_shapes()
    }

    pub fn parameter_count(&self) -> usize {
        self.tensor_shapes().iter().map(|(_, s)| s.iter().product::<usize>()).sum()
    }
}
