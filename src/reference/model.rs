//! Nested transformer in burn. A sub-model of width d uses the leading `[:d]` slice of every
//! parameter, so one set of weights holds every width.

use std::cell::Cell;

use burn::module::{Module, Param};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::{Bool, Device, FloatDType, IndexingUpdateOp, Int, Tensor, TensorData};

use crate::config::ModelConfig;
use crate::error::{Error, Result};
use crate::weights::{HostTensor, Weights};

pub const LAYER_NORM_EPS: f32 = 1e-5;

/// Number format of the matrix products. Everything else (weights, LayerNorm, softmax, the
/// losses, the optimizer) stays f32: `Bf16` is mixed precision with f32 master weights, for
/// CPUs whose bf16 matrix units (AVX-512 BF16, AMX) are several times faster than f32.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MatmulPrecision {
    #[default]
    F32,
    Bf16,
}

/// Carried through every forward pass: counts FLOPs (2 × multiply-adds) of the matrix
/// products actually executed, from the shapes of the tensors involved, and says in which
/// precision they run.
#[derive(Debug, Default)]
pub struct FlopCounter {
    flops: Cell<u64>,
    precision: MatmulPrecision,
}

impl FlopCounter {
    pub fn with_precision(precision: MatmulPrecision) -> Self {
        FlopCounter { flops: Cell::new(0), precision }
    }
    pub fn get(&self) -> u64 {
        self.flops.get()
    }
    fn add_matmul(&self, lhs: &[usize], rhs: &[usize]) {
        // [.., m, k] × [.., k, n]: 2·batch·m·k·n
        let (m, k) = (lhs[lhs.len() - 2], lhs[lhs.len() - 1]);
        let n = rhs[rhs.len() - 1];
        let batch: usize = lhs[..lhs.len() - 2].iter().product();
        self.flops.set(self.flops.get() + 2 * (batch * m * k * n) as u64);
    }
}

fn matmul<const D: usize>(a: Tensor<D>, b: Tensor<D>, counter: &FlopCounter) -> Tensor<D> {
    counter.add_matmul(&a.dims(), &b.dims());
    match counter.precision {
        MatmulPrecision::F32 => a.matmul(b),
        MatmulPrecision::Bf16 => {
            a.cast(FloatDType::BF16).matmul(b.cast(FloatDType::BF16)).cast(FloatDType::F32)
        }
    }
}

#[derive(Module, Debug)]
pub struct Block {
    pub norm1_gamma: Param<Tensor<1>>,
    pub norm1_beta: Param<Tensor<1>>,
    pub wq: Param<Tensor<2>>,
    pub wk: Param<Tensor<2>>,
    pub wv: Param<Tensor<2>>,
    pub wo: Param<Tensor<2>>,
    pub bq: Param<Tensor<1>>,
    pub bk: Param<Tensor<1>>,
    pub bv: Param<Tensor<1>>,
    pub bo: Param<Tensor<1>>,
    pub norm2_gamma: Param<Tensor<1>>,
    pub norm2_beta: Param<Tensor<1>>,
    pub w1: Param<Tensor<2>>,
    pub b1: Param<Tensor<1>>,
    pub w2: Param<Tensor<2>>,
    pub b2: Param<Tensor<1>>,
}

#[derive(Module, Debug)]
pub struct NestedTransformer {
    pub tokens: Param<Tensor<2>>,
    pub classes: Param<Tensor<2>>,
    pub positions: Param<Tensor<2>>,
    pub blocks: Vec<Block>,
    pub final_gamma: Param<Tensor<1>>,
    pub final_beta: Param<Tensor<1>>,
    pub head_w: Param<Tensor<2>>,
    pub head_b: Param<Tensor<1>>,
}

/// Per layer K and V, `[B, N+1, d]`, at the width that wrote them.
#[derive(Debug, Clone)]
pub struct KvCache {
    pub width: usize,
    pub layers: Vec<(Tensor<3>, Tensor<3>)>,
}

/// Which rows a forward pass processes.
pub enum RowsSpec<'a> {
    /// All N+1 rows; the cache (if given) is rewritten.
    All,
    /// `[B × r]` sequence positions; K/V of other rows come from the cache.
    Active(&'a [u32]),
}

fn param1(t: &HostTensor, device: &Device) -> Param<Tensor<1>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(t.data.clone(), t.shape.clone()), device))
}
fn param2(t: &HostTensor, device: &Device) -> Param<Tensor<2>> {
    Param::from_tensor(Tensor::from_data(TensorData::new(t.data.clone(), t.shape.clone()), device))
}
fn host<const D: usize>(t: &Param<Tensor<D>>) -> Result<HostTensor> {
    let data = t.val().into_data();
    let shape = data.shape().to_vec();
    let v = data.try_to_vec::<f32>().map_err(|e| Error::Engine(format!("read parameter: {e:?}")))?;
    Ok(HostTensor::new(shape, v))
}

/// `x[..., :d]` as a row vector broadcastable over `[B, r, d]`.
fn vec3(p: &Param<Tensor<1>>, d: usize) -> Tensor<3> {
    p.val().slice([0..d]).reshape([1, 1, d])
}

fn layer_norm(x: Tensor<3>, gamma: &Param<Tensor<1>>, beta: &Param<Tensor<1>>, d: usize) -> Tensor<3> {
    let mean = x.clone().mean_dim(2);
    let centered = x - mean;
    let var = centered.clone().square().mean_dim(2);
    centered / (var + LAYER_NORM_EPS).sqrt() * vec3(gamma, d) + vec3(beta, d)
}

/// `[B, r, din] × W[:din, :dout] + b[:dout]`.
fn linear(x: Tensor<3>, w: &Param<Tensor<2>>, b: &Param<Tensor<1>>, din: usize, dout: usize, c: &FlopCounter) -> Tensor<3> {
    let [bs, r, _] = x.dims();
    let w = w.val().slice([0..din, 0..dout]);
    let y = matmul(x.reshape([1, bs * r, din]), w.unsqueeze_dim(0), c);
    y.reshape([bs, r, dout]) + vec3(b, dout)
}

impl NestedTransformer {
    pub fn from_weights(w: &Weights, device: &Device) -> Self {
        let g = |n: &str| w.get(n);
        let blocks = (0..w.config.depth)
            .map(|l| {
                let p = |s: &str| format!("blocks.{l}.{s}");
                Block {
                    norm1_gamma: param1(g(&p("norm1.gamma")), device),
                    norm1_beta: param1(g(&p("norm1.beta")), device),
                    wq: param2(g(&p("attn.wq")), device),
                    wk: param2(g(&p("attn.wk")), device),
                    wv: param2(g(&p("attn.wv")), device),
                    wo: param2(g(&p("attn.wo")), device),
                    bq: param1(g(&p("attn.bq")), device),
                    bk: param1(g(&p("attn.bk")), device),
                    bv: param1(g(&p("attn.bv")), device),
                    bo: param1(g(&p("attn.bo")), device),
                    norm2_gamma: param1(g(&p("norm2.gamma")), device),
                    norm2_beta: param1(g(&p("norm2.beta")), device),
                    w1: param2(g(&p("mlp.w1")), device),
                    b1: param1(g(&p("mlp.b1")), device),
                    w2: param2(g(&p("mlp.w2")), device),
                    b2: param1(g(&p("mlp.b2")), device),
                }
            })
            .collect();
        NestedTransformer {
            tokens: param2(g("tokens.embedding"), device),
            classes: param2(g("classes.embedding"), device),
            positions: param2(g("positions.embedding"), device),
            blocks,
            final_gamma: param1(g("final_norm.gamma"), device),
            final_beta: param1(g("final_norm.beta"), device),
            head_w: param2(g("head.w"), device),
            head_b: param1(g("head.b"), device),
        }
    }

    /// Reads every parameter back into a [`Weights`] with the DESIGN §2 names.
    pub fn to_weights(&self, config: &ModelConfig) -> Result<Weights> {
        let mut t = std::collections::HashMap::new();
        let mut put = |n: String, v: HostTensor| {
            t.insert(n, v);
        };
        put("tokens.embedding".into(), host(&self.tokens)?);
        put("classes.embedding".into(), host(&self.classes)?);
        put("positions.embedding".into(), host(&self.positions)?);
        for (l, b) in self.blocks.iter().enumerate() {
            let p = |s: &str| format!("blocks.{l}.{s}");
            put(p("norm1.gamma"), host(&b.norm1_gamma)?);
            put(p("norm1.beta"), host(&b.norm1_beta)?);
            put(p("attn.wq"), host(&b.wq)?);
            put(p("attn.wk"), host(&b.wk)?);
            put(p("attn.wv"), host(&b.wv)?);
            put(p("attn.wo"), host(&b.wo)?);
            put(p("attn.bq"), host(&b.bq)?);
            put(p("attn.bk"), host(&b.bk)?);
            put(p("attn.bv"), host(&b.bv)?);
            put(p("attn.bo"), host(&b.bo)?);
            put(p("norm2.gamma"), host(&b.norm2_gamma)?);
            put(p("norm2.beta"), host(&b.norm2_beta)?);
            put(p("mlp.w1"), host(&b.w1)?);
            put(p("mlp.b1"), host(&b.b1)?);
            put(p("mlp.w2"), host(&b.w2)?);
            put(p("mlp.b2"), host(&b.b2)?);
        }
        put("final_norm.gamma".into(), host(&self.final_gamma)?);
        put("final_norm.beta".into(), host(&self.final_beta)?);
        put("head.w".into(), host(&self.head_w)?);
        put("head.b".into(), host(&self.head_b)?);
        let w = Weights { config: config.clone(), tensors: t };
        w.validate()?;
        Ok(w)
    }

    /// Input embeddings `[B, S, d]` of full sequences for training: `tokens [B, N]`, `classes [B]`.
    pub fn embed_all(&self, config: &ModelConfig, width: usize, tokens: Tensor<2, Int>, classes: Tensor<1, Int>) -> Tensor<3> {
        let d = config.widths[width];
        let [b, n] = tokens.dims();
        let tok = self.tokens.val().slice([0..config.codebook + 1, 0..d]).select(0, tokens.reshape([b * n]));
        let cls = self.classes.val().slice([0..config.classes + 1, 0..d]).select(0, classes);
        let x = Tensor::cat(vec![cls.reshape([b, 1, d]), tok.reshape([b, n, d])], 1);
        x + self.positions.val().slice([0..n + 1, 0..d]).unsqueeze_dim(0)
    }

    /// Input embeddings `[B, r, d]` of the given rows (host ids), for decoding.
    fn embed_rows(&self, config: &ModelConfig, width: usize, batch: usize, tokens: &[u32], classes: &[u32], rows: &[u32], device: &Device) -> Tensor<3> {
        let d = config.widths[width];
        let n = config.tokens();
        let r = rows.len() / batch;
        // Ids index the concatenated table [tokens (K+1) ; classes (C+1)].
        let ids: Vec<i64> = rows
            .iter()
            .enumerate()
            .map(|(j, &pos)| {
                let b = j / r;
                if pos == 0 {
                    (config.codebook + 1) as i64 + classes[b] as i64
                } else {
                    tokens[b * n + pos as usize - 1] as i64
                }
            })
            .collect();
        let pos: Vec<i64> = rows.iter().map(|&p| p as i64).collect();
        let table = Tensor::cat(
            vec![
                self.tokens.val().slice([0..config.codebook + 1, 0..d]),
                self.classes.val().slice([0..config.classes + 1, 0..d]),
            ],
            0,
        );
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [batch * r]), device);
        let pos = Tensor::<1, Int>::from_data(TensorData::new(pos, [batch * r]), device);
        let x = table.select(0, ids) + self.positions.val().slice([0..n + 1, 0..d]).select(0, pos);
        x.reshape([batch, r, d])
    }

    /// Runs the blocks on `x [B, r, d]` at width index `width`; returns the hidden states of the
    /// processed rows. With `RowsSpec::All` the cache (when given) is rewritten; with
    /// `RowsSpec::Active` the rows' K/V are written into it and attention reads all N+1 rows.
    pub fn blocks_forward(
        &self,
        config: &ModelConfig,
        width: usize,
        mut x: Tensor<3>,
        rows: RowsSpec<'_>,
        mut cache: Option<&mut KvCache>,
        counter: &FlopCounter,
    ) -> Result<Tensor<3>> {
        let d = config.widths[width];
        let hd = config.head_dim;
        let heads = d / hd;
        let hidden = config.mlp_dim(d);
        let [bs, r, _] = x.dims();
        let s = config.seq_len();
        let device = x.device();

        // Scatter plan for active rows: flat row indices into [B·S] and a mask of those rows.
        let scatter = match rows {
            RowsSpec::All => None,
            RowsSpec::Active(positions) => {
                let c = cache.as_deref().ok_or_else(|| Error::Engine("active rows need a KV cache".into()))?;
                if c.width != width || c.layers.len() != config.depth {
                    return Err(Error::Engine(format!(
                        "cache written at width {} cannot serve width {}; refresh first",
                        config.widths[c.width], d
                    )));
                }
                let flat: Vec<i64> = positions.iter().enumerate().map(|(j, &p)| ((j / r) * s + p as usize) as i64).collect();
                let mut mask = vec![false; bs * s];
                for &f in &flat {
                    mask[f as usize] = true;
                }
                let idx = Tensor::<1, Int>::from_data(TensorData::new(flat, [bs * r]), &device);
                let mask = Tensor::<2, Bool>::from_data(TensorData::new(mask, [bs * s, 1]), &device).expand([bs * s, d]);
                Some((idx, mask))
            }
        };

        let mut new_layers = Vec::with_capacity(config.depth);
        for (l, blk) in self.blocks.iter().enumerate() {
            let a = layer_norm(x.clone(), &blk.norm1_gamma, &blk.norm1_beta, d);
            let q = linear(a.clone(), &blk.wq, &blk.bq, d, d, counter);
            let k = linear(a.clone(), &blk.wk, &blk.bk, d, d, counter);
            let v = linear(a, &blk.wv, &blk.bv, d, d, counter);
            let (k_all, v_all) = match &scatter {
                None => (k, v),
                Some((idx, mask)) => {
                    let c = cache.as_deref().expect("checked above");
                    let write = |old: &Tensor<3>, new: Tensor<3>| {
                        old.clone()
                            .reshape([bs * s, d])
                            .mask_fill(mask.clone(), 0.0)
                            .select_assign(0, idx.clone(), new.reshape([bs * r, d]), IndexingUpdateOp::Add)
                            .reshape([bs, s, d])
                    };
                    (write(&c.layers[l].0, k), write(&c.layers[l].1, v))
                }
            };
            new_layers.push((k_all.clone(), v_all.clone()));
            let split = |t: Tensor<3>, len: usize| t.reshape([bs, len, heads, hd]).swap_dims(1, 2);
            let keys = k_all.dims()[1];
            let scores = matmul(split(q, r), split(k_all, keys).swap_dims(2, 3), counter) / (hd as f32).sqrt();
            let o = matmul(softmax(scores, 3), split(v_all, keys), counter);
            let o = o.swap_dims(1, 2).reshape([bs, r, d]);
            x = x + linear(o, &blk.wo, &blk.bo, d, d, counter);
            let a = layer_norm(x.clone(), &blk.norm2_gamma, &blk.norm2_beta, d);
            let h = gelu(linear(a, &blk.w1, &blk.b1, d, hidden, counter));
            x = x + linear(h, &blk.w2, &blk.b2, hidden, d, counter);
        }
        if let Some(c) = cache.as_deref_mut() {
            c.width = width;
            c.layers = new_layers;
        }
        Ok(x)
    }

    /// Final LayerNorm and head on hidden rows `[B, m, d]` → logits `[B, m, K]`.
    pub fn head(&self, config: &ModelConfig, width: usize, x: Tensor<3>, counter: &FlopCounter) -> Tensor<3> {
        let d = config.widths[width];
        let x = layer_norm(x, &self.final_gamma, &self.final_beta, d);
        linear(x, &self.head_w, &self.head_b, d, config.codebook, counter)
    }

    /// Training forward: logits `[B, N, K]` for every image position at width index `width`.
    pub fn forward_train(&self, config: &ModelConfig, width: usize, tokens: Tensor<2, Int>, classes: Tensor<1, Int>, counter: &FlopCounter) -> Tensor<3> {
        let x = self.embed_all(config, width, tokens, classes);
        let x = self.blocks_forward(config, width, x, RowsSpec::All, None, counter).expect("no cache, no error");
        let [b, s, d] = x.dims();
        self.head(config, width, x.slice([0..b, 1..s, 0..d]), counter)
    }

    /// Decoding forward (host ids in, device logits out): processes `rows` (or all rows) of
    /// `batch` sequences, updates `cache`, and returns logits `[B, m, K]` for `logit_rows`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward_rows(
        &self,
        config: &ModelConfig,
        width: usize,
        batch: usize,
        tokens: &[u32],
        classes: &[u32],
        rows: Option<&[u32]>,
        logit_rows: &[u32],
        cache: Option<&mut KvCache>,
        counter: &FlopCounter,
    ) -> Result<Tensor<3>> {
        let device = self.tokens.val().device();
        let all: Vec<u32>;
        let (row_list, spec) = match rows {
            None => {
                all = (0..batch).flat_map(|_| 0..config.seq_len() as u32).collect();
                (all.as_slice(), RowsSpec::All)
            }
            Some(r) => (r, RowsSpec::Active(r)),
        };
        let r = row_list.len() / batch;
        let m = logit_rows.len() / batch;
        let x = self.embed_rows(config, width, batch, tokens, classes, row_list, &device);
        let x = self.blocks_forward(config, width, x, spec, cache, counter)?;
        // Map each logit position to its index among the processed rows of its sequence.
        let mut pick = Vec::with_capacity(batch * m);
        for b in 0..batch {
            let seq_rows = &row_list[b * r..(b + 1) * r];
            for &p in &logit_rows[b * m..(b + 1) * m] {
                let j = seq_rows.binary_search(&p).map_err(|_| {
                    Error::Engine(format!("logit row {p} of sequence {b} was not processed this step"))
                })?;
                pick.push((b * r + j) as i64);
            }
        }
        let d = config.widths[width];
        let idx = Tensor::<1, Int>::from_data(TensorData::new(pick, [batch * m]), &device);
        let h = x.reshape([batch * r, d]).select(0, idx).reshape([batch, m, d]);
        Ok(self.head(config, width, h, counter))
    }
}
