//! The `train` subcommand's flags, grouped by what they set, and what they turn into: the
//! library's [`TrainOptions`] and the model config of a fresh run.

use std::path::PathBuf;

use magnets::config::ModelConfig;
use magnets::train::{TrainOptions, WidthSampling};
use magnets::weights::Weights;

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
    #[command(flatten)]
    pub dataset: DataArgs,
    /// Run directory (checkpoint, log, samples, final model).
    #[arg(long, default_value = "runs/magnets")]
    pub out: PathBuf,
    /// Resume from `OUT/checkpoint` when it exists (default); `--fresh` starts over.
    #[arg(long)]
    pub fresh: bool,
    #[command(flatten)]
    pub length: LengthArgs,
    #[command(flatten)]
    pub optimizer: OptimizerArgs,
    /// flex (CPU, default), tch (LibTorch CPU, `--features tch`), wgpu, or cuda (`--features
    /// cuda`); a `-bf16` suffix runs the matmuls in bf16 (f32 master weights), e.g. tch-bf16.
    /// With `--bench`, a comma-separated list to compare in one run.
    #[arg(long, default_value = "flex")]
    pub device: String,
    #[command(flatten)]
    pub benchmark: BenchArgs,
    #[command(flatten)]
    pub outputs: OutputArgs,
    #[command(flatten)]
    pub augment: FlipArgs,
    /// Where this run's compact snapshot lives (f16 weights + step, no optimizer state; see
    /// `magnets::train::write_snapshot`): written with every checkpoint, and resumed from when
    /// `OUT/checkpoint` is missing (e.g. a fresh clone).
    #[arg(long)]
    pub snapshot: Option<PathBuf>,
}

/// What to train on.
#[derive(clap::Args)]
pub struct DataArgs {
    /// Token dataset written by `magnets tokenize` (safetensors: `codes [images, N]`, `labels`).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Another token file of the same grid (a second clip source, say): its train split joins
    /// `--data`'s, its held-out split the validation set. Repeatable.
    #[arg(long, requires = "data")]
    pub add_data: Vec<PathBuf>,
    /// Train on this many synthetic images instead of `--data` (development and benches).
    #[arg(long)]
    pub synthetic: Option<usize>,
}

/// How long the schedule is and when this invocation stops.
#[derive(clap::Args)]
pub struct LengthArgs {
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
}

/// Optimizer, loss and schedule settings: with the schedule's length, a [`TrainOptions`].
#[derive(clap::Args)]
pub struct OptimizerArgs {
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
    /// Multipliers of each width's loss term, smallest first, e.g. `2,1.5,1,1` (default: all 1).
    #[arg(long, value_delimiter = ',')]
    pub width_weights: Vec<f32>,
    /// Clip models: loss weight of a masked token that differs from the given frame at the
    /// same spot (1 = plain cross-entropy; > 1 leans the model towards motion).
    #[arg(long, default_value_t = 1.0)]
    pub changed_token_weight: f32,
    /// Probability that an image's visible tokens are partly re-drawn by a smaller width before
    /// each step, so that the wider widths learn to finish what a small sub-model started (0 = off).
    #[arg(long, default_value_t = DEFAULTS.small_width_context)]
    pub small_width_context: f32,
    /// A decode schedule (e.g. `S3M3L3XL3`) to train the smaller widths for: each one's loss
    /// counts fully on images masked as far as that width decodes under it, and
    /// `--off-phase-weight` times elsewhere (the full width trains on every mask ratio).
    #[arg(long)]
    pub phase_schedule: Option<String>,
    /// With `--phase-schedule`: the weight of an image outside a width's phase (0–1).
    #[arg(long, default_value_t = 1.0)]
    pub off_phase_weight: f32,
    /// Smaller widths trained per step besides the full one: `all` or a count (sampled).
    #[arg(long, default_value = "all")]
    pub widths: String,
    /// EMA decay of the weights (0 = off).
    #[arg(long, default_value_t = DEFAULTS.ema_decay)]
    pub ema: f32,
    #[arg(long, default_value_t = DEFAULTS.seed)]
    pub seed: u64,
}

/// `--bench N`: the throughput comparison of `train_bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
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
}

/// What a run writes while it trains: checkpoints, log lines, sample grids, the exported model.
#[derive(clap::Args)]
pub struct OutputArgs {
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
}

/// Augmentation: flips (see `super::data`) and, for clips, loop shifts.
#[derive(clap::Args)]
pub struct FlipArgs {
    /// Clip models: the clips loop, so start each training clip at a random frame.
    #[arg(long)]
    pub loop_frames: bool,
    /// Horizontal-flip augmentation done the valid way: flip the *images* and tokenize them
    /// (needs `--images` and a `--tokenizer` with its encoder). Symbols and Flags are not
    /// flipped (mirrored text and flags are not the same category's art). Cached in `--flip-cache`.
    #[arg(long)]
    pub flip: bool,
    #[arg(long, default_value = "data/emoji32.safetensors")]
    pub images: PathBuf,
    #[arg(long, default_value = "data/emoji_tokens_flip.safetensors")]
    pub flip_cache: PathBuf,
}

impl OptimizerArgs {
    /// The run's options from the flags, for a cosine schedule of `total_steps`.
    pub fn train_options(&self, total_steps: u64, loop_frames: bool) -> magnets::Result<TrainOptions> {
        Ok(TrainOptions {
            batch_size: self.batch,
            lr: self.lr,
            min_lr: self.min_lr,
            warmup_steps: self.warmup.min(total_steps / 2).max(1),
            total_steps,
            weight_decay: self.weight_decay,
            beta2: DEFAULTS.beta2,
            clip_norm: self.clip,
            label_smoothing: self.label_smoothing,
            class_dropout: self.class_dropout,
            distill_weight: self.distill,
            distill_temperature: self.distill_temperature,
            widths: WidthSampling::parse(&self.widths)?,
            ema_decay: self.ema,
            seed: self.seed,
            loop_frames,
            width_loss_weights: self.width_weights.clone(),
            changed_token_weight: self.changed_token_weight,
            small_width_context: self.small_width_context,
            phase_schedule: self.phase_schedule.clone(),
            off_phase_weight: self.off_phase_weight,
        })
    }
}

impl Args {
    /// The model config of a fresh run: from `--init` weights, else from `--config`.
    pub fn fresh_config(&self) -> magnets::Result<ModelConfig> {
        match &self.init {
            Some(p) => Ok(Weights::load(p)?.config),
            None => {
                let text = std::fs::read_to_string(&self.config)
                    .map_err(|e| magnets::Error::Config(format!("cannot read {}: {e}", self.config.display())))?;
                ModelConfig::from_json(&text).map_err(|e| magnets::Error::Config(format!("{}: {e}", self.config.display())))
            }
        }
    }

    /// The weights a fresh run starts from: `--init`, else a random init of `config`.
    pub fn init_weights(&self, config: &ModelConfig) -> magnets::Result<Weights> {
        match &self.init {
            Some(p) => Weights::load(p),
            None => Weights::init(config, self.optimizer.seed),
        }
    }
}
