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

use std::collections::{BTreeMap, HashMap};

use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::weights::{HostTensor, StoredDtype};

pub const TOKENIZER_METADATA_KEY: &str = "magnets.tokenizer";

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
    pub fn tokens(&self) -> usize {
        self.grid[0] * self.grid[1]
    }

    /// The decoder is two 2× upsamplings, so the image is 4× the grid; channels halve twice.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Weights(format!("tokenizer config: {m}")));
        if self.grid[0] == 0 || self.grid[1] == 0 || self.grid[0] != self.grid[1] {
            return bad(format!("grid {:?} must be square and non-empty", self.grid));
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
        Ok(())
    }

    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let (_, meta) = SafeTensors::read_metadata(bytes)
            .map_err(|e| Error::Weights(format!("tokenizer: not a readable safetensors file (truncated or corrupt?): {e}")))?;
        let json = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(TOKENIZER_METADATA_KEY))
            .ok_or_else(|| Error::Weights(format!("tokenizer: metadata has no `{TOKENIZER_METADATA_KEY}` config")))?;
        let config: TokenizerConfig = serde_json::from_str(json)
            .map_err(|e| Error::Weights(format!("tokenizer: bad `{TOKENIZER_METADATA_KEY}` config: {e}")))?;
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::Weights(format!("tokenizer: corrupt or truncated safetensors file: {e}")))?;
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            let data: Vec<f32> = match view.dtype() {
                Dtype::F32 => view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
                Dtype::F16 => view.data().chunks_exact(2).map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32()).collect(),
                other => {
                    return Err(Error::Weights(format!(
                        "tokenizer: tensor `{name}` has unsupported dtype {other:?} (expected F32 or F16)"
                    )));
                }
            };
            tensors.insert(name.clone(), HostTensor { shape: view.shape().to_vec(), data });
        }
        let w = TokenizerWeights { config, tensors };
        w.validate()?;
        Ok(w)
    }

    pub fn load(path: &std::path::Path) -> Result<Self> {
        let bytes =
            std::fs::read(path).map_err(|e| Error::Weights(format!("cannot read {}: {e}", path.display())))?;
        Self::from_safetensors(&bytes).map_err(|e| match e {
            Error::Weights(m) => Error::Weights(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    pub fn to_safetensors(&self, dtype: StoredDtype) -> Result<Vec<u8>> {
        self.validate()?;
        let buffers: BTreeMap<&String, (Vec<usize>, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(n, t)| {
                let bytes = match dtype {
                    StoredDtype::F32 => bytemuck::cast_slice(&t.data).to_vec(),
                    StoredDtype::F16 => {
                        let h: Vec<half::f16> = t.data.iter().map(|&v| half::f16::from_f32(v)).collect();
                        bytemuck::cast_slice(&h).to_vec()
                    }
                };
                (n, (t.shape.clone(), bytes))
            })
            .collect();
        let st = if dtype == StoredDtype::F32 { Dtype::F32 } else { Dtype::F16 };
        let views = buffers
            .iter()
            .map(|(n, (s, b))| {
                TensorView::new(st, s.clone(), b)
                    .map(|v| ((*n).clone(), v))
                    .map_err(|e| Error::Weights(format!("tokenizer: tensor `{n}`: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut meta = HashMap::new();
        meta.insert(TOKENIZER_METADATA_KEY.to_string(), serde_json::to_string(&self.config).expect("serialisable"));
        safetensors::serialize(views, Some(meta)).map_err(|e| Error::Weights(format!("serialise tokenizer: {e}")))
    }

    pub fn save(&self, path: &std::path::Path, dtype: StoredDtype) -> Result<()> {
        let bytes = self.to_safetensors(dtype)?;
        std::fs::write(path, bytes).map_err(|e| Error::Weights(format!("cannot write {}: {e}", path.display())))
    }
}
