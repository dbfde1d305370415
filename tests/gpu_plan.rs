//! What a WGSL engine step dispatches, checked on the CPU (no GPU, no lavapipe): the recorded
//! plan has the documented dispatches in order, each matmul's grid covers its product on the
//! right tile variant, and its FLOPs equal the cost formula of flops.rs and the decode plan.
#![cfg(feature = "gpu")]

mod common;

use common::default_config;

use magnets::config::ModelConfig;
use magnets::engine::{ForwardRequest, StepContext};
use magnets::flops::step_flops;
use magnets::gpu::WeightLayout;
use magnets::gpu::kernels::Kernel;
use magnets::gpu::params::MatmulParams;
use magnets::gpu::record::{Output, RecordedStep, Stage, StepRequest, max_dispatches, record_step};
use magnets::sampling::SamplingParams;
use magnets::schedule::{CachePolicy, Schedule};

/// Odd sizes: a 3×5 grid, codebook 37, head_dim 12, three widths (one below the narrowest
/// matmul tile, one between tiles), MLP ratio 3.
fn odd_config() -> ModelConfig {
    let json = r#"{"grid": [3, 5], "codebook": 37, "classes": 2, "class_names": ["x", "y"], "dim": 60, "depth": 3,
        "head_dim": 12, "mlp_ratio": 3, "widths": [12, 36, 60], "width_names": ["S", "M", "XL"]}"#;
    ModelConfig::from_json(json).unwrap()
}

/// How a step is read back.
#[derive(Clone, Copy, Debug)]
enum Readout {
    Logits,
    Sample,
    /// Sampling with classifier-free guidance: two sequences per image.
    GuidedSample,
}

/// Records a step of `images` images at `width`: a refresh (`rows` = None) or a cached step
/// processing positions 1..=rows; logits wanted for positions 1..=masked.
fn record(
    config: &ModelConfig,
    width: usize,
    rows: Option<usize>,
    masked: usize,
    images: usize,
    readout: Readout,
) -> RecordedStep {
    let batch = step_batch(images, readout);
    let n = config.tokens();
    let tokens = vec![config.mask_id(); batch * n];
    let classes: Vec<u32> = (0..batch as u32).map(|b| b % config.classes as u32).collect();
    let active: Vec<u32> = rows.map(|r| (0..batch).flat_map(|_| 1..=r as u32).collect()).unwrap_or_default();
    let logit_rows: Vec<u32> = (0..batch).flat_map(|_| 1..=masked as u32).collect();
    let forward = ForwardRequest {
        width,
        batch,
        tokens: &tokens,
        classes: &classes,
        rows: rows.map(|_| &active[..]),
        logit_rows: &logit_rows,
    };
    magnets::engine::check_request(config, batch, &forward).unwrap();
    let params = SamplingParams { guidance: 2.0, ..Default::default() };
    let ctx = StepContext { step: 2, total_steps: 12, images };
    let sample = match readout {
        Readout::Logits => None,
        _ => Some((&params, ctx)),
    };
    let request = StepRequest { forward: &forward, sample, cache_batch: batch + 1 };
    record_step(config, &WeightLayout::new(config), &request).unwrap()
}

/// The stages in the documented order, and every matmul on the narrowest tile that covers it.
fn check_dispatches(config: &ModelConfig, step: &RecordedStep, sampled: bool) {
    let mut expected = vec![Stage::Embed];
    for _ in 0..config.depth {
        expected.extend([Stage::Qkv, Stage::Attention, Stage::Wo, Stage::W1, Stage::W2]);
    }
    expected.extend([Stage::FinalNorm, Stage::Head]);
    if sampled {
        expected.push(Stage::Sample);
    }
    let stages: Vec<Stage> = step.dispatches.iter().map(|d| d.group).collect();
    assert_eq!(stages, expected);
    assert_eq!(step.dispatches.len(), 5 * config.depth + 3 + sampled as usize);
    assert!(step.dispatches.len() <= max_dispatches(config));
    for d in &step.dispatches {
        assert!(d.groups.0 >= 1 && d.groups.1 >= 1 && d.groups.2 >= 1, "{:?}: empty grid", d.group);
        let kernel_for_stage = match d.group {
            Stage::Embed => Some(Kernel::Embed),
            Stage::FinalNorm => Some(Kernel::LayerNorm),
            Stage::Attention => Some(Kernel::Attention),
            Stage::Sample => Some(Kernel::Sample),
            Stage::Advance => Some(Kernel::Advance),
            _ => None,
        };
        match kernel_for_stage {
            Some(k) => assert_eq!(d.kernel, k, "{:?}", d.group),
            None => {
                let p: MatmulParams = d.params.read();
                let (kernel, tile) = Kernel::matmul_for(p.n);
                assert_eq!(d.kernel, kernel, "{:?}: n = {}", d.group, p.n);
                assert!(
                    d.groups.0 * tile >= p.n && d.groups.1 * 64 >= p.m,
                    "{:?}: grid {:?} for {}×{}",
                    d.group,
                    d.groups,
                    p.m,
                    p.n
                );
                assert!((d.groups.0 - 1) * tile < p.n, "{:?}: an empty column tile", d.group);
                assert_eq!(d.groups.2, if d.group == Stage::Qkv { 3 } else { 1 });
            }
        }
    }
}

#[test]
fn dispatches_and_flops_match_the_cost_formula() {
    for config in [default_config(), odd_config()] {
        let n = config.tokens();
        for width in 0..config.widths.len() {
            for (rows, masked) in [(None, n), (None, 1), (Some(n), n / 2), (Some(n / 2 + 1), n / 2), (Some(2), 1)] {
                for readout in [Readout::Logits, Readout::Sample, Readout::GuidedSample] {
                    let images = 3;
                    let step = record(&config, width, rows, masked, images, readout);
                    let batch = step_batch(images, readout);
                    let r = rows.unwrap_or(config.seq_len());
                    let what = format!("dim {} width {width} rows {rows:?} masked {masked} {readout:?}", config.dim);
                    assert_eq!(step.flops(), batch as u64 * step_flops(&config, width, r, masked), "{what}");
                    let sampled = !matches!(readout, Readout::Logits);
                    check_dispatches(&config, &step, sampled);
                    // Row index: cache row, table id, logit pick; then the sampler's positions.
                    let sampled_rows = if sampled { images * masked } else { 0 };
                    assert_eq!(step.index.len(), 2 * batch * r + batch * masked + sampled_rows, "{what}");
                    let (output, bytes) = match readout {
                        Readout::Logits => (Output::Logits, batch * masked * config.codebook * 4),
                        _ => (Output::Proposals, images * masked * 8),
                    };
                    assert_eq!((step.output, step.output_bytes), (output, bytes as u64), "{what}");
                }
            }
        }
    }
}

fn step_batch(images: usize, readout: Readout) -> usize {
    match readout {
        Readout::GuidedSample => 2 * images,
        _ => images,
    }
}

/// Every step of the MaGNeTS schedule with the cache (and of the baseline without), as the
/// decode loop would ask for it, costs what the decode plan says.
#[test]
fn recorded_steps_cost_what_the_decode_plan_says() {
    let config = default_config();
    for (schedule, cache) in [("S3M3L3XL3", "on"), ("XL12", "off")] {
        let schedule = Schedule::parse(schedule, &config).unwrap();
        let cache = CachePolicy::parse(cache).unwrap();
        for guidance in [false, true] {
            let readout = if guidance { Readout::GuidedSample } else { Readout::Sample };
            for planned in magnets::plan::plan(&config, &schedule, cache, guidance) {
                let rows = (!planned.refresh).then_some(planned.rows);
                let images = 2;
                let step = record(&config, planned.width, rows, planned.masked_before, images, readout);
                assert_eq!(step.flops(), images as u64 * planned.flops, "step {}", planned.step);
                check_dispatches(&config, &step, true);
            }
        }
    }
}

#[test]
fn a_logit_row_that_is_not_processed_is_an_error() {
    let config = odd_config();
    let (tokens, classes) = (vec![config.mask_id(); config.tokens()], vec![0]);
    let forward = ForwardRequest {
        width: 0,
        batch: 1,
        tokens: &tokens,
        classes: &classes,
        rows: Some(&[1, 2]),
        logit_rows: &[3],
    };
    let request = StepRequest { forward: &forward, sample: None, cache_batch: 1 };
    let err = record_step(&config, &WeightLayout::new(&config), &request).err().expect("an error");
    assert!(err.to_string().contains("logit row 3"), "{err}");
}
