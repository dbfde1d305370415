//! The device both GPU consumers (transformer engine, image decoder) share: queue, the one
//! bind group layout every kernel uses, the uniform slot alignment, fault reporting, and
//! encoding + submitting a list of recorded dispatches.

use std::sync::{Arc, Mutex};

use super::dispatch::{Dispatch, PARAM_BYTES, pack_params};
use super::profile::Profiler;
use crate::error::{Error, Result};

/// Shared slot for errors reported by wgpu callbacks (device lost, uncaptured errors): they
/// arrive on no call of ours, so they are kept and returned by the next call.
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
    fn watch(&self, device: &wgpu::Device) {
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

/// A consumer's compiled kernels, its bind groups, and the uniform buffer its dispatches'
/// parameters are uploaded to; recorded dispatches index the first two.
pub struct KernelSet {
    pub params: wgpu::Buffer,
    pub pipelines: Vec<wgpu::ComputePipeline>,
    pub groups: Vec<wgpu::BindGroup>,
}

/// Copy `bytes` of `from` into the host-readable `to` at the end of a submission.
pub struct Readback<'a> {
    pub from: &'a wgpu::Buffer,
    pub to: &'a wgpu::Buffer,
    pub bytes: u64,
}

/// A buffer-to-buffer copy recorded after a command buffer's dispatches (a result to a
/// readback buffer, or a prepared index over the one the next step reads).
pub struct BufferCopy<'a> {
    pub from: &'a wgpu::Buffer,
    pub from_offset: u64,
    pub to: &'a wgpu::Buffer,
    pub bytes: u64,
}

impl<'a> From<Readback<'a>> for BufferCopy<'a> {
    fn from(r: Readback<'a>) -> Self {
        BufferCopy { from: r.from, from_offset: 0, to: r.to, bytes: r.bytes }
    }
}

pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    bind_layout: wgpu::BindGroupLayout,
    pipeline_layout: wgpu::PipelineLayout,
    pub fault: Fault,
    /// Bytes between consecutive parameter slots: the device's dynamic uniform offset
    /// alignment, at least one slot.
    pub param_align: usize,
}

impl GpuContext {
    /// Takes over `device`, routing its losses and uncaptured errors into [`GpuContext::fault`].
    pub fn new(device: wgpu::Device, queue: wgpu::Queue, info: wgpu::AdapterInfo) -> Self {
        let fault = Fault::default();
        fault.watch(&device);
        let bind_layout = bind_group_layout(&device);
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("magnets"),
            bind_group_layouts: &[Some(&bind_layout)],
            immediate_size: 0,
        });
        let param_align = device.limits().min_uniform_buffer_offset_alignment.max(PARAM_BYTES as u32) as usize;
        GpuContext { device, queue, info, bind_layout, pipeline_layout, fault, param_align }
    }

    pub fn adapter_name(&self) -> String {
        format!("{} ({:?}, {:?})", self.info.name, self.info.backend, self.info.device_type)
    }

    /// A uniform buffer holding `slots` parameter blocks.
    pub fn param_buffer(&self, label: &str, slots: usize) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: (slots * self.param_align) as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    pub fn storage_buffer(&self, label: &str, bytes: u64, extra: wgpu::BufferUsages) -> wgpu::Buffer {
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(16).next_multiple_of(4),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | extra,
            mapped_at_creation: false,
        })
    }

    /// One compute pipeline per entry point of `source`, in order.
    pub fn pipelines(&self, label: &str, source: &str, entry_points: &[&str]) -> Vec<wgpu::ComputePipeline> {
        let module = self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        entry_points
            .iter()
            .map(|&entry_point| {
                self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(label),
                    layout: Some(&self.pipeline_layout),
                    module: &module,
                    entry_point: Some(entry_point),
                    compilation_options: Default::default(),
                    cache: None,
                })
            })
            .collect()
    }

    /// A bind group over the uniform parameter buffer and four storage buffers.
    pub fn bind_group(&self, params: &wgpu::Buffer, bufs: [&wgpu::Buffer; 4]) -> wgpu::BindGroup {
        let mut entries = vec![wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: params,
                offset: 0,
                size: wgpu::BufferSize::new(PARAM_BYTES as u64),
            }),
        }];
        for (i, b) in bufs.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry { binding: i as u32 + 1, resource: b.as_entire_binding() });
        }
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.bind_layout,
            entries: &entries,
        })
    }

    /// Runs `f` inside out-of-memory and validation error scopes and turns what they catch into
    /// an error naming `what`.
    pub async fn scoped<T>(&self, what: &str, f: impl FnOnce() -> T) -> Result<T> {
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let val = self.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let out = f();
        let v = val.pop().await;
        let o = oom.pop().await;
        if let Some(e) = o {
            return Err(Error::Engine(format!("the GPU ran out of memory while {what}: {e}")));
        }
        if let Some(e) = v {
            return Err(Error::Engine(format!("GPU validation error while {what}: {e}")));
        }
        Ok(out)
    }

    /// One command buffer: uploads the parameter blocks, encodes every dispatch (in one
    /// compute pass, or one timed pass each when profiling), queues the readback copy, and
    /// submits.
    pub fn submit<K: Copy + Into<usize>, G: Copy + Into<usize>>(
        &self,
        label: &str,
        set: &KernelSet,
        dispatches: &[Dispatch<K, G>],
        readback: Option<Readback<'_>>,
        profiler: Option<&Profiler>,
    ) -> wgpu::SubmissionIndex {
        let copies: Vec<BufferCopy<'_>> = readback.into_iter().map(BufferCopy::from).collect();
        self.submit_with_copies(label, set, dispatches, &copies, profiler)
    }

    /// [`GpuContext::submit`] with any number of copies after the dispatches, in order.
    pub fn submit_with_copies<K: Copy + Into<usize>, G: Copy + Into<usize>>(
        &self,
        label: &str,
        set: &KernelSet,
        dispatches: &[Dispatch<K, G>],
        copies: &[BufferCopy<'_>],
        profiler: Option<&Profiler>,
    ) -> wgpu::SubmissionIndex {
        self.queue.write_buffer(&set.params, 0, &pack_params(dispatches, self.param_align));
        let mut enc = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
        let bind = |pass: &mut wgpu::ComputePass<'_>, i: usize, d: &Dispatch<K, G>| {
            let group: usize = d.group.into();
            pass.set_bind_group(0, &set.groups[group], &[(i * self.param_align) as u32]);
            pass.dispatch_workgroups(d.groups.0, d.groups.1, d.groups.2);
        };
        match profiler {
            Some(p) => {
                for (i, d) in dispatches.iter().enumerate() {
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some(label),
                        timestamp_writes: Some(wgpu::ComputePassTimestampWrites {
                            query_set: &p.queries,
                            beginning_of_pass_write_index: Some(2 * i as u32),
                            end_of_pass_write_index: Some(2 * i as u32 + 1),
                        }),
                    });
                    let kernel: usize = d.kernel.into();
                    pass.set_pipeline(&set.pipelines[kernel]);
                    bind(&mut pass, i, d);
                }
                p.resolve(&mut enc, dispatches.len());
            }
            None => {
                let mut pass =
                    enc.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(label), timestamp_writes: None });
                let mut current = usize::MAX;
                for (i, d) in dispatches.iter().enumerate() {
                    let kernel: usize = d.kernel.into();
                    if kernel != current {
                        current = kernel;
                        pass.set_pipeline(&set.pipelines[kernel]);
                    }
                    bind(&mut pass, i, d);
                }
            }
        }
        for c in copies.iter().filter(|c| c.bytes > 0) {
            enc.copy_buffer_to_buffer(c.from, c.from_offset, c.to, 0, c.bytes);
        }
        self.queue.submit([enc.finish()])
    }
}

/// Every kernel binds the same five slots: 0 = per-dispatch parameters (uniform, dynamic
/// offset), 1..=3 = read-only storage, 4 = the read-write output.
fn bind_group_layout(device: &wgpu::Device) -> wgpu::BindGroupLayout {
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
                    min_binding_size: wgpu::BufferSize::new(PARAM_BYTES as u64),
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
