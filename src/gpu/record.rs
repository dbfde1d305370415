//! One decode step as data: the row index to upload and the dispatches that run the whole
//! transformer (and the sampler). Pure: it touches no device, so what a step dispatches and
//! what it costs are checked on any machine (`tests/gpu_plan.rs`).

use super::dispatch::{Dispatch, slots};
use super::kernels::Kernel;
use super::params::{AdvanceParams, AttentionParams, EmbedParams, LayerNormParams, MatmulParams, SampleParams};
use super::weights::WeightLayout;
use crate::config::{ModelConfig, TensorKind};
use crate::engine::{DeviceChoice, ForwardRequest, StepContext};
use crate::error::{Error, Result};
use crate::sampling::{self, SamplingParams};

pub const LAYER_NORM_EPS: f32 = 1e-5;

slots! {
    /// What a dispatch computes, and so which buffers it binds (at bindings 1..=4).
    pub enum Stage {
        /// weights, weights, index, x
        Embed = "embed",
        /// weights, x, index, a (the normed logit rows)
        FinalNorm = "final norm",
        /// weights, x, index, k/v cache + q
        Qkv = "qkv",
        /// k/v cache + q (three times), o
        Attention = "attention",
        /// weights, o, index, x
        Wo = "wo",
        /// weights, x, index, h
        W1 = "w1+gelu",
        /// weights, h, index, x
        W2 = "w2",
        /// weights, a, index, logits
        Head = "head",
        /// logits, logits, index, proposals
        Sample = "sample",
        /// proposals, proposals, index, look-ahead (ids by position + the next step's index)
        Advance = "advance",
    }
}

pub type StepDispatch = Dispatch<Kernel, Stage>;

/// Dispatches in the longest step: embed, 5 per block (qkv, attention, wo, w1, w2), the final
/// norm, the head, the sampler and the device-side choice.
pub fn max_dispatches(config: &ModelConfig) -> usize {
    5 * config.depth + 5
}

/// What one step is asked to compute.
pub struct StepRequest<'a> {
    pub forward: &'a ForwardRequest<'a>,
    /// Sample on the device (read back a code and confidence per masked token) instead of
    /// reading back the logits.
    pub sample: Option<(&'a SamplingParams, StepContext)>,
    /// The batch the K/V cache buffer is laid out for (the engine's `max_batch`).
    pub cache_batch: usize,
}

/// Which buffer a step's result is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `[batch × m × K]` f32.
    Logits,
    /// `[images × m] × (code, confidence bits)`.
    Proposals,
}

/// A recorded step.
pub struct RecordedStep {
    /// `[flat cache row b·S+pos | embedding table id | logit pick]` per processed row, then
    /// the logit positions the sampler reads.
    pub index: Vec<u32>,
    pub dispatches: Vec<StepDispatch>,
    pub output: Output,
    /// Bytes of the result.
    pub output_bytes: u64,
}

impl RecordedStep {
    /// FLOPs (2 × multiply-adds) of every dispatch.
    pub fn flops(&self) -> u64 {
        self.dispatches.iter().map(|d| d.flops).sum()
    }
}

/// Records one step of `config`'s transformer whose weights sit at `layout`. The request must
/// have passed `engine::check_request`; a logit row that is not processed, or a sample
/// context that does not divide the batch, is an error.
pub fn record_step(config: &ModelConfig, layout: &WeightLayout, request: &StepRequest<'_>) -> Result<RecordedStep> {
    let req = request.forward;
    let c = config;
    let (bsz, s, kc) = (req.batch, c.seq_len(), c.codebook);
    // An activation row is a `[D]` vector: the sub-model uses its leading d features.
    let ([d], [full]) = nested_shapes(c, TensorKind::Vector, req.width);
    let r = req.rows_per_sequence(c);
    let m = req.logits_per_sequence();
    let rows = (bsz * r) as u32;
    let mut index = row_index(c, req, r, m)?;
    let (map_off, ids_off, pick_off) = (0, rows, 2 * rows);
    let at = |name: &str| layout.at(name);

    let mut out = vec![Dispatch::linear(
        Kernel::Embed,
        Stage::Embed,
        &EmbedParams {
            rows,
            d,
            ld: full,
            seq: s as u32,
            tab_off: at("tokens.embedding"),
            pos_off: at("positions.embedding"),
            ids_off,
            map_off,
        },
        (rows * d).div_ceil(64),
    )];
    let heads = d / c.head_dim as u32;
    let kv_elems = (c.depth * request.cache_batch * s * c.dim) as u32;
    let q_off = 2 * kv_elems;
    // `x[rows, :k] · W[:k, :n] + b[:n]` for a `kind` matrix W cut by the nesting rule; each
    // use overrides what differs. Activations sit in full-width buffers, so x's rows are W's
    // full row count apart and the output's W's full column count.
    let lin = |kind, w_off, b_off| {
        let ([k, n], [ld_x, ld_w]) = nested_shapes(c, kind, req.width);
        MatmulParams {
            m: rows,
            n,
            k,
            ld_x,
            w_off,
            ld_w,
            b_off,
            ld_out: ld_w,
            map_off,
            eps: LAYER_NORM_EPS,
            ..Default::default()
        }
    };
    for l in 0..c.depth {
        let at = |x: &str| at(&format!("blocks.{l}.{x}"));
        let (wq, bq, wk, bk, wv, bv) =
            (at("attn.wq"), at("attn.bq"), at("attn.wk"), at("attn.bk"), at("attn.wv"), at("attn.bv"));
        // q, k, v are consecutive in the weight buffer: one dispatch, grid z selects.
        let (w_zstride, b_zstride) = (wk - wq, bk - bq);
        if wv - wk != w_zstride || bv - bk != b_zstride {
            return Err(Error::Engine("internal: q/k/v weights are not evenly spaced".into()));
        }
        let cache_off = (l * bsz * s * c.dim) as u32;
        // The block's pre-norms are fused into the matmuls that read them (norm = 1).
        // z = 0: q → the query region; z = 1, 2: k, v rows scattered into the cache.
        out.push(matmul(
            Stage::Qkv,
            3,
            MatmulParams {
                out_off: q_off,
                out_off1: cache_off,
                out_off2: kv_elems + cache_off,
                scatter: 0b110,
                w_zstride,
                b_zstride,
                norm: 1,
                g_off: at("norm1.gamma"),
                beta_off: at("norm1.beta"),
                ..lin(TensorKind::Projection, wq, bq)
            },
        ));
        let attention = AttentionParams {
            rows,
            r: r as u32,
            seq: s as u32,
            heads,
            ld: full,
            k_off: cache_off,
            scale: 1.0 / (c.head_dim as f32).sqrt(),
            v_off: kv_elems + cache_off,
            q_off,
        };
        // One workgroup per (64 query rows, head, sequence).
        let groups = ((r as u32).div_ceil(64), heads, bsz as u32);
        let flops = 2 * 2 * rows as u64 * s as u64 * d as u64;
        out.push(Dispatch::new(Kernel::Attention, Stage::Attention, &attention, groups).with_flops(flops));
        let wo = MatmulParams { mode: 2, ..lin(TensorKind::Projection, at("attn.wo"), at("attn.bo")) };
        out.push(matmul(Stage::Wo, 1, wo));
        out.push(matmul(
            Stage::W1,
            1,
            MatmulParams {
                mode: 1,
                norm: 1,
                g_off: at("norm2.gamma"),
                beta_off: at("norm2.beta"),
                ..lin(TensorKind::MlpIn, at("mlp.w1"), at("mlp.b1"))
            },
        ));
        out.push(matmul(
            Stage::W2,
            1,
            MatmulParams { mode: 2, ..lin(TensorKind::MlpOut, at("mlp.w2"), at("mlp.b2")) },
        ));
    }
    let logit_rows = (bsz * m) as u32;
    if logit_rows > 0 {
        let norm = LayerNormParams {
            rows: logit_rows,
            d,
            ld_in: full,
            ld_out: full,
            g_off: at("final_norm.gamma"),
            b_off: at("final_norm.beta"),
            gather: 1,
            idx_off: pick_off,
            eps: LAYER_NORM_EPS,
        };
        out.push(Dispatch::linear(Kernel::LayerNorm, Stage::FinalNorm, &norm, logit_rows.div_ceil(64)));
        let head =
            MatmulParams { m: logit_rows, map_off: 0, ..lin(TensorKind::Head, at("head.w"), at("head.b")) };
        out.push(matmul(Stage::Head, 1, head));
    }
    let (output, output_bytes) = match request.sample {
        None => (Output::Logits, logit_rows as u64 * kc as u64 * 4),
        Some((params, ctx)) => {
            if ctx.images == 0 || bsz % ctx.images != 0 || bsz / ctx.images > 2 {
                return Err(Error::Engine(format!(
                    "{bsz} sequences cannot hold {} images (one or two streams each)",
                    ctx.images
                )));
            }
            let sample_rows = ctx.images * m;
            let pos_off = index.len() as u32;
            index.extend_from_slice(&req.logit_rows[..sample_rows]);
            let greedy = params.temperature <= 0.0;
            let sample = SampleParams {
                images: ctx.images as u32,
                m: m as u32,
                k: kc as u32,
                guided: (bsz == 2 * ctx.images && params.uses_guidance()) as u32,
                guidance: sampling::guidance_scale(params, ctx.step, ctx.total_steps),
                inv_t: if greedy { 0.0 } else { 1.0 / params.temperature },
                greedy: greedy as u32,
                seed: params.seed,
                step: ctx.step as u32,
                noise: sampling::noise_scale(params, ctx.step, ctx.total_steps),
                pos_off,
            };
            // One workgroup per row.
            out.push(Dispatch::linear(Kernel::Sample, Stage::Sample, &sample, sample_rows as u32));
            (Output::Proposals, sample_rows as u64 * 8)
        }
    };
    Ok(RecordedStep { index, dispatches: out, output, output_bytes })
}

/// The look-ahead buffer: `[ids by position: cache_batch × S | the next step's row index]` (u32s).
pub fn look_ahead_words(config: &ModelConfig, cache_batch: usize) -> usize {
    let (b, s, n) = (cache_batch, config.seq_len(), config.tokens());
    b * s + 2 * b * s + 2 * b * n
}

/// Words of the row index [`DeviceChoice::next`] describes, for `sequences` sequences whose
/// step (the one the choice follows) sampled `m` positions per image.
pub fn next_index_words(config: &ModelConfig, choice: &DeviceChoice, images: usize, sequences: usize, m: usize) -> usize {
    choice.next.map_or(0, |next| {
        let r = if next.refresh { config.seq_len() } else { m };
        2 * sequences * r + (sequences + images) * next.masked
    })
}

/// The device-side choice after `step` sampled on the device (shaders/advance.wgsl): fixes each
/// image's `choice.to_fix` most confident tokens in the ids kept by position and, when a step
/// follows, writes its row index into the look-ahead buffer after them.
pub fn record_advance(
    config: &ModelConfig,
    step: &RecordedStep,
    ctx: StepContext,
    sequences: usize,
    m: usize,
    choice: &DeviceChoice,
    cache_batch: usize,
) -> Result<StepDispatch> {
    let sampled = ctx.images * m;
    if step.output != Output::Proposals || step.index.len() < sampled || choice.to_fix > m || m > crate::config::MAX_TOKENS {
        return Err(Error::Engine("internal: a device-side choice needs a step sampled on the device".into()));
    }
    let params = AdvanceParams {
        images: ctx.images as u32,
        sequences: sequences as u32,
        m: m as u32,
        to_fix: choice.to_fix as u32,
        seq: config.seq_len() as u32,
        pos_off: (step.index.len() - sampled) as u32,
        next_off: (cache_batch * config.seq_len()) as u32,
        has_next: choice.next.is_some() as u32,
        next_refresh: choice.next.is_some_and(|n| n.refresh) as u32,
        next_m: choice.next.map_or(0, |n| n.masked) as u32,
    };
    // One workgroup per image.
    Ok(Dispatch::new(Kernel::Advance, Stage::Advance, &params, (ctx.images as u32, 1, 1)))
}

/// The row index's first three parts: cache row, embedding table id, and for each wanted
/// logit the processed row it is read from.
fn row_index(c: &ModelConfig, req: &ForwardRequest<'_>, r: usize, m: usize) -> Result<Vec<u32>> {
    let (bsz, s, n) = (req.batch, c.seq_len(), c.tokens());
    let rows = bsz * r;
    let mut index: Vec<u32> = Vec::with_capacity(2 * rows + bsz * m);
    let positions: Vec<u32> = match req.rows {
        Some(list) => list.to_vec(),
        None => (0..bsz).flat_map(|_| 0..s as u32).collect(),
    };
    for (i, &pos) in positions.iter().enumerate() {
        index.push(((i / r) * s) as u32 + pos);
    }
    for (i, &pos) in positions.iter().enumerate() {
        let b = i / r;
        index.push(if pos == 0 {
            (c.codebook + 1) as u32 + req.classes[b]
        } else {
            req.tokens[b * n + pos as usize - 1]
        });
    }
    for b in 0..bsz {
        let seq = &positions[b * r..(b + 1) * r];
        for &p in &req.logit_rows[b * m..(b + 1) * m] {
            let j = seq
                .binary_search(&p)
                .map_err(|_| Error::Engine(format!("logit row {p} of sequence {b} was not processed this step")))?;
            index.push((b * r + j) as u32);
        }
    }
    Ok(index)
}

/// A `kind` tensor's slice at width index `width` ([`ModelConfig::nested_shape`]) and the full
/// tensor's shape, for a tensor of rank `R`.
fn nested_shapes<const R: usize>(c: &ModelConfig, kind: TensorKind, width: usize) -> ([u32; R], [u32; R]) {
    let shape = |w| {
        let s = c.nested_shape(kind, w);
        assert_eq!(s.len(), R, "{kind:?} has rank {}", s.len());
        std::array::from_fn(|i| s[i] as u32)
    };
    (shape(width), shape(c.full_width_index()))
}

/// A matmul dispatch over `z` products, on the variant whose tile fits the product's width.
fn matmul(stage: Stage, z: u32, p: MatmulParams) -> StepDispatch {
    let (kernel, tile_n) = Kernel::matmul_for(p.n);
    let flops = z as u64 * 2 * p.m as u64 * p.n as u64 * p.k as u64;
    Dispatch::new(kernel, stage, &p, (p.n.div_ceil(tile_n), p.m.div_ceil(64), z)).with_flops(flops)
}
