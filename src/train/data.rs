//! Token datasets for transformer training: `[images, N]` VQ codes plus one class label each.
//!
//! The real dataset comes from `magnets tokenize` (see [`TokenDataset::load`]); tests and
//! early development use [`TokenDataset::synthetic`], a class-conditional toy distribution that
//! a small model can learn quickly.

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::rng;

#[derive(Debug, Clone)]
pub struct TokenDataset {
    /// Tokens per image (N).
    pub tokens: usize,
    /// `[len, N]` codes, row-major.
    pub codes: Vec<u32>,
    /// One class id per image.
    pub labels: Vec<u32>,
}

impl TokenDataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    pub fn image(&self, i: usize) -> &[u32] {
        &self.codes[i * self.tokens..(i + 1) * self.tokens]
    }

    pub fn new(tokens: usize, codes: Vec<u32>, labels: Vec<u32>) -> Result<Self> {
        if tokens == 0 || codes.len() != tokens * labels.len() {
            return Err(Error::Data(format!(
                "token dataset: {} codes do not make {} images of {tokens} tokens",
                codes.len(),
                labels.len()
            )));
        }
        Ok(TokenDataset { tokens, codes, labels })
    }

    /// Checks the dataset against a model config: N, code range, class range.
    pub fn check(&self, config: &ModelConfig) -> Result<()> {
        if self.tokens != config.tokens() {
            return Err(Error::Data(format!(
                "token dataset has {} tokens per image but the model's grid {:?} has {}",
                self.tokens,
                config.grid,
                config.tokens()
            )));
        }
        if let Some(&c) = self.codes.iter().find(|&&c| c as usize >= config.codebook) {
            return Err(Error::Data(format!("token dataset holds code {c} but the codebook has {}", config.codebook)));
        }
        if let Some(&l) = self.labels.iter().find(|&&l| l as usize >= config.classes) {
            return Err(Error::Data(format!("token dataset holds label {l} but the model has {} classes", config.classes)));
        }
        if self.is_empty() {
            return Err(Error::Data("token dataset is empty".into()));
        }
        Ok(())
    }

    /// A learnable class-conditional toy distribution: each class has a prototype grid; every
    /// image copies it with ~15% of the tokens replaced by a neighbour's code or noise.
    pub fn synthetic(config: &ModelConfig, images: usize, seed: u32) -> Self {
        let n = config.tokens();
        let k = config.codebook as u32;
        let mut codes = Vec::with_capacity(images * n);
        let mut labels = Vec::with_capacity(images);
        for i in 0..images {
            let c = (i % config.classes) as u32;
            labels.push(c);
            let variant = rng::hash(seed, i as u32, 7, 0, 0) % 4;
            for p in 0..n as u32 {
                let proto = (c * 37 + (p / config.grid[1] as u32) * 5 * (variant + 1) + (p % config.grid[1] as u32) * 3) % k;
                let u = rng::uniform(seed, i as u32, 7, p, 1);
                let code = if u < 0.1 { rng::hash(seed, i as u32, 7, p, 2) % k } else { proto };
                codes.push(code);
            }
        }
        TokenDataset { tokens: n, codes, labels }
    }

    /// Loads the token file written by `magnets tokenize` (`models/emoji_tokens.safetensors`):
    /// `codes [images, N]` and `labels [images]` (any integer dtype), and when present a
    /// `split [images]` (0 train, 1 held-out) of which only the train images are kept.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        Self::load_split(path, 0)
    }

    /// Like [`TokenDataset::load`], keeping the images of split `which` (0 train, 1 held-out);
    /// a file without a `split` tensor is all train.
    pub fn load_split(path: &std::path::Path, which: u32) -> Result<Self> {
        Self::load_styled(path, which, &[])
    }

    /// Like [`TokenDataset::load_split`], for a model split by art style (`styles` non-empty):
    /// each label becomes the class `category·S + style` (see `ModelConfig::class_of`), the style
    /// found by name from the file's `vendor` tensor and its vendor names.
    pub fn load_styled(path: &std::path::Path, which: u32, styles: &[String]) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::Data(format!("cannot read {}: {e}", path.display())))?;
        let (meta, st) = crate::weights::parse_safetensors(&bytes).map_err(|e| Error::Data(format!("{}: {e}", path.display())))?;
        let read_ints = |name: &str| -> Result<(Vec<usize>, Vec<u32>)> {
            let v = st
                .tensor(name)
                .map_err(|_| Error::Data(format!("{}: no `{name}` tensor", path.display())))?;
            let b = v.data();
            use safetensors::Dtype;
            let data: Vec<u32> = match v.dtype() {
                Dtype::U8 => b.iter().map(|&x| x as u32).collect(),
                Dtype::U16 => b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]) as u32).collect(),
                Dtype::I16 => b.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]]) as u32).collect(),
                Dtype::U32 => b.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
                Dtype::I32 => b.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as u32).collect(),
                Dtype::I64 => b
                    .chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as u32)
                    .collect(),
                other => return Err(Error::Data(format!("{}: `{name}` has dtype {other:?}, expected integers", path.display()))),
            };
            Ok((v.shape().to_vec(), data))
        };
        let (cshape, codes) = read_ints("codes")?;
        let (_, mut labels) = read_ints("labels")?;
        if !styles.is_empty() {
            let vendors = vendor_names(&meta).map_err(|e| Error::Data(format!("{}: {e}", path.display())))?;
            let (_, vendor) = read_ints("vendor")
                .map_err(|_| Error::Data(format!("{}: no `vendor` tensor, which a model split by style trains on", path.display())))?;
            if vendor.len() != labels.len() {
                return Err(Error::Data(format!("{}: `vendor` has {} entries for {} labels", path.display(), vendor.len(), labels.len())));
            }
            // The file's vendor index → the model's style index, by name.
            let style_of: Vec<Option<u32>> = vendors.iter().map(|v| styles.iter().position(|s| s == v).map(|p| p as u32)).collect();
            for (l, &v) in labels.iter_mut().zip(&vendor) {
                let style = style_of.get(v as usize).copied().flatten().ok_or_else(|| {
                    Error::Data(format!(
                        "{}: vendor {:?} is not one of the model's styles {styles:?}",
                        path.display(),
                        vendors.get(v as usize).map_or("(index out of range)", |s| s.as_str())
                    ))
                })?;
                *l = crate::config::class_id(*l, style, styles.len());
            }
        }
        if cshape.len() != 2 {
            return Err(Error::Data(format!("{}: `codes` has shape {cshape:?}, expected [images, N]", path.display())));
        }
        let all = Self::new(cshape[1], codes, labels)?;
        if st.names().iter().any(|n| *n == "split") {
            let (_, split) = read_ints("split")?;
            if split.len() != all.len() {
                return Err(Error::Data(format!("{}: `split` has {} entries for {} images", path.display(), split.len(), all.len())));
            }
            let keep: Vec<usize> = (0..all.len()).filter(|&i| split[i] == which).collect();
            return Ok(all.subset(&keep));
        }
        Ok(if which == 0 { all } else { all.subset(&[]) })
    }

    /// The images at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Self {
        TokenDataset {
            tokens: self.tokens,
            codes: idx.iter().flat_map(|&i| self.image(i).iter().copied()).collect(),
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
        }
    }

    /// Appends another dataset (e.g. the tokens of horizontally flipped images).
    pub fn extend(&mut self, other: &TokenDataset) -> Result<()> {
        if other.tokens != self.tokens {
            return Err(Error::Data("cannot join token datasets of different grids".into()));
        }
        self.codes.extend_from_slice(&other.codes);
        self.labels.extend_from_slice(&other.labels);
        Ok(())
    }
}

/// The vendor names of a token file (its [`TokenMeta`](crate::tokenizer::tokens::TokenMeta)).
fn vendor_names(meta: &std::collections::HashMap<String, String>) -> std::result::Result<Vec<String>, String> {
    use crate::tokenizer::tokens::{TOKENS_METADATA_KEY, TokenMeta};
    let text = meta.get(TOKENS_METADATA_KEY).ok_or(format!("no `{TOKENS_METADATA_KEY}` metadata naming the vendors"))?;
    serde_json::from_str::<TokenMeta>(text).map(|m| m.vendors).map_err(|e| format!("`{TOKENS_METADATA_KEY}` metadata: {e}"))
}
