//! The WGSL transformer engine: one weight buffer, width as a per-dispatch uniform, K/V cache
//! `[layers, batch, N+1, D]`, active-row gather/scatter, logits only for the requested rows.
//! One command buffer per step; every buffer is created once, sized for `max_batch`.

use std::collections::VecDeque;

use super::buffers::EngineBuffers;
use super::context::{BufferCopy, GpuContext, KernelSet, Readback};
use super::kernels::{Kernel, sample_workgroup_bytes};
use super::limits::{Footprint, check_limits};
use super::profile::{DispatchTime, Profiler, StepProfile};
use super::readback::{read_buffer, read_buffer_after};
use super::record::{Output, Stage, StepRequest, max_dispatches, next_index_words, record_advance, record_step};
use super::weights::{WeightLayout, WeightStorage};
use crate::config::ModelConfig;
use crate::engine::{DeviceChoice, Engine, ForwardRequest, StepContext};
use crate::error::{Error, Result};
use crate::sampling::{Proposal, SamplingParams};
use crate::weights::Weights;

pub struct GpuEngine {
    config: ModelConfig,
    ctx: GpuContext,
    max_batch: usize,
    batch: usize,
    /// The width the K/V cache was last written at; a cached step must use the same one.
    cache_width: Option<usize>,
    flops: u64,
    layout: WeightLayout,
    bufs: EngineBuffers,
    kernels: KernelSet,
    /// Milliseconds the last step spent from uploading its row index to its read-back, on the host.
    pub last_gpu_ms: f64,
    profiler: Option<Profiler>,
    /// One profile per step since profiling was turned on ([`GpuEngine::enable_profiling`]).
    pub profiles: Vec<StepProfile>,
    /// `propose` samples on the device and reads back (code, confidence) per masked token
    /// (default); `false` reads back every logit and samples on the CPU (for comparison).
    pub sample_on_device: bool,
    /// The codebook fits the sampling kernel's workgroup memory (else always host sampling).
    device_sampling: bool,
    /// Decodes choose their tokens on the device and run a step ahead of the host
    /// ([`Engine::runs_ahead`]; default); `false` waits for every step (for comparison).
    pub run_ahead: bool,
    /// Steps submitted ahead and not yet collected, oldest first (at most two).
    in_flight: VecDeque<InFlight>,
    /// The proposals readback buffer the next submitted step copies into.
    next_slot: usize,
}

/// A step submitted ahead: where its proposals land and which submission copies them there.
struct InFlight {
    slot: usize,
    bytes: u64,
    submission: wgpu::SubmissionIndex,
    start: web_time::Instant,
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
            .map_err(|e| Error::Engine(format!("no GPU adapter is available (WebGPU/Vulkan/Metal/DX12): {e}")))?;
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
        let ctx = GpuContext::new(device, queue, adapter_info);
        let layout = WeightLayout::new(&config);
        let host = layout.gather(&config, weights)?;
        let device_sampling =
            sample_workgroup_bytes(config.codebook) <= ctx.device.limits().max_compute_workgroup_storage_size as u64;
        // A codebook too large for workgroup memory samples on the host instead.
        let sample_codebook = if device_sampling { config.codebook } else { 1 };
        let sources =
            Kernel::ALL.iter().map(|k| k.source(&config, storage, sample_codebook)).collect::<Result<Vec<String>>>()?;
        let fp = Footprint::with_storage(&config, max_batch, storage);
        let (bufs, kernels) = ctx
            .scoped("allocating the engine's buffers", || {
                let bufs = EngineBuffers::new(&ctx, &fp);
                let params = ctx.param_buffer("params", max_dispatches(&config));
                let pipelines = Kernel::ALL
                    .iter()
                    .zip(&sources)
                    .flat_map(|(k, src)| ctx.pipelines(k.name(), src, &["main"]))
                    .collect();
                let groups = Stage::ALL.iter().map(|&s| ctx.bind_group(&params, bufs.bound(s))).collect();
                (bufs, KernelSet { params, pipelines, groups })
            })
            .await?;
        ctx.queue.write_buffer(&bufs.weights, 0, &storage.pack(&host));
        ctx.fault.check()?;

        Ok(GpuEngine {
            config,
            ctx,
            max_batch,
            batch: 0,
            cache_width: None,
            flops: 0,
            layout,
            bufs,
            kernels,
            last_gpu_ms: 0.0,
            profiler: None,
            profiles: Vec::new(),
            sample_on_device: true,
            device_sampling,
            run_ahead: true,
            in_flight: VecDeque::new(),
            next_slot: 0,
        })
    }

    pub fn adapter_name(&self) -> String {
        self.ctx.adapter_name()
    }

    pub fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// The device, queue and kernel layout, shared with the image decoder.
    pub fn context(&self) -> &GpuContext {
        &self.ctx
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.ctx.device
    }

    /// Why this engine can no longer run (device lost, out of memory, GPU error), if so: its
    /// device is gone for good, and the caller has to build a new engine.
    pub fn failure(&self) -> Option<String> {
        self.ctx.fault.get()
    }

    /// Destroys the device, as a driver reset or a GPU process crash would, so the page's
    /// recovery path can be tested. (Our own lost-device callback ignores `Destroyed`, which is
    /// also what dropping an engine reports, so the loss is recorded here.)
    pub fn simulate_device_loss(&self) {
        self.ctx.fault.set("the GPU device was lost (simulated)".into());
        self.ctx.device.destroy();
    }

    /// Times every dispatch of the following steps with GPU timestamps (one compute pass per
    /// dispatch, so slightly slower than the normal path); see [`GpuEngine::profiles`].
    pub fn enable_profiling(&mut self) -> Result<()> {
        self.profiler = Some(Profiler::new(&self.ctx.device, &self.ctx.queue, max_dispatches(&self.config))?);
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
            let mut enc = self.ctx.device.create_command_encoder(&Default::default());
            enc.copy_buffer_to_buffer(&self.bufs.proposals, 0, &self.bufs.proposals_staging[0], 0, 8);
            self.ctx.queue.submit([enc.finish()]);
            read_buffer(&self.ctx.device, &self.bufs.proposals_staging[0], 8).await?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        self.ctx.fault.check()?;
        Ok(times)
    }

    /// One decode step in one command buffer. Without `sample`, reads back the logits
    /// `[batch × m × K]`; with it, samples on the device (shaders/sample.wgsl) and reads back
    /// `[images × m] × (code, confidence bits)`.
    async fn step(
        &mut self,
        req: &ForwardRequest<'_>,
        sample: Option<(&SamplingParams, StepContext)>,
    ) -> Result<Vec<u8>> {
        self.check_step(req)?;
        let request = StepRequest { forward: req, sample, cache_batch: self.max_batch };
        let step = record_step(&self.config, &self.layout, &request)?;
        debug_assert!(step.dispatches.len() <= max_dispatches(&self.config));
        self.flops += step.flops();
        let (from, to) = match step.output {
            Output::Logits => (&self.bufs.logits, &self.bufs.staging),
            Output::Proposals => (&self.bufs.proposals, &self.bufs.proposals_staging[0]),
        };
        let bytes = step.output_bytes;

        let start = web_time::Instant::now();
        self.ctx.queue.write_buffer(&self.bufs.index, 0, bytemuck::cast_slice(&step.index));
        let readback = Readback { from, to, bytes };
        self.ctx.submit("magnets step", &self.kernels, &step.dispatches, Some(readback), self.profiler.as_ref());
        let submitted = start.elapsed().as_secs_f64() * 1e3;
        let raw = read_buffer(&self.ctx.device, to, bytes).await?;
        self.last_gpu_ms = start.elapsed().as_secs_f64() * 1e3;
        if let Some(p) = &self.profiler {
            let times = p.read(&self.ctx.device, step.dispatches.len()).await?;
            let dispatches = step.dispatches.iter().zip(times);
            self.profiles.push(StepProfile {
                encode_submit_ms: submitted,
                wait_readback_ms: self.last_gpu_ms - submitted,
                dispatches: dispatches
                    .map(|(d, (start_ms, end_ms))| DispatchTime { name: d.group.name(), start_ms, end_ms })
                    .collect(),
            });
        }
        self.ctx.fault.check()?;
        self.cache_width = Some(req.width);
        Ok(raw)
    }
}

impl GpuEngine {
    /// A step may run: the device is alive, the request fits the decode, and a cached step
    /// reads a cache written at its own width.
    fn check_step(&self, req: &ForwardRequest<'_>) -> Result<()> {
        self.ctx.fault.check()?;
        crate::engine::check_request(&self.config, self.batch, req)?;
        if req.rows.is_some() && self.cache_width != Some(req.width) {
            return Err(Error::Engine(match self.cache_width {
                None => "a cached step needs a refresh step first".into(),
                Some(w) => format!(
                    "cache written at width {} cannot serve width {}; refresh first",
                    self.config.widths[w], self.config.widths[req.width]
                ),
            }));
        }
        Ok(())
    }

    /// The ids kept by position on the device, from a host request: per sequence, the class
    /// row's embedding id, then the N image tokens.
    fn ids_by_position(&self, req: &ForwardRequest<'_>) -> Vec<u32> {
        let n = self.config.tokens();
        (0..req.batch)
            .flat_map(|s| {
                std::iter::once((self.config.codebook + 1) as u32 + req.classes[s])
                    .chain(req.tokens[s * n..(s + 1) * n].iter().copied())
            })
            .collect()
    }
}

impl Engine for GpuEngine {
    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn describe(&self) -> String {
        format!("WGSL engine on {}", self.adapter_name())
    }

    async fn begin(&mut self, batch: usize) -> Result<()> {
        self.ctx.fault.check()?;
        if batch == 0 || batch > self.max_batch {
            return Err(Error::Engine(format!(
                "batch of {batch} sequences; this engine was created for at most {}",
                self.max_batch
            )));
        }
        self.batch = batch;
        self.cache_width = None;
        // Steps a stopped decode left in flight are dropped (their buffers are rewritten in order).
        self.in_flight.clear();
        self.next_slot = 0;
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
        Ok(words.chunks_exact(2).map(|w| Proposal { code: w[0], confidence: f32::from_bits(w[1]) }).collect())
    }

    fn flops_performed(&self) -> u64 {
        self.flops
    }

    fn runs_ahead(&self, _params: &SamplingParams) -> bool {
        self.run_ahead && self.sample_on_device && self.device_sampling && self.profiler.is_none()
    }

    async fn submit(
        &mut self,
        req: &ForwardRequest<'_>,
        from_host: bool,
        params: &SamplingParams,
        ctx: StepContext,
        choice: DeviceChoice,
    ) -> Result<()> {
        if !self.runs_ahead(params) {
            return Err(Error::Engine("this engine is set to wait for every step (run_ahead off or host sampling)".into()));
        }
        if self.in_flight.len() >= 2 {
            return Err(Error::Engine("internal: two steps are already in flight; collect one first".into()));
        }
        self.check_step(req)?;
        let request = StepRequest { forward: req, sample: Some((params, ctx)), cache_batch: self.max_batch };
        let step = record_step(&self.config, &self.layout, &request)?;
        let m = req.logits_per_sequence();
        let advance = record_advance(&self.config, &step, ctx, req.batch, m, &choice, self.max_batch)?;
        let mut dispatches = step.dispatches;
        dispatches.push(advance);
        debug_assert!(dispatches.len() <= max_dispatches(&self.config));
        self.flops += dispatches.iter().map(|d| d.flops).sum::<u64>();
        let start = web_time::Instant::now();
        if from_host {
            self.ctx.queue.write_buffer(&self.bufs.index, 0, bytemuck::cast_slice(&step.index));
            let ids = self.ids_by_position(req);
            self.ctx.queue.write_buffer(&self.bufs.look_ahead, 0, bytemuck::cast_slice(&ids));
        }
        let slot = self.next_slot;
        let next_words = next_index_words(&self.config, &choice, ctx.images, req.batch, m) as u64;
        let copies = [
            BufferCopy { from: &self.bufs.proposals, from_offset: 0, to: &self.bufs.proposals_staging[slot], bytes: step.output_bytes },
            // The next step's index over this one's, after every dispatch that reads it.
            BufferCopy {
                from: &self.bufs.look_ahead,
                from_offset: 4 * (self.max_batch * self.config.seq_len()) as u64,
                to: &self.bufs.index,
                bytes: 4 * next_words,
            },
        ];
        let submission = self.ctx.submit_with_copies("magnets step (ahead)", &self.kernels, &dispatches, &copies, None);
        self.next_slot ^= 1;
        self.in_flight.push_back(InFlight { slot, bytes: step.output_bytes, submission, start });
        self.cache_width = Some(req.width);
        Ok(())
    }

    async fn collect(&mut self) -> Result<Vec<Proposal>> {
        let f = self.in_flight.pop_front().ok_or_else(|| Error::Engine("internal: no step in flight to collect".into()))?;
        let raw = read_buffer_after(&self.ctx.device, &self.bufs.proposals_staging[f.slot], f.bytes, Some(f.submission)).await?;
        self.last_gpu_ms = f.start.elapsed().as_secs_f64() * 1e3;
        self.ctx.fault.check()?;
        let words: Vec<u32> = bytemuck::pod_collect_to_vec(&raw);
        Ok(words.chunks_exact(2).map(|w| Proposal { code: w[0], confidence: f32::from_bits(w[1]) }).collect())
    }

    async fn chosen_tokens(&mut self, images: usize) -> Result<Vec<u32>> {
        self.ctx.fault.check()?;
        let (n, s) = (self.config.tokens(), self.config.seq_len());
        if images == 0 || images > self.batch {
            return Err(Error::Engine(format!("{images} images of a decode of {} sequences", self.batch)));
        }
        let bytes = 4 * (images * s) as u64;
        let mut enc = self.ctx.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&self.bufs.look_ahead, 0, &self.bufs.staging, 0, bytes);
        let submission = self.ctx.queue.submit([enc.finish()]);
        let raw = read_buffer_after(&self.ctx.device, &self.bufs.staging, bytes, Some(submission)).await?;
        self.ctx.fault.check()?;
        let ids: Vec<u32> = bytemuck::pod_collect_to_vec(&raw);
        Ok(ids.chunks_exact(s).flat_map(|seq| seq[1..=n].iter().copied()).collect())
    }
}
