//! The engine behind each bundle, chosen at compile time: `web` → the WGSL engine on WebGPU,
//! `web-fallback` (without `web`) → the burn reference model on burn-flex (CPU).
//! Images: the WGSL decoder (`gpu::GpuImageDecoder`) on WebGPU, the plain-Rust tokenizer decoder
//! (`tokenizer::try_cpu_decode`) on the CPU.

use crate::config::ModelConfig;
use crate::error::Result;
use crate::tokenizer::TokenizerWeights;
use crate::weights::Weights;

/// Parses the tokenizer and checks that it speaks the model's token language.
fn load_tokenizer(config: &ModelConfig, bytes: &[u8]) -> Result<TokenizerWeights> {
    let tok = TokenizerWeights::from_safetensors(bytes)?;
    tok.check_matches(config)?;
    Ok(tok)
}

/// `[batch × N]` codes → `[batch × S × S × 4]` RGBA8 on the CPU.
fn cpu_images(tok: &TokenizerWeights, codes: &[u32], batch: usize) -> Result<Vec<u8>> {
    let n = tok.config.tokens();
    let s = tok.config.image_size;
    let mut out = Vec::with_capacity(batch * s * s * 4);
    for b in 0..batch {
        let rgb = crate::tokenizer::try_cpu_decode(tok, &codes[b * n..(b + 1) * n])?;
        for px in rgb.chunks_exact(3) {
            out.extend(crate::tokenizer::to_u8(px));
            out.push(255);
        }
    }
    Ok(out)
}

#[cfg(feature = "web")]
mod imp {
    use super::*;
    pub const KIND: &str = "webgpu";
    pub type Backend = crate::gpu::GpuEngine;

    /// The WGSL decoder on the engine's device, and the CPU decoder: used when the GPU one cannot
    /// be built, or when the page asks for it (on a software adapter such as SwiftShader the
    /// plain-Rust decoder is faster).
    pub struct ImageDecoder {
        gpu: Option<crate::gpu::GpuImageDecoder>,
        cpu: TokenizerWeights,
        pub prefer_cpu: bool,
    }

    pub async fn create_engine(weights: &Weights, max_batch: usize) -> Result<Backend> {
        crate::gpu::GpuEngine::new(weights, max_batch).await
    }
    pub fn adapter_name(engine: &Backend) -> String {
        engine.adapter_name()
    }
    pub fn create_decoder(engine: &Backend, config: &ModelConfig, bytes: &[u8], max_batch: usize) -> Result<(ImageDecoder, usize)> {
        let tok = load_tokenizer(config, bytes)?;
        let size = tok.config.image_size;
        let gpu = crate::gpu::GpuImageDecoder::new(engine, &tok, max_batch).ok();
        Ok((ImageDecoder { gpu, cpu: tok, prefer_cpu: false }, size))
    }
    pub fn set_prefer_cpu(dec: &mut ImageDecoder, prefer: bool) {
        dec.prefer_cpu = prefer;
    }
    pub fn failure(engine: &Backend) -> Option<String> {
        engine.failure()
    }
    pub fn simulate_device_loss(engine: &Backend) -> Result<()> {
        engine.simulate_device_loss();
        Ok(())
    }
    pub async fn decode_images(dec: &mut ImageDecoder, engine: &Backend, codes: &[u32], batch: usize) -> Result<Vec<u8>> {
        match (&mut dec.gpu, dec.prefer_cpu) {
            (Some(d), false) => d.decode(engine, codes, batch).await,
            _ => cpu_images(&dec.cpu, codes, batch),
        }
    }
}

#[cfg(all(feature = "web-fallback", not(feature = "web")))]
mod imp {
    use super::*;
    pub const KIND: &str = "cpu";
    pub type Backend = crate::reference::ReferenceEngine;
    pub type ImageDecoder = TokenizerWeights;

    pub async fn create_engine(weights: &Weights, _max_batch: usize) -> Result<Backend> {
        Ok(crate::reference::ReferenceEngine::cpu(weights))
    }
    pub fn adapter_name(_engine: &Backend) -> String {
        "CPU (burn-flex, no WebGPU)".to_string()
    }
    pub fn create_decoder(_e: &Backend, config: &ModelConfig, bytes: &[u8], _max_batch: usize) -> Result<(ImageDecoder, usize)> {
        let tok = load_tokenizer(config, bytes)?;
        let size = tok.config.image_size;
        Ok((tok, size))
    }
    pub fn set_prefer_cpu(_dec: &mut ImageDecoder, _prefer: bool) {}
    pub fn failure(_engine: &Backend) -> Option<String> {
        None
    }
    pub fn simulate_device_loss(_engine: &Backend) -> Result<()> {
        Err(crate::Error::Engine("the CPU engine has no GPU device to lose".into()))
    }
    pub async fn decode_images(dec: &mut ImageDecoder, _engine: &Backend, codes: &[u32], batch: usize) -> Result<Vec<u8>> {
        cpu_images(dec, codes, batch)
    }
}

pub use imp::*;
