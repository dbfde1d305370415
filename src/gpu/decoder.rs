//! The VQ tokenizer's decoder on the GPU (contract in docs/TEAM_NOTES.md), batched: codes
//! `[B × N]` → `B × 32×32` RGBA8. Shares the transformer engine's device; its own buffers are
//! created once for `max_batch` images. Checked against `tokenizer::cpu_decode` in tests.

use super::engine::GpuEngine;
use super::util::{self, Recorder};
use crate::error::{Error, Result};
use crate::tokenizer::TokenizerWeights;

pub const SHADER_DECODER: &str = include_str!("../../shaders/decoder.wgsl");

const K_LOOKUP: usize = 0;
const K_CONV: usize = 1;
const K_RGBA: usize = 2;

pub struct GpuImageDecoder {
    config: crate::tokenizer::TokenizerConfig,
    max_batch: usize,
    offsets: std::collections::HashMap<String, u32>,
    params: wgpu::Buffer,
    codes: wgpu::Buffer,
    out: wgpu::Buffer,
    staging: wgpu::Buffer,
    kernels: Vec<wgpu::ComputePipeline>,
    /// Bind groups: lookup→A, A→B, B→C, C→B, B→A, A→C, C→B, B→rgba.
    groups: Vec<wgpu::BindGroup>,
    rec: Recorder,
    flops: u64,
}

impl GpuImageDecoder {
    pub fn new(engine: &GpuEngine, tokenizer: &TokenizerWeights, max_batch: usize) -> Result<Self> {
        tokenizer.validate()?;
        let c = tokenizer.config.clone();
        if max_batch == 0 {
            return Err(Error::Engine(
                "image decoder: max_batch must be at least 1".into(),
            ));
        }
        let device = engine.device();
        let g = c.grid[0];
        let s = c.image_size;
        // Host weight blob: codebook, then each decoder conv's weight and bias.
        let mut blob: Vec<f32> = Vec::new();
        let mut offsets = std::collections::HashMap::new();
        let mut put = |name: String, data: &[f32]| {
            offsets.insert(name, blob.len() as u32);
            blob.extend_from_slice(data);
        };
        put(
            "quantizer.codebook".into(),
            &tokenizer.get("quantizer.codebook").data,
        );
        for (n, _, _) in c.decoder_convs() {
            put(
                format!("{n}.weight"),
                &tokenizer.get(&format!("{n}.weight")).data,
            );
            put(
                format!("{n}.bias"),
                &tokenizer.get(&format!("{n}.bias")).data,
            );
        }
        // Largest feature map per image, in floats.
        let h = c.hidden;
        let map = [
            c.code_dim * g * g,
            h * g * g,
            (h / 2) * 4 * g * g,
            (h / 4) * s * s,
            3 * s * s,
        ]
        .into_iter()
        .max()
        .unwrap();
        let map_bytes = 4 * (max_batch * map) as u64;
        let limits = device.limits();
        let need = map_bytes.max(4 * blob.len() as u64);
        if need > limits.max_storage_buffer_binding_size as u64 || need > limits.max_buffer_size {
            return Err(Error::Engine(format!(
                "image decoder too large for this GPU: needs a {need}-byte storage buffer (batch {max_batch}), the device allows {}",
                limits.max_storage_buffer_binding_size
            )));
        }
        let align = limits
            .min_uniform_buffer_offset_alignment
            .max(util::PARAM_BYTES as u32) as usize;
        let none = wgpu::BufferUsages::empty();
        let weights = util::storage_buffer(device, "decoder weights", 4 * blob.len() as u64, none);
        let a = util::storage_buffer(device, "decoder A", map_bytes, none);
        let b = util::storage_buffer(device, "decoder B", map_bytes, none);
        let cbuf = util::storage_buffer(device, "decoder C", map_bytes, none);
        let codes = util::storage_buffer(
            device,
            "decoder codes",
            4 * (max_batch * c.tokens()) as u64,
            none,
        );
        let out_bytes = 4 * (max_batch * s * s) as u64;
        let out = util::storage_buffer(
            device,
            "decoder rgba",
            out_bytes,
            wgpu::BufferUsages::COPY_SRC,
        );
        let staging = util::readback_buffer(device, "decoder readback", out_bytes);
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("decoder params"),
            size: (16 * align) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        engine
            .queue()
            .write_buffer(&weights, 0, bytemuck::cast_slice(&blob));
        let module = util::module(device, "decoder", SHADER_DECODER);
        let pl = &engine.pipeline_layout;
        let kernels = vec![
            util::entry(device, pl, &module, "decoder lookup", "lookup"),
            util::entry(device, pl, &module, "decoder conv", "conv"),
            util::entry(device, pl, &module, "decoder rgba", "rgba"),
        ];
        let bg = |src: &wgpu::Buffer, dst: &wgpu::Buffer| {
            util::bind_group(
                device,
                &engine.bind_layout,
                &params,
                [&weights, src, &codes, dst],
            )
        };
        let groups = vec![
            bg(&weights, &a),
            bg(&a, &b),
            bg(&b, &cbuf),
            bg(&cbuf, &b),
            bg(&b, &a),
            bg(&a, &cbuf),
            bg(&cbuf, &b),
            bg(&b, &out),
        ];
        engine.fault.check()?;
        Ok(GpuImageDecoder {
            config: c,
            max_batch,
            offsets,
            params,
            codes,
            out,
            staging,
            kernels,
            groups,
            rec: Recorder::new(align),
            flops: 0,
        })
    }

    /// FLOPs (2 × multiply-adds) of the convolutions dispatched so far (zero padding included).
    pub fn flops_performed(&self) -> u64 {
        self.flops
    }

    fn conv(
        &mut self,
        group: usize,
        name: &str,
        cin: usize,
        cout: usize,
        size: usize,
        batch: usize,
        up: bool,
        pre_silu: bool,
        act: u32,
        accumulate: bool,
    ) {
        let total = (batch * cout * size * size) as u32;
        self.flops += 2 * 9 * (batch * cout * size * size * cin) as u64;
        let (w_off, b_off) = (
            self.offsets[&format!("{name}.weight")],
            self.offsets[&format!("{name}.bias")],
        );
        self.rec.push(
            K_CONV,
            group,
            [
                batch as u32,
                cin as u32,
                cout as u32,
                size as u32,
                up as u32,
                pre_silu as u32,
                act,
                accumulate as u32,
                w_off,
                b_off,
                0,
                0,
                0,
                0,
                0,
                0,
            ],
            util::grid(total.div_ceil(64)),
        );
    }

    /// Decodes `batch` grids of codes (`[batch × N]`, token i = y·g + x) to RGBA8 images,
    /// `batch × image_size² × 4` bytes, row-major.
    pub async fn decode(
        &mut self,
        engine: &GpuEngine,
        codes: &[u32],
        batch: usize,
    ) -> Result<Vec<u8>> {
        engine.fault.check()?;
        let c = self.config.clone();
        let n = c.tokens();
        if batch == 0 || batch > self.max_batch {
            return Err(Error::Decode(format!(
                "image decoder: batch {batch}; created for 1..={}",
                self.max_batch
            )));
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
        let (g, s, h, e) = (c.grid[0], c.image_size, c.hidden, c.code_dim);
        self.rec.clear();
        let cb = self.offsets["quantizer.codebook"];
        self.rec.push(
            K_LOOKUP,
            0,
            [
                batch as u32,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                cb,
                0,
                n as u32,
                e as u32,
                0,
                0,
                0,
                0,
            ],
            util::grid(((batch * e * n) as u32).div_ceil(64)),
        );
        self.conv(1, "decoder.conv_in", e, h, g, batch, false, false, 1, false);
        self.conv(
            2,
            "decoder.res.conv1",
            h,
            h,
            g,
            batch,
            false,
            true,
            1,
            false,
        );
        self.conv(
            3,
            "decoder.res.conv2",
            h,
            h,
            g,
            batch,
            false,
            false,
            0,
            true,
        );
        self.conv(
            4,
            "decoder.up1",
            h,
            h / 2,
            2 * g,
            batch,
            true,
            false,
            1,
            false,
        );
        self.conv(
            5,
            "decoder.up2",
            h / 2,
            h / 4,
            s,
            batch,
            true,
            false,
            1,
            false,
        );
        self.conv(
            6,
            "decoder.conv_out",
            h / 4,
            3,
            s,
            batch,
            false,
            false,
            2,
            false,
        );
        self.rec.push(
            K_RGBA,
            7,
            [
                batch as u32,
                0,
                0,
                s as u32,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
            ],
            util::grid(((batch * s * s) as u32).div_ceil(64)),
        );
        engine.queue().write_buffer(&self.codes, 0, bytemuck::cast_slice(codes));
        let bytes = 4 * (batch * s * s) as u64;
        self.rec.submit(
            engine.device(),
            engine.queue(),
            "image decode",
            &self.params,
            &self.kernels,
            &self.groups,
            &self.out,
            &self.staging,
            bytes,
            None,
        );
        let raw = util::read_buffer(engine.device(), &self.staging, bytes).await?;
        engine.fault.check()?;
        Ok(raw)
    }
}
