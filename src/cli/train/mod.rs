//! `magnets train`: nested MaskGIT training with online distillation (see `magnets::train`).
//!
//! A run lives in `--out DIR`: `DIR/checkpoint/` (resumable: model, optimizer state, EMA,
//! step), `DIR/train.jsonl` (one line per logged step), `DIR/samples_<step>.png` (a sample
//! grid when `--tokenizer` is given), and at the end `DIR/model.safetensors` (f16, EMA weights
//! when enabled) plus a copy at `--export` when given.
//!
//! Here: the run loop. The flags are in `args`, `--device` and building a trainer in `device`,
//! the token data in `data`, checkpoints, held-out CE and sample grids in `outputs`.

pub mod args;
pub mod data;
pub mod device;
mod outputs;

use std::io::Write;

use indicatif::{ProgressBar, ProgressStyle};
use magnets::train::make_batch;
use magnets::weights::{StoredDtype, Weights};

pub use args::Args;
use data::load_data;
use device::TrainDevice;
use outputs::{sample_grid, save_checkpoint, validate};

/// Training allocates and frees the same large activation buffers every step; glibc's default
/// returns them to the kernel (mmap above 128 KiB, trim above 128 KiB), so each step paid for
/// page faults and zeroed pages again (~15% of a step on this CPU, for every `--device`).
/// Keep them in the heap instead.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before the training threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20); // glibc's maximum
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

pub fn run(a: Args) -> magnets::Result<()> {
    keep_freed_memory();
    if let Some(steps) = a.benchmark.bench {
        return super::train_bench::run(&a, steps);
    }
    let ckpt = a.out.join("checkpoint");
    // Resume from the run's own checkpoint, else from its committed snapshot.
    let resume_from = [Some(ckpt.clone()), a.snapshot.clone()]
        .into_iter()
        .flatten()
        .find(|d| !a.fresh && d.join("state.json").exists());
    let resume = resume_from.is_some();
    let config = match &resume_from {
        Some(dir) => Weights::load(&dir.join("model.safetensors"))?.config,
        None => a.fresh_config()?,
    };
    let (data, val) = load_data(&a, &config)?;
    let per_epoch = (data.len() / a.optimizer.batch).max(1) as u64;
    let total_steps = a.length.steps.unwrap_or((a.length.epochs * per_epoch as f64).ceil() as u64).max(1);
    let options = a.optimizer.train_options(total_steps, a.augment.loop_frames)?;
    let dev = TrainDevice::parse(&a.device)?;
    std::fs::create_dir_all(&a.out)?;
    let mut trainer = if let Some(dir) = &resume_from {
        // A resumed run keeps its stored options (schedule included) unless --steps is given.
        let mut t = dev.resume_trainer(dir)?;
        if let Some(steps) = a.length.steps {
            t.set_total_steps(steps);
        }
        let _ = options;
        eprintln!("resumed {} at step {}", dir.display(), t.step());
        t
    } else {
        dev.new_trainer(&a.init_weights(&config)?, options)?
    };
    let mut o = trainer.options().clone();
    let per_epoch = (data.len() / o.batch_size).max(1) as u64;
    eprintln!(
        "model D={} depth={} widths={:?} ({} parameters); {} images, batch {}, {} steps/epoch, schedule {} steps ({:.1} epochs), widths/step {:?}, device {}",
        config.dim,
        config.depth,
        config.widths,
        config.parameter_count(),
        data.len(),
        o.batch_size,
        per_epoch,
        o.total_steps,
        o.total_steps as f64 / per_epoch as f64,
        o.widths,
        a.device
    );

    let mut stop_step = a.length.max_steps.map_or(o.total_steps, |m| (trainer.step() + m).min(o.total_steps));
    let run_start = web_time::Instant::now();
    let first_step = trainer.step();
    let mut calib: Option<(u64, web_time::Instant)> = None;
    let mut refit: Option<(u64, web_time::Instant)> = None;
    let max_total = match (a.length.steps, resume) {
        (Some(s), _) => s,
        (None, false) => o.total_steps,
        (None, true) => ((a.length.epochs * per_epoch as f64).ceil() as u64).max(o.total_steps),
    };
    let deadline = a.length.minutes.map(|m| web_time::Instant::now() + std::time::Duration::from_secs_f64(m * 60.0));
    let bar = ProgressBar::new(o.total_steps);
    bar.set_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} (eta {eta}) {msg}")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_position(trainer.step());
    let mut log = std::fs::OpenOptions::new().create(true).append(true).open(a.out.join("train.jsonl"))?;
    let names = config.width_names.clone();
    // Running means for the bar (reset every log interval).
    let mut acc = vec![(0.0f64, 0.0f64, 0usize); config.widths.len()];
    let (mut win_images, mut win_flops, mut win_secs) = (0u64, 0u64, 0.0f64);
    while trainer.step() < stop_step {
        if deadline.is_some_and(|d| web_time::Instant::now() >= d) {
            eprintln!("time limit reached");
            break;
        }
        if let Some(budget) = a.length.budget_minutes {
            // Skip the first steps (kernel compilation on GPUs), then time `calibrate` steps.
            if trainer.step() == first_step + 5 {
                calib = Some((trainer.step(), web_time::Instant::now()));
            } else if let Some((s0, t0)) = calib.filter(|(s0, _)| trainer.step() == s0 + a.length.calibrate) {
                let per_step = t0.elapsed().as_secs_f64() / (trainer.step() - s0) as f64;
                let left = budget * 60.0 - run_start.elapsed().as_secs_f64() - 30.0;
                let fit = trainer.step() + (left.max(0.0) / per_step) as u64;
                let total = fit.min(max_total).max(trainer.step() + 1);
                eprintln!(
                    "calibration: {:.3} s/step ({:.1} img/s); schedule set to {total} steps ({:.1} epochs) to fit {budget} min",
                    per_step,
                    o.batch_size as f64 / per_step,
                    total as f64 / per_epoch as f64
                );
                trainer.set_total_steps(total);
                o.total_steps = total;
                stop_step = stop_step.min(total);
                bar.set_length(total);
                calib = None;
                refit = Some((trainer.step(), web_time::Instant::now()));
            }
        }
        let batch = make_batch(&config, &o, &data, trainer.step());
        let s = trainer.train_step(&batch)?;
        for &(w, ce, kl) in &s.losses {
            acc[w].0 += ce as f64;
            acc[w].1 += kl as f64;
            acc[w].2 += 1;
        }
        win_images += o.batch_size as u64;
        win_flops += 3 * s.forward_flops;
        win_secs += s.seconds;
        bar.set_position(trainer.step());
        if trainer.step() % a.outputs.log_every == 0 || trainer.step() == stop_step {
            let per_width: Vec<String> = acc
                .iter()
                .enumerate()
                .filter(|(_, a)| a.2 > 0)
                .map(|(w, a)| format!("{} {:.3}", names[w], a.0 / a.2 as f64))
                .collect();
            let ips = win_images as f64 / win_secs.max(1e-9);
            let gfs = win_flops as f64 / win_secs.max(1e-9) / 1e9;
            bar.set_message(format!(
                "ep {:.2} lr {:.2e} | CE {} | {:.1} img/s {:.1} GFLOP/s",
                trainer.step() as f64 / per_epoch as f64,
                s.lr,
                per_width.join(" "),
                ips,
                gfs
            ));
            let entry = serde_json::json!({
                "step": trainer.step(),
                "epoch": trainer.step() as f64 / per_epoch as f64,
                "lr": s.lr,
                "ce": acc.iter().map(|a| if a.2 > 0 { Some(a.0 / a.2 as f64) } else { None }).collect::<Vec<_>>(),
                "kl": acc.iter().map(|a| if a.2 > 0 { Some(a.1 / a.2 as f64) } else { None }).collect::<Vec<_>>(),
                "images_per_s": ips,
                "train_gflops_per_s": gfs,
                "train_seconds": trainer.train_seconds(),
            });
            writeln!(log, "{entry}")?;
            acc.iter_mut().for_each(|a| *a = (0.0, 0.0, 0));
            (win_images, win_flops, win_secs) = (0, 0, 0.0);
        }
        if trainer.step() % a.outputs.checkpoint_every == 0 {
            // Re-fit the schedule to the budget from the step time of the last interval (the
            // CPU here is shared, so throughput drifts); the cosine decay then still completes.
            if let (Some(budget), None) = (a.length.budget_minutes, calib) {
                if let Some((s0, t0)) = refit.replace((trainer.step(), web_time::Instant::now())) {
                    let per_step = t0.elapsed().as_secs_f64() / (trainer.step() - s0).max(1) as f64;
                    let left = budget * 60.0 - run_start.elapsed().as_secs_f64() - 30.0;
                    let total = (trainer.step() + (left.max(0.0) / per_step) as u64).min(max_total).max(trainer.step() + 1);
                    if total != o.total_steps {
                        eprintln!("refit: {per_step:.3} s/step; schedule {} → {total} steps", o.total_steps);
                        trainer.set_total_steps(total);
                        o.total_steps = total;
                        stop_step = a.length.max_steps.map_or(total, |m| (first_step + m).min(total));
                        bar.set_length(total);
                    }
                }
            }
            save_checkpoint(trainer.as_ref(), &ckpt, a.snapshot.as_deref())?;
            if let Some(v) = &val {
                let ce = validate(trainer.as_ref(), v)?;
                let txt: Vec<String> = ce.iter().enumerate().map(|(w, c)| format!("{} {c:.3}", names[w])).collect();
                bar.println(format!("step {} held-out CE: {}", trainer.step(), txt.join(" ")));
                writeln!(log, "{}", serde_json::json!({ "step": trainer.step(), "val_ce": ce }))?;
            }
        }
        if a.outputs.sample_every > 0 && trainer.step() % a.outputs.sample_every == 0 {
            if let Some(tok) = &a.outputs.tokenizer {
                let p = a.out.join(format!("samples_{:06}.png", trainer.step()));
                if let Err(e) = sample_grid(&trainer.export_weights()?, tok, &p, val.as_ref()) {
                    bar.println(format!("sample grid skipped: {e}"));
                }
            }
        }
    }
    bar.finish();
    save_checkpoint(trainer.as_ref(), &ckpt, a.snapshot.as_deref())?;
    if let Some(v) = &val {
        let ce = validate(trainer.as_ref(), v)?;
        eprintln!("final held-out CE per width: {ce:?}");
        writeln!(log, "{}", serde_json::json!({ "step": trainer.step(), "val_ce": ce }))?;
    }
    let w = trainer.export_weights()?;
    w.save(&a.out.join("model.safetensors"), StoredDtype::F16)?;
    if let Some(p) = &a.outputs.export {
        w.save(p, StoredDtype::F16)?;
        eprintln!("wrote {}", p.display());
    }
    if let Some(tok) = &a.outputs.tokenizer {
        let p = a.out.join("samples_final.png");
        if let Err(e) = sample_grid(&w, tok, &p, val.as_ref()) {
            eprintln!("sample grid skipped: {e}");
        }
    }
    eprintln!(
        "step {} of {} ({:.2} epochs); {:.1} min training, {:.3} PFLOP (3x forward)",
        trainer.step(),
        o.total_steps,
        trainer.step() as f64 / per_epoch as f64,
        trainer.train_seconds() / 60.0,
        3.0 * trainer.forward_flops() as f64 / 1e15
    );
    Ok(())
}
