//! `magnets train --bench N`: training throughput of each `--device`, measured in one run.
//!
//! Every device trains the same init on the same batches for `--bench-warmup` untimed steps
//! and then N timed ones — the real training step (every width, distillation, AdamW, EMA) —
//! so the loss curves double as a correctness check: a backend whose curves drift from the
//! first device's by more than the seed-to-seed noise (`--bench-noise`) computes something else.

use magnets::config::ModelConfig;
use magnets::train::{TokenDataset, make_batch};
use serde::Serialize;

use super::train::Args;
use super::train::data::load_data;
use super::train::device::TrainDevice;

/// Synthetic images when neither `--data` nor `--synthetic` is given.
const DEFAULT_SYNTHETIC: usize = 2048;

#[derive(Serialize)]
struct DeviceResult {
    device: String,
    images_per_s: f64,
    train_gflops_per_s: f64,
    timed_seconds: f64,
    /// images/s over the first device's.
    speedup: f64,
    /// Mean CE per width over the last tenth of the run.
    final_ce: Vec<f64>,
    /// Mean |CE − first device's CE| per width over windows of a tenth of the run.
    curve_gap: Vec<f64>,
    /// The loss curve per width as the means of those windows (to compare across builds).
    ce_windows: Vec<Vec<f64>>,
}

struct Run {
    seconds: f64,
    images: u64,
    train_flops: f64,
    /// `ce[w][step]`.
    ce: Vec<Vec<f64>>,
}

fn train_steps(spec: &str, a: &Args, config: &ModelConfig, data: &TokenDataset, steps: u64, seed: u64) -> magnets::Result<Run> {
    let dev = TrainDevice::parse(spec)?;
    let total = a.benchmark.bench_warmup + steps;
    let mut options = a.optimizer.train_options(total, false)?;
    options.seed = seed;
    let mut t = dev.new_trainer(&a.init_weights(config)?, options.clone())?;
    let mut run = Run { seconds: 0.0, images: 0, train_flops: 0.0, ce: vec![Vec::new(); config.widths.len()] };
    let mut start = None;
    while t.step() < total {
        if t.step() == a.benchmark.bench_warmup {
            start = Some(web_time::Instant::now());
        }
        let batch = make_batch(config, &options, data, t.step());
        let s = t.train_step(&batch)?;
        for &(w, ce, _) in &s.losses {
            run.ce[w].push(ce as f64);
        }
        if start.is_some() {
            run.images += options.batch_size as u64;
            run.train_flops += 3.0 * s.forward_flops as f64;
        }
    }
    run.seconds = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    Ok(run)
}

/// Window means of a curve: `parts` windows of equal length (the last takes the rest).
fn windows(curve: &[f64], parts: usize) -> Vec<f64> {
    let len = (curve.len() / parts).max(1);
    curve.chunks(len).map(|c| c.iter().sum::<f64>() / c.len() as f64).collect()
}

fn gap(a: &[f64], b: &[f64]) -> f64 {
    let (wa, wb) = (windows(a, 10), windows(b, 10));
    let n = wa.len().min(wb.len()).max(1);
    wa.iter().zip(&wb).map(|(x, y)| (x - y).abs()).sum::<f64>() / n as f64
}

pub fn run(a: &Args, steps: u64) -> magnets::Result<()> {
    if steps == 0 {
        return Err(magnets::Error::Other("--bench: give at least 1 timed step".into()));
    }
    let config = a.fresh_config()?;
    let data = if a.dataset.data.is_none() && a.dataset.synthetic.is_none() {
        let d = TokenDataset::synthetic(&config, DEFAULT_SYNTHETIC, a.optimizer.seed as u32);
        d.check(&config)?;
        d
    } else {
        load_data(a, &config)?.0
    };
    let specs: Vec<&str> = a.device.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if specs.is_empty() {
        return Err(magnets::Error::Other("--device: give at least one device".into()));
    }
    // Fail on a bad spec before spending minutes on the others.
    for s in &specs {
        TrainDevice::parse(s)?;
    }
    eprintln!(
        "train bench: D={} depth={} widths={:?} ({} parameters), batch {}, {} + {} steps per device, {} images",
        config.dim,
        config.depth,
        config.widths,
        config.parameter_count(),
        a.optimizer.batch,
        a.benchmark.bench_warmup,
        steps,
        data.len()
    );
    let mut runs = Vec::new();
    for s in &specs {
        eprintln!("== {s}");
        let r = train_steps(s, a, &config, &data, steps, a.optimizer.seed)?;
        eprintln!("   {:.1} images/s", r.images as f64 / r.seconds);
        runs.push(r);
    }
    let noise = if a.benchmark.bench_noise {
        eprintln!("== {} with seed {} (noise floor)", specs[0], a.optimizer.seed + 1);
        Some(train_steps(specs[0], a, &config, &data, steps, a.optimizer.seed + 1)?)
    } else {
        None
    };
    let first_ips = runs[0].images as f64 / runs[0].seconds;
    let results: Vec<DeviceResult> = specs
        .iter()
        .zip(&runs)
        .map(|(s, r)| {
            let ips = r.images as f64 / r.seconds;
            DeviceResult {
                device: s.to_string(),
                images_per_s: ips,
                train_gflops_per_s: r.train_flops / r.seconds / 1e9,
                timed_seconds: r.seconds,
                speedup: ips / first_ips,
                final_ce: r.ce.iter().map(|c| *windows(c, 10).last().unwrap_or(&f64::NAN)).collect(),
                curve_gap: r.ce.iter().zip(&runs[0].ce).map(|(c, c0)| gap(c, c0)).collect(),
                ce_windows: r.ce.iter().map(|c| windows(c, 10)).collect(),
            }
        })
        .collect();
    let noise_gap: Option<Vec<f64>> = noise.as_ref().map(|n| n.ce.iter().zip(&runs[0].ce).map(|(c, c0)| gap(c, c0)).collect());
    let names = &config.width_names;
    if a.benchmark.json {
        let out = serde_json::json!({
            "config": { "dim": config.dim, "depth": config.depth, "widths": config.widths, "parameters": config.parameter_count() },
            "batch": a.optimizer.batch,
            "warmup_steps": a.benchmark.bench_warmup,
            "timed_steps": steps,
            "images": data.len(),
            "width_names": names,
            "results": results,
            "noise_curve_gap": noise_gap,
            "noise_ce_windows": noise.as_ref().map(|n| n.ce.iter().map(|c| windows(c, 10)).collect::<Vec<_>>()),
        });
        outln!("{}", serde_json::to_string_pretty(&out).expect("serialisable"))?;
        return Ok(());
    }
    outln!("{:<12} {:>9} {:>9} {:>8}  final CE {:<28} curve gap vs {}", "device", "images/s", "GFLOP/s", "speedup", names.join("/"), specs[0])?;
    let fmt = |v: &[f64]| v.iter().map(|x| format!("{x:.3}")).collect::<Vec<_>>().join("/");
    for r in &results {
        outln!(
            "{:<12} {:>9.1} {:>9.1} {:>7.2}x  {:<37} {}",
            r.device,
            r.images_per_s,
            r.train_gflops_per_s,
            r.speedup,
            fmt(&r.final_ce),
            fmt(&r.curve_gap)
        )?;
    }
    if let Some(g) = noise_gap {
        outln!("noise floor (same device, seed {}): curve gap {}", a.optimizer.seed + 1, fmt(&g))?;
    }
    Ok(())
}
