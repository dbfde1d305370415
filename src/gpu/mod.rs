//! The hand-written WGSL engine (wgpu; WebGPU in the browser, Vulkan/Metal/DX12 natively).
//! No burn in here: this module ships in the burn-free WebGPU bundle.
//!
//! Kernels live in `shaders/*.wgsl`: `embed` (row gather of token/class + position
//! embeddings), `matmul` (64-row tiles in workgroup memory over the width prefix, 64/32/16
//! columns wide; fused prefix LayerNorm on load, bias, exact GELU, residual add, scatter of K/V
//! rows into the cache, q/k/v as one dispatch), `attention` (active queries over all cached
//! rows, online softmax), `layernorm` (the final norm, gathering only the logit rows),
//! `decoder` (the VQ tokenizer's decoder: codebook lookup, 3×3 convs, RGBA8 packing).
//!
//! A decode step is one command buffer of `5·depth + 3` dispatches and one readback of the
//! requested rows' logits. `GpuEngine::with_device` installs its own device-lost and
//! uncaptured-error handlers (they turn into `Error::Engine` values on the next call).

pub mod decoder;
pub mod engine;
pub mod util;

pub use decoder::GpuImageDecoder;
pub use engine::{Footprint, GpuEngine, WeightLayout, WeightStorage, check_limits};

/// Every WGSL source with its file name, for validation tests.
pub fn shader_sources() -> Vec<(&'static str, String)> {
    vec![
        ("embed.wgsl", engine::SHADER_EMBED.to_string()),
        ("layernorm.wgsl", engine::SHADER_LAYERNORM.to_string()),
        ("matmul.wgsl", engine::SHADER_MATMUL.to_string()),
        ("attention.wgsl", engine::SHADER_ATTENTION.to_string()),
        ("sample.wgsl", engine::SHADER_SAMPLE.to_string()),
        ("decoder.wgsl", decoder::SHADER_DECODER.to_string()),
    ]
}
