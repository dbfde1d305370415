//! Clip models (frame prediction): the config's space-time token count, the decode continuing
//! given frames, training never masking them, loop shifts, and bad requests refused.

use magnets::config::ModelConfig;
use magnets::decode::{DecodeRequest, STATE_GIVEN, STATE_MASKED, decode};
use magnets::reference::ReferenceEngine;
use magnets::sampling::SamplingParams;
use magnets::schedule::{CachePolicy, Schedule};
use magnets::train::{TokenDataset, TrainOptions, make_batch};
use magnets::weights::Weights;
use pollster::block_on;

/// Three frames of 2×3 tokens, the first given.
fn clip_config() -> ModelConfig {
    ModelConfig { grid: [2, 3], frames: 3, context_frames: 1, ..ModelConfig::tiny() }
}

fn request(config: &ModelConfig, schedule: &str, cache: CachePolicy, context: Vec<Vec<u32>>) -> DecodeRequest {
    DecodeRequest {
        schedule: Schedule::parse(schedule, config).unwrap(),
        cache,
        classes: vec![0; context.len().max(1)],
        sampling: SamplingParams { seed: 7, ..Default::default() },
        context,
    }
}

#[test]
fn a_clip_config_counts_space_time_tokens() {
    let c = clip_config();
    c.validate().unwrap();
    assert_eq!((c.frame_tokens(), c.tokens(), c.context_tokens(), c.generated_tokens()), (6, 18, 6, 12));
    assert_eq!(c.seq_len(), 19);
    // Every position, given or not, has its own position row.
    let shapes = c.tensor_shapes();
    let pos = shapes.iter().find(|(n, _)| n == "positions.embedding").unwrap();
    assert_eq!(pos.1, vec![19, c.dim]);
    // An image config's JSON does not mention frames, so existing files read and write unchanged.
    let image = ModelConfig::tiny();
    assert!(!image.to_json().contains("frames"));
    assert_eq!(ModelConfig::from_json(&c.to_json()).unwrap(), c);

    for (grid, frames, context, why) in
        [(4, 0, 0, "frames 0"), (4, 2, 2, "context_frames 2"), (4, 65, 0, "frames 65"), (16, 20, 0, "more than 4096 tokens")]
    {
        let bad = ModelConfig { grid: [grid, grid], frames, context_frames: context, ..ModelConfig::tiny() };
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains(why), "{why}: {e}");
    }
}

#[test]
fn the_decode_continues_the_given_frame() {
    let c = clip_config();
    let w = Weights::init(&c, 3).unwrap();
    let mut e = ReferenceEngine::cpu(&w);
    let context = vec![vec![1, 2, 3, 4, 5, 6], vec![9, 9, 9, 0, 0, 0]];
    let req = request(&c, "S2XL2", CachePolicy::On { refresh_every: None }, context.clone());
    let trace = block_on(decode(&mut e, &req, |_| {})).unwrap();
    // The mask schedule runs over the 12 generated tokens; the given ones are never masked.
    assert_eq!(trace.steps[0].cost.masked_before, 12);
    for (b, ctx) in context.iter().enumerate() {
        assert_eq!(&trace.tokens[b][..6], &ctx[..]);
        assert!(trace.tokens[b].iter().all(|&t| t < c.codebook as u32));
        for s in &trace.steps {
            assert!(s.states[b][..6].iter().all(|&st| st == STATE_GIVEN));
            assert_eq!(&s.tokens[b][..6], &ctx[..]);
        }
        assert!(trace.steps[0].states[b][6..].iter().any(|&st| st == STATE_MASKED));
    }
    // Caching skips rows, and a refresh at every step gives exactly the uncached clip.
    assert!(trace.steps.iter().any(|s| !s.cost.refresh && s.cost.rows < c.seq_len()));
    let off = block_on(decode(&mut e, &request(&c, "S2XL2", CachePolicy::Off, context.clone()), |_| {})).unwrap();
    let every = block_on(decode(&mut e, &request(&c, "S2XL2", CachePolicy::On { refresh_every: Some(1) }, context), |_| {})).unwrap();
    assert_eq!(off.tokens, every.tokens);
}

#[test]
fn a_clip_model_can_be_given_more_first_frames() {
    let c = clip_config();
    let w = Weights::init(&c, 3).unwrap();
    let two = w.clone().with_context_frames(2).unwrap();
    assert_eq!(two.config.context_frames, 2);
    assert_eq!(two.tensors, w.tensors, "the weights are unchanged");
    // Two given frames stay as given; the schedule runs over the last frame's 6 tokens.
    let context = vec![(0..12).collect::<Vec<u32>>()];
    let trace = block_on(decode(&mut ReferenceEngine::cpu(&two), &request(&two.config, "S2XL2", CachePolicy::Off, context.clone()), |_| {})).unwrap();
    assert_eq!(trace.steps[0].cost.masked_before, 6);
    assert_eq!(&trace.tokens[0][..12], &context[0][..]);
    assert!(trace.steps.iter().all(|s| s.states[0][..12].iter().all(|&st| st == STATE_GIVEN)));
    // Every frame given, or an image model: refused with the reason.
    let e = w.clone().with_context_frames(3).unwrap_err().to_string();
    assert!(e.contains("context_frames 3 must be below frames 3"), "{e}");
    let e = Weights::init(&ModelConfig::tiny(), 3).unwrap().with_context_frames(1).unwrap_err().to_string();
    assert!(e.contains("only a clip model"), "{e}");
}

#[test]
fn bad_contexts_are_refused() {
    let c = clip_config();
    let w = Weights::init(&c, 3).unwrap();
    let mut e = ReferenceEngine::cpu(&w);
    let cases: [(Vec<Vec<u32>>, &str); 3] = [
        (vec![], "give one context per clip"),
        (vec![vec![1, 2, 3]], "holds 3 codes"),
        (vec![vec![1, 2, 3, 4, 5, 999]], "outside the codebook"),
    ];
    for (context, want) in cases {
        let mut req = request(&c, "XL4", CachePolicy::Off, vec![vec![0; 6]]);
        req.context = context;
        let err = block_on(decode(&mut e, &req, |_| {})).unwrap_err().to_string();
        assert!(err.contains(want), "{want}: {err}");
    }
    // More steps than generated tokens.
    let err = Schedule::parse("XL13", &c).and_then(|s| s.check(&c)).unwrap_err().to_string();
    assert!(err.contains("generates only 12 tokens"), "{err}");
    assert!(Schedule::parse("XL12", &c).and_then(|s| s.check(&c)).is_ok());
    // An image model takes no context.
    let image = ModelConfig::tiny();
    let wi = Weights::init(&image, 3).unwrap();
    let mut ei = ReferenceEngine::cpu(&wi);
    let err = block_on(decode(&mut ei, &request(&image, "XL4", CachePolicy::Off, vec![vec![0; 16]]), |_| {})).unwrap_err();
    assert!(err.to_string().contains("takes no context"), "{err}");
}

#[test]
fn training_never_masks_the_given_frame_and_shifts_loops() {
    let c = clip_config();
    let n = c.tokens();
    // Clip i: frame f holds codes 10·f + position-in-frame, offset by i.
    let codes: Vec<u32> = (0..4u32).flat_map(|i| (0..n as u32).map(move |p| (i + 10 * (p / 6) + p % 6) % 32)).collect();
    let data = TokenDataset::new(n, codes, vec![0, 1, 2, 0]).unwrap();
    let plain = TrainOptions { batch_size: 4, ..TrainOptions::DEFAULT };
    let looped = TrainOptions { loop_frames: true, ..plain.clone() };
    let mut shifts = std::collections::HashSet::new();
    for step in 0..40 {
        for (opts, is_loop) in [(&plain, false), (&looped, true)] {
            let b = make_batch(&c, opts, &data, step);
            for i in 0..4 {
                let mask = &b.mask[i * n..(i + 1) * n];
                assert!(mask[..6].iter().all(|&m| m == 0.0), "a given position was masked");
                assert!(mask[6..].iter().any(|&m| m == 1.0), "nothing to predict");
                let t: Vec<i64> = b.targets[i * n..(i + 1) * n].to_vec();
                // Targets are a cyclic frame shift of a stored clip (none without --loop-frames).
                let first = t[0] as u32;
                let clip = (0..4u32).find(|&k| (0..3).any(|f| (k + 10 * f) % 32 == first)).unwrap();
                let shift = (0..3).find(|&f| (clip + 10 * f) % 32 == first).unwrap();
                for p in 0..n {
                    let src = (p + shift as usize * 6) % n;
                    assert_eq!(t[p] as u32, (clip + 10 * (src as u32 / 6) + src as u32 % 6) % 32);
                }
                if is_loop {
                    shifts.insert(shift);
                } else {
                    assert_eq!(shift, 0);
                }
            }
        }
    }
    assert_eq!(shifts.len(), 3, "every start frame is drawn");
}

#[test]
fn changed_tokens_carry_their_loss_weight() {
    let c = clip_config();
    let n = c.tokens();
    // Frame 1 repeats frame 0 except at its first spot; frame 2 differs everywhere.
    let frame0: Vec<u32> = (0..6).collect();
    let mut frame1 = frame0.clone();
    frame1[0] = 20;
    let frame2: Vec<u32> = (10..16).collect();
    let clip: Vec<u32> = [frame0, frame1, frame2].concat();
    let changed: Vec<bool> = (0..n).map(|p| p >= 6 && clip[p] != clip[p % 6]).collect();
    let data = TokenDataset::new(n, clip.repeat(4), vec![0; 4]).unwrap();
    let weighted = TrainOptions { batch_size: 4, changed_token_weight: 3.0, ..TrainOptions::DEFAULT };
    let mut seen = [false; 2];
    for step in 0..20 {
        let plain = make_batch(&c, &TrainOptions { changed_token_weight: 1.0, ..weighted.clone() }, &data, step);
        let b = make_batch(&c, &weighted, &data, step);
        assert_eq!(b.inputs, plain.inputs, "the weight changes no input");
        for (i, (&w, &m)) in b.mask.iter().zip(&plain.mask).enumerate() {
            let p = i % n;
            let want = if m == 0.0 { 0.0 } else if changed[p] { 3.0 } else { 1.0 };
            assert_eq!(w, want, "position {p} (masked {m}, changed {})", changed[p]);
            if m == 1.0 && p >= 6 {
                seen[changed[p] as usize] = true;
            }
        }
    }
    assert_eq!(seen, [true, true], "both kinds of masked token were drawn");

    // Only a clip model has a given frame to differ from; bad weights name the flag.
    let image = ModelConfig::tiny();
    let err = TrainOptions { changed_token_weight: 2.0, ..TrainOptions::DEFAULT }.check(&image).unwrap_err().to_string();
    assert!(err.contains("--changed-token-weight") && err.contains("clip"), "{err}");
    for w in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        let err = TrainOptions { changed_token_weight: w, ..TrainOptions::DEFAULT }.check(&c).unwrap_err().to_string();
        assert!(err.contains("--changed-token-weight"), "{w}: {err}");
    }
}

#[test]
fn an_image_model_lifts_into_a_clip_model_that_reads_each_frame_like_the_image() {
    let image = Weights::init(&ModelConfig { grid: [2, 3], ..ModelConfig::tiny() }, 4).unwrap();
    let c = clip_config();
    let clip = image.lift_to_clip(&c, 9).unwrap();
    assert_eq!(clip.config, c);
    for (name, t) in &image.tensors {
        if name != "positions.embedding" {
            assert_eq!(&clip.tensors[name], t, "{name} is copied");
        }
    }
    let (old, new, d) = (image.get("positions.embedding"), clip.get("positions.embedding"), c.dim);
    assert_eq!(new.shape, vec![19, d]);
    // The class slot and the given frame are the image's rows exactly; later frames are the
    // image's plus an offset at the init's scale (σ 0.02, clamped at 2σ), different per frame.
    assert_eq!(new.data[..7 * d], old.data[..7 * d]);
    for frame in 1..3 {
        let rows = &new.data[(1 + 6 * frame) * d..(7 + 6 * frame) * d];
        let offsets: Vec<f32> = rows.iter().zip(&old.data[d..7 * d]).map(|(a, b)| a - b).collect();
        assert!(offsets.iter().all(|o| o.abs() <= 0.0401), "frame {frame}");
        let rms = (offsets.iter().map(|o| o * o).sum::<f32>() / offsets.len() as f32).sqrt();
        assert!((0.01..0.03).contains(&rms), "frame {frame}: offset rms {rms}");
    }
    assert_ne!(new.data[7 * d..13 * d], new.data[13 * d..19 * d], "frames 1 and 2 start apart");
    assert_eq!(image.lift_to_clip(&c, 9).unwrap().tensors, clip.tensors, "seeded");
    // It decodes a clip: the given frame kept, every code in the codebook.
    let mut e = ReferenceEngine::cpu(&clip);
    let context = vec![vec![1, 2, 3, 4, 5, 6]];
    let trace = block_on(decode(&mut e, &request(&c, "S2XL2", CachePolicy::On { refresh_every: None }, context), |_| {})).unwrap();
    assert_eq!(&trace.tokens[0][..6], &[1, 2, 3, 4, 5, 6]);
    assert!(trace.tokens[0].iter().all(|&t| t < c.codebook as u32));
    // Refused, each with what is wrong: a clip config that differs beyond frames, one frame,
    // lifting a clip model.
    let wider = ModelConfig { dim: 128, ..c.clone() };
    let e = image.lift_to_clip(&wider.with_default_widths(), 9).unwrap_err().to_string();
    assert!(e.contains("differs from the image model in dim") && e.contains("only frames and context_frames may"), "{e}");
    let e = image.lift_to_clip(&image.config, 9).unwrap_err().to_string();
    assert!(e.contains("give frames > 1"), "{e}");
    let e = clip.lift_to_clip(&c, 9).unwrap_err().to_string();
    assert!(e.contains("already a clip model (3 frames)"), "{e}");
}
