//! Nested transformer in burn. A sub-model of width d uses the leading slice of every
//! parameter ([`ModelConfig::nested_shape`]), so one set of weights holds every width.

use std::cell::Cell;

use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, FloatDType, IndexingUpdateOp, Int, Tensor, TensorData};

use super::layers::{Block, Embedding, Head, LayerNorm, SubModel};
use super::named::{Load, Source, named_module, named_tensors};
use crate::config::{ModelConfig, TensorKind};
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

pub(super) fn matmul<const D: usize>(a: Tensor<D>, b: Tensor<D>, counter: &FlopCounter) -> Tensor<D> {
    counter.add_matmul(&a.dims(), &b.dims());
    match counter.precision {
        MatmulPrecision::F32 => a.matmul(b),
        MatmulPrecision::Bf16 => {
            a.cast(FloatDType::BF16).matmul(b.cast(FloatDType::BF16)).cast(FloatDType::F32)
        }
    }
}

named_module! {
    /// The nested transformer. Field paths are the DESIGN §2 tensor names (`blocks.0.attn.wq`),
    /// declared in [`ModelConfig::tensor_kinds`] order: the trainer numbers the parameters, and
    /// so keys saved AdamW state, in this order.
    pub struct NestedTransformer {
        pub tokens: Embedding,
        pub classes: Embedding,
        pub positions: Embedding,
        pub blocks: Vec<Block>,
        pub final_norm: LayerNorm,
        pub head: Head,
    }
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

impl NestedTransformer {
    pub fn from_weights(w: &Weights, device: &Device) -> Self {
        Self::load(&Source { weights: w, device }, "")
    }

    /// Every parameter with its DESIGN §2 name, in module order.
    pub fn named_tensors(&self) -> Result<Vec<(String, HostTensor)>> {
        named_tensors(self)
    }

    /// Reads every parameter back into (validated) [`Weights`].
    pub fn to_weights(&self, config: &ModelConfig) -> Result<Weights> {
        let w = Weights { config: config.clone(), tensors: self.named_tensors()?.into_iter().collect() };
        w.validate()?;
        Ok(w)
    }

    /// Input embeddings `[B, S, d]` of full sequences for training: `tokens [B, N]`, `classes [B]`.
    pub fn embed_all(&self, config: &ModelConfig, width: usize, tokens: Tensor<2, Int>, classes: Tensor<1, Int>) -> Tensor<3> {
        let sub = SubModel { config, width };
        let d = sub.dim();
        let [b, n] = tokens.dims();
        let tok = sub.slice(&self.tokens.embedding, TensorKind::TokenEmbedding).select(0, tokens.reshape([b * n]));
        let cls = sub.slice(&self.classes.embedding, TensorKind::ClassEmbedding).select(0, classes);
        let x = Tensor::cat(vec![cls.reshape([b, 1, d]), tok.reshape([b, n, d])], 1);
        x + sub.slice(&self.positions.embedding, TensorKind::PositionEmbedding).unsqueeze_dim(0)
    }

    /// Input embeddings `[B, r, d]` of the given rows (host ids), for decoding.
    fn embed_rows(&self, config: &ModelConfig, width: usize, batch: usize, tokens: &[u32], classes: &[u32], rows: &[u32], device: &Device) -> Tensor<3> {
        let sub = SubModel { config, width };
        let d = sub.dim();
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
                sub.slice(&self.tokens.embedding, TensorKind::TokenEmbedding),
                sub.slice(&self.classes.embedding, TensorKind::ClassEmbedding),
            ],
            0,
        );
        let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [batch * r]), device);
        let pos = Tensor::<1, Int>::from_data(TensorData::new(pos, [batch * r]), device);
        let x = table.select(0, ids) + sub.slice(&self.positions.embedding, TensorKind::PositionEmbedding).select(0, pos);
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
        let sub = SubModel { config, width };
        let d = sub.dim();
        let hd = config.head_dim;
        let heads = d / hd;
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
            let [q, k, v] = blk.attn.qkv(blk.norm1.forward(x.clone(), sub), sub, counter);
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
            x = x + blk.attn.out(o, sub, counter);
            let a = blk.norm2.forward(x.clone(), sub);
            x = x + blk.mlp.forward(a, sub, counter);
        }
        if let Some(c) = cache.as_deref_mut() {
            c.width = width;
            c.layers = new_layers;
        }
        Ok(x)
    }

    /// Final LayerNorm and head on hidden rows `[B, m, d]` → logits `[B, m, K]`.
    pub fn head(&self, config: &ModelConfig, width: usize, x: Tensor<3>, counter: &FlopCounter) -> Tensor<3> {
        let sub = SubModel { config, width };
        self.head.forward(self.final_norm.forward(x, sub), sub, counter)
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
        let device = self.tokens.embedding.val().device();
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
