//! Small wgpu helpers shared by the transformer engine and the image decoder: the one bind
//! group layout every kernel uses, pipeline creation, dispatch grids, async readback.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};

/// Every kernel binds the same five slots: 0 = per-dispatch parameters (uniform, dynamic
/// offset, up to 128 bytes), 1..=3 = read-only storage, 4 = the read-write output.
pub const PARAM_BYTES: u64 = 128;

/// Workgroups per grid dimension we use at most (the WebGPU default limit is 65535).
pub const MAX_GROUPS_PER_DIM: u32 = 65_535;

pub fn bind_group_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
    let storage = |binding: u32, read_only: bool| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Storage { read_only },
            has_dynamic_offset: false,
            min_binding_size: None,
        },
        count: None,
    };
    device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some("magnets kernel layout"),
        entries: &[
            wgpu::BindGroupLayoutEntry {
                binding: 0,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: wgpu::BufferBindingType::Uniform,
                    has_dynamic_offset: true,
                    min_binding_size: wgpu::BufferSize::new(PARAM_BYTES),
                },
                count: None,
            },
            storage(1, true),
            storage(2, true),
            storage(3, true),
            storage(4, false),
        ],
    })
}

pub fn pipeline(
    device: &wgpu::Device,
    layout: &wgpu::PipelineLayout,
    label: &str,
    source: &str,
) -> wgpu::ComputePipeline {
    let module = module(device, label, source);
    entry(device, layout, &module, label, "main")
}

pub fn module(device: &wgpu::Device, label: &str, source: &str) -> wgpu::ShaderModule {
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.to_string().into()),
    })
}

pub fn entry(
    device: &wgpu::Device,
    layout: &wgpu::PipelineLayout,
    module: &wgpu::ShaderModule,
    label: &str,
    entry_point: &str,
) -> wgpu::ComputePipeline {
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: Some(layout),
        module,
        entry_point: Some(entry_point),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// A bind group over the uniform parameter buffer and four storage buffers.
pub fn bind_group(
    device: &wgpu::Device,
    layout: &wgpu::BindGroupLayout,
    params: &wgpu::Buffer,
    bufs: [&wgpu::Buffer; 4],
) -> wgpu::BindGroup {
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: params,
            offset: 0,
            size: wgpu::BufferSize::new(PARAM_BYTES),
        }),
    }];
    for (i, b) in bufs.iter().enumerate() {
        entries.push(wgpu::BindGroupEntry {
            binding: i as u32 + 1,
            resource: b.as_entire_binding(),
        });
    }
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout,
        entries: &entries,
    })
}

/// A 1-D count of workgroups folded into (x, y) within the per-dimension limit; kernels
/// recover the linear index as `wid.y · nwg.x + wid.x` and bounds-check.
pub fn grid(groups: u32) -> (u32, u32) {
    let groups = groups.max(1);
    if groups <= MAX_GROUPS_PER_DIM {
        (groups, 1)
    } else {
        (MAX_GROUPS_PER_DIM, groups.div_ceil(MAX_GROUPS_PER_DIM))
    }
}

/// A host-readable copy target for a kernel output of `bytes`.
pub fn readback_buffer(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).next_multiple_of(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

pub fn storage_buffer(
    device: &wgpu::Device,
    label: &str,
    bytes: u64,
    extra: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).next_multiple_of(4),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | extra,
        mapped_at_creation: false,
    })
}

/// A recorded dispatch: which kernel, which bind group, where its parameters are, how many
/// workgroups.
pub struct Dispatch {
    pub kernel: usize,
    pub group: usize,
    pub slot: usize,
    pub groups: (u32, u32, u32),
}

/// Per-step list of dispatches and their parameter blocks (one aligned slot each).
pub struct Recorder {
    pub align: usize,
    pub params: Vec<u8>,
    pub dispatches: Vec<Dispatch>,
}

impl Recorder {
    pub fn new(align: usize) -> Self {
        Recorder {
            align,
            params: Vec::new(),
            dispatches: Vec::new(),
        }
    }
    pub fn clear(&mut self) {
        self.params.clear();
        self.dispatches.clear();
    }
    pub fn push(
        &mut self,
        kernel: usize,
        group: usize,
        params: impl AsRef<[u32]>,
        groups: (u32, u32),
    ) {
        self.push3(kernel, group, params, (groups.0, groups.1, 1));
    }
    pub fn push3(
        &mut self,
        kernel: usize,
        group: usize,
        params: impl AsRef<[u32]>,
        groups: (u32, u32, u32),
    ) {
        let params = params.as_ref();
        debug_assert!(params.len() * 4 <= PARAM_BYTES as usize);
        let slot = self.dispatches.len();
        self.params.resize(slot * self.align, 0);
        self.params.extend_from_slice(bytemuck::cast_slice(params));
        self.params
            .resize(slot * self.align + PARAM_BYTES as usize, 0);
        self.dispatches.push(Dispatch {
            kernel,
            group,
            slot,
            groups,
        });
    }
    pub fn encode(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        kernels: &[wgpu::ComputePipeline],
        groups: &[wgpu::BindGroup],
    ) {
        let mut current = usize::MAX;
        for d in &self.dispatches {
            if d.kernel != current {
                pass.set_pipeline(&kernels[d.kernel]);
                current = d.kernel;
            }
            self.dispatch(pass, d, groups);
        }
    }

    fn dispatch(&self, pass: &mut wgpu::ComputePass<'_>, d: &Dispatch, groups: &[wgpu::BindGroup]) {
        pass.set_bind_group(0, &groups[d.group], &[(d.slot * self.align) as u32]);
        pass.dispatch_workgroups(d.groups.0, d.groups.1, d.groups.2);
    }

    /// Profiling variant of [`Recorder::encode`]: one compute pass per dispatch, with GPU
    /// timestamps at its start and end (queries 2i, 2i + 1).
    fn encode_timed(
        &self,
        enc: &mut wgpu::CommandEncoder,
        label: &str,
        kernels: &[wgpu::ComputePipeline],
        groups: &[wgpu::BindGroup],
        profiler: &Profiler,
    ) {
        for (i, d) in self.dispatches.iter().enumerate() {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(label),
                timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                    query_set: &profiler.queries,
                    beginning_of_pass_write_index: Some(2 * i as u32),
                    end_of_pass_write_index: Some(2 * i as u32 + 1),
                }),
            });
            pass.set_pipeline(&kernels[d.kernel]);
            self.dispatch(&mut pass, d, groups);
        }
        let queries = 2 * self.dispatches.len() as u32;
        enc.resolve_query_set(&profiler.queries, 0..queries, &profiler.resolve, 0);
        enc.copy_buffer_to_buffer(&profiler.resolve, 0, &profiler.readback, 0, queries as u64 * 8);
    }

    /// One command buffer: uploads the parameter blocks into `params`, encodes every dispatch
    /// in one compute pass, copies `bytes` of `output` into `staging`, and submits.
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        label: &str,
        params: &wgpu::Buffer,
        kernels: &[wgpu::ComputePipeline],
        groups: &[wgpu::BindGroup],
        output: &wgpu::Buffer,
        staging: &wgpu::Buffer,
        bytes: u64,
        profiler: Option<&Profiler>,
    ) {
        queue.write_buffer(params, 0, &self.params);
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        match profiler {
            Some(p) => self.encode_timed(&mut enc, label, kernels, groups, p),
            None => {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(label), timestamp_writes: None });
                self.encode(&mut pass, kernels, groups);
            }
        }
        if bytes > 0 {
            enc.copy_buffer_to_buffer(output, 0, staging, 0, bytes);
        }
        queue.submit([enc.finish()]);
    }
}

/// GPU timestamps around every dispatch of a step, for `magnets bench --profile` (needs the
/// device feature `TIMESTAMP_QUERY`; never used by the page).
pub struct Profiler {
    queries: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    ns_per_tick: f64,
}

impl Profiler {
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, capacity: usize) -> Result<Self> {
        if !device.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return Err(Error::Engine(
                "this GPU device was opened without timestamp queries; profiling needs them".into(),
            ));
        }
        let count = 2 * capacity as u32;
        if count > wgpu::QUERY_SET_MAX_QUERIES {
            return Err(Error::Engine(format!("cannot time {capacity} dispatches in one step")));
        }
        let bytes = count as u64 * 8;
        Ok(Profiler {
            queries: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("dispatch timestamps"),
                ty: wgpu::QueryType::Timestamp,
                count,
            }),
            resolve: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("timestamp resolve"),
                size: bytes,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            readback: readback_buffer(device, "timestamp readback", bytes),
            ns_per_tick: queue.get_timestamp_period() as f64,
        })
    }

    /// (start, end) of each of the last step's `dispatches`, in milliseconds from the first
    /// start.
    pub async fn read(&self, device: &wgpu::Device, dispatches: usize) -> Result<Vec<(f64, f64)>> {
        let raw = read_buffer(device, &self.readback, dispatches as u64 * 16).await?;
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&raw);
        let t0 = ticks.first().copied().unwrap_or(0);
        let ms = |t: u64| t.saturating_sub(t0) as f64 * self.ns_per_tick / 1e6;
        Ok(ticks.chunks_exact(2).map(|p| (ms(p[0]), ms(p[1]))).collect())
    }
}

/// Shared slot for errors reported by wgpu callbacks (device lost, uncaptured errors).
#[derive(Clone, Default)]
pub struct Fault(Arc<Mutex<Option<String>>>);

impl Fault {
    pub fn set(&self, msg: String) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if g.is_none() {
            *g = Some(msg);
        }
    }
    /// The first recorded failure, if any.
    pub fn get(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    pub fn check(&self) -> Result<()> {
        self.get().map_or(Ok(()), |m| Err(Error::Engine(m)))
    }
    /// Routes device loss and uncaptured errors of `device` into this slot (no panics).
    pub fn watch(&self, device: &wgpu::Device) {
        let lost = self.clone();
        device.set_device_lost_callback(move |reason, msg| {
            if reason != wgpu::DeviceLostReason::Destroyed {
                lost.set(format!("the GPU device was lost ({reason:?}): {msg}"));
            }
        });
        let uncaptured = self.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let what = match &e {
                wgpu::Error::OutOfMemory { .. } => "the GPU ran out of memory",
                _ => "GPU error",
            };
            uncaptured.set(format!("{what}: {e}"));
        }));
    }
}

/// One-shot channel: the map_async callback sends, the readback future awaits (no blocking
/// on wasm32; natively the device is polled to completion first).
struct Shared<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

pub struct Receiver<T>(Arc<Mutex<Shared<T>>>);
pub struct Sender<T>(Arc<Mutex<Shared<T>>>);

pub fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let s = Arc::new(Mutex::new(Shared {
        value: None,
        waker: None,
    }));
    (Sender(s.clone()), Receiver(s))
}

impl<T> Sender<T> {
    pub fn send(self, v: T) {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.value = Some(v);
        if let Some(w) = g.waker.take() {
            w.wake();
        }
    }
}

impl<T> Future for Receiver<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match g.value.take() {
            Some(v) => Poll::Ready(v),
            None => {
                g.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Maps `buf[..bytes]` for reading and returns its contents.
pub async fn read_buffer(device: &wgpu::Device, buf: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let slice = buf.slice(..bytes);
    let (tx, rx) = oneshot();
    slice.map_async(wgpu::MapMode::Read, move |r| tx.send(r));
    #[cfg(not(target_arch = "wasm32"))]
    device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| Error::Engine(format!("waiting for the GPU failed: {e}")))?;
    #[cfg(target_arch = "wasm32")]
    let _ = device;
    rx.await
        .map_err(|e| Error::Engine(format!("reading results back from the GPU failed: {e}")))?;
    let out = {
        let view = slice
            .get_mapped_range()
            .map_err(|e| Error::Engine(format!("mapped range: {e}")))?;
        view.to_vec()
    };
    buf.unmap();
    Ok(out)
}

/// Runs `f` inside out-of-memory and validation error scopes and turns what they catch into
/// an error naming `what`.
pub async fn scoped<T>(device: &wgpu::Device, what: &str, f: impl FnOnce() -> T) -> Result<T> {
    let oom = device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
    let val = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let out = f();
    let v = val.pop().await;
    let o = oom.pop().await;
    if let Some(e) = o {
        return Err(Error::Engine(format!(
            "the GPU ran out of memory while {what}: {e}"
        )));
    }
    if let Some(e) = v {
        return Err(Error::Engine(format!(
            "GPU validation error while {what}: {e}"
        )));
    }
    Ok(out)
}
