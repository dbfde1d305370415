//! How the model sits in the engine's one weight buffer: where each tensor starts, and in
//! which storage (f32, or f16 pairs the kernels unpack).

use std::collections::HashMap;

use super::kernels::replace_line;
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::weights::Weights;

/// The weight binding and its accessor as every weight-reading kernel declares them, and
/// their f16 replacements. Kernels read weights only through `wv(i)`, so swapping these two
/// lines switches the storage.
const F32_BINDING: &str = "@group(0) @binding(1) var<storage, read> w: array<f32>;";
const F16_BINDING: &str = "@group(0) @binding(1) var<storage, read> w: array<u32>;";
const F32_ACCESSOR: &str = "fn wv(i: u32) -> f32 { return w[i]; }";
const F16_ACCESSOR: &str =
    "fn wv(i: u32) -> f32 { let pair = unpack2x16float(w[i >> 1u]); return select(pair.x, pair.y, (i & 1u) == 1u); }";

/// How the engine's weight buffer holds the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightStorage {
    /// 4 bytes per weight, converted from the file's dtype at load.
    F32,
    /// 2 bytes per weight: f16 pairs packed in u32 words, unpacked in the kernels
    /// (`unpack2x16float`). Exact for f16 files; rounds f32 files to f16.
    F16,
}

impl WeightStorage {
    /// F16 when every weight is exactly an f16 value (the shipped f16 files), else F32, so the
    /// choice never changes a logit.
    pub fn auto(weights: &Weights) -> Self {
        let exact = weights.tensors.values().all(|t| t.data.iter().all(|&v| half::f16::from_f32(v).to_f32() == v));
        if exact { WeightStorage::F16 } else { WeightStorage::F32 }
    }

    /// Bytes of the weight buffer for `elements` weights (padded to whole u32 words).
    pub fn buffer_bytes(self, elements: usize) -> u64 {
        match self {
            WeightStorage::F32 => 4 * elements as u64,
            WeightStorage::F16 => 4 * elements.div_ceil(2) as u64,
        }
    }

    /// A weight-reading kernel's source with its weight binding (`w` + accessor `wv`) in this
    /// storage; an error when the kernel does not declare both lines verbatim.
    pub fn kernel_source(self, source: &str) -> Result<String> {
        let (binding, accessor) = match self {
            WeightStorage::F32 => (F32_BINDING, F32_ACCESSOR),
            WeightStorage::F16 => (F16_BINDING, F16_ACCESSOR),
        };
        replace_line(&replace_line(source, F32_BINDING, binding)?, F32_ACCESSOR, accessor)
    }

    /// The weight buffer's contents.
    pub fn pack(self, host: &[f32]) -> Vec<u8> {
        match self {
            WeightStorage::F32 => bytemuck::cast_slice(host).to_vec(),
            WeightStorage::F16 => {
                let mut halves: Vec<u16> = host.iter().map(|&v| half::f16::from_f32(v).to_bits()).collect();
                halves.resize(host.len().div_ceil(2) * 2, 0);
                bytemuck::cast_slice(&halves).to_vec()
            }
        }
    }
}

/// Element offsets of every tensor inside the single weight buffer.
#[derive(Debug, Clone)]
pub struct WeightLayout {
    pub offsets: HashMap<String, usize>,
    pub total: usize,
}

impl WeightLayout {
    /// Order: tokens.embedding directly followed by classes.embedding (one id table), then
    /// every other tensor in `tensor_shapes` order.
    pub fn new(config: &ModelConfig) -> Self {
        let mut offsets = HashMap::new();
        let mut total = 0usize;
        for (name, shape) in config.tensor_shapes() {
            offsets.insert(name, total);
            total += shape.iter().product::<usize>();
        }
        WeightLayout { offsets, total }
    }

    /// The element offset of tensor `name` (one the config declares).
    pub fn at(&self, name: &str) -> u32 {
        self.offsets[name] as u32
    }

    /// Every tensor of `weights` at its offset, checked against the config's shapes.
    pub fn gather(&self, config: &ModelConfig, weights: &Weights) -> Result<Vec<f32>> {
        let mut host = vec![0f32; self.total];
        for (name, shape) in config.tensor_shapes() {
            let t = weights.tensors.get(&name).ok_or_else(|| Error::Weights(format!("missing tensor `{name}`")))?;
            if t.shape != shape {
                return Err(Error::Weights(format!("tensor `{name}` has shape {:?}, expected {shape:?}", t.shape)));
            }
            let off = self.offsets[&name];
            host[off..off + t.data.len()].copy_from_slice(&t.data);
        }
        Ok(host)
    }
}
