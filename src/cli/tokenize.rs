//! `magnets tokenize`: encode every dataset image with the tokenizer and write the token
//! dataset the transformer trains on, plus (optionally) a contact sheet of held-out originals
//! next to their reconstructions.

use std::path::PathBuf;

use magnets::data::{DEFAULT_DATASET, EmojiDataset, IMAGE_SIZE, Split, to_chw_f32};
use magnets::tokenizer::TokenizerWeights;
use magnets::tokenizer::model::Tokenizer;
use magnets::tokenizer::tokens::TokenDataset;
use magnets::tokenizer::train::evaluate;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = DEFAULT_DATASET)]
    pub data: PathBuf,
    #[arg(long, default_value = "models/tokenizer.safetensors")]
    pub tokenizer: PathBuf,
    #[arg(long, default_value = magnets::tokenizer::tokens::DEFAULT_TOKENS)]
    pub out: PathBuf,
    /// Also write a contact sheet PNG (rows of held-out originals over their reconstructions).
    #[arg(long)]
    pub contact_sheet: Option<PathBuf>,
    /// Write the held-out reconstructions as PNGs into this folder (for the FID floor).
    #[arg(long)]
    pub recon_dir: Option<PathBuf>,
    /// Tokenize the animated clips in this file (`magnets data --anim`) instead of `--data`:
    /// every frame, into a clip token file (`codes [clips, frames·64]`).
    #[arg(long)]
    pub clips: Option<PathBuf>,
}

pub fn run(a: Args) -> magnets::Result<()> {
    if let Some(clips) = &a.clips {
        return tokenize_clips(&a, clips);
    }
    let ds = EmojiDataset::load(&a.data)?;
    let w = TokenizerWeights::load(&a.tokenizer)?;
    if !w.has_encoder() {
        return Err(magnets::Error::Weights(format!("{} has no encoder; cannot tokenize", a.tokenizer.display())));
    }
    let tok = Tokenizer::new(&w, &burn::tensor::Device::flex());
    let (stats, codes, recon) = evaluate(&tok, &to_chw_f32(&ds.images))?;
    let tokens = TokenDataset::from_dataset(&ds, &codes, &w.config)?;
    tokens.save(&a.out)?;
    eprintln!("wrote {} ({} images × {} tokens); all-image PSNR {:.2} dB", a.out.display(), ds.len(), w.config.tokens(), stats.psnr);
    let held = ds.indices(Split::HeldOut);
    let img = 3 * IMAGE_SIZE * IMAGE_SIZE;
    let recon_hwc = |i: usize| -> Vec<u8> {
        let r = &recon[i * img..(i + 1) * img];
        let hw = IMAGE_SIZE * IMAGE_SIZE;
        (0..img).map(|j| (r[(j % 3) * hw + j / 3] * 255.0).round().clamp(0.0, 255.0) as u8).collect()
    };
    if let Some(dir) = &a.recon_dir {
        magnets::files::create_dir(dir)?;
        for &i in &held {
            magnets::data::write_png(&dir.join(format!("{i:05}.png")), &recon_hwc(i), IMAGE_SIZE as u32, IMAGE_SIZE as u32)?;
        }
        // Labels in file-name order, for `eval-images --labels DIR/labels.json`.
        let labels: Vec<u8> = held.iter().map(|&i| ds.labels[i]).collect();
        magnets::files::write(&dir.join("labels.json"), serde_json::to_string(&labels).expect("serialisable"))?;
        eprintln!("wrote {} reconstructions (+ labels.json) to {}", held.len(), dir.display());
    }
    if let Some(path) = &a.contact_sheet {
        // 16 columns × 4 pairs of rows (original over reconstruction), 2× nearest upscale.
        let (cols, pairs, sc) = (16usize, 4usize, 2usize);
        let step = (held.len() / (cols * pairs)).max(1);
        let picks: Vec<usize> = held.iter().step_by(step).take(cols * pairs).copied().collect();
        let cell = IMAGE_SIZE * sc + 2;
        let (wd, ht) = (cols * cell, pairs * 2 * cell + pairs * 4);
        let mut sheet = vec![255u8; wd * ht * 3];
        for (k, &i) in picks.iter().enumerate() {
            let (cx, pr) = (k % cols, k / cols);
            for (row, pix) in [ds.image(i).to_vec(), recon_hwc(i)].into_iter().enumerate() {
                let oy = pr * (2 * cell + 4) + row * cell;
                for y in 0..IMAGE_SIZE * sc {
                    for x in 0..IMAGE_SIZE * sc {
                        let s = ((y / sc) * IMAGE_SIZE + x / sc) * 3;
                        let d = ((oy + y) * wd + cx * cell + x) * 3;
                        sheet[d..d + 3].copy_from_slice(&pix[s..s + 3]);
                    }
                }
            }
        }
        magnets::data::write_png(path, &sheet, wd as u32, ht as u32)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The clip token file, and how well the tokenizer reconstructs the clips' frames (all, and
/// the held-out clips'), against its held-out image PSNR.
fn tokenize_clips(a: &Args, clips: &std::path::Path) -> magnets::Result<()> {
    use magnets::data::anim::{AnimDataset, FRAMES};
    let ds = AnimDataset::load(clips)?;
    let w = TokenizerWeights::load(&a.tokenizer)?;
    if !w.has_encoder() {
        return Err(magnets::Error::Weights(format!("{} has no encoder; cannot tokenize", a.tokenizer.display())));
    }
    let tok = Tokenizer::new(&w, &burn::tensor::Device::flex());
    let (stats, codes, _) = evaluate(&tok, &to_chw_f32(&ds.clips))?;
    let tokens = TokenDataset::from_clips(&ds, &codes, &w.config)?;
    tokens.save(&a.out)?;
    let held: Vec<u8> =
        ds.split.iter().enumerate().filter(|&(_, &s)| s == 1).flat_map(|(i, _)| ds.clip(i).to_vec()).collect();
    let (held_stats, _, _) = evaluate(&tok, &to_chw_f32(&held))?;
    eprintln!(
        "wrote {} ({} clips × {FRAMES} frames × {} tokens); frame PSNR {:.2} dB all, {:.2} dB held-out clips; {} of {} codes used",
        a.out.display(),
        ds.len(),
        w.config.tokens(),
        stats.psnr,
        held_stats.psnr,
        stats.codes_used,
        stats.codebook
    );
    Ok(())
}
