pub mod bench;
pub mod common;
pub mod data;
pub mod eval_images;
pub mod eval;
pub mod eval_clips;
pub mod fid_gap;
pub mod flops;
pub mod forward;
pub mod generate;
pub mod init;
pub mod models;
pub mod tokenize;
pub mod train_classifier;
pub mod train_tokenizer;
pub mod train;
pub mod train_bench;
pub mod web_assets;

use magnets::tokenizer::TokenizerWeights;
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

/// Loads a tokenizer for PNG output and checks it fits the model; errors name the file.
pub fn load_tokenizer_for(path: &std::path::Path, model: &magnets::config::ModelConfig) -> magnets::Result<TokenizerWeights> {
    let w = TokenizerWeights::load(path)?;
    w.check_matches(model).map_err(|e| magnets::Error::Weights(format!("{}: {}", path.display(), e.detail())))?;
    Ok(w)
}

/// Decodes final token grids to PNGs (`{dir}/{i:03}.png`, 32×32 RGB) with the VQ tokenizer's
/// plain-Rust decoder (`path` is the tokenizer's file, named in errors).
pub fn write_pngs(tokenizer: &TokenizerWeights, path: &std::path::Path, tokens: &[Vec<u32>], dir: &std::path::Path) -> magnets::Result<()> {
    let s = tokenizer.config.image_size as u32;
    magnets::files::create_dir(dir)?;
    for (i, codes) in tokens.iter().enumerate() {
        let rgb = magnets::tokenizer::try_cpu_decode(tokenizer, codes).map_err(|e| e.blame_file(path))?;
        magnets::data::write_png(&dir.join(format!("{i:03}.png")), &magnets::tokenizer::to_u8(&rgb), s, s)?;
    }
    Ok(())
}
