//! What a run writes besides its log: the checkpoint (+ snapshot), held-out CE, sample grids.

use std::path::Path;

use magnets::train::{TokenDataset, TrainLoop, make_batch};
use magnets::weights::Weights;

use crate::cli::common::EngineChoice;
use crate::cli::eval;

/// The run's checkpoint, and its compact snapshot when the run keeps one.
pub fn save_checkpoint(trainer: &dyn TrainLoop, ckpt: &Path, snapshot: Option<&Path>) -> magnets::Result<()> {
    trainer.save_checkpoint(ckpt)?;
    if let Some(dir) = snapshot {
        magnets::train::write_snapshot(ckpt, dir)?;
    }
    Ok(())
}

/// Mean CE per width on the held-out tokens (fixed masks, no class dropout).
pub fn validate(t: &dyn TrainLoop, val: &TokenDataset) -> magnets::Result<Vec<f64>> {
    let mut o = t.options().clone();
    o.seed = 0x0a11_da7a;
    o.class_dropout = 0.0;
    o.loop_frames = false;
    o.changed_token_weight = 1.0;
    o.batch_size = o.batch_size.min(val.len()).max(1);
    let steps = (val.len() / o.batch_size).max(1) as u64;
    let mut sums = vec![0.0; t.config().widths.len()];
    for s in 0..steps {
        let b = make_batch(t.config(), &o, val, s);
        for (w, ce) in t.eval_ce(&b)? {
            sums[w] += ce / steps as f64;
        }
    }
    Ok(sums)
}

/// Decodes four images per class with the MaskGIT baseline schedule and writes them as a grid
/// (one row per class). A clip model continues the first frames of eight held-out clips
/// (`val`) instead: one row per clip, its given frame first.
pub fn sample_grid(weights: &Weights, tokenizer: &Path, out: &Path, val: Option<&TokenDataset>) -> magnets::Result<()> {
    let c = &weights.config;
    let schedule = magnets::schedule::Schedule::resolve("XL12", 12, c)?;
    let cache = magnets::schedule::CachePolicy::On { refresh_every: None };
    let sampling = magnets::sampling::SamplingParams { seed: 0, guidance: 0.0, ..Default::default() };
    if c.is_clip() {
        let val = val.ok_or_else(|| magnets::Error::Data("a clip model's samples continue held-out clips; the run has none".into()))?;
        let picks: Vec<usize> = (0..val.len()).step_by((val.len() / 8).max(1)).take(8).collect();
        let contexts: Vec<Vec<u32>> = picks.iter().map(|&i| val.image(i)[..c.context_tokens()].to_vec()).collect();
        let classes: Vec<u32> = picks.iter().map(|&i| val.labels[i]).collect();
        let (clips, _, _) = eval::generate(weights, &schedule, cache, &classes, &contexts, sampling, EngineChoice::Cpu, 64)?;
        return eval::write_grid(tokenizer, &eval::frames_of(c, &clips), c.frames, out);
    }
    // One row per category: four samples, or for a model split by style one in each style.
    let per_row = if c.styles.is_empty() { 4 } else { c.style_count() };
    let classes: Vec<u32> = (0..c.categories() as u32)
        .flat_map(|k| (0..per_row as u32).map(move |j| c.class_of(k, j % c.style_count() as u32)))
        .collect();
    let (tokens, _, _) = eval::generate(weights, &schedule, cache, &classes, &[], sampling, EngineChoice::Cpu, 64)?;
    eval::write_grid(tokenizer, &tokens, per_row, out)
}
