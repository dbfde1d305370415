//! How a frame-FID interval should resample predicted clips (docs/RESULTS.md "Frame-FID
//! intervals"). A clip's frames look alike and the predictions of one held-out clip share its
//! given frame, so frames are not independent draws; resampling whole clips is the textbook
//! remedy. This measures both against what independent repeats of the prediction show: an
//! `eval-clips --per-clip K` row holds K predictions of every held-out clip, each repeat with its
//! own decode seeds, so the K repeats' FIDs (and gaps) against the fixed reference spread as the
//! predictions' own noise does at one repeat's size.
//!
//! ```text
//! cargo run --release --example frame_fid_resampling -- --classifier models/all-art/classifier.safetensors \
//!     --clips data/anim32-noto.safetensors --baseline XL12.features.safetensors --other S3M3L3XL3.features.safetensors
//! ```
//! (the rows from `magnets eval-clips … --per-clip 4 --features-out F`; `--other` is optional)

use std::path::PathBuf;

use clap::Parser;
use magnets::metrics::classifier::{Classifier, FEATURES};
use magnets::metrics::paired::SampleFeatures;
use magnets::metrics::stats::{frechet_distance, mean_cov};

#[derive(Parser)]
struct Args {
    /// FID classifier the rows were scored with.
    #[arg(long)]
    classifier: PathBuf,
    /// The clip file the rows were scored against (its held-out clips are the reference).
    #[arg(long)]
    clips: PathBuf,
    /// An `eval-clips --features-out` row (several predictions per held-out clip).
    #[arg(long)]
    baseline: PathBuf,
    /// Another row of the same draws, for the gap.
    #[arg(long)]
    other: Option<PathBuf>,
    #[arg(long, default_value_t = 100)]
    replicates: usize,
}

fn fid(a: &[f32], b: &[f32]) -> f64 {
    let (m1, c1) = mean_cov(a, FEATURES);
    let (m2, c2) = mean_cov(b, FEATURES);
    frechet_distance(&m1, &c1, &m2, &c2)
}

fn rows(x: &[f32], idx: &[usize]) -> Vec<f32> {
    idx.iter().flat_map(|&i| x[i * FEATURES..(i + 1) * FEATURES].iter().copied()).collect()
}

/// Mean and standard deviation.
fn spread(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len() as f64;
    (m, (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1).max(1) as f64).sqrt())
}

/// A resampling of `count` units with replacement.
fn draw(count: usize, rng: &mut u64) -> Vec<usize> {
    (0..count).map(|_| (magnets::tokenizer::train::splitmix(rng) % count as u64) as usize).collect()
}

/// The frame rows of clip units `units` in each of `repeats` blocks of `clips` clips × `frames` frames.
fn clip_rows(units: &[usize], clips: usize, repeats: usize, frames: usize) -> Vec<usize> {
    (0..repeats).flat_map(|r| units.iter().flat_map(move |&c| (0..frames).map(move |k| (r * clips + c) * frames + k))).collect()
}

fn main() -> magnets::Result<()> {
    let a = Args::parse();
    let device = burn::tensor::Device::flex();
    let classifier = Classifier::load(&a.classifier, &device)?;
    let clips = magnets::data::anim::AnimDataset::load(&a.clips)?;
    let base = SampleFeatures::load(&a.baseline)?;
    let given = base.draws().clip.as_ref().map_or(1, |c| c.context_frames) as usize;
    let frames = magnets::data::anim::FRAMES - given;
    let held: Vec<usize> = (0..clips.len()).filter(|&i| clips.split[i] == 1).collect();
    let future: Vec<u8> = held.iter().flat_map(|&i| clips.clip(i)[given * magnets::data::IMAGE_BYTES..].to_vec()).collect();
    let (reference, _) = classifier.features_and_predictions(&future, &device)?;
    let n_clips = held.len();
    let repeats = base.count() / (n_clips * frames);
    if repeats * n_clips * frames != base.count() || repeats < 2 {
        return Err(magnets::Error::Data(format!("{}: not several predictions of each of {n_clips} held-out clips", a.baseline.display())));
    }
    let other = a.other.as_ref().map(|p| SampleFeatures::load(p)).transpose()?;
    if let Some(o) = &other {
        o.check_paired_with(&base)?;
    }
    let block = n_clips * frames * FEATURES;
    let repeat = |x: &[f32], r: usize| x[r * block..(r + 1) * block].to_vec();
    println!("{n_clips} held-out clips × {frames} predicted frames × {repeats} repeats; {} replicates", a.replicates);

    // What independent predictions show: each repeat scored alone against the fixed reference.
    let per_repeat: Vec<f64> = (0..repeats).map(|r| fid(&repeat(&base.features, r), &reference)).collect();
    let (m, sd) = spread(&per_repeat);
    println!("baseline FID, whole row {:.2}; per repeat {per_repeat:.2?}: mean {m:.2}, sd {sd:.2}", fid(&base.features, &reference));
    // The bootstraps of one repeat (generated side only, the reference fixed as above).
    let one = repeat(&base.features, 0);
    let mut rng = 0x5EED_u64;
    let boot = |rng: &mut u64, by_clip: bool| -> Vec<f64> {
        (0..a.replicates)
            .map(|_| {
                let idx = if by_clip { clip_rows(&draw(n_clips, rng), n_clips, 1, frames) } else { draw(n_clips * frames, rng) };
                fid(&rows(&one, &idx), &reference)
            })
            .collect()
    };
    for (name, by_clip) in [("frames", false), ("whole clips", true)] {
        let (m, sd) = spread(&boot(&mut rng, by_clip));
        println!("  bootstrap of repeat 1 over {name}: replicates' mean {m:.2}, sd {sd:.2}");
    }

    if let Some(o) = &other {
        let gap = |b: &[f32], x: &[f32], r: &[f32]| fid(x, r) / fid(b, r) - 1.0;
        let per_repeat: Vec<f64> = (0..repeats).map(|r| gap(&repeat(&base.features, r), &repeat(&o.features, r), &reference)).collect();
        let (m, sd) = spread(&per_repeat);
        println!("gap, whole row {:+.4}; per repeat {per_repeat:+.4?}: mean {m:+.4}, sd {sd:.4}", gap(&base.features, &o.features, &reference));
        let (b1, o1) = (repeat(&base.features, 0), repeat(&o.features, 0));
        for (name, by_clip) in [("frames", false), ("whole clips", true)] {
            let reps: Vec<f64> = (0..a.replicates)
                .map(|_| {
                    let idx = if by_clip { clip_rows(&draw(n_clips, &mut rng), n_clips, 1, frames) } else { draw(n_clips * frames, &mut rng) };
                    gap(&rows(&b1, &idx), &rows(&o1, &idx), &reference)
                })
                .collect();
            let (m, sd) = spread(&reps);
            println!("  paired bootstrap of repeat 1 over {name} (reference fixed): replicates' mean {m:+.4}, sd {sd:.4}");
        }
    }
    Ok(())
}
