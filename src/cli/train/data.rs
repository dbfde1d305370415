//! A run's token data: `--data` or `--synthetic`, plus flipped copies with `--flip`.

use std::path::PathBuf;

use magnets::config::ModelConfig;
use magnets::train::TokenDataset;

use super::args::Args;

/// Categories whose mirror image is not a valid member (text, flags): Symbols, Flags.
const NO_FLIP: [u8; 2] = [7, 8];

/// Tokens of the horizontally flipped train images, cached on disk as a `magnets tokenize`
/// token file (codes, categories, vendors), read like `--data`.
fn flipped_tokens(a: &Args, config: &ModelConfig) -> magnets::Result<TokenDataset> {
    let cache = &a.augment.flip_cache;
    if !cache.exists() {
        write_flipped_tokens(a, cache)?;
    }
    TokenDataset::load_styled(cache, 0, &config.styles).map_err(|e| {
        let hint = if config.styles.is_empty() { "" } else { " (a cache without vendors: give a new --flip-cache path to rebuild it)" };
        magnets::Error::Data(format!("--flip-cache: {}{hint}", e.detail()))
    })
}

fn write_flipped_tokens(a: &Args, cache: &std::path::Path) -> magnets::Result<()> {
    use magnets::data::{EmojiDataset, IMAGE_SIZE, Split, to_chw_f32};
    let tok_path = a.outputs.tokenizer.clone().unwrap_or_else(|| PathBuf::from("models/tokenizer.safetensors"));
    let tw = magnets::tokenizer::TokenizerWeights::load(&tok_path)?;
    if !tw.has_encoder() {
        return Err(magnets::Error::Weights(format!("{} has no encoder; --flip needs it", tok_path.display())));
    }
    let ds = EmojiDataset::load(&a.augment.images)?;
    let idx: Vec<usize> = ds.indices(Split::Train).into_iter().filter(|&i| !NO_FLIP.contains(&ds.labels[i])).collect();
    let mut flipped = ds.subset(&idx);
    let s = IMAGE_SIZE;
    for img in flipped.images.chunks_exact_mut(s * s * 3) {
        for row in img.chunks_exact_mut(s * 3) {
            let mirrored: Vec<u8> = row.chunks_exact(3).rev().flatten().copied().collect();
            row.copy_from_slice(&mirrored);
        }
    }
    let tok = magnets::tokenizer::model::Tokenizer::new(&tw, &burn::tensor::Device::flex());
    let chw = to_chw_f32(&flipped.images);
    let per = 3 * s * s;
    let mut codes = Vec::with_capacity(idx.len() * tw.config.tokens());
    for chunk in chw.chunks(256 * per) {
        codes.extend(tok.encode(chunk)?);
    }
    let t = magnets::tokenizer::tokens::TokenDataset::from_dataset(&flipped, &codes, &tw.config)?;
    if let Some(d) = cache.parent() {
        std::fs::create_dir_all(d)?;
    }
    t.save(cache)?;
    eprintln!("wrote {} ({} flipped train images, Symbols and Flags excluded)", cache.display(), t.len());
    Ok(())
}

/// Train set (+ flipped copies) and, for a real token file, its held-out split.
pub fn load_data(a: &Args, config: &ModelConfig) -> magnets::Result<(TokenDataset, Option<TokenDataset>)> {
    let (mut data, val) = match (&a.dataset.data, a.dataset.synthetic) {
        (Some(p), None) => (
            TokenDataset::load_styled(p, 0, &config.styles)?,
            Some(TokenDataset::load_styled(p, 1, &config.styles)?).filter(|v| !v.is_empty()),
        ),
        (None, Some(n)) => (TokenDataset::synthetic(config, n, a.optimizer.seed as u32), None),
        _ => return Err(magnets::Error::Other("give exactly one of --data FILE or --synthetic N".into())),
    };
    let mut val = val;
    for p in &a.dataset.add_data {
        let named = |e: magnets::Error| magnets::Error::Data(format!("--add-data {}: {}", p.display(), e.detail()));
        data.extend(&TokenDataset::load_styled(p, 0, &config.styles).map_err(named)?).map_err(named)?;
        let held = TokenDataset::load_styled(p, 1, &config.styles).map_err(named)?;
        match &mut val {
            _ if held.is_empty() => {}
            Some(v) => v.extend(&held).map_err(named)?,
            None => val = Some(held),
        }
        eprintln!("--add-data {}: the training set now holds {}", p.display(), data.len());
    }
    if a.augment.flip {
        let f = flipped_tokens(a, config)?;
        eprintln!("flip augmentation: {} + {} flipped images", data.len(), f.len());
        data.extend(&f)?;
    }
    data.check(config)?;
    if let Some(v) = &val {
        v.check(config)?;
    }
    Ok((data, val))
}
