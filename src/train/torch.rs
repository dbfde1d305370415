//! The training step on LibTorch's own autograd (`--device torch`, `torch-bf16`; cargo feature
//! `tch`): the same objective, batches, schedule, AdamW and EMA as [`super::Trainer`], but
//! the forward pass uses torch's fused CPU kernels (LayerNorm, softmax, GELU and their
//! backward passes) where burn's autodiff composes them from elementwise ops, which measured
//! 3x–5x of the step time on this CPU. burn stays the reference model; this path exists
//! only for throughput, and `magnets train --bench --device flex,torch` checks its loss
//! curves against burn's.
//!
//! Widths slice the parameters by [`ModelConfig::prefix_shapes`], the nesting rule.
//! With bf16 only the weight matmuls run in bf16 (AMX), each product cast back to f32:
//! attention products, GELU, LayerNorm, softmax, losses and AdamW stay f32, and master weights
//! are f32. (Keeping the MLP's hidden layer in bf16 between its two matmuls, as PyTorch's
//! autocast would, was no faster here and spiked the loss.)

use std::path::Path;

use tch::{Kind, Tensor};

use super::{Batch, CheckpointState, StepStats, TrainLoop, TrainOptions, phase_loss_masks, widths_for_step, with_redrawn_context};
use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::reference::MatmulPrecision;
use crate::reference::model::LAYER_NORM_EPS;
use crate::weights::{HostTensor, StoredDtype, Weights};

/// AdamW's β₁ (burn's default, which the burn trainer uses too).
const BETA1: f64 = 0.9;
const ADAM_EPSILON: f64 = 1e-8;

struct AdamState {
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Updates done since the moments were zero (bias correction).
    time: i32,
}

pub struct TorchTrainer {
    pub config: ModelConfig,
    pub options: TrainOptions,
    pub precision: MatmulPrecision,
    pub step: u64,
    pub train_seconds: f64,
    pub forward_flops: u64,
    /// Parameter names in [`ModelConfig::tensor_shapes`] order, and the f32 leaf tensors.
    names: Vec<String>,
    params: Vec<Tensor>,
    adam: AdamState,
    ema: Option<Vec<Tensor>>,
}

fn to_torch(t: &HostTensor) -> Tensor {
    let shape: Vec<i64> = t.shape.iter().map(|&s| s as i64).collect();
    Tensor::from_slice(&t.data).view(shape.as_slice())
}

fn to_host(t: &Tensor) -> Result<HostTensor> {
    let shape: Vec<usize> = t.size().iter().map(|&s| s as usize).collect();
    let flat = t.detach().to_kind(Kind::Float).contiguous().view([-1]);
    let data = Vec::<f32>::try_from(&flat).map_err(|e| Error::Engine(format!("read a LibTorch tensor: {e}")))?;
    Ok(HostTensor::new(shape, data))
}

fn torch_error(e: tch::TchError) -> Error {
    Error::Engine(format!("LibTorch: {e}"))
}

/// Forward matmul FLOPs (2 × multiply-adds), counted from shapes as the burn model does.
#[derive(Default)]
struct Flops(u64);

impl Flops {
    fn matmul(&mut self, a: &Tensor, b: &Tensor) -> Tensor {
        let (sa, sb) = (a.size(), b.size());
        let batch: i64 = sa[..sa.len() - 2].iter().product();
        self.0 += (2 * batch * sa[sa.len() - 2] * sa[sa.len() - 1] * sb[sb.len() - 1]) as u64;
        a.matmul(b)
    }

    /// softmax(q·kᵀ/√hd)·v through torch's fused attention, which never materialises the
    /// `[b, heads, s, s]` scores (at a clip model's 513 positions those dominate memory
    /// traffic); counted as the two products it replaces. (Plain products and a softmax for
    /// an image's 65 positions measured no faster: within the run-to-run noise.)
    fn attention(&mut self, q: &Tensor, k: &Tensor, v: &Tensor) -> Tensor {
        let sq = q.size();
        let (batch, s, hd) = (sq[0] * sq[1], sq[2], sq[3]);
        self.0 += (2 * 2 * batch * s * s * hd) as u64;
        Tensor::scaled_dot_product_attention(q, k, v, None::<Tensor>, 0.0, false, None, false)
    }
}

/// Mean of per-row losses `[M]`, weighted by the rows' loss weights when they are not all 1
/// (burn's losses weight by the batch's `mask` the same way).
fn weighted_mean(x: Tensor, weights: Option<&Tensor>) -> Tensor {
    match weights {
        Some(w) => (x * w).sum(Kind::Float) / w.sum(Kind::Float).clamp_min(1.0),
        None => x.mean(Kind::Float),
    }
}

/// Mean label-smoothed cross-entropy over the masked positions (mirrors `masked_cross_entropy`;
/// `logits` `[M, K]` and `targets` `[M]` hold the masked rows only).
fn masked_cross_entropy(logits: &Tensor, targets: &Tensor, weights: Option<&Tensor>, smoothing: f64) -> Tensor {
    let logp = logits.log_softmax(-1, Kind::Float);
    let nll = -logp.gather(1, &targets.unsqueeze(-1), false).squeeze_dim(-1);
    let smooth = -logp.mean_dim(-1, false, Kind::Float);
    weighted_mean(nll * (1.0 - smoothing) + smooth * smoothing, weights)
}

/// Mean `T²·KL(softmax(teacher/T) ‖ softmax(student/T))` over masked positions, teacher
/// detached (mirrors `distillation_kl`; masked rows only, as in [`masked_cross_entropy`]).
fn distillation_kl(student: &Tensor, teacher: &Tensor, weights: Option<&Tensor>, temperature: f64) -> Tensor {
    let log_p = (teacher.detach() / temperature).log_softmax(-1, Kind::Float);
    let log_q = (student / temperature).log_softmax(-1, Kind::Float);
    let kl = (log_p.exp() * (&log_p - log_q)).sum_dim_intlist(-1, false, Kind::Float);
    weighted_mean(kl, weights) * (temperature * temperature)
}

struct BatchTensors {
    inputs: Tensor,
    classes: Tensor,
    /// Flat indices (`b·N + i`) of the masked positions: the only rows the losses read, so the
    /// output head, softmaxes and losses run on those rows alone (~2/3 of them on average).
    masked_rows: Tensor,
    /// Targets at `masked_rows`.
    masked_targets: Tensor,
    /// Loss weights at `masked_rows`; `None` when all are 1 (a plain mean).
    masked_weights: Option<Tensor>,
    /// Per width index, that width's own loss weights at `masked_rows` where it has them
    /// (`phase_loss_masks`); empty or None = `masked_weights`.
    width_weights: Vec<Option<Tensor>>,
}

impl BatchTensors {
    fn new(batch: &Batch, n: usize) -> Self {
        Self::with_width_masks(batch, n, &[])
    }

    /// With each width's own per-position loss weights (`[B·N]`, as `Batch::mask`) where
    /// `width_masks` gives them, taken at the same masked rows.
    fn with_width_masks(batch: &Batch, n: usize, width_masks: &[Option<Vec<f32>>]) -> Self {
        let (b, n) = (batch.size as i64, n as i64);
        let masked: Vec<i64> = (0..batch.mask.len()).filter(|&i| batch.mask[i] > 0.0).map(|i| i as i64).collect();
        let masked_rows = Tensor::from_slice(&masked);
        let masked_targets = Tensor::from_slice(&batch.targets).index_select(0, &masked_rows);
        let weights: Vec<f32> = masked.iter().map(|&i| batch.mask[i as usize]).collect();
        let masked_weights = weights.iter().any(|&w| w != 1.0).then(|| Tensor::from_slice(&weights));
        let at_rows = |m: &Vec<f32>| Tensor::from_slice(&masked.iter().map(|&i| m[i as usize]).collect::<Vec<f32>>());
        let width_weights = width_masks.iter().map(|m| m.as_ref().map(at_rows)).collect();
        BatchTensors {
            inputs: Tensor::from_slice(&batch.inputs).view([b, n]),
            classes: Tensor::from_slice(&batch.classes),
            masked_rows,
            masked_targets,
            masked_weights,
            width_weights,
        }
    }

    /// The loss weights of width index `w`.
    fn weights_for(&self, w: usize) -> Option<&Tensor> {
        self.width_weights.get(w).and_then(Option::as_ref).or(self.masked_weights.as_ref())
    }
}

impl TorchTrainer {
    pub fn new(weights: &Weights, options: TrainOptions, precision: MatmulPrecision) -> Result<Self> {
        weights.validate()?;
        options.check(&weights.config)?;
        let shapes = weights.config.tensor_shapes();
        let names: Vec<String> = shapes.into_iter().map(|(n, _)| n).collect();
        let params: Vec<Tensor> = names.iter().map(|n| to_torch(weights.get(n)).set_requires_grad(true)).collect();
        let zeros = || params.iter().map(|p| p.detach().zeros_like()).collect::<Vec<_>>();
        let adam = AdamState { m: zeros(), v: zeros(), time: 0 };
        let ema = (options.ema_decay > 0.0).then(|| params.iter().map(|p| p.detach().copy()).collect());
        Ok(TorchTrainer {
            config: weights.config.clone(),
            options,
            precision,
            step: 0,
            train_seconds: 0.0,
            forward_flops: 0,
            names,
            params,
            adam,
            ema,
        })
    }

    /// Current raw weights (not the EMA).
    pub fn weights(&self) -> Result<Weights> {
        self.weights_of(&self.params)
    }

    fn weights_of(&self, tensors: &[Tensor]) -> Result<Weights> {
        let mut map = std::collections::HashMap::new();
        for (n, t) in self.names.iter().zip(tensors) {
            map.insert(n.clone(), to_host(t)?);
        }
        let w = Weights { config: self.config.clone(), tensors: map };
        w.validate()?;
        Ok(w)
    }

    /// Every parameter sliced to width index `width` (the nesting rule), as autograd views.
    fn sliced(&self, width: usize) -> Vec<Tensor> {
        self.config
            .prefix_shapes(width)
            .iter()
            .zip(&self.params)
            .map(|((_, extents), p)| {
                let mut t = p.shallow_clone();
                for (axis, (&e, full)) in extents.iter().zip(p.size()).enumerate() {
                    if e as i64 != full {
                        t = t.narrow(axis as i64, 0, e as i64);
                    }
                }
                t
            })
            .collect()
    }

    fn linear(&self, x: &Tensor, w: &Tensor, b: &Tensor, flops: &mut Flops) -> Tensor {
        match self.precision {
            MatmulPrecision::F32 => flops.matmul(x, w) + b,
            MatmulPrecision::Bf16 => {
                flops.matmul(&x.to_kind(Kind::BFloat16), &w.to_kind(Kind::BFloat16)).to_kind(Kind::Float) + b
            }
        }
    }

    /// `x·[wq wk wv] + [bq bk bv]` as one product (at small widths the step is bound by the
    /// number of ops, not by their size), split back into q, k, v.
    fn qkv(&self, x: &Tensor, w: [&Tensor; 3], b: [&Tensor; 3], flops: &mut Flops) -> [Tensor; 3] {
        let fused = self.linear(x, &Tensor::cat(&w, 1), &Tensor::cat(&b, 0), flops);
        fused.chunk(3, -1).try_into().expect("chunk(3) gives three tensors")
    }

    /// Training forward: logits `[M, K]` of the batch's masked positions at width index `width`.
    fn forward(&self, width: usize, batch: &BatchTensors, flops: &mut Flops) -> Tensor {
        let c = &self.config;
        let p = self.sliced(width);
        let at = |name: &str| &p[self.names.iter().position(|n| n == name).expect("a DESIGN tensor name")];
        let d = c.widths[width] as i64;
        let hd = c.head_dim as i64;
        let heads = d / hd;
        let size = batch.inputs.size();
        let (b, n) = (size[0], size[1]);
        let s = n + 1;
        let tok = at("tokens.embedding").index_select(0, &batch.inputs.view([-1])).view([b, n, d]);
        let cls = at("classes.embedding").index_select(0, &batch.classes).view([b, 1, d]);
        let mut x = Tensor::cat(&[cls, tok], 1) + at("positions.embedding");
        let split = |t: Tensor| t.view([b, s, heads, hd]).transpose(1, 2);
        for l in 0..c.depth {
            let q = |name: &str| at(&format!("blocks.{l}.{name}"));
            let a = x.layer_norm([d], Some(q("norm1.gamma")), Some(q("norm1.beta")), LAYER_NORM_EPS as f64, false);
            let [qh, kh, vh] = self.qkv(&a, [q("attn.wq"), q("attn.wk"), q("attn.wv")], [q("attn.bq"), q("attn.bk"), q("attn.bv")], flops).map(split);
            let o = flops.attention(&qh, &kh, &vh).transpose(1, 2).reshape([b, s, d]);
            x = x + self.linear(&o, q("attn.wo"), q("attn.bo"), flops);
            let a = x.layer_norm([d], Some(q("norm2.gamma")), Some(q("norm2.beta")), LAYER_NORM_EPS as f64, false);
            let h = self.linear(&a, q("mlp.w1"), q("mlp.b1"), flops).gelu("none");
            x = x + self.linear(&h, q("mlp.w2"), q("mlp.b2"), flops);
        }
        let rows = x.narrow(1, 1, n).reshape([b * n, d]).index_select(0, &batch.masked_rows);
        let x = rows.layer_norm([d], Some(at("final_norm.gamma")), Some(at("final_norm.beta")), LAYER_NORM_EPS as f64, false);
        // Counted as the head over every position, as the burn model counts it, so the two
        // trainers report the same FLOPs for the same step.
        let (k, m) = (at("head.w").size()[1], batch.masked_rows.size()[0]);
        flops.0 += (2 * (b * n - m) * d * k) as u64;
        self.linear(&x, at("head.w"), at("head.b"), flops)
    }

    /// Loss terms to sum and per-width `(width, CE, KL)` (as in `Trainer::losses`).
    fn losses(&self, batch: &BatchTensors, widths: &[usize], flops: &mut Flops) -> Result<(Vec<Tensor>, Vec<(usize, Tensor, Tensor)>)> {
        let o = &self.options;
        let full = self.config.full_width_index();
        if !widths.contains(&full) {
            return Err(Error::Other("every step trains the full width".into()));
        }
        let smoothing = o.label_smoothing as f64;
        let teacher = self.forward(full, batch, flops);
        let full_ce = masked_cross_entropy(&teacher, &batch.masked_targets, batch.weights_for(full), smoothing);
        let mut terms = vec![&full_ce * o.loss_weight(full) as f64];
        let mut out = vec![(full, full_ce, Tensor::zeros([1], (Kind::Float, tch::Device::Cpu)))];
        for &w in widths.iter().filter(|&&w| w != full) {
            let logits = self.forward(w, batch, flops);
            let weights = batch.weights_for(w);
            let ce = masked_cross_entropy(&logits, &batch.masked_targets, weights, smoothing);
            let kl = distillation_kl(&logits, &teacher, weights, o.distill_temperature as f64);
            let lam = o.distill_weight as f64;
            terms.push((&ce * (1.0 - lam) + &kl * lam) * o.loss_weight(w) as f64);
            out.push((w, ce, kl));
        }
        out.sort_by_key(|t| t.0);
        Ok((terms, out))
    }

    /// AdamW as burn's (decoupled decay `p·(1 − lr·wd)`, bias-corrected moments, ε outside
    /// the square root) after burn's per-parameter gradient-norm clip.
    fn adamw_update(&mut self, lr: f64) {
        let o = &self.options;
        let (b2, wd, clip) = (o.beta2 as f64, o.weight_decay as f64, o.clip_norm as f64);
        self.adam.time += 1;
        let c1 = 1.0 - BETA1.powi(self.adam.time);
        let c2 = 1.0 - b2.powi(self.adam.time);
        tch::no_grad(|| {
            for (i, p) in self.params.iter_mut().enumerate() {
                let mut g = p.grad();
                if !g.defined() {
                    continue;
                }
                if clip > 0.0 {
                    let coef = ((g.norm() + f32::MIN_POSITIVE as f64).reciprocal() * clip).clamp_max(1.0);
                    g = g * coef;
                }
                let (m, v) = (&mut self.adam.m[i], &mut self.adam.v[i]);
                let _ = m.g_mul_scalar_(BETA1).g_add_(&(&g * (1.0 - BETA1)));
                let _ = v.g_mul_scalar_(b2).g_add_(&(g.square() * (1.0 - b2)));
                let delta = (&*m / c1) / ((&*v / c2).sqrt() + ADAM_EPSILON);
                let _ = p.g_mul_scalar_(1.0 - lr * wd).g_sub_(&(delta * lr));
                let _ = p.grad().zero_();
            }
        });
    }

    /// Resumes from a checkpoint written by either trainer (AdamW moments only come back from
    /// this one's `adamw.*` files; otherwise they restart at zero).
    pub fn load_checkpoint(dir: &Path, options: Option<TrainOptions>, precision: MatmulPrecision) -> Result<Self> {
        let (state, weights, ema) = super::read_checkpoint(dir)?;
        let options = options.unwrap_or(state.options.clone());
        let mut t = TorchTrainer::new(&weights, options, precision)?;
        let (m_path, v_path, time_path) = (dir.join("adamw.m.safetensors"), dir.join("adamw.v.safetensors"), dir.join("adamw.json"));
        if m_path.exists() && v_path.exists() && time_path.exists() {
            let (m, v) = (Weights::load(&m_path)?, Weights::load(&v_path)?);
            t.adam.m = t.names.iter().map(|n| to_torch(m.get(n))).collect();
            t.adam.v = t.names.iter().map(|n| to_torch(v.get(n))).collect();
            let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&time_path)?)
                .map_err(|e| Error::Other(format!("checkpoint {}: bad adamw.json: {e}", dir.display())))?;
            t.adam.time = json["time"]
                .as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .ok_or_else(|| Error::Other(format!("checkpoint {}: adamw.json has no time", dir.display())))?;
        } else {
            eprintln!("checkpoint {}: no LibTorch AdamW state, the moments start from zero", dir.display());
        }
        if t.options.ema_decay > 0.0 {
            let e = ema.unwrap_or_else(|| weights.clone());
            t.ema = Some(t.names.iter().map(|n| to_torch(e.get(n))).collect());
        } else {
            t.ema = None;
        }
        t.step = state.step;
        t.train_seconds = state.train_seconds;
        t.forward_flops = state.forward_flops;
        Ok(t)
    }
}

impl TrainLoop for TorchTrainer {
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
        let start = web_time::Instant::now();
        let widths = widths_for_step(&self.config, &self.options, self.step);
        let mut flops = Flops::default();
        let batch = with_redrawn_context(&self.config, &self.options, batch, self.step, |redraw| {
            let small = BatchTensors::new(&redraw.batch, self.config.tokens());
            let logits = tch::no_grad(|| self.forward(redraw.width, &small, &mut flops));
            Vec::<f32>::try_from(&logits.to_kind(Kind::Float).reshape([-1])).map_err(|e| Error::Engine(format!("read logits: {e}")))
        })?;
        let width_masks = phase_loss_masks(&self.config, &self.options, &batch)?;
        let bt = BatchTensors::with_width_masks(&batch, self.config.tokens(), &width_masks);
        let (terms, parts) = self.losses(&bt, &widths, &mut flops)?;
        let loss = terms.into_iter().reduce(|a, b| a + b).expect("at least the full width");
        loss.f_backward().map_err(torch_error)?;
        let lr = self.options.lr_at(self.step);
        self.adamw_update(lr);

        let flat: Vec<Tensor> = parts.iter().flat_map(|(_, ce, kl)| [ce.detach().view([1]), kl.detach().view([1])]).collect();
        let values = Vec::<f32>::try_from(&Tensor::cat(&flat, 0)).map_err(|e| Error::Engine(format!("read losses: {e}")))?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Error::Other(format!("loss is not finite at step {}: {values:?}", self.step)));
        }
        let losses = parts.iter().enumerate().map(|(i, (w, _, _))| (*w, values[2 * i], values[2 * i + 1])).collect();

        if let Some(ema) = self.ema.as_mut() {
            let d = self.options.ema_decay.min((1.0 + self.step as f32) / (10.0 + self.step as f32)) as f64;
            tch::no_grad(|| {
                for (e, p) in ema.iter_mut().zip(&self.params) {
                    let _ = e.lerp_(&p.detach(), 1.0 - d);
                }
            });
        }
        let seconds = start.elapsed().as_secs_f64();
        let stats = StepStats { step: self.step, lr, losses, forward_flops: flops.0, seconds };
        self.step += 1;
        self.train_seconds += seconds;
        self.forward_flops += flops.0;
        Ok(stats)
    }

    fn eval_ce(&self, batch: &Batch) -> Result<Vec<(usize, f64)>> {
        let widths: Vec<usize> = (0..self.config.widths.len()).collect();
        let bt = BatchTensors::new(batch, self.config.tokens());
        tch::no_grad(|| {
            let (_, parts) = self.losses(&bt, &widths, &mut Flops::default())?;
            Ok(parts.into_iter().map(|(w, ce, _)| (w, ce.double_value(&[]))).collect())
        })
    }

    fn export_weights(&self) -> Result<Weights> {
        self.weights_of(self.ema.as_ref().unwrap_or(&self.params))
    }

    fn save_checkpoint(&self, dir: &Path) -> Result<()> {
        let state = CheckpointState::of(self);
        let model = self.weights_of(&self.params)?;
        let ema = self.ema.as_ref().map(|e| self.weights_of(e)).transpose()?;
        let (m, v) = (self.weights_of(&self.adam.m)?, self.weights_of(&self.adam.v)?);
        super::write_checkpoint(dir, &state, &model, ema.as_ref(), |tmp| {
            m.save(&tmp.join("adamw.m.safetensors"), StoredDtype::F32)?;
            v.save(&tmp.join("adamw.v.safetensors"), StoredDtype::F32)?;
            std::fs::write(tmp.join("adamw.json"), serde_json::json!({ "time": self.adam.time }).to_string())?;
            Ok(())
        })
    }
}
