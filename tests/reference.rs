//! The burn reference engine against the contract: nesting, caching, FLOP accounting,
//! determinism of the decode loop.

use magnets::config::ModelConfig;
use magnets::decode::{DecodeRequest, STATE_FIXED_EARLIER, STATE_FIXED_NOW, STATE_MASKED, decode, decode_until};
use magnets::engine::{Engine, ForwardRequest};
use magnets::reference::ReferenceEngine;
use magnets::sampling::{GuidanceSchedule, SamplingParams, guidance_scale};
use magnets::schedule::{CachePolicy, Schedule};
use magnets::weights::Weights;
use pollster::block_on;

mod common;

/// Random weights scaled up so logits are far from uniform (a meaningful comparison).
fn weights(config: &ModelConfig, seed: u64) -> Weights {
    let mut w = Weights::init(config, seed).unwrap();
    for (name, t) in w.tensors.iter_mut() {
        if !name.contains("norm") {
            t.data.iter_mut().for_each(|v| *v *= 5.0);
        }
    }
    w
}

fn odd_config() -> ModelConfig {
    ModelConfig {
        grid: [3, 5],
        frames: 1,
        context_frames: 0,
        codebook: 37,
        classes: 2,
        class_names: vec!["x".into(), "y".into()],
        styles: vec![],
        dim: 48,
        depth: 3,
        head_dim: 12,
        mlp_ratio: 3,
        widths: vec![12, 36, 48],
        width_names: vec!["A".into(), "B".into(), "C".into()],
    }
}

fn random_tokens(config: &ModelConfig, batch: usize, seed: u32) -> Vec<u32> {
    (0..batch * config.tokens())
        .map(|i| {
            let h = magnets::rng::hash(seed, 0, 0, i as u32, 9);
            if h % 3 == 0 { config.mask_id() } else { h % config.codebook as u32 }
        })
        .collect()
}

fn full_logits(engine: &mut ReferenceEngine, width: usize, tokens: &[u32], classes: &[u32]) -> Vec<f32> {
    let n = engine.config().tokens();
    let batch = classes.len();
    let logit_rows: Vec<u32> = (0..batch).flat_map(|_| 1..=n as u32).collect();
    block_on(async {
        engine.begin(batch).await.unwrap();
        engine
            .forward(&ForwardRequest { width, batch, tokens, classes, rows: None, logit_rows: &logit_rows })
            .await
            .unwrap()
    })
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn nested_submodel_equals_standalone_model() {
    for config in [ModelConfig::tiny(), odd_config()] {
        let w = weights(&config, 11);
        let mut nested = ReferenceEngine::cpu(&w);
        let tokens = random_tokens(&config, 2, 5);
        let classes = [0, config.null_class()];
        for width in 0..config.widths.len() {
            let sub = w.standalone_submodel(width);
            sub.validate().unwrap();
            let mut standalone = ReferenceEngine::cpu(&sub);
            let a = full_logits(&mut nested, width, &tokens, &classes);
            let b = full_logits(&mut standalone, width, &tokens, &classes);
            let d = max_diff(&a, &b);
            assert!(d <= 1e-5, "width {}: max |Δ| = {d}", config.widths[width]);
            // Widths genuinely differ (the comparison is not vacuous).
            if width > 0 {
                let smaller = full_logits(&mut nested, width - 1, &tokens, &classes);
                assert!(max_diff(&a, &smaller) > 1e-2);
            }
        }
    }
}

#[test]
fn shipped_model_loads_and_saves_unchanged() {
    let w = Weights::load(std::path::Path::new("models/magnets-emoji.safetensors")).unwrap();
    let engine = ReferenceEngine::cpu(&w);
    let named = engine.model().named_tensors().unwrap();
    // Parameters come in the config's tensor order: the trainer numbers them, and so keys
    // AdamW's saved state, in this order.
    let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    let shapes = w.config.tensor_shapes();
    assert_eq!(names, shapes.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>());
    let back = engine.model().to_weights(&w.config).unwrap();
    assert_eq!(back.tensors, w.tensors);
}

#[test]
fn active_rows_with_fresh_cache_match_full_pass() {
    for config in [ModelConfig::tiny(), odd_config()] {
        let w = weights(&config, 3);
        let mut e = ReferenceEngine::cpu(&w);
        let n = config.tokens() as u32;
        let batch = 3;
        let tokens = random_tokens(&config, batch, 8);
        let classes = [1, 0, config.null_class()];
        for width in 0..config.widths.len() {
            let full = full_logits(&mut e, width, &tokens, &classes); // also fills the cache
            // Per sequence a different set of 5 active rows; logits for 3 of them.
            let rows: Vec<u32> = (0..batch as u32).flat_map(|b| [b + 1, b + 3, 7, 9, n].map(|p| p.min(n))).collect();
            let mut rows_sorted = Vec::new();
            for seq in rows.chunks(5) {
                let mut s = seq.to_vec();
                s.sort_unstable();
                s.dedup();
                assert_eq!(s.len(), 5);
                rows_sorted.extend(s);
            }
            let logit_rows: Vec<u32> = rows_sorted.chunks(5).flat_map(|s| [s[0], s[2], s[4]]).collect();
            let active = block_on(e.forward(&ForwardRequest {
                width,
                batch,
                tokens: &tokens,
                classes: &classes,
                rows: Some(&rows_sorted),
                logit_rows: &logit_rows,
            }))
            .unwrap();
            let k = config.codebook;
            for b in 0..batch {
                for j in 0..3 {
                    let pos = logit_rows[b * 3 + j] as usize;
                    let want = &full[(b * n as usize + pos - 1) * k..][..k];
                    let got = &active[(b * 3 + j) * k..][..k];
                    let d = max_diff(want, got);
                    assert!(d <= 1e-5, "width {width} seq {b} pos {pos}: {d}");
                }
            }
        }
    }
}

fn request(schedule: &str, cache: CachePolicy, config: &ModelConfig, seed: u32, guidance: f32) -> DecodeRequest {
    DecodeRequest {
        context: Vec::new(),
        schedule: Schedule::parse(schedule, config).unwrap(),
        cache,
        classes: vec![0, 1, config.null_class()],
        sampling: SamplingParams { seed, guidance, ..Default::default() },
    }
}

#[test]
fn cache_refreshing_every_step_equals_uncached() {
    let config = ModelConfig::tiny();
    let w = weights(&config, 5);
    let mut e = ReferenceEngine::cpu(&w);
    let off = block_on(decode(&mut e, &request("S2M2XL3", CachePolicy::Off, &config, 1, 0.0), |_| {})).unwrap();
    let every = block_on(decode(&mut e, &request("S2M2XL3", CachePolicy::On { refresh_every: Some(1) }, &config, 1, 0.0), |_| {})).unwrap();
    assert_eq!(off.tokens, every.tokens);
    for (a, b) in off.steps.iter().zip(&every.steps) {
        assert_eq!(a.predicted, b.predicted);
        assert!(a.cost.refresh && b.cost.refresh);
    }
    // The real cache does skip rows.
    let cached = block_on(decode(&mut e, &request("S2M2XL3", CachePolicy::On { refresh_every: None }, &config, 1, 0.0), |_| {})).unwrap();
    assert!(cached.steps.iter().any(|s| !s.cost.refresh && s.cost.rows < config.seq_len()));
    assert!(cached.total_flops < off.total_flops);
}

#[test]
fn flop_formula_equals_work_performed() {
    for config in [ModelConfig::tiny(), odd_config()] {
        let w = weights(&config, 2);
        let mut e = ReferenceEngine::cpu(&w);
        let names = &config.width_names;
        let schedule = format!("{}2{}3{}2", names[0], names[1], names[names.len() - 1]);
        for cache in [CachePolicy::Off, CachePolicy::On { refresh_every: None }, CachePolicy::On { refresh_every: Some(2) }] {
            for guidance in [0.0, 2.0] {
                let before = e.flops_performed();
                let req = request(&schedule, cache, &config, 4, guidance);
                let trace = block_on(decode(&mut e, &req, |_| {})).unwrap();
                let performed = e.flops_performed() - before;
                let images = req.classes.len() as u64;
                assert_eq!(performed, trace.total_flops * images, "{schedule} {cache:?} guidance {guidance}");
                // And the plan (no engine) predicts the same per-step numbers.
                let plan = magnets::plan::plan(&config, &req.schedule, cache, guidance > 0.0);
                for (p, s) in plan.iter().zip(&trace.steps) {
                    assert_eq!((p.flops, p.rows, p.refresh), (s.cost.flops, s.cost.rows, s.cost.refresh));
                }
            }
        }
    }
}

#[test]
fn decode_is_deterministic_and_well_formed() {
    let config = ModelConfig::tiny();
    let w = weights(&config, 9);
    let mut e = ReferenceEngine::cpu(&w);
    let cache = CachePolicy::On { refresh_every: None };
    let a = block_on(decode(&mut e, &request("S3M3L3XL3", cache, &config, 42, 1.5), |_| {})).unwrap();
    let b = block_on(decode(&mut e, &request("S3M3L3XL3", cache, &config, 42, 1.5), |_| {})).unwrap();
    let c = block_on(decode(&mut e, &request("S3M3L3XL3", cache, &config, 43, 1.5), |_| {})).unwrap();
    assert_eq!(a.tokens, b.tokens);
    assert_ne!(a.tokens, c.tokens);
    let n = config.tokens();
    assert!(a.tokens.iter().flatten().all(|&t| (t as usize) < config.codebook));
    let mut streamed = 0;
    let d = block_on(decode(&mut e, &request("S3M3L3XL3", cache, &config, 42, 1.5), |_| streamed += 1)).unwrap();
    assert_eq!(streamed, 12);
    assert_eq!(d.tokens, a.tokens);
    // Token states: exactly masked_after masked, (before - after) fixed now, the rest earlier.
    for s in &a.steps {
        for states in &s.states {
            let count = |st| states.iter().filter(|&&x| x == st).count();
            assert_eq!(count(STATE_MASKED), s.cost.masked_after);
            assert_eq!(count(STATE_FIXED_NOW), s.cost.masked_before - s.cost.masked_after);
            assert_eq!(count(STATE_FIXED_EARLIER), n - s.cost.masked_before);
        }
    }
}

/// The linear guidance ramp: s·t/T per step, so a one-step decode is the constant schedule's,
/// a longer one is not; requests written before the choice existed mean the constant one.
#[test]
fn guidance_ramp_scales_guidance_per_step() {
    let ramp = SamplingParams { guidance: 2.0, guidance_schedule: GuidanceSchedule::Linear, ..Default::default() };
    assert_eq!(guidance_scale(&ramp, 12, 12), 2.0);
    assert_eq!(guidance_scale(&ramp, 3, 12), 0.5);
    let constant = SamplingParams { guidance_schedule: GuidanceSchedule::Constant, ..ramp };
    assert_eq!(guidance_scale(&constant, 3, 12), 2.0);
    let old: SamplingParams = serde_json::from_str(r#"{"seed":1,"temperature":1,"confidence_noise":4.5,"guidance":1}"#).unwrap();
    assert_eq!(old.guidance_schedule, GuidanceSchedule::Constant);

    let config = ModelConfig::tiny();
    let w = weights(&config, 3);
    let mut e = ReferenceEngine::cpu(&w);
    let cache = CachePolicy::On { refresh_every: None };
    let run = |e: &mut ReferenceEngine, schedule: &str, sampling: SamplingParams| {
        let req = DecodeRequest { sampling, ..request(schedule, cache, &config, 7, 0.0) };
        block_on(decode(e, &req, |_| {})).unwrap()
    };
    let last = &config.width_names[config.widths.len() - 1];
    let one_step = format!("{last}1");
    assert_eq!(run(&mut e, &one_step, ramp).tokens, run(&mut e, &one_step, constant).tokens);
    let ramped = run(&mut e, "S3M3L3XL3", ramp);
    assert_ne!(ramped.tokens, run(&mut e, "S3M3L3XL3", constant).tokens);
    // The unconditional pass runs at every step either way: the same FLOPs.
    assert_eq!(ramped.total_flops, run(&mut e, "S3M3L3XL3", constant).total_flops);
}

#[test]
fn decode_until_stops_at_a_step_boundary() {
    let config = ModelConfig::tiny();
    let w = weights(&config, 9);
    let mut e = ReferenceEngine::cpu(&w);
    let req = request("S3M3L3XL3", CachePolicy::On { refresh_every: None }, &config, 42, 1.5);
    let full = block_on(decode(&mut e, &req, |_| {})).unwrap();
    let steps = std::cell::Cell::new(0);
    let err = block_on(decode_until(&mut e, &req, |_| steps.set(steps.get() + 1), || steps.get() == 2)).unwrap_err();
    assert_eq!(err.kind(), "cancelled");
    assert_eq!(steps.get(), 2);
    steps.set(0);
    let err = block_on(decode_until(&mut e, &req, |_| steps.set(steps.get() + 1), || true)).unwrap_err();
    assert_eq!(err.kind(), "cancelled");
    assert_eq!(steps.get(), 0);
    // A stopped decode leaves the engine ready for the next one.
    let again = block_on(decode_until(&mut e, &req, |_| {}, || false)).unwrap();
    assert_eq!(again.tokens, full.tokens);
}

#[test]
fn bad_requests_are_errors() {
    let config = ModelConfig::tiny();
    let w = weights(&config, 1);
    let mut e = ReferenceEngine::cpu(&w);
    let mut req = request("XL4", CachePolicy::Off, &config, 0, 0.0);
    req.classes = vec![99];
    assert!(block_on(decode(&mut e, &req, |_| {})).unwrap_err().to_string().contains("class id 99"));
    let mut req = request("XL4", CachePolicy::Off, &config, 0, 0.0);
    req.sampling.temperature = f32::NAN;
    assert!(block_on(decode(&mut e, &req, |_| {})).is_err());
    let req = DecodeRequest { schedule: Schedule::parse("XL17", &config).unwrap(), ..request("XL4", CachePolicy::Off, &config, 0, 0.0) };
    assert!(block_on(decode(&mut e, &req, |_| {})).unwrap_err().to_string().contains("only 16 tokens"));
    // A cached step without a refresh first is refused by the engine.
    block_on(e.begin(1)).unwrap();
    let tokens = vec![config.mask_id(); 16];
    let r = block_on(e.forward(&ForwardRequest { width: 0, batch: 1, tokens: &tokens, classes: &[0], rows: Some(&[1, 2]), logit_rows: &[1] }));
    assert!(r.unwrap_err().to_string().contains("refresh"));
}

/// The counters whose hash falls in the top 24-bit bucket: its centre rounds to 1.0 in f32,
/// which made the Gumbel confidence infinite (a decode failed as "non-finite" about once in
/// 2²⁴ draws, i.e. in a few percent of 81-clip evaluations).
#[test]
fn uniform_stays_below_one_and_gumbel_finite_in_the_top_bucket() {
    use magnets::rng;
    assert!(rng::uniform_from_hash(u32::MAX) < 1.0);
    assert_eq!(rng::uniform_from_hash(u32::MAX), rng::MAX_UNIFORM);
    assert!(rng::uniform_from_hash(0) > 0.0);
    // Every other bucket is what it was: (bits + 0.5) / 2²⁴ in f32.
    for h in [0u32, 255, 256, 1 << 31, (u32::MAX >> 8) - 1 << 8, u32::MAX - 256] {
        assert_eq!(rng::uniform_from_hash(h), ((h >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0), "hash {h:#x}");
    }
    let position = (0u32..1 << 27).find(|&p| rng::hash(1000, 0, 7, p, 1) >> 8 == 0xff_ffff).expect("a top-bucket draw");
    let u = rng::uniform(1000, 0, 7, position, 1);
    assert!(u < 1.0, "uniform {u}");
    assert!(rng::gumbel(1000, 0, 7, position, 1).is_finite());
}

/// The page downloads each image and clip model as int8 (`magnets init --from W --int8`): the
/// committed int8 file is exactly the f16 file's quantisation, and at every width each token's
/// distribution stays close to the f16 model's: mean KL, and mean total variation (the share of
/// temperature-1 samples that could differ).
#[test]
fn shipped_models_stored_as_int8_keep_their_logits() {
    use magnets::weights::StoredDtype;
    // Every shipped model (models/models.json, the list the page stages from) with an int8 copy
    // (`ShippedModel::int8_path`, the name the registry pairs with the model).
    let models: Vec<_> = common::shipped_models().into_iter().filter(|m| m.int8_path().exists()).collect();
    assert!(models.len() >= 4, "int8 copies of {:?} only", models.iter().map(|m| &m.id).collect::<Vec<_>>());
    for m in &models {
        let (f16_path, int8_path) = (m.weights_path(), m.int8_path());
        let f16 = Weights::load(&f16_path).unwrap();
        let int8_file = std::fs::read(&int8_path).unwrap();
        assert_eq!(
            int8_file,
            f16.to_safetensors(StoredDtype::Int8).unwrap(),
            "{} is stale: rerun `magnets init --from {} --int8`",
            int8_path.display(),
            f16_path.display()
        );
        let int8 = Weights::from_safetensors(&int8_file).unwrap();
        let config = &f16.config;
        let (mut exact, mut quantized) = (ReferenceEngine::cpu(&f16), ReferenceEngine::cpu(&int8));
        let tokens = random_tokens(config, 2, 21);
        let classes = [0, config.null_class()];
        let k = config.codebook;
        for width in 0..config.widths.len() {
            let a = full_logits(&mut exact, width, &tokens, &classes);
            let b = full_logits(&mut quantized, width, &tokens, &classes);
            let (mut kl, mut tv, mut same_top, rows) = (0.0f64, 0.0f64, 0usize, a.len() / k);
            for (ra, rb) in a.chunks(k).zip(b.chunks(k)) {
                let log_softmax = |r: &[f32]| {
                    let m = r.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
                    let z = r.iter().map(|&v| ((v - m) as f64).exp()).sum::<f64>().ln();
                    r.iter().map(move |&v| (v - m) as f64 - z).collect::<Vec<f64>>()
                };
                let (la, lb) = (log_softmax(ra), log_softmax(rb));
                kl += la.iter().zip(&lb).map(|(p, q)| p.exp() * (p - q)).sum::<f64>();
                tv += 0.5 * la.iter().zip(&lb).map(|(p, q)| (p.exp() - q.exp()).abs()).sum::<f64>();
                let top = |r: &[f32]| (0..k).max_by(|&i, &j| r[i].total_cmp(&r[j])).unwrap();
                same_top += (top(ra) == top(rb)) as usize;
            }
            let (kl, tv, agree) = (kl / rows as f64, tv / rows as f64, same_top as f64 / rows as f64);
            let d = config.widths[width];
            let id = &m.id;
            eprintln!("{id} width {d}: mean KL {kl:.2e} nats, mean TV {tv:.4}, top-1 agreement {agree:.4}, max |Δlogit| {:.4}", max_diff(&a, &b));
            assert!(kl < 1e-3, "{id} width {d}: mean KL {kl}");
            assert!(tv < 0.02, "{id} width {d}: mean total variation {tv}");
        }
    }
}

/// A model grown deeper (`magnets init --from W --depth N`) starts as the same function at every
/// width: each added block's output projections are zero, so it adds nothing to the residual
/// until training moves them.
#[test]
fn a_model_grown_deeper_computes_the_same_logits() {
    for config in [ModelConfig::tiny(), odd_config()] {
        let w = weights(&config, 13);
        let deep = w.clone().with_depth(2 * config.depth).unwrap();
        assert_eq!(deep.config.depth, 2 * config.depth);
        assert_eq!(deep.config.parameter_count() - config.parameter_count(), config.parameter_count() - {
            let mut none = config.clone();
            none.depth = 0;
            none.tensor_shapes().iter().map(|(_, s)| s.iter().product::<usize>()).sum::<usize>()
        });
        let tokens = random_tokens(&config, 2, 8);
        let classes = [1, config.null_class()];
        let (mut shallow, mut grown) = (ReferenceEngine::cpu(&w), ReferenceEngine::cpu(&deep));
        for width in 0..config.widths.len() {
            let d = max_diff(&full_logits(&mut shallow, width, &tokens, &classes), &full_logits(&mut grown, width, &tokens, &classes));
            assert!(d <= 1e-4, "width {}: max |Δ| = {d}", config.widths[width]);
        }
        // The copies are real blocks: once their output moves, so do the logits.
        let mut moved = deep.clone();
        // (Not a constant: every reader of the residual is a LayerNorm, which removes one.)
        moved.tensors.get_mut("blocks.1.mlp.b2").unwrap().data.iter_mut().enumerate().for_each(|(j, v)| *v = 0.5 * (j % 3) as f32);
        let mut moved_engine = ReferenceEngine::cpu(&moved);
        let last = config.widths.len() - 1;
        assert!(max_diff(&full_logits(&mut shallow, last, &tokens, &classes), &full_logits(&mut moved_engine, last, &tokens, &classes)) > 1e-2);
        for bad in [config.depth + 1, 0] {
            let e = w.clone().with_depth(bad).unwrap_err().to_string();
            assert!(e.contains("multiple of the model's depth"), "{e}");
        }
    }
}
