//! Tokenizer weights file (TEAM_NOTES "Tokenizer decoder contract"): safetensors, f16 when
//! shipped, config JSON under metadata key `magnets.tokenizer`. Plain Rust (no burn): the
//! WebGPU bundle loads it.
//!
//! Tensor names (conv weights `[out, in, 3, 3]`, biases `[out]`):
//! - `quantizer.codebook [K, e]`
//! - decoder: `decoder.{conv_in, res.conv1, res.conv2, up1, up2, conv_out}.{weight, bias}`
//!   with channels e→H, H→H, H→H, H→H/2, H/2→H/4, H/4→3 (H = `hidden` = 128: 128, 64, 32).
//! - optional encoder (only `magnets tokenize` needs it; all-or-nothing):
//!   `encoder.{conv_in, down1, down2, res.conv1, res.conv2, conv_out}.{weight, bias}`, channels
//!   3→H/4 (3×3), H/4→H/2 (4×4 stride 2), H/2→H (4×4 stride 2), H→H, H→H (3×3), H→e (1×1).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::weights::{HostTensor, StoredDtype, parse_safetensors, read_tensors, serialize_tensors};

pub const TOKENIZER_METADATA_KEY: &str = "magnets.tokenizer";

/// Limits on the config, checked before any size is computed from it: a 64×64 grid is 4096
/// tokens (the model's limit too) and a 256×256 image.
pub const MAX_GRID_SIDE: usize = 64;
pub const MAX_CHANNELS: usize = 1024;
/// Largest tokenizer file read (the largest config's tensors as f32 are well below this).
pub const MAX_TOKENIZER_FILE_BYTES: u64 = 1 << 30;
/// Refuse weights whose decoder could leave f32 range: if no activation can exceed this for
/// any codes (see `activation_bound`), no sum in the decoder overflows, on any engine.
pub const MAX_ACTIVATION_BOUND: f64 = 1e30;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenizerConfig {
    pub image_size: usize,
    pub grid: [usize; 2],
    pub codebook: usize,
    pub code_dim: usize,
    pub hidden: usize,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        TokenizerConfig { image_size: 32, grid: [8, 8], codebook: 512, code_dim: 32, hidden: 128 }
    }
}

impl TokenizerConfig {
    /// Saturating, so an unvalidated huge grid never wraps to a small count.
    pub fn tokens(&self) -> usize {
        self.grid[0].saturating_mul(self.grid[1])
    }

    /// The decoder is two 2× upsamplings, so the image is 4× the grid; channels halve twice.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Weights(format!("tokenizer config: {m}")));
        if self.grid[0] == 0 || self.grid[1] == 0 || self.grid[0] != self.grid[1] {
            return bad(format!("grid {:?} must be square and non-empty", self.grid));
        }
        if self.grid[0] > MAX_GRID_SIDE {
            return bad(format!("grid {:?}: at most {MAX_GRID_SIDE}×{MAX_GRID_SIDE} is supported", self.grid));
        }
        if self.code_dim > MAX_CHANNELS || self.hidden > MAX_CHANNELS {
            return bad(format!("code_dim {} / hidden {}: at most {MAX_CHANNELS} channels", self.code_dim, self.hidden));
        }
        if self.image_size != 4 * self.grid[0] {
            return bad(format!("image_size {} must be 4 × grid {}", self.image_size, self.grid[0]));
        }
        if self.codebook < 2 || self.codebook > 65536 {
            return bad(format!("codebook {} must be in 2..=65536 (codes are stored as u16)", self.codebook));
        }
        if self.code_dim == 0 || self.hidden < 4 || self.hidden % 4 != 0 {
            return bad(format!("code_dim {} / hidden {} (hidden must be a multiple of 4)", self.code_dim, self.hidden));
        }
        Ok(())
    }

    /// Decoder conv layers: (name, in, out), in execution order.
    pub fn decoder_convs(&self) -> Vec<(&'static str, usize, usize)> {
        let (e, h) = (self.code_dim, self.hidden);
        vec![
            ("decoder.conv_in", e, h),
            ("decoder.res.conv1", h, h),
            ("decoder.res.conv2", h, h),
            ("decoder.up1", h, h / 2),
            ("decoder.up2", h / 2, h / 4),
            ("decoder.conv_out", h / 4, 3),
        ]
    }

    /// Encoder conv layers: (name, in, out, kernel).
    pub fn encoder_convs(&self) -> Vec<(&'static str, usize, usize, usize)> {
        let (e, h) = (self.code_dim, self.hidden);
        vec![
            ("encoder.conv_in", 3, h / 4, 3),
            ("encoder.down1", h / 4, h / 2, 4),
            ("encoder.down2", h / 2, h, 4),
            ("encoder.res.conv1", h, h, 3),
            ("encoder.res.conv2", h, h, 3),
            ("encoder.conv_out", h, e, 1),
        ]
    }

    fn shapes(&self, with_encoder: bool) -> Vec<(String, Vec<usize>)> {
        let mut v = vec![("quantizer.codebook".to_string(), vec![self.codebook, self.code_dim])];
        for (n, i, o) in self.decoder_convs() {
            v.push((format!("{n}.weight"), vec![o, i, 3, 3]));
            v.push((format!("{n}.bias"), vec![o]));
        }
        if with_encoder {
            for (n, i, o, k) in self.encoder_convs() {
                v.push((format!("{n}.weight"), vec![o, i, k, k]));
                v.push((format!("{n}.bias"), vec![o]));
            }
        }
        v
    }
}

/// A validated tokenizer: config + tensors as f32.
#[derive(Debug, Clone)]
pub struct TokenizerWeights {
    pub config: TokenizerConfig,
    pub tensors: HashMap<String, HostTensor>,
}

impl TokenizerWeights {
    /// A tensor known to exist after validation (decoder and codebook names always exist).
    pub fn get(&self, name: &str) -> &HostTensor {
        self.tensors.get(name).unwrap_or_else(|| panic!("validated tokenizer lacks {name}"))
    }

    /// Refuses a tokenizer that does not speak the model's token language (grid and codebook).
    pub fn check_matches(&self, model: &crate::config::ModelConfig) -> Result<()> {
        if self.config.grid != model.grid || self.config.codebook != model.codebook {
            return Err(Error::Weights(format!(
                "the tokenizer (grid {:?}, {} codes) does not match the model (grid {:?}, {} codes)",
                self.config.grid, self.config.codebook, model.grid, model.codebook
            )));
        }
        Ok(())
    }

    pub fn has_encoder(&self) -> bool {
        self.tensors.contains_key("encoder.conv_in.weight")
    }

    /// The same tokenizer without its encoder: all that decoding (the page, `generate`) needs.
    pub fn decoder_only(&self) -> TokenizerWeights {
        let tensors = self.tensors.iter().filter(|(name, _)| !name.starts_with("encoder.")).map(|(n, t)| (n.clone(), t.clone())).collect();
        TokenizerWeights { config: self.config.clone(), tensors }
    }

    /// Exactly the decoder (+ optionally the whole encoder) with the config's shapes, finite.
    pub fn validate(&self) -> Result<()> {
        self.config.validate()?;
        let expected = self.config.shapes(self.tensors.keys().any(|k| k.starts_with("encoder.")));
        for (name, shape) in &expected {
            let t = self
                .tensors
                .get(name)
                .ok_or_else(|| Error::Weights(format!("tokenizer: missing tensor `{name}` (expected shape {shape:?})")))?;
            if &t.shape != shape {
                return Err(Error::Weights(format!(
                    "tokenizer: tensor `{name}` has shape {:?} but the config implies {shape:?}",
                    t.shape
                )));
            }
            if t.data.iter().any(|v| !v.is_finite()) {
                return Err(Error::Weights(format!("tokenizer: tensor `{name}` holds NaN or infinite values")));
            }
        }
        if self.tensors.len() != expected.len() {
            let mut unknown: Vec<_> = self.tensors.keys().filter(|k| !expected.iter().any(|(n, _)| n == *k)).collect();
            unknown.sort();
            return Err(Error::Weights(format!("tokenizer: unknown tensor `{}`", unknown[0])));
        }
        let bound = self.activation_bound();
        if !(bound <= MAX_ACTIVATION_BOUND) {
            return Err(Error::Weights(format!(
                "tokenizer: weights too large: decoder activations could reach {bound:.3e} (the limit is \
                 {MAX_ACTIVATION_BOUND:.0e}, far above any trained decoder), so images would overflow to NaN or black"
            )));
        }
        Ok(())
    }

    /// An upper bound on |value| anywhere in the decoder before the final sigmoid, for any codes:
    /// each conv maps inputs bounded by `x` to outputs bounded by max over output channels of
    /// (Σ|weight|)·x + |bias| (zero padding only drops terms), SiLU and upsampling never grow a
    /// magnitude, and the residual adds its branch's bound. Computed in f64 (inf if it overflows).
    pub fn activation_bound(&self) -> f64 {
        let conv = |name: &str, x: f64| -> f64 {
            let (w, b) = (&self.get(&format!("{name}.weight")), &self.get(&format!("{name}.bias")).data);
            let per_out = w.data.len() / b.len().max(1);
            w.data
                .chunks(per_out.max(1))
                .zip(b)
                .map(|(row, &bias)| row.iter().map(|v| v.abs() as f64).sum::<f64>() * x + bias.abs() as f64)
                .fold(0.0, f64::max)
        };
        let codes = self.get("quantizer.codebook").data.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
        let h = conv("decoder.conv_in", codes);
        let h = h + conv("decoder.res.conv2", conv("decoder.res.conv1", h));
        conv("decoder.conv_out", conv("decoder.up2", conv("decoder.up1", h)))
    }

    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let (meta, st) = parse_safetensors(bytes).map_err(|m| Error::Weights(format!("tokenizer: {m}")))?;
        let json = meta
            .get(TOKENIZER_METADATA_KEY)
            .ok_or_else(|| Error::Weights(format!("tokenizer: metadata has no `{TOKENIZER_METADATA_KEY}` config")))?;
        let config: TokenizerConfig = serde_json::from_str(json)
            .map_err(|e| Error::Weights(format!("tokenizer: bad `{TOKENIZER_METADATA_KEY}` config: {e}")))?;
        // Sizes come from the config: check it before comparing any tensor against it.
        config.validate()?;
        let tensors = read_tensors(&st).map_err(|e| Error::Weights(format!("tokenizer: {}", e.detail())))?;
        let w = TokenizerWeights { config, tensors };
        w.validate()?;
        Ok(w)
    }

    /// Reads (a regular file, at most [`MAX_TOKENIZER_FILE_BYTES`]) and validates; every error
    /// names the file.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let bytes = crate::files::read_capped(path, MAX_TOKENIZER_FILE_BYTES).map_err(|e| Error::Weights(e.detail()))?;
        Self::from_safetensors(&bytes).map_err(|e| Error::Weights(format!("{}: {}", path.display(), e.detail())))
    }

    pub fn to_safetensors(&self, dtype: StoredDtype) -> Result<Vec<u8>> {
        self.validate()?;
        let meta = HashMap::from([(TOKENIZER_METADATA_KEY.to_string(), serde_json::to_string(&self.config).expect("serialisable"))]);
        serialize_tensors(&self.tensors, dtype, meta).map_err(|m| Error::Weights(format!("tokenizer: {m}")))
    }

    pub fn save(&self, path: &std::path::Path, dtype: StoredDtype) -> Result<()> {
        let bytes = self.to_safetensors(dtype)?;
        crate::files::write(path, bytes)
    }
}
