//! MaGNeTS in the browser: a nested MaskGIT transformer with decode-time model scaling and
//! KV caching, run by a burn reference model (CPU, training) and hand-written WGSL (WebGPU).
//!
//! Data flow: `config` + `weights` (safetensors) → an [`engine::Engine`] (burn reference in
//! `reference`, WGSL in `gpu`) → [`decode::decode`] (schedule, mask schedule, sampling, cache
//! policy, FLOP accounting) → a [`decode::DecodeTrace`] that the CLI prints and the page animates.

pub mod config;
pub mod decode;
pub mod engine;
pub mod error;
pub mod files;
pub mod flops;
pub mod plan;
pub mod rng;
pub mod sampling;
pub mod schedule;
pub mod tokenizer;
pub mod weights;

#[cfg(feature = "cli")]
pub mod data;
#[cfg(feature = "cli")]
pub mod metrics;
#[cfg(feature = "cli")]
pub mod registry;

#[cfg(feature = "reference")]
pub mod reference;

#[cfg(feature = "gpu")]
pub mod gpu;
#[cfg(feature = "reference")]
pub mod train;

pub use error::{Error, Result};

/// The page's wasm-bindgen API (www/): `web` = WebGPU bundle, `web-fallback` = CPU bundle.
#[cfg(all(target_arch = "wasm32", any(feature = "web", feature = "web-fallback")))]
pub mod web;
