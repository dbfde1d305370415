//! `magnets eval`: class-balanced generation with a schedule, decoded to images by the VQ
//! tokenizer, scored with FID-emoji, precision/recall and class accuracy (the data issue's
//! metrics), plus the GFLOPs per image the decode actually spent.

use std::path::{Path, PathBuf};

use magnets::decode::{DecodeRequest, MAX_IMAGES, decode};
use magnets::sampling::SamplingParams;
use magnets::tokenizer::TokenizerWeights;
use magnets::weights::Weights;

use magnets::schedule::{CachePolicy, Schedule};

use super::common::{DecodeArgs, EngineChoice, check_count, tokenizer_path, weights_path};

/// Most images one `eval` scores (every image is held in memory; the reported rows use 10,000).
pub const MAX_EVAL_SAMPLES: usize = 100_000;

#[derive(clap::Args)]
pub struct Args {
    /// Weights file; defaults to the shipped model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Number of images, class-balanced (image i has class i mod C).
    #[arg(long, default_value_t = 1000)]
    pub samples: usize,
    /// Base seed; batch j of at most 64 images decodes with seed `seed + j`.
    #[arg(long, default_value_t = 0)]
    pub seed: u32,
    /// VQ tokenizer weights (decoder) for turning codes into images; defaults to the one
    /// shipped with the weights (models/models.json).
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Also write a sample grid PNG here (first 8 images of each class, one row per class).
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// Images per batch (1..=64).
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// FID-emoji classifier weights.
    #[arg(long, default_value = magnets::metrics::DEFAULT_CLASSIFIER)]
    pub classifier: PathBuf,
    /// Emoji dataset; its held-out split is the FID reference set.
    #[arg(long, default_value = magnets::data::DEFAULT_DATASET)]
    pub data: PathBuf,
    /// Also write every image as a PNG (`<index>_<class>.png`) into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also keep the images' FID features in this file (safetensors), so that `magnets fid-gap`
    /// can compare this row with another of the same draws.
    #[arg(long)]
    pub features_out: Option<PathBuf>,
}

/// Decode of `classes.len()` images (or clips, each continuing its entry of `contexts`; empty
/// for an image model); returns the final codes and the FLOPs spent (all images together).
#[allow(clippy::too_many_arguments)]
pub fn generate(
    weights: &Weights,
    schedule: &Schedule,
    cache: CachePolicy,
    classes: &[u32],
    contexts: &[Vec<u32>],
    sampling: SamplingParams,
    engine: EngineChoice,
    batch: usize,
) -> magnets::Result<(Vec<Vec<u32>>, u64, u64)> {
    let batch = check_count("--batch", batch, MAX_IMAGES)?;
    let mut tokens = Vec::with_capacity(classes.len());
    let (mut flops, mut base) = (0u64, 0u64);
    let mut run = |e: &mut dyn FnMut(&DecodeRequest) -> magnets::Result<magnets::decode::DecodeTrace>| -> magnets::Result<()> {
        for (j, chunk) in classes.chunks(batch).enumerate() {
            let req = DecodeRequest {
                context: contexts.chunks(batch).nth(j).map_or_else(Vec::new, <[_]>::to_vec),
                schedule: schedule.clone(),
                cache,
                classes: chunk.to_vec(),
                sampling: SamplingParams { seed: sampling.seed.wrapping_add(j as u32), ..sampling },
            };
            let trace = e(&req)?;
            flops += trace.total_flops * chunk.len() as u64;
            base += trace.baseline_flops * chunk.len() as u64;
            tokens.extend(trace.tokens);
        }
        Ok(())
    };
    if engine == EngineChoice::Gpu {
        super::gpu_engine(weights, |e| run(&mut |r| pollster::block_on(decode(e, r, |_| {}))))?;
    } else {
        let mut e = engine.reference(weights)?;
        run(&mut |r| pollster::block_on(decode(&mut e, r, |_| {})))?;
    }
    Ok((tokens, flops, base))
}

/// Decodes codes to `[32·32·3]` HWC RGB images in [0, 1] with the plain-Rust VQ decoder.
pub fn decode_images(tokenizer: &Path, tokens: &[Vec<u32>]) -> magnets::Result<Vec<Vec<f32>>> {
    let tw = TokenizerWeights::load(tokenizer)?;
    decode_with(&tw, tokenizer, tokens)
}

fn decode_with(tw: &TokenizerWeights, path: &Path, tokens: &[Vec<u32>]) -> magnets::Result<Vec<Vec<f32>>> {
    use rayon::prelude::*;
    // One image at a time on each core: an evaluation decodes thousands (order is kept).
    tokens.par_iter().map(|t| magnets::tokenizer::try_cpu_decode(tw, t).map_err(|e| e.blame_file(path))).collect()
}

/// Splits clips' codes `[clips][frames·h·w]` into their frames' `[clips·frames][h·w]`.
pub fn frames_of(config: &magnets::config::ModelConfig, clips: &[Vec<u32>]) -> Vec<Vec<u32>> {
    clips.iter().flat_map(|c| c.chunks(config.frame_tokens()).map(<[u32]>::to_vec)).collect()
}

/// Writes decoded images as a grid with `cols` images per row (1 px white gutter).
pub fn write_grid(tokenizer: &Path, tokens: &[Vec<u32>], cols: usize, out: &Path) -> magnets::Result<()> {
    let images = decode_images(tokenizer, tokens)?;
    write_image_grid(&images, cols, out)
}

pub fn write_image_grid(images: &[Vec<f32>], cols: usize, out: &Path) -> magnets::Result<()> {
    // 2× nearest-neighbour upscale so 32×32 emoji are visible in docs.
    let z = 2;
    let s = ((images.first().map_or(0, |i| i.len()) / 3) as f64).sqrt() as usize;
    let cols = cols.max(1);
    let rows = images.len().div_ceil(cols);
    let cell = s * z + 2;
    let (w, h) = (cols * cell + 2, rows * cell + 2);
    let mut rgb = vec![255u8; w * h * 3];
    for (i, img) in images.iter().enumerate() {
        let (r, c) = (i / cols, i % cols);
        let px = magnets::tokenizer::to_u8(img);
        for y in 0..s * z {
            for x in 0..s * z {
                let dst = (((r * cell + 2 + y) * w) + c * cell + 2 + x) * 3;
                let src = ((y / z) * s + x / z) * 3;
                rgb[dst..dst + 3].copy_from_slice(&px[src..src + 3]);
            }
        }
    }
    if let Some(d) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        magnets::files::create_dir(d)?;
    }
    magnets::data::write_png(out, &rgb, w as u32, h as u32)
}

/// Training images per (category, style) of a model split by style, from the dataset of the
/// FID reference (`--data`): its vendors matched to the model's styles by name.
fn train_style_counts(data: &Path, config: &magnets::config::ModelConfig) -> magnets::Result<Vec<Vec<u32>>> {
    let ds = magnets::data::EmojiDataset::load(data)?;
    let mut counts = vec![vec![0u32; config.style_count()]; config.categories()];
    for i in ds.indices(magnets::data::Split::Train) {
        let vendor = &ds.vendors[ds.vendor[i] as usize];
        if let (Some(style), Some(row)) = (config.styles.iter().position(|s| s == vendor), counts.get_mut(ds.labels[i] as usize)) {
            row[style] += 1;
        }
    }
    Ok(counts)
}

pub fn run(a: Args) -> magnets::Result<()> {
    // FID needs at least two images; every limit is checked before anything is allocated.
    if a.samples < 2 || a.samples > MAX_EVAL_SAMPLES {
        return Err(magnets::Error::Other(format!("--samples {}: use 2 to {MAX_EVAL_SAMPLES}", a.samples)));
    }
    check_count("--batch", a.batch, MAX_IMAGES)?;
    let weights_file = weights_path(&a.weights)?;
    let weights = Weights::load(&weights_file)?;
    let config = weights.config.clone();
    if config.is_clip() {
        return Err(magnets::Error::Config(format!(
            "{} is a clip model (frame prediction); score it with `magnets eval-clips`",
            weights_file.display()
        )));
    }
    // The tokenizer (and its fit to the model) is checked before minutes of decoding.
    let tokenizer_file = tokenizer_path(&a.tokenizer, &weights_file)?;
    let tokenizer = super::load_tokenizer_for(&tokenizer_file, &config)?;
    let ev = magnets::metrics::QualityEvaluator::load(&a.classifier, &a.data)?;
    // Output folders too: a bad --out must not cost the decode.
    let parent = |f: &Option<PathBuf>| f.as_ref().and_then(|g| g.parent()).filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf);
    for dir in [a.out.clone(), parent(&a.grid), parent(&a.features_out)].into_iter().flatten() {
        magnets::files::create_dir(&dir)?;
    }
    // Class-balanced: categories in turn (and, for a model split by style, each category's
    // styles in the proportions of the training images, the mix the real reference images
    // have); the FID classifier and the grid rows see categories.
    let c = config.categories() as u32;
    let classes: Vec<u32> = if config.styles.is_empty() {
        (0..a.samples as u32).map(|i| config.balanced_class(i)).collect()
    } else {
        let counts = train_style_counts(&a.data, &config)?;
        (0..a.samples as u32).map(|i| config.proportional_class(i, &counts)).collect()
    };
    let categories: Vec<u32> = classes.iter().map(|&k| config.category_of(k)).collect();
    let sampling = a.decode.sampling(a.seed, &weights_file)?;
    let schedule = a.decode.schedule(&config)?;
    let cache = a.decode.cache_policy()?;
    let start = web_time::Instant::now();
    let (tokens, flops, base) = generate(&weights, &schedule, cache, &classes, &[], sampling, a.decode.engine, a.batch)
        .map_err(|e| e.blame_file(&weights_file))?;
    let gen_seconds = start.elapsed().as_secs_f64();
    let images = decode_with(&tokenizer, &tokenizer_file, &tokens)?;
    if let Some(g) = &a.grid {
        // Up to 8 per category, one row per category.
        let per = 8.min(a.samples / c as usize).max(1);
        let mut pick = Vec::new();
        for k in 0..c as usize {
            pick.extend((0..per).filter_map(|j| images.get(k + j * c as usize).cloned()));
        }
        write_image_grid(&pick, per, g)?;
    }
    let u8_images: Vec<Vec<u8>> = images.iter().map(|i| magnets::tokenizer::to_u8(i)).collect();
    if let Some(dir) = &a.out {
        magnets::files::create_dir(dir)?;
        let s = magnets::data::IMAGE_SIZE as u32;
        for (i, (img, k)) in u8_images.iter().zip(&classes).enumerate() {
            magnets::data::write_png(&dir.join(format!("{i:05}_{k}.png")), img, s, s)?;
        }
    }
    let (m, features) = ev.evaluate_keeping_features(&u8_images.concat(), Some(&categories))?;
    let n = a.samples.max(1) as f64;
    let mut out = serde_json::json!({
        "schedule": schedule.format(&config),
        "cache": cache.format(),
        "samples": a.samples,
        "seed": a.seed,
        // The decode seeds used, first and last (batch j decodes with seed + j): two runs
        // compare honestly when these are disjoint.
        "seeds": [a.seed, a.seed.wrapping_add(a.samples.div_ceil(a.batch).max(1) as u32 - 1)],
        "temperature": sampling.temperature,
        "noise": sampling.confidence_noise,
        "guidance": sampling.guidance,
        "guidance_schedule": sampling.guidance_schedule,
        "fid": m.fid,
        "fid_ci95": m.fid_ci95,
        "precision": m.precision,
        "recall": m.recall,
        "class_accuracy": m.class_accuracy,
        "class_accuracy_by_class": m.class_accuracy_by_class,
        "gflops_per_image": flops as f64 / n / 1e9,
        "baseline_gflops_per_image": base as f64 / n / 1e9,
        "flops_ratio": base as f64 / flops.max(1) as f64,
        "generate_seconds": gen_seconds,
        "engine": a.decode.engine.name(),
    });
    if let Some(path) = &a.features_out {
        let scores = ["fid", "fid_ci95", "precision", "recall", "class_accuracy", "class_accuracy_by_class", "generate_seconds"];
        let files = [("classifier", a.classifier.as_path()), ("data", a.data.as_path())];
        let draws = magnets::metrics::paired::draws_of_row(&out, &scores, a.batch, &weights_file, &files)?;
        let file = magnets::metrics::paired::SampleFeatures::new(features, categories.clone(), draws);
        magnets::files::write(path, file.to_safetensors()?)?;
        out["features_out"] = path.display().to_string().into();
    }
    super::common::print_result(&out, a.json)?;
    Ok(())
}

