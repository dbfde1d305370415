//! FID-emoji statistics: eigen/sqrt, Fréchet distance closed forms, FID(set, set) ≈ 0 and
//! growing with noise, k-NN precision/recall — on synthetic data.

mod common;

use burn::tensor::Device;
use magnets::metrics::QualityEvaluator;
use magnets::metrics::classifier::Classifier;
use magnets::metrics::stats::{coverage, frechet_distance, knn_radii, mean_cov, sqrtm_psd, sym_eigen};

fn lcg(s: &mut u64) -> f32 {
    *s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
}

#[test]
fn jacobi_eigen_reconstructs_and_sqrt_squares_back() {
    let d = 12;
    let mut s = 1u64;
    let b: Vec<f64> = (0..d * d).map(|_| lcg(&mut s) as f64).collect();
    // A = B Bᵀ + I (symmetric positive definite)
    let mut a = vec![0.0; d * d];
    for i in 0..d {
        for j in 0..d {
            a[i * d + j] = (0..d).map(|k| b[i * d + k] * b[j * d + k]).sum::<f64>() + if i == j { 1.0 } else { 0.0 };
        }
    }
    let (w, v) = sym_eigen(&a, d);
    for i in 0..d {
        for j in 0..d {
            let r: f64 = (0..d).map(|k| v[i * d + k] * w[k] * v[j * d + k]).sum();
            assert!((r - a[i * d + j]).abs() < 1e-9);
        }
    }
    let r = sqrtm_psd(&a, d);
    for i in 0..d {
        for j in 0..d {
            let sq: f64 = (0..d).map(|k| r[i * d + k] * r[k * d + j]).sum();
            assert!((sq - a[i * d + j]).abs() < 1e-8);
        }
    }
}

#[test]
fn frechet_matches_closed_forms() {
    // Diagonal covariances: |Δμ|² + Σ (√a − √b)².
    let d = 3;
    let diag = |v: [f64; 3]| {
        let mut m = vec![0.0; 9];
        for i in 0..3 {
            m[i * 3 + i] = v[i];
        }
        m
    };
    let f = frechet_distance(&[0.0, 1.0, 2.0], &diag([1.0, 4.0, 9.0]), &[1.0, 1.0, 0.0], &diag([4.0, 4.0, 1.0]));
    let want = 1.0 + 4.0 + (1.0f64 - 2.0).powi(2) + 0.0 + (3.0f64 - 1.0).powi(2);
    assert!((f - want).abs() < 1e-9, "{f} vs {want}");
    let _ = d;
    // Same distribution → 0.
    let a = diag([2.0, 3.0, 5.0]);
    assert!(frechet_distance(&[1.0; 3], &a, &[1.0; 3], &a).abs() < 1e-9);
}

#[test]
fn knn_precision_recall_of_a_set_against_itself_is_one() {
    let d = 4;
    let mut s = 3u64;
    let x: Vec<f32> = (0..50 * d).map(|_| lcg(&mut s)).collect();
    let r = knn_radii(&x, d, 3);
    assert_eq!(coverage(&x, &x, &r, d), 1.0);
    let far: Vec<f32> = x.iter().map(|v| v + 100.0).collect();
    assert_eq!(coverage(&far, &x, &r, d), 0.0);
    let (mu, cov) = mean_cov(&x, d);
    assert!(mu.iter().all(|m| m.abs() < 0.2) && cov[0] > 0.05);
}

/// Synthetic emoji-like images: coloured discs on white, HWC u8.
fn images(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    let mut out = vec![255u8; n * 3072];
    for i in 0..n {
        let (cx, cy, r) = (16.0 + 6.0 * lcg(&mut s), 16.0 + 6.0 * lcg(&mut s), 6.0 + 8.0 * (lcg(&mut s) + 0.5));
        let col = [(lcg(&mut s) + 0.5) * 255.0, (lcg(&mut s) + 0.5) * 255.0, (lcg(&mut s) + 0.5) * 255.0];
        for y in 0..32 {
            for x in 0..32 {
                if ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt() < r {
                    for c in 0..3 {
                        out[i * 3072 + (y * 32 + x) * 3 + c] = col[c] as u8;
                    }
                }
            }
        }
    }
    out
}

#[test]
fn fid_of_a_set_with_itself_is_zero_and_grows_with_noise() {
    let device = Device::flex();
    device.seed(1);
    let reference = images(200, 11);
    let ev = QualityEvaluator::with_reference(Classifier::new(&device), &reference).unwrap().with_bootstrap(0);
    let same = ev.evaluate_flat(&reference, None).unwrap();
    assert_eq!(same.fid_ci95, None);
    assert!(same.fid.abs() < 1e-3, "FID(set, set) = {}", same.fid);
    assert_eq!(same.recall, 1.0);
    assert_eq!(same.precision, 1.0);
    let mut last = same.fid;
    let mut s = 5u64;
    for sigma in [20.0f32, 50.0, 100.0] {
        let noisy = with_noise(&reference, sigma * 2.0, &mut s);
        let m = ev.evaluate_flat(&noisy, None).unwrap();
        assert!(m.fid > last, "noise {sigma}: FID {} not above {last}", m.fid);
        last = m.fid;
    }
    // Labels give a class accuracy; wrong sizes are errors, not panics.
    let labels = vec![0u32; 200];
    assert!(ev.evaluate_flat(&reference, Some(&labels)).unwrap().class_accuracy.is_some());
    // Per label too: one entry per label up to the largest (None where no image has it), and
    // the per-label scores weighted by their counts give the overall accuracy back.
    let labels: Vec<u32> = (0..200).map(|i| [0, 2, 3][i % 3]).collect();
    let m = ev.evaluate_flat(&reference, Some(&labels)).unwrap();
    let by = m.class_accuracy_by_class.clone().unwrap();
    assert_eq!(by.len(), 4);
    assert_eq!(by[1], None);
    let counts = [67.0, 0.0, 67.0, 66.0];
    let pooled: f64 = by.iter().zip(counts).map(|(a, c)| a.unwrap_or(0.0) * c).sum::<f64>() / 200.0;
    assert!((pooled - m.class_accuracy.unwrap()).abs() < 1e-12, "{by:?} vs {:?}", m.class_accuracy);
    assert!(ev.evaluate_flat(&reference, Some(&labels[..3])).is_err());
    assert!(ev.evaluate(&[vec![0u8; 10], vec![0u8; 3072]], None).is_err());
}

/// An evaluator with a randomly initialised classifier (seeded) and 300 synthetic reference images.
fn evaluator_on_synthetic_images(seed: u64, replicates: usize) -> QualityEvaluator {
    let device = Device::flex();
    device.seed(seed);
    QualityEvaluator::with_reference(Classifier::new(&device), &images(300, 21)).unwrap().with_bootstrap(replicates)
}

/// `images` with uniform noise of ±amount/2 per byte.
fn with_noise(images: &[u8], amount: f32, s: &mut u64) -> Vec<u8> {
    images.iter().map(|&v| (v as f32 + amount * lcg(s)).clamp(0.0, 255.0) as u8).collect()
}

/// The paired gap (`magnets fid-gap`): a row against itself is no gap with a zero-width paired
/// interval; a noisier copy of the same draws is a gap whose paired interval excludes zero and is
/// narrower than the unpaired one (the shared reference noise cancels); features files round-trip
/// and a broken one is an error.
#[test]
fn paired_gap_between_rows_of_the_same_draws() {
    use magnets::metrics::paired::{Draws, SampleFeatures};
    let ev = evaluator_on_synthetic_images(3, 16);
    let mut s = 5u64;
    let base_images = with_noise(&images(300, 77), 30.0, &mut s);
    let worse_images = with_noise(&base_images, 90.0, &mut s);
    let (m_base, base) = ev.evaluate_keeping_features(&base_images, None).unwrap();
    let (m_worse, worse) = ev.evaluate_keeping_features(&worse_images, None).unwrap();

    let same = ev.fid_gap(&base, &base).unwrap();
    assert_eq!(same.gap, 0.0);
    assert!(same.gap_ci95[0].abs() < 1e-9 && same.gap_ci95[1].abs() < 1e-9, "{same:?}");
    assert!(same.gap_ci95_unpaired[1] - same.gap_ci95_unpaired[0] > 1e-3, "{same:?}");

    let gap = ev.fid_gap(&base, &worse).unwrap();
    assert!((gap.fid_baseline - m_base.fid).abs() < 1e-9 && (gap.fid - m_worse.fid).abs() < 1e-9, "{gap:?}");
    assert!(gap.gap > 0.0 && gap.gap_ci95[0] > 0.0 && gap.gap_ci95[0] <= gap.gap && gap.gap <= gap.gap_ci95[1], "{gap:?}");
    let width = |c: [f64; 2]| c[1] - c[0];
    assert!(width(gap.gap_ci95) < width(gap.gap_ci95_unpaired), "{gap:?}");
    assert_eq!(ev.fid_gap(&base, &worse).unwrap(), gap, "a fixed seed: the same interval every time");
    // The reference held fixed: the same gap, an interval over the generated draws only.
    let given = ev.fid_gap_on_this_reference(&base, &worse).unwrap();
    assert_eq!((given.fid, given.fid_baseline, given.gap), (gap.fid, gap.fid_baseline, gap.gap));
    assert!(given.gap_ci95[0] > 0.0 && given.gap_ci95[0] <= given.gap && given.gap <= given.gap_ci95[1], "{given:?}");
    assert_ne!(given.gap_ci95, gap.gap_ci95, "the reference is held fixed, not resampled");
    let same_given = ev.fid_gap_on_this_reference(&base, &base).unwrap();
    assert!(same_given.gap_ci95[0].abs() < 1e-9 && same_given.gap_ci95[1].abs() < 1e-9, "{same_given:?}");
    assert!(ev.fid_gap(&base, &worse[..100 * 128]).is_err(), "rows of different draws");

    let file = SampleFeatures::new(worse.clone(), vec![1; 300], draws(0, "S3M3L3XL3"));
    let bytes = file.to_safetensors().unwrap();
    let back = SampleFeatures::from_safetensors(&bytes).unwrap();
    assert_eq!(back.draws().other.get("engine"), Some(&serde_json::json!("torch")), "the rest of the row is kept");
    assert_eq!((back.features, back.labels, back.runs), (file.features.clone(), file.labels.clone(), file.runs.clone()));
    let err = SampleFeatures::from_safetensors(&bytes[..bytes.len() - 7]).unwrap_err().to_string();
    assert!(err.contains("features-out") && err.contains("truncated"), "{err}");
    let row = |seed: u64, label: u32| SampleFeatures::new(base.clone(), vec![label; 300], draws(seed, "XL12"));
    assert!(row(0, 1).check_paired_with(&row(0, 1)).is_ok());
    let err = row(7, 1).check_paired_with(&row(0, 1)).unwrap_err().to_string();
    assert!(err.contains("seed") && !err.contains("batch"), "{err}");
    assert!(row(0, 2).check_paired_with(&row(0, 1)).unwrap_err().to_string().contains("labels"));
    // What a row does not record cannot be compared: refused when read, not passed.
    let mut unrecorded = serde_json::to_value(draws(0, "XL12")).unwrap();
    unrecorded.as_object_mut().unwrap().remove("batch");
    let err = Draws::from_json(unrecorded).unwrap_err().to_string();
    assert!(err.contains("batch"), "{err}");
    let mut clip = serde_json::to_value(draws(0, "XL12")).unwrap();
    clip["reference"] = "clips".into();
    let err = Draws::from_json(clip.clone()).unwrap_err().to_string();
    assert!(err.contains("tokens_sha256 and context_frames"), "{err}");
    (clip["tokens_sha256"], clip["context_frames"]) = ("t".into(), 1.into());
    let clip = SampleFeatures::new(base.clone(), vec![1; 300], Draws::from_json(clip).unwrap());
    let err = row(0, 1).check_paired_with(&clip).unwrap_err().to_string();
    assert!(err.contains("reference") && err.contains("tokens_sha256"), "an image row against a clip row: {err}");
    let other = common::raw_f32_file(&Default::default(), "something.else", "{}");
    assert!(SampleFeatures::from_safetensors(&other).unwrap_err().to_string().contains("metadata"));
}

/// One run's record as `magnets eval --features-out` writes it (3 images, decode seeds
/// `seed`…`seed + 156`).
fn draws(seed: u64, schedule: &str) -> magnets::metrics::paired::Draws {
    magnets::metrics::paired::Draws::from_json(serde_json::json!({
        "schedule": schedule, "cache": "on", "samples": 3, "batch": 64, "seed": seed, "seeds": [seed, seed + 156],
        "temperature": 1.0, "noise": 4.5, "guidance": 0, "weights": "w.safetensors", "weights_sha256": "w",
        "classifier_sha256": "c", "data_sha256": "d", "engine": "torch",
    }))
    .unwrap()
}

/// Clips of synthetic frames: 12 held-out and 3 training clips, named so that the image data's
/// split rule sends them there.
fn synthetic_clips() -> magnets::data::anim::AnimDataset {
    use magnets::data::{Split, split_of};
    let mut ds = magnets::data::anim::AnimDataset::default();
    let (mut held, mut train) = (0, 0);
    for i in 0.. {
        let name = format!("clip_{i}");
        let is_held = split_of(&name) == Split::HeldOut;
        if (is_held && held < 12) || (!is_held && train < 3) {
            ds.push(&images(8, 100 + i), (i % 9) as u8, name, format!("{i:x}"));
            if is_held { held += 1 } else { train += 1 }
        }
        if held == 12 && train == 3 {
            break;
        }
    }
    ds
}

/// Frame prediction's reference is the held-out clips' frames after the given ones (a
/// prediction of the held-out clips themselves scores 0); a clip model's given frames must leave
/// a future to predict.
#[test]
fn the_clip_reference_is_the_held_out_clips_future_frames() {
    let device = Device::flex();
    device.seed(4);
    let clips = synthetic_clips();
    let ev = QualityEvaluator::for_clips(Classifier::new(&device), &clips, 1).unwrap().with_bootstrap(0);
    assert_eq!(ev.reference_count(), 12 * 7);
    let held: Vec<u8> = (0..clips.len()).filter(|&i| clips.split[i] == 1).flat_map(|i| clips.clip(i)[3072..].to_vec()).collect();
    let same = ev.evaluate_flat(&held, None).unwrap().fid;
    let train: Vec<u8> = (0..clips.len()).filter(|&i| clips.split[i] == 0).flat_map(|i| clips.clip(i)[3072..].to_vec()).collect();
    let other = ev.evaluate_flat(&train, None).unwrap().fid;
    // An untrained classifier's features barely vary, so FIDs are small: compare them.
    assert!(same.abs() < 1e-3 * other, "the held-out clips are the reference: {same} vs the training clips' {other}");
    let two = QualityEvaluator::for_clips(Classifier::new(&device), &clips, 2).unwrap();
    assert_eq!(two.reference_count(), 12 * 6);
    for given in [0, 8] {
        let err = QualityEvaluator::for_clips(Classifier::new(&device), &clips, given).err().expect("refused").to_string();
        assert!(err.contains("given frames"), "{given}: {err}");
    }
}

/// Runs of one row on disjoint seeds pool into one row (images in the order given, the seed
/// ranges kept, samples summed: clips for a clip row), and pooling refuses what would not be
/// one row: another schedule or model, or seed ranges that overlap (the same draws twice).
#[test]
fn runs_of_a_row_on_disjoint_seeds_pool_into_one_row() {
    use magnets::metrics::paired::SampleFeatures;
    let run = |seed: u64, schedule: &str, fill: f32| SampleFeatures::new(vec![fill; 3 * 128], vec![seed as u32; 3], draws(seed, schedule));
    let pooled = SampleFeatures::pool(vec![run(0, "M1L7XL4", 1.0), run(2000, "M1L7XL4", 2.0)]).unwrap();
    assert_eq!(pooled.count(), 6);
    assert_eq!((pooled.features[0], pooled.features[3 * 128]), (1.0, 2.0), "parts in the order given");
    assert_eq!(pooled.labels, [0, 0, 0, 2000, 2000, 2000]);
    assert_eq!(pooled.runs.iter().map(|r| r.seeds).collect::<Vec<_>>(), [[0, 156], [2000, 2156]]);
    assert_eq!(pooled.samples(), 6);
    assert!(pooled.to_safetensors().is_err(), "a features file holds one run");
    let baseline = SampleFeatures::pool(vec![run(0, "XL12", 3.0), run(2000, "XL12", 4.0)]).unwrap();
    assert!(pooled.check_paired_with(&baseline).is_ok(), "pooled in the same order: the same draws");
    let swapped = SampleFeatures::pool(vec![run(2000, "XL12", 4.0), run(0, "XL12", 3.0)]).unwrap();
    let err = pooled.check_paired_with(&swapped).unwrap_err().to_string();
    assert!(err.contains("same seeds in the same order"), "another order pairs image i with another draw: {err}");
    let err = pooled.check_paired_with(&run(0, "XL12", 3.0)).unwrap_err().to_string();
    assert!(err.contains("same seeds in the same order"), "a pooled row against one run: {err}");

    let err = SampleFeatures::pool(vec![run(0, "M1L7XL4", 1.0), run(100, "M1L7XL4", 1.0)]).unwrap_err().to_string();
    assert!(err.contains("share decode seeds") && err.contains("0–156") && err.contains("100–256"), "{err}");
    let err = SampleFeatures::pool(vec![run(0, "M1L7XL4", 1.0), run(2000, "XL12", 1.0)]).unwrap_err().to_string();
    assert!(err.contains("part 2") && err.contains("schedule"), "{err}");
    assert!(SampleFeatures::pool(vec![]).is_err());

    // A clip row's features are its predicted frames (here 7 per clip): it counts clips.
    let clip_run = |seed: u64| {
        let mut r = run(seed, "S3M3L3XL3", 1.0);
        (r.features, r.labels) = (vec![1.0; 7 * 128], vec![0; 7]);
        r.runs[0].samples = 1;
        r
    };
    let pooled = SampleFeatures::pool(vec![clip_run(0), clip_run(2000)]).unwrap();
    assert_eq!((pooled.count(), pooled.samples()), (14, 2), "frames pooled, clips counted");
}

/// The bootstrap interval brackets the point estimate, is repeatable (fixed seed), and is wider
/// for a smaller set of images.
#[test]
fn fid_interval_brackets_the_estimate_and_narrows_with_more_images() {
    let ev = evaluator_on_synthetic_images(2, 24);
    let fake = with_noise(&images(300, 77), 60.0, &mut 9u64);
    let m = ev.evaluate_flat(&fake, None).unwrap();
    let [lo, hi] = m.fid_ci95.expect("an interval");
    assert!(lo <= m.fid && m.fid <= hi && hi > lo, "{m:?}");
    assert_eq!(ev.evaluate_flat(&fake, None).unwrap().fid_ci95, m.fid_ci95);
    let few = ev.evaluate_flat(&fake[..60 * 3072], None).unwrap();
    let [flo, fhi] = few.fid_ci95.unwrap();
    assert!(fhi - flo > hi - lo, "60 images: {flo}..{fhi}, 300 images: {lo}..{hi}");
}

#[test]
fn classifier_file_round_trips_and_refuses_garbage() {
    let device = Device::flex();
    let c = Classifier::new(&device);
    let bytes = c.to_safetensors().unwrap();
    let back = Classifier::from_safetensors(&bytes, &device).unwrap();
    let img = images(2, 3);
    assert_eq!(c.features_and_predictions(&img, &device).unwrap().0, back.features_and_predictions(&img, &device).unwrap().0);
    assert!(Classifier::from_safetensors(&bytes[..100], &device).is_err());
}

/// A wider classifier (`--width`) saves and loads through the same path, its width read back
/// from the weights' shapes; a file whose first convolution is no valid width is refused by name.
#[test]
fn wider_classifier_round_trips_and_odd_widths_are_refused() {
    use safetensors::{Dtype, tensor::TensorView};
    let device = Device::flex();
    let c = Classifier::with_width(2, &device).unwrap();
    assert!(Classifier::with_width(0, &device).is_err() && Classifier::with_width(9, &device).is_err());
    assert_eq!(c.width(), 2);
    let bytes = c.to_safetensors().unwrap();
    let back = Classifier::from_safetensors(&bytes, &device).unwrap();
    assert_eq!(back.width(), 2);
    let img = images(2, 5);
    let (f, _) = back.features_and_predictions(&img, &device).unwrap();
    assert_eq!(f, c.features_and_predictions(&img, &device).unwrap().0);
    assert_eq!(f.len(), 2 * magnets::metrics::classifier::FEATURES, "the features FID reads stay 128 wide");
    // conv0 with 48 output channels: not a multiple of 32.
    let odd = vec![0u8; 48 * 3 * 3 * 3 * 4];
    let view = TensorView::new(Dtype::F32, vec![48, 3, 3, 3], &odd).unwrap();
    let file = safetensors::serialize([("conv0.weight", view)], None).unwrap();
    let err = Classifier::from_safetensors(&file, &device).unwrap_err().to_string();
    assert!(err.contains("conv0.weight") && err.contains("48"), "{err}");
}

/// The committed FID-emoji classifier matches the code's architecture (every tensor, every
/// shape), so `magnets eval` works from a fresh clone.
#[test]
fn shipped_classifier_loads() {
    let device = Device::flex();
    let c = Classifier::load(&common::repo_file("models/classifier.safetensors"), &device).unwrap();
    let (features, predictions) = c.features_and_predictions(&images(3, 1), &device).unwrap();
    assert_eq!(features.len(), 3 * magnets::metrics::classifier::FEATURES);
    assert!(predictions.iter().all(|&p| (p as usize) < magnets::metrics::classifier::CLASSES));
}

/// Every shipped model's `NAME.eval.json` (measured quality the page shows next to a schedule;
/// written by scripts/eval-table.mjs, or scripts/eval-clips-table.mjs for a clip model) belongs
/// to its weights and agrees with the FLOP accounting: a stale table (model retrained, rows not
/// rerun) fails here, and so does a shipped model without one.
#[test]
fn shipped_eval_tables_match_the_shipped_models() {
    let mut checked = 0;
    for model in &common::shipped_models() {
        let weights = format!("models/{}", model.weights);
        let Ok(bytes) = std::fs::read(&weights) else { continue };
        let table_file = weights.replace(".safetensors", ".eval.json");
        let text = std::fs::read_to_string(&table_file).unwrap_or_else(|e| panic!("{table_file}: {e}: measure the shipped model"));
        let table: serde_json::Value = serde_json::from_str(&text).unwrap();
        let sha = magnets::data::sha256_hex(&bytes);
        assert_eq!(table["model_sha256"].as_str(), Some(sha.as_str()), "{table_file}: rerun the eval table");
        // A table holds only for the settings it was decoded with: the model's own (the page's).
        let sampling = serde_json::to_value(model.sampling.unwrap_or_default()).unwrap();
        for key in ["temperature", "tau", "guidance"] {
            assert_eq!(table["settings"][key].as_f64(), sampling[key].as_f64(), "{table_file}: settings.{key} vs models.json sampling");
        }
        let schedule_of = |v: &serde_json::Value| v["guidance_schedule"].as_str().unwrap_or("constant").to_string();
        assert_eq!(schedule_of(&table["settings"]), schedule_of(&sampling), "{table_file}: settings.guidance_schedule vs models.json sampling");
        check_table(&table, &bytes, model.kind == magnets::registry::ModelKind::Image, &table_file);
        checked += 1;
    }
    assert!(checked >= 1, "no shipped model is present");
}

fn check_table(table: &serde_json::Value, weights: &[u8], image: bool, file: &str) {
    let config = magnets::weights::Weights::from_safetensors(weights).unwrap().config;
    let rows = table["rows"].as_array().unwrap();
    let find = |s: &str, c: &str| rows.iter().find(|r| r["schedule"] == s && r["cache"] == c);
    let baseline = find(table["baseline"]["schedule"].as_str().unwrap(), table["baseline"]["cache"].as_str().unwrap())
        .expect("the baseline row");
    assert!(baseline["flops_ratio"].as_f64().unwrap() == 1.0);
    for preset in [("S3M3L3XL3", "on"), ("XL3L3M3S3", "on"), ("XL12", "on"), ("S12", "on"), ("M12", "on"), ("L12", "on")] {
        assert!(find(preset.0, preset.1).is_some(), "{file}: the page preset {preset:?} is measured");
    }
    let guided = table["settings"]["guidance"].as_f64().unwrap_or(0.0) > 0.0;
    for r in rows {
        let schedule = magnets::schedule::Schedule::parse(r["schedule"].as_str().unwrap(), &config).unwrap();
        let cache = magnets::schedule::CachePolicy::parse(r["cache"].as_str().unwrap()).unwrap();
        let flops: u64 = magnets::plan::plan(&config, &schedule, cache, guided).iter().map(|s| s.flops).sum();
        let gflops = r["gflops_per_image"].as_f64().unwrap();
        assert!((gflops - flops as f64 / 1e9).abs() < 1e-9, "{file} {r}: GFLOPs vs plan::plan");
        let fid = r["fid"].as_f64().unwrap();
        assert!(fid.is_finite() && fid > 0.0);
    }
    // The page's "Tuned" preset is a measured row with at least 3× less compute.
    let tuned = find(table["tuned"]["schedule"].as_str().unwrap(), table["tuned"]["cache"].as_str().unwrap())
        .expect("the tuned schedule is measured");
    assert!(tuned["flops_ratio"].as_f64().unwrap() >= 3.0, "{tuned}");
    // "Tuned 4×", where the table has it: a measured row with at least 4× less compute, chosen
    // from the same selection rows as "Tuned", so never better than it on the selection seed.
    if let Some(pick) = table.get("tuned_4x") {
        let row = find(pick["schedule"].as_str().unwrap(), pick["cache"].as_str().unwrap()).expect("the tuned 4× schedule is measured");
        assert!(row["flops_ratio"].as_f64().unwrap() >= 4.0, "{row}");
        let best = |p: &serde_json::Value| p["selection"][0]["fid"].as_f64().unwrap();
        assert!(best(pick) >= best(&table["tuned"]), "{file}: the ≥ 4× pick beats the ≥ 3× one on the selection seed");
        assert_eq!(pick["selection"][0]["schedule"], pick["schedule"], "{file}: the ≥ 4× pick is its selection's best");
    }
    if !image {
        return;
    }
    // The nesting, as measured: constant-width quality is ordered by width.
    let fid = |s: &str, c: &str| find(s, c).unwrap()["fid"].as_f64().unwrap();
    assert!(fid("S12", "on") > fid("M12", "on") && fid("M12", "on") > fid("L12", "on") && fid("L12", "on") > fid("XL12", "on"), "{file}");
}

/// The classifier's accuracy interval is the Wilson score interval: textbook values for 5/10 and
/// 0/10, and it narrows as the set grows.
#[test]
fn wilson_interval_matches_textbook_values() {
    use magnets::metrics::stats::wilson_interval;
    let (lo, hi) = wilson_interval(5, 10);
    assert!((lo - 0.2366).abs() < 1e-4 && (hi - 0.7634).abs() < 1e-4, "{lo} {hi}");
    let (lo, hi) = wilson_interval(0, 10);
    assert!(lo == 0.0 && (hi - 0.2775).abs() < 1e-4, "{lo} {hi}");
    let (lo, hi) = wilson_interval(1273, 1906);
    assert!(lo < 0.668 && hi > 0.668 && hi - lo < 0.045 && hi - lo > 0.038, "{lo} {hi}");
    assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
}
