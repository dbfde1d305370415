pub mod bench;
pub mod common;
pub mod data;
pub mod eval_images;
pub mod eval;
pub mod flops;
pub mod forward;
pub mod generate;
pub mod init;
pub mod tokenize;
pub mod train_classifier;
pub mod train_tokenizer;
pub mod train;
pub mod train_bench;
pub mod web_assets;

use magnets::weights::Weights;

/// Runs `f` with the WGSL engine on the default adapter, sized for the largest decode
/// (`MAX_IMAGES` images × 2 guidance streams).
pub fn gpu_engine<T>(
    weights: &Weights,
    f: impl FnOnce(&mut magnets::gpu::GpuEngine) -> magnets::Result<T>,
) -> magnets::Result<T> {
    let max_batch = 2 * magnets::decode::MAX_IMAGES;
    let mut engine = pollster::block_on(magnets::gpu::GpuEngine::new(weights, max_batch))?;
    eprintln!("GPU: {}", engine.adapter_name());
    f(&mut engine)
}

/// Decodes final token grids to PNGs (`{dir}/{i:03}.png`, 32×32 RGB) with the VQ tokenizer's
/// plain-Rust decoder.
pub fn write_pngs(tokenizer: &std::path::Path, tokens: &[Vec<u32>], dir: &std::path::Path) -> magnets::Result<()> {
    let w = magnets::tokenizer::TokenizerWeights::load(tokenizer)?;
    let s = w.config.image_size as u32;
    std::fs::create_dir_all(dir)?;
    for (i, codes) in tokens.iter().enumerate() {
        let rgb = magnets::tokenizer::try_cpu_decode(&w, codes)?;
        magnets::data::write_png(&dir.join(format!("{i:03}.png")), &magnets::tokenizer::to_u8(&rgb), s, s)?;
    }
    Ok(())
}
