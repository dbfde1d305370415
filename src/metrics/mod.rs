//! FID-emoji: image quality against the held-out emoji (DESIGN §5). No Inception weights are
//! reachable here, so a small CNN trained on the 9 emoji categories ([`classifier`]) provides
//! the features.
//!
//! # API (what training / evaluation code calls)
//!
//! ```ignore
//! use magnets::metrics::QualityEvaluator;
//! // Reference = held-out split of the dataset file; classifier = shipped weights.
//! let ev = QualityEvaluator::load("models/classifier.safetensors".as_ref(), "data/emoji32.safetensors".as_ref())?;
//! // images: each 32×32×3 u8, HWC (row-major RGB, no alpha); labels: the class each image was
//! // generated for (category ids 0..9 of `magnets::data::CATEGORIES`), if any.
//! let m: Metrics = ev.evaluate(&images, Some(&labels))?;
//! println!("{}", serde_json::to_string(&m)?); // {"fid":…,"precision":…,"recall":…,"class_accuracy":…,"count":…}
//! ```
//!
//! - `fid`: Fréchet distance between Gaussians fitted to the 128-d penultimate classifier
//!   features of the images and of the held-out set ([`stats::frechet_distance`]). Lower is
//!   better; it is biased upwards for small sets, so compare numbers at the same image count.
//! - `precision` / `recall`: k-NN manifold precision/recall (k = 3) in the same feature space:
//!   precision = share of images inside the real manifold, recall = share of real images inside
//!   the images' manifold.
//! - `class_accuracy`: share of images the classifier assigns to their label (when given).
//! - `fid_ci95`: a 95% interval for `fid` from [`BOOTSTRAP_REPLICATES`] bootstrap replicates
//!   (both the images and the reference resampled with replacement, fixed seed):
//!   `fid ± 1.96 · sd(replicates)`. Resampling duplicates rows, which shifts every replicate's
//!   FID up by about the same amount; the spread, not the replicates' mean, is what it measures.
//!   Two FIDs whose intervals overlap are not a measured difference.
//!
//! [`QualityEvaluator::with_reference`] takes any reference image set (e.g. the train split,
//! for the real/real floor); [`QualityEvaluator::for_clips`] the held-out clips' future frames
//! (frame prediction's frame-FID). Predicted frames are resampled one by one like images, though
//! a clip's frames look alike: resampling whole clips instead inflates FID through the duplicated
//! clips and overstates its spread several times against independent repeats of the prediction
//! (docs/RESULTS.md "Frame-FID intervals", `examples/frame_fid_resampling.rs`).

pub mod augment;
pub mod classifier;
pub mod paired;
pub mod stats;

use std::path::Path;

use burn::tensor::Device;
use serde::Serialize;

use crate::data::anim::{AnimDataset, FRAMES};
use crate::data::{EmojiDataset, IMAGE_BYTES, Split};
use crate::error::{Error, Result};
use classifier::{Classifier, FEATURES};

/// Bootstrap replicates behind `fid_ci95` (0 turns the interval off).
pub const BOOTSTRAP_REPLICATES: usize = 100;
/// k of the k-NN manifolds.
pub const K_NEAREST: usize = 3;
pub const DEFAULT_CLASSIFIER: &str = "models/classifier.safetensors";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    pub fid: f64,
    /// 95% bootstrap interval of `fid` (see the module docs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fid_ci95: Option<[f64; 2]>,
    pub precision: f64,
    pub recall: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_accuracy: Option<f64>,
    /// `class_accuracy` per label 0, 1, …, max label (None for a label no image has): which
    /// categories' images the classifier names, against real images' own per-category score.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_accuracy_by_class: Option<Vec<Option<f64>>>,
    /// Number of images scored.
    pub count: usize,
}

pub struct QualityEvaluator {
    classifier: Classifier,
    device: Device,
    ref_features: Vec<f32>,
    ref_mu: Vec<f64>,
    ref_cov: Vec<f64>,
    ref_radii: Vec<f32>,
    bootstrap: usize,
}

/// A bootstrap draw: `count` indices in `0..count`, with replacement.
fn draw_indices(count: usize, rng: &mut u64) -> Vec<usize> {
    (0..count).map(|_| (crate::tokenizer::train::splitmix(rng) % count as u64) as usize).collect()
}

/// The rows `idx` of a `[n × FEATURES]` feature matrix.
fn feature_rows(x: &[f32], idx: &[usize]) -> Vec<f32> {
    idx.iter().flat_map(|&i| x[i * FEATURES..(i + 1) * FEATURES].iter().copied()).collect()
}

/// `point ± 1.96·sd(replicates)`: resampling duplicates rows, which shifts every replicate the
/// same way, so the replicates' spread is used, not their mean.
fn spread_interval(point: f64, replicates: &[f64]) -> [f64; 2] {
    let mean = replicates.iter().sum::<f64>() / replicates.len() as f64;
    let sd = (replicates.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (replicates.len() - 1) as f64).sqrt();
    [point - 1.96 * sd, point + 1.96 * sd]
}

/// Share of each label's images predicted as that label, for labels 0..=max (None: no images).
fn accuracy_by_class(labels: &[u32], preds: &[u32]) -> Vec<Option<f64>> {
    let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let (mut right, mut total) = (vec![0usize; classes], vec![0usize; classes]);
    for (&l, &p) in labels.iter().zip(preds) {
        total[l as usize] += 1;
        right[l as usize] += usize::from(l == p);
    }
    right.iter().zip(&total).map(|(&r, &t)| (t > 0).then(|| r as f64 / t as f64)).collect()
}

impl QualityEvaluator {
    /// Classifier file + dataset file; the reference set is the dataset's held-out split.
    pub fn load(classifier: &Path, dataset: &Path) -> Result<Self> {
        let device = Device::flex();
        let c = Classifier::load(classifier, &device)?;
        let ds = EmojiDataset::load(dataset)?;
        let held = ds.subset(&ds.indices(Split::HeldOut));
        Self::with_reference(c, &held.images)
    }

    /// Any classifier and reference images (HWC u8, 3072 bytes each, at least 2).
    pub fn with_reference(classifier: Classifier, reference: &[u8]) -> Result<Self> {
        let device = Device::flex();
        if reference.len() % IMAGE_BYTES != 0 || reference.len() / IMAGE_BYTES < 2 {
            return Err(Error::Data("reference set must hold at least two 32×32 RGB images".into()));
        }
        let (ref_features, _) = classifier.features_and_predictions(reference, &device)?;
        let (ref_mu, ref_cov) = stats::mean_cov(&ref_features, FEATURES);
        let ref_radii = stats::knn_radii(&ref_features, FEATURES, K_NEAREST);
        Ok(QualityEvaluator { classifier, device, ref_features, ref_mu, ref_cov, ref_radii, bootstrap: BOOTSTRAP_REPLICATES })
    }

    /// The reference of frame prediction: the held-out clips' frames after the `given` ones.
    pub fn for_clips(classifier: Classifier, clips: &AnimDataset, given: usize) -> Result<Self> {
        if !(1..FRAMES).contains(&given) {
            return Err(Error::Config(format!("{given} given frames of {FRAMES}: at least one given and one to predict")));
        }
        let future: Vec<u8> =
            (0..clips.len()).filter(|&i| clips.split[i] == 1).flat_map(|i| clips.clip(i)[given * IMAGE_BYTES..].iter().copied()).collect();
        Self::with_reference(classifier, &future)
    }

    /// Sets the number of bootstrap replicates behind `fid_ci95` (0: no interval).
    pub fn with_bootstrap(mut self, replicates: usize) -> Self {
        self.bootstrap = replicates;
        self
    }

    /// `fid ± 1.96·sd` over bootstrap replicates of both feature sets (fixed seed, so a rerun
    /// prints the same interval).
    fn fid_interval(&self, fid: f64, f: &[f32]) -> Option<[f64; 2]> {
        use rayon::prelude::*;
        if self.bootstrap < 2 {
            return None;
        }
        let resample = |x: &[f32], rng: &mut u64| feature_rows(x, &draw_indices(x.len() / FEATURES, rng));
        let reps: Vec<f64> = (0..self.bootstrap as u64)
            .into_par_iter()
            .map(|r| {
                let mut rng = 0xB007_5742u64 ^ r.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                let (mu, cov) = stats::mean_cov(&resample(f, &mut rng), FEATURES);
                let (rmu, rcov) = stats::mean_cov(&resample(&self.ref_features, &mut rng), FEATURES);
                stats::frechet_distance(&mu, &cov, &rmu, &rcov)
            })
            .collect();
        let [lo, hi] = spread_interval(fid, &reps);
        Some([lo.max(0.0), hi])
    }

    pub fn reference_count(&self) -> usize {
        self.ref_radii.len()
    }

    /// 128-d penultimate features of HWC u8 images (flat, N × 3072 bytes).
    pub fn features(&self, images: &[u8]) -> Result<Vec<f32>> {
        Ok(self.classifier.features_and_predictions(images, &self.device)?.0)
    }

    /// Scores a list of 32×32×3 u8 HWC images.
    pub fn evaluate(&self, images: &[Vec<u8>], labels: Option<&[u32]>) -> Result<Metrics> {
        if let Some((i, _)) = images.iter().enumerate().find(|(_, im)| im.len() != IMAGE_BYTES) {
            return Err(Error::Data(format!("image {i} has {} bytes, expected {IMAGE_BYTES} (32×32 RGB)", images[i].len())));
        }
        self.evaluate_flat(&images.concat(), labels)
    }

    /// Same as [`evaluate`](Self::evaluate) with the images concatenated.
    pub fn evaluate_flat(&self, images: &[u8], labels: Option<&[u32]>) -> Result<Metrics> {
        Ok(self.evaluate_keeping_features(images, labels)?.0)
    }

    /// [`evaluate_flat`](Self::evaluate_flat), also returning the images' features
    /// `[n × FEATURES]` (for [`paired`] comparisons of two rows).
    pub fn evaluate_keeping_features(&self, images: &[u8], labels: Option<&[u32]>) -> Result<(Metrics, Vec<f32>)> {
        let n = images.len() / IMAGE_BYTES;
        if images.len() % IMAGE_BYTES != 0 || n < 2 {
            return Err(Error::Data("need at least two 32×32 RGB images (3072 bytes each)".into()));
        }
        if let Some(l) = labels {
            if l.len() != n {
                return Err(Error::Data(format!("{} labels for {n} images", l.len())));
            }
        }
        let (f, preds) = self.classifier.features_and_predictions(images, &self.device)?;
        let (mu, cov) = stats::mean_cov(&f, FEATURES);
        let fid = stats::frechet_distance(&mu, &cov, &self.ref_mu, &self.ref_cov);
        let fid_ci95 = self.fid_interval(fid, &f);
        let precision = stats::coverage(&f, &self.ref_features, &self.ref_radii, FEATURES);
        let radii = stats::knn_radii(&f, FEATURES, K_NEAREST);
        let recall = stats::coverage(&self.ref_features, &f, &radii, FEATURES);
        let class_accuracy = labels.map(|l| l.iter().zip(&preds).filter(|(a, b)| a == b).count() as f64 / n as f64);
        let class_accuracy_by_class = labels.map(|l| accuracy_by_class(l, &preds));
        Ok((Metrics { fid, fid_ci95, precision, recall, class_accuracy, class_accuracy_by_class, count: n }, f))
    }

    /// Predicted category ids.
    pub fn classify(&self, images: &[u8]) -> Result<Vec<u32>> {
        Ok(self.classifier.features_and_predictions(images, &self.device)?.1)
    }
}
