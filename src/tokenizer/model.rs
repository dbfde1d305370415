//! The VQ autoencoder in burn. The decoder is exactly the TEAM_NOTES contract (and
//! [`super::cpu_decode`]); the encoder is ours (see [`super::weights`] for its layers). The
//! codebook is not a burn parameter: it is updated by EMA on the host (see `train`), so the
//! model holds convolutions only.

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::{sigmoid, silu};
use burn::tensor::{Device, Tensor, TensorData};

use super::weights::{TokenizerConfig, TokenizerWeights};
use crate::error::{Error, Result};
use crate::weights::HostTensor;

#[derive(Module, Debug)]
pub struct Encoder {
    pub conv_in: Conv2d,
    pub down1: Conv2d,
    pub down2: Conv2d,
    pub res_conv1: Conv2d,
    pub res_conv2: Conv2d,
    pub conv_out: Conv2d,
}

#[derive(Module, Debug)]
pub struct Decoder {
    pub conv_in: Conv2d,
    pub res_conv1: Conv2d,
    pub res_conv2: Conv2d,
    pub up1: Conv2d,
    pub up2: Conv2d,
    pub conv_out: Conv2d,
}

#[derive(Module, Debug)]
pub struct VqAutoencoder {
    pub encoder: Encoder,
    pub decoder: Decoder,
}

fn conv(cin: usize, cout: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    let pad = match k {
        1 => 0,
        _ => 1,
    };
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .init(device)
}

/// Nearest 2× upsampling `[B, C, H, W]` → `[B, C, 2H, 2W]` (pixel (y, x) copies (y/2, x/2)).
pub fn upsample2(x: Tensor<4>) -> Tensor<4> {
    let [b, c, h, w] = x.dims();
    x.reshape([b * c, h, 1, w, 1]).expand([b * c, h, 2, w, 2]).reshape([b, c, 2 * h, 2 * w])
}

/// Unit-length code vectors (per position, over channels). Looking codes up by cosine
/// similarity on the unit sphere keeps far more of the codebook in use than raw L2 (ViT-VQGAN);
/// the codebook entries are kept unit-length too, so the decoder contract is unchanged.
pub fn l2_normalize_channels(z: Tensor<4>) -> Tensor<4> {
    let n = (z.clone().square().sum_dim(1) + 1e-8).sqrt();
    z / n
}

impl Encoder {
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let h = silu(self.conv_in.forward(x));
        let h = silu(self.down1.forward(h));
        let h = self.down2.forward(h);
        let r = self.res_conv2.forward(silu(self.res_conv1.forward(silu(h.clone()))));
        l2_normalize_channels(self.conv_out.forward(silu(h + r)))
    }
}

impl Decoder {
    /// Feature map `[B, e, 8, 8]` → RGB `[B, 3, 32, 32]` in [0, 1].
    pub fn forward(&self, z: Tensor<4>) -> Tensor<4> {
        let h = silu(self.conv_in.forward(z));
        let r = self.res_conv2.forward(silu(self.res_conv1.forward(silu(h.clone()))));
        let h = h + r;
        let h = silu(self.up1.forward(upsample2(h)));
        let h = silu(self.up2.forward(upsample2(h)));
        sigmoid(self.conv_out.forward(h))
    }
}

/// (model field, file name) pairs, used for export/import.
fn named_convs(m: &VqAutoencoder) -> Vec<(&Conv2d, &'static str)> {
    let (e, d) = (&m.encoder, &m.decoder);
    vec![
        (&e.conv_in, "encoder.conv_in"),
        (&e.down1, "encoder.down1"),
        (&e.down2, "encoder.down2"),
        (&e.res_conv1, "encoder.res.conv1"),
        (&e.res_conv2, "encoder.res.conv2"),
        (&e.conv_out, "encoder.conv_out"),
        (&d.conv_in, "decoder.conv_in"),
        (&d.res_conv1, "decoder.res.conv1"),
        (&d.res_conv2, "decoder.res.conv2"),
        (&d.up1, "decoder.up1"),
        (&d.up2, "decoder.up2"),
        (&d.conv_out, "decoder.conv_out"),
    ]
}

fn to_host<const D: usize>(t: Tensor<D>) -> Result<HostTensor> {
    let data = t.into_data();
    let shape = data.shape().to_vec();
    let v = data.try_to_vec::<f32>().map_err(|e| Error::Engine(format!("read tensor: {e:?}")))?;
    Ok(HostTensor { shape, data: v })
}

fn load_conv(c: Conv2d, w: &HostTensor, b: &HostTensor, device: &Device) -> Conv2d {
    Conv2d {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(w.data.clone(), w.shape.clone()), device)),
        bias: Some(Param::from_tensor(Tensor::from_data(TensorData::new(b.data.clone(), b.shape.clone()), device))),
        ..c
    }
}

impl VqAutoencoder {
    /// Fresh model (burn's default Kaiming init; seed the device first for reproducibility).
    pub fn new(c: &TokenizerConfig, device: &Device) -> Self {
        let (e, h) = (c.code_dim, c.hidden);
        VqAutoencoder {
            encoder: Encoder {
                conv_in: conv(3, h / 4, 3, 1, device),
                down1: conv(h / 4, h / 2, 4, 2, device),
                down2: conv(h / 2, h, 4, 2, device),
                res_conv1: conv(h, h, 3, 1, device),
                res_conv2: conv(h, h, 3, 1, device),
                conv_out: conv(h, e, 1, 1, device),
            },
            decoder: Decoder {
                conv_in: conv(e, h, 3, 1, device),
                res_conv1: conv(h, h, 3, 1, device),
                res_conv2: conv(h, h, 3, 1, device),
                up1: conv(h, h / 2, 3, 1, device),
                up2: conv(h / 2, h / 4, 3, 1, device),
                conv_out: conv(h / 4, 3, 3, 1, device),
            },
        }
    }

    /// Model from a weights file. Without an encoder in the file the encoder stays random
    /// (fine for decoding only).
    pub fn from_weights(w: &TokenizerWeights, device: &Device) -> Self {
        let fresh = VqAutoencoder::new(&w.config, device);
        let get = |n: &str, c: Conv2d| match (w.tensors.get(&format!("{n}.weight")), w.tensors.get(&format!("{n}.bias"))) {
            (Some(wt), Some(b)) => load_conv(c, wt, b, device),
            _ => c,
        };
        let VqAutoencoder { encoder: e, decoder: d } = fresh;
        VqAutoencoder {
            encoder: Encoder {
                conv_in: get("encoder.conv_in", e.conv_in),
                down1: get("encoder.down1", e.down1),
                down2: get("encoder.down2", e.down2),
                res_conv1: get("encoder.res.conv1", e.res_conv1),
                res_conv2: get("encoder.res.conv2", e.res_conv2),
                conv_out: get("encoder.conv_out", e.conv_out),
            },
            decoder: Decoder {
                conv_in: get("decoder.conv_in", d.conv_in),
                res_conv1: get("decoder.res.conv1", d.res_conv1),
                res_conv2: get("decoder.res.conv2", d.res_conv2),
                up1: get("decoder.up1", d.up1),
                up2: get("decoder.up2", d.up2),
                conv_out: get("decoder.conv_out", d.conv_out),
            },
        }
    }

    /// Exports every convolution plus the given codebook as validated weights.
    pub fn to_weights(&self, config: &TokenizerConfig, codebook: &HostTensor) -> Result<TokenizerWeights> {
        let mut tensors = std::collections::HashMap::new();
        tensors.insert("quantizer.codebook".to_string(), codebook.clone());
        for (c, n) in named_convs(self) {
            tensors.insert(format!("{n}.weight"), to_host(c.weight.val())?);
            let b = c.bias.as_ref().ok_or_else(|| Error::Engine(format!("{n} has no bias")))?;
            tensors.insert(format!("{n}.bias"), to_host(b.val())?);
        }
        let w = TokenizerWeights { config: config.clone(), tensors };
        w.validate()?;
        Ok(w)
    }
}

/// Nearest codebook entry for each of `n` vectors of length `e` (host, exact squared L2).
pub fn nearest_codes(z: &[f32], e: usize, codebook: &[f32]) -> Vec<u32> {
    let k = codebook.len() / e;
    let norms: Vec<f32> = (0..k).map(|j| codebook[j * e..(j + 1) * e].iter().map(|v| v * v).sum()).collect();
    z.chunks_exact(e)
        .map(|v| {
            let mut best = (f32::INFINITY, 0u32);
            for j in 0..k {
                let c = &codebook[j * e..(j + 1) * e];
                // |c|² − 2 v·c (|v|² is the same for every j)
                let d = norms[j] - 2.0 * v.iter().zip(c).map(|(a, b)| a * b).sum::<f32>();
                if d < best.0 {
                    best = (d, j as u32);
                }
            }
            best.1
        })
        .collect()
}

/// `[B, e, g, g]` (CHW per image) → `[B·g·g, e]` rows (token i = y·g + x of image b).
pub fn chw_to_rows(z: &[f32], b: usize, e: usize, n: usize) -> Vec<f32> {
    let mut out = vec![0.0; z.len()];
    for bi in 0..b {
        for j in 0..e {
            for p in 0..n {
                out[(bi * n + p) * e + j] = z[(bi * e + j) * n + p];
            }
        }
    }
    out
}

/// Codebook rows of the given codes laid out as `[B, e, g, g]`.
pub fn codes_to_chw(codes: &[u32], codebook: &[f32], e: usize, n: usize) -> Vec<f32> {
    let b = codes.len() / n;
    let mut out = vec![0.0; codes.len() * e];
    for bi in 0..b {
        for p in 0..n {
            let c = codes[bi * n + p] as usize;
            for j in 0..e {
                out[(bi * e + j) * n + p] = codebook[c * e + j];
            }
        }
    }
    out
}

/// Inference wrapper: model + codebook.
pub struct Tokenizer {
    pub config: TokenizerConfig,
    pub model: VqAutoencoder,
    pub codebook: HostTensor,
    pub device: Device,
}

impl Tokenizer {
    pub fn new(w: &TokenizerWeights, device: &Device) -> Self {
        Tokenizer {
            config: w.config.clone(),
            model: VqAutoencoder::from_weights(w, device),
            codebook: w.get("quantizer.codebook").clone(),
            device: device.clone(),
        }
    }

    /// Images `[B, 3, 32, 32]` (CHW f32 in [0, 1], flattened) → codes `[B, 64]`.
    pub fn encode(&self, images_chw: &[f32]) -> Result<Vec<u32>> {
        let s = self.config.image_size;
        let b = images_chw.len() / (3 * s * s);
        let x = Tensor::<4>::from_data(TensorData::new(images_chw.to_vec(), [b, 3, s, s]), &self.device);
        let z = to_host(self.model.encoder.forward(x))?;
        let n = self.config.tokens();
        Ok(nearest_codes(&chw_to_rows(&z.data, b, self.config.code_dim, n), self.config.code_dim, &self.codebook.data))
    }

    /// Codes `[B, 64]` → images `[B, 3, 32, 32]` CHW f32 in [0, 1].
    pub fn decode(&self, codes: &[u32]) -> Result<Vec<f32>> {
        let (n, e, g) = (self.config.tokens(), self.config.code_dim, self.config.grid[0]);
        if codes.len() % n != 0 || codes.iter().any(|&c| c as usize >= self.config.codebook) {
            return Err(Error::Decode("tokenizer decode: bad code count or out-of-range code".into()));
        }
        let b = codes.len() / n;
        let z = codes_to_chw(codes, &self.codebook.data, e, n);
        let z = Tensor::<4>::from_data(TensorData::new(z, [b, e, g, g]), &self.device);
        Ok(to_host(self.model.decoder.forward(z))?.data)
    }
}
