//! How far apart two evaluations of the *same draws* are, with an interval on the gap itself.
//!
//! Two rows of an eval table (say the MaGNeTS split and the MaskGIT baseline) decode image i
//! with the same class and the same decode seed, and both are scored against the same real
//! images. Their FID intervals each carry the reference set's sampling noise, which moves both
//! FIDs together; so "the intervals overlap" says little about the gap between them. The paired
//! bootstrap here resamples the image indices once per replicate for both rows (image i of one
//! row stays with image i of the other) and the reference once for both, and reads the spread
//! of `FID(other) / FID(baseline) − 1` over the replicates. The unpaired interval (each row and
//! each row's reference resampled on its own) is reported beside it for comparison.
//!
//! `magnets eval --features-out FILE` (and `eval-clips --features-out`: predicted frames, frame i
//! of both rows predicted from the same given frame with the same seed) keeps a row's classifier
//! features ([`SampleFeatures`]); `magnets fid-gap` compares such files.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, tensor::TensorView};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::classifier::FEATURES;
use super::{QualityEvaluator, draw_indices, feature_rows, spread_interval, stats};
use crate::error::{Error, Result};
use crate::sampling::GuidanceSchedule;

/// Metadata key holding what the features are of (schedule, seeds, files' hashes).
const META_KEY: &str = "magnets.sample_features";
/// Largest features file read (100,000 images × 128 f32 is 51 MB).
const MAX_FEATURES_BYTES: u64 = 64 << 20;

/// What one run's images are: the row that drew them and every file behind it (the `magnets
/// eval` / `eval-clips` output without its scores), kept as a features file's metadata. Typed,
/// so that a file that does not record what rows are paired and pooled on is refused when it is
/// read, rather than compared as two absent keys that look equal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Draws {
    pub schedule: String,
    pub cache: String,
    /// Images; for a clip row, predicted clips (its features are their predicted frames).
    pub samples: u64,
    pub batch: u64,
    /// The first decode seed, and the first and last used: runs on disjoint ranges pool.
    pub seed: u64,
    pub seeds: [u64; 2],
    pub temperature: f64,
    pub noise: f64,
    pub guidance: f64,
    #[serde(default)]
    pub guidance_schedule: GuidanceSchedule,
    pub weights: String,
    pub weights_sha256: String,
    pub classifier_sha256: String,
    /// The reference's file: the image data, or the clips for a clip row.
    pub data_sha256: String,
    #[serde(default)]
    pub reference: Reference,
    /// A clip row's tokens and given frames (required when `reference` is clips).
    #[serde(flatten)]
    pub clip: Option<ClipDraws>,
    /// The rest of the row (its compute, engine, …), kept for the record.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// What a row's features are scored against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reference {
    /// Held-out images (`magnets eval`).
    #[default]
    Images,
    /// The held-out clips' frames after the given ones (`magnets eval-clips`).
    Clips,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipDraws {
    pub tokens_sha256: String,
    pub context_frames: u64,
}

impl Draws {
    /// A row's record from its JSON (the eval output with the files' hashes added).
    pub fn from_json(value: serde_json::Value) -> Result<Draws> {
        let draws: Draws = serde_json::from_value(value).map_err(|e| Error::Data(format!("metadata: {e}")))?;
        if draws.reference == Reference::Clips && draws.clip.is_none() {
            return Err(Error::Data("metadata: a clip row that does not record tokens_sha256 and context_frames".into()));
        }
        Ok(draws)
    }

    /// The model, instrument and reference behind a row: equal in any two rows compared.
    fn instrument(&self) -> [Field; 6] {
        [
            ("batch", json!(self.batch)),
            ("weights_sha256", json!(self.weights_sha256)),
            ("classifier_sha256", json!(self.classifier_sha256)),
            ("data_sha256", json!(self.data_sha256)),
            ("reference", json!(self.reference)),
            ("tokens_sha256, context_frames", json!(self.clip)),
        ]
    }

    /// What two rows must share to be the same draws on the same instrument (besides their
    /// labels), each named for the message.
    fn paired_on(&self) -> Vec<Field> {
        let draws = [("samples", json!(self.samples)), ("seeds", json!(self.seeds))];
        draws.into_iter().chain(self.instrument()).collect()
    }

    /// What runs must share to be one row on disjoint seeds.
    fn row(&self) -> Vec<Field> {
        let sampling = [
            ("schedule", json!(self.schedule)),
            ("cache", json!(self.cache)),
            ("temperature", json!(self.temperature)),
            ("noise", json!(self.noise)),
            ("guidance", json!(self.guidance)),
            ("guidance_schedule", json!(self.guidance_schedule)),
        ];
        sampling.into_iter().chain(self.instrument()).collect()
    }
}

/// What drew an `eval` / `eval-clips` row's images: the row's JSON without its measurements
/// (`scores`: the features are not of them), with the decode batch, the weights' path and the
/// SHA-256 of the weights and of each `(name, file)` in `hashed` (as `NAME_sha256`).
pub fn draws_of_row(row: &serde_json::Value, scores: &[&str], batch: usize, weights: &Path, hashed: &[(&str, &Path)]) -> Result<Draws> {
    let mut about = row.clone();
    let record = about.as_object_mut().ok_or_else(|| Error::Data("metadata: a row is a JSON object".into()))?;
    for key in scores {
        record.remove(*key);
    }
    record.insert("batch".into(), batch.into());
    record.insert("weights".into(), weights.display().to_string().into());
    for (name, file) in std::iter::once(("weights", weights)).chain(hashed.iter().copied()) {
        record.insert(format!("{name}_sha256"), crate::data::sha256_file(file)?.into());
    }
    Draws::from_json(about)
}

/// A field of [`Draws`] by name, as JSON so that differently typed fields compare in one list.
type Field = (&'static str, serde_json::Value);

/// Names of the fields that differ between two such lists.
fn differing(a: Vec<Field>, b: Vec<Field>) -> Vec<&'static str> {
    a.into_iter().zip(b).filter(|(x, y)| x.1 != y.1).map(|(x, _)| x.0).collect()
}

/// The FID classifier's features of one evaluation's images, with their labels and what drew them.
#[derive(Debug, Clone)]
pub struct SampleFeatures {
    /// `[count × FEATURES]`.
    pub features: Vec<f32>,
    /// The category each image was generated for.
    pub labels: Vec<u32>,
    /// The run that drew them; a pooled row keeps each part's, in the order pooled.
    pub runs: Vec<Draws>,
}

impl SampleFeatures {
    /// One run's features (what `--features-out` writes).
    pub fn new(features: Vec<f32>, labels: Vec<u32>, draws: Draws) -> Self {
        SampleFeatures { features, labels, runs: vec![draws] }
    }

    pub fn count(&self) -> usize {
        self.labels.len()
    }

    /// The first run's record: what every run of a row shares (schedule, sampling, files).
    pub fn draws(&self) -> &Draws {
        &self.runs[0]
    }

    /// Images, or predicted clips for a clip row, over every run.
    pub fn samples(&self) -> u64 {
        self.runs.iter().map(|r| r.samples).sum()
    }

    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let n = self.count();
        if self.features.len() != n * FEATURES {
            return Err(Error::Data(format!("{} feature values for {n} images of {FEATURES}", self.features.len())));
        }
        let [draws] = &self.runs[..] else {
            return Err(Error::Data(format!("a features file holds one run; this row pools {}", self.runs.len())));
        };
        let features: &[u8] = bytemuck::cast_slice(&self.features);
        let labels: &[u8] = bytemuck::cast_slice(&self.labels);
        let view = |dtype, shape: Vec<usize>, data| TensorView::new(dtype, shape, data).map_err(|e| Error::Data(format!("features file: {e}")));
        let views = vec![
            ("features".to_string(), view(Dtype::F32, vec![n, FEATURES], features)?),
            ("labels".to_string(), view(Dtype::U32, vec![n], labels)?),
        ];
        let about = serde_json::to_string(draws).map_err(|e| Error::Data(format!("features file: {e}")))?;
        let meta = HashMap::from([(META_KEY.to_string(), about)]);
        safetensors::serialize(views, Some(meta)).map_err(|e| Error::Data(format!("features file: {e}")))
    }

    /// Refuses to compare rows that are not the same draws (image i: same class and decode seed,
    /// same model) scored on the same instrument; the message names what differs.
    pub fn check_paired_with(&self, baseline: &SampleFeatures) -> Result<()> {
        let pooled = self.runs.len() > 1 || baseline.runs.len() > 1;
        let seeds = |f: &SampleFeatures| f.runs.iter().map(|r| r.seeds).collect::<Vec<_>>();
        if pooled && seeds(self) != seeds(baseline) {
            return Err(Error::Data(
                "pooled rows pair only with rows pooled from the same seeds in the same order".into(),
            ));
        }
        let mut differ: Vec<&str> = Vec::new();
        for (run, base) in self.runs.iter().zip(&baseline.runs) {
            for name in differing(run.paired_on(), base.paired_on()) {
                if !differ.contains(&name) {
                    differ.push(name);
                }
            }
        }
        if self.labels != baseline.labels {
            differ.push("labels");
        }
        if differ.is_empty() {
            return Ok(());
        }
        Err(Error::Data(format!("not the same draws on the same instrument: they differ in {}", differ.join(", "))))
    }

    /// One row out of several runs of the same row on disjoint decode seeds (e.g. `--seed 0` and
    /// `--seed 2000`), their images in the order given; refuses parts of different rows or
    /// instruments and parts whose seed ranges overlap (the same draws counted twice). A pooled
    /// baseline pairs with other rows pooled in the same order.
    pub fn pool(parts: Vec<SampleFeatures>) -> Result<SampleFeatures> {
        if parts.is_empty() {
            return Err(Error::Data("nothing to pool".into()));
        }
        let first = parts[0].draws().clone();
        let mut runs: Vec<Draws> = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            for run in &part.runs {
                let differ = differing(run.row(), first.row());
                if !differ.is_empty() {
                    return Err(Error::Data(format!("part {} is another row than part 1: it differs in {}", i + 1, differ.join(", "))));
                }
                let [a0, a1] = run.seeds;
                if let Some(other) = runs.iter().find(|r| a0 <= r.seeds[1] && r.seeds[0] <= a1) {
                    let j = parts.iter().position(|p| p.runs.contains(other)).expect("a part's run");
                    return Err(Error::Data(format!(
                        "parts {} and {} share decode seeds ({}–{} and {a0}–{a1}): the same draws would count twice",
                        j + 1,
                        i + 1,
                        other.seeds[0],
                        other.seeds[1],
                    )));
                }
                runs.push(run.clone());
            }
        }
        Ok(SampleFeatures {
            features: parts.iter().flat_map(|p| p.features.iter().copied()).collect(),
            labels: parts.iter().flat_map(|p| p.labels.iter().copied()).collect(),
            runs,
        })
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::files::read_capped(path, MAX_FEATURES_BYTES)?;
        Self::from_safetensors(&bytes).map_err(|e| Error::Data(format!("{}: {}", path.display(), e.detail())))
    }

    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let bad = |m: String| Error::Data(format!("not a `magnets eval --features-out` file: {m}"));
        let (meta, st) = crate::weights::parse_safetensors(bytes).map_err(bad)?;
        let about: serde_json::Value = meta
            .get(META_KEY)
            .ok_or_else(|| bad(format!("no `{META_KEY}` metadata")))
            .and_then(|s| serde_json::from_str(s).map_err(|e| bad(format!("metadata: {e}"))))?;
        let draws = Draws::from_json(about).map_err(|e| bad(e.detail()))?;
        let tensor = |name: &str, dtype: Dtype| {
            let t = st.tensor(name).map_err(|_| bad(format!("no `{name}` tensor")))?;
            if t.dtype() != dtype {
                return Err(bad(format!("`{name}` is {:?}, expected {dtype:?}", t.dtype())));
            }
            Ok((t.shape().to_vec(), t.data().to_vec()))
        };
        let (fshape, fdata) = tensor("features", Dtype::F32)?;
        let (lshape, ldata) = tensor("labels", Dtype::U32)?;
        let n = lshape.first().copied().unwrap_or(0);
        if lshape.len() != 1 || fshape != [n, FEATURES] || n < 2 {
            return Err(bad(format!("features {fshape:?} and labels {lshape:?}: expected [n, {FEATURES}] and [n], n ≥ 2")));
        }
        let features: Vec<f32> = bytemuck::pod_collect_to_vec(&fdata);
        if features.iter().any(|v| !v.is_finite()) {
            return Err(bad("non-finite feature values".into()));
        }
        Ok(SampleFeatures::new(features, bytemuck::pod_collect_to_vec(&ldata), draws))
    }
}

/// One row against the baseline, on the same draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FidGap {
    pub fid_baseline: f64,
    pub fid: f64,
    /// `fid / fid_baseline − 1` (0.10 = 10% worse than the baseline).
    pub gap: f64,
    /// `gap ± 1.96·sd` over paired bootstrap replicates (see the module docs).
    pub gap_ci95: [f64; 2],
    /// The same with every set resampled on its own, as two separate intervals would treat it.
    pub gap_ci95_unpaired: [f64; 2],
    pub replicates: usize,
    pub count: usize,
}

impl QualityEvaluator {
    /// The gap between `other`'s FID and `baseline`'s, both feature sets `[n × FEATURES]` of
    /// the same n draws in the same order.
    pub fn fid_gap(&self, baseline: &[f32], other: &[f32]) -> Result<FidGap> {
        self.fid_gap_with(baseline, other, true)
    }

    /// [`QualityEvaluator::fid_gap`] with the real reference images held fixed: the interval
    /// then covers only the generated draws, i.e. the gap as this instrument's reference set
    /// measures it (more samples per row shrink it without limit; the reference's own sampling
    /// noise, which the default interval includes, does not shrink with them).
    pub fn fid_gap_on_this_reference(&self, baseline: &[f32], other: &[f32]) -> Result<FidGap> {
        self.fid_gap_with(baseline, other, false)
    }

    fn fid_gap_with(&self, baseline: &[f32], other: &[f32], resample_reference: bool) -> Result<FidGap> {
        use rayon::prelude::*;
        let n = baseline.len() / FEATURES;
        if baseline.len() != other.len() || baseline.len() % FEATURES != 0 || n < 2 {
            return Err(Error::Data(format!(
                "paired rows need the same number of images (≥ 2): {} and {}",
                baseline.len() / FEATURES,
                other.len() / FEATURES
            )));
        }
        let reps = self.bootstrap.max(2);
        // FID of a feature set against a reference drawn in a replicate, or the fixed one (None).
        let fid_against = |f: &[f32], reference: &Option<(Vec<f64>, Vec<f64>)>| {
            let (mu, cov) = stats::mean_cov(f, FEATURES);
            match reference {
                Some((ref_mu, ref_cov)) => stats::frechet_distance(&mu, &cov, ref_mu, ref_cov),
                None => stats::frechet_distance(&mu, &cov, &self.ref_mu, &self.ref_cov),
            }
        };
        let fid_baseline = fid_against(baseline, &None);
        let fid = fid_against(other, &None);
        // The reference's draw is made either way, so both modes see the same image draws.
        let r = self.ref_features.len() / FEATURES;
        let draw_reference = |rng: &mut u64| {
            let idx = draw_indices(r, rng);
            resample_reference.then(|| stats::mean_cov(&feature_rows(&self.ref_features, &idx), FEATURES))
        };
        let gaps: Vec<(f64, f64)> = (0..reps as u64)
            .into_par_iter()
            .map(|k| {
                let mut rng = 0x9A12_ED00u64 ^ k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                // Paired: one draw of image indices and one of the reference for both rows.
                let idx = draw_indices(n, &mut rng);
                let reference = draw_reference(&mut rng);
                let fid_other = fid_against(&feature_rows(other, &idx), &reference);
                let paired = fid_other / fid_against(&feature_rows(baseline, &idx), &reference) - 1.0;
                // Unpaired: everything drawn on its own.
                let idx_b = draw_indices(n, &mut rng);
                let reference_b = draw_reference(&mut rng);
                let unpaired = fid_other / fid_against(&feature_rows(baseline, &idx_b), &reference_b) - 1.0;
                (paired, unpaired)
            })
            .collect();
        let gap = fid / fid_baseline - 1.0;
        let interval = |values: Vec<f64>| spread_interval(gap, &values);
        Ok(FidGap {
            fid_baseline,
            fid,
            gap,
            gap_ci95: interval(gaps.iter().map(|g| g.0).collect()),
            gap_ci95_unpaired: interval(gaps.iter().map(|g| g.1).collect()),
            replicates: reps,
            count: n,
        })
    }
}
