//! Model configuration (DESIGN §2). Stored as JSON in the safetensors metadata under
//! `magnets.config`, and accepted as a standalone JSON file by `magnets init`.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Metadata key holding the model config inside a weights file.
pub const CONFIG_METADATA_KEY: &str = "magnets.config";

/// Most tokens N (frames · grid h·w) a model may have.
pub const MAX_TOKENS: usize = 4096;
/// Most frames a clip model may have.
pub const MAX_FRAMES: usize = 64;
/// Most classes and most nested widths a config may list.
pub const MAX_CLASSES: usize = 65_535;
pub const MAX_WIDTHS: usize = 16;
/// Most parameters a model may have (1 GiB as f32): every size is checked against this before
/// anything is allocated, so a config cannot make `init` or a loader allocate without bound.
pub const MAX_PARAMETERS: usize = 1 << 28;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Token grid `[h, w]` of one frame (an image is one frame).
    pub grid: [usize; 2],
    /// Frames per sequence: 1 for an image model; a clip model sees `frames` grids in time
    /// order, N = frames·h·w space-time tokens, each with its own position row.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub frames: usize,
    /// Leading frames that are given, never generated (frame prediction: the first frame is
    /// the prompt). Training never masks them; a decode takes their codes as its context.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub context_frames: usize,
    /// Codebook size K; the mask id is K.
    pub codebook: usize,
    /// Number of classes C; the null class (for guidance) is C.
    pub classes: usize,
    pub class_names: Vec<String>,
    /// Art styles (vendors) the classes are split by; empty for a category-only model. With S
    /// styles, class `category·S + style` is that category drawn in that style, so one class
    /// table holds both labels and the engines never see the difference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub styles: Vec<String>,
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

/// What a model tensor holds, which decides how [`ModelConfig::nested_shape`] cuts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorKind {
    /// `tokens.embedding [K+1, D]`: a row per code, and the mask id's.
    TokenEmbedding,
    /// `classes.embedding [C+1, D]`: a row per class, and the null class's.
    ClassEmbedding,
    /// `positions.embedding [N+1, D]`: the class slot's row, then the image positions'.
    PositionEmbedding,
    /// `[D]`: a LayerNorm gain or offset, or the bias of a product into the model width.
    Vector,
    /// `[D, D]`: an attention projection.
    Projection,
    /// `mlp.w1 [D, rD]`.
    MlpIn,
    /// `mlp.b1 [rD]`.
    MlpBias,
    /// `mlp.w2 [rD, D]`.
    MlpOut,
    /// `head.w [D, K]`.
    Head,
    /// `head.b [K]`.
    HeadBias,
}

/// The class of `category` drawn in `style` of `styles` (the one rule for styled class ids).
pub fn class_id(category: u32, style: u32, styles: usize) -> u32 {
    category * styles as u32 + style
}

fn default_mlp_ratio() -> usize {
    4
}
fn one() -> usize {
    1
}
fn is_one(v: &usize) -> bool {
    *v == 1
}
fn is_zero(v: &usize) -> bool {
    *v == 0
}

impl ModelConfig {
    /// Tokens of one frame, h·w.
    pub fn frame_tokens(&self) -> usize {
        self.grid[0].saturating_mul(self.grid[1])
    }
    /// Number of tokens N = frames·h·w (saturating: an unvalidated huge grid reads as too
    /// large, never as a small wrapped-around number).
    pub fn tokens(&self) -> usize {
        self.frame_tokens().saturating_mul(self.frames)
    }
    /// Tokens of the given leading frames: positions `0..context_tokens()` are never masked.
    pub fn context_tokens(&self) -> usize {
        self.frame_tokens().saturating_mul(self.context_frames)
    }
    /// Tokens a decode generates (and training masks): N minus the context.
    pub fn generated_tokens(&self) -> usize {
        self.tokens().saturating_sub(self.context_tokens())
    }
    pub fn is_clip(&self) -> bool {
        self.frames > 1
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
    /// Styles per category: 1 for a category-only model.
    pub fn style_count(&self) -> usize {
        self.styles.len().max(1)
    }
    /// Categories (what the FID classifier names): `classes / style_count()`.
    pub fn categories(&self) -> usize {
        self.classes / self.style_count()
    }
    /// The category a class draws.
    pub fn category_of(&self, class: u32) -> u32 {
        class / self.style_count() as u32
    }
    /// The class of `category` drawn in `style` (style 0 for a category-only model).
    pub fn class_of(&self, category: u32, style: u32) -> u32 {
        class_id(category, style, self.style_count())
    }
    /// The `i`-th of a class-balanced sample set: categories in turn, and within each category
    /// the styles in turn, so every (category, style) pair is drawn equally often.
    pub fn balanced_class(&self, i: u32) -> u32 {
        let c = self.categories() as u32;
        self.class_of(i % c, (i / c) % self.style_count() as u32)
    }
    /// Like [`ModelConfig::balanced_class`], with each category's styles drawn in proportion to
    /// `counts[category][style]` (e.g. the training images'), so that samples scored against
    /// real images have their style mix. The j-th draw of a category takes the style where
    /// frac(j·φ) falls in the cumulative counts: a low-discrepancy sequence, so a few hundred
    /// draws match the proportions closely, and the same i always gives the same class.
    /// A category without counts falls back to the styles in turn.
    pub fn proportional_class(&self, i: u32, counts: &[Vec<u32>]) -> u32 {
        let c = self.categories() as u32;
        let (category, j) = (i % c, i / c);
        let row = counts.get(category as usize).filter(|r| r.len() == self.style_count());
        let total: u64 = row.map_or(0, |r| r.iter().map(|&n| n as u64).sum());
        let Some(row) = row.filter(|_| total > 0) else { return self.balanced_class(i) };
        let u = (j as f64 * 0.618_033_988_749_894_9).fract() * total as f64;
        let mut seen = 0.0;
        for (style, &n) in row.iter().enumerate() {
            seen += n as f64;
            if u < seen {
                return self.class_of(category, style as u32);
            }
        }
        self.class_of(category, row.iter().rposition(|&n| n > 0).unwrap_or(0) as u32)
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
            frames: 1,
            context_frames: 0,
            codebook: 32,
            classes: 3,
            class_names: vec!["a".into(), "b".into(), "c".into()],
            styles: vec![],
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
        if self.frames == 0 || self.frames > MAX_FRAMES {
            return bad(format!("frames {} must be in 1..={MAX_FRAMES}", self.frames));
        }
        if self.context_frames >= self.frames {
            return bad(format!("context_frames {} must be below frames {}: something must be generated", self.context_frames, self.frames));
        }
        match self.grid[0].checked_mul(self.grid[1]).and_then(|n| n.checked_mul(self.frames)) {
            Some(n) if n <= MAX_TOKENS => {}
            _ => return bad(format!("grid {:?} × {} frames has more than {MAX_TOKENS} tokens", self.grid, self.frames)),
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
        if !self.styles.is_empty() && self.classes % self.styles.len() != 0 {
            return bad(format!("classes {} is not a multiple of the {} styles", self.classes, self.styles.len()));
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

    /// Every tensor of the model, its DESIGN §2 name and kind, in module order (the burn
    /// model's field order, which its parameter numbering and so its optimizer state follow).
    pub fn tensor_kinds(&self) -> Vec<(String, TensorKind)> {
        use TensorKind::*;
        let mut out = vec![
            ("tokens.embedding".to_string(), TokenEmbedding),
            ("classes.embedding".to_string(), ClassEmbedding),
            ("positions.embedding".to_string(), PositionEmbedding),
        ];
        for l in 0..self.depth {
            let block = [
                ("norm1.gamma", Vector),
                ("norm1.beta", Vector),
                ("attn.wq", Projection),
                ("attn.wk", Projection),
                ("attn.wv", Projection),
                ("attn.wo", Projection),
                ("attn.bq", Vector),
                ("attn.bk", Vector),
                ("attn.bv", Vector),
                ("attn.bo", Vector),
                ("norm2.gamma", Vector),
                ("norm2.beta", Vector),
                ("mlp.w1", MlpIn),
                ("mlp.b1", MlpBias),
                ("mlp.w2", MlpOut),
                ("mlp.b2", Vector),
            ];
            out.extend(block.map(|(name, kind)| (format!("blocks.{l}.{name}"), kind)));
        }
        out.push(("final_norm.gamma".to_string(), Vector));
        out.push(("final_norm.beta".to_string(), Vector));
        out.push(("head.w".to_string(), Head));
        out.push(("head.b".to_string(), HeadBias));
        out
    }

    /// The nesting rule, stated once: the shape of the leading slice (`[:extent]` along each
    /// axis) of a `kind` tensor that the sub-model at width index `width` uses. With
    /// d = `widths[width]`, every model-width axis is cut to d and every MLP-hidden axis to
    /// `mlp_dim(d)`; vocabulary, classes, positions and codes are never cut. At the full width
    /// it is the stored shape. Shape listing and validation, the burn model, the GPU engine and
    /// the LibTorch trainer all slice the weights through here.
    pub fn nested_shape(&self, kind: TensorKind, width: usize) -> Vec<usize> {
        let d = self.widths[width];
        let (hidden, k) = (self.mlp_dim(d), self.codebook);
        match kind {
            TensorKind::TokenEmbedding => vec![k + 1, d],
            TensorKind::ClassEmbedding => vec![self.classes + 1, d],
            TensorKind::PositionEmbedding => vec![self.seq_len(), d],
            TensorKind::Vector => vec![d],
            TensorKind::Projection => vec![d, d],
            TensorKind::MlpIn => vec![d, hidden],
            TensorKind::MlpBias => vec![hidden],
            TensorKind::MlpOut => vec![hidden, d],
            TensorKind::Head => vec![d, k],
            TensorKind::HeadBias => vec![k],
        }
    }

    /// Every tensor the model needs, with its full shape, in module order.
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        self.prefix_shapes(self.full_width_index())
    }

    /// Per tensor name, the leading extents that width index `width` uses ([`Self::nested_shape`]).
    pub fn prefix_shapes(&self, width: usize) -> Vec<(String, Vec<usize>)> {
        self.tensor_kinds().into_iter().map(|(name, kind)| (name, self.nested_shape(kind, width))).collect()
    }

    /// The standalone model of dimension `widths[width]`: its tensors have exactly the shapes
    /// [`Self::nested_shape`] gives at `width` (so a nested sub-model can be compared with it).
    pub fn submodel(&self, width: usize) -> ModelConfig {
        let mut sub = self.clone();
        sub.dim = self.widths[width];
        sub.widths = self.widths[..=width].to_vec();
        sub.width_names = self.width_names[..=width].to_vec();
        sub
    }

    pub fn parameter_count(&self) -> usize {
        self.tensor_shapes().iter().map(|(_, s)| s.iter().product::<usize>()).sum()
    }
}
