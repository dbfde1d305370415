//! `magnets train`: nested MaskGIT training with online distillation (see `magnets::train`).
//!
//! A run lives in `--out DIR`: `DIR/checkpoint/` (resumable: model, optimizer state, EMA,
//! step), `DIR/train.jsonl` (one line per logged step), `DIR/samples_<step>.png` (a sample
//! grid when `--tokenizer` is given), and at the end `DIR/model.safetensors` (f16, EMA weights
//! when enabled) plus a copy at `--export` when given.

use std::io::Write;
use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressStyle};
use magnets::config::ModelConfig;
use magnets::reference::MatmulPrecision;
use magnets::train::{TokenDataset, TrainLoop, TrainOptions, Trainer, WidthSampling, make_batch};
use magnets::weights::{StoredDtype, Weights};

/// The flags' defaults are the library's ([`TrainOptions::default`]), stated once there.
const DEFAULTS: TrainOptions = TrainOptions::DEFAULT;

#[derive(clap::Args)]
pub struct Args {
    /// Model config JSON for a fresh run (ignored when resuming).
    #[arg(long, default_value = "models/default-config.json")]
    pub config: PathBuf,
    /// Start from these weights instead of a random init (fresh runs only).
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Token dataset written by `magnets tokenize` (safetensors: `codes [images, N]`, `labels`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Train on this many synthetic images instead of `--data` (development and benches).
    #[arg(long)]
    pub synthetic: Option<usize>,
    /// Run directory (checkpoint, log, samples, final model).
    #[arg(long, default_value = "runs/magnets")]
    pub out: PathBuf,
    /// Resume from `OUT/checkpoint` when it exists (default); `--fresh` starts over.
    #[arg(long)]
    pub fresh: bool,
    /// Length of the run in epochs (sets the cosine schedule); `--steps` overrides.
    #[arg(long, default_value_t = 30.0)]
    pub epochs: f64,
    #[arg(long)]
    pub steps: Option<u64>,
    /// Stop this invocation after N more steps (the schedule keeps its length; resume later).
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Stop this invocation after this many minutes (checkpointing first).
    #[arg(long)]
    pub minutes: Option<f64>,
    /// Fit the run into this many minutes: after `--calibrate` steps the measured step time
    /// sets the schedule length (at most `--epochs`/`--steps`), so the cosine decay completes.
    #[arg(long)]
    pub budget_minutes: Option<f64>,
    #[arg(long, default_value_t = 30)]
    pub calibrate: u64,
    #[arg(long, default_value_t = DEFAULTS.batch_size)]
    pub batch: usize,
    #[arg(long, default_value_t = DEFAULTS.lr)]
    pub lr: f64,
    #[arg(long, default_value_t = DEFAULTS.min_lr)]
    pub min_lr: f64,
    #[arg(long, default_value_t = DEFAULTS.warmup_steps)]
    pub warmup: u64,
    #[arg(long, default_value_t = DEFAULTS.weight_decay)]
    pub weight_decay: f32,
    /// Per-parameter gradient-norm clip (0 = off).
    #[arg(long, default_value_t = DEFAULTS.clip_norm)]
    pub clip: f32,
    #[arg(long, default_value_t = DEFAULTS.label_smoothing)]
    pub label_smoothing: f32,
    #[arg(long, default_value_t = DEFAULTS.class_dropout)]
    pub class_dropout: f32,
    /// λ: distillation weight for the smaller widths (their loss is (1−λ)·CE + λ·KL).
    #[arg(long, default_value_t = DEFAULTS.distill_weight)]
    pub distill: f32,
    #[arg(long, default_value_t = DEFAULTS.distill_temperature)]
    pub distill_temperature: f32,
    /// Smaller widths trained per step besides the full one: `all` or a count (sampled).
    #[arg(long, default_value = "all")]
    pub widths: String,
    /// EMA decay of the weights (0 = off).
    #[arg(long, default_value_t = DEFAULTS.ema_decay)]
    pub ema: f32,
    #[arg(long, default_value_t = DEFAULTS.seed)]
    pub seed: u64,
    /// flex (CPU, default), tch (LibTorch CPU, `--features tch`), wgpu, or cuda (`--features
    /// cuda`); a `-bf16` suffix runs the matmuls in bf16 (f32 master weights), e.g. tch-bf16.
    /// With `--bench`, a comma-separated list to compare in one run.
    #[arg(long, default_value = "flex")]
    pub device: String,
    /// Throughput bench: train N timed steps (after a warm-up) on each `--device` from the
    /// same init and data, and print images/s, GFLOP/s and the ratio to the first device.
    #[arg(long, value_name = "N")]
    pub bench: Option<u64>,
    /// With `--bench`: untimed steps first (allocator and kernel warm-up).
    #[arg(long, default_value_t = 3)]
    pub bench_warmup: u64,
    /// With `--bench`: also train the first device with another seed (other batches and
    /// masks), the noise floor against which the devices' loss curves are compared.
    #[arg(long)]
    pub bench_noise: bool,
    /// With `--bench`: print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[arg(long, default_value_t = 500)]
    pub checkpoint_every: u64,
    #[arg(long, default_value_t = 10)]
    pub log_every: u64,
    /// Decode a sample grid every N steps (needs `--tokenizer`); 0 = only at the end.
    #[arg(long, default_value_t = 2000)]
    pub sample_every: u64,
    /// VQ tokenizer weights, for sample grids.
    #[arg(long)]
    pub tokenizer: Option<PathBuf>,
    /// Also write the final f16 model here (e.g. models/magnets-emoji.safetensors).
    #[arg(long)]
    pub export: Option<PathBuf>,
    /// Horizontal-flip augmentation done the valid way: flip the *images* and tokenize them
    /// (needs `--images` and a `--tokenizer` with its encoder). Symbols and Flags are not
    /// flipped (mirrored text and flags are not the same category's art). Cached in `--flip-cache`.
    #[arg(long)]
    pub flip: bool,
    #[arg(long, default_value = "data/emoji32.safetensors")]
    pub images: PathBuf,
    #[arg(long, default_value = "data/emoji_tokens_flip.safetensors")]
    pub flip_cache: PathBuf,
    /// Where this run's compact snapshot lives (f16 weights + step, no optimizer state; see
    /// `magnets::train::write_snapshot`): written with every checkpoint, and resumed from when
    /// `OUT/checkpoint` is missing (e.g. a fresh clone).
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
}

/// Where a run trains: a burn device (the reference trainer), or LibTorch's own autograd
/// (`torch`), each with the precision of its matmuls.
pub enum TrainDevice {
    Burn(burn::tensor::Device, MatmulPrecision),
    #[cfg_attr(not(feature = "tch"), allow(dead_code))]
    Torch(MatmulPrecision),
}

/// A `--device` value, e.g. `flex`, `tch-bf16` (burn on LibTorch, bf16 matmuls with f32 master
/// weights), `torch-bf16` (LibTorch's autograd and fused kernels), `wgpu`, `cuda`.
pub fn device(spec: &str) -> magnets::Result<TrainDevice> {
    let (name, precision) = match spec.strip_suffix("-bf16") {
        Some(name) => (name, MatmulPrecision::Bf16),
        None => (spec, MatmulPrecision::F32),
    };
    let needs_tch = |flag: &str| {
        magnets::Error::Other(format!("--device {flag} needs a build with `--features tch` (scripts/magnets-fast.sh; README, \"Training\")"))
    };
    let device = match name {
        "flex" | "cpu" => burn::tensor::Device::flex(),
        "wgpu" => burn::tensor::Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        #[cfg(feature = "cuda")]
        "cuda" => burn::tensor::Device::cuda(0),
        #[cfg(not(feature = "cuda"))]
        "cuda" => return Err(magnets::Error::Other("--device cuda needs a build with `--features cuda`".into())),
        // burn-tch is deprecated upstream; kept as a comparison point for `torch`.
        #[cfg(feature = "tch")]
        #[allow(deprecated)]
        "tch" => burn::tensor::Device::libtorch(),
        #[cfg(feature = "tch")]
        "torch" => return Ok(TrainDevice::Torch(precision)),
        #[cfg(not(feature = "tch"))]
        "tch" | "torch" => return Err(needs_tch(name)),
        other => {
            return Err(magnets::Error::Other(format!(
                "--device `{other}`: use flex, torch, tch, wgpu or cuda, optionally with -bf16 (e.g. torch-bf16)"
            )));
        }
    };
    let _ = needs_tch;
    Ok(TrainDevice::Burn(device, precision))
}

/// A fresh trainer from `weights` on `device`.
pub fn new_trainer(device: &TrainDevice, weights: &Weights, options: TrainOptions) -> magnets::Result<Box<dyn TrainLoop>> {
    match device {
        TrainDevice::Burn(dev, precision) => {
            let mut t = Trainer::new(weights, options, dev.clone())?;
            t.precision = *precision;
            Ok(Box::new(t))
        }
        #[cfg(feature = "tch")]
        TrainDevice::Torch(precision) => Ok(Box::new(magnets::train::torch::TorchTrainer::new(weights, options, *precision)?)),
        #[cfg(not(feature = "tch"))]
        TrainDevice::Torch(_) => unreachable!("`device` refuses torch without the tch feature"),
    }
}

/// A trainer resumed from the checkpoint in `dir` (either trainer's).
pub fn resume_trainer(device: &TrainDevice, dir: &std::path::Path) -> magnets::Result<Box<dyn TrainLoop>> {
    match device {
        TrainDevice::Burn(dev, precision) => {
            let mut t = Trainer::load_checkpoint(dir, None, dev.clone())?;
            t.precision = *precision;
            Ok(Box::new(t))
        }
        #[cfg(feature = "tch")]
        TrainDevice::Torch(precision) => Ok(Box::new(magnets::train::torch::TorchTrainer::load_checkpoint(dir, None, *precision)?)),
        #[cfg(not(feature = "tch"))]
        TrainDevice::Torch(_) => unreachable!("`device` refuses torch without the tch feature"),
    }
}

/// Categories whose mirror image is not a valid member (text, flags): Symbols, Flags.
const NO_FLIP: [u8; 2] = [7, 8];

/// Tokens of the horizontally flipped train images (cached on disk).
fn flipped_tokens(a: &Args) -> magnets::Result<TokenDataset> {
    if a.flip_cache.exists() {
        return TokenDataset::load(&a.flip_cache);
    }
    use magnets::data::{EmojiDataset, IMAGE_SIZE, Split, to_chw_f32};
    let tok_path = a.tokenizer.clone().unwrap_or_else(|| PathBuf::from("models/tokenizer.safetensors"));
    let tw = magnets::tokenizer::TokenizerWeights::load(&tok_path)?;
    if !tw.has_encoder() {
        return Err(magnets::Error::Weights(format!("{} has no encoder; --flip needs it", tok_path.display())));
    }
    let ds = EmojiDataset::load(&a.images)?;
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
    if let Some(d) = a.flip_cache.parent() {
        std::fs::create_dir_all(d)?;
    }
    t.save(&a.flip_cache)?;
    eprintln!("wrote {} ({} flipped train images, Symbols and Flags excluded)", a.flip_cache.display(), t.len());
    Ok(t)
}

/// Train set (+ flipped copies) and, for a real token file, its held-out split.
pub fn load_data(a: &Args, config: &ModelConfig) -> magnets::Result<(TokenDataset, Option<TokenDataset>)> {
    let (mut data, val) = match (&a.data, a.synthetic) {
        (Some(p), None) => (TokenDataset::load(p)?, Some(TokenDataset::load_split(p, 1)?).filter(|v| !v.is_empty())),
        (None, Some(n)) => (TokenDataset::synthetic(config, n, a.seed as u32), None),
        _ => return Err(magnets::Error::Other("give exactly one of --data FILE or --synthetic N".into())),
    };
    if a.flip {
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

/// Mean CE per width on the held-out tokens (fixed masks, no class dropout).
fn validate(t: &dyn TrainLoop, val: &TokenDataset) -> magnets::Result<Vec<f64>> {
    let mut o = t.options().clone();
    o.seed = 0x0a11_da7a;
    o.class_dropout = 0.0;
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

/// The run's options from the flags, for a cosine schedule of `total_steps`.
pub fn train_options(a: &Args, total_steps: u64) -> magnets::Result<TrainOptions> {
    Ok(TrainOptions {
        batch_size: a.batch,
        lr: a.lr,
        min_lr: a.min_lr,
        warmup_steps: a.warmup.min(total_steps / 2).max(1),
        total_steps,
        weight_decay: a.weight_decay,
        beta2: DEFAULTS.beta2,
        clip_norm: a.clip,
        label_smoothing: a.label_smoothing,
        class_dropout: a.class_dropout,
        distill_weight: a.distill,
        distill_temperature: a.distill_temperature,
        widths: WidthSampling::parse(&a.widths)?,
        ema_decay: a.ema,
        seed: a.seed,
    })
}

/// The model config of a fresh run: from `--init` weights, else from `--config`.
pub fn fresh_config(a: &Args) -> magnets::Result<ModelConfig> {
    match &a.init {
        Some(p) => Ok(Weights::load(p)?.config),
        None => {
            let text = std::fs::read_to_string(&a.config)
                .map_err(|e| magnets::Error::Config(format!("cannot read {}: {e}", a.config.display())))?;
            ModelConfig::from_json(&text).map_err(|e| magnets::Error::Config(format!("{}: {e}", a.config.display())))
        }
    }
}

pub fn run(a: Args) -> magnets::Result<()> {
    if let Some(steps) = a.bench {
        return super::train_bench::run(&a, steps);
    }
    let ckpt = a.out.join("checkpoint");
    // Resume from the run's own checkpoint, else from its committed snapshot.
    let resume_from = [Some(ckpt.clone()), a.snapshot.clone()]
        .into_iter()
        .flatten()
        .find(|d| !a.fresh && d.join("state.json").exists());
    let resume = resume_from.is_some();
    let config = match &resume_from {
        Some(dir) => Weights::load(&dir.join("model.safetensors"))?.config,
        None => fresh_config(&a)?,
    };
    let (data, val) = load_data(&a, &config)?;
    let per_epoch = (data.len() / a.batch).max(1) as u64;
    let total_steps = a.steps.unwrap_or((a.epochs * per_epoch as f64).ceil() as u64).max(1);
    let options = train_options(&a, total_steps)?;
    let dev = device(&a.device)?;
    std::fs::create_dir_all(&a.out)?;
    let mut trainer = if let Some(dir) = &resume_from {
        // A resumed run keeps its stored options (schedule included) unless --steps is given.
        let mut t = resume_trainer(&dev, dir)?;
        if let Some(steps) = a.steps {
            t.set_total_steps(steps);
        }
        let _ = options;
        eprintln!("resumed {} at step {}", dir.display(), t.step());
        t
    } else {
        let w = match &a.init {
            Some(p) => Weights::load(p)?,
            None => Weights::init(&config, a.seed)?,
        };
        new_trainer(&dev, &w, options)?
    };
    let mut o = trainer.options().clone();
    let per_epoch = (data.len() / o.batch_size).max(1) as u64;
    eprintln!(
        "model D={} depth={} widths={:?} ({} parameters); {} images, batch {}, {} steps/epoch, schedule {} steps ({:.1} epochs), widths/step {:?}, device {}",
        config.dim,
        config.depth,
        config.widths,
        config.parameter_count(),
        data.len(),
        o.batch_size,
        per_epoch,
        o.total_steps,
        o.total_steps as f64 / per_epoch as f64,
        o.widths,
        a.device
    );

    let mut stop_step = a.max_steps.map_or(o.total_steps, |m| (trainer.step() + m).min(o.total_steps));
    let run_start = web_time::Instant::now();
    let first_step = trainer.step();
    let mut calib: Option<(u64, web_time::Instant)> = None;
    let mut refit: Option<(u64, web_time::Instant)> = None;
    let max_total = match (a.steps, resume) {
        (Some(s), _) => s,
        (None, false) => o.total_steps,
        (None, true) => ((a.epochs * per_epoch as f64).ceil() as u64).max(o.total_steps),
    };
    let deadline = a.minutes.map(|m| web_time::Instant::now() + std::time::Duration::from_secs_f64(m * 60.0));
    let bar = ProgressBar::new(o.total_steps);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} (eta {eta}) {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_position(trainer.step());
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(a.out.join("train.jsonl"))?;
    let names = config.width_names.clone();
    // Running means for the bar (reset every log interval).
    let mut acc = vec![(0.0f64, 0.0f64, 0usize); config.widths.len()];
    let (mut win_images, mut win_flops, mut win_secs) = (0u64, 0u64, 0.0f64);
    while trainer.step() < stop_step {
        if deadline.is_some_and(|d| web_time::Instant::now() >= d) {
            eprintln!("time limit reached");
            break;
        }
        if let Some(budget) = a.budget_minutes {
            // Skip the first steps (kernel compilation on GPUs), then time `calibrate` steps.
            if trainer.step() == first_step + 5 {
                calib = Some((trainer.step(), web_time::Instant::now()));
            } else if let Some((s0, t0)) = calib.filter(|(s0, _)| trainer.step() == s0 + a.calibrate) {
                let per_step = t0.elapsed().as_secs_f64() / (trainer.step() - s0) as f64;
                let left = budget * 60.0 - run_start.elapsed().as_secs_f64() - 30.0;
                let fit = trainer.step() + (left.max(0.0) / per_step) as u64;
                let total = fit.min(max_total).max(trainer.step() + 1);
                eprintln!(
                    "calibration: {:.3} s/step ({:.1} img/s); schedule set to {total} steps ({:.1} epochs) to fit {budget} min",
                    per_step,
                    o.batch_size as f64 / per_step,
                    total as f64 / per_epoch as f64
                );
                trainer.set_total_steps(total);
                o.total_steps = total;
                stop_step = stop_step.min(total);
                bar.set_length(total);
                calib = None;
                refit = Some((trainer.step(), web_time::Instant::now()));
            }
        }
        let batch = make_batch(&config, &o, &data, trainer.step());
        let s = trainer.train_step(&batch)?;
        for &(w, ce, kl) in &s.losses {
            acc[w].0 += ce as f64;
            acc[w].1 += kl as f64;
            acc[w].2 += 1;
        }
        win_images += o.batch_size as u64;
        win_flops += 3 * s.forward_flops;
        win_secs += s.seconds;
        bar.set_position(trainer.step());
        if trainer.step() % a.log_every == 0 || trainer.step() == stop_step {
            let per_width: Vec<String> = acc
                .iter()
                .enumerate()
                .filter(|(_, a)| a.2 > 0)
                .map(|(w, a)| format!("{} {:.3}", names[w], a.0 / a.2 as f64))
                .collect();
            let ips = win_images as f64 / win_secs.max(1e-9);
            let gfs = win_flops as f64 / win_secs.max(1e-9) / 1e9;
            bar.set_message(format!(
                "ep {:.2} lr {:.2e} | CE {} | {:.1} img/s {:.1} GFLOP/s",
                trainer.step() as f64 / per_epoch as f64,
                s.lr,
                per_width.join(" "),
                ips,
                gfs
            ));
            let entry = serde_json::json!({
                "step": trainer.step(),
                "epoch": trainer.step() as f64 / per_epoch as f64,
                "lr": s.lr,
                "ce": acc.iter().map(|a| if a.2 > 0 { Some(a.0 / a.2 as f64) } else { None }).collect::<Vec<_>>(),
                "kl": acc.iter().map(|a| if a.2 > 0 { Some(a.1 / a.2 as f64) } else { None }).collect::<Vec<_>>(),
                "images_per_s": ips,
                "train_gflops_per_s": gfs,
                "train_seconds": trainer.train_seconds(),
            });
            writeln!(log, "{entry}")?;
            acc.iter_mut().for_each(|a| *a = (0.0, 0.0, 0));
            (win_images, win_flops, win_secs) = (0, 0, 0.0);
        }
        if trainer.step() % a.checkpoint_every == 0 {
            // Re-fit the schedule to the budget from the step time of the last interval (the
            // CPU here is shared, so throughput drifts); the cosine decay then still completes.
            if let (Some(budget), None) = (a.budget_minutes, calib) {
                if let Some((s0, t0)) = refit.replace((trainer.step(), web_time::Instant::now())) {
                    let per_step = t0.elapsed().as_secs_f64() / (trainer.step() - s0).max(1) as f64;
                    let left = budget * 60.0 - run_start.elapsed().as_secs_f64() - 30.0;
                    let total = (trainer.step() + (left.max(0.0) / per_step) as u64).min(max_total).max(trainer.step() + 1);
                    if total != o.total_steps {
                        eprintln!("refit: {per_step:.3} s/step; schedule {} → {total} steps", o.total_steps);
                        trainer.set_total_steps(total);
                        o.total_steps = total;
                        stop_step = a.max_steps.map_or(total, |m| (first_step + m).min(total));
                        bar.set_length(total);
                    }
                }
            }
            save_checkpoint(trainer.as_ref(), &ckpt, a.snapshot.as_deref())?;
            if let Some(v) = &val {
                let ce = validate(trainer.as_ref(), v)?;
                let txt: Vec<String> = ce.iter().enumerate().map(|(w, c)| format!("{} {c:.3}", names[w])).collect();
                bar.println(format!("step {} held-out CE: {}", trainer.step(), txt.join(" ")));
                writeln!(log, "{}", serde_json::json!({ "step": trainer.step(), "val_ce": ce }))?;
            }
        }
        if a.sample_every > 0 && trainer.step() % a.sample_every == 0 {
            if let Some(tok) = &a.tokenizer {
                let p = a.out.join(format!("samples_{:06}.png", trainer.step()));
                if let Err(e) = sample_grid(&trainer.export_weights()?, tok, &p) {
                    bar.println(format!("sample grid skipped: {e}"));
                }
            }
        }
    }
    bar.finish();
    save_checkpoint(trainer.as_ref(), &ckpt, a.snapshot.as_deref())?;
    if let Some(v) = &val {
        let ce = validate(trainer.as_ref(), v)?;
        eprintln!("final held-out CE per width: {ce:?}");
        writeln!(log, "{}", serde_json::json!({ "step": trainer.step(), "val_ce": ce }))?;
    }
    let w = trainer.export_weights()?;
    w.save(&a.out.join("model.safetensors"), StoredDtype::F16)?;
    if let Some(p) = &a.export {
        w.save(p, StoredDtype::F16)?;
        eprintln!("wrote {}", p.display());
    }
    if let Some(tok) = &a.tokenizer {
        let p = a.out.join("samples_final.png");
        if let Err(e) = sample_grid(&w, tok, &p) {
            eprintln!("sample grid skipped: {e}");
        }
    }
    eprintln!(
        "step {} of {} ({:.2} epochs); {:.1} min training, {:.3} PFLOP (3x forward)",
        trainer.step(),
        o.total_steps,
        trainer.step() as f64 / per_epoch as f64,
        trainer.train_seconds() / 60.0,
        3.0 * trainer.forward_flops() as f64 / 1e15
    );
    Ok(())
}

/// The run's checkpoint, and its compact snapshot when the run keeps one.
fn save_checkpoint(trainer: &dyn TrainLoop, ckpt: &std::path::Path, snapshot: Option<&std::path::Path>) -> magnets::Result<()> {
    trainer.save_checkpoint(ckpt)?;
    if let Some(dir) = snapshot {
        magnets::train::write_snapshot(ckpt, dir)?;
    }
    Ok(())
}

/// Decodes two images per class with the MaskGIT baseline schedule and writes them as a grid
/// (one row per class).
pub fn sample_grid(weights: &Weights, tokenizer: &std::path::Path, out: &std::path::Path) -> magnets::Result<()> {
    let c = &weights.config;
    let per_class = 4;
    let classes: Vec<u32> = (0..c.classes as u32).flat_map(|k| std::iter::repeat_n(k, per_class)).collect();
    let schedule = magnets::schedule::Schedule::resolve("XL12", 12, c)?;
    let cache = magnets::schedule::CachePolicy::On { refresh_every: None };
    let sampling = magnets::sampling::SamplingParams { seed: 0, guidance: 0.0, ..Default::default() };
    let (tokens, _, _) = super::eval::generate(weights, &schedule, cache, &classes, sampling, super::common::EngineChoice::Cpu, 64)?;
    super::eval::write_grid(tokenizer, &tokens, per_class, out)
}
