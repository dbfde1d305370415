//! A run's token data: `--data` or `--synthetic`, plus flipped copies with `--flip`.

use std::path::PathBuf;

use magnets::config::ModelConfig;
use magnets::train::TokenDataset;

use super::args::Args;

/// Categories whose mirror image is not a valid member (text, flags): Symbols, Flags.
const NO_FLIP: [u8; 2] = [7, 8];

/// Tokens of the horizontally flipped train images (cached on disk).
fn flipped_tokens(a: &Args) -> magnets::Result<TokenDataset> {
    let cache = &a.augment.flip_cache;
    if cache.exists() {
        return TokenDataset::load(cache);
    }
    use magnets::data::{EmojiDataset, IMAGE_SIZE, Split, to_chw_f32};
    let tok_path = a.outputs.tokenizer.clone().unwrap_or_else(|| PathBuf::from("models/tokenizer.safetensors"));
    let tw = magnets::tokenizer::TokenizerWeights::load(&tok_path)?;
    if !tw.has_encoder() {
        return Err(magnets::Error::Weights(format!("{} has no encoder; --flip needs it", tok_path.display())));
    }
    let ds = EmojiDataset::load(&a.augment.images)?;
    let idx: Vec<usize> = ds.indices(Split::Train).into_iter().filter(|&i| !NO_FLIP.contains(&ds.labels[i])).collect();
    let s = IMAGE_SIZE;
    let mut flipped = Vec::with_capacity(idx.len() * s * s * 3);
    for &i in &idx {
        let img = ds.image(i);
        for y in 0..s {
            for x in 0..s {
                let p = (y * s + (s - 1 - x)) * 3;
                flipped.extend_from_slice(&img[p..p + 3]);
            }
        }
    }
    let tok = magnets::tokenizer::model::Tokenizer::new(&tw, &burn::tensor::Device::flex());
    let chw = to_chw_f32(&flipped);
    let per = 3 * s * s;
    let mut codes = Vec::with_capacity(idx.len() * tw.config.tokens());
    for chunk in chw.chunks(256 * per) {
        codes.extend(tok.encode(chunk)?);
    }
    let labels = idx.iter().map(|&i| ds.labels[i] as u32).collect();
    let t = TokenDataset::new(tw.config.tokens(), codes, labels)?;
    if let Some(d) = cache.parent() {
        std::fs::create_dir_all(d)?;
    }
    t.save(cache)?;
    eprintln!("wrote {} ({} flipped train images, Symbols and Flags excluded)", cache.display(), t.len());
    Ok(t)
}

/// Train set (+ flipped copies) and, for a real token file, its held-out split.
pub fn load_data(a: &Args, config: &ModelConfig) -> magnets::Result<(TokenDataset, Option<TokenDataset>)> {
    let (mut data, val) = match (&a.dataset.data, a.dataset.synthetic) {
        (Some(p), None) => (TokenDataset::load(p)?, Some(TokenDataset::load_split(p, 1)?).filter(|v| !v.is_empty())),
        (None, Some(n)) => (TokenDataset::synthetic(config, n, a.optimizer.seed as u32), None),
        _ => return Err(magnets::Error::Other("give exactly one of --data FILE or --synthetic N".into())),
    };
    if a.augment.flip {
        let f = flipped_tokens(a)?;
        eprintln!("flip augmentation: {} + {} flipped images", data.len(), f.len());
        data.extend(&f)?;
    }
    data.check(config)?;
    if let Some(v) = &val {
        v.check(config)?;
    }
    Ok((data, val))
}
