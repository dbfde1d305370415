//! Reading GPU buffers back to the host without blocking: on wasm32 the map callback wakes
//! the awaiting future; natively the device is polled to completion first.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};

/// A host-readable copy target for a kernel output of `bytes`.
pub fn readback_buffer(device: &wgpu::Device, label: &str, bytes: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: bytes.max(16).next_multiple_of(4),
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    })
}

/// One-shot channel: the map_async callback sends, the readback future awaits (no blocking
/// on wasm32; natively the device is polled to completion first).
struct Shared<T> {
    value: Option<T>,
    waker: Option<Waker>,
}

struct Receiver<T>(Arc<Mutex<Shared<T>>>);
struct Sender<T>(Arc<Mutex<Shared<T>>>);

fn oneshot<T>() -> (Sender<T>, Receiver<T>) {
    let s = Arc::new(Mutex::new(Shared { value: None, waker: None }));
    (Sender(s.clone()), Receiver(s))
}

impl<T> Sender<T> {
    fn send(self, v: T) {
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
    read_buffer_after(device, buf, bytes, None).await
}

/// [`read_buffer`] of a copy made by `submission`: natively the host waits for that submission
/// only, not for work queued after it (a step recorded ahead keeps the GPU busy meanwhile).
pub async fn read_buffer_after(
    device: &wgpu::Device,
    buf: &wgpu::Buffer,
    bytes: u64,
    submission: Option<wgpu::SubmissionIndex>,
) -> Result<Vec<u8>> {
    if bytes == 0 {
        return Ok(Vec::new());
    }
    let slice = buf.slice(..bytes);
    let (tx, rx) = oneshot();
    slice.map_async(wgpu::MapMode::Read, move |r| tx.send(r));
    #[cfg(not(target_arch = "wasm32"))]
    device
        .poll(wgpu::PollType::Wait { submission_index: submission, timeout: None })
        .map_err(|e| Error::Engine(format!("waiting for the GPU failed: {e}")))?;
    #[cfg(target_arch = "wasm32")]
    let _ = (device, submission);
    rx.await.map_err(|e| Error::Engine(format!("reading results back from the GPU failed: {e}")))?;
    let out = {
        let view = slice.get_mapped_range().map_err(|e| Error::Engine(format!("mapped range: {e}")))?;
        view.to_vec()
    };
    buf.unmap();
    Ok(out)
}
