//! The burn reference model: DESIGN §2 written with burn tensors. It trains (autodiff), runs
//! on burn-flex on the CPU (natively and as the browser's no-WebGPU fallback), and on
//! burn-wgpu as a benchmark comparison point.

pub mod engine;
pub mod layers;
pub mod model;
mod named;

pub use engine::ReferenceEngine;
pub use model::{FlopCounter, KvCache, MatmulPrecision, NestedTransformer};
