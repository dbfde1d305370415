//! The WGSL VQ decoder against `tokenizer::cpu_decode`, batched, on random tokenizer weights.
//! Fails without a GPU adapter unless MAGNETS_SKIP_GPU_TESTS=1.
#![cfg(feature = "gpu")]

use std::collections::HashMap;

use magnets::gpu::{GpuEngine, GpuImageDecoder};
use magnets::tokenizer::{TokenizerConfig, TokenizerWeights, cpu_decode, to_u8};
use magnets::weights::{HostTensor, Weights};

fn random_tokenizer(seed: u32) -> TokenizerWeights {
    let config = TokenizerConfig::default();
    let mut tensors = HashMap::new();
    let mut shapes = vec![(
        "quantizer.codebook".to_string(),
        vec![config.codebook, config.code_dim],
    )];
    for (n, i, o) in config.decoder_convs() {
        shapes.push((format!("{n}.weight"), vec![o, i, 3, 3]));
        shapes.push((format!("{n}.bias"), vec![o]));
    }
    for (ti, (name, shape)) in shapes.into_iter().enumerate() {
        let fan_in = if shape.len() == 4 { shape[1] * 9 } else { 1 };
        let scale = if name.ends_with("bias") {
            0.1
        } else if fan_in > 1 {
            4.0 / (fan_in as f32).sqrt()
        } else {
            1.0
        };
        let n: usize = shape.iter().product();
        let data = (0..n)
            .map(|j| (magnets::rng::uniform(seed, ti as u32, 0, j as u32, 0) - 0.5) * 2.0 * scale)
            .collect();
        tensors.insert(name, HostTensor::new(shape, data));
    }
    let w = TokenizerWeights { config, tensors };
    w.validate().unwrap();
    w
}

#[test]
fn gpu_decoder_matches_cpu_decode() {
    let config = magnets::config::ModelConfig::tiny();
    let weights = Weights::init(&config, 0).unwrap();
    let engine = match pollster::block_on(GpuEngine::new(&weights, 1)) {
        Ok(e) => e,
        Err(e) if std::env::var("MAGNETS_SKIP_GPU_TESTS").is_ok_and(|v| v == "1") => {
            eprintln!("skipping: {e}");
            return;
        }
        Err(e) => panic!("no usable GPU adapter ({e}); set MAGNETS_SKIP_GPU_TESTS=1 to skip"),
    };
    let tok = random_tokenizer(3);
    let batch = 5;
    let n = tok.config.tokens();
    let mut dec = GpuImageDecoder::new(&engine, &tok, 8).unwrap();
    let codes: Vec<u32> = (0..batch * n)
        .map(|i| magnets::rng::hash(9, 0, 0, i as u32, 0) % tok.config.codebook as u32)
        .collect();
    let rgba = pollster::block_on(dec.decode(&engine, &codes, batch)).unwrap();
    let s = tok.config.image_size;
    assert_eq!(rgba.len(), batch * s * s * 4);
    let (mut worst, mut off_by_one, mut spread) = (0i32, 0usize, (255u8, 0u8));
    for b in 0..batch {
        let cpu = to_u8(&cpu_decode(&tok, &codes[b * n..(b + 1) * n]));
        for p in 0..s * s {
            for c in 0..3 {
                let g = rgba[(b * s * s + p) * 4 + c];
                let r = cpu[p * 3 + c];
                spread = (spread.0.min(r), spread.1.max(r));
                let d = (g as i32 - r as i32).abs();
                worst = worst.max(d);
                off_by_one += (d == 1) as usize;
            }
            assert_eq!(rgba[(b * s * s + p) * 4 + 3], 255);
        }
    }
    eprintln!(
        "max |Δ| {worst} (u8), {off_by_one} of {} channels off by one (rounding at .5), cpu range {spread:?}",
        batch * s * s * 3
    );
    assert!(
        spread.1 - spread.0 > 100,
        "random decoder output too flat to be a meaningful check"
    );
    assert!(worst <= 1, "GPU decoder differs from cpu_decode by {worst}");
    assert!(
        off_by_one * 1000 < batch * s * s * 3,
        "too many rounding differences: {off_by_one}"
    );
    // Errors, not panics.
    assert!(pollster::block_on(dec.decode(&engine, &codes[..n - 1], 1)).is_err());
    assert!(
        pollster::block_on(dec.decode(&engine, &vec![tok.config.codebook as u32; n], 1)).is_err()
    );
    assert!(pollster::block_on(dec.decode(&engine, &vec![0; 9 * n], 9)).is_err());
}
