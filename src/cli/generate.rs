//! `magnets generate`: decode a batch of images (or, with a clip model, continue held-out clips
//! from their first frame) with a schedule; writes the trace (tokens, per-step widths, rows,
//! FLOPs, timings) as JSON, and PNGs (a strip per clip) when a tokenizer is given.

use std::path::PathBuf;

use magnets::decode::{DecodeRequest, DecodeTrace, MAX_IMAGES, decode};

use super::common::{DecodeArgs, check_count, tokenizer_path, weights_path};

#[derive(clap::Args)]
pub struct Args {
    /// Weights file; defaults to the shipped model.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Class id or name per image, comma separated; a single value is repeated `--batch` times.
    /// `null` (or the class count) asks for unconditional images. Default: 0 (a clip model:
    /// each start clip's own category).
    #[arg(long)]
    pub class: Option<String>,
    /// Images (1..=64); defaults to the number of classes listed.
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u32,
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Output directory: trace.json (+ PNGs with a tokenizer).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// VQ tokenizer weights for the PNGs written into `--out`; defaults to the one shipped with
    /// the weights (models/models.json).
    #[arg(long, requires = "out")]
    pub tokenizer: Option<PathBuf>,
    /// Clip models: the clips whose first frame each prediction starts from, comma separated —
    /// a held-out clip's number (0..) or its emoji's short name (`rocket`). Their categories
    /// are the classes unless `--class` is given.
    #[arg(long, default_value = "0")]
    pub start: String,
    /// Clip models: the clip token file the starts come from (`magnets tokenize --clips`).
    #[arg(long, default_value = "models/anim/anim_tokens.safetensors")]
    pub clips_tokens: PathBuf,
    /// Clip models, instead of `--start`: the given frame as its codes, comma separated in
    /// row-major order (e.g. a generated emoji's, as the page's Reproduce box gives them). Every
    /// clip continues it: one clip per `--class` (unconditional without one), or `--batch`.
    #[arg(long, conflicts_with = "start")]
    pub context: Option<String>,
}

/// `--context`: one given frame's codes, each checked against the model.
fn parse_context(text: &str, config: &magnets::config::ModelConfig) -> magnets::Result<Vec<u32>> {
    let want = config.context_tokens();
    let codes: Vec<&str> = text.split(',').take(want + 1).map(str::trim).collect();
    if codes.len() != want {
        let n = if codes.len() > want { format!("more than {want}") } else { codes.len().to_string() };
        return Err(magnets::Error::Other(format!("--context holds {n} codes; this model's given frames hold {want}")));
    }
    codes
        .iter()
        .map(|s| match s.parse::<u32>() {
            Ok(c) if (c as usize) < config.codebook => Ok(c),
            _ => Err(magnets::Error::Other(format!("--context: `{s}` is not a code of this model (0..{})", config.codebook))),
        })
        .collect()
}

/// A clip model's contexts and classes: the first frames of the held-out clips `--start` names.
fn clip_starts(a: &Args, config: &magnets::config::ModelConfig) -> magnets::Result<(Vec<Vec<u32>>, Vec<u32>)> {
    let t = magnets::tokenizer::tokens::TokenDataset::load(&a.clips_tokens)?;
    if t.tokens_per_image() != config.tokens() || t.meta.codebook != config.codebook {
        return Err(magnets::Error::Data(format!(
            "{}: clips of {} tokens from a {}-code tokenizer; the model expects {} tokens and {} codes",
            a.clips_tokens.display(),
            t.tokens_per_image(),
            t.meta.codebook,
            config.tokens(),
            config.codebook
        )));
    }
    let held = t.indices(true);
    let mut picks = Vec::new();
    for s in a.start.split(',').take(MAX_IMAGES + 1).map(str::trim) {
        let i = match s.parse::<usize>() {
            Ok(k) => *held.get(k).ok_or_else(|| {
                magnets::Error::Other(format!("--start {k}: there are {} held-out clips (0..{})", held.len(), held.len() - 1))
            })?,
            Err(_) => *held.iter().find(|&&i| t.meta.names[i].eq_ignore_ascii_case(s)).ok_or_else(|| {
                magnets::Error::Other(format!("--start `{s}`: no held-out clip of that name (e.g. {})", t.meta.names[held[0]]))
            })?,
        };
        picks.push(i);
    }
    if picks.len() > MAX_IMAGES {
        return Err(magnets::Error::Other(format!("--start lists more than {MAX_IMAGES} clips")));
    }
    let contexts = picks.iter().map(|&i| t.image_codes(i)[..config.context_tokens()].iter().map(|&c| c as u32).collect()).collect();
    Ok((contexts, picks.iter().map(|&i| t.labels[i] as u32).collect()))
}

/// One class per image: a single value repeated `batch` times (default once), or a list whose
/// length `--batch` must then match.
pub fn parse_classes(text: &str, batch: Option<usize>, config: &magnets::config::ModelConfig) -> magnets::Result<Vec<u32>> {
    let one = |s: &str| -> magnets::Result<u32> {
        let s = s.trim();
        if s == "null" {
            return Ok(config.null_class());
        }
        if let Ok(i) = s.parse::<u32>() {
            if i <= config.null_class() {
                return Ok(i);
            }
        }
        config
            .class_names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .map(|i| i as u32)
            .ok_or_else(|| magnets::Error::Decode(format!("--class: unknown class `{s}`; classes: {}", config.class_names.join(", "))))
    };
    let list: Vec<u32> = text.split(',').take(MAX_IMAGES + 1).map(one).collect::<magnets::Result<_>>()?;
    if list.len() > MAX_IMAGES {
        return Err(magnets::Error::Other(format!("--class lists more than {MAX_IMAGES} classes (one per image)")));
    }
    let batch = check_count("--batch", batch.unwrap_or(list.len()), MAX_IMAGES)?;
    match list.len() {
        1 => Ok(vec![list[0]; batch]),
        n if n == batch => Ok(list),
        n => Err(magnets::Error::Other(format!("--class lists {n} classes but --batch is {batch}"))),
    }
}

pub fn run(a: Args) -> magnets::Result<()> {
    let weights_file = weights_path(&a.weights)?;
    let weights = magnets::weights::Weights::load(&weights_file)?;
    let config = weights.config.clone();
    // Everything that can be refused is checked before the decode, so an error costs nothing.
    // PNGs need a tokenizer that fits the model: a given one must; the shipped one is skipped
    // (trace only) when the weights are some other model's.
    let tokenizer = match (&a.out, &a.tokenizer) {
        (None, _) => None,
        (Some(_), Some(p)) => Some((super::load_tokenizer_for(p, &config)?, p.clone())),
        (Some(_), None) => {
            let p = tokenizer_path(&None, &weights_file)?;
            match super::load_tokenizer_for(&p, &config) {
                Ok(t) => Some((t, p)),
                Err(e) => {
                    eprintln!("note: no PNGs ({}); pass --tokenizer", e.detail());
                    None
                }
            }
        }
    };
    if let Some(dir) = &a.out {
        magnets::files::create_dir(dir)?;
    }
    let (context, classes) = if let Some(codes) = &a.context {
        if config.context_frames == 0 {
            return Err(magnets::Error::Other("--context is for clip models; these weights make whole images".into()));
        }
        let frame = parse_context(codes, &config)?;
        let classes = parse_classes(a.class.as_deref().unwrap_or("null"), a.batch, &config)?;
        (vec![frame; classes.len()], classes)
    } else if config.context_frames > 0 {
        let (context, labels) = clip_starts(&a, &config)?;
        let classes = match &a.class {
            None => labels,
            Some(c) => parse_classes(c, Some(context.len()), &config)?,
        };
        (context, classes)
    } else {
        (Vec::new(), parse_classes(a.class.as_deref().unwrap_or("0"), a.batch, &config)?)
    };
    let req = DecodeRequest {
        context,
        schedule: a.decode.schedule(&config)?,
        cache: a.decode.cache_policy()?,
        classes,
        sampling: a.decode.sampling(a.seed, &weights_file)?,
    };
    let print_step = |s: &magnets::decode::StepTrace| {
        eprintln!(
            "step {:>3} {:>3} {:<7} rows {:>4} masked {:>4}→{:<4} {:>9.4} GFLOPs {:>8.1} ms",
            s.cost.step,
            s.cost.width_name,
            if s.cost.refresh { "refresh" } else { "cached" },
            s.cost.rows,
            s.cost.masked_before,
            s.cost.masked_after,
            s.cost.flops as f64 / 1e9,
            s.ms
        )
    };
    let trace: DecodeTrace = match a.decode.gpu() {
        false => a.decode.engine.reference(&weights).and_then(|mut e| pollster::block_on(decode(&mut e, &req, print_step))),
        true => super::gpu_engine(&weights, |e| pollster::block_on(decode(e, &req, print_step))),
    }
    .map_err(|e| e.blame_file(&weights_file))?;
    eprintln!(
        "{}: {} images, {:.4} GFLOPs/image vs baseline {:.4} ({:.2}x less), {:.1} ms",
        trace.engine,
        trace.classes.len(),
        trace.total_flops as f64 / 1e9,
        trace.baseline_flops as f64 / 1e9,
        trace.flops_ratio(),
        trace.ms
    );
    match &a.out {
        Some(dir) => {
            magnets::files::create_dir(dir)?;
            magnets::files::write(&dir.join("trace.json"), serde_json::to_string(&trace).expect("serialisable"))?;
            match &tokenizer {
                Some((_, path)) if config.is_clip() => {
                    // One strip per clip: its frames left to right.
                    for (i, clip) in trace.tokens.iter().enumerate() {
                        let frames = super::eval::frames_of(&config, std::slice::from_ref(clip));
                        super::eval::write_grid(path, &frames, config.frames, &dir.join(format!("{i:03}.png")))?;
                    }
                }
                Some((tok, path)) => super::write_pngs(tok, path, &trace.tokens, dir)?,
                None => {}
            }
            eprintln!("wrote {}", dir.join("trace.json").display());
        }
        None => outln!("{}", serde_json::json!({ "tokens": trace.tokens, "total_flops": trace.total_flops, "baseline_flops": trace.baseline_flops }))?,
    }
    Ok(())
}
