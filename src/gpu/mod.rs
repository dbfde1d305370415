//! The hand-written WGSL engine (wgpu; WebGPU in the browser, Vulkan/Metal/DX12 natively).
//! No burn in here: this module ships in the burn-free WebGPU bundle.
//!
//! Kernels live in `shaders/*.wgsl`: `embed` (row gather of token/class + position
//! embeddings), `matmul` (64-row tiles in workgroup memory over the width prefix, 64/32/16
//! columns wide; fused prefix LayerNorm on load, bias, exact GELU, residual add, scatter of K/V
//! rows into the cache, q/k/v as one dispatch), `attention` (active queries over all cached
//! rows, K/V tiles staged in workgroup memory, online softmax), `layernorm` (the final norm,
//! gathering only the logit rows), `sample` (one workgroup per masked token: code and
//! confidence), `decoder` (the VQ tokenizer's decoder: codebook lookup, 3×3 convs, RGBA8
//! packing).
//!
//! On a real GPU these sizes (16 images, widths 16–128) are bound by memory latency, not
//! arithmetic: the kernels issue their global loads as straight-line groups and stage shared
//! operands in workgroup memory. `magnets bench --profile` times every dispatch with GPU
//! timestamps (docs/RESULTS.md has an H200 profile).
//!
//! A decode step is one command buffer of `5·depth + 3` dispatches and one readback (a code
//! and confidence per masked token; the logits when sampling on the host). `GpuEngine::with_device` installs its own device-lost and
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
