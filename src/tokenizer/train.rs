//! Training the VQ autoencoder (burn autodiff on CPU).
//!
//! Loss = MSE(reconstruction, image) + β·MSE(z, sg[z_q]) with the straight-through estimator.
//! The codebook is not trained by gradients: it follows an exponential moving average of the
//! encoder outputs assigned to each code (VQ-VAE-2 style), is initialised from encoder outputs,
//! is kept unit-length (the encoder output is L2-normalised, so lookup is by cosine similarity),
//! and a code unused for `restart_after` steps is restarted at a random encoder output of the
//! current batch (keeps every code alive). Quantisation runs on the host: 2048×512×32 MACs per
//! batch is small next to the convolutions.
//!
//! Checkpoints (`<dir>/tokenizer.ckpt.safetensors` + `<dir>/state.json`, written every
//! `checkpoint_every` steps and at the end) hold the weights (f32) and the EMA/step state, so a
//! re-run resumes. Adam moments are not saved: a resumed run re-warms them (`warmup` steps).

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::model::{VqAutoencoder, chw_to_rows, codes_to_chw, nearest_codes};
use super::weights::{TokenizerConfig, TokenizerWeights};
use crate::error::{Error, Result};
use crate::weights::{HostTensor, StoredDtype};

#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub beta: f32,
    pub ema_decay: f32,
    pub restart_after: usize,
    /// Linear learning-rate warm-up steps (also after a resume).
    pub warmup: usize,
    pub seed: u64,
    pub checkpoint_dir: PathBuf,
    pub checkpoint_every: usize,
    /// Stop (and save) after this many minutes even if `steps` is not reached.
    pub max_minutes: Option<f64>,
    /// Start from these weights (encoder included, same config) instead of a random init, when
    /// the checkpoint folder is empty: a longer run of an earlier tokenizer on new data.
    pub init: Option<PathBuf>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 1000,
            batch: 32,
            lr: 1e-3,
            beta: 0.25,
            ema_decay: 0.99,
            restart_after: 10,
            warmup: 50,
            seed: 0,
            checkpoint_dir: PathBuf::from("data/tokenizer-ckpt"),
            checkpoint_every: 100,
            max_minutes: None,
            init: None,
        }
    }
}

/// Host EMA state of the codebook (saved in checkpoints).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodebookState {
    pub step: usize,
    pub initialised: bool,
    pub ema_count: Vec<f32>,
    pub ema_sum: Vec<f32>,
    pub last_used: Vec<usize>,
    pub restarts: usize,
    pub rng: u64,
}

/// splitmix64: small, seedable, good enough for shuffling and restarts.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What one step reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct StepStats {
    pub loss: f32,
    pub recon_mse: f32,
    pub psnr: f32,
    pub perplexity: f32,
    pub used_in_batch: usize,
}

pub fn psnr(mse: f32) -> f32 {
    10.0 * (1.0 / mse.max(1e-10)).log10()
}

/// Codebook perplexity exp(H) of a code histogram.
pub fn perplexity(hist: &[usize]) -> f32 {
    let n: usize = hist.iter().sum();
    let h: f64 = hist
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n as f64;
            -p * p.ln()
        })
        .sum();
    h.exp() as f32
}

pub struct Trainer {
    pub config: TokenizerConfig,
    pub train: TrainConfig,
    pub model: VqAutoencoder,
    pub codebook: HostTensor,
    pub state: CodebookState,
    optim: burn::optim::ModuleOptimizer,
    device: Device,
    warm_from: usize,
}

impl Trainer {
    /// A fresh trainer, or a resumed one if the checkpoint directory holds a checkpoint.
    pub fn new(config: TokenizerConfig, train: TrainConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let (k, e) = (config.codebook, config.code_dim);
        let ckpt = train.checkpoint_dir.join("tokenizer.ckpt.safetensors");
        let state_path = train.checkpoint_dir.join("state.json");
        let (model, codebook, state, warm_from) = if ckpt.exists() && state_path.exists() {
            let w = TokenizerWeights::load(&ckpt)?;
            if w.config != config || !w.has_encoder() {
                return Err(Error::Other(format!(
                    "checkpoint {} has another config; remove {} to start over",
                    ckpt.display(),
                    train.checkpoint_dir.display()
                )));
            }
            let text = std::fs::read_to_string(&state_path)?;
            let state: CodebookState = serde_json::from_str(&text)
                .map_err(|e| Error::Other(format!("{}: {e}", state_path.display())))?;
            eprintln!("resuming from {} at step {}", ckpt.display(), state.step);
            let step = state.step;
            (VqAutoencoder::from_weights(&w, device), w.get("quantizer.codebook").clone(), state, step)
        } else if let Some(init) = &train.init {
            let w = TokenizerWeights::load(init)?;
            if w.config != config || !w.has_encoder() {
                return Err(Error::Other(format!(
                    "--init {}: needs an encoder and the config {config:?} (it has {:?}{})",
                    init.display(),
                    w.config,
                    if w.has_encoder() { "" } else { ", no encoder" }
                )));
            }
            eprintln!("starting from {}", init.display());
            let codebook = w.get("quantizer.codebook").clone();
            // The EMA starts at the given code vectors, each as if used evenly by one batch.
            let count = (train.batch * config.tokens()) as f32 / k as f32;
            let state = CodebookState {
                step: 0,
                initialised: true,
                ema_count: vec![count; k],
                ema_sum: codebook.data.iter().map(|v| v * count).collect(),
                last_used: vec![0; k],
                restarts: 0,
                rng: train.seed ^ 0x5EED,
            };
            (VqAutoencoder::from_weights(&w, device), codebook, state, 0)
        } else {
            device.seed(train.seed);
            let state = CodebookState {
                step: 0,
                initialised: false,
                ema_count: vec![0.0; k],
                ema_sum: vec![0.0; k * e],
                last_used: vec![0; k],
                restarts: 0,
                rng: train.seed ^ 0x5EED,
            };
            (VqAutoencoder::new(&config, device), HostTensor::zeros(vec![k, e]), state, 0)
        };
        let optim = AdamWConfig::new().with_weight_decay(0.0).init();
        Ok(Trainer { config, train, model, codebook, state, optim, device: device.clone(), warm_from })
    }

    fn lr(&self) -> f64 {
        let t = self.state.step as f64;
        let total = self.train.steps.max(1) as f64;
        // Warm-up (also after a resume, since Adam moments restart), then cosine to 10%.
        let warm = ((t - self.warm_from as f64 + 1.0) / self.train.warmup.max(1) as f64).min(1.0);
        let cos = 0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * (t / total).min(1.0)).cos());
        self.train.lr * warm * cos
    }

    /// One optimisation step on a batch of CHW f32 images.
    pub fn step(&mut self, images_chw: &[f32]) -> Result<StepStats> {
        let c = &self.config;
        let (s, e, k, n, g) = (c.image_size, c.code_dim, c.codebook, c.tokens(), c.grid[0]);
        let b = images_chw.len() / (3 * s * s);
        let x = Tensor::<4>::from_data(TensorData::new(images_chw.to_vec(), [b, 3, s, s]), &self.device);
        let z = self.model.encoder.forward(x.clone());
        let z_host = z.clone().into_data().try_to_vec::<f32>().map_err(|e| Error::Engine(format!("{e:?}")))?;
        let rows = chw_to_rows(&z_host, b, e, n);
        if !self.state.initialised {
            // Codebook starts at K distinct random encoder outputs.
            let m = b * n;
            for j in 0..k {
                let r = (splitmix(&mut self.state.rng) % m as u64) as usize;
                self.codebook.data[j * e..(j + 1) * e].copy_from_slice(&rows[r * e..(r + 1) * e]);
                self.state.ema_sum[j * e..(j + 1) * e].copy_from_slice(&rows[r * e..(r + 1) * e]);
                self.state.ema_count[j] = 1.0;
            }
            self.state.initialised = true;
        }
        let codes = nearest_codes(&rows, e, &self.codebook.data);
        let zq = codes_to_chw(&codes, &self.codebook.data, e, n);
        let zq = Tensor::<4>::from_data(TensorData::new(zq, [b, e, g, g]), &self.device);
        // Straight-through: forward uses z_q, gradients flow to z unchanged.
        let z_st = z.clone() + (zq.clone() - z.clone().detach());
        let recon = self.model.decoder.forward(z_st);
        let recon_mse = (recon - x).square().mean();
        let commit = (z - zq).square().mean();
        let loss = recon_mse.clone() + commit * self.train.beta;
        let loss_v: f32 = loss.clone().into_scalar();
        let mse_v: f32 = recon_mse.into_scalar();
        if !loss_v.is_finite() {
            return Err(Error::Other(format!("loss became {loss_v} at step {}", self.state.step)));
        }
        let grads = GradientsParams::from_grads(loss.backward(), &self.model);
        let lr = self.lr();
        // Tensors are reference-counted: the clone is cheap.
        self.model = self.optim.step(lr, self.model.clone(), grads);

        // EMA codebook update + dead-code restarts.
        let mut hist = vec![0usize; k];
        let mut sums = vec![0.0f32; k * e];
        for (r, &code) in codes.iter().enumerate() {
            hist[code as usize] += 1;
            for j in 0..e {
                sums[code as usize * e + j] += rows[r * e + j];
            }
        }
        let d = self.train.ema_decay;
        let st = &mut self.state;
        st.step += 1;
        for j in 0..k {
            st.ema_count[j] = d * st.ema_count[j] + (1.0 - d) * hist[j] as f32;
            for t in 0..e {
                st.ema_sum[j * e + t] = d * st.ema_sum[j * e + t] + (1.0 - d) * sums[j * e + t];
            }
            if hist[j] > 0 {
                st.last_used[j] = st.step;
            }
        }
        let total: f32 = st.ema_count.iter().sum();
        for j in 0..k {
            // Laplace smoothing keeps rarely used codes from dividing by ~0.
            let cnt = (st.ema_count[j] + 1e-5) / (total + k as f32 * 1e-5) * total;
            if st.step - st.last_used[j] >= self.train.restart_after {
                let r = (splitmix(&mut st.rng) % codes.len() as u64) as usize;
                let avg = total / k as f32;
                for t in 0..e {
                    let v = rows[r * e + t];
                    self.codebook.data[j * e + t] = v;
                    st.ema_sum[j * e + t] = v * avg;
                }
                st.ema_count[j] = avg;
                st.last_used[j] = st.step;
                st.restarts += 1;
            } else {
                // EMA mean of the assigned (unit) vectors, projected back onto the sphere.
                let row = &mut self.codebook.data[j * e..(j + 1) * e];
                for t in 0..e {
                    row[t] = st.ema_sum[j * e + t] / cnt;
                }
                let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-8);
                row.iter_mut().for_each(|v| *v /= norm);
            }
        }
        Ok(StepStats {
            loss: loss_v,
            recon_mse: mse_v,
            psnr: psnr(mse_v),
            perplexity: perplexity(&hist),
            used_in_batch: hist.iter().filter(|&&c| c > 0).count(),
        })
    }

    /// Weights of the current model (encoder included).
    pub fn weights(&self) -> Result<TokenizerWeights> {
        self.model.valid().to_weights(&self.config, &self.codebook)
    }

    pub fn save_checkpoint(&self) -> Result<()> {
        let dir = &self.train.checkpoint_dir;
        std::fs::create_dir_all(dir)?;
        let tmp = dir.join("tokenizer.ckpt.tmp");
        self.weights()?.save(&tmp, StoredDtype::F32)?;
        std::fs::write(dir.join("state.json.tmp"), serde_json::to_string(&self.state).expect("serialisable"))?;
        std::fs::rename(&tmp, dir.join("tokenizer.ckpt.safetensors"))?;
        std::fs::rename(dir.join("state.json.tmp"), dir.join("state.json"))?;
        Ok(())
    }

    /// Trains on `train_chw` (`[N, 3, 32, 32]` flattened) until `steps` (or the time limit).
    /// `on_step` gets every step's stats (for the progress bar / log).
    pub fn run(&mut self, train_chw: &[f32], mut on_step: impl FnMut(usize, &StepStats)) -> Result<()> {
        let img = 3 * self.config.image_size * self.config.image_size;
        let n = train_chw.len() / img;
        if n == 0 {
            return Err(Error::Data("no training images".into()));
        }
        let start = std::time::Instant::now();
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = self.train.seed ^ (self.state.step as u64).wrapping_mul(0x2545_F491_4F6C_DD1D);
        let mut pos = n; // forces a shuffle first
        let mut batch = Vec::with_capacity(self.train.batch * img);
        while self.state.step < self.train.steps {
            batch.clear();
            for _ in 0..self.train.batch.min(n) {
                if pos == n {
                    // Fisher–Yates shuffle per epoch.
                    for i in (1..n).rev() {
                        order.swap(i, (splitmix(&mut rng) % (i as u64 + 1)) as usize);
                    }
                    pos = 0;
                }
                let i = order[pos];
                pos += 1;
                batch.extend_from_slice(&train_chw[i * img..(i + 1) * img]);
            }
            let stats = self.step(&batch)?;
            on_step(self.state.step, &stats);
            if self.state.step % self.train.checkpoint_every == 0 {
                self.save_checkpoint()?;
            }
            if self.train.max_minutes.is_some_and(|m| start.elapsed().as_secs_f64() > m * 60.0) {
                eprintln!("time limit reached at step {}", self.state.step);
                break;
            }
        }
        self.save_checkpoint()
    }
}

/// Held-out evaluation: mean PSNR (per image, then averaged), codes used, perplexity.
#[derive(Debug, Clone, Serialize)]
pub struct EvalStats {
    pub images: usize,
    pub mse: f32,
    pub psnr: f32,
    pub codes_used: usize,
    pub codebook: usize,
    pub perplexity: f32,
}

/// Encodes + decodes `images_chw` in batches; returns stats and the codes / reconstructions.
pub fn evaluate(tok: &super::model::Tokenizer, images_chw: &[f32]) -> Result<(EvalStats, Vec<u32>, Vec<f32>)> {
    let img = 3 * tok.config.image_size * tok.config.image_size;
    let n = images_chw.len() / img;
    let mut codes = Vec::new();
    let mut recon = Vec::with_capacity(images_chw.len());
    for chunk in images_chw.chunks(64 * img) {
        let c = tok.encode(chunk)?;
        recon.extend(tok.decode(&c)?);
        codes.extend(c);
    }
    let mut hist = vec![0usize; tok.config.codebook];
    for &c in &codes {
        hist[c as usize] += 1;
    }
    let mut psnr_sum = 0.0;
    let mut mse_sum = 0.0;
    for i in 0..n {
        let m: f32 = images_chw[i * img..(i + 1) * img]
            .iter()
            .zip(&recon[i * img..(i + 1) * img])
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f32>()
            / img as f32;
        mse_sum += m;
        psnr_sum += psnr(m);
    }
    let stats = EvalStats {
        images: n,
        mse: mse_sum / n.max(1) as f32,
        psnr: psnr_sum / n.max(1) as f32,
        codes_used: hist.iter().filter(|&&c| c > 0).count(),
        codebook: tok.config.codebook,
        perplexity: perplexity(&hist),
    };
    Ok((stats, codes, recon))
}

pub fn default_checkpoint_dir() -> &'static Path {
    Path::new("data/tokenizer-ckpt")
}
