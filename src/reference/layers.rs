//! The nested transformer's layers. Fields are named as in DESIGN §2, so a parameter's path in
//! the model is its tensor name; at width index `width` every layer uses the leading slice of
//! its parameters that [`ModelConfig::nested_shape`] gives.

use burn::module::Param;
use burn::tensor::Tensor;
use burn::tensor::activation::gelu;

use super::model::{FlopCounter, LAYER_NORM_EPS, matmul};
use super::named::named_module;
use crate::config::{ModelConfig, TensorKind};

/// The sub-model at width index `width` of a model with `config`.
#[derive(Clone, Copy)]
pub struct SubModel<'a> {
    pub config: &'a ModelConfig,
    pub width: usize,
}

impl SubModel<'_> {
    /// The model width d.
    pub fn dim(&self) -> usize {
        self.config.widths[self.width]
    }

    /// The leading slice of `p`, a `kind` tensor, that this sub-model uses.
    pub fn slice<const D: usize>(&self, p: &Param<Tensor<D>>, kind: TensorKind) -> Tensor<D> {
        let shape = self.config.nested_shape(kind, self.width);
        p.val().slice(std::array::from_fn::<_, D, _>(|axis| 0..shape[axis]))
    }
}

/// A vector as a row broadcastable over `[B, r, len]`.
fn row(v: Tensor<1>) -> Tensor<3> {
    let [len] = v.dims();
    v.reshape([1, 1, len])
}

/// `[B, r, din] × w [din, dout] + b [dout]`.
fn linear(x: Tensor<3>, w: Tensor<2>, b: Tensor<1>, counter: &FlopCounter) -> Tensor<3> {
    let [bs, r, din] = x.dims();
    let [_, dout] = w.dims();
    let y = matmul(x.reshape([1, bs * r, din]), w.unsqueeze_dim(0), counter);
    y.reshape([bs, r, dout]) + row(b)
}

named_module! {
    /// A `[rows, D]` table: tokens, classes or positions.
    pub struct Embedding {
        pub embedding: Param<Tensor<2>>,
    }
}

named_module! {
    /// LayerNorm with statistics over the leading d features.
    pub struct LayerNorm {
        pub gamma: Param<Tensor<1>>,
        pub beta: Param<Tensor<1>>,
    }
}

named_module! {
    pub struct Attention {
        pub wq: Param<Tensor<2>>,
        pub wk: Param<Tensor<2>>,
        pub wv: Param<Tensor<2>>,
        pub wo: Param<Tensor<2>>,
        pub bq: Param<Tensor<1>>,
        pub bk: Param<Tensor<1>>,
        pub bv: Param<Tensor<1>>,
        pub bo: Param<Tensor<1>>,
    }
}

named_module! {
    pub struct Mlp {
        pub w1: Param<Tensor<2>>,
        pub b1: Param<Tensor<1>>,
        pub w2: Param<Tensor<2>>,
        pub b2: Param<Tensor<1>>,
    }
}

named_module! {
    /// Pre-norm transformer block.
    pub struct Block {
        pub norm1: LayerNorm,
        pub attn: Attention,
        pub norm2: LayerNorm,
        pub mlp: Mlp,
    }
}

named_module! {
    /// Logits over the K codes.
    pub struct Head {
        pub w: Param<Tensor<2>>,
        pub b: Param<Tensor<1>>,
    }
}

impl LayerNorm {
    pub fn forward(&self, x: Tensor<3>, sub: SubModel<'_>) -> Tensor<3> {
        let mean = x.clone().mean_dim(2);
        let centered = x - mean;
        let var = centered.clone().square().mean_dim(2);
        let (gamma, beta) = (sub.slice(&self.gamma, TensorKind::Vector), sub.slice(&self.beta, TensorKind::Vector));
        centered / (var + LAYER_NORM_EPS).sqrt() * row(gamma) + row(beta)
    }
}

impl Attention {
    /// Queries, keys and values `[B, r, d]` of the normed rows `a`.
    pub fn qkv(&self, a: Tensor<3>, sub: SubModel<'_>, counter: &FlopCounter) -> [Tensor<3>; 3] {
        let project = |w, b| {
            linear(a.clone(), sub.slice(w, TensorKind::Projection), sub.slice(b, TensorKind::Vector), counter)
        };
        [project(&self.wq, &self.bq), project(&self.wk, &self.bk), project(&self.wv, &self.bv)]
    }

    /// The output projection of the heads' concatenated outputs `o [B, r, d]`.
    pub fn out(&self, o: Tensor<3>, sub: SubModel<'_>, counter: &FlopCounter) -> Tensor<3> {
        linear(o, sub.slice(&self.wo, TensorKind::Projection), sub.slice(&self.bo, TensorKind::Vector), counter)
    }
}

impl Mlp {
    pub fn forward(&self, a: Tensor<3>, sub: SubModel<'_>, counter: &FlopCounter) -> Tensor<3> {
        let h = gelu(linear(a, sub.slice(&self.w1, TensorKind::MlpIn), sub.slice(&self.b1, TensorKind::MlpBias), counter));
        linear(h, sub.slice(&self.w2, TensorKind::MlpOut), sub.slice(&self.b2, TensorKind::Vector), counter)
    }
}

impl Head {
    pub fn forward(&self, x: Tensor<3>, sub: SubModel<'_>, counter: &FlopCounter) -> Tensor<3> {
        linear(x, sub.slice(&self.w, TensorKind::Head), sub.slice(&self.b, TensorKind::HeadBias), counter)
    }
}
