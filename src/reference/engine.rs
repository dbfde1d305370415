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
        crate::engine::check_request(&self.config, self.batch, req)?;
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
