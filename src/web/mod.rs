//! The page's wasm-bindgen API. Two bundles are built from this module, each with its engine
//! behind `backend::PageBackend`:
//! - feature `web`: the WebGPU path (`gpu::GpuEngine` + `gpu::GpuImageDecoder`), burn-free;
//! - feature `web-fallback`: the burn reference model on burn-flex (CPU) + the plain-Rust
//!   tokenizer decoder, loaded lazily by the page only when WebGPU is unavailable.
//!
//! Everything crosses the boundary as JSON strings or byte arrays, and every failure is a JS
//! `Error` named by its kind (`crate::Error::kind`) with a readable message (the page shows
//! it); nothing here panics on user input.
//! The decode loop is [`crate::decode::decode_until`] — the page animates its `StepTrace`s and
//! stops it with [`PageEngine::cancel`].

use std::cell::RefCell;
use std::rc::Rc;

use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

use crate::config::ModelConfig;
use crate::decode::{DecodeRequest, MAX_IMAGES, decode_until};
use crate::engine::Engine;
use crate::flops::summarize;
use crate::sampling::{GuidanceSchedule, SamplingParams};
use crate::schedule::{CachePolicy, Schedule};
use crate::weights::Weights;

mod backend;

use backend::{Backend, ImageDecoder, PageBackend};

/// The page's view of a failure: a JS `Error` whose `name` is [`crate::Error::kind`]
/// (`bad-weights`, `cancelled`, `device-lost`, …) and whose message is the readable text, so
/// the worker switches on the name and shows the message.
fn js_err(e: crate::Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    err.set_name(e.kind());
    err.into()
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
    Backend::KIND.to_string()
}

fn parse_config(config_json: &str) -> Result<ModelConfig, JsValue> {
    ModelConfig::from_json(config_json).map_err(js_err)
}

fn to_json(value: &impl Serialize) -> Result<String, JsValue> {
    serde_json::to_string(value).map_err(|e| js_err(crate::Error::Other(format!("JSON: {e}"))))
}

/// A schedule as the page's editor holds it.
#[derive(Serialize)]
struct ResolvedSchedule {
    /// Canonical text (`S3M3L3XL3`).
    schedule: String,
    /// Width index per step.
    widths: Vec<usize>,
    /// Whether the text was a preset name (`magnets`, `const:M`, …), whose length follows the
    /// step count, rather than a schedule string, whose length is its own.
    preset: bool,
}

/// The main thread's questions about schedules for one model, answered by the same Rust the
/// decode uses (nothing about schedules is written twice in JavaScript). Needs no GPU.
#[wasm_bindgen]
pub struct Planner {
    config: ModelConfig,
}

#[wasm_bindgen]
impl Planner {
    #[wasm_bindgen(constructor)]
    pub fn new(config_json: &str) -> Result<Planner, JsValue> {
        Ok(Planner { config: parse_config(config_json)? })
    }

    /// Parses a schedule string (`S3M3L3XL3`) or preset name (`baseline`, `magnets`, `reverse`,
    /// `const:<W>`) for `steps` steps and checks it against the model. JSON:
    /// `{schedule, widths, preset}`.
    pub fn resolve(&self, text: &str, steps: usize) -> Result<String, JsValue> {
        let schedule = Schedule::resolve(text, steps, &self.config).map_err(js_err)?;
        // A text that resolves but is not runs of widths with counts is a preset name.
        let preset = Schedule::parse(text, &self.config).is_err();
        to_json(&ResolvedSchedule { schedule: schedule.format(&self.config), widths: schedule.steps, preset })
    }

    /// The canonical text of a schedule given as a width index per step (the timeline editor).
    pub fn format(&self, widths: Vec<u32>) -> Result<String, JsValue> {
        let schedule = Schedule { steps: widths.into_iter().map(|w| w as usize).collect() };
        schedule.check(&self.config).map_err(js_err)?;
        Ok(schedule.format(&self.config))
    }

    /// Checks sampling settings as a decode would (the page's number fields), with the
    /// sampler's own message when they are refused.
    pub fn check_sampling(&self, temperature: f32, tau: f32, guidance: f32) -> Result<(), JsValue> {
        SamplingParams { seed: 0, temperature, confidence_noise: tau, guidance, ..Default::default() }.validate().map_err(js_err)
    }

    /// Per-step plan (FLOPs, rows, refreshes) of a schedule without running it, as JSON
    /// (`flops::FlopsSummary`).
    pub fn plan(&self, schedule: &str, cache: &str, guidance: bool) -> Result<String, JsValue> {
        let schedule = Schedule::parse(schedule, &self.config).map_err(js_err)?;
        schedule.check(&self.config).map_err(js_err)?;
        let cache = CachePolicy::parse(cache).map_err(js_err)?;
        to_json(&summarize(&self.config, &schedule, cache, guidance))
    }
}

/// The names both sides of the boundary must agree on, as JSON: `{error_kinds, token_states}`
/// (`www/protocol.js` holds the page's copy; a node test compares the two).
#[wasm_bindgen]
pub fn protocol_constants() -> Result<String, JsValue> {
    #[derive(Serialize)]
    struct TokenStates {
        masked: u8,
        fixed_now: u8,
        fixed_earlier: u8,
        given: u8,
    }
    #[derive(Serialize)]
    struct Constants {
        error_kinds: &'static [&'static str],
        token_states: TokenStates,
    }
    use crate::decode::{STATE_FIXED_EARLIER, STATE_FIXED_NOW, STATE_GIVEN, STATE_MASKED};
    to_json(&Constants {
        error_kinds: &crate::error::ERROR_KINDS,
        token_states: TokenStates {
            masked: STATE_MASKED,
            fixed_now: STATE_FIXED_NOW,
            fixed_earlier: STATE_FIXED_EARLIER,
            given: STATE_GIVEN,
        },
    })
}

/// Checks a weights file without building an engine; returns its config as JSON.
#[wasm_bindgen]
pub fn inspect_weights(bytes: &[u8]) -> Result<String, JsValue> {
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
    /// `constant` (the default) or `linear`: see [`GuidanceSchedule`].
    #[serde(default)]
    pub guidance_schedule: GuidanceSchedule,
    /// A clip model's given frames, one code list per clip (see [`DecodeRequest::context`]).
    #[serde(default)]
    pub context: Vec<Vec<u32>>,
}

impl PageRequest {
    pub fn to_decode_request(&self, config: &ModelConfig) -> crate::Result<DecodeRequest> {
        let schedule = Schedule::parse(&self.schedule, config)?;
        schedule.check(config)?;
        let req = DecodeRequest {
            context: self.context.clone(),
            schedule,
            cache: CachePolicy::parse(&self.cache)?,
            classes: self.classes.clone(),
            sampling: SamplingParams {
                seed: self.seed,
                temperature: self.temperature,
                confidence_noise: self.tau,
                guidance: self.guidance,
                guidance_schedule: self.guidance_schedule,
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
    engine: Backend,
    decoder: Option<ImageDecoder<Backend>>,
}

fn busy() -> JsValue {
    js_err(crate::Error::Engine("the engine is busy with another call".into()))
}

/// A failed engine call on a device that is gone is a device loss, whatever step noticed it
/// first: the engine can never run again, and the page must build a new one.
fn lost_or(engine: &Backend, e: crate::Error) -> crate::Error {
    match PageBackend::failure(engine) {
        Some(why) if !matches!(e, crate::Error::Cancelled) => crate::Error::DeviceLost(why),
        _ => e,
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
pub async fn create_engine(weights: Vec<u8>, tokenizer: Option<Vec<u8>>, max_batch: usize) -> Result<PageEngine, JsValue> {
    let weights = Weights::from_safetensors(&weights).map_err(js_err)?;
    let max_batch = max_batch.clamp(1, MAX_IMAGES);
    let engine = Backend::create(&weights, max_batch).await.map_err(js_err)?;
    let decoder = match tokenizer {
        Some(bytes) if !bytes.is_empty() => Some(ImageDecoder::new(&engine, &weights.config, &bytes, max_batch).map_err(js_err)?),
        _ => None,
    };
    let image_size = decoder.as_ref().map_or(0, ImageDecoder::image_size);
    let config = weights.config.clone();
    let info = to_json(&EngineInfo {
        kind: Backend::KIND,
        describe: engine.describe(),
        adapter: PageBackend::adapter_name(&engine),
        config: &config,
        tokenizer: decoder.is_some(),
        image_size,
    })?;
    let cancel = Rc::new(std::cell::Cell::new(false));
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
                .map_err(|e| js_err(crate::Error::Decode(format!("bad request: {e}"))))?;
            let req = page.to_decode_request(&config).map_err(js_err)?;
            let mut guard = inner.try_borrow_mut().map_err(|_| busy())?;
            cancel.set(false);
            let mut callback_error = None;
            let stream_step = |step: &crate::decode::StepTrace| {
                let json = serde_json::to_string(step).unwrap_or_default();
                if let Err(e) = on_step.call1(&JsValue::NULL, &JsValue::from_str(&json)) {
                    callback_error.get_or_insert(e);
                }
            };
            let decoded = decode_until(&mut guard.engine, &req, stream_step, || cancel.get()).await;
            let mut trace = decoded.map_err(|e| js_err(lost_or(&guard.engine, e)))?;
            if let Some(e) = callback_error {
                return Err(e);
            }
            for s in &mut trace.steps {
                s.tokens.clear();
                s.predicted.clear();
                s.states.clear();
            }
            Ok(JsValue::from_str(&to_json(&trace)?))
        })
    }

    /// Decodes `batch` code grids (`[batch × h·w]`, row-major; a clip's frames are decoded as
    /// images) to RGBA8 images (`[batch × S × S × 4]`, S = `image_size`). Rejects without a
    /// tokenizer.
    pub fn decode_images(&self, codes: Vec<u32>, batch: usize) -> js_sys::Promise {
        let inner = self.inner.clone();
        let n = self.config.frame_tokens();
        let k = self.config.codebook as u32;
        wasm_bindgen_futures::future_to_promise(async move {
            // Checked: on wasm32 `batch · n` could wrap around to the length of a short array.
            if batch == 0 || batch.checked_mul(n) != Some(codes.len()) {
                return Err(js_err(crate::Error::Decode(format!("{} codes for {batch} images of {n} tokens", codes.len()))));
            }
            if let Some(&c) = codes.iter().find(|&&c| c >= k) {
                return Err(js_err(crate::Error::Decode(format!("code {c} out of range 0..{k}"))));
            }
            let mut guard = inner.try_borrow_mut().map_err(|_| busy())?;
            let inner = &mut *guard;
            let Some(decoder) = inner.decoder.as_mut() else {
                return Err(js_err(crate::Error::Decode("no tokenizer loaded".into())));
            };
            let rgba = decoder
                .decode(&inner.engine, &codes, batch)
                .await
                .map_err(|e| js_err(lost_or(&inner.engine, e)))?;
            Ok(js_sys::Uint8Array::from(rgba.as_slice()).into())
        })
    }

    /// Decode images on the CPU even where a GPU decoder exists (the worker asks for this on
    /// software adapters, where it is faster).
    pub fn prefer_cpu_images(&self, prefer: bool) -> Result<(), JsValue> {
        let mut guard = self.inner.try_borrow_mut().map_err(|_| busy())?;
        if let Some(d) = guard.decoder.as_mut() {
            d.set_prefer_cpu(prefer);
        }
        Ok(())
    }

    /// Set once the GPU device is lost or failed (the message says why): the engine cannot run
    /// again and the worker builds a new one. `None` while healthy or busy decoding.
    pub fn failure(&self) -> Option<String> {
        let guard = self.inner.try_borrow().ok()?;
        PageBackend::failure(&guard.engine)
    }

    /// Test hook: destroys the GPU device as a driver reset would (the page's recovery test).
    pub fn simulate_device_loss(&self) -> Result<(), JsValue> {
        let guard = self.inner.try_borrow().map_err(|_| busy())?;
        PageBackend::simulate_device_loss(&guard.engine).map_err(js_err)
    }

    /// Stops the running decode (if any) before its next step; it rejects with an error named
    /// `cancelled`.
    pub fn cancel(&self) {
        self.cancel.set(true);
    }

    pub fn image_size(&self) -> usize {
        self.image_size
    }
}
