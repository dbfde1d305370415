//! `magnets bench`: on one device in one run, the MaskGIT baseline (full width every step,
//! cache off) vs MaGNeTS (small → large schedule, cache on) on the WGSL engine, and both
//! decodes on burn-wgpu (same device kind, same weights, same decode loop). Prints per-step and
//! per-image times, the ratios and the achieved GFLOP/s.

use std::path::PathBuf;

use magnets::config::ModelConfig;
use magnets::decode::{DecodeRequest, DecodeTrace, decode};
use magnets::engine::Engine;
use magnets::gpu::profile::StepProfile;
use magnets::gpu::{GpuEngine, WeightStorage};
use magnets::reference::ReferenceEngine;
use magnets::sampling::SamplingParams;
use magnets::weights::Weights;

use super::common::{parse_cache, parse_schedule};

#[derive(clap::Args)]
pub struct Args {
    /// Weights file; without it, random weights of models/default-config.json (8×8 grid,
    /// K=512, D=128, depth 6) — speed does not depend on the values.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Without --weights: random weights of this model config instead of the default one
    /// (e.g. models/bench-large-config.json, a ViT-B-sized model on a 16×16 grid).
    #[arg(long, conflicts_with = "weights")]
    pub config: Option<PathBuf>,
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    #[arg(long, default_value_t = 12)]
    pub steps: usize,
    #[arg(long, default_value = "baseline")]
    pub baseline: String,
    #[arg(long, default_value = "magnets")]
    pub schedule: String,
    /// Timed runs per configuration (the median is reported), after one warm-up run.
    #[arg(long, default_value_t = 3)]
    pub repeats: usize,
    /// Skip the burn-wgpu comparison.
    #[arg(long)]
    pub no_burn: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u32,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Read back every logit and sample on the CPU (default: sample on the GPU and read back
    /// one code and confidence per masked token).
    #[arg(long)]
    pub cpu_sampling: bool,
    /// Weight buffer of the WGSL engine: f16 (packed, unpacked in the kernels), f32, or auto
    /// (f16 when exact, i.e. for f16 files; the random default weights are f32).
    #[arg(long, value_enum, default_value_t = StorageChoice::Auto)]
    pub weight_storage: StorageChoice,
    /// After the timed rounds, decode once more per configuration with GPU timestamps around
    /// every dispatch and report where each step's time went (needs timestamp queries), plus
    /// the bare host↔GPU round trip of an empty step.
    #[arg(long)]
    pub profile: bool,
    /// Also time both WGSL decodes with the engine waiting for every step before recording the
    /// next (the host-driven decode), interleaved with the others: the ratio shows what running
    /// a step ahead of the host gains on this device.
    #[arg(long)]
    pub compare_waiting: bool,
}

/// `--weight-storage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageChoice {
    Auto,
    F16,
    F32,
}

/// The project's default model config, `models/default-config.json`.
pub fn default_config() -> magnets::Result<ModelConfig> {
    ModelConfig::from_json(include_str!("../../models/default-config.json"))
}

struct Timed {
    ms: f64,
    trace: DecodeTrace,
}

fn once<E: Engine>(engine: &mut E, req: &DecodeRequest) -> magnets::Result<Timed> {
    let t = pollster::block_on(decode(engine, req, |_| {}))?;
    Ok(Timed { ms: t.ms, trace: t })
}

fn median(mut runs: Vec<Timed>) -> Timed {
    runs.sort_by(|a, b| a.ms.total_cmp(&b.ms));
    let mid = runs.len() / 2;
    runs.swap_remove(mid)
}

pub fn run(a: Args) -> magnets::Result<()> {
    super::common::check_count("--batch", a.batch, magnets::decode::MAX_IMAGES)?;
    super::common::check_count("--repeats", a.repeats, 1000)?;
    let weights = match &a.weights {
        Some(p) => Weights::load(p)?,
        None => {
            let config = match &a.config {
                Some(p) => ModelConfig::load(p)?,
                None => default_config()?,
            };
            Weights::init(&config, 0)?
        }
    };
    let config = weights.config.clone();
    let classes: Vec<u32> = (0..a.batch as u32)
        .map(|i| i % config.classes as u32)
        .collect();
    let sampling = SamplingParams {
        seed: a.seed,
        ..Default::default()
    };
    // A clip model continues given frames: any codes do for timing.
    let context: Vec<Vec<u32>> = match config.context_tokens() {
        0 => Vec::new(),
        n => (0..a.batch as u32)
            .map(|b| (0..n as u32).map(|p| magnets::rng::hash(a.seed, b, 0, p, 7) % config.codebook as u32).collect())
            .collect(),
    };
    let baseline = DecodeRequest {
        context: context.clone(),
        schedule: parse_schedule(&a.baseline, a.steps, &config)?,
        cache: parse_cache("off", None)?,
        classes: classes.clone(),
        sampling,
    };
    let magnets_req = DecodeRequest {
        context,
        schedule: parse_schedule(&a.schedule, a.steps, &config)?,
        cache: parse_cache("on", None)?,
        classes,
        sampling,
    };

    let storage = match a.weight_storage {
        StorageChoice::F16 => WeightStorage::F16,
        StorageChoice::F32 => WeightStorage::F32,
        StorageChoice::Auto => WeightStorage::auto(&weights),
    };
    let mut gpu = pollster::block_on(GpuEngine::new_with_storage(&weights, a.batch, storage))?;
    gpu.sample_on_device = !a.cpu_sampling;
    let ahead = gpu.runs_ahead(&sampling);
    if a.compare_waiting && !ahead {
        return Err(magnets::Error::Other("--compare-waiting: this engine does not run ahead here (--cpu-sampling, or a codebook too large for device sampling)".into()));
    }
    // Both decodes again with the engine waiting for every step, when asked.
    let waiting = |gpu: &mut GpuEngine, req: &DecodeRequest| -> magnets::Result<Option<Timed>> {
        if !a.compare_waiting {
            return Ok(None);
        }
        gpu.run_ahead = false;
        let t = once(gpu, req);
        gpu.run_ahead = true;
        t.map(Some)
    };
    let sampling_on = if a.cpu_sampling { "cpu" } else { "device" };
    let device = gpu.adapter_name();
    if !a.json {
        eprintln!(
            "device: {device}; batch {}; {} timed rounds (median), runs interleaved",
            a.batch, a.repeats
        );
    }
    let mut burn_engine = (!a.no_burn).then(|| {
        let dev = burn::tensor::Device::wgpu(burn::tensor::DeviceKind::DefaultDevice);
        ReferenceEngine::on_device(&weights, dev, "burn-wgpu")
    });
    // Warm-up (pipelines, kernel compilation, allocations), then rounds that run every
    // configuration once, so a machine whose load drifts affects all of them alike.
    once(&mut gpu, &baseline)?;
    once(&mut gpu, &magnets_req)?;
    waiting(&mut gpu, &magnets_req)?;
    if let Some(e) = burn_engine.as_mut() {
        once(e, &baseline)?;
        once(e, &magnets_req)?;
    }
    let (mut base_runs, mut mag_runs, mut burn_runs, mut burn_mag_runs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut wait_base_runs, mut wait_mag_runs) = (Vec::new(), Vec::new());
    for _ in 0..a.repeats.max(1) {
        base_runs.push(once(&mut gpu, &baseline)?);
        mag_runs.push(once(&mut gpu, &magnets_req)?);
        wait_base_runs.extend(waiting(&mut gpu, &baseline)?);
        wait_mag_runs.extend(waiting(&mut gpu, &magnets_req)?);
        if let Some(e) = burn_engine.as_mut() {
            burn_runs.push(once(e, &baseline)?);
            burn_mag_runs.push(once(e, &magnets_req)?);
        }
    }
    let base = median(base_runs);
    let mag = median(mag_runs);
    let burn = (!burn_runs.is_empty()).then(|| median(burn_runs));
    let burn_mag = (!burn_mag_runs.is_empty()).then(|| median(burn_mag_runs));
    let wait_base = (!wait_base_runs.is_empty()).then(|| median(wait_base_runs));
    let wait_mag = (!wait_mag_runs.is_empty()).then(|| median(wait_mag_runs));

    let profile = if a.profile { Some(profile(&mut gpu, &baseline, &magnets_req)?) } else { None };

    let b = a.batch as f64;
    let per_image = |t: &Timed| t.ms / b;
    // trace FLOPs are per image; the decode did `batch` images.
    let gflops = |t: &Timed| t.trace.total_flops as f64 * b / 1e9 / (t.ms / 1e3);
    let speedup = per_image(&base) / per_image(&mag);
    let burn_ms = burn.as_ref().map(per_image);
    let speedup_burn = burn_ms.map(|m| m / per_image(&base));
    let burn_mag_ms = burn_mag.as_ref().map(per_image);
    let speedup_burn_mag = burn_mag_ms.map(|m| m / per_image(&mag));
    if a.json {
        outln!(
            "{}",
            serde_json::json!({
                "device": device,
                "batch": a.batch,
                "sampling": sampling_on,
                "runs_ahead": ahead,
                "waiting_baseline_ms_per_image": wait_base.as_ref().map(per_image),
                "waiting_magnets_ms_per_image": wait_mag.as_ref().map(per_image),
                "weight_storage": format!("{storage:?}"),
                "baseline_schedule": base.trace.schedule,
                "magnets_schedule": mag.trace.schedule,
                "baseline_ms_per_image": per_image(&base),
                "magnets_ms_per_image": per_image(&mag),
                "speedup_vs_baseline": speedup,
                "burn_wgpu_ms_per_image": burn_ms,
                "speedup_vs_burn": speedup_burn,
                "burn_wgpu_magnets_ms_per_image": burn_mag_ms,
                "speedup_vs_burn_magnets": speedup_burn_mag,
                "baseline_gflops_per_image": base.trace.total_flops as f64 / 1e9,
                "magnets_gflops_per_image": mag.trace.total_flops as f64 / 1e9,
                "flops_ratio": base.trace.total_flops as f64 / mag.trace.total_flops as f64,
                "baseline_gflop_per_s": gflops(&base),
                "magnets_gflop_per_s": gflops(&mag),
                "burn_wgpu_gflop_per_s": burn.as_ref().map(gflops),
                "baseline_step_ms": base.trace.steps.iter().map(|s| s.ms).collect::<Vec<_>>(),
                "magnets_step_ms": mag.trace.steps.iter().map(|s| s.ms).collect::<Vec<_>>(),
                "profile": profile,
            })
        )?;
        return Ok(());
    }
    let table = |name: &str, t: &Timed| -> magnets::Result<()> {
        outln!("{name}: {} cache {}", t.trace.schedule, t.trace.cache)?;
        for s in &t.trace.steps {
            outln!(
                "  step {:>3} {:>3} {:<7} rows {:>4} {:>8.3} GFLOP {:>9.2} ms",
                s.cost.step,
                s.cost.width_name,
                if s.cost.refresh { "refresh" } else { "cached" },
                s.cost.rows,
                s.cost.flops as f64 * b / 1e9,
                s.ms
            )?;
        }
        outln!(
            "  total {:.1} ms = {:.2} ms/image, {:.3} GFLOP/image, {:.1} GFLOP/s",
            t.ms,
            t.ms / b,
            t.trace.total_flops as f64 / 1e9,
            gflops(t)
        )?;
        Ok(())
    };
    let mode = if ahead { "tokens chosen on the device, a step ahead of the host" } else { "waiting for every step" };
    outln!("device: {device}, batch {}, WGSL sampling on the {sampling_on}, weights {storage:?}, {mode}", a.batch)?;
    table("WGSL baseline", &base)?;
    table("WGSL MaGNeTS", &mag)?;
    if let Some(t) = &wait_base {
        table("WGSL baseline, waiting for every step", t)?;
    }
    if let Some(t) = &wait_mag {
        table("WGSL MaGNeTS, waiting for every step", t)?;
    }
    if let Some(t) = &burn {
        table("burn-wgpu baseline", t)?;
    }
    if let Some(t) = &burn_mag {
        table("burn-wgpu MaGNeTS", t)?;
    }
    outln!(
        "MaGNeTS vs baseline (WGSL): {speedup:.2}x faster per image ({:.2}x fewer FLOPs)",
        base.trace.total_flops as f64 / mag.trace.total_flops as f64
    )?;
    if let (Some(wb), Some(wm)) = (&wait_base, &wait_mag) {
        outln!(
            "running a step ahead vs waiting for every step: baseline {:.2}x, MaGNeTS {:.2}x faster; MaGNeTS vs baseline when waiting {:.2}x",
            per_image(wb) / per_image(&base),
            per_image(wm) / per_image(&mag),
            per_image(wb) / per_image(wm)
        )?;
    }
    if let Some(s) = speedup_burn {
        outln!("WGSL vs burn-wgpu (baseline decode): {s:.2}x faster per image")?;
    }
    if let Some(s) = speedup_burn_mag {
        outln!("WGSL vs burn-wgpu (MaGNeTS decode, cache on): {s:.2}x faster per image")?;
    }
    if let Some(p) = &profile {
        print_profile(p)?;
    }
    Ok(())
}

/// Per-step breakdown of one profiled decode.
#[derive(serde::Serialize)]
struct StepBreakdown {
    step: usize,
    width: String,
    refresh: bool,
    rows: usize,
    /// The decode loop's wall time for the step (host bookkeeping included).
    wall_ms: f64,
    encode_submit_ms: f64,
    wait_readback_ms: f64,
    /// First dispatch start to last dispatch end on the GPU.
    gpu_span_ms: f64,
    /// Sum of the dispatches' own durations.
    gpu_busy_ms: f64,
}

#[derive(serde::Serialize)]
struct DecodeProfile {
    schedule: String,
    steps: Vec<StepBreakdown>,
    /// GPU milliseconds per kind of dispatch over the whole decode, largest first.
    kernels_ms: Vec<(String, f64)>,
    raw: Vec<StepProfile>,
}

#[derive(serde::Serialize)]
struct Profile {
    device: String,
    /// Median of 50 empty steps (an 8-byte copy submitted and read back).
    round_trip_ms: f64,
    baseline: DecodeProfile,
    magnets: DecodeProfile,
}

fn profile(gpu: &mut GpuEngine, baseline: &DecodeRequest, magnets_req: &DecodeRequest) -> magnets::Result<Profile> {
    let mut trips = pollster::block_on(gpu.round_trip_ms(50))?;
    trips.sort_by(f64::total_cmp);
    gpu.enable_profiling()?;
    let mut one = |req: &DecodeRequest| -> magnets::Result<DecodeProfile> {
        gpu.profiles.clear();
        let trace = once(gpu, req)?.trace;
        let raw = std::mem::take(&mut gpu.profiles);
        let mut kernels: Vec<(String, f64)> = Vec::new();
        for d in raw.iter().flat_map(|p| &p.dispatches) {
            match kernels.iter_mut().find(|(n, _)| n == d.name) {
                Some((_, ms)) => *ms += d.end_ms - d.start_ms,
                None => kernels.push((d.name.to_string(), d.end_ms - d.start_ms)),
            }
        }
        kernels.sort_by(|x, y| y.1.total_cmp(&x.1));
        let steps = trace
            .steps
            .iter()
            .zip(&raw)
            .map(|(t, p)| StepBreakdown {
                step: t.cost.step,
                width: t.cost.width_name.clone(),
                refresh: t.cost.refresh,
                rows: t.cost.rows,
                wall_ms: t.ms,
                encode_submit_ms: p.encode_submit_ms,
                wait_readback_ms: p.wait_readback_ms,
                gpu_span_ms: p.dispatches.iter().map(|d| d.end_ms).fold(0.0, f64::max),
                gpu_busy_ms: p.dispatches.iter().map(|d| d.end_ms - d.start_ms).sum(),
            })
            .collect();
        Ok(DecodeProfile { schedule: trace.schedule, steps, kernels_ms: kernels, raw })
    };
    let baseline = one(baseline)?;
    let magnets = one(magnets_req)?;
    gpu.disable_profiling();
    Ok(Profile { device: gpu.adapter_name(), round_trip_ms: trips[trips.len() / 2], baseline, magnets })
}

fn print_profile(p: &Profile) -> magnets::Result<()> {
    outln!("profile on {}: empty step round trip {:.3} ms (median of 50)", p.device, p.round_trip_ms)?;
    for (name, d) in [("baseline", &p.baseline), ("MaGNeTS", &p.magnets)] {
        outln!("{name} {}: ms per step (wall = encode/submit + wait/readback + loop)", d.schedule)?;
        for s in &d.steps {
            outln!(
                "  step {:>3} {:>3} {:<7} rows {:>4}  wall {:>7.3}  submit {:>7.3}  wait {:>7.3}  gpu span {:>7.3}  busy {:>7.3}",
                s.step,
                s.width,
                if s.refresh { "refresh" } else { "cached" },
                s.rows,
                s.wall_ms,
                s.encode_submit_ms,
                s.wait_readback_ms,
                s.gpu_span_ms,
                s.gpu_busy_ms
            )?;
        }
        let kernels: Vec<String> = d.kernels_ms.iter().map(|(n, ms)| format!("{n} {ms:.3}")).collect();
        outln!("  GPU ms by kernel: {}", kernels.join(", "))?;
    }
    Ok(())
}
