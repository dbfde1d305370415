//! The small CNN whose penultimate features define FID-emoji: 32×32 RGB → 9 categories.
//!
//! conv3×3 3→32w, conv4×4/2 32w→64w, conv3×3 64w→64w, conv4×4/2 64w→128w, conv3×3 128w→128
//! (SiLU after each; `w` = the width multiplier, 1 for the shipped classifiers), global average
//! pool → **128 features** → linear 128→9. Weights: safetensors with
//! `conv{0..5}.{weight,bias}`, `fc.{weight [128, 9] (in, out), bias}` and metadata
//! `magnets.classifier` = `{"features":128,"classes":9,"width":w}`; the loader reads `w` from
//! `conv0.weight`'s shape, so every width loads through one path.

use std::collections::{BTreeMap, HashMap};

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::silu;
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use super::augment::Augment;
use crate::error::{Error, Result};

pub const FEATURES: usize = 128;
pub const CLASSES: usize = 9;
const KEY: &str = "magnets.classifier";
/// (in, out, kernel, stride) of the five convolutions at width 1; every inner channel count
/// scales with the width multiplier, the image's 3 and the 128 features do not.
const CONVS: [(usize, usize, usize, usize); 5] = [(3, 32, 3, 1), (32, 64, 4, 2), (64, 64, 3, 1), (64, 128, 4, 2), (128, 128, 3, 1)];
/// The widest multiplier a weight file may ask for (a bound on what a corrupt file allocates).
pub const MAX_WIDTH: usize = 8;

/// Channel counts of convolution `i` at width multiplier `width`.
fn conv_channels(i: usize, width: usize) -> (usize, usize) {
    let (c_in, c_out, _, _) = CONVS[i];
    let inner = |c: usize, at_end: bool| if at_end { c } else { c * width };
    (inner(c_in, i == 0), inner(c_out, i == CONVS.len() - 1))
}

#[derive(Module, Debug)]
pub struct Classifier {
    pub convs: Vec<Conv2d>,
    pub fc_w: Param<Tensor<2>>,
    pub fc_b: Param<Tensor<1>>,
}

impl Classifier {
    /// A randomly initialised classifier at width multiplier 1 (the shipped classifiers' size).
    pub fn new(device: &Device) -> Self {
        Self::with_width(1, device).expect("width 1 is valid")
    }

    /// A randomly initialised classifier at width multiplier `width`; refused outside 1..=[`MAX_WIDTH`].
    pub fn with_width(width: usize, device: &Device) -> Result<Self> {
        if !(1..=MAX_WIDTH).contains(&width) {
            return Err(Error::Other(format!("classifier width {width}: use 1 to {MAX_WIDTH}")));
        }
        let convs = CONVS
            .iter()
            .enumerate()
            .map(|(n, &(_, _, k, s))| {
                let (i, o) = conv_channels(n, width);
                Conv2dConfig::new([i, o], [k, k])
                    .with_stride([s, s])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        let fc_w = Tensor::<2>::random([FEATURES, CLASSES], burn::tensor::Distribution::Normal(0.0, 0.05), device);
        Ok(Classifier { convs, fc_w: Param::from_tensor(fc_w), fc_b: Param::from_tensor(Tensor::zeros([CLASSES], device)) })
    }

    /// The width multiplier (first convolution's output channels / 32).
    pub fn width(&self) -> usize {
        self.convs[0].weight.val().dims()[0] / CONVS[0].1
    }

    /// `[B, 3, 32, 32]` in [0, 1] → penultimate features `[B, 128]`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        // Centre the input so the first layer sees roughly zero-mean values.
        let mut h = (x - 0.5) * 2.0;
        for c in &self.convs {
            h = silu(c.forward(h));
        }
        let [b, c, hh, ww] = h.dims();
        h.reshape([b, c, hh * ww]).mean_dim(2).reshape([b, c])
    }

    /// Features → logits `[B, 9]`.
    pub fn head(&self, f: Tensor<2>) -> Tensor<2> {
        f.matmul(self.fc_w.val()) + self.fc_b.val().unsqueeze_dim(0)
    }

    fn named(&self) -> Vec<(String, Vec<usize>, Vec<f32>)> {
        let mut out = Vec::new();
        let mut push = |name: String, data: TensorData| {
            let shape = data.shape().to_vec();
            out.push((name, shape, data.try_to_vec::<f32>().unwrap_or_default()));
        };
        for (i, c) in self.convs.iter().enumerate() {
            push(format!("conv{i}.weight"), c.weight.val().into_data());
            if let Some(b) = &c.bias {
                push(format!("conv{i}.bias"), b.val().into_data());
            }
        }
        push("fc.weight".into(), self.fc_w.val().into_data());
        push("fc.bias".into(), self.fc_b.val().into_data());
        out
    }

    /// Serialises to safetensors (f32; the file is ~1 MB).
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let named: BTreeMap<String, (Vec<usize>, Vec<u8>)> = self
            .named()
            .into_iter()
            .map(|(n, s, d)| (n, (s, bytemuck::cast_slice::<f32, u8>(&d).to_vec())))
            .collect();
        let views = named
            .iter()
            .map(|(n, (s, b))| {
                TensorView::new(Dtype::F32, s.clone(), b).map(|v| (n.clone(), v)).map_err(|e| Error::Weights(e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut md = HashMap::new();
        md.insert(KEY.to_string(), format!("{{\"features\":{FEATURES},\"classes\":{CLASSES},\"width\":{}}}", self.width()));
        safetensors::serialize(views, Some(md)).map_err(|e| Error::Weights(format!("serialise classifier: {e}")))
    }

    /// Loads and validates (every tensor present with the right shape, finite).
    pub fn from_safetensors(bytes: &[u8], device: &Device) -> Result<Self> {
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| Error::Weights(format!("classifier: corrupt or truncated safetensors file: {e}")))?;
        // The width multiplier is read from the first convolution's shape; every other shape is
        // then checked against it.
        let width = match st.tensor("conv0.weight").map(|v| v.shape().first().copied().unwrap_or(0)) {
            Ok(c) if c > 0 && c % CONVS[0].1 == 0 && c / CONVS[0].1 <= MAX_WIDTH => c / CONVS[0].1,
            Ok(c) => {
                return Err(Error::Weights(format!(
                    "classifier: `conv0.weight` has {c} output channels, expected a multiple of {} up to {}",
                    CONVS[0].1,
                    CONVS[0].1 * MAX_WIDTH
                )));
            }
            Err(_) => return Err(Error::Weights("classifier: missing tensor `conv0.weight`".into())),
        };
        // The fresh model supplies the convolutions' stride and padding as well as the shapes.
        let fresh = Classifier::with_width(width, device)?;
        let expected = fresh.named();
        if st.len() != expected.len() {
            return Err(Error::Weights(format!("classifier: {} tensors, expected {}", st.len(), expected.len())));
        }
        let mut loaded: HashMap<String, TensorData> = HashMap::new();
        for (name, shape, _) in expected {
            let v = st.tensor(&name).map_err(|_| Error::Weights(format!("classifier: missing tensor `{name}`")))?;
            if v.shape() != shape.as_slice() || v.dtype() != Dtype::F32 {
                return Err(Error::Weights(format!(
                    "classifier: tensor `{name}` is {:?} {:?}, expected F32 {shape:?}",
                    v.dtype(),
                    v.shape()
                )));
            }
            let data: Vec<f32> = v.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
            if data.iter().any(|x| !x.is_finite()) {
                return Err(Error::Weights(format!("classifier: tensor `{name}` holds NaN or infinite values")));
            }
            loaded.insert(name, TensorData::new(data, shape));
        }
        let mut take = |n: &str| loaded.remove(n).expect("checked above");
        let convs = fresh
            .convs
            .into_iter()
            .enumerate()
            .map(|(i, c)| Conv2d {
                weight: Param::from_tensor(Tensor::from_data(take(&format!("conv{i}.weight")), device)),
                bias: Some(Param::from_tensor(Tensor::from_data(take(&format!("conv{i}.bias")), device))),
                ..c
            })
            .collect();
        Ok(Classifier {
            convs,
            fc_w: Param::from_tensor(Tensor::from_data(take("fc.weight"), device)),
            fc_b: Param::from_tensor(Tensor::from_data(take("fc.bias"), device)),
        })
    }

    pub fn load(path: &std::path::Path, device: &Device) -> Result<Self> {
        let bytes = crate::files::read_capped(path, 1 << 30)
            .map_err(|e| Error::Weights(format!("{} (run `magnets train-classifier`)", e.detail())))?;
        Self::from_safetensors(&bytes, device).map_err(|e| match e {
            Error::Weights(m) => Error::Weights(format!("{}: {m}", path.display())),
            o => o,
        })
    }

    /// Features and predicted classes of HWC u8 images (batched, inference).
    pub fn features_and_predictions(&self, images_hwc: &[u8], device: &Device) -> Result<(Vec<f32>, Vec<u32>)> {
        let img = crate::data::IMAGE_BYTES;
        let mut feats = Vec::with_capacity(images_hwc.len() / img * FEATURES);
        let mut preds = Vec::new();
        for chunk in images_hwc.chunks(128 * img) {
            let b = chunk.len() / img;
            let x = Tensor::<4>::from_data(TensorData::new(crate::data::to_chw_f32(chunk), [b, 3, 32, 32]), device);
            let f = self.features(x);
            let logits = self.head(f.clone());
            feats.extend(f.into_data().try_to_vec::<f32>().map_err(|e| Error::Engine(format!("{e:?}")))?);
            let l = logits.into_data().try_to_vec::<f32>().map_err(|e| Error::Engine(format!("{e:?}")))?;
            preds.extend(l.chunks_exact(CLASSES).map(|r| {
                r.iter().enumerate().fold((0, f32::NEG_INFINITY), |m, (i, &v)| if v > m.1 { (i, v) } else { m }).0 as u32
            }));
        }
        Ok((feats, preds))
    }
}

/// Training settings for [`train`].
#[derive(Debug, Clone)]
pub struct ClassifierTrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    /// Which augmentations each training image gets ([`Augment`]).
    pub augment: Augment,
    /// Stop after the epoch that crosses this many minutes.
    pub max_minutes: Option<f64>,
    /// Start from these weights instead of a random init.
    pub init: Option<std::path::PathBuf>,
    /// Width multiplier of a fresh classifier (ignored with `init`).
    pub width: usize,
    /// burn device to train on (autodiff is added here).
    pub device: Device,
}

impl Default for ClassifierTrainConfig {
    fn default() -> Self {
        ClassifierTrainConfig { epochs: 12, batch: 64, lr: 2e-3, seed: 0, augment: Augment::Geometric, max_minutes: None, init: None, width: 1, device: Device::flex() }
    }
}

/// Trains a fresh classifier on HWC u8 images + labels; `on_epoch(epoch, mean loss, train acc)`.
pub fn train(
    images: &[u8],
    labels: &[u8],
    cfg: &ClassifierTrainConfig,
    mut on_epoch: impl FnMut(usize, f32, f32, &Classifier),
) -> Result<Classifier> {
    use burn::optim::{AdamWConfig, GradientsParams};
    use burn::tensor::Int;
    let img = crate::data::IMAGE_BYTES;
    let n = labels.len();
    if n == 0 || images.len() != n * img {
        return Err(Error::Data("classifier training needs images and one label per image".into()));
    }
    let device = cfg.device.clone().autodiff();
    device.seed(cfg.seed);
    let mut model = match &cfg.init {
        Some(p) => Classifier::load(p, &device)?,
        None => Classifier::with_width(cfg.width, &device)?,
    };
    let mut optim = AdamWConfig::new().with_weight_decay(1e-4).init();
    let mut rng = cfg.seed ^ 0xC1A5;
    let mut order: Vec<usize> = (0..n).collect();
    let steps_per_epoch = n.div_ceil(cfg.batch);
    let total = (cfg.epochs * steps_per_epoch) as f64;
    let mut step = 0usize;
    let start = std::time::Instant::now();
    for epoch in 0..cfg.epochs {
        if cfg.max_minutes.is_some_and(|m| start.elapsed().as_secs_f64() > m * 60.0) {
            eprintln!("time limit reached after {epoch} epochs");
            break;
        }
        for i in (1..n).rev() {
            order.swap(i, (crate::tokenizer::train::splitmix(&mut rng) % (i as u64 + 1)) as usize);
        }
        let (mut loss_sum, mut correct) = (0.0f32, 0usize);
        for chunk in order.chunks(cfg.batch) {
            let mut batch = Vec::with_capacity(chunk.len() * img);
            for &i in chunk {
                let im = &images[i * img..(i + 1) * img];
                batch.extend(cfg.augment.apply(im, &mut rng));
            }
            let b = chunk.len();
            let x = Tensor::<4>::from_data(TensorData::new(crate::data::to_chw_f32(&batch), [b, 3, 32, 32]), &device);
            let y: Vec<i64> = chunk.iter().map(|&i| labels[i] as i64).collect();
            let y = Tensor::<1, Int>::from_data(TensorData::new(y, [b]), &device);
            let logits = model.head(model.features(x));
            let logp = burn::tensor::activation::log_softmax(logits.clone(), 1);
            let loss = -(logp.gather(1, y.clone().unsqueeze_dim(1))).mean();
            let pred = logits.argmax(1).reshape([b]);
            correct += pred.equal(y).int().sum().into_scalar::<i64>() as usize;
            loss_sum += loss.clone().into_scalar::<f32>() * b as f32;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            // Linear warm-up over 50 steps, cosine decay to 5%.
            let t = step as f64 / total;
            let lr = cfg.lr * ((step + 1) as f64 / 50.0).min(1.0) * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()));
            model = optim.step(lr, model, grads);
            step += 1;
        }
        on_epoch(epoch + 1, loss_sum / n as f32, correct as f32 / n as f32, &model);
    }
    Ok(model.valid())
}
