//! Nested MaskGIT training: the MaskGIT objective on VQ tokens, trained jointly at
//! every nested width with online distillation from the full width into the smaller ones.
//!
//! One step:
//! 1. a batch of images (an epoch is a seeded permutation), a per-sample mask ratio
//!    `r = cos(π/2·u)`, `u ~ U(0,1)`, `ceil(r·N)` masked positions (at least one), and 10%
//!    of the class labels replaced by the null class C (for classifier-free guidance);
//!    optionally (`small_width_context`) some images' visible tokens re-drawn by a smaller
//!    width, as a MaGNeTS decode's early steps would have chosen them ([`context_redraw`]);
//! 2. the full width predicts the masked tokens: cross-entropy with label smoothing;
//! 3. each trained smaller width sees the *same* masked input and is trained on
//!    `(1−λ)·CE + λ·KL(stopgrad(p_full) ‖ p_small)` on the masked positions;
//! 4. one backward over the sum, AdamW (per-parameter gradient-norm clipping, burn's
//!    `GradientClipping::Norm`), linear warmup then cosine decay, optional EMA of the weights.
//!
//! Every random choice is a pure function of (seed, step, sample, position) through
//! [`crate::rng`], so a checkpoint needs no RNG state beyond the step, and a resumed run
//! continues bit-identically (tests/train.rs).

pub mod data;
#[cfg(feature = "tch")]
pub mod torch;

use std::path::Path;

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer, OptimizerRecord};
use burn::grad_clipping::GradientClippingConfig;
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::reference::{FlopCounter, MatmulPrecision, NestedTransformer};
use crate::rng;
use crate::weights::{StoredDtype, Weights};

pub use data::TokenDataset;

/// Which widths a step trains besides the full one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WidthSampling {
    /// Every nested width every step.
    All,
    /// The full width plus this many smaller widths drawn uniformly without replacement.
    Sample(usize),
}

impl WidthSampling {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "all" => Ok(WidthSampling::All),
            n => n
                .parse::<usize>()
                .ok()
                .filter(|&k| k >= 1)
                .map(WidthSampling::Sample)
                .ok_or_else(|| Error::Other(format!("--widths `{s}`: use `all` or a count ≥ 1 of smaller widths per step"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub batch_size: usize,
    /// Peak learning rate (after warmup).
    pub lr: f64,
    /// Learning rate at the end of the cosine decay.
    pub min_lr: f64,
    pub warmup_steps: u64,
    /// Length of the cosine schedule; training may stop earlier or resume up to it.
    pub total_steps: u64,
    pub weight_decay: f32,
    pub beta2: f32,
    /// Per-parameter gradient L2-norm clip (0 = off).
    pub clip_norm: f32,
    pub label_smoothing: f32,
    /// Probability that a sample's class is replaced by the null class.
    pub class_dropout: f32,
    /// λ: weight of the distillation term for the smaller widths (1−λ on their CE).
    pub distill_weight: f32,
    /// Softmax temperature of teacher and student in the distillation term (loss scaled by T²).
    pub distill_temperature: f32,
    pub widths: WidthSampling,
    /// EMA decay of the weights (0 = off). The EMA warms up as min(decay, (1+t)/(10+t)).
    pub ema_decay: f32,
    pub seed: u64,
    /// Clip models: the clips are loops, so each training clip starts at a seeded random frame
    /// (a cyclic shift of its frames): `frames`× the distinct (context, future) pairs.
    #[serde(default)]
    pub loop_frames: bool,
    /// Per-width multipliers of each width's loss term, smallest width first (empty = all 1).
    /// The small sub-models fix the first tokens of a MaGNeTS decode, so a run may weight them more.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub width_loss_weights: Vec<f32>,
    /// Clip models: the loss weight of a masked token whose code differs from the given frame's
    /// code at the same spot (1 = plain CE). Most future tokens repeat the given frame, so a
    /// plain-CE model's likeliest continuation is a still clip; a weight w > 1 moves the optimum
    /// from p(y) to ∝ w(y)·p(y), towards change.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub changed_token_weight: f32,
    /// Probability that an image's visible tokens are partly re-drawn by a smaller width before
    /// the step (0 = off; [`context_redraw`]). Under a MaGNeTS decode the wider sub-models
    /// finish pictures whose first tokens a small one chose; trained only on real tokens, they
    /// never see such a context.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub small_width_context: f32,
    /// A decode schedule (`S3M3L3XL3`) whose phases the smaller widths are trained for: each
    /// smaller width's loss on an image counts fully when the image's masked count is one that
    /// width decodes under the schedule, and `off_phase_weight` times otherwise
    /// ([`phase_loss_masks`]). The full width always trains on every count: it is the teacher
    /// and the baseline. None = every width on every count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_schedule: Option<String>,
    /// The loss weight of an image outside a width's phase (with `phase_schedule`).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub off_phase_weight: f32,
}

fn one() -> f32 {
    1.0
}

fn is_one(w: &f32) -> bool {
    *w == 1.0
}

fn is_zero(w: &f32) -> bool {
    *w == 0.0
}

impl TrainOptions {
    /// The defaults (a `const`, so that the CLI's flags can show them without restating them).
    pub const DEFAULT: TrainOptions = TrainOptions {
        batch_size: 64,
        lr: 1e-3,
        min_lr: 1e-5,
        warmup_steps: 200,
        total_steps: 10_000,
        weight_decay: 0.05,
        beta2: 0.99,
        clip_norm: 1.0,
        label_smoothing: 0.1,
        class_dropout: 0.1,
        distill_weight: 0.5,
        distill_temperature: 1.0,
        widths: WidthSampling::All,
        ema_decay: 0.999,
        seed: 0,
        loop_frames: false,
        width_loss_weights: Vec::new(),
        changed_token_weight: 1.0,
        small_width_context: 0.0,
        phase_schedule: None,
        off_phase_weight: 1.0,
    };
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions::DEFAULT
    }
}

impl TrainOptions {
    /// Options a trainer of `config` can run with (both trainers check them on creation).
    pub fn check(&self, config: &ModelConfig) -> Result<()> {
        if self.batch_size == 0 {
            return Err(Error::Other("batch size must be at least 1".into()));
        }
        let weights = &self.width_loss_weights;
        if let Some(w) = weights.iter().find(|w| !(w.is_finite() && **w >= 0.0)) {
            return Err(Error::Other(format!("--width-weights: {w} is not a finite weight ≥ 0")));
        }
        if !weights.is_empty() && weights.len() != config.widths.len() {
            let (n, widths) = (weights.len(), config.widths.len());
            return Err(Error::Other(format!("--width-weights: {n} weights for a model of {widths} widths")));
        }
        let w = self.changed_token_weight;
        if !(w.is_finite() && w > 0.0) {
            return Err(Error::Other(format!("--changed-token-weight: {w} is not a finite weight > 0")));
        }
        let p = self.small_width_context;
        if !(0.0..=1.0).contains(&p) {
            return Err(Error::Other(format!("--small-width-context: {p} is not a probability in [0, 1]")));
        }
        if p > 0.0 && config.widths.len() < 2 {
            return Err(Error::Other("--small-width-context: the model has no smaller width to draw tokens".into()));
        }
        if w != 1.0 && config.context_tokens() == 0 {
            return Err(Error::Other("--changed-token-weight: only a clip model (given frames) has changed tokens".into()));
        }
        let off = self.off_phase_weight;
        if !(off.is_finite() && (0.0..=1.0).contains(&off)) {
            return Err(Error::Other(format!("--off-phase-weight: {off} is not a weight in [0, 1]")));
        }
        if let Some(text) = &self.phase_schedule {
            width_phases(config, text).map_err(|e| Error::Other(format!("--phase-schedule: {e}")))?;
        } else if off != 1.0 {
            return Err(Error::Other("--off-phase-weight needs --phase-schedule (whose phases it weights)".into()));
        }
        Ok(())
    }

    /// The multiplier of width index `width`'s loss term (1 unless `width_loss_weights` says).
    pub fn loss_weight(&self, width: usize) -> f32 {
        self.width_loss_weights.get(width).copied().unwrap_or(1.0)
    }

    pub fn lr_at(&self, step: u64) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        let span = self.total_steps.saturating_sub(self.warmup_steps).max(1);
        let p = ((step - self.warmup_steps) as f64 / span as f64).min(1.0);
        self.min_lr + 0.5 * (self.lr - self.min_lr) * (1.0 + (std::f64::consts::PI * p).cos())
    }
}

/// A training batch on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub size: usize,
    /// `[B, N]` input ids (mask id where masked).
    pub inputs: Vec<i64>,
    /// `[B, N]` target codes.
    pub targets: Vec<i64>,
    /// `[B, N]` each position's loss weight: 0 where not masked; where masked 1, or
    /// `changed_token_weight` for a clip token that differs from the given frame. The losses
    /// are means weighted by it.
    pub mask: Vec<f32>,
    /// `[B]` class ids (null class after dropout).
    pub classes: Vec<i64>,
}

/// Per-step numbers for the progress bar and the log.
#[derive(Debug, Clone, Serialize)]
pub struct StepStats {
    pub step: u64,
    pub lr: f64,
    /// (width index, CE on masked tokens, distillation KL (0 for the full width)).
    pub losses: Vec<(usize, f32, f32)>,
    /// Forward FLOPs of the step (matmuls, counted from shapes); training ≈ 3× this.
    pub forward_flops: u64,
    pub seconds: f64,
}

/// What a training run needs from a trainer: burn's [`Trainer`] (the reference, every
/// burn device) or, with the `tch` feature, [`torch::TorchTrainer`] (LibTorch's autograd).
pub trait TrainLoop {
    fn config(&self) -> &ModelConfig;
    fn options(&self) -> &TrainOptions;
    /// Lengthens or shortens the cosine schedule (a budget re-fit, `--steps` on resume).
    fn set_total_steps(&mut self, steps: u64);
    /// Steps done so far.
    fn step(&self) -> u64;
    fn train_seconds(&self) -> f64;
    fn forward_flops(&self) -> u64;
    /// One optimisation step on `batch` (see the module docs).
    fn train_step(&mut self, batch: &Batch) -> Result<StepStats>;
    /// `(width, CE)` for every width on `batch`, without updating anything.
    fn eval_ce(&self, batch: &Batch) -> Result<Vec<(usize, f64)>>;
    /// The weights to ship: the EMA when enabled, else the raw weights.
    fn export_weights(&self) -> Result<Weights>;
    /// Writes a resumable checkpoint into `dir` (atomically: see [`write_checkpoint`]).
    fn save_checkpoint(&self, dir: &Path) -> Result<()>;
}

const SALT_PERM: u32 = 0x5eed_0001;
const SALT_MASK: u32 = 0x5eed_0002;
const SALT_WIDTH: u32 = 0x5eed_0003;
const SALT_CONTEXT: u32 = 0x5eed_0004;

fn seed32(seed: u64, salt: u32) -> u32 {
    rng::mix32(seed as u32 ^ rng::mix32((seed >> 32) as u32 ^ salt))
}

/// The image order of an epoch: a seeded Fisher–Yates permutation.
pub fn epoch_permutation(len: usize, seed: u64, epoch: u64) -> Vec<usize> {
    let s = seed32(seed, SALT_PERM);
    let mut p: Vec<usize> = (0..len).collect();
    for i in (1..len).rev() {
        let j = (rng::hash(s, epoch as u32, (epoch >> 32) as u32, i as u32, 0) as u64 * (i as u64 + 1) >> 32) as usize;
        p.swap(i, j);
    }
    p
}

/// Deterministic batch of step `step`: images, mask ratios, masked positions, class dropout.
pub fn make_batch(config: &ModelConfig, opts: &TrainOptions, data: &TokenDataset, step: u64) -> Batch {
    let n = config.tokens();
    // A clip model's given frames are never masked: the masked count is drawn over the rest.
    let (given, generated) = (config.context_tokens(), config.generated_tokens());
    let frame = config.frame_tokens();
    let b = opts.batch_size;
    let per_epoch = (data.len() / b).max(1) as u64;
    let epoch = step / per_epoch;
    let offset = (step % per_epoch) as usize * b;
    let perm = epoch_permutation(data.len(), opts.seed, epoch);
    let s = seed32(opts.seed, SALT_MASK);
    let (st, sh) = (step as u32, (step >> 32) as u32);
    let mut batch = Batch {
        size: b,
        inputs: Vec::with_capacity(b * n),
        targets: Vec::with_capacity(b * n),
        mask: Vec::with_capacity(b * n),
        classes: Vec::with_capacity(b),
    };
    for i in 0..b {
        let img = perm[(offset + i) % data.len()];
        let stored = data.image(img);
        let shift = if opts.loop_frames && config.frames > 1 {
            (rng::hash(s ^ sh, i as u32, st, 0, 3) as usize % config.frames) * frame
        } else {
            0
        };
        let codes: Vec<u32> = (0..n).map(|p| stored[(p + shift) % n]).collect();
        let u = rng::uniform(s ^ sh, i as u32, st, 0, 0);
        let ratio = (std::f32::consts::FRAC_PI_2 * u).cos();
        let count = ((ratio * generated as f32).ceil() as usize).clamp(1, generated);
        // The `count` generated positions with the smallest random scores are masked.
        let mut order: Vec<(u32, usize)> =
            (given..n).map(|p| (rng::hash(s ^ sh, i as u32, st, p as u32, 1), p)).collect();
        order.sort_unstable();
        let mut masked = vec![false; n];
        for &(_, p) in &order[..count] {
            masked[p] = true;
        }
        for p in 0..n {
            batch.targets.push(codes[p] as i64);
            batch.inputs.push(if masked[p] { config.mask_id() as i64 } else { codes[p] as i64 });
            // The given frame is frame 0 (`context_frames` ≥ 1), positions `0..frame`.
            let changed = p >= given && codes[p] != codes[p % frame];
            batch.mask.push(match (masked[p], changed) {
                (false, _) => 0.0,
                (true, true) => opts.changed_token_weight,
                (true, false) => 1.0,
            });
        }
        let drop = rng::uniform(s ^ sh, i as u32, st, 0, 2) < opts.class_dropout;
        batch.classes.push(if drop { config.null_class() as i64 } else { data.labels[img] as i64 });
    }
    batch
}

/// A step's re-drawn context (`TrainOptions::small_width_context`): which visible tokens a
/// smaller width replaces with its own samples before every width trains on the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextRedraw {
    /// The smaller width (index) that draws the tokens.
    pub width: usize,
    /// The batch as that width sees it: the re-drawn positions masked as well, and loss weight
    /// 1 exactly there and 0 elsewhere, so a trainer's masked-rows forward gives their logits.
    pub batch: Batch,
}

/// The re-draw of step `step`'s batch, or `None` when no image is picked. Each image is picked
/// with probability `small_width_context`; a picked image hands a uniform fraction of its
/// visible generated tokens to one smaller width (the same for the whole step, drawn uniformly),
/// which samples them from what is left, as the early steps of a MaGNeTS decode do. The loss
/// stays on the image's own masked tokens, with its real codes as targets.
pub fn context_redraw(config: &ModelConfig, opts: &TrainOptions, batch: &Batch, step: u64) -> Option<ContextRedraw> {
    let p = opts.small_width_context;
    let full = config.full_width_index();
    if p <= 0.0 || full == 0 {
        return None;
    }
    let n = config.tokens();
    let given = config.context_tokens();
    let s = seed32(opts.seed, SALT_CONTEXT);
    let (st, sh) = (step as u32, (step >> 32) as u32);
    let width = (rng::hash(s ^ sh, u32::MAX, st, 0, 0) as usize) % full;
    let mut small = batch.clone();
    small.mask = vec![0.0; batch.mask.len()];
    let mut any = false;
    for i in 0..batch.size {
        if rng::uniform(s ^ sh, i as u32, st, 0, 1) >= p {
            continue;
        }
        let row = i * n;
        let mut visible: Vec<(u32, usize)> = (given..n)
            .filter(|&q| batch.mask[row + q] == 0.0)
            .map(|q| (rng::hash(s ^ sh, i as u32, st, q as u32, 2), q))
            .collect();
        let fraction = rng::uniform(s ^ sh, i as u32, st, 0, 3);
        let count = ((fraction * visible.len() as f32).ceil() as usize).min(visible.len());
        visible.sort_unstable();
        for &(_, q) in &visible[..count] {
            small.inputs[row + q] = config.mask_id() as i64;
            small.mask[row + q] = 1.0;
            any = true;
        }
    }
    any.then_some(ContextRedraw { width, batch: small })
}

/// `batch` with the re-drawn tokens filled in: one sample per re-drawn position from the
/// smaller width's `logits` (`[rows, K]` row-major, rows in flat-position order of
/// `redraw.batch.mask`), by Gumbel-max at temperature 1 on the counter-based RNG, so a resumed
/// run draws the same tokens.
pub fn apply_context_redraw(config: &ModelConfig, opts: &TrainOptions, batch: &Batch, redraw: &ContextRedraw, logits: &[f32], step: u64) -> Result<Batch> {
    let n = config.tokens();
    let k = config.codebook;
    let rows: Vec<usize> = (0..redraw.batch.mask.len()).filter(|&f| redraw.batch.mask[f] > 0.0).collect();
    if logits.len() != rows.len() * k {
        return Err(Error::Engine(format!("context re-draw: {} logits for {} rows of {k} codes", logits.len(), rows.len())));
    }
    let s = seed32(opts.seed, SALT_CONTEXT);
    let (st, sh) = (step as u32, (step >> 32) as u32);
    let mut out = batch.clone();
    for (r, &flat) in rows.iter().enumerate() {
        let (i, q) = (flat / n, flat % n);
        let row = &logits[r * k..(r + 1) * k];
        let mut best = (f32::NEG_INFINITY, 0usize);
        for (code, &l) in row.iter().enumerate() {
            let draw = 4 + code as u32;
            let v = l + rng::gumbel(s ^ sh, i as u32, st, q as u32, draw);
            if v > best.0 {
                best = (v, code);
            }
        }
        if !best.0.is_finite() {
            return Err(Error::Other(format!("context re-draw: non-finite logits at step {step}")));
        }
        out.inputs[flat] = best.1 as i64;
    }
    Ok(out)
}

/// `batch` as step `step` trains on it: with `small_width_context`, its re-drawn context
/// ([`context_redraw`], [`apply_context_redraw`]) from the smaller width's logits at the
/// re-drawn rows, which `logits_of` computes with the trainer's own forward pass; else `batch`.
pub fn with_redrawn_context<'a>(
    config: &ModelConfig,
    opts: &TrainOptions,
    batch: &'a Batch,
    step: u64,
    logits_of: impl FnOnce(&ContextRedraw) -> Result<Vec<f32>>,
) -> Result<std::borrow::Cow<'a, Batch>> {
    Ok(match context_redraw(config, opts, batch, step) {
        Some(redraw) => std::borrow::Cow::Owned(apply_context_redraw(config, opts, batch, &redraw, &logits_of(&redraw)?, step)?),
        None => std::borrow::Cow::Borrowed(batch),
    })
}

/// The widths trained at `step` (ascending; always includes the full width).
pub fn widths_for_step(config: &ModelConfig, opts: &TrainOptions, step: u64) -> Vec<usize> {
    let full = config.full_width_index();
    match opts.widths {
        WidthSampling::All => (0..=full).collect(),
        WidthSampling::Sample(k) => {
            let s = seed32(opts.seed, SALT_WIDTH);
            let mut small: Vec<(u32, usize)> =
                (0..full).map(|w| (rng::hash(s, step as u32, (step >> 32) as u32, w as u32, 0), w)).collect();
            small.sort_unstable();
            let mut out: Vec<usize> = small.iter().take(k.min(full)).map(|&(_, w)| w).collect();
            out.push(full);
            out.sort_unstable();
            out
        }
    }
}

/// Per width index, the masked counts `lo..=hi` at which `schedule` runs that width (a
/// contiguous band: from one past the count its last step leaves to the count its first step
/// starts from, under the decode's cosine mask schedule over the generated tokens), or None
/// for a width the schedule never runs. The bands of a schedule partition `1..=N`.
pub fn width_phases(config: &ModelConfig, schedule: &str) -> Result<Vec<Option<(usize, usize)>>> {
    let schedule = crate::schedule::Schedule::parse(schedule, config)?;
    schedule.check(config)?;
    let m = crate::schedule::masked_counts(config.generated_tokens(), schedule.len());
    let mut phases: Vec<Option<(usize, usize)>> = vec![None; config.widths.len()];
    for (t, &w) in schedule.steps.iter().enumerate() {
        let band = (m[t + 1] + 1, m[t]);
        phases[w] = Some(match phases[w] {
            None => band,
            Some((lo, hi)) => (lo.min(band.0), hi.max(band.1)),
        });
    }
    Ok(phases)
}

/// Each trained width's per-position loss weights for `batch` under `phase_schedule`: the
/// batch's `mask`, times `off_phase_weight` on the images whose masked count lies outside the
/// width's phase ([`width_phases`]). None for a width that trains on the plain `mask` (the full
/// width, a width the schedule never runs, or no `phase_schedule` at all).
pub fn phase_loss_masks(config: &ModelConfig, opts: &TrainOptions, batch: &Batch) -> Result<Vec<Option<Vec<f32>>>> {
    let widths = config.widths.len();
    let Some(text) = &opts.phase_schedule else {
        return Ok(vec![None; widths]);
    };
    let phases = width_phases(config, text)?;
    let n = config.tokens();
    let counts: Vec<usize> = batch.mask.chunks(n).map(|image| image.iter().filter(|&&w| w > 0.0).count()).collect();
    let full = config.full_width_index();
    Ok((0..widths)
        .map(|w| {
            let (lo, hi) = phases[w].filter(|_| w != full)?;
            let mut mask = batch.mask.clone();
            for (image, &count) in mask.chunks_mut(n).zip(&counts) {
                if !(lo..=hi).contains(&count) {
                    image.iter_mut().for_each(|v| *v *= opts.off_phase_weight);
                }
            }
            Some(mask)
        })
        .collect())
}

/// Mean label-smoothed cross-entropy over the masked positions, weighted by `mask` (each
/// position's loss weight, 0 where not masked). `logits [B,N,K]`, `targets [B,N,1]` (Int), `mask [B,N,1]`.
pub fn masked_cross_entropy(logits: Tensor<3>, targets: Tensor<3, Int>, mask: Tensor<3>, smoothing: f32) -> Tensor<1> {
    let logp = log_softmax(logits, 2);
    let nll = logp.clone().gather(2, targets).neg();
    let smooth = logp.mean_dim(2).neg();
    let ce = nll * (1.0 - smoothing) + smooth * smoothing;
    let denom = mask.clone().sum().clamp_min(1.0);
    (ce * mask).sum() / denom
}

/// Mean `T²·KL(softmax(teacher/T) ‖ softmax(student/T))` over masked positions, weighted by
/// `mask` as in [`masked_cross_entropy`]. The teacher is detached here (stop-gradient). Exactly zero when student == teacher.
pub fn distillation_kl(student: Tensor<3>, teacher: Tensor<3>, mask: Tensor<3>, temperature: f32) -> Tensor<1> {
    let t = temperature;
    let teacher = teacher.detach() / t;
    let log_q = log_softmax(student / t, 2);
    let log_p = log_softmax(teacher.clone(), 2);
    let p = softmax(teacher, 2);
    let kl = (p * (log_p - log_q)).sum_dim(2);
    let denom = mask.clone().sum().clamp_min(1.0);
    (kl * mask).sum() / denom * (t * t)
}

/// Renumbers the parameters 1, 2, 3, … in module order, so optimizer state (keyed by
/// `ParamId`) survives a save/load of the model through safetensors.
struct Renumber(u64);

impl ModuleMapper for Renumber {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (_, tensor, mapper) = param.consume();
        self.0 += 1;
        Param::from_mapped_value(ParamId::from(self.0), tensor, mapper)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CheckpointState {
    pub(crate) step: u64,
    pub(crate) options: TrainOptions,
    pub(crate) model: ModelConfig,
    /// Wall time spent training so far (across resumes), seconds.
    pub(crate) train_seconds: f64,
    /// Forward FLOPs performed so far.
    pub(crate) forward_flops: u64,
}

pub struct Trainer {
    pub config: ModelConfig,
    pub options: TrainOptions,
    pub model: NestedTransformer,
    optim: ModuleOptimizer,
    device: Device,
    pub step: u64,
    pub ema: Option<Weights>,
    pub train_seconds: f64,
    pub forward_flops: u64,
    /// Precision of the training forward/backward matmuls (f32 by default; a device setting,
    /// not part of the run: a run may resume with another).
    pub precision: MatmulPrecision,
}

fn optimizer(opts: &TrainOptions) -> ModuleOptimizer {
    AdamWConfig::new()
        .with_weight_decay(opts.weight_decay)
        .with_beta_2(opts.beta2)
        .with_epsilon(1e-8)
        .with_grad_clipping((opts.clip_norm > 0.0).then(|| GradientClippingConfig::Norm(opts.clip_norm)))
        .init()
}

fn build_model(weights: &Weights, device: &Device) -> NestedTransformer {
    NestedTransformer::from_weights(weights, device).map(&mut Renumber(0))
}

impl Trainer {
    /// Starts training from `weights` on `device` (autodiff is enabled here).
    pub fn new(weights: &Weights, options: TrainOptions, device: Device) -> Result<Self> {
        weights.validate()?;
        options.check(&weights.config)?;
        let device = device.autodiff();
        let ema = (options.ema_decay > 0.0).then(|| weights.clone());
        Ok(Trainer {
            config: weights.config.clone(),
            optim: optimizer(&options),
            model: build_model(weights, &device),
            options,
            device,
            step: 0,
            ema,
            train_seconds: 0.0,
            forward_flops: 0,
            precision: MatmulPrecision::F32,
        })
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Current raw weights.
    pub fn weights(&self) -> Result<Weights> {
        self.model.to_weights(&self.config)
    }

    /// The weights to ship: the EMA when enabled, else the raw weights.
    pub fn export_weights(&self) -> Result<Weights> {
        match &self.ema {
            Some(e) => Ok(e.clone()),
            None => self.weights(),
        }
    }

    /// Per-width losses `[(width, CE, KL)]` of a batch without updating anything, every width
    /// on the batch's plain `mask` (what the held-out CE reports).
    pub fn losses(&self, batch: &Batch, widths: &[usize], counter: &FlopCounter) -> Result<(Vec<Tensor<1>>, Vec<(usize, Tensor<1>, Tensor<1>)>)> {
        self.losses_with(batch, widths, counter, &vec![None; self.config.widths.len()])
    }

    /// [`Self::losses`] with a width's own loss weights where `width_masks[w]` has them
    /// ([`phase_loss_masks`]: what a training step uses).
    pub fn losses_with(
        &self,
        batch: &Batch,
        widths: &[usize],
        counter: &FlopCounter,
        width_masks: &[Option<Vec<f32>>],
    ) -> Result<(Vec<Tensor<1>>, Vec<(usize, Tensor<1>, Tensor<1>)>)> {
        let c = &self.config;
        let n = c.tokens();
        let b = batch.size;
        let dev = &self.device;
        let full = c.full_width_index();
        if !widths.contains(&full) {
            return Err(Error::Other("every step trains the full width".into()));
        }
        let inputs = Tensor::<2, Int>::from_data(TensorData::new(batch.inputs.clone(), [b, n]), dev);
        let targets = Tensor::<3, Int>::from_data(TensorData::new(batch.targets.clone(), [b, n, 1]), dev);
        let mask = Tensor::<3>::from_data(TensorData::new(batch.mask.clone(), [b, n, 1]), dev);
        let classes = Tensor::<1, Int>::from_data(TensorData::new(batch.classes.clone(), [b]), dev);
        let o = &self.options;
        let teacher = self.model.forward_train(c, full, inputs.clone(), classes.clone(), counter);
        let mut terms = Vec::new();
        let mut out = Vec::new();
        let full_ce = masked_cross_entropy(teacher.clone(), targets.clone(), mask.clone(), o.label_smoothing);
        terms.push(full_ce.clone() * o.loss_weight(full));
        out.push((full, full_ce, Tensor::<1>::zeros([1], dev)));
        for &w in widths.iter().filter(|&&w| w != full) {
            let logits = self.model.forward_train(c, w, inputs.clone(), classes.clone(), counter);
            let mask = match &width_masks[w] {
                Some(m) => Tensor::<3>::from_data(TensorData::new(m.clone(), [b, n, 1]), dev),
                None => mask.clone(),
            };
            let ce = masked_cross_entropy(logits.clone(), targets.clone(), mask.clone(), o.label_smoothing);
            let kl = distillation_kl(logits, teacher.clone(), mask, o.distill_temperature);
            let lam = o.distill_weight;
            terms.push((ce.clone() * (1.0 - lam) + kl.clone() * lam) * o.loss_weight(w));
            out.push((w, ce, kl));
        }
        out.sort_by_key(|t| t.0);
        Ok((terms, out))
    }

    /// The smaller width's logits at the re-drawn positions (`[rows, K]`, flat-position order).
    fn redraw_logits(&self, redraw: &ContextRedraw, counter: &FlopCounter) -> Result<Vec<f32>> {
        let c = &self.config;
        let (b, n, k) = (redraw.batch.size, c.tokens(), c.codebook);
        let dev = &self.device;
        let inputs = Tensor::<2, Int>::from_data(TensorData::new(redraw.batch.inputs.clone(), [b, n]), dev);
        let classes = Tensor::<1, Int>::from_data(TensorData::new(redraw.batch.classes.clone(), [b]), dev);
        let all = self.model.forward_train(c, redraw.width, inputs, classes, counter).detach();
        let all = all.into_data().try_to_vec::<f32>().map_err(|e| Error::Engine(format!("read logits: {e:?}")))?;
        let mut out = Vec::new();
        for (flat, _) in redraw.batch.mask.iter().enumerate().filter(|(_, w)| **w > 0.0) {
            out.extend_from_slice(&all[flat * k..(flat + 1) * k]);
        }
        Ok(out)
    }

    /// One optimisation step on `batch` (see the module docs).
    pub fn train_step(&mut self, batch: &Batch) -> Result<StepStats> {
        let start = web_time::Instant::now();
        let widths = widths_for_step(&self.config, &self.options, self.step);
        let counter = FlopCounter::with_precision(self.precision);
        let batch = with_redrawn_context(&self.config, &self.options, batch, self.step, |r| self.redraw_logits(r, &counter))?;
        let width_masks = phase_loss_masks(&self.config, &self.options, &batch)?;
        let (terms, parts) = self.losses_with(&batch, &widths, &counter, &width_masks)?;
        let loss = terms.into_iter().reduce(|a, b| a + b).expect("at least the full width");
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let lr = self.options.lr_at(self.step);
        self.model = self.optim.step(lr, self.model.clone(), grads);

        // One read-back of every logged loss.
        let flat: Vec<Tensor<1>> = parts.iter().flat_map(|(_, ce, kl)| [ce.clone().detach(), kl.clone().detach()]).collect();
        let values = Tensor::cat(flat, 0)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| Error::Engine(format!("read losses: {e:?}")))?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Error::Other(format!("loss is not finite at step {}: {values:?}", self.step)));
        }
        let losses = parts.iter().enumerate().map(|(i, (w, _, _))| (*w, values[2 * i], values[2 * i + 1])).collect();

        if let Some(ema) = self.ema.as_mut() {
            let d = self.options.ema_decay.min((1.0 + self.step as f32) / (10.0 + self.step as f32));
            let cur = self.model.to_weights(&self.config)?;
            for (name, t) in ema.tensors.iter_mut() {
                let c = &cur.get(name).data;
                for (e, &v) in t.data.iter_mut().zip(c) {
                    *e = d * *e + (1.0 - d) * v;
                }
            }
        }
        let seconds = start.elapsed().as_secs_f64();
        let stats = StepStats { step: self.step, lr, losses, forward_flops: counter.get(), seconds };
        self.step += 1;
        self.train_seconds += seconds;
        self.forward_flops += counter.get();
        Ok(stats)
    }

    /// Writes `dir/{model.safetensors, optimizer.bpk, ema.safetensors, state.json}`.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        write_checkpoint(dir, &CheckpointState::of(self), &self.weights()?, self.ema.as_ref(), |tmp| {
            self.optim
                .to_record()
                .save(tmp.join("optimizer.bpk"))
                .map_err(|e| Error::Other(format!("save optimizer state: {e:?}")))
        })
    }

    /// Resumes from a checkpoint directory. `options` (when given) replaces the stored options
    /// (e.g. a longer `total_steps`); the model config always comes from the checkpoint.
    pub fn load_checkpoint(dir: &Path, options: Option<TrainOptions>, device: Device) -> Result<Self> {
        let (state, weights, ema) = read_checkpoint(dir)?;
        let options = options.unwrap_or(state.options);
        let mut t = Trainer::new(&weights, options, device)?;
        // A checkpoint brought back from a GPU lease, or written by the LibTorch trainer, may
        // come without burn's optimizer state: AdamW then restarts from zero moments.
        let opt_path = dir.join("optimizer.bpk");
        if opt_path.exists() {
            let record = OptimizerRecord::load(opt_path)
                .map_err(|e| Error::Other(format!("checkpoint {}: optimizer state: {e:?}", dir.display())))?;
            t.optim = optimizer(&t.options).load_record(record);
        } else {
            eprintln!("checkpoint {}: no optimizer.bpk, AdamW starts from zero moments", dir.display());
        }
        t.ema = (t.options.ema_decay > 0.0).then(|| ema.unwrap_or_else(|| weights.clone()));
        t.step = state.step;
        t.train_seconds = state.train_seconds;
        t.forward_flops = state.forward_flops;
        Ok(t)
    }
}

impl TrainLoop for Trainer {
    fn config(&self) -> &ModelConfig {
        &self.config
    }
    fn options(&self) -> &TrainOptions {
        &self.options
    }
    fn set_total_steps(&mut self, steps: u64) {
        self.options.total_steps = steps;
    }
    fn step(&self) -> u64 {
        self.step
    }
    fn train_seconds(&self) -> f64 {
        self.train_seconds
    }
    fn forward_flops(&self) -> u64 {
        self.forward_flops
    }
    fn train_step(&mut self, batch: &Batch) -> Result<StepStats> {
        Trainer::train_step(self, batch)
    }
    fn eval_ce(&self, batch: &Batch) -> Result<Vec<(usize, f64)>> {
        let widths: Vec<usize> = (0..self.config.widths.len()).collect();
        let (_, parts) = self.losses(batch, &widths, &FlopCounter::default())?;
        Ok(parts.into_iter().map(|(w, ce, _)| (w, ce.into_scalar::<f32>() as f64)).collect())
    }
    fn export_weights(&self) -> Result<Weights> {
        Trainer::export_weights(self)
    }
    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        Trainer::save_checkpoint(self, dir)
    }
}

impl CheckpointState {
    /// What `state.json` records of a trainer (either kind).
    pub(crate) fn of(t: &dyn TrainLoop) -> Self {
        CheckpointState {
            step: t.step(),
            options: t.options().clone(),
            model: t.config().clone(),
            train_seconds: t.train_seconds(),
            forward_flops: t.forward_flops(),
        }
    }
}

/// Writes a checkpoint — `model.safetensors`, `ema.safetensors` (f32, exact), `state.json`,
/// plus what `optimizer` writes — into a temporary directory renamed into place, so that a
/// crash never leaves a half-written checkpoint.
pub(crate) fn write_checkpoint(
    dir: &Path,
    state: &CheckpointState,
    model: &Weights,
    ema: Option<&Weights>,
    optimizer: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    write_checkpoint_as(dir, state, model, ema, StoredDtype::F32, optimizer)
}

fn write_checkpoint_as(
    dir: &Path,
    state: &CheckpointState,
    model: &Weights,
    ema: Option<&Weights>,
    dtype: StoredDtype,
    optimizer: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    std::fs::create_dir_all(&tmp)?;
    model.save(&tmp.join("model.safetensors"), dtype)?;
    if let Some(e) = ema {
        e.save(&tmp.join("ema.safetensors"), dtype)?;
    }
    optimizer(&tmp)?;
    std::fs::write(tmp.join("state.json"), serde_json::to_string_pretty(state).expect("serialisable"))?;
    let old = dir.with_extension("old");
    if dir.exists() {
        if old.exists() {
            std::fs::remove_dir_all(&old)?;
        }
        std::fs::rename(dir, &old)?;
    }
    std::fs::rename(&tmp, dir)?;
    if old.exists() {
        std::fs::remove_dir_all(&old)?;
    }
    Ok(())
}

/// Writes a compact, resumable snapshot of the checkpoint in `checkpoint` to `dir`: its
/// `state.json` and raw weights in f16, without EMA or optimizer moments (half the bytes of
/// the weights alone in f32, a tenth of the whole checkpoint). Small enough to commit, so a
/// long run survives the loss of its (git-ignored) run directory: a resume from it restarts
/// AdamW's moments at zero and the EMA at the weights.
pub fn write_snapshot(checkpoint: &Path, dir: &Path) -> Result<()> {
    let (state, weights, _) = read_checkpoint(checkpoint)?;
    write_checkpoint_as(dir, &state, &weights, None, StoredDtype::F16, |_| Ok(()))
}

/// Reads a checkpoint's state, raw weights and EMA weights (when present).
pub(crate) fn read_checkpoint(dir: &Path) -> Result<(CheckpointState, Weights, Option<Weights>)> {
    let text = std::fs::read_to_string(dir.join("state.json"))
        .map_err(|e| Error::Other(format!("checkpoint {}: cannot read state.json: {e}", dir.display())))?;
    let state: CheckpointState = serde_json::from_str(&text)
        .map_err(|e| Error::Other(format!("checkpoint {}: bad state.json: {e}", dir.display())))?;
    let weights = Weights::load(&dir.join("model.safetensors"))?;
    if weights.config != state.model {
        return Err(Error::Other(format!("checkpoint {}: model config differs from state.json", dir.display())));
    }
    let p = dir.join("ema.safetensors");
    let ema = if p.exists() { Some(Weights::load(&p)?) } else { None };
    Ok((state, weights, ema))
}
