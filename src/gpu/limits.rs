//! What an engine needs from a device, and the refusal when a model or batch does not fit:
//! checked before any buffer is created, so the message names the model, not wgpu.

use super::weights::{WeightLayout, WeightStorage};
use crate::config::ModelConfig;
use crate::error::{Error, Result};

/// The attention kernel keeps a query and an accumulator of `head_dim` floats per invocation.
pub const MAX_HEAD_DIM: usize = 256;

/// Buffer sizes (bytes) an engine for `config` and `max_batch` sequences needs.
#[derive(Debug, Clone)]
pub struct Footprint {
    pub weights: u64,
    /// One of K or V.
    pub kv_cache: u64,
    /// K cache, V cache and the queries share one buffer.
    pub kvq: u64,
    pub hidden: u64,
    pub mlp: u64,
    pub logits: u64,
    /// `[images × masked] × (code, confidence)` from on-device sampling.
    pub proposals: u64,
    pub index: u64,
    /// Ids by position and the next step's index, prepared on the device (`record::look_ahead_words`).
    pub look_ahead: u64,
}

impl Footprint {
    /// With f32 weights (the larger storage).
    pub fn new(config: &ModelConfig, max_batch: usize) -> Self {
        Self::with_storage(config, max_batch, WeightStorage::F32)
    }

    pub fn with_storage(config: &ModelConfig, max_batch: usize, storage: WeightStorage) -> Self {
        let (b, s, n, d) = (max_batch as u64, config.seq_len() as u64, config.tokens() as u64, config.dim as u64);
        Footprint {
            weights: storage.buffer_bytes(WeightLayout::new(config).total),
            kv_cache: 4 * config.depth as u64 * b * s * d,
            kvq: 4 * (2 * config.depth as u64 + 1) * b * s * d,
            hidden: 4 * b * s * d,
            mlp: 4 * b * s * config.mlp_dim(config.dim) as u64,
            logits: 4 * b * n * config.codebook as u64,
            proposals: 8 * b * n,
            // processed rows' cache rows and table ids, logit picks, logit positions (sampling)
            index: 4 * (2 * b * s + 2 * b * n),
            look_ahead: 4 * super::record::look_ahead_words(config, max_batch) as u64,
        }
    }
    pub fn largest(&self) -> (&'static str, u64) {
        [
            ("weights", self.weights),
            ("K/V cache and queries", self.kvq),
            ("hidden states", self.hidden),
            ("MLP activations", self.mlp),
            ("logits", self.logits),
            ("row indices", self.index),
            ("look-ahead ids and index", self.look_ahead),
        ]
        .into_iter()
        .max_by_key(|x| x.1)
        .unwrap()
    }
    pub fn total(&self) -> u64 {
        self.weights + self.kvq + 3 * self.hidden + self.mlp + 2 * self.logits + 3 * self.proposals + self.index + self.look_ahead
    }
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

/// Refuses a model/batch that does not fit the device limits, naming the limit.
pub fn check_limits(
    config: &ModelConfig,
    max_batch: usize,
    storage: WeightStorage,
    limits: &wgpu::Limits,
) -> Result<()> {
    let bad = |m: String| Err(Error::Engine(m));
    if max_batch == 0 {
        return bad("max_batch must be at least 1".into());
    }
    if config.head_dim > MAX_HEAD_DIM {
        return bad(format!(
            "head_dim {} is larger than the {MAX_HEAD_DIM} the attention kernel supports",
            config.head_dim
        ));
    }
    let f = Footprint::with_storage(config, max_batch, storage);
    let (what, need) = f.largest();
    let binding = limits.max_storage_buffer_binding_size as u64;
    if need > binding {
        return bad(format!(
            "model too large for this GPU: its {what} need a {} storage buffer (dim {}, depth {}, {} tokens, codebook {}, batch {max_batch}) \
             but the device allows at most {} per storage binding (max_storage_buffer_binding_size); use a smaller model or batch",
            mib(need),
            config.dim,
            config.depth,
            config.tokens(),
            config.codebook,
            mib(binding)
        ));
    }
    if need > limits.max_buffer_size {
        return bad(format!(
            "model too large for this GPU: its {what} need a {} buffer but the device allows at most {} (max_buffer_size)",
            mib(need),
            mib(limits.max_buffer_size)
        ));
    }
    if need / 4 >= u32::MAX as u64 {
        return bad(format!("model too large: its {what} have more than 2^32 elements"));
    }
    if limits.max_compute_invocations_per_workgroup < 256
        || limits.max_compute_workgroup_size_x < 64
        || limits.max_compute_workgroup_size_y < 16
        || limits.max_compute_workgroup_storage_size < 8192
        || limits.max_storage_buffers_per_shader_stage < 4
    {
        return bad("this GPU's compute limits are below what the kernels need (256 invocations, 8 KiB workgroup memory, 4 storage buffers)".into());
    }
    let max_rows = (max_batch * config.seq_len()) as u64;
    // Row-tiled kernels fold their grid along x; attention puts the batch along z.
    if max_rows.div_ceil(64) > limits.max_compute_workgroups_per_dimension as u64
        || max_batch as u64 > limits.max_compute_workgroups_per_dimension as u64
    {
        return bad(format!("batch {max_batch} × {} rows is more than this GPU can dispatch", config.seq_len()));
    }
    Ok(())
}
