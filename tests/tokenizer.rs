//! VQ tokenizer: file format validation, burn decoder == plain-Rust `cpu_decode`, shape round
//! trip, and a few training steps lowering the loss — on synthetic images (nothing downloads).

use burn::tensor::Device;
use magnets::tokenizer::model::{Tokenizer, VqAutoencoder};
use magnets::tokenizer::train::{TrainConfig, Trainer};
use magnets::tokenizer::{TokenizerConfig, TokenizerWeights, cpu_decode, try_cpu_decode};
use magnets::weights::{HostTensor, StoredDtype};

fn small_config() -> TokenizerConfig {
    TokenizerConfig { codebook: 16, code_dim: 8, hidden: 16, ..Default::default() }
}

/// Synthetic 32×32 images (CHW f32): coloured squares on white.
fn synthetic(n: usize) -> Vec<f32> {
    let mut out = vec![1.0f32; n * 3 * 32 * 32];
    for i in 0..n {
        let (x0, y0, s) = (i * 5 % 16, i * 7 % 16, 8 + i % 9);
        for c in 0..3 {
            let v = ((i + c) % 3) as f32 / 2.0;
            for y in y0..y0 + s {
                for x in x0..x0 + s {
                    out[((i * 3 + c) * 32 + y) * 32 + x] = v;
                }
            }
        }
    }
    out
}

fn random_weights(c: &TokenizerConfig) -> TokenizerWeights {
    let device = Device::flex();
    device.seed(7);
    let model = VqAutoencoder::new(c, &device);
    let cb: Vec<f32> = (0..c.codebook * c.code_dim).map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0).collect();
    model.to_weights(c, &HostTensor::new(vec![c.codebook, c.code_dim], cb)).unwrap()
}

#[test]
fn burn_decoder_matches_cpu_decode() {
    for c in [small_config(), TokenizerConfig::default()] {
        let w = random_weights(&c);
        let tok = Tokenizer::new(&w, &Device::flex());
        let codes: Vec<u32> = (0..2 * 64).map(|i| (i * 13 % c.codebook) as u32).collect();
        let burn_out = tok.decode(&codes).unwrap(); // [2, 3, 32, 32]
        for b in 0..2 {
            let cpu = cpu_decode(&w, &codes[b * 64..(b + 1) * 64]); // [32, 32, 3]
            let mut max = 0.0f32;
            for p in 0..1024 {
                for ch in 0..3 {
                    max = max.max((cpu[p * 3 + ch] - burn_out[(b * 3 + ch) * 1024 + p]).abs());
                }
            }
            assert!(max < 1e-4, "burn vs cpu decode differ by {max} (config {c:?})");
        }
    }
}

#[test]
fn encode_decode_shapes_round_trip() {
    let c = small_config();
    let w = random_weights(&c);
    let tok = Tokenizer::new(&w, &Device::flex());
    let imgs = synthetic(3);
    let codes = tok.encode(&imgs).unwrap();
    assert_eq!(codes.len(), 3 * 64);
    assert!(codes.iter().all(|&v| (v as usize) < c.codebook));
    let rec = tok.decode(&codes).unwrap();
    assert_eq!(rec.len(), imgs.len());
    assert!(rec.iter().all(|v| (0.0..=1.0).contains(v)));
    assert!(try_cpu_decode(&w, &codes[..10]).is_err());
    assert!(try_cpu_decode(&w, &[c.codebook as u32; 64]).is_err());
}

#[test]
fn weights_file_round_trips_and_refuses_bad_files() {
    let c = small_config();
    let w = random_weights(&c);
    let bytes = w.to_safetensors(StoredDtype::F32).unwrap();
    let back = TokenizerWeights::from_safetensors(&bytes).unwrap();
    assert_eq!(back.config, c);
    assert_eq!(back.get("decoder.up1.weight"), w.get("decoder.up1.weight"));
    assert!(back.has_encoder());
    let half = TokenizerWeights::from_safetensors(&w.to_safetensors(StoredDtype::F16).unwrap()).unwrap();
    assert!((half.get("quantizer.codebook").data[3] - w.get("quantizer.codebook").data[3]).abs() < 1e-2);

    let e = TokenizerWeights::from_safetensors(&bytes[..bytes.len() / 2]).unwrap_err().to_string();
    assert!(e.contains("truncated") || e.contains("corrupt"), "{e}");
    assert!(TokenizerWeights::from_safetensors(b"junk").is_err());

    let mut missing = w.clone();
    missing.tensors.remove("decoder.res.conv2.bias");
    let e = TokenizerWeights::from_safetensors(&missing_bytes(&missing)).unwrap_err().to_string();
    assert!(e.contains("decoder.res.conv2.bias"), "{e}");

    let mut wrong = w.clone();
    wrong.config.hidden = 32; // contradicts the tensors
    let e = TokenizerWeights::from_safetensors(&missing_bytes(&wrong)).unwrap_err().to_string();
    assert!(e.contains("shape"), "{e}");
}

/// Serialises without validating (to build broken files).
fn missing_bytes(w: &TokenizerWeights) -> Vec<u8> {
    use safetensors::{Dtype, tensor::TensorView};
    let bufs: Vec<(String, Vec<usize>, Vec<u8>)> = w
        .tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.shape.clone(), bytemuck::cast_slice::<f32, u8>(&t.data).to_vec()))
        .collect();
    let views: Vec<(String, TensorView)> =
        bufs.iter().map(|(n, s, b)| (n.clone(), TensorView::new(Dtype::F32, s.clone(), b).unwrap())).collect();
    let mut md = std::collections::HashMap::new();
    md.insert("magnets.tokenizer".to_string(), serde_json::to_string(&w.config).unwrap());
    safetensors::serialize(views, Some(md)).unwrap()
}

#[test]
fn a_few_training_steps_lower_the_loss() {
    let dir = std::env::temp_dir().join(format!("magnets-tok-test-{}", std::process::id()));
    let tc = TrainConfig { steps: 30, batch: 8, lr: 3e-3, warmup: 3, checkpoint_dir: dir.clone(), checkpoint_every: 1000, ..Default::default() };
    let device = Device::flex().autodiff();
    let mut t = Trainer::new(small_config(), tc, &device).unwrap();
    let data = synthetic(16);
    let mut losses = Vec::new();
    t.run(&data, |_, s| losses.push(s.recon_mse)).unwrap();
    let first: f32 = losses[..5].iter().sum::<f32>() / 5.0;
    let last: f32 = losses[losses.len() - 5..].iter().sum::<f32>() / 5.0;
    assert!(last < 0.7 * first, "loss {first} → {last}");
    // The run left a checkpoint that resumes at its step.
    let t2 = Trainer::new(small_config(), TrainConfig { steps: 30, checkpoint_dir: dir.clone(), ..Default::default() }, &device).unwrap();
    assert_eq!(t2.state.step, 30);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn shipped_tokenizer_and_token_dataset_match_the_contract() {
    let path = std::path::Path::new("models/tokenizer.safetensors");
    let bytes = std::fs::read(path).expect("models/tokenizer.safetensors is committed");
    assert!(bytes.len() < 20 << 20);
    let w = TokenizerWeights::from_safetensors(&bytes).unwrap();
    assert_eq!(w.config, TokenizerConfig { image_size: 32, grid: [8, 8], codebook: 512, code_dim: 32, hidden: 128 });
    assert!(w.has_encoder());
    let tokens = magnets::tokenizer::tokens::TokenDataset::load(std::path::Path::new(magnets::tokenizer::tokens::DEFAULT_TOKENS)).unwrap();
    assert_eq!(tokens.tokens_per_image(), 64);
    assert_eq!(tokens.meta.codebook, 512);
    assert!(!tokens.indices(false).is_empty() && !tokens.indices(true).is_empty());
    // The shipped decoder through burn and through plain Rust agree on a real token grid.
    let codes: Vec<u32> = tokens.image_codes(0).iter().map(|&c| c as u32).collect();
    let burn_out = Tokenizer::new(&w, &Device::flex()).decode(&codes).unwrap();
    let cpu = cpu_decode(&w, &codes);
    let max = (0..3072).map(|j| (cpu[j] - burn_out[(j % 3) * 1024 + j / 3]).abs()).fold(0.0f32, f32::max);
    assert!(max < 1e-4, "{max}");
}

/// What the page loads from the tokenizer (`magnets web-assets`): models/tokenizer-decoder.safetensors
/// is exactly the shipped tokenizer's decoder and codebook, and models/tokenizer.palette.json
/// (the preview colours) is what the code computes from it and names that file's sha256;
/// painting a real token grid with the palette lands near the decoded pixels: much nearer than
/// the same colours assigned to the wrong codes.
#[test]
fn shipped_web_assets_match_the_tokenizer_and_preview_its_images() {
    let w = TokenizerWeights::load(std::path::Path::new("models/tokenizer.safetensors")).unwrap();
    let decoder_bytes = std::fs::read("models/tokenizer-decoder.safetensors").expect("committed decoder-only tokenizer");
    let decoder = TokenizerWeights::from_safetensors(&decoder_bytes).unwrap();
    assert!(!decoder.has_encoder());
    assert_eq!(decoder.config, w.config);
    assert_eq!(decoder.tensors, w.decoder_only().tensors, "rerun `magnets web-assets`");
    assert!(decoder_bytes.len() * 2 < std::fs::metadata("models/tokenizer.safetensors").unwrap().len() as usize + 100_000);

    let palette = magnets::tokenizer::code_palette(&w).unwrap();
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("models/tokenizer.palette.json").expect("committed palette")).unwrap();
    assert_eq!(committed["codebook"].as_u64(), Some(512));
    let sha = magnets::data::sha256_hex(&decoder_bytes);
    assert_eq!(committed["tokenizer_sha256"].as_str(), Some(sha.as_str()), "the palette names the file the page loads");
    let rgb: Vec<u8> = committed["rgb"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u8).collect();
    assert_eq!(rgb, palette.iter().flatten().copied().collect::<Vec<u8>>(), "rerun `magnets web-assets`");

    let tokens = magnets::tokenizer::tokens::TokenDataset::load(std::path::Path::new(magnets::tokenizer::tokens::DEFAULT_TOKENS)).unwrap();
    // Mean squared error of a mosaic (each 4×4 patch one colour) against the decoded image.
    let mse = |codes: &[u32], colour: &dyn Fn(u32) -> [u8; 3]| -> f64 {
        let img = cpu_decode(&w, codes);
        let mut e = 0.0;
        for y in 0..32 {
            for x in 0..32 {
                let c = colour(codes[(y / 4) * 8 + x / 4]);
                for ch in 0..3 {
                    e += (img[(y * 32 + x) * 3 + ch] as f64 - c[ch] as f64 / 255.0).powi(2);
                }
            }
        }
        e / 3072.0
    };
    let (mut right, mut shuffled) = (0.0, 0.0);
    for i in tokens.indices(true).into_iter().take(32) {
        let codes: Vec<u32> = tokens.image_codes(i).iter().map(|&c| c as u32).collect();
        right += mse(&codes, &|c| palette[c as usize]);
        shuffled += mse(&codes, &|c| palette[(c as usize * 263 + 101) % 512]);
    }
    eprintln!("palette mosaic MSE {right:.3}, shuffled {shuffled:.3}");
    assert!(right < 0.25 * shuffled, "palette mosaic MSE {right:.3} vs shuffled {shuffled:.3}");
}

#[test]
fn tokenizer_config_sizes_that_overflow_are_refused() {
    // 4 · grid wraps around to 32 = image_size in usize.
    let c = TokenizerConfig { grid: [4611686018427387912, 4611686018427387912], ..Default::default() };
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("grid"), "{e}");
    for c in [
        TokenizerConfig { hidden: 1 << 40, ..Default::default() },
        TokenizerConfig { code_dim: usize::MAX, ..Default::default() },
        TokenizerConfig { grid: [65, 65], image_size: 260, ..Default::default() },
    ] {
        assert!(c.validate().is_err(), "{c:?}");
    }
}

#[test]
fn bf16_tokenizer_files_load_like_the_model_loader() {
    let w = random_weights(&small_config());
    let bufs: Vec<(String, Vec<usize>, Vec<u8>)> = w
        .tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.shape.clone(), t.data.iter().flat_map(|&v| half::bf16::from_f32(v).to_le_bytes()).collect()))
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bufs
        .iter()
        .map(|(n, s, b)| (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::BF16, s.clone(), b).unwrap()))
        .collect();
    let meta = std::collections::HashMap::from([("magnets.tokenizer".to_string(), serde_json::to_string(&w.config).unwrap())]);
    let back = TokenizerWeights::from_safetensors(&safetensors::serialize(views, Some(meta)).unwrap()).unwrap();
    for (name, t) in &w.tensors {
        for (a, b) in t.data.iter().zip(&back.tensors[name].data) {
            assert!((a - b).abs() <= 1e-2 * a.abs().max(1e-3), "{name}: {a} vs {b}");
        }
    }
}

#[test]
fn weights_that_would_overflow_the_decoder_are_refused_at_load_and_at_run_time() {
    let shipped = TokenizerWeights::load(std::path::Path::new("models/tokenizer.safetensors")).unwrap();
    let bound = shipped.activation_bound();
    println!("shipped tokenizer: decoder activations bounded by {bound:.3e}");
    assert!(bound.is_finite() && bound < 1e-6 * magnets::tokenizer::weights::MAX_ACTIVATION_BOUND, "{bound}");
    let mut huge = shipped.decoder_only();
    for t in huge.tensors.values_mut() {
        t.data.iter_mut().for_each(|v| *v *= 1e30);
    }
    let e = huge.validate().unwrap_err().to_string();
    assert!(e.contains("too large"), "{e}");
    // Bypassing validation (the fields are public), the decoder itself refuses to return the
    // black image that the sigmoid would make of infinite activations.
    let codes: Vec<u32> = (0..64).collect();
    match try_cpu_decode(&huge, &codes) {
        Err(magnets::Error::NonFinite(m)) => assert!(m.contains("tokenizer"), "{m}"),
        other => panic!("expected a non-finite error, got {:?}", other.map(|p| p.len())),
    }
}
