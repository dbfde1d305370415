//! The token dataset the transformer trains on (`magnets tokenize`): every dataset image as
//! its 8×8 grid of codes. One small safetensors file (committed, so training works on a clean
//! clone): `codes [N, 64] u16` (token i = y·8 + x), `labels [N] u8` (category ids, see
//! `data::CATEGORIES`), `split [N] u8` (0 train, 1 held-out), `vendor [N] u8`; metadata
//! `magnets.tokens` = `{categories, vendors, names, codebook, grid}`.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const DEFAULT_TOKENS: &str = "models/emoji_tokens.safetensors";
/// Metadata key of a token file's [`TokenMeta`].
pub const TOKENS_METADATA_KEY: &str = "magnets.tokens";
/// Largest token dataset read (the shipped one is about 0.5 MB).
pub const MAX_TOKEN_FILE_BYTES: u64 = 1 << 30;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenMeta {
    pub categories: Vec<String>,
    pub vendors: Vec<String>,
    pub names: Vec<String>,
    pub codebook: usize,
    pub grid: [usize; 2],
    /// Frames per item: 1 for images; a clip file holds `frames` grids per row, frame-major.
    #[serde(default = "one_frame", skip_serializing_if = "is_one_frame")]
    pub frames: usize,
}

fn one_frame() -> usize {
    1
}
fn is_one_frame(v: &usize) -> bool {
    *v == 1
}

#[derive(Debug, Clone, PartialEq)]
pub struct TokenDataset {
    /// `[N, grid_h·grid_w]`, row-major.
    pub codes: Vec<u16>,
    pub labels: Vec<u8>,
    pub split: Vec<u8>,
    pub vendor: Vec<u8>,
    pub meta: TokenMeta,
}

impl TokenDataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    pub fn tokens_per_image(&self) -> usize {
        self.meta.grid[0].saturating_mul(self.meta.grid[1]).saturating_mul(self.meta.frames)
    }
    /// Codes of image `i`.
    pub fn image_codes(&self, i: usize) -> &[u16] {
        let n = self.tokens_per_image();
        &self.codes[i * n..(i + 1) * n]
    }
    /// Indices with `split == 0` (train) or `1` (held-out).
    pub fn indices(&self, held_out: bool) -> Vec<usize> {
        (0..self.len()).filter(|&i| self.split[i] == held_out as u8).collect()
    }

    #[cfg(feature = "cli")]
    pub fn from_dataset(ds: &crate::data::EmojiDataset, codes: &[u32], config: &super::TokenizerConfig) -> Result<Self> {
        let n = config.tokens();
        if codes.len() != ds.len() * n {
            return Err(Error::Data(format!("{} codes for {} images × {n}", codes.len(), ds.len())));
        }
        let t = TokenDataset {
            codes: codes.iter().map(|&c| c as u16).collect(),
            labels: ds.labels.clone(),
            split: ds.split.clone(),
            vendor: ds.vendor.clone(),
            meta: TokenMeta {
                categories: crate::data::CATEGORIES.iter().map(|s| s.to_string()).collect(),
                vendors: ds.vendors.clone(),
                names: ds.names.clone(),
                codebook: config.codebook,
                grid: config.grid,
                frames: 1,
            },
        };
        t.validate()?;
        Ok(t)
    }

    /// A clip token file: each clip's frames tokenized one by one, frame-major
    /// (`codes [clips, frames·h·w]`); `codes` holds every frame of every clip in order.
    #[cfg(feature = "cli")]
    pub fn from_clips(ds: &crate::data::anim::AnimDataset, codes: &[u32], config: &super::TokenizerConfig) -> Result<Self> {
        let n = config.tokens() * crate::data::anim::FRAMES;
        if codes.len() != ds.len() * n {
            return Err(Error::Data(format!("{} codes for {} clips × {n}", codes.len(), ds.len())));
        }
        let t = TokenDataset {
            codes: codes.iter().map(|&c| c as u16).collect(),
            labels: ds.labels.clone(),
            split: ds.split.clone(),
            vendor: vec![0; ds.len()],
            meta: TokenMeta {
                categories: crate::data::CATEGORIES.iter().map(|s| s.to_string()).collect(),
                vendors: vec!["fluent-animated".into()],
                names: ds.names.clone(),
                codebook: config.codebook,
                grid: config.grid,
                frames: crate::data::anim::FRAMES,
            },
        };
        t.validate()?;
        Ok(t)
    }

    pub fn validate(&self) -> Result<()> {
        let n = self.len();
        let per = self.tokens_per_image();
        if per == 0 || n.checked_mul(per) != Some(self.codes.len()) || self.split.len() != n || self.vendor.len() != n || self.meta.names.len() != n
        {
            return Err(Error::Data(format!("token dataset arrays disagree on the image count ({n} labels)")));
        }
        if let Some(c) = self.codes.iter().find(|&&c| c as usize >= self.meta.codebook) {
            return Err(Error::Data(format!("token {c} is outside the codebook ({})", self.meta.codebook)));
        }
        if let Some(l) = self.labels.iter().find(|&&l| l as usize >= self.meta.categories.len()) {
            return Err(Error::Data(format!("label {l} is not a category id")));
        }
        Ok(())
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let n = self.len();
        let codes: Vec<u8> = self.codes.iter().flat_map(|c| c.to_le_bytes()).collect();
        let views = vec![
            ("codes", Dtype::U16, vec![n, self.tokens_per_image()], &codes),
            ("labels", Dtype::U8, vec![n], &self.labels),
            ("split", Dtype::U8, vec![n], &self.split),
            ("vendor", Dtype::U8, vec![n], &self.vendor),
        ]
        .into_iter()
        .map(|(k, dt, s, d)| Ok((k.to_string(), TensorView::new(dt, s, d).map_err(|e| Error::Data(e.to_string()))?)))
        .collect::<Result<Vec<_>>>()?;
        let mut md = HashMap::new();
        md.insert(TOKENS_METADATA_KEY.to_string(), serde_json::to_string(&self.meta).expect("serialisable"));
        safetensors::serialize(views, Some(md)).map_err(|e| Error::Data(format!("serialise tokens: {e}")))
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (md, st) = crate::weights::parse_safetensors(bytes).map_err(|e| Error::Data(format!("not a token file: {e}")))?;
        let meta: TokenMeta = md
            .get(TOKENS_METADATA_KEY)
            .ok_or_else(|| Error::Data(format!("no `{TOKENS_METADATA_KEY}` metadata")))
            .and_then(|s| serde_json::from_str(s).map_err(|e| Error::Data(format!("bad `{TOKENS_METADATA_KEY}` metadata: {e}"))))?;
        let get = |k: &str, dt: Dtype| -> Result<Vec<u8>> {
            let t = st.tensor(k).map_err(|_| Error::Data(format!("missing array `{k}`")))?;
            if t.dtype() != dt {
                return Err(Error::Data(format!("array `{k}` is {:?}, expected {dt:?}", t.dtype())));
            }
            Ok(t.data().to_vec())
        };
        let codes = get("codes", Dtype::U16)?.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        let t = TokenDataset { codes, labels: get("labels", Dtype::U8)?, split: get("split", Dtype::U8)?, vendor: get("vendor", Dtype::U8)?, meta };
        t.validate()?;
        Ok(t)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::files::read_capped(path, MAX_TOKEN_FILE_BYTES).map_err(|e| Error::Data(e.detail()))?;
        Self::from_bytes(&bytes).map_err(|e| Error::Data(format!("{}: {}", path.display(), e.detail())))
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        crate::files::write(path, bytes)
    }
}
