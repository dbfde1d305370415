//! The WGSL engine against the burn reference (burn-flex on the CPU), on whatever adapter
//! wgpu finds (lavapipe in CI). Without an adapter these tests FAIL, unless
//! MAGNETS_SKIP_GPU_TESTS=1.
#![cfg(all(feature = "gpu", feature = "reference"))]

mod common;

use common::default_config;

use magnets::config::ModelConfig;
use magnets::decode::{DecodeRequest, decode};
use magnets::engine::{Engine, ForwardRequest};
use magnets::gpu::GpuEngine;
use magnets::reference::ReferenceEngine;
use magnets::sampling::{GuidanceSchedule, SamplingParams};
use magnets::schedule::{CachePolicy, Schedule};
use magnets::weights::Weights;

/// One GPU test at a time: several devices created and polled from parallel test threads
/// sometimes hung on an NVIDIA driver (H200, Vulkan), never on lavapipe. The engine itself is
/// single-device (the page and the CLI hold one), so the tests take turns.
static ONE_DEVICE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn take_turn() -> std::sync::MutexGuard<'static, ()> {
    ONE_DEVICE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn skip() -> bool {
    std::env::var("MAGNETS_SKIP_GPU_TESTS").is_ok_and(|v| v == "1")
}

/// The engine, or None when GPU tests are explicitly skipped; panics (fails) otherwise.
fn gpu(weights: &Weights, max_batch: usize) -> Option<GpuEngine> {
    match pollster::block_on(GpuEngine::new(weights, max_batch)) {
        Ok(e) => {
            eprintln!("adapter: {}", e.adapter_name());
            Some(e)
        }
        Err(e) if skip() => {
            eprintln!("skipping GPU test (MAGNETS_SKIP_GPU_TESTS=1): {e}");
            None
        }
        Err(e) => panic!(
            "no usable GPU adapter ({e}); install mesa-vulkan-drivers or set MAGNETS_SKIP_GPU_TESTS=1"
        ),
    }
}

/// A small model with odd sizes: 3×5 grid, codebook 37, head_dim 12, three widths, mlp ratio 3.
fn odd_config() -> ModelConfig {
    ModelConfig {
        grid: [3, 5],
        frames: 1,
        context_frames: 0,
        codebook: 37,
        classes: 2,
        class_names: vec!["x".into(), "y".into()],
        styles: vec![],
        dim: 60,
        depth: 3,
        head_dim: 12,
        mlp_ratio: 3,
        widths: vec![12, 36, 60],
        width_names: vec!["S".into(), "M".into(), "XL".into()],
    }
}

/// Random weights with larger matrices, non-trivial biases and gains, so logits are far from
/// flat and every term of the block matters.
fn spicy_weights(config: &ModelConfig, seed: u64) -> Weights {
    let mut w = Weights::init(config, seed).unwrap();
    let mut names: Vec<String> = w.tensors.keys().cloned().collect();
    names.sort();
    for (ti, name) in names.iter().enumerate() {
        let t = w.tensors.get_mut(name).unwrap();
        for (j, v) in t.data.iter_mut().enumerate() {
            let u = magnets::rng::uniform(seed as u32, 7, ti as u32, j as u32, 3) - 0.5;
            if name.ends_with("gamma") {
                *v = 1.0 + 0.4 * u;
            } else if t.shape.len() == 1 {
                *v = 0.2 * u;
            } else {
                *v *= 5.0;
            }
        }
    }
    w.validate().unwrap();
    w
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn spread(a: &[f32]) -> f32 {
    let mx = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mn = a.iter().copied().fold(f32::INFINITY, f32::min);
    mx - mn
}

/// Pseudo-random ascending subset of `0..n` of size `k`.
fn subset(n: usize, k: usize, salt: u32) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| magnets::rng::hash(salt, 1, 2, i as u32, 0));
    let mut s = order[..k].to_vec();
    s.sort_unstable();
    s
}

/// Refresh, then two cached steps, at every width; batch 3; compares every logit.
fn parity(config: &ModelConfig, seed: u64) -> f32 {
    let w = spicy_weights(config, seed);
    let Some(mut g) = gpu(&w, 4) else { return 0.0 };
    let mut c = ReferenceEngine::cpu(&w);
    let n = config.tokens();
    let k = config.codebook as u32;
    let batch = 3;
    let classes: Vec<u32> = (0..batch as u32)
        .map(|b| b % (config.classes as u32 + 1))
        .collect();
    let mut worst = 0f32;
    for width in 0..config.widths.len() {
        pollster::block_on(g.begin(batch)).unwrap();
        pollster::block_on(c.begin(batch)).unwrap();
        // Masked counts shrink step by step, like a decode.
        let masked_counts = [n - 2, n / 2, 3];
        let mut tokens = vec![k; batch * n];
        let mut masked: Vec<Vec<usize>> = Vec::new();
        for b in 0..batch {
            let m = subset(
                n,
                masked_counts[0],
                (seed as u32) ^ (b as u32 * 31 + width as u32),
            );
            for i in 0..n {
                if !m.contains(&i) {
                    tokens[b * n + i] =
                        magnets::rng::hash(seed as u32, b as u32, 9, i as u32, 1) % k;
                }
            }
            masked.push(m);
        }
        for (step, &mc) in masked_counts.iter().enumerate() {
            let mut rows = Vec::new();
            if step > 0 {
                // Fix some masked tokens: those rows (changed input) plus the still-masked rows are active.
                for b in 0..batch {
                    let keep = subset(
                        masked[b].len(),
                        mc,
                        seed as u32 + step as u32 * 7 + b as u32,
                    );
                    let still: Vec<usize> = keep.iter().map(|&j| masked[b][j]).collect();
                    let mut active: Vec<u32> = masked[b].iter().map(|&i| i as u32 + 1).collect();
                    for &i in &masked[b] {
                        if !still.contains(&i) {
                            tokens[b * n + i] =
                                magnets::rng::hash(seed as u32, b as u32, step as u32, i as u32, 2)
                                    % k;
                        }
                    }
                    active.sort_unstable();
                    rows.extend(active);
                    masked[b] = still;
                }
            }
            let logit_rows: Vec<u32> = masked
                .iter()
                .flat_map(|m| m.iter().map(|&i| i as u32 + 1))
                .collect();
            let req = ForwardRequest {
                width,
                batch,
                tokens: &tokens,
                classes: &classes,
                rows: (step > 0).then_some(rows.as_slice()),
                logit_rows: &logit_rows,
            };
            let lg = pollster::block_on(g.forward(&req)).unwrap();
            let lc = pollster::block_on(c.forward(&req)).unwrap();
            let diff = max_abs_diff(&lg, &lc);
            eprintln!(
                "width {} step {step} ({}) rows/seq {} logits {}: max |Δ| {diff:.2e}, logit spread {:.2}",
                config.widths[width],
                if step == 0 { "refresh" } else { "cached" },
                req.rows_per_sequence(config),
                lc.len(),
                spread(&lc)
            );
            assert!(spread(&lc) > 1.0, "logits too flat for a meaningful check");
            assert!(
                diff <= 1e-3,
                "width {} step {step}: max |Δlogit| {diff}",
                config.widths[width]
            );
            worst = worst.max(diff);
        }
    }
    assert_eq!(
        g.flops_performed(),
        c.flops_performed(),
        "FLOPs counted from dispatch sizes vs the reference's matmul shapes"
    );
    worst
}

#[test]
fn parity_tiny_every_width_refresh_and_cached() {
    let _turn = take_turn();
    let worst = parity(&ModelConfig::tiny(), 1);
    eprintln!("tiny: worst |Δlogit| {worst:.2e}");
}

#[test]
fn parity_odd_sizes_every_width_refresh_and_cached() {
    let _turn = take_turn();
    let worst = parity(&odd_config(), 2);
    eprintln!("odd: worst |Δlogit| {worst:.2e}");
}

/// End to end with the default model size (random init weights): the same tokens on both
/// engines for the MaGNeTS schedule with the cache, and the FLOP counter equals flops.rs.
#[test]
fn decode_same_tokens_and_flops() {
    let _turn = take_turn();
    let config = default_config();
    let w = Weights::init(&config, 5).unwrap();
    let Some(mut g) = gpu(&w, 8) else { return };
    let mut c = ReferenceEngine::cpu(&w);
    let cache_on = CachePolicy::On {
        refresh_every: None,
    };
    for (schedule, cache, guidance, guidance_schedule) in [
        ("S3M3L3XL3", cache_on, 0.0, GuidanceSchedule::Constant),
        ("M2XL4", CachePolicy::Off, 1.5, GuidanceSchedule::Constant),
        // The ramp: both engines scale the guidance per step the same way.
        ("M2L2XL2", cache_on, 2.0, GuidanceSchedule::Linear),
    ] {
        let req = DecodeRequest {
            context: Vec::new(),
            schedule: Schedule::parse(schedule, &config).unwrap(),
            cache,
            classes: vec![0, 3, 9],
            sampling: SamplingParams {
                seed: 11,
                guidance,
                guidance_schedule,
                ..Default::default()
            },
        };
        let before = g.flops_performed();
        let tg = pollster::block_on(decode(&mut g, &req, |_| {})).unwrap();
        let tc = pollster::block_on(decode(&mut c, &req, |_| {})).unwrap();
        // The trace counts FLOPs per image (both guidance passes) with flops.rs formulas.
        let images = req.classes.len() as u64;
        assert_eq!(
            g.flops_performed() - before,
            images * tg.total_flops,
            "{schedule}: engine FLOPs vs flops.rs"
        );
        let planned: u64 = magnets::plan::plan(&config, &req.schedule, cache, guidance > 0.0)
            .iter()
            .map(|s| s.flops)
            .sum();
        assert_eq!(tg.total_flops, planned, "{schedule}: trace vs plan");
        let mut differing = 0;
        for (a, b) in tg.tokens.iter().flatten().zip(tc.tokens.iter().flatten()) {
            differing += (a != b) as usize;
        }
        eprintln!(
            "{schedule}: {differing} of {} tokens differ; {:.3} GFLOPs",
            3 * config.tokens(),
            tg.total_flops as f64 / 1e9
        );
        assert_eq!(
            tg.tokens, tc.tokens,
            "{schedule}: tokens differ between the WGSL and burn engines"
        );
    }
}

/// The decode that runs ahead (the device chooses each step's tokens and prepares the next
/// step's rows, shaders/advance.wgsl) gives the same trace as the one that waits for every
/// step: every step's tokens, guesses and states, over refreshes, cached steps, guidance and a
/// batch. In the last case positions n and n + N/2 share their position embedding, and without
/// noise or sampling their proposals are the same bits: the tie rule (the lower position first)
/// decides which of the two is fixed, and a device that broke ties the other way would process
/// other rows from then on.
#[test]
fn running_ahead_gives_the_trace_of_waiting_for_each_step() {
    let _turn = take_turn();
    let config = default_config();
    let w = Weights::init(&config, 7).unwrap();
    let mut paired = w.clone();
    let (n, d) = (config.tokens(), config.dim);
    let positions = &mut paired.tensors.get_mut("positions.embedding").unwrap().data;
    for p in 1..=n / 2 {
        positions.copy_within(p * d..(p + 1) * d, (p + n / 2) * d);
    }
    for (weights, schedule, cache, sampling) in [
        (&w, "S3M3L3XL3", CachePolicy::On { refresh_every: None }, SamplingParams { seed: 3, ..Default::default() }),
        (&w, "M2L3XL3", CachePolicy::On { refresh_every: Some(2) }, SamplingParams { seed: 4, guidance: 1.5, ..Default::default() }),
        (&w, "L4XL4", CachePolicy::Off, SamplingParams { seed: 5, temperature: 0.0, ..Default::default() }),
        (&paired, "S2M2XL4", CachePolicy::On { refresh_every: None }, SamplingParams { seed: 6, temperature: 0.0, confidence_noise: 0.0, ..Default::default() }),
    ] {
        let Some(mut g) = gpu(weights, 10) else { return };
        let req = DecodeRequest {
            context: Vec::new(),
            schedule: Schedule::parse(schedule, &config).unwrap(),
            cache,
            classes: vec![0, 3, 9, 1, 5],
            sampling,
        };
        assert!(g.runs_ahead(&req.sampling), "the default WGSL engine runs ahead");
        let ahead = pollster::block_on(decode(&mut g, &req, |_| {})).unwrap();
        g.run_ahead = false;
        assert!(!g.runs_ahead(&req.sampling));
        let waiting = pollster::block_on(decode(&mut g, &req, |_| {})).unwrap();
        assert_eq!(ahead.steps.len(), waiting.steps.len());
        for (a, b) in ahead.steps.iter().zip(&waiting.steps) {
            assert_eq!((&a.tokens, &a.predicted, &a.states), (&b.tokens, &b.predicted, &b.states), "{schedule}: step {}", a.cost.step);
            assert_eq!(a.cost, b.cost);
        }
        assert_eq!(ahead.tokens, waiting.tokens, "{schedule}");
    }
}

/// A clip model (the shipped Animate config: 8 frames, 513 rows, the first frame given) on the
/// WGSL engine: the given frame survives, and the tokens and FLOPs equal the burn engine's.
#[test]
fn clip_decode_same_tokens_and_flops() {
    let _turn = take_turn();
    let text = std::fs::read_to_string(common::repo_file("models/magnets-anim.config.json")).unwrap();
    let config = ModelConfig::from_json(&text).unwrap();
    assert!(config.is_clip() && config.context_frames == 1);
    let w = Weights::init(&config, 8).unwrap();
    let Some(mut g) = gpu(&w, 2) else { return };
    let mut c = ReferenceEngine::cpu(&w);
    let context: Vec<Vec<u32>> =
        (0..2u32).map(|b| (0..config.context_tokens() as u32).map(|p| (p * 7 + b * 101) % config.codebook as u32).collect()).collect();
    let req = DecodeRequest {
        context: context.clone(),
        schedule: Schedule::parse("S3M3L3XL3", &config).unwrap(),
        cache: CachePolicy::On { refresh_every: None },
        classes: vec![0, 4],
        sampling: SamplingParams { seed: 2, ..Default::default() },
    };
    let before = g.flops_performed();
    let tg = pollster::block_on(decode(&mut g, &req, |_| {})).unwrap();
    let tc = pollster::block_on(decode(&mut c, &req, |_| {})).unwrap();
    assert_eq!(g.flops_performed() - before, 2 * tg.total_flops);
    for (b, ctx) in context.iter().enumerate() {
        assert_eq!(&tg.tokens[b][..ctx.len()], &ctx[..], "the given frame changed");
    }
    assert_eq!(tg.tokens, tc.tokens, "tokens differ between the WGSL and burn engines");
    assert!(tg.flops_ratio() > 3.0, "MaGNeTS with the cache: {:.2}x less compute", tg.flops_ratio());
}

/// On-device sampling (shaders/sample.wgsl) against the CPU sampler on the same logits: the
/// same code for every masked token and the same confidence up to float rounding, with and
/// without guidance, sampled and greedy.
#[test]
fn device_sampling_matches_cpu_sampling() {
    let _turn = take_turn();
    use magnets::engine::{StepContext, propose_from_logits};
    for config in [ModelConfig::tiny(), default_config()] {
        let w = spicy_weights(&config, 3);
        let images = 3;
        let Some(mut g) = gpu(&w, 2 * images) else { return };
        let n = config.tokens();
        for (temperature, guidance) in [(1.0, 0.0), (0.7, 2.0), (0.0, 0.0), (1.3, 0.5)] {
            let streams = if guidance > 0.0 { 2 * images } else { images };
            pollster::block_on(g.begin(streams)).unwrap();
            let tokens: Vec<u32> = (0..streams * n)
                .map(|i| if i % 3 == 0 { (i * 7 % config.codebook) as u32 } else { config.mask_id() })
                .collect();
            let mut classes: Vec<u32> = (0..images as u32).collect();
            if guidance > 0.0 {
                classes.extend(std::iter::repeat_n(config.null_class(), images));
            }
            let logit_rows: Vec<u32> = (0..streams)
                .flat_map(|_| (1..=n as u32).filter(|p| (p - 1) % 3 != 0))
                .collect();
            let req = ForwardRequest {
                width: config.widths.len() - 1,
                batch: streams,
                tokens: &tokens,
                classes: &classes,
                rows: None,
                logit_rows: &logit_rows,
            };
            let params = SamplingParams { seed: 7, temperature, guidance, ..Default::default() };
            let ctx = StepContext { step: 2, total_steps: 8, images };
            let logits = pollster::block_on(g.forward(&req)).unwrap();
            let cpu = propose_from_logits(config.codebook, &logits, &req, &params, ctx).unwrap();
            let dev = pollster::block_on(g.propose(&req, &params, ctx)).unwrap();
            assert_eq!(dev.len(), cpu.len());
            let codes_differ = dev.iter().zip(&cpu).filter(|(a, b)| a.code != b.code).count();
            let worst = dev.iter().zip(&cpu).map(|(a, b)| (a.confidence - b.confidence).abs()).fold(0.0f32, f32::max);
            eprintln!(
                "K {} T {temperature} s {guidance}: {codes_differ} of {} codes differ, max |Δconfidence| {worst:.2e}",
                config.codebook,
                cpu.len()
            );
            assert_eq!(codes_differ, 0, "device and CPU sampling chose different codes");
            assert!(worst < 1e-4, "confidences differ by {worst}");
        }
    }
}

/// A seed whose confidence draw for some masked row falls in the top 24-bit hash bucket (where
/// an unclamped uniform is 1.0 and the Gumbel sample infinite): both samplers clamp it alike.
#[test]
fn device_sampling_is_finite_in_the_top_hash_bucket() {
    let _turn = take_turn();
    use magnets::engine::{StepContext, propose_from_logits};
    use magnets::sampling::DRAW_CONFIDENCE;
    let config = default_config();
    let w = spicy_weights(&config, 5);
    let (images, step) = (3usize, 2u32);
    let n = config.tokens();
    let rows: Vec<u32> = (1..=n as u32).filter(|p| (p - 1) % 3 != 0).collect();
    let hits = |seed: u32| (0..images as u32).any(|b| rows.iter().any(|&p| magnets::rng::hash(seed, b, step, p, DRAW_CONFIDENCE) >> 8 == 0xff_ffff));
    let seed = (0u32..1 << 22).find(|&s| hits(s)).expect("a seed with a top-bucket draw");
    let Some(mut g) = gpu(&w, images) else { return };
    pollster::block_on(g.begin(images)).unwrap();
    let tokens: Vec<u32> = (0..images * n).map(|i| if i % 3 == 0 { (i * 5 % config.codebook) as u32 } else { config.mask_id() }).collect();
    let classes: Vec<u32> = (0..images as u32).collect();
    let logit_rows: Vec<u32> = (0..images).flat_map(|_| rows.iter().copied()).collect();
    let req = ForwardRequest { width: config.widths.len() - 1, batch: images, tokens: &tokens, classes: &classes, rows: None, logit_rows: &logit_rows };
    let params = SamplingParams { seed, temperature: 1.0, guidance: 0.0, ..Default::default() };
    let ctx = StepContext { step: step as usize, total_steps: 8, images };
    let logits = pollster::block_on(g.forward(&req)).unwrap();
    let cpu = propose_from_logits(config.codebook, &logits, &req, &params, ctx).expect("CPU sampling is finite");
    let dev = pollster::block_on(g.propose(&req, &params, ctx)).expect("device sampling is finite");
    assert!(cpu.iter().chain(&dev).all(|p| p.confidence.is_finite()));
    // The clamped draw is there: Gumbel(1 − 2⁻²⁴) ≈ 16.6 at noise 4.5·(1 − 2/8) lifts its row
    // above 40, which no ordinary draw among these rows reaches.
    assert!(cpu.iter().any(|p| p.confidence > 40.0), "the top-bucket draw is among the rows");
    for (a, b) in dev.iter().zip(&cpu) {
        assert_eq!(a.code, b.code, "seed {seed}");
        // Near u = 1 the GPU's log (absolute error ~2⁻²¹ on Vulkan) moves −ln(−ln u) by up to
        // ~1; the row stays far above every other, so the same tokens are kept.
        let tolerance = if b.confidence > 40.0 { 5.0 } else { 1e-4 };
        assert!((a.confidence - b.confidence).abs() < tolerance, "seed {seed}: {} vs {}", a.confidence, b.confidence);
        assert_eq!(a.confidence > 40.0, b.confidence > 40.0);
    }
}

/// Packed f16 weights unpacked in the kernels give exactly the logits of the f32 buffer when
/// the weights are f16 values (the shipped files, f16 or int8), and the auto choice picks f16 for them.
#[test]
fn f16_weight_storage_is_exact_for_f16_weights() {
    let _turn = take_turn();
    use magnets::gpu::WeightStorage;
    let config = odd_config();
    let mut w = spicy_weights(&config, 9);
    for t in w.tensors.values_mut() {
        for v in t.data.iter_mut() {
            *v = half::f16::from_f32(*v).to_f32();
        }
    }
    assert_eq!(WeightStorage::auto(&w), WeightStorage::F16);
    assert_eq!(WeightStorage::auto(&spicy_weights(&config, 9)), WeightStorage::F32);
    // Int8 files decode to f16 values, so the page's int8 weights keep the f16 storage.
    let int8 = spicy_weights(&config, 9).to_safetensors(magnets::weights::StoredDtype::Int8).unwrap();
    assert_eq!(WeightStorage::auto(&Weights::from_safetensors(&int8).unwrap()), WeightStorage::F16);
    let run = |storage| {
        let mut e = match pollster::block_on(GpuEngine::new_with_storage(&w, 2, storage)) {
            Ok(e) => e,
            Err(e) if skip() => {
                eprintln!("skipping: {e}");
                return None;
            }
            Err(e) => panic!("{e}"),
        };
        pollster::block_on(e.begin(2)).unwrap();
        let n = config.tokens();
        let tokens: Vec<u32> = (0..2 * n).map(|i| if i % 2 == 0 { (i % config.codebook) as u32 } else { config.mask_id() }).collect();
        let logit_rows: Vec<u32> = (0..2).flat_map(|_| 1..=n as u32).collect();
        let mut out = Vec::new();
        for width in 0..config.widths.len() {
            let req = ForwardRequest { width, batch: 2, tokens: &tokens, classes: &[0, 1], rows: None, logit_rows: &logit_rows };
            out.push(pollster::block_on(e.forward(&req)).unwrap());
        }
        Some(out)
    };
    let (Some(a), Some(b)) = (run(WeightStorage::F32), run(WeightStorage::F16)) else { return };
    for (width, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(max_abs_diff(x, y), 0.0, "width {width}: f16 storage changed the logits");
    }
    // Half the bytes.
    let f32_bytes = magnets::gpu::Footprint::with_storage(&config, 1, WeightStorage::F32).weights;
    let f16_bytes = magnets::gpu::Footprint::with_storage(&config, 1, WeightStorage::F16).weights;
    assert!(f16_bytes * 2 >= f32_bytes && f16_bytes * 2 <= f32_bytes + 4);
}

#[test]
fn oversized_model_is_refused() {
    let _turn = take_turn();
    let config = default_config();
    let w = Weights::init(&config, 0).unwrap();
    let Some(g) = gpu(&w, 1) else { return };
    let limits = g.device().limits();
    drop(g);
    let binding = limits.max_storage_buffer_binding_size as u64;
    // A real (random) model whose weights alone exceed the largest storage binding, when that
    // is small enough to build one here (lavapipe and WebGPU defaults: 128 MiB).
    if binding <= 256 << 20 {
        let big = ModelConfig {
            dim: 1024,
            head_dim: 128,
            depth: 3,
            ..config.clone()
        }
        .with_default_widths();
        let f = magnets::gpu::Footprint::new(&big, 1);
        assert!(
            f.weights > binding,
            "the test model should exceed the limit"
        );
        let w = Weights::init(&big, 1).unwrap();
        let err = match pollster::block_on(GpuEngine::new(&w, 1)) {
            Ok(_) => panic!("oversized model accepted"),
            Err(e) => e.to_string(),
        };
        eprintln!("{err}");
        assert!(
            err.contains("too large") && err.contains("max_storage_buffer_binding_size"),
            "{err}"
        );
    }
    // Any device: a model far beyond every limit is refused from its config, before any
    // tensor is read or uploaded.
    let huge = ModelConfig {
        dim: 8192,
        head_dim: 64,
        depth: 64,
        mlp_ratio: 16,
        ..config.clone()
    }
    .with_default_widths();
    let err = magnets::gpu::check_limits(&huge, 1, magnets::gpu::WeightStorage::F16, &limits)
        .unwrap_err()
        .to_string();
    assert!(err.contains("too large"), "{err}");
    let fake = Weights {
        config: huge,
        tensors: Default::default(),
    };
    let err = match pollster::block_on(GpuEngine::new(&fake, 1)) {
        Ok(_) => panic!("oversized model accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("too large"), "{err}");
    // A batch too large for the K/V cache binding is refused as well.
    let err = magnets::gpu::check_limits(&config, 1 << 20, magnets::gpu::WeightStorage::F16, &limits)
        .unwrap_err()
        .to_string();
    assert!(err.contains("too large"), "{err}");
}

/// A lost device: every later call is an error naming the loss (no panic, no garbage), the
/// engine reports why it failed, and a new engine on a new device decodes again (what the page's
/// worker does to recover).
#[test]
fn lost_device_is_an_error_and_a_new_engine_recovers() {
    let _turn = take_turn();
    let config = default_config();
    let w = Weights::init(&config, 2).unwrap();
    let Some(mut g) = gpu(&w, 2) else { return };
    let req = DecodeRequest {
        context: Vec::new(),
        schedule: Schedule::parse("S1XL2", &config).unwrap(),
        cache: CachePolicy::On { refresh_every: None },
        classes: vec![1, 4],
        sampling: SamplingParams { seed: 3, ..Default::default() },
    };
    let before = pollster::block_on(decode(&mut g, &req, |_| {})).unwrap();
    assert_eq!(g.failure(), None);
    g.simulate_device_loss();
    let err = pollster::block_on(decode(&mut g, &req, |_| {})).unwrap_err().to_string();
    assert!(err.contains("device was lost"), "{err}");
    assert!(g.failure().is_some_and(|m| m.contains("lost")));
    drop(g);
    let mut fresh = gpu(&w, 2).unwrap();
    let after = pollster::block_on(decode(&mut fresh, &req, |_| {})).unwrap();
    assert_eq!(after.tokens, before.tokens, "the rebuilt engine decodes the same tokens");
}
