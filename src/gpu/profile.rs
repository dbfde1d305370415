//! GPU timestamps around every dispatch of a step, for `magnets bench --profile` (needs the
//! device feature `TIMESTAMP_QUERY`; never used by the page).

use super::readback::{read_buffer, readback_buffer};
use crate::error::{Error, Result};

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

/// A query set with two timestamps per dispatch and the buffers to read them back.
pub struct Profiler {
    pub(super) queries: wgpu::QuerySet,
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

    /// Queues the copy of the first `dispatches` pairs of timestamps to the readback buffer.
    pub(super) fn resolve(&self, enc: &mut wgpu::CommandEncoder, dispatches: usize) {
        let queries = 2 * dispatches as u32;
        enc.resolve_query_set(&self.queries, 0..queries, &self.resolve, 0);
        enc.copy_buffer_to_buffer(&self.resolve, 0, &self.readback, 0, queries as u64 * 8);
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
