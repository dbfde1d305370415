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
//! A decode step is one command buffer of `5·depth + 4` dispatches (embed; qkv, attention, wo,
//! w1, w2 per block; final norm, head, sampler) and one readback of a code and confidence per
//! masked token; sampling on the host drops the sampler and reads back the logits instead.
//! The step is recorded as plain data first ([`record::record_step`]), so its dispatches and
//! FLOPs are tested without a GPU. [`GpuContext`] installs device-lost and uncaptured-error
//! handlers (they turn into `Error::Engine` values on the next call).
//!
//! Modules: [`engine`] (the `Engine` implementation), [`record`] (a step as dispatches),
//! [`kernels`] (sources and their checked specialisation), [`params`] (each kernel's uniform
//! struct), [`dispatch`] (recorded dispatches, parameter slots), [`context`] (device, layouts,
//! faults, submission), [`buffers`], [`weights`] (weight layout and storage), [`limits`],
//! [`profile`], [`readback`], [`decoder`] (the tokenizer's image decoder).

pub mod buffers;
pub mod context;
pub mod decoder;
pub mod dispatch;
pub mod engine;
pub mod kernels;
pub mod limits;
pub mod params;
pub mod profile;
pub mod readback;
pub mod record;
pub mod weights;

pub use context::GpuContext;
pub use decoder::GpuImageDecoder;
pub use engine::GpuEngine;
pub use kernels::shader_sources;
pub use limits::{Footprint, check_limits};
pub use weights::{WeightLayout, WeightStorage};
