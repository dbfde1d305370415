//! The hand-written WGSL engine (wgpu; WebGPU in the browser, Vulkan/Metal/DX12 natively).
//! No burn in here: this module ships in the burn-free WebGPU bundle.
//!
//! Kernels live in `shaders/*.wgsl`: `embed` (row gather of token/class + position
//! embeddings), `layernorm` (prefix statistics, optional row gather), `matmul` (64×64 tiles in
//! workgroup memory over the width prefix, fused bias / exact GELU / residual add / scatter of
//! K/V rows into the cache), `attention` (active queries over all cached rows, online softmax),
//! `decoder` (the VQ tokenizer's decoder: codebook lookup, 3×3 convs, RGBA8 packing).

pub mod decoder;
pub mod engine;
pub mod util;

pub use decoder::GpuImageDecoder;
pub use engine::{Footprint, GpuEngine, WeightLayout, check_limits};

/// Every WGSL source with its file name, for validation tests.
pub fn shader_sources() -> Vec<(&'static str, String)> {
    vec![
        ("embed.wgsl", engine::SHADER_EMBED.to_string()),
        ("layernorm.wgsl", engine::SHADER_LAYERNORM.to_string()),
        ("matmul.wgsl", engine::SHADER_MATMUL.to_string()),
        ("attention.wgsl", engine::SHADER_ATTENTION.to_string()),
        ("decoder.wgsl", decoder::SHADER_DECODER.to_string()),
    ]
}
