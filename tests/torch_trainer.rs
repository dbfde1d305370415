//! The LibTorch-autograd trainer computes what burn's reference trainer computes: the same
//! per-width losses on the same batch, the same weights after several AdamW steps (f32), and a
//! checkpoint that resumes bit-identically. Needs the `tch` feature (libtorch; see
//! scripts/magnets-fast.sh), so CI does not run it:
//! `LIBTORCH_USE_PYTORCH=1 cargo test --release --features tch --test torch_trainer`.
#![cfg(feature = "tch")]

use burn::tensor::Device;
use magnets::config::ModelConfig;
use magnets::reference::MatmulPrecision;
use magnets::train::torch::TorchTrainer;
use magnets::train::{TokenDataset, TrainLoop, TrainOptions, Trainer, make_batch};
use magnets::weights::Weights;

fn options() -> TrainOptions {
    TrainOptions {
        batch_size: 16,
        lr: 3e-3,
        min_lr: 1e-4,
        warmup_steps: 5,
        total_steps: 40,
        ema_decay: 0.9,
        seed: 7,
        distill_weight: 0.7,
        // Uneven, so that both trainers must weight each width's term the same way.
        width_loss_weights: vec![1.5, 1.25, 1.0, 0.75],
        // Each smaller width's own loss weights (off its phase), which both trainers must apply alike.
        phase_schedule: Some("S2M2L2XL2".into()),
        off_phase_weight: 0.25,
        ..TrainOptions::default()
    }
}

fn setup() -> (ModelConfig, TokenDataset, Weights) {
    let config = ModelConfig::tiny();
    let data = TokenDataset::synthetic(&config, 96, 3);
    data.check(&config).unwrap();
    (config.clone(), data, Weights::init(&config, 11).unwrap())
}

fn max_abs_diff(a: &Weights, b: &Weights) -> (f32, String) {
    let mut worst = (0.0f32, String::new());
    for (name, t) in &a.tensors {
        for (x, y) in t.data.iter().zip(&b.get(name).data) {
            let d = (x - y).abs();
            if d > worst.0 {
                worst = (d, name.clone());
            }
        }
    }
    worst
}

#[test]
fn same_losses_and_weights_as_the_burn_trainer() {
    let (config, data, w) = setup();
    let mut burn_t = Trainer::new(&w, options(), Device::flex()).unwrap();
    let mut torch_t = TorchTrainer::new(&w, options(), MatmulPrecision::F32).unwrap();
    for step in 0..10 {
        let b = make_batch(&config, &options(), &data, step);
        let (sb, st) = (burn_t.train_step(&b).unwrap(), torch_t.train_step(&b).unwrap());
        assert_eq!(sb.forward_flops, st.forward_flops, "both count the same matmul FLOPs");
        for ((wb, ceb, klb), (wt, cet, klt)) in sb.losses.iter().zip(&st.losses) {
            assert_eq!(wb, wt);
            assert!((ceb - cet).abs() < 1e-4 && (klb - klt).abs() < 1e-4, "step {step} width {wb}: burn CE {ceb} KL {klb}, torch CE {cet} KL {klt}");
        }
    }
    let (d, at) = max_abs_diff(&burn_t.weights().unwrap(), &torch_t.weights().unwrap());
    assert!(d < 1e-4, "raw weights after 10 AdamW steps differ by {d} at {at}");
    let (d, at) = max_abs_diff(&Trainer::export_weights(&burn_t).unwrap(), &TrainLoop::export_weights(&torch_t).unwrap());
    assert!(d < 1e-4, "EMA weights after 10 AdamW steps differ by {d} at {at}");
    let b = make_batch(&config, &options(), &data, 500);
    let (eb, et) = (TrainLoop::eval_ce(&burn_t, &b).unwrap(), torch_t.eval_ce(&b).unwrap());
    for ((w, x), (_, y)) in eb.iter().zip(&et) {
        assert!((x - y).abs() < 1e-4, "held-out CE at width {w}: burn {x}, torch {y}");
    }
}

#[test]
fn both_trainers_weight_a_clips_changed_tokens_alike() {
    let config = ModelConfig { grid: [2, 3], frames: 3, context_frames: 1, ..ModelConfig::tiny() };
    let data = TokenDataset::synthetic(&config, 48, 5);
    let w = Weights::init(&config, 13).unwrap();
    let o = TrainOptions { changed_token_weight: 2.5, loop_frames: true, ..options() };
    let mut burn_t = Trainer::new(&w, o.clone(), Device::flex()).unwrap();
    let mut torch_t = TorchTrainer::new(&w, o.clone(), MatmulPrecision::F32).unwrap();
    for step in 0..5 {
        let b = make_batch(&config, &o, &data, step);
        assert!(b.mask.contains(&2.5), "step {step}: the batch has weighted tokens");
        let (sb, st) = (burn_t.train_step(&b).unwrap(), torch_t.train_step(&b).unwrap());
        for ((wb, ceb, klb), (_, cet, klt)) in sb.losses.iter().zip(&st.losses) {
            assert!((ceb - cet).abs() < 1e-4 && (klb - klt).abs() < 1e-4, "step {step} width {wb}: burn CE {ceb} KL {klb}, torch CE {cet} KL {klt}");
        }
    }
    let (d, at) = max_abs_diff(&burn_t.weights().unwrap(), &torch_t.weights().unwrap());
    assert!(d < 1e-4, "raw weights after 5 weighted steps differ by {d} at {at}");
}

/// The re-drawn context (`--small-width-context`): both trainers draw the same tokens from
/// the same smaller width, so their losses stay equal.
#[test]
fn both_trainers_redraw_the_context_alike() {
    let (config, data, w) = setup();
    let o = TrainOptions { small_width_context: 1.0, ..options() };
    let mut burn_t = Trainer::new(&w, o.clone(), Device::flex()).unwrap();
    let mut torch_t = TorchTrainer::new(&w, o.clone(), MatmulPrecision::F32).unwrap();
    for step in 0..5 {
        let b = make_batch(&config, &o, &data, step);
        let (sb, st) = (burn_t.train_step(&b).unwrap(), torch_t.train_step(&b).unwrap());
        for ((wb, ceb, klb), (_, cet, klt)) in sb.losses.iter().zip(&st.losses) {
            assert!((ceb - cet).abs() < 1e-4 && (klb - klt).abs() < 1e-4, "step {step} width {wb}: burn CE {ceb} KL {klb}, torch CE {cet} KL {klt}");
        }
    }
    let (d, at) = max_abs_diff(&burn_t.weights().unwrap(), &torch_t.weights().unwrap());
    assert!(d < 1e-4, "raw weights after 5 re-drawn steps differ by {d} at {at}");
}

#[test]
fn bf16_trains_within_a_loose_tolerance_of_f32() {
    let (config, data, w) = setup();
    let mut f32_t = TorchTrainer::new(&w, options(), MatmulPrecision::F32).unwrap();
    let mut bf16_t = TorchTrainer::new(&w, options(), MatmulPrecision::Bf16).unwrap();
    let (mut first, mut last) = (Vec::new(), Vec::new());
    for step in 0..30 {
        let b = make_batch(&config, &options(), &data, step);
        let (a, c) = (f32_t.train_step(&b).unwrap(), bf16_t.train_step(&b).unwrap());
        for ((_, x, _), (_, y, _)) in a.losses.iter().zip(&c.losses) {
            assert!((x - y).abs() < 0.05 * x.abs().max(1.0), "step {step}: f32 CE {x}, bf16 CE {y}");
        }
        if step == 0 {
            first = c.losses.clone();
        }
        last = c.losses.clone();
    }
    for ((w, a, _), (_, b, _)) in first.iter().zip(&last) {
        assert!(b < a, "bf16 training lowers the CE at width {w}: {a} -> {b}");
    }
}

#[test]
fn a_checkpoint_resumes_bit_identically() {
    let (config, data, w) = setup();
    let dir = std::env::temp_dir().join(format!("magnets-torch-ckpt-{}", std::process::id()));
    let mut straight = TorchTrainer::new(&w, options(), MatmulPrecision::F32).unwrap();
    let mut first = TorchTrainer::new(&w, options(), MatmulPrecision::F32).unwrap();
    for step in 0..6 {
        let b = make_batch(&config, &options(), &data, step);
        straight.train_step(&b).unwrap();
        if step < 3 {
            first.train_step(&b).unwrap();
        }
    }
    first.save_checkpoint(&dir).unwrap();
    let mut resumed = TorchTrainer::load_checkpoint(&dir, None, MatmulPrecision::F32).unwrap();
    assert_eq!(resumed.step(), 3);
    for step in 3..6 {
        resumed.train_step(&make_batch(&config, &options(), &data, step)).unwrap();
    }
    let (d, at) = max_abs_diff(&straight.export_weights().unwrap(), &resumed.export_weights().unwrap());
    assert_eq!(d, 0.0, "resumed run differs by {d} at {at}");
    // burn's trainer resumes the same checkpoint (fresh AdamW moments: no optimizer.bpk).
    let burn_t = Trainer::load_checkpoint(&dir, None, Device::flex()).unwrap();
    assert_eq!(burn_t.step, 3);
    let _ = std::fs::remove_dir_all(&dir);
}
