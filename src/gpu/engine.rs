//! The WGSL transformer engine: one weight buffer, width as a per-dispatch uniform, K/V cache
//! `[layers, batch, N+1, D]`, active-row gather/scatter, logits only for the requested rows.
//! One command buffer per step; every buffer is created once, sized for `max_batch`.

use std::collections::HashMap;

use super::util::{self, Fault, Recorder};
use crate::config::ModelConfig;
use crate::engine::{Engine, ForwardRequest, StepContext};
use crate::sampling::{self, Proposal, SamplingParams};
use crate::error::{Error, Result};
use crate::weights::Weights;

pub const LAYER_NORM_EPS: f32 = 1e-5;
/// The attention kernel keeps a query and an accumulator of `head_dim` floats per invocation.
pub const MAX_HEAD_DIM: usize = 256;

const K_EMBED: usize = 0;
const K_NORM: usize = 1;
const K_MATMUL: usize = 2;
const K_ATTN: usize = 3;
/// Narrow matmul variants (WX = 8 and 4 threads across: 32- and 16-column tiles).
const K_MATMUL_N32: usize = 4;
const K_MATMUL_N16: usize = 5;
const K_SAMPLE: usize = 6;

// Bind groups (buffers at bindings 1..=4).
const G_EMBED: usize = 0; // w, w, idx, x
const G_NORM: usize = 1; // w, x, idx, a
const G_QKV: usize = 2; // w, x, idx, kvq
const G_ATTN: usize = 3; // kvq, kvq, kvq, o
const G_WO: usize = 4; // w, o, idx, x
const G_W1: usize = 5; // w, x, idx, h
const G_W2: usize = 6; // w, h, idx, x
const G_HEAD: usize = 7; // w, a, idx, logits
const G_SAMPLE: usize = 8; // logits, logits, idx, proposals
/// What each bind group's dispatch computes, for profiles.
const GROUP_NAMES: [&str; 9] = ["embed", "final norm", "qkv", "attention", "wo", "w1+gelu", "w2", "head", "sample"];

/// One dispatch of a profiled step: what it computed and when it ran on the GPU
/// (milliseconds from the step's first dispatch).
#[derive(Clone, Debug, serde::Serialize)]
pub struct DispatchTime {
    pub name: &'static str,
    pub start_ms: f64,
    pub end_ms: f64,
}

/// Where a profiled step's time went: on the host (recording, encoding and submitting the
/// command buffer; waiting for the GPU and reading back) and per dispatch on the GPU.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepProfile {
    pub encode_submit_ms: f64,
    pub wait_readback_ms: f64,
    pub dispatches: Vec<DispatchTime>,
}

pub const SHADER_EMBED: &str = include_str!("../../shaders/embed.wgsl");
pub const SHADER_LAYERNORM: &str = include_str!("../../shaders/layernorm.wgsl");
pub const SHADER_MATMUL: &str = include_str!("../../shaders/matmul.wgsl");
pub const SHADER_ATTENTION: &str = include_str!("../../shaders/attention.wgsl");
pub const SHADER_SAMPLE: &str = include_str!("../../shaders/sample.wgsl");

/// How the engine's weight buffer holds the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightStorage {
    /// 4 bytes per weight, converted from the file's dtype at load.
    F32,
    /// 2 bytes per weight: f16 pairs packed in u32 words, unpacked in the kernels
    /// (`unpack2x16float`). Exact for f16 files; rounds f32 files to f16.
    F16,
}

impl WeightStorage {
    /// F16 when every weight is exactly an f16 value (the shipped f16 files), else F32, so the
    /// choice never changes a logit.
    pub fn auto(weights: &Weights) -> Self {
        let exact = weights
            .tensors
            .values()
            .all(|t| t.data.iter().all(|&v| half::f16::from_f32(v).to_f32() == v));
        if exact { WeightStorage::F16 } else { WeightStorage::F32 }
    }

    /// Bytes of the weight buffer for `elements` weights (padded to whole u32 words).
    pub fn buffer_bytes(self, elements: usize) -> u64 {
        match self {
            WeightStorage::F32 => 4 * elements as u64,
            WeightStorage::F16 => 4 * elements.div_ceil(2) as u64,
        }
    }

    /// A kernel's source with its weight binding (`w` + accessor `wv`) in this storage.
    pub fn kernel_source(self, source: &str) -> String {
        match self {
            WeightStorage::F32 => source.to_string(),
            WeightStorage::F16 => source
                .replace(
                    "@group(0) @binding(1) var<storage, read> w: array<f32>;",
                    "@group(0) @binding(1) var<storage, read> w: array<u32>;",
                )
                .replace(
                    "fn wv(i: u32) -> f32 { return w[i]; }",
                    "fn wv(i: u32) -> f32 { let pair = unpack2x16float(w[i >> 1u]); return select(pair.x, pair.y, (i & 1u) == 1u); }",
                ),
        }
    }

    /// The weight buffer's contents.
    fn pack(self, host: &[f32]) -> Vec<u8> {
        match self {
            WeightStorage::F32 => bytemuck::cast_slice(host).to_vec(),
            WeightStorage::F16 => {
                let mut halves: Vec<u16> = host.iter().map(|&v| half::f16::from_f32(v).to_bits()).collect();
                halves.resize(host.len().div_ceil(2) * 2, 0);
                bytemuck::cast_slice(&halves).to_vec()
            }
        }
    }
}

/// The matmul shader with `wx` threads across (a tile of 4·wx columns × 64 rows).
pub fn matmul_source(wx: u32) -> String {
    SHADER_MATMUL.replace("const WX: u32 = 16u;", &format!("const WX: u32 = {wx}u;"))
}

/// The attention shader for `head_dim`, with as many keys per workgroup tile as keep its K and
/// V tiles within 8 KiB of workgroup memory (at most 32).
pub fn attention_source(head_dim: usize) -> String {
    let padded = head_dim.div_ceil(4) * 4;
    let keys_per_tile = (1024 / padded).clamp(1, 32);
    SHADER_ATTENTION
        .replace("const HEAD_DIM: u32 = 32u;", &format!("const HEAD_DIM: u32 = {head_dim}u;"))
        .replace("const KT: u32 = 32u;", &format!("const KT: u32 = {keys_per_tile}u;"))
}

/// Workgroup memory the sampling kernel needs for a codebook of `codebook` codes (the row of
/// exps plus two 64-entry reductions).
pub fn sample_workgroup_bytes(codebook: usize) -> u64 {
    4 * codebook as u64 + 2 * 4 * 64
}

/// The sampling shader for a codebook of `codebook` codes (its workgroup holds one row).
pub fn sample_source(codebook: usize) -> String {
    SHADER_SAMPLE.replace("const KCAP: u32 = 512u;", &format!("const KCAP: u32 = {}u;", codebook.max(1)))
}

/// Element offsets of every tensor inside the single weight buffer.
#[derive(Debug, Clone)]
pub struct WeightLayout {
    pub offsets: HashMap<String, usize>,
    pub total: usize,
}

impl WeightLayout {
    /// Order: tokens.embedding directly followed by classes.embedding (one id table), then
    /// every other tensor in `tensor_shapes` order.
    pub fn new(config: &ModelConfig) -> Self {
        let mut offsets = HashMap::new();
        let mut total = 0usize;
        for (name, shape) in config.tensor_shapes() {
            offsets.insert(name, total);
            total += shape.iter().product::<usize>();
        }
        WeightLayout { offsets, total }
    }
    fn at(&self, name: &str) -> u32 {
        self.offsets[name] as u32
    }
}

/// Buffer sizes (bytes) an engine for `config` and `max_batch` sequences needs.
#[derive(Debug, Clone)]
pub struct Footprint {
    pub weights: u64,
    /// One of K or V.
    pub kv_cache: u64,
    /// K cache, V cache and the queries share one buffer.
    pub kvq: u64,
    pub hidden: u64,
    pub mlp: u64,
    pub logits: u64,
    /// `[images × masked] × (code, confidence)` from on-device sampling.
    pub proposals: u64,
    pub index: u64,
}

impl Footprint {
    /// With f32 weights (the larger storage).
    pub fn new(config: &ModelConfig, max_batch: usize) -> Self {
        Self::with_storage(config, max_batch, WeightStorage::F32)
    }

    pub fn with_storage(config: &ModelConfig, max_batch: usize, storage: WeightStorage) -> Self {
        let (b, s, n, d) = (
            max_batch as u64,
            config.seq_len() as u64,
            config.tokens() as u64,
            config.dim as u64,
        );
        Footprint {
            weights: storage.buffer_bytes(WeightLayout::new(config).total),
            kv_cache: 4 * config.depth as u64 * b * s * d,
            kvq: 4 * (2 * config.depth as u64 + 1) * b * s * d,
            hidden: 4 * b * s * d,
            mlp: 4 * b * s * config.mlp_dim(config.dim) as u64,
            logits: 4 * b * n * config.codebook as u64,
            proposals: 8 * b * n,
            // processed rows' cache rows and table ids, logit picks, logit positions (sampling)
            index: 4 * (2 * b * s + 2 * b * n),
        }
    }
    pub fn largest(&self) -> (&'static str, u64) {
        [
            ("weights", self.weights),
            ("K/V cache and queries", self.kvq),
            ("hidden states", self.hidden),
            ("MLP activations", self.mlp),
            ("logits", self.logits),
            ("row indices", self.index),
        ]
        .into_iter()
        .max_by_key(|x| x.1)
        .unwrap()
    }
    pub fn total(&self) -> u64 {
        self.weights + self.kvq + 3 * self.hidden + self.mlp + 2 * self.logits + 2 * self.proposals + self.index
    }
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

/// Refuses a model/batch that does not fit the device limits, naming the limit.
pub fn check_limits(
    config: &ModelConfig,
    max_batch: usize,
    storage: WeightStorage,
    limits: &wgpu::Limits,
) -> Result<()> {
    let bad = |m: String| Err(Error::Engine(m));
    if max_batch == 0 {
        return bad("max_batch must be at least 1".into());
    }
    if config.head_dim > MAX_HEAD_DIM {
        return bad(format!(
            "head_dim {} is larger than the {MAX_HEAD_DIM} the attention kernel supports",
            config.head_dim
        ));
    }
    let f = Footprint::with_storage(config, max_batch, storage);
    let (what, need) = f.largest();
    let binding = limits.max_storage_buffer_binding_size as u64;
    if need > binding {
        return bad(format!(
            "model too large for this GPU: its {what} need a {} storage buffer (dim {}, depth {}, {} tokens, codebook {}, batch {max_batch}) \
             but the device allows at most {} per storage binding (max_storage_buffer_binding_size); use a smaller model or batch",
            mib(need),
            config.dim,
            config.depth,
            config.tokens(),
            config.codebook,
            mib(binding)
        ));
    }
    if need > limits.max_buffer_size {
        return bad(format!(
            "model too large for this GPU: its {what} need a {} buffer but the device allows at most {} (max_buffer_size)",
            mib(need),
            mib(limits.max_buffer_size)
        ));
    }
    if need / 4 >= u32::MAX as u64 {
        return bad(format!(
            "model too large: its {what} have more than 2^32 elements"
        ));
    }
    if limits.max_compute_invocations_per_workgroup < 256
        || limits.max_compute_workgroup_size_x < 64
        || limits.max_compute_workgroup_size_y < 16
        || limits.max_compute_workgroup_storage_size < 8192
        || limits.max_storage_buffers_per_shader_stage < 4
    {
        return bad("this GPU's compute limits are below what the kernels need (256 invocations, 8 KiB workgroup memory, 4 storage buffers)".into());
    }
    let max_rows = (max_batch * config.seq_len()) as u64;
    // Row-tiled kernels fold their grid along x; attention puts the batch along z.
    if max_rows.div_ceil(64) > limits.max_compute_workgroups_per_dimension as u64
        || max_batch as u64 > limits.max_compute_workgroups_per_dimension as u64
    {
        return bad(format!(
            "batch {max_batch} × {} rows is more than this GPU can dispatch",
            config.seq_len()
        ));
    }
    Ok(())
}


struct Buffers {
    weights: wgpu::Buffer,
    params: wgpu::Buffer,
    index: wgpu::Buffer,
    x: wgpu::Buffer,
    a: wgpu::Buffer,
    o: wgpu::Buffer,
    h: wgpu::Buffer,
    /// `[K cache (L·B·S·D) | V cache (L·B·S·D) | q (B·S·D)]`, B = max_batch.
    kvq: wgpu::Buffer,
    logits: wgpu::Buffer,
    staging: wgpu::Buffer,
    proposals: wgpu::Buffer,
    proposals_staging: wgpu::Buffer,
}

pub struct GpuEngine {
    config: ModelConfig,
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    max_batch: usize,
    batch: usize,
    cache_width: Option<usize>,
    flops: u64,
    layout: WeightLayout,
    bufs: Buffers,
    kernels: Vec<wgpu::ComputePipeline>,
    groups: Vec<wgpu::BindGroup>,
    pub(crate) bind_layout: wgpu::BindGroupLayout,
    pub(crate) pipeline_layout: wgpu::PipelineLayout,
    pub(crate) fault: Fault,
    rec: Recorder,
    max_dispatches: usize,
    /// Milliseconds the last step spent from uploading its row index to its read-back, on the host.
    pub last_gpu_ms: f64,
    profiler: Option<util::Profiler>,
    /// One profile per step since profiling was turned on ([`GpuEngine::enable_profiling`]).
    pub profiles: Vec<StepProfile>,
    /// `propose` samples on the device and reads back (code, confidence) per masked token
    /// (default); `false` reads back every logit and samples on the CPU (for comparison).
    pub sample_on_device: bool,
    /// The codebook fits the sampling kernel's workgroup memory (else always host sampling).
    device_sampling: bool,
}

impl GpuEngine {
    /// Opens the default adapter (WebGPU in the browser) and uploads `weights`, as f16 when
    /// that is exact ([`WeightStorage::auto`]).
    pub async fn new(weights: &Weights, max_batch: usize) -> Result<Self> {
        Self::new_with_storage(weights, max_batch, WeightStorage::auto(weights)).await
    }

    /// As [`GpuEngine::new`] with the weight storage chosen by the caller.
    pub async fn new_with_storage(weights: &Weights, max_batch: usize, storage: WeightStorage) -> Result<Self> {
        let instance = wgpu::Instance::default();
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| {
                Error::Engine(format!(
                    "no GPU adapter is available (WebGPU/Vulkan/Metal/DX12): {e}"
                ))
            })?;
        let limits = adapter.limits();
        // Refuse before asking for a device, so the message names the model, not wgpu.
        check_limits(&weights.config, max_batch, storage, &limits)?;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("magnets"),
                // Timestamps only serve `bench --profile`; ask for them where they come free.
                required_features: adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
                required_limits: limits,
                ..Default::default()
            })
            .await
            .map_err(|e| Error::Engine(format!("cannot open the GPU device: {e}")))?;
        Self::with_device(device, queue, adapter.get_info(), weights, max_batch, storage).await
    }

    /// Builds the engine on an existing device (the page shares one device with the decoder).
    pub async fn with_device(
        device: wgpu::Device,
        queue: wgpu::Queue,
        adapter_info: wgpu::AdapterInfo,
        weights: &Weights,
        max_batch: usize,
        storage: WeightStorage,
    ) -> Result<Self> {
        let config = weights.config.clone();
        config.validate()?;
        check_limits(&config, max_batch, storage, &device.limits())?;
        let fault = Fault::default();
        fault.watch(&device);

        let layout = WeightLayout::new(&config);
        let mut host = vec![0f32; layout.total];
        for (name, shape) in config.tensor_shapes() {
            let t = weights
                .tensors
                .get(&name)
                .ok_or_else(|| Error::Weights(format!("missing tensor `{name}`")))?;
            if t.shape != shape {
                return Err(Error::Weights(format!(
                    "tensor `{name}` has shape {:?}, expected {shape:?}",
                    t.shape
                )));
            }
            let off = layout.offsets[&name];
            host[off..off + t.data.len()].copy_from_slice(&t.data);
        }

        let fp = Footprint::with_storage(&config, max_batch, storage);
        let device_sampling = sample_workgroup_bytes(config.codebook)
            <= device.limits().max_compute_workgroup_storage_size as u64;
        let align = device
            .limits()
            .min_uniform_buffer_offset_alignment
            .max(util::PARAM_BYTES as u32) as usize;
        // embed, 5 per layer, final norm, head, sampling (+1 spare).
        let max_dispatches = config.depth * 5 + 5;
        let d = &device;
        let (bufs, kernels, groups, bind_layout, pipeline_layout) =
            util::scoped(d, "allocating the engine's buffers", || {
                let none = wgpu::BufferUsages::empty();
                let bufs = Buffers {
                    weights: util::storage_buffer(d, "weights", fp.weights, none),
                    params: d.create_buffer(&wgpu::BufferDescriptor {
                        label: Some("params"),
                        size: (max_dispatches * align) as u64,
                        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    }),
                    index: util::storage_buffer(d, "row index", fp.index, none),
                    x: util::storage_buffer(d, "x", fp.hidden, none),
                    a: util::storage_buffer(d, "a", fp.hidden, none),
                    o: util::storage_buffer(d, "o", fp.hidden, none),
                    h: util::storage_buffer(d, "h", fp.mlp, none),
                    kvq: util::storage_buffer(d, "k/v cache + q", fp.kvq, none),
                    logits: util::storage_buffer(
                        d,
                        "logits",
                        fp.logits,
                        wgpu::BufferUsages::COPY_SRC,
                    ),
                    staging: util::readback_buffer(d, "logits readback", fp.logits),
                    proposals: util::storage_buffer(
                        d,
                        "proposals",
                        fp.proposals,
                        wgpu::BufferUsages::COPY_SRC,
                    ),
                    proposals_staging: util::readback_buffer(d, "proposals readback", fp.proposals),
                };
                let bind_layout = util::bind_group_layout(d);
                let pipeline_layout = d.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some("magnets"),
                    bind_group_layouts: &[Some(&bind_layout)],
                    immediate_size: 0,
                });
                let attention = attention_source(config.head_dim);
                let kernels = vec![
                    util::pipeline(d, &pipeline_layout, "embed", &storage.kernel_source(SHADER_EMBED)),
                    util::pipeline(d, &pipeline_layout, "layernorm", &storage.kernel_source(SHADER_LAYERNORM)),
                    util::pipeline(d, &pipeline_layout, "matmul", &storage.kernel_source(SHADER_MATMUL)),
                    util::pipeline(d, &pipeline_layout, "attention", &attention),
                    util::pipeline(d, &pipeline_layout, "matmul n32", &storage.kernel_source(&matmul_source(8))),
                    util::pipeline(d, &pipeline_layout, "matmul n16", &storage.kernel_source(&matmul_source(4))),
                    // A codebook too large for workgroup memory samples on the host instead.
                    util::pipeline(
                        d,
                        &pipeline_layout,
                        "sample",
                        &sample_source(if device_sampling { config.codebook } else { 1 }),
                    ),
                ];
                let b = &bufs;
                let g = |x: [&wgpu::Buffer; 4]| util::bind_group(d, &bind_layout, &b.params, x);
                let groups = vec![
                    g([&b.weights, &b.weights, &b.index, &b.x]),
                    g([&b.weights, &b.x, &b.index, &b.a]),
                    g([&b.weights, &b.x, &b.index, &b.kvq]),
                    g([&b.kvq, &b.kvq, &b.kvq, &b.o]),
                    g([&b.weights, &b.o, &b.index, &b.x]),
                    g([&b.weights, &b.x, &b.index, &b.h]),
                    g([&b.weights, &b.h, &b.index, &b.x]),
                    g([&b.weights, &b.a, &b.index, &b.logits]),
                    g([&b.logits, &b.logits, &b.index, &b.proposals]),
                ];
                (bufs, kernels, groups, bind_layout, pipeline_layout)
            })
            .await?;
        queue.write_buffer(&bufs.weights, 0, &storage.pack(&host));
        fault.check()?;

        Ok(GpuEngine {
            config,
            device,
            queue,
            info: adapter_info,
            max_batch,
            batch: 0,
            cache_width: None,
            flops: 0,
            layout,
            bufs,
            kernels,
            groups,
            bind_layout,
            pipeline_layout,
            fault,
            rec: Recorder::new(align),
            max_dispatches,
            last_gpu_ms: 0.0,
            profiler: None,
            profiles: Vec::new(),
            sample_on_device: true,
            device_sampling,
        })
    }

    pub fn adapter_name(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    /// Why this engine can no longer run (device lost, out of memory, GPU error), if so: its
    /// device is gone for good, and the caller has to build a new engine.
    pub fn failure(&self) -> Option<String> {
        self.fault.get()
    }

    /// Destroys the device, as a driver reset or a GPU process crash would, so the page's
    /// recovery path can be tested. (Our own lost-device callback ignores `Destroyed`, which is
    /// also what dropping an engine reports, so the loss is recorded here.)
    pub fn simulate_device_loss(&self) {
        self.fault.set("the GPU device was lost (simulated)".into());
        self.device.destroy();
    }
    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    /// Times every dispatch of the following steps with GPU timestamps (one compute pass per
    /// dispatch, so slightly slower than the normal path); see [`GpuEngine::profiles`].
    pub fn enable_profiling(&mut self) -> Result<()> {
        self.profiler = Some(util::Profiler::new(&self.device, &self.queue, self.max_dispatches)?);
        Ok(())
    }

    pub fn disable_profiling(&mut self) {
        self.profiler = None;
        self.profiles.clear();
    }

    /// The fixed cost of one step's host↔GPU round trip: a command buffer holding only an
    /// 8-byte copy, submitted and read back `repeats` times (milliseconds each).
    pub async fn round_trip_ms(&mut self, repeats: usize) -> Result<Vec<f64>> {
        let mut times = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            let start = web_time::Instant::now();
            let mut enc = self.device.create_command_encoder(&Default::default());
            enc.copy_buffer_to_buffer(&self.bufs.proposals, 0, &self.bufs.proposals_staging, 0, 8);
            self.queue.submit([enc.finish()]);
            util::read_buffer(&self.device, &self.bufs.proposals_staging, 8).await?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        self.fault.check()?;
        Ok(times)
    }

    fn matmul(&mut self, group: usize, p: MatmulParams) {
        self.flops += p.z as u64 * 2 * p.m as u64 * p.n as u64 * p.k as u64;
        let (kernel, tile_n) = match p.n {
            0..=16 => (K_MATMUL_N16, 16),
            17..=32 => (K_MATMUL_N32, 32),
            _ => (K_MATMUL, 64),
        };
        let groups = (p.n.div_ceil(tile_n), p.m.div_ceil(64), p.z);
        self.rec.push3(
            kernel,
            group,
            [
                p.m,
                p.n,
                p.k,
                p.ld_x,
                p.w_zstride,
                p.w_off,
                p.ld_w,
                p.b_off,
                p.out_off[0],
                p.ld_out,
                p.mode,
                p.scatter,
                p.map_off,
                p.b_zstride,
                p.out_off[1],
                p.out_off[2],
                p.norm.is_some() as u32,
                p.norm.map_or(0, |n| n.0),
                p.norm.map_or(0, |n| n.1),
                LAYER_NORM_EPS.to_bits(),
            ],
            groups,
        );
    }

    fn layernorm(&mut self, rows: u32, d: u32, g: &str, b: &str, gather: Option<u32>) {
        let full = self.config.dim as u32;
        let (go, bo) = (self.layout.at(g), self.layout.at(b));
        self.rec.push(
            K_NORM,
            G_NORM,
            [
                rows,
                d,
                full,
                full,
                go,
                bo,
                gather.is_some() as u32,
                gather.unwrap_or(0),
                LAYER_NORM_EPS.to_bits(),
                0,
                0,
                0,
                0,
                0,
                0,
                0,
            ],
            util::grid(rows.div_ceil(64)),
        );
    }
}

struct MatmulParams {
    m: u32,
    n: u32,
    k: u32,
    ld_x: u32,
    w_off: u32,
    ld_w: u32,
    b_off: u32,
    /// Output offset per grid z.
    out_off: [u32; 3],
    ld_out: u32,
    mode: u32,
    /// Bit z: scatter the rows of product z through the row map.
    scatter: u32,
    map_off: u32,
    /// Number of products (grid z), and the weight / bias strides between them.
    z: u32,
    w_zstride: u32,
    b_zstride: u32,
    /// LayerNorm (gamma, beta offsets) applied to the x rows on load.
    norm: Option<(u32, u32)>,
}

impl Engine for GpuEngine {
    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn describe(&self) -> String {
        format!("WGSL engine on {}", self.adapter_name())
    }

    async fn begin(&mut self, batch: usize) -> Result<()> {
        self.fault.check()?;
        if batch == 0 || batch > self.max_batch {
            return Err(Error::Engine(format!(
                "batch of {batch} sequences; this engine was created for at most {}",
                self.max_batch
            )));
        }
        self.batch = batch;
        self.cache_width = None;
        Ok(())
    }

    async fn forward(&mut self, req: &ForwardRequest<'_>) -> Result<Vec<f32>> {
        let raw = self.step(req, None).await?;
        Ok(bytemuck::pod_collect_to_vec::<u8, f32>(&raw))
    }

    async fn propose(
        &mut self,
        req: &ForwardRequest<'_>,
        params: &SamplingParams,
        ctx: StepContext,
    ) -> Result<Vec<Proposal>> {
        if !(self.sample_on_device && self.device_sampling) {
            return crate::engine::propose_on_host(self, req, params, ctx).await;
        }
        let raw = self.step(req, Some((params, ctx))).await?;
        let words: Vec<u32> = bytemuck::pod_collect_to_vec(&raw);
        Ok(words
            .chunks_exact(2)
            .map(|w| Proposal { code: w[0], confidence: f32::from_bits(w[1]) })
            .collect())
    }

    fn flops_performed(&self) -> u64 {
        self.flops
    }
}

impl GpuEngine {
    /// One decode step in one command buffer. Without `sample`, reads back the logits
    /// `[batch × m × K]`; with it, samples on the device (shaders/sample.wgsl) and reads back
    /// `[images × m] × (code, confidence bits)`.
    async fn step(
        &mut self,
        req: &ForwardRequest<'_>,
        sample: Option<(&SamplingParams, StepContext)>,
    ) -> Result<Vec<u8>> {
        self.fault.check()?;
        crate::engine::check_request(&self.config, self.batch, req)?;
        let c = self.config.clone();
        let (bsz, s, n, kc) = (req.batch, c.seq_len(), c.tokens(), c.codebook);
        let d = c.widths[req.width];
        let full = c.dim;
        let hidden = c.mlp_dim(d);
        let full_hidden = c.mlp_dim(full);
        if req.rows.is_some() && self.cache_width != Some(req.width) {
            return Err(Error::Engine(match self.cache_width {
                None => "a cached step needs a refresh step first".into(),
                Some(w) => format!(
                    "cache written at width {} cannot serve width {d}; refresh first",
                    c.widths[w]
                ),
            }));
        }
        let r = req.rows_per_sequence(&c);
        let m = req.logits_per_sequence();
        let rows = bsz * r;

        // Row index: [flat cache row b·S+pos | embedding table id | logit pick] per processed row.
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
                (kc + 1) as u32 + req.classes[b]
            } else {
                req.tokens[b * n + pos as usize - 1]
            });
        }
        for b in 0..bsz {
            let seq = &positions[b * r..(b + 1) * r];
            for &p in &req.logit_rows[b * m..(b + 1) * m] {
                let j = seq.binary_search(&p).map_err(|_| {
                    Error::Engine(format!(
                        "logit row {p} of sequence {b} was not processed this step"
                    ))
                })?;
                index.push((b * r + j) as u32);
            }
        }
        let (map_off, ids_off, pick_off) = (0u32, rows as u32, 2 * rows as u32);

        self.rec.clear();
        let (rows32, d32, full32) = (rows as u32, d as u32, full as u32);
        self.rec.push(
            K_EMBED,
            G_EMBED,
            [
                rows32,
                d32,
                full32,
                s as u32,
                self.layout.at("tokens.embedding"),
                self.layout.at("positions.embedding"),
                ids_off,
                map_off,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
            ],
            util::grid((rows * d).div_ceil(64) as u32),
        );
        let heads = d / c.head_dim;
        let scale = 1.0 / (c.head_dim as f32).sqrt();
        let kv_elems = (c.depth * self.max_batch * s * full) as u32;
        let q_off = 2 * kv_elems;
        for l in 0..c.depth {
            let p = |x: &str| format!("blocks.{l}.{x}");
            let at = |x: &str| self.layout.at(&p(x));
            let (wq, bq, wk, bk, wv, bv, wo, bo) = (
                at("attn.wq"),
                at("attn.bq"),
                at("attn.wk"),
                at("attn.bk"),
                at("attn.wv"),
                at("attn.bv"),
                at("attn.wo"),
                at("attn.bo"),
            );
            let (w1, b1, w2, b2) = (at("mlp.w1"), at("mlp.b1"), at("mlp.w2"), at("mlp.b2"));
            // q, k, v are consecutive in the weight buffer: one dispatch, grid z selects.
            let (w_zstride, b_zstride) = (wk - wq, bk - bq);
            if wv - wk != w_zstride || bv - bk != b_zstride {
                return Err(Error::Engine(
                    "internal: q/k/v weights are not evenly spaced".into(),
                ));
            }
            let cache_off = (l * bsz * s * full) as u32;
            let (n1g, n1b, n2g, n2b) = (
                at("norm1.gamma"),
                at("norm1.beta"),
                at("norm2.gamma"),
                at("norm2.beta"),
            );
            let lin = |w_off, b_off| MatmulParams {
                m: rows32,
                n: d32,
                k: d32,
                ld_x: full32,
                w_off,
                ld_w: full32,
                b_off,
                out_off: [0, 0, 0],
                ld_out: full32,
                mode: 0,
                scatter: 0,
                map_off,
                z: 1,
                w_zstride: 0,
                b_zstride: 0,
                norm: None,
            };
            // The block's pre-norms are fused into the matmuls that read them (norm: Some).
            // z = 0: q → the query region; z = 1, 2: k, v rows scattered into the cache.
            self.matmul(
                G_QKV,
                MatmulParams {
                    out_off: [q_off, cache_off, kv_elems + cache_off],
                    scatter: 0b110,
                    z: 3,
                    w_zstride,
                    b_zstride,
                    norm: Some((n1g, n1b)),
                    ..lin(wq, bq)
                },
            );
            self.flops += 2 * 2 * rows as u64 * s as u64 * d as u64;
            self.rec.push3(
                K_ATTN,
                G_ATTN,
                [
                    rows32,
                    r as u32,
                    s as u32,
                    heads as u32,
                    full32,
                    cache_off,
                    scale.to_bits(),
                    kv_elems + cache_off,
                    q_off,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                ],
                // One workgroup per (64 query rows, head, sequence).
                ((r as u32).div_ceil(64), heads as u32, bsz as u32),
            );
            self.matmul(
                G_WO,
                MatmulParams {
                    mode: 2,
                    ..lin(wo, bo)
                },
            );
            self.matmul(
                G_W1,
                MatmulParams {
                    n: hidden as u32,
                    ld_w: full_hidden as u32,
                    ld_out: full_hidden as u32,
                    mode: 1,
                    norm: Some((n2g, n2b)),
                    ..lin(w1, b1)
                },
            );
            self.matmul(
                G_W2,
                MatmulParams {
                    k: hidden as u32,
                    ld_x: full_hidden as u32,
                    mode: 2,
                    ..lin(w2, b2)
                },
            );
        }
        let logit_rows = bsz * m;
        if logit_rows > 0 {
            self.layernorm(
                logit_rows as u32,
                d32,
                "final_norm.gamma",
                "final_norm.beta",
                Some(pick_off),
            );
            self.matmul(
                G_HEAD,
                MatmulParams {
                    m: logit_rows as u32,
                    n: kc as u32,
                    k: d32,
                    ld_x: full32,
                    w_off: self.layout.at("head.w"),
                    ld_w: kc as u32,
                    b_off: self.layout.at("head.b"),
                    out_off: [0, 0, 0],
                    ld_out: kc as u32,
                    mode: 0,
                    scatter: 0,
                    map_off: 0,
                    z: 1,
                    w_zstride: 0,
                    b_zstride: 0,
                    norm: None,
                },
            );
        }
        let (output, staging, bytes) = match sample {
            None => (&self.bufs.logits, &self.bufs.staging, (logit_rows * kc * 4) as u64),
            Some((params, ctx)) => {
                if ctx.images == 0 || bsz % ctx.images != 0 || bsz / ctx.images > 2 {
                    return Err(Error::Engine(format!(
                        "{bsz} sequences cannot hold {} images (one or two streams each)",
                        ctx.images
                    )));
                }
                let guided = bsz == 2 * ctx.images && params.uses_guidance();
                let rows = ctx.images * m;
                let pos_off = index.len() as u32;
                index.extend_from_slice(&req.logit_rows[..rows]);
                let noise = sampling::noise_scale(params, ctx.step, ctx.total_steps);
                let greedy = params.temperature <= 0.0;
                let inv_t = if greedy { 0.0 } else { 1.0 / params.temperature };
                self.rec.push(
                    K_SAMPLE,
                    G_SAMPLE,
                    [
                        ctx.images as u32,
                        m as u32,
                        kc as u32,
                        guided as u32,
                        params.guidance.to_bits(),
                        inv_t.to_bits(),
                        greedy as u32,
                        params.seed,
                        ctx.step as u32,
                        noise.to_bits(),
                        pos_off,
                        0,
                        0,
                        0,
                        0,
                        0,
                    ],
                    util::grid(rows as u32), // one workgroup per row
                );
                (&self.bufs.proposals, &self.bufs.proposals_staging, (rows * 8) as u64)
            }
        };
        debug_assert!(self.rec.dispatches.len() <= self.max_dispatches);

        let start = web_time::Instant::now();
        self.queue
            .write_buffer(&self.bufs.index, 0, bytemuck::cast_slice(&index));
        self.rec.submit(
            &self.device,
            &self.queue,
            "magnets step",
            &self.bufs.params,
            &self.kernels,
            &self.groups,
            output,
            staging,
            bytes,
            self.profiler.as_ref(),
        );
        let submitted = start.elapsed().as_secs_f64() * 1e3;
        let raw = util::read_buffer(&self.device, staging, bytes).await?;
        self.last_gpu_ms = start.elapsed().as_secs_f64() * 1e3;
        if let Some(p) = &self.profiler {
            let times = p.read(&self.device, self.rec.dispatches.len()).await?;
            self.profiles.push(StepProfile {
                encode_submit_ms: submitted,
                wait_readback_ms: self.last_gpu_ms - submitted,
                dispatches: self
                    .rec
                    .dispatches
                    .iter()
                    .zip(times)
                    .map(|(d, (start_ms, end_ms))| DispatchTime { name: GROUP_NAMES[d.group], start_ms, end_ms })
                    .collect(),
            });
        }
        self.fault.check()?;
        self.cache_width = Some(req.width);
        Ok(raw)
    }
}
