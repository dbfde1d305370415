//! The engine trait: the one seam between the decode loop and a backend (burn reference,
//! hand-written WGSL). "Give me logits for these rows at this width, using/updating the cache."

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::sampling::{self, Proposal, SamplingParams};

/// One forward pass over a batch of sequences (images × guidance streams).
///
/// Layouts are flat and row-major so they map 1:1 onto GPU buffers.
#[derive(Debug, Clone)]
pub struct ForwardRequest<'a> {
    /// Index into `config.widths`.
    pub width: usize,
    /// Number of sequences.
    pub batch: usize,
    /// Input ids of the N image tokens of each sequence, `[batch × N]`; mask id = K.
    pub tokens: &'a [u32],
    /// Class id per sequence, `[batch]`; the null class C for the unconditional stream.
    pub classes: &'a [u32],
    /// `None`: a refresh — process all N+1 rows and rewrite every cache row.
    /// `Some(rows)`: `[batch × r]` sequence positions (0..=N, ascending per sequence) to process;
    /// every other row's K/V comes from the cache, written at this same width.
    pub rows: Option<&'a [u32]>,
    /// `[batch × m]` sequence positions (1..=N) whose logits are wanted; each must be processed.
    pub logit_rows: &'a [u32],
}

impl ForwardRequest<'_> {
    pub fn rows_per_sequence(&self, config: &ModelConfig) -> usize {
        match self.rows {
            None => config.seq_len(),
            Some(r) => r.len() / self.batch.max(1),
        }
    }
    pub fn logits_per_sequence(&self) -> usize {
        self.logit_rows.len() / self.batch.max(1)
    }
}

/// Where a step sits in the decode, for the RNG counters and the noise annealing.
#[derive(Debug, Clone, Copy)]
pub struct StepContext {
    /// 1-based step index t.
    pub step: usize,
    pub total_steps: usize,
    /// Number of images B; with guidance the request holds 2B sequences, conditional first.
    pub images: usize,
}

/// The shape of the step after the one being submitted, for an engine that prepares it on the
/// device ([`Engine::runs_ahead`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextStep {
    /// The next step rewrites the whole cache (it processes every row).
    pub refresh: bool,
    /// Positions per image still masked when it starts (its logit rows).
    pub masked: usize,
}

/// What an engine that runs ahead does after sampling a step: fix each image's `to_fix` most
/// confident proposals (the order of [`sampling::most_confident`]) and, when a step follows,
/// prepare its rows from that choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceChoice {
    pub to_fix: usize,
    pub next: Option<NextStep>,
}

#[allow(async_fn_in_trait)]
pub trait Engine {
    fn config(&self) -> &ModelConfig;

    /// Backend and device, for traces and the page.
    fn describe(&self) -> String;

    /// Starts a decode of `batch` sequences, dropping any cached K/V.
    async fn begin(&mut self, batch: usize) -> Result<()>;

    /// Logits `[batch × m × K]` for `req.logit_rows`, updating the cache for processed rows.
    async fn forward(&mut self, req: &ForwardRequest<'_>) -> Result<Vec<f32>>;

    /// Total FLOPs (2 × multiply-adds) the engine's kernels have performed since creation,
    /// counted from the sizes it actually dispatched (tests compare it with `flops.rs`).
    fn flops_performed(&self) -> u64;

    /// Sampled code and confidence for each logit row of each image, `[images × m]`.
    /// The default runs `forward` and samples on the CPU; an engine may do it on device as
    /// long as it draws the same counter-based random numbers.
    async fn propose(
        &mut self,
        req: &ForwardRequest<'_>,
        params: &SamplingParams,
        ctx: StepContext,
    ) -> Result<Vec<Proposal>> {
        propose_on_host(self, req, params, ctx).await
    }

    /// Whether this decode can use [`Engine::submit`]: the engine samples and chooses tokens on
    /// the device, so the decode loop records step t+1 before it reads step t back. The host
    /// still redoes every choice from the proposals for the trace, and compares its tokens with
    /// the device's at the end ([`Engine::chosen_tokens`]).
    fn runs_ahead(&self, _params: &SamplingParams) -> bool {
        false
    }

    /// Queues one step without waiting for it: sample, then `choice` on the device. With
    /// `from_host` the request's tokens and rows are the host's (a decode's first step);
    /// otherwise only its shape counts (width, batch, how many rows and logits) and its rows and
    /// tokens are those the device prepared at the previous step. Results come from
    /// [`Engine::collect`], oldest first.
    async fn submit(
        &mut self,
        _req: &ForwardRequest<'_>,
        _from_host: bool,
        _params: &SamplingParams,
        _ctx: StepContext,
        _choice: DeviceChoice,
    ) -> Result<()> {
        Err(Error::Engine("this engine does not run ahead of the host".into()))
    }

    /// The proposals `[images × m]` of the oldest submitted step not yet collected.
    async fn collect(&mut self) -> Result<Vec<Proposal>> {
        Err(Error::Engine("this engine does not run ahead of the host".into()))
    }

    /// The device's ids of image positions 1..=N for the first `images` sequences, `[images × N]`.
    async fn chosen_tokens(&mut self, _images: usize) -> Result<Vec<u32>> {
        Err(Error::Engine("this engine does not run ahead of the host".into()))
    }
}

/// `forward`, then CPU sampling of the logits read back: the trait's default `propose`, and the
/// path an on-device sampler can fall back to.
pub async fn propose_on_host<E: Engine + ?Sized>(
    engine: &mut E,
    req: &ForwardRequest<'_>,
    params: &SamplingParams,
    ctx: StepContext,
) -> Result<Vec<Proposal>> {
    let logits = engine.forward(req).await?;
    propose_from_logits(engine.config().codebook, &logits, req, params, ctx)
}

/// Refuses logits holding NaN or infinities: sampling would silently turn them into code K−1.
pub fn check_finite_logits(logits: &[f32], ctx: StepContext) -> Result<()> {
    match logits.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::NonFinite(format!(
            "the model produced a non-finite logit ({}) at decode step {} of {}",
            logits[i], ctx.step, ctx.total_steps
        ))),
    }
}

/// CPU sampling shared by every engine that reads logits back.
pub fn propose_from_logits(
    k: usize,
    logits: &[f32],
    req: &ForwardRequest<'_>,
    params: &SamplingParams,
    ctx: StepContext,
) -> Result<Vec<Proposal>> {
    check_finite_logits(logits, ctx)?;
    if logits.len() != req.batch * req.logits_per_sequence() * k {
        return Err(Error::Engine(format!("{} logits for {} rows of {k} codes", logits.len(), req.logit_rows.len())));
    }
    let m = req.logits_per_sequence();
    let noise = sampling::noise_scale(params, ctx.step, ctx.total_steps);
    let guided = req.batch == 2 * ctx.images && params.uses_guidance();
    let guidance = sampling::guidance_scale(params, ctx.step, ctx.total_steps);
    let mut out = Vec::with_capacity(ctx.images * m);
    let mut row = vec![0.0f32; k];
    let mut scratch = Vec::with_capacity(k);
    for b in 0..ctx.images {
        for j in 0..m {
            let at = |seq: usize| (seq * m + j) * k;
            row.copy_from_slice(&logits[at(b)..at(b) + k]);
            if guided {
                let u = at(b + ctx.images);
                sampling::apply_guidance(&mut row, &logits[u..u + k], guidance);
            }
            let pos = req.logit_rows[b * m + j];
            out.push(sampling::propose(&row, &mut scratch, params, b as u32, ctx.step as u32, pos, noise));
        }
    }
    Ok(out)
}

/// Checks a request against the model and the current decode; shared by every engine.
pub fn check_request(config: &ModelConfig, batch: usize, req: &ForwardRequest<'_>) -> Result<()> {
    let bad = |m: String| Err(Error::Engine(m));
    let n = config.tokens();
    if req.width >= config.widths.len() {
        return bad(format!("width index {} out of range", req.width));
    }
    if req.batch == 0 || req.batch != batch {
        return bad(format!("request batch {} but the decode began with {batch}", req.batch));
    }
    if req.tokens.len() != req.batch * n || req.classes.len() != req.batch {
        return bad("tokens/classes do not match the batch".into());
    }
    if let Some(&t) = req.tokens.iter().find(|&&t| t > config.mask_id()) {
        return bad(format!("token id {t} out of range 0..={}", config.mask_id()));
    }
    if let Some(&c) = req.classes.iter().find(|&&c| c > config.null_class()) {
        return bad(format!("class id {c} out of range 0..={}", config.null_class()));
    }
    if req.logit_rows.is_empty()
        || req.logit_rows.len() % req.batch != 0
        || req.logit_rows.iter().any(|&p| p == 0 || p as usize > n)
    {
        return bad("logit rows must be image positions 1..=N, the same non-zero count per sequence".into());
    }
    if let Some(rows) = req.rows {
        if rows.is_empty() || rows.len() % req.batch != 0 {
            return bad("active rows must be the same non-zero count per sequence".into());
        }
        let r = rows.len() / req.batch;
        for seq in rows.chunks(r) {
            if seq.windows(2).any(|w| w[0] >= w[1]) || seq.iter().any(|&p| p as usize > n) {
                return bad("active rows must be ascending positions in 0..=N".into());
            }
        }
    }
    Ok(())
}
