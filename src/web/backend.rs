//! The engine behind each bundle: [`PageBackend`], implemented by the WGSL engine on WebGPU
//! (feature `web`) and by the burn reference model on burn-flex (feature `web-fallback`), and
//! [`Backend`], the one a bundle is built with (`web` when both are on).
//! Images: the engine's own decoder where it has one (`gpu::GpuImageDecoder`), else the
//! plain-Rust tokenizer decoder (`tokenizer::try_cpu_decode`).

use crate::config::ModelConfig;
use crate::engine::Engine;
use crate::error::Result;
use crate::tokenizer::TokenizerWeights;
use crate::weights::Weights;

#[cfg(feature = "web")]
pub type Backend = crate::gpu::GpuEngine;
#[cfg(all(feature = "web-fallback", not(feature = "web")))]
pub type Backend = crate::reference::ReferenceEngine;

/// What the page needs from an engine besides decoding: building it, naming its device, an
/// image decoder on that device, and telling when the device is gone.
pub trait PageBackend: Engine + Sized {
    /// The bundle's kind as the page knows it: `"webgpu"` or `"cpu"`.
    const KIND: &'static str;
    /// An image decoder on the engine's device (`Infallible` where there is none).
    type DeviceImages;

    async fn create(weights: &Weights, max_batch: usize) -> Result<Self>;
    /// The device, as the page shows it.
    fn adapter_name(&self) -> String;
    /// The decoder on the engine's device, or `None` when it cannot be built.
    fn device_images(&self, tokenizer: &TokenizerWeights, max_batch: usize) -> Option<Self::DeviceImages>;
    /// `[batch × N]` codes → `[batch × S × S × 4]` RGBA8 on the engine's device.
    async fn decode_on_device(&self, images: &mut Self::DeviceImages, codes: &[u32], batch: usize) -> Result<Vec<u8>>;
    /// Set once the device is lost or failed (the message says why).
    fn failure(&self) -> Option<String>;
    /// Destroys the device as a driver reset would (the page's recovery test).
    fn simulate_device_loss(&self) -> Result<()>;
}

#[cfg(feature = "web")]
impl PageBackend for crate::gpu::GpuEngine {
    const KIND: &'static str = "webgpu";
    type DeviceImages = crate::gpu::GpuImageDecoder;

    async fn create(weights: &Weights, max_batch: usize) -> Result<Self> {
        crate::gpu::GpuEngine::new(weights, max_batch).await
    }
    fn adapter_name(&self) -> String {
        crate::gpu::GpuEngine::adapter_name(self)
    }
    fn device_images(&self, tokenizer: &TokenizerWeights, max_batch: usize) -> Option<Self::DeviceImages> {
        crate::gpu::GpuImageDecoder::new(self, tokenizer, max_batch).ok()
    }
    async fn decode_on_device(&self, images: &mut Self::DeviceImages, codes: &[u32], batch: usize) -> Result<Vec<u8>> {
        images.decode(self, codes, batch).await
    }
    fn failure(&self) -> Option<String> {
        crate::gpu::GpuEngine::failure(self)
    }
    fn simulate_device_loss(&self) -> Result<()> {
        crate::gpu::GpuEngine::simulate_device_loss(self);
        Ok(())
    }
}

#[cfg(feature = "web-fallback")]
impl PageBackend for crate::reference::ReferenceEngine {
    const KIND: &'static str = "cpu";
    type DeviceImages = std::convert::Infallible;

    async fn create(weights: &Weights, _max_batch: usize) -> Result<Self> {
        Ok(crate::reference::ReferenceEngine::cpu(weights))
    }
    fn adapter_name(&self) -> String {
        "CPU (burn-flex, WebAssembly)".to_string()
    }
    fn device_images(&self, _tokenizer: &TokenizerWeights, _max_batch: usize) -> Option<Self::DeviceImages> {
        None
    }
    async fn decode_on_device(&self, images: &mut Self::DeviceImages, _codes: &[u32], _batch: usize) -> Result<Vec<u8>> {
        match *images {}
    }
    fn failure(&self) -> Option<String> {
        None
    }
    fn simulate_device_loss(&self) -> Result<()> {
        Err(crate::Error::Engine("the CPU engine has no GPU device to lose".into()))
    }
}

/// A bundle's image decoder: the one on the engine's device, and the plain-Rust one, used when
/// the device's cannot be built or when the page asks for it (on a software adapter such as
/// SwiftShader the plain-Rust decoder is faster).
pub struct ImageDecoder<B: PageBackend> {
    device: Option<B::DeviceImages>,
    cpu: TokenizerWeights,
    prefer_cpu: bool,
}

impl<B: PageBackend> ImageDecoder<B> {
    /// Parses the tokenizer and checks that it speaks the model's token language.
    pub fn new(engine: &B, config: &ModelConfig, bytes: &[u8], max_batch: usize) -> Result<Self> {
        let cpu = TokenizerWeights::from_safetensors(bytes)?;
        cpu.check_matches(config)?;
        Ok(ImageDecoder { device: engine.device_images(&cpu, max_batch), cpu, prefer_cpu: false })
    }

    /// S: the images are S × S.
    pub fn image_size(&self) -> usize {
        self.cpu.config.image_size
    }

    pub fn set_prefer_cpu(&mut self, prefer: bool) {
        self.prefer_cpu = prefer;
    }

    /// `[batch × N]` codes → `[batch × S × S × 4]` RGBA8.
    pub async fn decode(&mut self, engine: &B, codes: &[u32], batch: usize) -> Result<Vec<u8>> {
        match (&mut self.device, self.prefer_cpu) {
            (Some(d), false) => engine.decode_on_device(d, codes, batch).await,
            _ => cpu_images(&self.cpu, codes, batch),
        }
    }
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
