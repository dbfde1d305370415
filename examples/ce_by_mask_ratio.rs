//! Held-out cross-entropy of every sub-model at fixed mask ratios: where along the decode each
//! width falls behind the full model (docs/RESULTS.md, "Where the paper's split loses").
//!
//! ```text
//! cargo run --release --example ce_by_mask_ratio -- --weights models/magnets-emoji-d256.safetensors \
//!     --tokens models/all-art/emoji_tokens.safetensors --images 512
//! ```
//!
//! Each held-out image gets `round(ratio · N)` masked positions (a seeded choice per image and
//! ratio, the same for every width); the model sees its class and the visible codes, as a
//! decode step does without guidance, and the CE is averaged over the masked positions. Each
//! width's gap to the full width comes with a 95% interval over images (paired: the same images
//! and masks for both widths).

use std::path::PathBuf;

use clap::Parser;
use magnets::engine::{Engine, ForwardRequest};
use magnets::reference::ReferenceEngine;
use magnets::train::TokenDataset;
use magnets::weights::Weights;

#[derive(Parser)]
struct Args {
    /// Model weights.
    #[arg(long)]
    weights: PathBuf,
    /// Token file (`magnets tokenize`); its held-out split is scored.
    #[arg(long)]
    tokens: PathBuf,
    /// How many held-out images (the first ones).
    #[arg(long, default_value_t = 512)]
    images: usize,
    /// Mask ratios; 0.984 leaves one of 64 tokens visible.
    #[arg(long, value_delimiter = ',', default_value = "0.984,0.95,0.9,0.8,0.6,0.4,0.2")]
    ratios: Vec<f64>,
}

fn main() -> magnets::Result<()> {
    let a = Args::parse();
    let weights = Weights::load(&a.weights)?;
    let held_out = TokenDataset::load_split(&a.tokens, 1)?;
    held_out.check(&weights.config)?;
    let c = weights.config.clone();
    let (n, k) = (c.tokens(), c.codebook);
    let images = a.images.clamp(1, held_out.len());
    if let Some(r) = a.ratios.iter().find(|r| !(0.0..=1.0).contains(*r)) {
        return Err(magnets::Error::Other(format!("--ratios: {r} is not in 0..=1")));
    }
    let mut engine = ReferenceEngine::cpu(&weights);
    println!("{images} held-out images of {}; mean CE (nats) over the masked positions", a.tokens.display());
    for &ratio in &a.ratios {
        let count = ((ratio * n as f64).round() as usize).clamp(1, n);
        let mut line = format!("ratio {ratio:.3} ({count} of {n} masked):");
        // Per width, each image's mean CE over its masked positions.
        let mut per_image: Vec<Vec<f64>> = Vec::new();
        for width in 0..c.widths.len() {
            let mut image_ce = Vec::with_capacity(images);
            for start in (0..images).step_by(64) {
                let batch = 64.min(images - start);
                let (mut tokens, mut logit_rows, mut targets, mut classes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for i in start..start + batch {
                    let codes = held_out.image(i);
                    let mut order: Vec<(u32, usize)> =
                        (0..n).map(|p| (magnets::rng::hash(77, i as u32, count as u32, p as u32, 1), p)).collect();
                    order.sort_unstable();
                    let mut masked: Vec<usize> = order[..count].iter().map(|&(_, p)| p).collect();
                    masked.sort_unstable();
                    let mut input = codes.to_vec();
                    for &p in &masked {
                        input[p] = c.mask_id();
                        logit_rows.push(p as u32 + 1);
                        targets.push(codes[p] as usize);
                    }
                    tokens.extend(input);
                    classes.push(held_out.labels[i]);
                }
                pollster::block_on(engine.begin(batch))?;
                let req = ForwardRequest { width, batch, tokens: &tokens, classes: &classes, rows: None, logit_rows: &logit_rows };
                let logits = pollster::block_on(engine.forward(&req))?;
                let ce: Vec<f64> = logits
                    .chunks_exact(k)
                    .zip(&targets)
                    .map(|(row, &target)| {
                        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
                        max + row.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln() - row[target] as f64
                    })
                    .collect();
                image_ce.extend(ce.chunks_exact(count).map(|c| c.iter().sum::<f64>() / count as f64));
            }
            line += &format!(" {} {:.3}", c.width_names[width], mean(&image_ce));
            per_image.push(image_ce);
        }
        let full = per_image.last().expect("at least one width");
        for (width, ce) in per_image.iter().enumerate().take(c.widths.len() - 1) {
            let gaps: Vec<f64> = ce.iter().zip(full).map(|(a, b)| a - b).collect();
            let m = mean(&gaps);
            let sd = (gaps.iter().map(|g| (g - m).powi(2)).sum::<f64>() / (gaps.len().max(2) - 1) as f64).sqrt();
            line += &format!(" | {}−{} {m:.3} ± {:.3}", c.width_names[width], c.width_names[c.widths.len() - 1], 1.96 * sd / (gaps.len() as f64).sqrt());
        }
        println!("{line}");
    }
    Ok(())
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}
