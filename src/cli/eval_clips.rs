//! `magnets eval-clips`: frame prediction scored the way the paper's video results are read,
//! with what this project has instead of I3D/FVD. Each held-out clip's first frame is given;
//! the model predicts the rest. Scores:
//! - **frame-FID**: the FID classifier's features of the predicted frames 1..F−1 against the
//!   real held-out frames 1..F−1 (pixels), with a bootstrap interval over frames (see
//!   `magnets::metrics` on why not over whole clips);
//! - **motion**: mean absolute frame-to-frame change of the predicted clips against the real
//!   clips' (a model that copies frame 0 scores 0), and against the real clips' own codes
//!   decoded (the tokenizer's smoothing included);
//! - **PSNR** of the predicted frames against the real ones (a plausible future need not be the
//!   recorded one, so this is read next to the copy-frame-0 baseline printed beside it).

use std::path::PathBuf;

use magnets::data::IMAGE_BYTES;
use magnets::data::anim::{AnimDataset, clip_motion};
use magnets::decode::MAX_IMAGES;
use magnets::sampling::SamplingParams;
use magnets::tokenizer::tokens::TokenDataset;
use magnets::weights::Weights;

use super::common::{DecodeArgs, check_count, tokenizer_path, weights_path};
use super::eval::{decode_images, frames_of, generate, write_image_grid};

#[derive(clap::Args)]
pub struct Args {
    /// Clip model weights (frame prediction).
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Clip token file (`magnets tokenize --clips`): the held-out clips' given frames.
    #[arg(long, default_value = "models/anim/anim_tokens.safetensors")]
    pub tokens: PathBuf,
    /// The clips themselves (`magnets data --anim`): the real frames scored against.
    #[arg(long, default_value = "data/anim32.safetensors")]
    pub clips: PathBuf,
    /// Predictions per held-out clip (each with its own seed).
    #[arg(long, default_value_t = 4)]
    pub per_clip: usize,
    /// Base seed; the run's batch k (over all repeats) decodes with seed `seed + k`, so runs
    /// whose seeds differ by at least their batch count share no random draws.
    #[arg(long, default_value_t = 0)]
    pub seed: u32,
    /// VQ tokenizer (decoder); defaults to the one shipped with the weights.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// FID classifier weights.
    #[arg(long, default_value = magnets::metrics::DEFAULT_CLASSIFIER)]
    pub classifier: PathBuf,
    /// Clips per batch (1..=64).
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Also write strips here: for 12 held-out clips, the real clip over its prediction.
    #[arg(long)]
    pub strips: Option<PathBuf>,
    /// Also keep the predicted frames' FID features here, for `magnets fid-gap --clips`: the
    /// gap between two schedules' predictions of the same draws, with a paired interval.
    #[arg(long)]
    pub features_out: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// Mean PSNR (dB) of frames `from..to` of each predicted clip against the same frames of its real clip.
fn psnr_frames(predicted: &[Vec<u8>], real: &[&[u8]], from: usize, to: usize) -> f64 {
    let mut sum = 0.0;
    for (p, r) in predicted.iter().zip(real) {
        let a = &p[from * IMAGE_BYTES..to * IMAGE_BYTES];
        let b = &r[from * IMAGE_BYTES..to * IMAGE_BYTES];
        let mse = a.iter().zip(b).map(|(&x, &y)| ((x as f64 - y as f64) / 255.0).powi(2)).sum::<f64>() / a.len() as f64;
        sum += 10.0 * (1.0 / mse.max(1e-10)).log10();
    }
    sum / predicted.len().max(1) as f64
}

fn mean_motion(clips: impl Iterator<Item = impl AsRef<[u8]>>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for c in clips {
        sum += clip_motion(c.as_ref()) as f64;
        n += 1;
    }
    sum / n.max(1) as f64
}

pub fn run(a: Args) -> magnets::Result<()> {
    let per_clip = check_count("--per-clip", a.per_clip, 64)?;
    check_count("--batch", a.batch, MAX_IMAGES)?;
    let weights_file = weights_path(&a.weights)?;
    let weights = Weights::load(&weights_file)?;
    let config = weights.config.clone();
    if !config.is_clip() || config.context_frames == 0 {
        return Err(magnets::Error::Config(format!(
            "{} generates images, not frames; score it with `magnets eval`",
            weights_file.display()
        )));
    }
    let tokenizer_file = tokenizer_path(&a.tokenizer, &weights_file)?;
    super::load_tokenizer_for(&tokenizer_file, &config)?;
    let tokens = TokenDataset::load(&a.tokens)?;
    let clips = AnimDataset::load(&a.clips)?;
    if tokens.meta.frames != config.frames || tokens.tokens_per_image() != config.tokens() {
        return Err(magnets::Error::Data(format!(
            "{}: clips of {} frames × {:?} tokens; the model predicts {} frames × {:?}",
            a.tokens.display(),
            tokens.meta.frames,
            tokens.meta.grid,
            config.frames,
            config.grid
        )));
    }
    if tokens.len() != clips.len() || tokens.labels != clips.labels || tokens.split != clips.split {
        return Err(magnets::Error::Data(format!(
            "{} was not made from {} (clip counts, labels or split differ): rerun `magnets tokenize --clips`",
            a.tokens.display(),
            a.clips.display()
        )));
    }
    let frames = config.frames;
    let given = config.context_frames;
    let held = tokens.indices(true);
    let ev = {
        let classifier = magnets::metrics::classifier::Classifier::load(&a.classifier, &burn::tensor::Device::flex())?;
        magnets::metrics::QualityEvaluator::for_clips(classifier, &clips, given)?
    };
    // Output folders too: a bad path must not cost the decode.
    for file in [&a.strips, &a.features_out].into_iter().flatten() {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            magnets::files::create_dir(dir)?;
        }
    }

    // Every held-out clip `per_clip` times; the repeats' batches are numbered on from each other
    // (repeat r starts at seed + r·batches), so a selection seed never replays a test seed's draws.
    let contexts: Vec<Vec<u32>> =
        held.iter().map(|&i| tokens.image_codes(i)[..config.context_tokens()].iter().map(|&c| c as u32).collect()).collect();
    let classes: Vec<u32> = held.iter().map(|&i| tokens.labels[i] as u32).collect();
    let schedule = a.decode.schedule(&config)?;
    let cache = a.decode.cache_policy()?;
    let start = web_time::Instant::now();
    let (mut predicted, mut flops, mut base) = (Vec::new(), 0u64, 0u64);
    let batches_per_repeat = held.len().div_ceil(a.batch) as u32;
    let settings = a.decode.sampling(a.seed, &weights_file)?;
    for r in 0..per_clip as u32 {
        let sampling = SamplingParams { seed: a.seed.wrapping_add(r * batches_per_repeat), ..settings };
        let (t, f, b) = generate(&weights, &schedule, cache, &classes, &contexts, sampling, a.decode.engine, a.batch)
            .map_err(|e| e.blame_file(&weights_file))?;
        predicted.extend(t);
        flops += f;
        base += b;
    }
    let gen_seconds = start.elapsed().as_secs_f64();

    // Decoded clips, HWC u8, frames concatenated.
    let decoded: Vec<Vec<u8>> = decode_images(&tokenizer_file, &frames_of(&config, &predicted))?
        .chunks(frames)
        .map(|fs| fs.iter().flat_map(|f| magnets::tokenizer::to_u8(f)).collect())
        .collect();
    let real: Vec<&[u8]> = (0..per_clip).flat_map(|_| held.iter().map(|&i| clips.clip(i))).collect();
    let future: Vec<u8> = decoded.iter().flat_map(|c| c[given * IMAGE_BYTES..].to_vec()).collect();
    let (m, features) = ev.evaluate_keeping_features(&future, None)?;
    // The trivial predictor: the last given frame (as the tokenizer reconstructs it) held still.
    let last_given = (given - 1) * IMAGE_BYTES..given * IMAGE_BYTES;
    let copied: Vec<Vec<u8>> = decoded.iter().map(|c| c[last_given.clone()].repeat(frames)).collect();
    let real_motion = mean_motion(held.iter().map(|&i| clips.clip(i)));
    // The real clips' own codes decoded: the motion a perfect token predictor would show (the
    // tokenizer smooths detail, which changes frame-to-frame differences).
    let true_codes: Vec<Vec<u32>> =
        held.iter().map(|&i| tokens.image_codes(i).iter().map(|&c| c as u32).collect()).collect();
    let recon_motion = mean_motion(
        decode_images(&tokenizer_file, &frames_of(&config, &true_codes))?
            .chunks(frames)
            .map(|fs| fs.iter().flat_map(|f| magnets::tokenizer::to_u8(f)).collect::<Vec<u8>>()),
    );
    let predicted_motion = mean_motion(decoded.iter());

    if let Some(path) = &a.strips {
        // Real clip over prediction, for 12 clips spread over the held-out set.
        let step = (held.len() / 12).max(1);
        let mut images = Vec::new();
        for j in (0..held.len()).step_by(step).take(12) {
            let as_f32 = |c: &[u8]| -> Vec<Vec<f32>> {
                c.chunks(IMAGE_BYTES).map(|f| f.iter().map(|&v| v as f32 / 255.0).collect()).collect()
            };
            images.extend(as_f32(clips.clip(held[j])));
            images.extend(as_f32(&decoded[j]));
        }
        write_image_grid(&images, frames, path)?;
    }

    let n = predicted.len().max(1) as f64;
    let mut out = serde_json::json!({
        "schedule": schedule.format(&config),
        "cache": cache.format(),
        "clips": predicted.len(),
        "held_out_clips": held.len(),
        "per_clip": per_clip,
        "seed": a.seed,
        // The decode seeds used, first and last: two runs compare honestly when these are disjoint.
        "seeds": [a.seed, a.seed.wrapping_add(per_clip as u32 * batches_per_repeat - 1)],
        "temperature": settings.temperature,
        "noise": settings.confidence_noise,
        "guidance": settings.guidance,
        "guidance_schedule": settings.guidance_schedule,
        "frame_fid": m.fid,
        "frame_fid_ci95": m.fid_ci95,
        "precision": m.precision,
        "recall": m.recall,
        "motion": predicted_motion,
        "real_motion": real_motion,
        "real_recon_motion": recon_motion,
        "motion_ratio": predicted_motion / real_motion.max(1e-9),
        "future_psnr": psnr_frames(&decoded, &real, given, frames),
        "copy_first_frame_psnr": psnr_frames(&copied, &real, given, frames),
        // The given frames through the tokenizer: the ceiling of any prediction's PSNR.
        "given_frame_psnr": psnr_frames(&decoded, &real, 0, given),
        "gflops_per_clip": flops as f64 / n / 1e9,
        "baseline_gflops_per_clip": base as f64 / n / 1e9,
        "flops_ratio": base as f64 / flops.max(1) as f64,
        "generate_seconds": gen_seconds,
        "engine": a.decode.engine.name(),
    });
    if let Some(path) = &a.features_out {
        // A clip row's samples are its predicted clips, scored against the held-out clips' frames.
        let mut row = out.clone();
        row["samples"] = predicted.len().into();
        row["context_frames"] = given.into();
        row["reference"] = "clips".into();
        let scores = [
            "frame_fid", "frame_fid_ci95", "precision", "recall", "motion", "real_motion", "real_recon_motion", "motion_ratio",
            "future_psnr", "copy_first_frame_psnr", "given_frame_psnr", "generate_seconds",
        ];
        let files = [("classifier", a.classifier.as_path()), ("data", a.clips.as_path()), ("tokens", a.tokens.as_path())];
        let draws = magnets::metrics::paired::draws_of_row(&row, &scores, a.batch, &weights_file, &files)?;
        // Each predicted frame's category: prediction k continues held-out clip k mod held (repeat-major).
        let frame_labels: Vec<u32> = (0..predicted.len()).flat_map(|k| std::iter::repeat_n(classes[k % held.len()], frames - given)).collect();
        let file = magnets::metrics::paired::SampleFeatures::new(features, frame_labels, draws);
        magnets::files::write(path, file.to_safetensors()?)?;
        out["features_out"] = path.display().to_string().into();
    }
    super::common::print_result(&out, a.json)?;
    Ok(())
}
