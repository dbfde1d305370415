//! The page's wasm-bindgen API (issue 6). Two bundles are built from this module:
//! - feature `web`: the WebGPU path (`gpu::GpuEngine` + `gpu::GpuImageDecoder`), burn-free;
//! - feature `web-fallback`: the burn reference model on burn-flex (CPU) + the plain-Rust
//!   tokenizer decoder, loaded lazily by the page only when WebGPU is unavailable.
//!
//! Everything crosses the boundary as JSON strings or byte arrays, and every failure is a
//! `JsError` with a readable message (the page shows it); nothing here panics on user input.
//! The decode loop is [`crate::decode::decode`] — the page animates its `StepTrace`s.

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::config::ModelConfig;
use crate::decode::{DecodeRequest, MAX_IMAGES, decode};
use crate::engine::Engine;
use crate::flops::summarize;
use crate::sampling::SamplingParams;
use crate::schedule::{CachePolicy, Schedule};
use crate::weights::Weights;

mod backend;

fn js_err(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

thread_local! {
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

#[wasm_bindgen(start)]
pub fn start() {
    // A panic is a bug; the bundle aborts (panic = "abort"), so keep its message for the page.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(info.to_string()));
    }));
}

/// The message of the panic that aborted the module, if any (the worker reports it).
#[wasm_bindgen]
pub fn last_panic() -> Option<String> {
    LAST_PANIC.with(|p| p.borrow().clone())
}

/// Which bundle this is: `"webgpu"` or `"cpu"`.
#[wasm_bindgen]
pub fn bundle_kind() -> String {
    backend::KIND.to_string()
}

fn parse_config(config_json: &str) -> Result<ModelConfig, JsError> {
    ModelConfig::from_json(config_json).map_err(js_err)
}

/// Parses a schedule string (`S3M3L3XL3`) or preset name (`baseline`, `magnets`, `reverse`,
/// `const:<W>`) for `steps` steps, checks it against the model, and returns its canonical form.
#[wasm_bindgen]
pub fn normalize_schedule(config_json: &str, text: &str, steps: usize) -> Result<String, JsError> {
    let config = parse_config(config_json)?;
    let schedule = schedule_from_text(&config, text, steps)?;
    Ok(schedule.format(&config))
}

fn schedule_from_text(config: &ModelConfig, text: &str, steps: usize) -> Result<Schedule, JsError> {
    Schedule::resolve(text, steps, config).map_err(js_err)
}

/// Per-step plan (FLOPs, rows, refreshes) of a schedule without running it, as JSON
/// (`flops::FlopsSummary`).
#[wasm_bindgen]
pub fn plan(config_json: &str, schedule: &str, cache: &str, guidance: bool) -> Result<String, JsError> {
    let config = parse_config(config_json)?;
    let schedule = Schedule::parse(schedule, &config).map_err(js_err)?;
    schedule.check(&config).map_err(js_err)?;
    let cache = CachePolicy::parse(cache).map_err(js_err)?;
    serde_json::to_string(&summarize(&config, &schedule, cache, guidance)).map_err(js_err)
}

/// Checks a weights file without building an engine; returns its config as JSON.
#[wasm_bindgen]
pub fn inspect_weights(bytes: &[u8]) -> Result<String, JsError> {
    let w = Weights::from_safetensors(bytes).map_err(js_err)?;
    Ok(w.config.to_json())
}

/// What the page asks for; turned into a [`DecodeRequest`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageRequest {
    pub schedule: String,
    pub cache: String,
    pub classes: Vec<u32>,
    pub seed: u32,
    pub temperature: f32,
    pub tau: f32,
    pub guidance: f32,
}

impl PageRequest {
    pub fn to_decode_request(&self, config: &ModelConfig) -> crate::Result<DecodeRequest> {
        let schedule = Schedule::parse(&self.schedule, config)?;
        schedule.check(config)?;
        let req = DecodeRequest {
            schedule,
            cache: CachePolicy::parse(&self.cache)?,
            classes: self.classes.clone(),
            sampling: SamplingParams {
                seed: self.seed,
                temperature: self.temperature,
                confidence_noise: self.tau,
                guidance: self.guidance,
            },
        };
        crate::decode::validate_request(&req, config)?;
        Ok(req)
    }
}

#[derive(Serialize)]
struct EngineInfo<'a> {
    kind: &'a str,
    describe: String,
    adapter: String,
    config: &'a ModelConfig,
    tokenizer: bool,
    image_size: usize,
}

struct Inner {
    engine: Cancellable,
    decoder: Option<backend::ImageDecoder>,
}

/// Message of the error a cancelled decode ends with (the worker ignores it).
pub const CANCELLED: &str = "cancelled: a newer request replaced this decode";

/// The backend engine with a cancel flag checked before every engine call, so a newer request
/// from the page stops a running decode at its next step (the loop itself stays `decode::decode`).
struct Cancellable {
    inner: backend::Backend,
    cancel: Rc<std::cell::Cell<bool>>,
}

impl Cancellable {
    fn check(&self) -> crate::Result<()> {
        if self.cancel.get() { Err(crate::Error::Other(CANCELLED.into())) } else { Ok(()) }
    }
}

impl Engine for Cancellable {
    fn config(&self) -> &ModelConfig {
        self.inner.config()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn begin(&mut self, batch: usize) -> crate::Result<()> {
        self.check()?;
        self.inner.begin(batch).await
    }
    async fn forward(&mut self, req: &crate::engine::ForwardRequest<'_>) -> crate::Result<Vec<f32>> {
        self.check()?;
        self.inner.forward(req).await
    }
    fn flops_performed(&self) -> u64 {
        self.inner.flops_performed()
    }
    async fn propose(
        &mut self,
        req: &crate::engine::ForwardRequest<'_>,
        params: &SamplingParams,
        ctx: crate::engine::StepContext,
    ) -> crate::Result<Vec<crate::sampling::Proposal>> {
        self.check()?;
        self.inner.propose(req, params, ctx).await
    }
}

/// An engine (+ image decoder) living in the page's worker.
#[wasm_bindgen]
pub struct PageEngine {
    inner: Rc<RefCell<Inner>>,
    cancel: Rc<std::cell::Cell<bool>>,
    config: ModelConfig,
    info: String,
    image_size: usize,
}

/// Builds the engine from weights bytes (and the tokenizer's, if any). Rejects corrupt or
/// mismatched files with a message naming the problem.
#[wasm_bindgen]
pub async fn create_engine(weights: Vec<u8>, tokenizer: Option<Vec<u8>>, max_batch: usize) -> Result<PageEngine, JsError> {
    let weights = Weights::from_safetensors(&weights).map_err(js_err)?;
    let max_batch = max_batch.clamp(1, MAX_IMAGES);
    let engine = backend::create_engine(&weights, max_batch).await.map_err(js_err)?;
    let (decoder, image_size) = match tokenizer {
        Some(bytes) if !bytes.is_empty() => {
            let (d, size) = backend::create_decoder(&engine, &weights.config, &bytes, max_batch).map_err(js_err)?;
            (Some(d), size)
        }
        _ => (None, 0),
    };
    let config = weights.config.clone();
    let info = serde_json::to_string(&EngineInfo {
        kind: backend::KIND,
        describe: engine.describe(),
        adapter: backend::adapter_name(&engine),
        config: &config,
        tokenizer: decoder.is_some(),
        image_size,
    })
    .map_err(js_err)?;
    let cancel = Rc::new(std::cell::Cell::new(false));
    let engine = Cancellable { inner: engine, cancel: cancel.clone() };
    Ok(PageEngine { inner: Rc::new(RefCell::new(Inner { engine, decoder })), cancel, config, info, image_size })
}

#[wasm_bindgen]
impl PageEngine {
    /// JSON: `{kind, describe, adapter, config, tokenizer, image_size}`.
    pub fn info(&self) -> String {
        self.info.clone()
    }

    /// Runs one decode. `on_step` is called with each step's trace (JSON) as soon as it exists;
    /// resolves to the whole trace (JSON) without the per-step grids.
    pub fn generate(&self, request_json: String, on_step: js_sys::Function) -> js_sys::Promise {
        let inner = self.inner.clone();
        let config = self.config.clone();
        let cancel = self.cancel.clone();
        wasm_bindgen_futures::future_to_promise(async move {
            let page: PageRequest = serde_json::from_str(&request_json)
                .map_err(|e| js_err(format!("bad request: {e}")))?;
            let req = page.to_decode_request(&config).map_err(js_err)?;
            let mut guard = inner.try_borrow_mut().map_err(|_| js_err("the engine is busy with another decode"))?;
            cancel.set(false);
            let mut callback_error = None;
            let mut trace = decode(&mut guard.engine, &req, |step| {
                let json = serde_json::to_string(step).unwrap_or_default();
                if let Err(e) = on_step.call1(&JsValue::NULL, &JsValue::from_str(&json)) {
                    callback_error.get_or_insert(e);
                }
            })
            .await
            .map_err(js_err)?;
            if let Some(e) = callback_error {
                return Err(e);
            }
            for s in &mut trace.steps {
                s.tokens.clear();
                s.predicted.clear();
                s.states.clear();
            }
            Ok(JsValue::from_str(&serde_json::to_string(&trace).map_err(js_err)?))
        })
    }

    /// Decodes `batch` code grids (`[batch × N]`, row-major) to RGBA8 images
    /// (`[batch × S × S × 4]`, S = `image_size`). Rejects without a tokenizer.
    pub fn decode_images(&self, codes: Vec<u32>, batch: usize) -> js_sys::Promise {
        let inner = self.inner.clone();
        let n = self.config.tokens();
        let k = self.config.codebook as u32;
        wasm_bindgen_futures::future_to_promise(async move {
            // Checked: on wasm32 `batch · n` could wrap around to the length of a short array.
            if batch == 0 || batch.checked_mul(n) != Some(codes.len()) {
                return Err(js_err(format!("{} codes for {batch} images of {n} tokens", codes.len())).into());
            }
            if let Some(&c) = codes.iter().find(|&&c| c >= k) {
                return Err(js_err(format!("code {c} out of range 0..{k}")).into());
            }
            let mut guard = inner.try_borrow_mut().map_err(|_| js_err("the engine is busy"))?;
            let inner = &mut *guard;
            let Some(decoder) = inner.decoder.as_mut() else {
                return Err(js_err("no tokenizer loaded").into());
            };
            let rgba = backend::decode_images(decoder, &inner.engine.inner, &codes, batch).await.map_err(js_err)?;
            Ok(js_sys::Uint8Array::from(rgba.as_slice()).into())
        })
    }

    /// Decode images on the CPU even where a GPU decoder exists (the worker asks for this on
    /// software adapters, where it is faster).
    pub fn prefer_cpu_images(&self, prefer: bool) -> Result<(), JsError> {
        let mut guard = self.inner.try_borrow_mut().map_err(|_| js_err("the engine is busy"))?;
        if let Some(d) = guard.decoder.as_mut() {
            backend::set_prefer_cpu(d, prefer);
        }
        Ok(())
    }

    /// Set once the GPU device is lost or failed (the message says why): the engine cannot run
    /// again and the worker builds a new one. `None` while healthy or busy decoding.
    pub fn failure(&self) -> Option<String> {
        let guard = self.inner.try_borrow().ok()?;
        backend::failure(&guard.engine.inner)
    }

    /// Test hook: destroys the GPU device as a driver reset would (the page's recovery test).
    pub fn simulate_device_loss(&self) -> Result<(), JsError> {
        let guard = self.inner.try_borrow().map_err(|_| js_err("the engine is busy"))?;
        backend::simulate_device_loss(&guard.engine.inner).map_err(js_err)
    }

    /// Stops the running decode (if any) before its next step; it rejects with [`CANCELLED`].
    pub fn cancel(&self) {
        self.cancel.set(true);
    }

    pub fn image_size(&self) -> usize {
        self.image_size
    }
}
