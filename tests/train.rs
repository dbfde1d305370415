//! Nested MaskGIT training: the loss goes down at every width, a checkpoint resumes
//! bit-identically, the distillation term vanishes when student == teacher.
//! Run: `cargo test --release --test train`.

use burn::tensor::{Device, Distribution, Tensor};
use magnets::config::ModelConfig;
use magnets::reference::FlopCounter;
use magnets::train::{
    Batch, TokenDataset, TrainOptions, Trainer, WidthSampling, apply_context_redraw, context_redraw, distillation_kl, make_batch,
    masked_cross_entropy, phase_loss_masks, width_phases, widths_for_step,
};
use magnets::weights::Weights;

fn options(total: u64) -> TrainOptions {
    TrainOptions {
        batch_size: 16,
        lr: 3e-3,
        min_lr: 1e-4,
        warmup_steps: 5,
        total_steps: total,
        ema_decay: 0.9,
        seed: 7,
        ..TrainOptions::default()
    }
}

fn setup() -> (ModelConfig, TokenDataset, Weights) {
    let config = ModelConfig::tiny();
    let data = TokenDataset::synthetic(&config, 96, 3);
    data.check(&config).unwrap();
    let w = Weights::init(&config, 11).unwrap();
    (config, data, w)
}

/// Mean CE per width over a few fixed held-out batches.
fn eval_ce(t: &Trainer, config: &ModelConfig, data: &TokenDataset) -> Vec<f32> {
    let mut o = t.options.clone();
    o.seed = 12345;
    o.class_dropout = 0.0;
    let widths: Vec<usize> = (0..config.widths.len()).collect();
    let mut sums = vec![0.0; widths.len()];
    for s in 0..3 {
        let b = make_batch(config, &o, data, 1000 + s);
        let (_, parts) = t.losses(&b, &widths, &FlopCounter::default()).unwrap();
        for (w, ce, _) in parts {
            sums[w] += ce.into_scalar::<f32>() / 3.0;
        }
    }
    sums
}

#[test]
fn a_few_steps_lower_the_loss_at_every_width() {
    let (config, data, w) = setup();
    let mut t = Trainer::new(&w, options(60), Device::flex()).unwrap();
    let before = eval_ce(&t, &config, &data);
    for _ in 0..40 {
        let b = make_batch(&config, &t.options, &data, t.step);
        let s = t.train_step(&b).unwrap();
        assert_eq!(s.losses.len(), config.widths.len(), "all widths train every step by default");
    }
    let after = eval_ce(&t, &config, &data);
    eprintln!("CE before {before:?}\nCE after  {after:?}");
    for w in 0..config.widths.len() {
        assert!(after[w] < before[w] - 0.3, "width {} did not learn: {} → {}", config.width_names[w], before[w], after[w]);
    }
}

#[test]
fn width_loss_weights_scale_each_widths_term() {
    let (config, data, w) = setup();
    let plain = Trainer::new(&w, options(10), Device::flex()).unwrap();
    let factors: Vec<f32> = (0..config.widths.len()).map(|i| 0.5 + i as f32 * 0.75).collect();
    let weighted_options = TrainOptions { width_loss_weights: factors.clone(), ..options(10) };
    let weighted = Trainer::new(&w, weighted_options, Device::flex()).unwrap();
    let widths: Vec<usize> = (0..config.widths.len()).collect();
    let b = make_batch(&config, &plain.options, &data, 0);
    let (terms, _) = plain.losses(&b, &widths, &FlopCounter::default()).unwrap();
    let (weighted_terms, _) = weighted.losses(&b, &widths, &FlopCounter::default()).unwrap();
    // Terms come full width first, then the smaller widths in order.
    let order = std::iter::once(config.full_width_index()).chain(widths.iter().copied().filter(|&i| i != config.full_width_index()));
    for ((i, t), wt) in order.zip(terms).zip(weighted_terms) {
        let (t, wt) = (t.into_scalar::<f32>(), wt.into_scalar::<f32>());
        assert!((wt - factors[i] * t).abs() < 1e-5 * t.abs().max(1.0), "width {i}: {wt} ≠ {} × {t}", factors[i]);
    }
}

#[test]
fn bad_width_loss_weights_are_refused_naming_the_flag() {
    let (config, _, w) = setup();
    let n = config.widths.len();
    for weights in [vec![1.0; n + 1], vec![f32::NAN; n], vec![-1.0; n]] {
        let o = TrainOptions { width_loss_weights: weights.clone(), ..options(10) };
        let err = Trainer::new(&w, o, Device::flex()).err().unwrap_or_else(|| panic!("{weights:?} accepted")).to_string();
        assert!(err.contains("--width-weights"), "{weights:?}: {err}");
    }
}

#[test]
fn a_schedules_width_phases_are_the_masked_counts_each_width_decodes() {
    // The paper's split on an 8×8 grid: S decodes from 64, 63 and 61 masked tokens (to 59),
    // M from 59, 55, 50 (to 45), L from 45, 38, 32 (to 24), XL from 24, 16, 8.
    let config = ModelConfig { grid: [8, 8], ..ModelConfig::tiny() };
    let phases = width_phases(&config, "S3M3L3XL3").unwrap();
    assert_eq!(phases, vec![Some((60, 64)), Some((46, 59)), Some((25, 45)), Some((1, 24))]);
    // A width the schedule never runs has no phase; the bands still cover 1..=N once.
    let phases = width_phases(&config, "M4L5XL3").unwrap();
    assert_eq!(phases[0], None);
    let mut covered = vec![0; 65];
    for (lo, hi) in phases.into_iter().flatten() {
        (lo..=hi).for_each(|c| covered[c] += 1);
    }
    assert!(covered[1..].iter().all(|&c| c == 1), "{covered:?}");
    assert!(width_phases(&config, "Q3").is_err());
    assert!(width_phases(&config, "XL65").is_err(), "more steps than tokens");
}

/// The images of `batch` at `keep`, as a batch of their own.
fn sub_batch(batch: &Batch, n: usize, keep: &[usize]) -> Batch {
    let rows = |v: &[i64]| keep.iter().flat_map(|&i| v[i * n..(i + 1) * n].to_vec()).collect::<Vec<_>>();
    Batch {
        size: keep.len(),
        inputs: rows(&batch.inputs),
        targets: rows(&batch.targets),
        mask: keep.iter().flat_map(|&i| batch.mask[i * n..(i + 1) * n].to_vec()).collect(),
        classes: keep.iter().map(|&i| batch.classes[i]).collect(),
    }
}

#[test]
fn phase_weights_train_each_smaller_width_on_its_own_mask_ratios() {
    let (config, data, w) = setup();
    let n = config.tokens();
    let schedule = "S2M2L2XL2";
    let phases = width_phases(&config, schedule).unwrap();
    assert_eq!(phases, vec![Some((15, 16)), Some((12, 14)), Some((7, 11)), Some((1, 6))]);
    let opts = TrainOptions { phase_schedule: Some(schedule.into()), off_phase_weight: 0.25, batch_size: 64, ..options(10) };
    let b = make_batch(&config, &opts, &data, 3);
    let masks = phase_loss_masks(&config, &opts, &b).unwrap();
    assert!(masks[config.full_width_index()].is_none(), "the full width trains on every ratio");
    let counts: Vec<usize> = b.mask.chunks(n).map(|m| m.iter().filter(|&&v| v > 0.0).count()).collect();
    for (width, mask) in masks.iter().enumerate().take(config.full_width_index()) {
        let (lo, hi) = phases[width].unwrap();
        let mask = mask.as_ref().unwrap();
        for (i, &count) in counts.iter().enumerate() {
            let factor = if (lo..=hi).contains(&count) { 1.0 } else { 0.25 };
            for p in i * n..(i + 1) * n {
                assert_eq!(mask[p], b.mask[p] * factor, "width {width}, image {i} ({count} masked), position {p}");
            }
        }
    }
    // With weight 0 off its phase, a width's loss is its plain loss on the in-phase images alone.
    let zero = TrainOptions { off_phase_weight: 0.0, ..opts.clone() };
    let t = Trainer::new(&w, zero.clone(), Device::flex()).unwrap();
    let widths: Vec<usize> = (0..config.widths.len()).collect();
    let masks = phase_loss_masks(&config, &zero, &b).unwrap();
    let (_, phased) = t.losses_with(&b, &widths, &FlopCounter::default(), &masks).unwrap();
    let (_, plain) = t.losses(&b, &widths, &FlopCounter::default()).unwrap();
    for width in 0..config.full_width_index() {
        let (lo, hi) = phases[width].unwrap();
        let keep: Vec<usize> = (0..b.size).filter(|&i| (lo..=hi).contains(&counts[i])).collect();
        assert!(!keep.is_empty() && keep.len() < b.size, "width {width}: the batch should hold images in and out of its phase");
        let (_, alone) = t.losses(&sub_batch(&b, n, &keep), &widths, &FlopCounter::default()).unwrap();
        let (ce, kl) = (phased[width].1.clone().into_scalar::<f32>(), phased[width].2.clone().into_scalar::<f32>());
        let (ce0, kl0) = (alone[width].1.clone().into_scalar::<f32>(), alone[width].2.clone().into_scalar::<f32>());
        assert!((ce - ce0).abs() < 1e-5 && (kl - kl0).abs() < 1e-5, "width {width}: ({ce}, {kl}) vs in-phase images alone ({ce0}, {kl0})");
        let plain_ce = plain[width].1.clone().into_scalar::<f32>();
        assert!((ce - plain_ce).abs() > 1e-4, "width {width}: the phase weights changed nothing ({ce})");
    }
    let full = config.full_width_index();
    let (ce, plain_ce) = (phased[full].1.clone().into_scalar::<f32>(), plain[full].1.clone().into_scalar::<f32>());
    assert_eq!(ce, plain_ce, "the full width's loss is unweighted");
}

#[test]
fn bad_phase_options_are_refused_naming_the_flag() {
    let (_, _, w) = setup();
    let phased = |schedule: &str, off: f32| TrainOptions { phase_schedule: Some(schedule.into()), off_phase_weight: off, ..options(10) };
    for (o, flag) in [
        (phased("S2M2L2XL2", 1.5), "--off-phase-weight"),
        (phased("S2M2L2XL2", f32::NAN), "--off-phase-weight"),
        (phased("Q3", 0.5), "--phase-schedule"),
        (phased("XL17", 0.5), "--phase-schedule"),
        (TrainOptions { off_phase_weight: 0.5, ..options(10) }, "--phase-schedule"),
    ] {
        let err = Trainer::new(&w, o.clone(), Device::flex()).err().unwrap_or_else(|| panic!("{o:?} accepted")).to_string();
        assert!(err.contains(flag), "{o:?}: {err}");
    }
}

fn assert_same(a: &Weights, b: &Weights) {
    assert_eq!(a.tensors.len(), b.tensors.len());
    for (name, t) in &a.tensors {
        let u = b.get(name);
        assert_eq!(t.shape, u.shape, "{name}");
        let same = t.data.iter().zip(&u.data).all(|(x, y)| x.to_bits() == y.to_bits());
        assert!(same, "tensor {name} differs after resume");
    }
}

#[test]
fn checkpoint_round_trip_resumes_bit_identically() {
    let (config, data, w) = setup();
    let mut opts = options(20);
    opts.widths = WidthSampling::Sample(1);
    // The re-drawn context is drawn from the counter-based RNG too, so it resumes as well.
    opts.small_width_context = 0.5;
    let mut a = Trainer::new(&w, opts, Device::flex()).unwrap();
    for _ in 0..3 {
        let b = make_batch(&config, &a.options, &data, a.step);
        a.train_step(&b).unwrap();
    }
    let dir = std::env::temp_dir().join(format!("magnets-train-ckpt-{}", std::process::id()));
    a.save_checkpoint(&dir).unwrap();
    let mut losses_a = Vec::new();
    for _ in 0..3 {
        let b = make_batch(&config, &a.options, &data, a.step);
        losses_a.push(a.train_step(&b).unwrap().losses);
    }

    let mut b = Trainer::load_checkpoint(&dir, None, Device::flex()).unwrap();
    assert_eq!(b.step, 3);
    let mut losses_b = Vec::new();
    for _ in 0..3 {
        let batch = make_batch(&config, &b.options, &data, b.step);
        losses_b.push(b.train_step(&batch).unwrap().losses);
    }
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(a.step, b.step);
    let bits = |l: &Vec<Vec<(usize, f32, f32)>>| -> Vec<(usize, u32, u32)> {
        l.iter().flatten().map(|&(w, c, k)| (w, c.to_bits(), k.to_bits())).collect()
    };
    assert_eq!(bits(&losses_a), bits(&losses_b), "losses after resume differ");
    assert_same(&a.weights().unwrap(), &b.weights().unwrap());
    assert_same(a.ema.as_ref().unwrap(), b.ema.as_ref().unwrap());
}

/// A snapshot keeps the step, the schedule and the weights (rounded to f16), drops the
/// optimizer state and the EMA, and a trainer resumes from it and keeps learning.
#[test]
fn snapshot_resumes_at_its_step_with_f16_weights() {
    let (config, data, w) = setup();
    let mut a = Trainer::new(&w, options(40), Device::flex()).unwrap();
    for _ in 0..4 {
        let b = make_batch(&config, &a.options, &data, a.step);
        a.train_step(&b).unwrap();
    }
    let root = std::env::temp_dir().join(format!("magnets-train-snap-{}", std::process::id()));
    let (ckpt, snap) = (root.join("checkpoint"), root.join("snapshot"));
    a.save_checkpoint(&ckpt).unwrap();
    magnets::train::write_snapshot(&ckpt, &snap).unwrap();
    let files: Vec<String> =
        std::fs::read_dir(&snap).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    let mut sorted = files.clone();
    sorted.sort();
    assert_eq!(sorted, ["model.safetensors", "state.json"], "a snapshot holds no optimizer state or EMA");
    let bytes = |p: std::path::PathBuf| std::fs::metadata(p).unwrap().len();
    let (snap_bytes, ckpt_bytes) = (bytes(snap.join("model.safetensors")), bytes(ckpt.join("model.safetensors")));
    assert!(snap_bytes * 2 <= ckpt_bytes + 4096, "f16 snapshot {snap_bytes} B vs f32 checkpoint {ckpt_bytes} B");

    let mut b = Trainer::load_checkpoint(&snap, None, Device::flex()).unwrap();
    std::fs::remove_dir_all(&root).ok();
    assert_eq!(b.step, a.step);
    assert_eq!(b.options.total_steps, a.options.total_steps);
    let (wa, wb) = (a.weights().unwrap(), b.weights().unwrap());
    for (name, t) in &wa.tensors {
        for (x, y) in t.data.iter().zip(&wb.get(name).data) {
            assert_eq!(half::f16::from_f32(*x).to_f32().to_bits(), y.to_bits(), "{name}: not the f16 rounding");
        }
    }
    assert_same(&wb, b.ema.as_ref().unwrap());
    let before = eval_ce(&b, &config, &data);
    for _ in 0..12 {
        let batch = make_batch(&config, &b.options, &data, b.step);
        b.train_step(&batch).unwrap();
    }
    let after = eval_ce(&b, &config, &data);
    for w in 0..config.widths.len() {
        assert!(after[w].is_finite() && after[w] < before[w], "width {w} after resuming from a snapshot: {} → {}", before[w], after[w]);
    }
}

#[test]
fn distillation_is_zero_when_student_equals_teacher() {
    let dev = Device::flex();
    let logits = Tensor::<3>::random([2, 5, 17], Distribution::Normal(0.0, 3.0), &dev);
    let mask = Tensor::<3>::ones([2, 5, 1], &dev);
    for t in [1.0, 2.0] {
        let kl = distillation_kl(logits.clone(), logits.clone(), mask.clone(), t).into_scalar::<f32>();
        assert!(kl.abs() < 1e-5, "KL(p‖p) = {kl} at T={t}");
    }
    let other = Tensor::<3>::random([2, 5, 17], Distribution::Normal(0.0, 3.0), &dev);
    let kl = distillation_kl(other, logits, mask, 1.0).into_scalar::<f32>();
    assert!(kl > 0.01, "KL of different distributions should be positive, got {kl}");
}

#[test]
fn masked_cross_entropy_matches_a_hand_computation() {
    let dev = Device::flex();
    // One sequence of 2 positions, K = 2; only position 0 is masked.
    let logits = Tensor::<3>::from_floats([[[0.0, 2.0_f32.ln()], [5.0, -5.0]]], &dev);
    let targets = Tensor::<3, burn::tensor::Int>::from_ints([[[1], [1]]], &dev);
    let mask = Tensor::<3>::from_floats([[[1.0], [0.0]]], &dev);
    // p = [1/3, 2/3]; CE(target 1) = ln 1.5; smoothing 0.1 mixes in mean(-log p).
    let ce = masked_cross_entropy(logits, targets, mask, 0.1).into_scalar::<f32>();
    let expect = 0.9 * 1.5f32.ln() + 0.1 * 0.5 * (3.0f32.ln() + 1.5f32.ln());
    assert!((ce - expect).abs() < 1e-5, "{ce} vs {expect}");
}

#[test]
fn batches_follow_the_maskgit_recipe() {
    let (config, data, _) = setup();
    let o = options(10);
    let n = config.tokens();
    let b = make_batch(&config, &o, &data, 3);
    assert_eq!(b, make_batch(&config, &o, &data, 3), "batches are a pure function of the step");
    for i in 0..b.size {
        let m: f32 = b.mask[i * n..(i + 1) * n].iter().sum();
        assert!(m >= 1.0, "at least one masked token");
        for p in 0..n {
            let masked = b.mask[i * n + p] == 1.0;
            assert_eq!(masked, b.inputs[i * n + p] == config.mask_id() as i64);
        }
    }
    // Class dropout ≈ 10% over many batches.
    let (mut null, mut total) = (0, 0);
    for s in 0..50 {
        let b = make_batch(&config, &o, &data, s);
        null += b.classes.iter().filter(|&&c| c == config.null_class() as i64).count();
        total += b.size;
    }
    let rate = null as f64 / total as f64;
    assert!((0.05..0.16).contains(&rate), "null-class rate {rate}");
    // Sampled widths always include the full width.
    let mut o1 = o.clone();
    o1.widths = WidthSampling::Sample(1);
    for s in 0..20 {
        let w = widths_for_step(&config, &o1, s);
        assert_eq!(w.len(), 2);
        assert_eq!(*w.last().unwrap(), config.full_width_index());
    }
}

/// `--small-width-context`: a picked image hands some of its *visible* tokens to one smaller
/// width, which samples them; the loss stays on the image's own masked tokens and real codes.
#[test]
fn context_redraw_replaces_visible_tokens_with_a_smaller_widths_samples() {
    let (config, data, _) = setup();
    let (n, k) = (config.tokens(), config.codebook);
    let off = options(10);
    let batch = make_batch(&config, &off, &data, 4);
    assert!(context_redraw(&config, &off, &batch, 4).is_none(), "off by default");

    let on = TrainOptions { small_width_context: 1.0, ..off.clone() };
    let redraw = context_redraw(&config, &on, &batch, 4).expect("every image picked at probability 1");
    assert_eq!(redraw, context_redraw(&config, &on, &batch, 4).unwrap(), "a pure function of the step");
    assert!(redraw.width < config.full_width_index(), "a smaller width draws");
    let mut redrawn = 0;
    for f in 0..batch.mask.len() {
        if redraw.batch.mask[f] > 0.0 {
            assert_eq!(batch.mask[f], 0.0, "only visible tokens are re-drawn");
            assert_eq!(redraw.batch.inputs[f], config.mask_id() as i64, "the smaller width sees them masked");
            redrawn += 1;
        } else {
            assert_eq!(redraw.batch.inputs[f], batch.inputs[f]);
        }
    }
    let visible_images = (0..batch.size).filter(|i| batch.mask[i * n..(i + 1) * n].contains(&0.0)).count();
    assert!(redrawn >= visible_images, "each picked image with visible tokens re-draws at least one");

    // Logits that put all the mass on one code: every re-drawn position takes it.
    let code = 5;
    let logits: Vec<f32> = (0..redrawn * k).map(|i| if i % k == code { 50.0 } else { 0.0 }).collect();
    let out = apply_context_redraw(&config, &on, &batch, &redraw, &logits, 4).unwrap();
    for f in 0..batch.mask.len() {
        let expected = if redraw.batch.mask[f] > 0.0 { code as i64 } else { batch.inputs[f] };
        assert_eq!(out.inputs[f], expected, "position {f}");
    }
    assert_eq!((&out.targets, &out.mask, &out.classes), (&batch.targets, &batch.mask, &batch.classes));

    // Bad logits are errors, not silently wrong tokens.
    assert!(apply_context_redraw(&config, &on, &batch, &redraw, &logits[k..], 4).is_err(), "too few rows");
    let nan = vec![f32::NAN; redrawn * k];
    assert!(apply_context_redraw(&config, &on, &batch, &redraw, &nan, 4).is_err(), "non-finite logits");
    let bad = TrainOptions { small_width_context: 1.5, ..off };
    let err = bad.check(&config).unwrap_err().to_string();
    assert!(err.contains("--small-width-context"), "{err}");
}

#[test]
fn training_with_a_redrawn_context_lowers_the_loss() {
    let (config, data, w) = setup();
    let opts = TrainOptions { small_width_context: 0.5, ..options(60) };
    let mut t = Trainer::new(&w, opts, Device::flex()).unwrap();
    let before = eval_ce(&t, &config, &data);
    for _ in 0..40 {
        let b = make_batch(&config, &t.options, &data, t.step);
        t.train_step(&b).unwrap();
    }
    let after = eval_ce(&t, &config, &data);
    for (w, (a, b)) in after.iter().zip(&before).enumerate() {
        assert!(a < b, "width {w}: CE {b} -> {a}");
    }
}
