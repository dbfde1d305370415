//! The MaGNeTS decode loop, written once for every engine (DESIGN §3).
//!
//! MaskGIT parallel decoding with a per-step sub-model width and a KV cache: each step
//! predicts every masked token, samples a code per position, and fixes the most confident
//! `m[t-1] − m[t]` of them. Every step yields a [`StepTrace`] — the page animates exactly this.

use serde::{Deserialize, Serialize};

use crate::engine::{DeviceChoice, Engine, ForwardRequest, NextStep, StepContext};
use crate::error::{Error, Result};
use crate::plan::{PlannedStep, plan};
use crate::sampling::{SamplingParams, most_confident};
use crate::schedule::{CachePolicy, Schedule, masked_counts};

/// Per-token state shown by the page.
pub const STATE_MASKED: u8 = 0;
pub const STATE_FIXED_NOW: u8 = 1;
pub const STATE_FIXED_EARLIER: u8 = 2;
/// A context token (a clip model's given frames): known before the first step.
pub const STATE_GIVEN: u8 = 3;

/// Largest batch (images) accepted in one decode.
pub const MAX_IMAGES: usize = 64;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecodeRequest {
    pub schedule: Schedule,
    pub cache: CachePolicy,
    /// One class id per image (B = classes.len()); the null class C gives unconditional images.
    pub classes: Vec<u32>,
    pub sampling: SamplingParams,
    /// A clip model's given frames: per image, the codes of positions `0..context_tokens()`
    /// (frame-major). Empty for an image model.
    #[serde(default)]
    pub context: Vec<Vec<u32>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepTrace {
    /// Step number, width, refresh, masked counts, rows processed and FLOPs (per image, both
    /// guidance passes) next to the baseline's — exactly what `plan::plan` predicts.
    #[serde(flatten)]
    pub cost: PlannedStep,
    pub ms: f64,
    /// `[B][N]` ids after this step (mask id where still masked).
    pub tokens: Vec<Vec<u32>>,
    /// `[B][N]` the same grid with masked positions filled by this step's sampled codes —
    /// what the image "would be" now; the page decodes it.
    pub predicted: Vec<Vec<u32>>,
    /// `[B][N]` STATE_* per token.
    pub states: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecodeTrace {
    pub engine: String,
    pub schedule: String,
    pub cache: String,
    pub classes: Vec<u32>,
    pub sampling: SamplingParams,
    pub steps: Vec<StepTrace>,
    /// Final `[B][N]` codes.
    pub tokens: Vec<Vec<u32>>,
    pub total_flops: u64,
    pub baseline_flops: u64,
    pub ms: f64,
}

impl DecodeTrace {
    /// Baseline FLOPs / this decode's FLOPs.
    pub fn flops_ratio(&self) -> f64 {
        self.baseline_flops as f64 / self.total_flops.max(1) as f64
    }
}

pub fn validate_request(req: &DecodeRequest, config: &crate::config::ModelConfig) -> Result<()> {
    req.schedule.check(config)?;
    req.sampling.validate()?;
    if req.classes.is_empty() || req.classes.len() > MAX_IMAGES {
        return Err(Error::Decode(format!("batch of {} images; use 1..={MAX_IMAGES}", req.classes.len())));
    }
    if let Some(&c) = req.classes.iter().find(|&&c| c > config.null_class()) {
        return Err(Error::Decode(format!("class id {c} is out of range 0..={}", config.null_class())));
    }
    let given = config.context_tokens();
    if given == 0 {
        if !req.context.is_empty() {
            return Err(Error::Decode("this model generates whole images; it takes no context frames".into()));
        }
    } else {
        if req.context.len() != req.classes.len() {
            return Err(Error::Decode(format!(
                "this model predicts frames from {} given frame(s): give one context per clip ({} clips, {} contexts)",
                config.context_frames,
                req.classes.len(),
                req.context.len()
            )));
        }
        if let Some(c) = req.context.iter().find(|c| c.len() != given) {
            return Err(Error::Decode(format!("a context holds {} codes; this model's given frames hold {given}", c.len())));
        }
        if let Some(&c) = req.context.iter().flatten().find(|&&c| c as usize >= config.codebook) {
            return Err(Error::Decode(format!("context code {c} is outside the codebook 0..{}", config.codebook)));
        }
    }
    Ok(())
}

/// Runs a full decode. `on_step` sees each step's trace as soon as it exists (the page
/// streams them); the returned trace holds them all.
pub async fn decode<E: Engine>(engine: &mut E, req: &DecodeRequest, on_step: impl FnMut(&StepTrace)) -> Result<DecodeTrace> {
    decode_until(engine, req, on_step, || false).await
}

/// [`decode`] that can be stopped: `should_stop` is asked before the engine starts and at
/// every step boundary, and a `true` ends the decode with [`Error::Cancelled`] before the
/// engine is called again (the page stops a decode that a newer request replaced).
pub async fn decode_until<E: Engine>(
    engine: &mut E,
    req: &DecodeRequest,
    mut on_step: impl FnMut(&StepTrace),
    should_stop: impl Fn() -> bool,
) -> Result<DecodeTrace> {
    let config = engine.config().clone();
    validate_request(req, &config)?;
    let stop_point = || if should_stop() { Err(Error::Cancelled) } else { Ok(()) };
    let n = config.tokens();
    let k = config.codebook;
    let mask = config.mask_id();
    let images = req.classes.len();
    let guided = req.sampling.uses_guidance();
    let sequences = images * if guided { 2 } else { 1 };
    let total_steps = req.schedule.len();
    let m = masked_counts(config.generated_tokens(), total_steps);
    // Which steps refresh, how many rows each processes and what it costs: one source of truth.
    let plan = plan(&config, &req.schedule, req.cache, guided);

    let mut tokens = vec![vec![mask; n]; images];
    let mut states = vec![vec![STATE_MASKED; n]; images];
    for (b, context) in req.context.iter().enumerate() {
        tokens[b][..context.len()].copy_from_slice(context);
        states[b][..context.len()].fill(STATE_GIVEN);
    }
    let mut fixed_previous: Vec<Vec<usize>> = vec![Vec::new(); images];
    let mut classes = req.classes.clone();
    if guided {
        classes.extend(std::iter::repeat_n(config.null_class(), images));
    }
    // An engine that chooses tokens on the device runs a step ahead: step t+1 is queued before
    // step t is read back. The host still makes every choice below from the proposals (the
    // trace, and the reference the device's tokens are checked against at the end).
    let ahead = engine.runs_ahead(&req.sampling);
    let choice_after = |t: usize| DeviceChoice {
        to_fix: m[t] - m[t + 1],
        next: (t + 1 < total_steps).then(|| NextStep { refresh: plan[t + 1].refresh, masked: m[t + 1] }),
    };
    let decode_start = web_time::Instant::now();
    stop_point()?;
    engine.begin(sequences).await?;

    let mut steps = Vec::with_capacity(total_steps);
    for t in 0..total_steps {
        stop_point()?;
        let step_start = web_time::Instant::now();
        let width = req.schedule.steps[t];
        let refresh = plan[t].refresh;

        // Masked image positions per image, ascending; every image has m[t] of them.
        let masked: Vec<Vec<usize>> =
            tokens.iter().map(|row| (0..n).filter(|&i| row[i] == mask).collect()).collect();
        debug_assert!(masked.iter().all(|p| p.len() == m[t]));

        let mut flat_tokens = Vec::with_capacity(sequences * n);
        let mut logit_rows = Vec::with_capacity(sequences * m[t]);
        let mut rows = Vec::new();
        for s in 0..sequences {
            let b = s % images;
            flat_tokens.extend_from_slice(&tokens[b]);
            logit_rows.extend(masked[b].iter().map(|&i| i as u32 + 1));
            if !refresh {
                let mut active: Vec<u32> =
                    masked[b].iter().chain(&fixed_previous[b]).map(|&i| i as u32 + 1).collect();
                active.sort_unstable();
                rows.extend(active);
            }
        }
        let fwd = ForwardRequest {
            width,
            batch: sequences,
            tokens: &flat_tokens,
            classes: &classes,
            rows: (!refresh).then_some(rows.as_slice()),
            logit_rows: &logit_rows,
        };
        let ctx = StepContext { step: t + 1, total_steps, images };
        let proposals = if ahead {
            if t == 0 {
                engine.submit(&fwd, true, &req.sampling, ctx, choice_after(0)).await?;
            }
            if t + 1 < total_steps {
                // Only the next step's shape: its rows and tokens are the device's own.
                let (rows, logits) = (plan[t + 1].rows, m[t + 1]);
                let shape_rows: Vec<u32> = (0..sequences).flat_map(|_| 1..=rows as u32).collect();
                let shape_logits: Vec<u32> = (0..sequences).flat_map(|_| 1..=logits as u32).collect();
                let next = ForwardRequest {
                    width: req.schedule.steps[t + 1],
                    rows: (!plan[t + 1].refresh).then_some(shape_rows.as_slice()),
                    logit_rows: &shape_logits,
                    ..fwd
                };
                let next_ctx = StepContext { step: t + 2, ..ctx };
                engine.submit(&next, false, &req.sampling, next_ctx, choice_after(t + 1)).await?;
            }
            engine.collect().await?
        } else {
            engine.propose(&fwd, &req.sampling, ctx).await?
        };
        if proposals.len() != images * m[t] {
            return Err(Error::Engine(format!(
                "engine returned {} proposals for {} masked tokens",
                proposals.len(),
                images * m[t]
            )));
        }
        // On-device samplers flag non-finite logits with an out-of-range code; a NaN confidence
        // would otherwise sort anywhere. Either way the output would be garbage: refuse it.
        if let Some(p) = proposals.iter().find(|p| p.code as usize >= k || !p.confidence.is_finite()) {
            return Err(Error::NonFinite(format!(
                "the model produced non-finite logits at decode step {} of {total_steps} (code {}, confidence {})",
                t + 1,
                p.code,
                p.confidence
            )));
        }

        let to_fix = m[t] - m[t + 1];
        let mut predicted = tokens.clone();
        for b in 0..images {
            let props = &proposals[b * m[t]..(b + 1) * m[t]];
            for st in states[b].iter_mut() {
                if *st == STATE_FIXED_NOW {
                    *st = STATE_FIXED_EARLIER;
                }
            }
            for (j, &pos) in masked[b].iter().enumerate() {
                predicted[b][pos] = props[j].code;
            }
            let confidences: Vec<f32> = props.iter().map(|p| p.confidence).collect();
            let mut newly = Vec::with_capacity(to_fix);
            for j in most_confident(&confidences, to_fix) {
                let pos = masked[b][j];
                tokens[b][pos] = predicted[b][pos];
                states[b][pos] = STATE_FIXED_NOW;
                newly.push(pos);
            }
            newly.sort_unstable();
            fixed_previous[b] = newly;
        }

        let trace = StepTrace {
            cost: plan[t].clone(),
            ms: step_start.elapsed().as_secs_f64() * 1e3,
            tokens: tokens.clone(),
            predicted,
            states: states.clone(),
        };
        on_step(&trace);
        debug_assert_eq!(rows.len() / sequences.max(1), if refresh { 0 } else { plan[t].rows });
        steps.push(trace);
    }
    if ahead {
        let device = engine.chosen_tokens(images).await?;
        for (b, row) in tokens.iter().enumerate() {
            if let Some(p) = (0..n).find(|&p| device.get(b * n + p) != Some(&row[p])) {
                return Err(Error::Engine(format!(
                    "the device chose other tokens than the decode loop (image {b}, position {}: {:?} against {}); \
                     decode with the engine set to wait for every step",
                    p + 1,
                    device.get(b * n + p),
                    row[p]
                )));
            }
        }
    }

    let total_flops = steps.iter().map(|s| s.cost.flops).sum();
    let baseline_flops = steps.iter().map(|s| s.cost.baseline_flops).sum();
    Ok(DecodeTrace {
        engine: engine.describe(),
        schedule: req.schedule.format(&config),
        cache: req.cache.format(),
        classes: req.classes.clone(),
        sampling: req.sampling,
        steps,
        tokens,
        total_flops,
        baseline_flops,
        ms: decode_start.elapsed().as_secs_f64() * 1e3,
    })
}
