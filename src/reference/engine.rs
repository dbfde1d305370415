//! [`Engine`] over the burn model: burn-flex on the CPU by default, any burn device otherwise.

use burn::tensor::Device;

use super::model::{FlopCounter, KvCache, NestedTransformer};
use crate::config::ModelConfig;
use crate::engine::{Engine, ForwardRequest};
use crate::error::{Error, Result};
use crate::weights::Weights;

pub struct ReferenceEngine {
    config: ModelConfig,
    model: NestedTransformer,
    device: Device,
    device_name: String,
    cache: Option<KvCache>,
    batch: usize,
    counter: FlopCounter,
}

impl ReferenceEngine {
    /// The CPU reference (burn-flex).
    pub fn cpu(weights: &Weights) -> Self {
        Self::on_device(weights, Device::flex(), "burn-flex (CPU)")
    }

    pub fn on_device(weights: &Weights, device: Device, device_name: &str) -> Self {
        ReferenceEngine {
            config: weights.config.clone(),
            model: NestedTransformer::from_weights(weights, &device),
            device,
            device_name: device_name.to_string(),
            cache: None,
            batch: 0,
            counter: FlopCounter::default(),
        }
    }

    pub fn model(&self) -> &NestedTransformer {
        &self.model
    }
    pub fn device(&self) -> &Device {
        &self.device
    }
}

/// Checks a request against the model and the current decode; shared by every engine.
pub fn check_request(config: &ModelConfig, batch: usize, req: &ForwardRequest<'_>) -> Result<()> {
    let bad = |m: String| Err(Error::Engine(m));
    let n = config.tokens();
    if req.width >= config.widths.len() {
        return bad(format!("width index {} out of range", req.width));
    }
    if req.batch == 0 || req.batch != batch {
        return bad(format!("request batch {} but the decode began with {batch}", req.batch));
    }
    if req.tokens.len() != req.batch * n || req.classes.len() != req.batch {
        return bad("tokens/classes do not match the batch".into());
    }
    if let Some(&t) = req.tokens.iter().find(|&&t| t > config.mask_id()) {
        return bad(format!("token id {t} out of range 0..={}", config.mask_id()));
    }
    if let Some(&c) = req.classes.iter().find(|&&c| c > config.null_class()) {
        return bad(format!("class id {c} out of range 0..={}", config.null_class()));
    }
    if req.logit_rows.len() % req.batch != 0 || req.logit_rows.iter().any(|&p| p == 0 || p as usize > n) {
        return bad("logit rows must be image positions 1..=N, the same count per sequence".into());
    }
    if let Some(rows) = req.rows {
        if rows.is_empty() || rows.len() % req.batch != 0 {
            return bad("active rows must be the same non-zero count per sequence".into());
        }
        let r = rows.len() / req.batch;
        for seq in rows.chunks(r) {
            if seq.windows(2).any(|w| w[0] >= w[1]) || seq.iter().any(|&p| p as usize > n) {
                return bad("active rows must be ascending positions in 0..=N".into());
            }
        }
    }
    Ok(())
}

impl Engine for ReferenceEngine {
    fn config(&self) -> &ModelConfig {
        &self.config
    }

    fn describe(&self) -> String {
        format!("reference burn model on {}", self.device_name)
    }

    async fn begin(&mut self, batch: usize) -> Result<()> {
        self.cache = None;
        self.batch = batch;
        Ok(())
    }

    async fn forward(&mut self, req: &ForwardRequest<'_>) -> Result<Vec<f32>> {
        check_request(&self.config, self.batch, req)?;
        if req.rows.is_some() && self.cache.is_none() {
            return Err(Error::Engine("a cached step needs a refresh step first".into()));
        }
        let cache = self.cache.get_or_insert_with(|| KvCache { width: req.width, layers: Vec::new() });
        let logits = self.model.forward_rows(
            &self.config,
            req.width,
            req.batch,
            req.tokens,
            req.classes,
            req.rows,
            req.logit_rows,
            Some(cache),
            &self.counter,
        )?;
        let data = logits.into_data_async().await.map_err(|e| Error::Engine(format!("read logits: {e:?}")))?;
        data.try_to_vec::<f32>().map_err(|e| Error::Engine(format!("logits dtype: {e:?}")))
    }

    fn flops_performed(&self) -> u64 {
        self.counter.get()
    }
}
