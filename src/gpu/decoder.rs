//! The VQ tokenizer's decoder on the GPU (contract in docs/TEAM_NOTES.md), batched: codes
//! `[B × N]` → `B × 32×32` RGBA8. Shares the transformer engine's device; its own buffers are
//! created once for `max_batch` images. Checked against `tokenizer::cpu_decode` in tests.

use std::collections::HashMap;

use super::context::{GpuContext, KernelSet, Readback};
use super::dispatch::{Dispatch, slots};
use super::engine::GpuEngine;
use super::kernels::SHADER_DECODER;
use super::params::DecoderParams;
use super::readback::{read_buffer, readback_buffer};
use crate::error::{Error, Result};
use crate::tokenizer::{TokenizerConfig, TokenizerWeights};

slots! {
    /// The decoder shader's entry points.
    enum DecoderKernel {
        Lookup = "lookup",
        Conv = "conv",
        Rgba = "rgba",
    }
}

slots! {
    /// The decoder's stages in order; each reads the previous stage's map and writes its own
    /// (three feature-map buffers A, B, C in rotation).
    enum DecoderStage {
        /// codebook → A
        Lookup = "lookup",
        /// A → B
        ConvIn = "decoder.conv_in",
        /// B → C
        ResConv1 = "decoder.res.conv1",
        /// C → B (added to B: the residual)
        ResConv2 = "decoder.res.conv2",
        /// B → A
        Up1 = "decoder.up1",
        /// A → C
        Up2 = "decoder.up2",
        /// C → B
        ConvOut = "decoder.conv_out",
        /// B → RGBA8
        Rgba = "rgba",
    }
}

/// Output activation of a conv (`Params.act`).
const ACT_NONE: u32 = 0;
const ACT_SILU: u32 = 1;
const ACT_SIGMOID: u32 = 2;

/// One 3×3 conv of the decoder: its stage (and tensor name), channels, output side, and
/// whether it upsamples its input 2×, applies SiLU to its input, and adds into its output.
struct Conv {
    stage: DecoderStage,
    cin: usize,
    cout: usize,
    size: usize,
    up: bool,
    pre_silu: bool,
    act: u32,
    accumulate: bool,
}

fn convs(c: &TokenizerConfig) -> [Conv; 6] {
    let (e, h, g, s) = (c.code_dim, c.hidden, c.grid[0], c.image_size);
    let conv = |stage, cin, cout, size, act| Conv {
        stage,
        cin,
        cout,
        size,
        up: false,
        pre_silu: false,
        act,
        accumulate: false,
    };
    [
        conv(DecoderStage::ConvIn, e, h, g, ACT_SILU),
        Conv { pre_silu: true, ..conv(DecoderStage::ResConv1, h, h, g, ACT_SILU) },
        Conv { accumulate: true, ..conv(DecoderStage::ResConv2, h, h, g, ACT_NONE) },
        Conv { up: true, ..conv(DecoderStage::Up1, h, h / 2, 2 * g, ACT_SILU) },
        Conv { up: true, ..conv(DecoderStage::Up2, h / 2, h / 4, s, ACT_SILU) },
        conv(DecoderStage::ConvOut, h / 4, 3, s, ACT_SIGMOID),
    ]
}

pub struct GpuImageDecoder {
    config: TokenizerConfig,
    max_batch: usize,
    offsets: HashMap<String, u32>,
    codes: wgpu::Buffer,
    out: wgpu::Buffer,
    staging: wgpu::Buffer,
    kernels: KernelSet,
    flops: u64,
}

impl GpuImageDecoder {
    pub fn new(engine: &GpuEngine, tokenizer: &TokenizerWeights, max_batch: usize) -> Result<Self> {
        tokenizer.validate()?;
        let c = tokenizer.config.clone();
        if max_batch == 0 {
            return Err(Error::Engine("image decoder: max_batch must be at least 1".into()));
        }
        let ctx = engine.context();
        let (g, s) = (c.grid[0], c.image_size);
        // Host weight blob: codebook, then each decoder conv's weight and bias.
        let mut blob: Vec<f32> = Vec::new();
        let mut offsets = HashMap::new();
        let names = c.decoder_convs().into_iter().flat_map(|(n, _, _)| [format!("{n}.weight"), format!("{n}.bias")]);
        for name in std::iter::once("quantizer.codebook".to_string()).chain(names) {
            offsets.insert(name.clone(), blob.len() as u32);
            blob.extend_from_slice(&tokenizer.get(&name).data);
        }
        // Largest feature map per image, in floats.
        let h = c.hidden;
        let map =
            [c.code_dim * g * g, h * g * g, (h / 2) * 4 * g * g, (h / 4) * s * s, 3 * s * s].into_iter().max().unwrap();
        let map_bytes = 4 * (max_batch * map) as u64;
        let limits = ctx.device.limits();
        let need = map_bytes.max(4 * blob.len() as u64);
        if need > limits.max_storage_buffer_binding_size as u64 || need > limits.max_buffer_size {
            return Err(Error::Engine(format!(
                "image decoder too large for this GPU: needs a {need}-byte storage buffer (batch {max_batch}), the device allows {}",
                limits.max_storage_buffer_binding_size
            )));
        }
        let none = wgpu::BufferUsages::empty();
        let weights = ctx.storage_buffer("decoder weights", 4 * blob.len() as u64, none);
        let [a, b, cbuf] = ["decoder A", "decoder B", "decoder C"].map(|l| ctx.storage_buffer(l, map_bytes, none));
        let codes = ctx.storage_buffer("decoder codes", 4 * (max_batch * c.tokens()) as u64, none);
        let out_bytes = 4 * (max_batch * s * s) as u64;
        let out = ctx.storage_buffer("decoder rgba", out_bytes, wgpu::BufferUsages::COPY_SRC);
        let staging = readback_buffer(&ctx.device, "decoder readback", out_bytes);
        let params = ctx.param_buffer("decoder params", DecoderStage::ALL.len());
        ctx.queue.write_buffer(&weights, 0, bytemuck::cast_slice(&blob));
        let entry_points: Vec<&str> = DecoderKernel::ALL.iter().map(|k| k.name()).collect();
        let pipelines = ctx.pipelines("decoder", SHADER_DECODER, &entry_points);
        let groups = DecoderStage::ALL
            .iter()
            .map(|stage| {
                let (src, dst) = match stage {
                    DecoderStage::Lookup => (&weights, &a),
                    DecoderStage::ConvIn => (&a, &b),
                    DecoderStage::ResConv1 => (&b, &cbuf),
                    DecoderStage::ResConv2 => (&cbuf, &b),
                    DecoderStage::Up1 => (&b, &a),
                    DecoderStage::Up2 => (&a, &cbuf),
                    DecoderStage::ConvOut => (&cbuf, &b),
                    DecoderStage::Rgba => (&b, &out),
                };
                ctx.bind_group(&params, [&weights, src, &codes, dst])
            })
            .collect();
        ctx.fault.check()?;
        Ok(GpuImageDecoder {
            config: c,
            max_batch,
            offsets,
            codes,
            out,
            staging,
            kernels: KernelSet { params, pipelines, groups },
            flops: 0,
        })
    }

    /// FLOPs (2 × multiply-adds) of the convolutions dispatched so far (zero padding included).
    pub fn flops_performed(&self) -> u64 {
        self.flops
    }

    /// The dispatches that decode `batch` images.
    fn record(&self, batch: usize) -> Vec<Dispatch<DecoderKernel, DecoderStage>> {
        let c = &self.config;
        let (n, s, e) = (c.tokens(), c.image_size, c.code_dim);
        let lookup = DecoderParams {
            batch: batch as u32,
            w_off: self.offsets["quantizer.codebook"],
            tokens: n as u32,
            code_dim: e as u32,
            ..Default::default()
        };
        let mut out = vec![Dispatch::linear(
            DecoderKernel::Lookup,
            DecoderStage::Lookup,
            &lookup,
            ((batch * e * n) as u32).div_ceil(64),
        )];
        for conv in convs(c) {
            let name = conv.stage.name();
            let p = DecoderParams {
                batch: batch as u32,
                cin: conv.cin as u32,
                cout: conv.cout as u32,
                size: conv.size as u32,
                up: conv.up as u32,
                pre_silu: conv.pre_silu as u32,
                act: conv.act,
                accumulate: conv.accumulate as u32,
                w_off: self.offsets[&format!("{name}.weight")],
                b_off: self.offsets[&format!("{name}.bias")],
                ..Default::default()
            };
            let outputs = batch * conv.cout * conv.size * conv.size;
            let flops = 2 * 9 * (outputs * conv.cin) as u64;
            out.push(
                Dispatch::linear(DecoderKernel::Conv, conv.stage, &p, (outputs as u32).div_ceil(64)).with_flops(flops),
            );
        }
        let rgba = DecoderParams { batch: batch as u32, size: s as u32, ..Default::default() };
        out.push(Dispatch::linear(
            DecoderKernel::Rgba,
            DecoderStage::Rgba,
            &rgba,
            ((batch * s * s) as u32).div_ceil(64),
        ));
        out
    }

    /// Decodes `batch` grids of codes (`[batch × N]`, token i = y·g + x) to RGBA8 images,
    /// `batch × image_size² × 4` bytes, row-major.
    pub async fn decode(&mut self, engine: &GpuEngine, codes: &[u32], batch: usize) -> Result<Vec<u8>> {
        let ctx: &GpuContext = engine.context();
        ctx.fault.check()?;
        let c = &self.config;
        let n = c.tokens();
        if batch == 0 || batch > self.max_batch {
            return Err(Error::Decode(format!("image decoder: batch {batch}; created for 1..={}", self.max_batch)));
        }
        if codes.len() != batch * n {
            return Err(Error::Decode(format!(
                "image decoder: {} codes for {batch} images of {n} tokens",
                codes.len()
            )));
        }
        if let Some(bad) = codes.iter().find(|&&v| v as usize >= c.codebook) {
            return Err(Error::Decode(format!(
                "image decoder: code {bad} is outside the codebook (K = {})",
                c.codebook
            )));
        }
        let dispatches = self.record(batch);
        self.flops += dispatches.iter().map(|d| d.flops).sum::<u64>();
        ctx.queue.write_buffer(&self.codes, 0, bytemuck::cast_slice(codes));
        let bytes = 4 * (batch * c.image_size * c.image_size) as u64;
        let readback = Readback { from: &self.out, to: &self.staging, bytes };
        ctx.submit("image decode", &self.kernels, &dispatches, Some(readback), None);
        let raw = read_buffer(&ctx.device, &self.staging, bytes).await?;
        ctx.fault.check()?;
        Ok(raw)
    }
}
