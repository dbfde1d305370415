//! Loading, validating and saving model weights (safetensors: f32, f16, or int8 matrices with
//! per-column scales, [`int8`]; DESIGN §2).
//!
//! Everything is refused with an error naming the problem: a truncated file, an unknown dtype,
//! a missing or unexpected tensor, a wrong shape, or a config that contradicts the tensors.

use std::collections::{BTreeMap, HashMap};

use safetensors::{Dtype, SafeTensorError, SafeTensors, tensor::TensorView};

use crate::config::{CONFIG_METADATA_KEY, MAX_PARAMETERS, ModelConfig};
use crate::error::{Error, Result};

pub mod int8;

/// Largest weights file read: every parameter as f32, plus the largest header safetensors
/// accepts (100 MB).
pub const MAX_WEIGHTS_FILE_BYTES: u64 = 4 * MAX_PARAMETERS as u64 + 100_000_000 + 8;

/// Parses a safetensors buffer, telling a truncated file from trailing bytes and from a corrupt
/// header (the crate reports the first two alike as "incomplete metadata").
pub fn parse_safetensors(bytes: &[u8]) -> std::result::Result<(HashMap<String, String>, SafeTensors<'_>), String> {
    let describe = |e: SafeTensorError| match e {
        SafeTensorError::MetadataIncompleteBuffer => {
            // read_metadata checked the header itself, so it can be read again here.
            let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
            let header: Option<safetensors::tensor::Metadata> = serde_json::from_slice(&bytes[8..8 + n]).ok();
            let have = bytes.len() - 8 - n;
            match header.map(|h| h.data_len()) {
                Some(want) if have < want => {
                    format!("truncated: the header describes {want} bytes of tensor data but the file holds only {have}")
                }
                Some(want) => format!("{} unexpected bytes after the {want} bytes of tensor data", have - want),
                None => "the header does not match the file size".to_string(),
            }
        }
        other => format!("not a readable safetensors file: {other}"),
    };
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(describe)?;
    let st = SafeTensors::deserialize(bytes).map_err(describe)?;
    Ok((meta.metadata().clone().unwrap_or_default(), st))
}

/// Refuse weights whose activations could leave f32 range: if no residual, query/key/value,
/// attention score, MLP hidden value or logit can exceed this for any input (see
/// [`Weights::activation_bound`]), then no sum overflows and LayerNorm's squares stay finite
/// (D·(2·1e15)² ≪ f32::MAX), on every engine. Trained models are many orders of magnitude below.
pub const MAX_ACTIVATION_BOUND: f64 = 1e15;

/// A dense row-major f32 tensor on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        assert_eq!(shape.iter().product::<usize>(), data.len(), "shape/data mismatch");
        HostTensor { shape, data }
    }
    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = shape.iter().product();
        HostTensor { shape, data: vec![0.0; n] }
    }
    /// The leading block `[..extents[0], ..extents[1]]` of a vector or matrix (the nesting
    /// rule's slice, [`crate::config::ModelConfig::nested_shape`]).
    pub fn leading(&self, extents: &[usize]) -> HostTensor {
        match (self.shape.as_slice(), extents) {
            ([n], &[e]) if e <= *n => HostTensor::new(vec![e], self.data[..e].to_vec()),
            ([r, c], &[er, ec]) if er <= *r && ec <= *c => {
                let mut out = Vec::with_capacity(er * ec);
                for row in self.data.chunks(*c).take(er) {
                    out.extend_from_slice(&row[..ec]);
                }
                HostTensor::new(vec![er, ec], out)
            }
            (s, e) => panic!("leading {e:?} of a tensor of shape {s:?}"),
        }
    }
}

/// Storage precision of a weights file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredDtype {
    F32,
    F16,
    /// Matrices as int8 codes with an f32 scale per column, vectors as f16 ([`int8`]): half of
    /// f16's bytes, decoding to f16-exact values.
    Int8,
}

/// A validated model: its config and every tensor named in DESIGN §2, as f32.
#[derive(Debug, Clone)]
pub struct Weights {
    pub config: ModelConfig,
    pub tensors: HashMap<String, HostTensor>,
}

impl Weights {
    pub fn get(&self, name: &str) -> &HostTensor {
        self.tensors.get(name).unwrap_or_else(|| panic!("validated weights lack {name}"))
    }

    /// Checks that exactly the expected tensors are present with the expected shapes.
    pub fn validate(&self) -> Result<()> {
        self.config.validate()?;
        let expected = self.config.tensor_shapes();
        for (name, shape) in &expected {
            let t = self
                .tensors
                .get(name)
                .ok_or_else(|| Error::Weights(format!("missing tensor `{name}` (expected shape {shape:?})")))?;
            if &t.shape != shape {
                return Err(Error::Weights(format!(
                    "tensor `{name}` has shape {:?} but the config implies {shape:?}",
                    t.shape
                )));
            }
            if t.data.iter().any(|v| !v.is_finite()) {
                return Err(Error::Weights(format!("tensor `{name}` holds NaN or infinite values")));
            }
        }
        if self.tensors.len() != expected.len() {
            let known: std::collections::HashSet<_> = expected.iter().map(|(n, _)| n.as_str()).collect();
            let mut unknown: Vec<_> = self.tensors.keys().filter(|k| !known.contains(k.as_str())).collect();
            unknown.sort();
            return Err(Error::Weights(format!("unknown tensor `{}` for this config", unknown[0])));
        }
        let (bound, at) = self.activation_bound();
        if !(bound <= MAX_ACTIVATION_BOUND) {
            return Err(Error::Weights(format!(
                "weights too large: activations could reach {bound:.3e} at {at} (the limit is {MAX_ACTIVATION_BOUND:.0e}, \
                 far above any trained model), so logits would overflow to NaN"
            )));
        }
        Ok(())
    }

    /// An upper bound on |value| of every activation of the full model (which bounds every
    /// nested sub-model: they use prefixes of the same tensors) for any tokens and classes, and
    /// where it is largest. Pre-LN blocks: a LayerNorm output is at most √(D−1)·max|γ| + max|β|
    /// whatever its input; `x·W + b` is at most max over columns of Σ|W|·|x| + |b|; attention
    /// outputs are convex mixes of values; |GELU(x)| ≤ |x|; the residual adds the branches.
    /// Computed in f64 (infinite if even that overflows).
    pub fn activation_bound(&self) -> (f64, String) {
        let c = &self.config;
        let max_abs = |name: &str| self.get(name).data.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64));
        // Largest column sum of |W| for W [din, dout] (x·W).
        let col_sum = |name: &str| {
            let t = self.get(name);
            let cols = t.shape[1];
            let mut sums = vec![0.0f64; cols];
            for row in t.data.chunks(cols) {
                for (s, v) in sums.iter_mut().zip(row) {
                    *s += v.abs() as f64;
                }
            }
            sums.into_iter().fold(0.0, f64::max)
        };
        let norm = |g: &str, b: &str| ((c.dim.max(2) - 1) as f64).sqrt() * max_abs(g) + max_abs(b);
        let linear = |x: f64, w: &str, b: &str| x * col_sum(w) + max_abs(b);
        let mut worst = (0.0f64, String::new());
        let mut see = |v: f64, at: String| {
            if !(v <= worst.0) {
                worst = (v, at);
            }
        };
        let mut r = max_abs("tokens.embedding").max(max_abs("classes.embedding")) + max_abs("positions.embedding");
        see(r, "the embeddings".into());
        let hd = c.head_dim as f64;
        for l in 0..c.depth {
            let p = |s: &str| format!("blocks.{l}.{s}");
            let a = norm(&p("norm1.gamma"), &p("norm1.beta"));
            let (q, k, v) = (
                linear(a, &p("attn.wq"), &p("attn.bq")),
                linear(a, &p("attn.wk"), &p("attn.bk")),
                linear(a, &p("attn.wv"), &p("attn.bv")),
            );
            see(q.max(k).max(v), p("attn"));
            see(hd * q * k / hd.sqrt(), p("attn scores"));
            r += linear(v, &p("attn.wo"), &p("attn.bo"));
            let h = linear(norm(&p("norm2.gamma"), &p("norm2.beta")), &p("mlp.w1"), &p("mlp.b1"));
            see(h, p("mlp"));
            r += linear(h, &p("mlp.w2"), &p("mlp.b2"));
            see(r, format!("the residual after blocks.{l}"));
        }
        see(linear(norm("final_norm.gamma", "final_norm.beta"), "head.w", "head.b"), "the logits".into());
        worst
    }

    /// Parses and validates a safetensors file (bytes), refusing anything malformed.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let (meta, st) = parse_safetensors(bytes).map_err(Error::Weights)?;
        let config_json = meta
            .get(CONFIG_METADATA_KEY)
            .ok_or_else(|| Error::Weights(format!("metadata has no `{CONFIG_METADATA_KEY}` config")))?;
        let config = ModelConfig::from_json(config_json)?;
        let tensors = read_tensors(&st)?;
        let w = Weights { config, tensors };
        w.validate()?;
        Ok(w)
    }

    /// Reads (a regular file, at most [`MAX_WEIGHTS_FILE_BYTES`]) and validates; every error
    /// names the file.
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let bytes = crate::files::read_capped(path, MAX_WEIGHTS_FILE_BYTES).map_err(|e| Error::Weights(e.detail()))?;
        Self::from_safetensors(&bytes).map_err(|e| match e {
            Error::Weights(m) => Error::Weights(format!("{}: {m}", path.display())),
            other => Error::Weights(format!("{}: {other}", path.display())),
        })
    }

    /// Serialises to safetensors with the config in the metadata.
    pub fn to_safetensors(&self, dtype: StoredDtype) -> Result<Vec<u8>> {
        let meta = HashMap::from([(CONFIG_METADATA_KEY.to_string(), self.config.to_json())]);
        serialize_tensors(&self.tensors, dtype, meta).map_err(Error::Weights)
    }

    pub fn save(&self, path: &std::path::Path, dtype: StoredDtype) -> Result<()> {
        let bytes = self.to_safetensors(dtype)?;
        crate::files::write(path, bytes)
    }

    /// Random initialisation (seeded): truncated-normal-ish weights with std 0.02, zero biases,
    /// unit LayerNorm gains. Used by `magnets init` and as the start of training.
    pub fn init(config: &ModelConfig, seed: u64) -> Result<Self> {
        config.validate()?;
        let mut tensors = HashMap::new();
        for (i, (name, shape)) in config.tensor_shapes().into_iter().enumerate() {
            let n: usize = shape.iter().product();
            let data = if name.ends_with("gamma") {
                vec![1.0; n]
            } else if shape.len() == 1 {
                vec![0.0; n]
            } else {
                (0..n).map(|j| init_draw(seed, i, j)).collect()
            };
            tensors.insert(name, HostTensor::new(shape, data));
        }
        Ok(Weights { config: config.clone(), tensors })
    }

    /// This category-only model split by art style: class `category·S + style` starts as its
    /// category's row (the null class is kept), so the styled model decodes like this one until
    /// training teaches the rows apart. Every other tensor is copied.
    pub fn split_by_style(&self, styles: &[String]) -> Result<Weights> {
        if !self.config.styles.is_empty() {
            return Err(Error::Weights(format!("the model is already split by the styles {:?}", self.config.styles)));
        }
        if styles.is_empty() || styles.iter().enumerate().any(|(i, s)| s.is_empty() || styles[..i].contains(s)) {
            return Err(Error::Weights(format!("styles {styles:?}: give one or more distinct non-empty names")));
        }
        let mut config = self.config.clone();
        let categories = config.class_names.clone();
        config.classes = categories.len().checked_mul(styles.len()).ok_or_else(|| Error::Weights("too many styles".into()))?;
        config.class_names = categories.iter().flat_map(|c| styles.iter().map(move |s| format!("{c} · {s}"))).collect();
        config.styles = styles.to_vec();
        config.validate()?;
        let old = self.get("classes.embedding");
        let d = old.shape[1];
        let mut rows = Vec::with_capacity((config.classes + 1) * d);
        for class in 0..config.classes as u32 {
            let c = config.category_of(class) as usize;
            rows.extend_from_slice(&old.data[c * d..(c + 1) * d]);
        }
        let null = self.config.classes;
        rows.extend_from_slice(&old.data[null * d..(null + 1) * d]);
        let mut tensors = self.tensors.clone();
        tensors.insert("classes.embedding".into(), HostTensor::new(vec![config.classes + 1, d], rows));
        let w = Weights { config, tensors };
        w.validate()?;
        Ok(w)
    }

    /// This image model as the start of a clip model (`clip`: the same model but for `frames` >
    /// 1 and `context_frames`): every frame's position rows start as the image's, so each frame
    /// is read like an image from the first step and a token's strongest match in another frame is
    /// the same spot in it (the prior frame prediction starts from: things stay where they are).
    /// Frames after the first get a small seeded offset (the random init's scale) so that
    /// training can tell them apart at once. Every other tensor is copied.
    pub fn lift_to_clip(&self, clip: &ModelConfig, seed: u64) -> Result<Weights> {
        if self.config.is_clip() {
            return Err(Error::Weights(format!("already a clip model ({} frames)", self.config.frames)));
        }
        if !clip.is_clip() {
            return Err(Error::Config("the clip config has 1 frame: give frames > 1".into()));
        }
        clip.validate()?;
        let as_image = ModelConfig { frames: 1, context_frames: 0, ..clip.clone() };
        let differing = config_differences(&self.config, &as_image);
        if !differing.is_empty() {
            return Err(Error::Config(format!(
                "the clip config differs from the image model in {} (only frames and context_frames may)",
                differing.join(", ")
            )));
        }
        let image = self.get("positions.embedding");
        let (d, hw) = (image.shape[1], clip.frame_tokens());
        // Row 0 is the class slot; token t = frame·hw + p sits at row 1 + t.
        let mut rows = Vec::with_capacity((clip.tokens() + 1) * d);
        rows.extend_from_slice(&image.data[..d]);
        for frame in 0..clip.frames {
            for p in 0..hw {
                let row = &image.data[(1 + p) * d..(2 + p) * d];
                let at = (frame * hw + p) * d;
                rows.extend(row.iter().enumerate().map(|(k, &v)| {
                    if frame == 0 { v } else { v + init_draw(seed, FRAME_OFFSET_STREAM, at + k) }
                }));
            }
        }
        let mut tensors = self.tensors.clone();
        tensors.insert("positions.embedding".into(), HostTensor::new(vec![clip.tokens() + 1, d], rows));
        let w = Weights { config: clip.clone(), tensors };
        w.validate()?;
        Ok(w)
    }

    /// The same clip model given its first `context_frames` frames instead (every tensor
    /// unchanged): a model trained to continue one frame decodes from more, since training masks
    /// any subset of the future and so often showed it the next frames' tokens.
    pub fn with_context_frames(self, context_frames: usize) -> Result<Weights> {
        if !self.config.is_clip() {
            return Err(Error::Weights("an image model has no frames to give: only a clip model takes --context-frames".into()));
        }
        let config = ModelConfig { context_frames, ..self.config };
        Weights::with_config(config, self.tensors)
    }

    /// The same weights nested at other widths (one per width name, the last the model's dim;
    /// every tensor unchanged): a sub-model is a leading slice, so any width is a model's
    /// prefix, but one the training never ran is not yet a good sub-model and has to be trained.
    pub fn with_widths(self, widths: Vec<usize>) -> Result<Weights> {
        if widths.len() != self.config.width_names.len() {
            return Err(Error::Config(format!(
                "give one width per sub-model ({}): {} given",
                self.config.width_names.join(", "),
                widths.len()
            )));
        }
        let config = ModelConfig { widths, ..self.config };
        Weights::with_config(config, self.tensors)
    }

    /// The same function in a deeper model (`depth` a multiple of the model's): block i becomes
    /// `depth / self.depth` blocks in a row, the first block i itself and the others its copies
    /// with their output projections (attn.wo/bo, mlp.w2/b2) at zero, so each copy adds nothing to
    /// the residual until training moves those. The start of a run that trains a larger model
    /// from a trained one, at every width (the nesting is unchanged).
    pub fn with_depth(self, depth: usize) -> Result<Weights> {
        let old = self.config.depth;
        if depth < old || depth % old != 0 {
            return Err(Error::Config(format!("a depth of {depth}: give a multiple of the model's depth {old}")));
        }
        let config = ModelConfig { depth, ..self.config.clone() };
        config.validate()?;
        let per = depth / old;
        let mut tensors: HashMap<String, HostTensor> =
            self.tensors.iter().filter(|(n, _)| !n.starts_with("blocks.")).map(|(n, t)| (n.clone(), t.clone())).collect();
        for (name, t) in &self.tensors {
            let Some((l, rest)) = name.strip_prefix("blocks.").and_then(|r| r.split_once('.')) else { continue };
            let l: usize = l.parse().map_err(|_| Error::Weights(format!("tensor `{name}`: no block number")))?;
            for copy in 0..per {
                let silent = copy > 0 && matches!(rest, "attn.wo" | "attn.bo" | "mlp.w2" | "mlp.b2");
                let t = if silent { HostTensor::zeros(t.shape.clone()) } else { t.clone() };
                tensors.insert(format!("blocks.{}.{rest}", l * per + copy), t);
            }
        }
        Weights::with_config(config, tensors)
    }

    /// Unchanged tensors under a changed config, both checked: the tail of every reshape that
    /// only edits the config.
    fn with_config(config: ModelConfig, tensors: HashMap<String, HostTensor>) -> Result<Weights> {
        config.validate()?;
        let w = Weights { config, tensors };
        w.validate()?;
        Ok(w)
    }

    /// The standalone model of width `config.widths[width]` made of the sliced weights (used to
    /// test that a nested sub-model is exactly a smaller model).
    pub fn standalone_submodel(&self, width: usize) -> Weights {
        let tensors = self
            .config
            .prefix_shapes(width)
            .into_iter()
            .map(|(name, extents)| {
                let sliced = self.get(&name).leading(&extents);
                (name, sliced)
            })
            .collect();
        Weights { config: self.config.submodel(width), tensors }
    }
}

/// The draws of [`Weights::lift_to_clip`]'s frame offsets: a tensor index no config reaches.
const FRAME_OFFSET_STREAM: usize = u32::MAX as usize;

/// The random init's draw for element `j` of tensor `tensor`: a normal clamped to ±2σ, σ 0.02
/// (a Box–Muller pair from the counter-based generator, so any element can be drawn alone).
fn init_draw(seed: u64, tensor: usize, j: usize) -> f32 {
    let u = |draw| crate::rng::uniform(seed as u32, (seed >> 32) as u32, tensor as u32, j as u32, draw);
    let z = (-2.0 * u(0).ln()).sqrt() * (2.0 * std::f32::consts::PI * u(1)).cos();
    0.02 * z.clamp(-2.0, 2.0)
}

/// The top-level keys whose values differ between two configs, by their JSON names.
fn config_differences(a: &ModelConfig, b: &ModelConfig) -> Vec<String> {
    let (serde_json::Value::Object(a), serde_json::Value::Object(b)) =
        (serde_json::to_value(a).unwrap_or_default(), serde_json::to_value(b).unwrap_or_default())
    else {
        return vec!["(unserialisable config)".into()];
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().filter(|k| a.get(*k) != b.get(*k)).cloned().collect()
}

/// Named tensors as a safetensors file in `dtype`, with `metadata` (the model and tokenizer
/// writers share it). Int8 stores every matrix as codes + `NAME.int8_scale`, the rest as f16.
pub(crate) fn serialize_tensors(
    tensors: &HashMap<String, HostTensor>,
    dtype: StoredDtype,
    metadata: HashMap<String, String>,
) -> std::result::Result<Vec<u8>, String> {
    let f16_bytes = |data: &[f32]| {
        let h: Vec<half::f16> = data.iter().map(|&v| half::f16::from_f32(v)).collect();
        bytemuck::cast_slice(&h).to_vec()
    };
    let mut buffers: BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (name, t) in tensors {
        match dtype {
            StoredDtype::F32 => {
                buffers.insert(name.clone(), (Dtype::F32, t.shape.clone(), bytemuck::cast_slice(&t.data).to_vec()));
            }
            StoredDtype::Int8 if t.shape.len() == 2 => {
                let m = int8::quantize_columns(t);
                buffers.insert(name.clone(), (Dtype::I8, t.shape.clone(), bytemuck::cast_slice(&m.codes).to_vec()));
                let scales = bytemuck::cast_slice(&m.scales).to_vec();
                buffers.insert(format!("{name}{}", int8::SCALE_SUFFIX), (Dtype::F32, vec![m.scales.len()], scales));
            }
            StoredDtype::F16 | StoredDtype::Int8 => {
                buffers.insert(name.clone(), (Dtype::F16, t.shape.clone(), f16_bytes(&t.data)));
            }
        }
    }
    let views = buffers
        .iter()
        .map(|(n, (d, s, b))| TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v)).map_err(|e| format!("tensor `{n}`: {e}")))
        .collect::<std::result::Result<Vec<_>, String>>()?;
    safetensors::serialize(views, Some(metadata)).map_err(|e| format!("serialise: {e}"))
}

/// Every tensor of a parsed file as f32, int8 matrices decoded with their scales (the model and
/// tokenizer loaders share it). A scale without its int8 matrix, or an int8 matrix without its
/// scales, is an error naming the tensor.
pub(crate) fn read_tensors(st: &SafeTensors) -> Result<HashMap<String, HostTensor>> {
    let mut tensors = HashMap::new();
    for (name, view) in st.tensors() {
        if let Some(matrix) = name.strip_suffix(int8::SCALE_SUFFIX) {
            if !st.tensor(matrix).is_ok_and(|m| m.dtype() == Dtype::I8) {
                return Err(Error::Weights(format!("`{name}` scales no int8 tensor `{matrix}`")));
            }
            continue;
        }
        let t = if view.dtype() == Dtype::I8 {
            let scale_name = format!("{name}{}", int8::SCALE_SUFFIX);
            let scales = st
                .tensor(&scale_name)
                .map_err(|_| Error::Weights(format!("tensor `{name}` is int8 but the file has no `{scale_name}`")))?;
            let scales = host_from_view(&scale_name, &scales)?.data;
            let codes = bytemuck::cast_slice(view.data()).to_vec();
            int8::dequantize_columns(view.shape(), &int8::Int8Matrix { codes, scales })
                .map_err(|m| Error::Weights(format!("int8 tensor `{name}`: {m}")))?
        } else {
            host_from_view(&name, &view)?
        };
        tensors.insert(name, t);
    }
    Ok(tensors)
}

/// One tensor as f32 from F32, F16 or BF16 storage.
pub(crate) fn host_from_view(name: &str, view: &TensorView) -> Result<HostTensor> {
    let shape = view.shape().to_vec();
    let bytes = view.data();
    let data: Vec<f32> = match view.dtype() {
        Dtype::F32 => bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        other => {
            return Err(Error::Weights(format!(
                "tensor `{name}` has unsupported dtype {other:?} (expected F32, F16, BF16, or I8 with `{name}{}`)",
                int8::SCALE_SUFFIX
            )));
        }
    };
    if data.len() != shape.iter().product::<usize>() {
        return Err(Error::Weights(format!("tensor `{name}` data does not match its shape {shape:?}")));
    }
    Ok(HostTensor { shape, data })
}
