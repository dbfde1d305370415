//! The command-line interfaces other tools rely on (issue: keep them stable).

use std::process::Command;

mod common;

fn magnets(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_magnets")).args(args).output().expect("run magnets");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("magnets-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Output piped into a reader that stops early (`magnets models | head -1`): the CLI ends
/// quietly, as Unix tools do, instead of panicking on the broken pipe; output that cannot be
/// written (a full disk) is an error that says so.
#[test]
fn a_closed_or_full_output_is_not_a_panic() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_magnets"))
        .args(["models"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run magnets");
    drop(child.stdout.take()); // the reader is gone before the first line is written
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");

    let Ok(full) = std::fs::File::create("/dev/full") else { return };
    let out = Command::new(env!("CARGO_BIN_EXE_magnets"))
        .args(["flops", "--config", "models/default-config.json", "--json"])
        .stdout(full)
        .output()
        .expect("run magnets");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("cannot write the output") && !err.contains("panicked"), "{err}");
}

#[test]
fn init_forward_flops_generate() {
    let weights = tmp("w.safetensors");
    let (ok, _, err) = magnets(&["init", "--config", "models/default-config.json", "--seed", "3", "--out", weights.to_str().unwrap()]);
    assert!(ok, "{err}");
    let w = weights.to_str().unwrap();

    // forward: {"tokens": [[id; N]; B], "classes": [id; B], "width": "S"} → {"logits": [[[f32; K]; N]; B]}
    let req = tmp("req.json");
    let tokens: Vec<Vec<u32>> = vec![vec![512; 64], (0..64).collect()];
    std::fs::write(&req, serde_json::json!({"tokens": tokens, "classes": [0, 9], "width": "S"}).to_string()).unwrap();
    let (ok, out, err) = magnets(&["forward", "--weights", w, "--request", req.to_str().unwrap()]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let logits = v["logits"].as_array().unwrap();
    assert_eq!(logits.len(), 2);
    assert_eq!(logits[0].as_array().unwrap().len(), 64);
    assert_eq!(logits[0][0].as_array().unwrap().len(), 512);

    // flops --json: total_gflops, baseline_gflops, ratio, steps; MaGNeTS ≥ 3x below XL12.
    let (ok, out, err) = magnets(&["flops", "--weights", w, "--schedule", "S3M3L3XL3", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["steps"].as_array().unwrap().len(), 12);
    let ratio = v["ratio"].as_f64().unwrap();
    assert!(ratio >= 3.0, "ratio {ratio}");
    let (ok, out, _) = magnets(&["flops", "--weights", w, "--schedule", "XL12", "--cache", "off", "--json"]);
    assert!(ok);
    let base: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(base["ratio"].as_f64().unwrap(), 1.0);
    assert!(base["total_gflops"].as_f64().unwrap() >= 3.0 * v["total_gflops"].as_f64().unwrap());

    // init --from W --int8 stores the same model in half of f16's bytes, which every command reads.
    let int8 = tmp("w8.safetensors");
    let (ok, _, err) = magnets(&["init", "--from", w, "--int8", "--out", int8.to_str().unwrap()]);
    assert!(ok, "{err}");
    let f16_len = std::fs::metadata(w).unwrap().len();
    assert!(std::fs::metadata(&int8).unwrap().len() * 100 <= 55 * f16_len);
    let (ok, out8, err) = magnets(&["flops", "--weights", int8.to_str().unwrap(), "--schedule", "S3M3L3XL3", "--json"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&out8).unwrap()["ratio"], v["ratio"]);

    // generate writes a trace.
    let dir = tmp("gen");
    let (ok, _, err) = magnets(&["generate", "--weights", w, "--batch", "2", "--schedule", "S2XL2", "--out", dir.to_str().unwrap()]);
    assert!(ok, "{err}");
    let trace: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("trace.json")).unwrap()).unwrap();
    assert_eq!(trace["steps"].as_array().unwrap().len(), 4);
    assert_eq!(trace["tokens"].as_array().unwrap().len(), 2);

    // Errors are messages with a non-zero exit, not panics.
    for (args, needle) in [
        (vec!["generate", "--weights", w, "--schedule", "Q3"], "unknown width name"),
        (vec!["generate", "--weights", w, "--schedule", "XL0"], "at least one step"),
        (vec!["generate", "--weights", w, "--schedule", "XL2000"], "1024"),
        (vec!["generate", "--weights", "/nonexistent.safetensors"], "cannot read"),
        (vec!["generate", "--weights", w, "--class", "Dragons"], "unknown class"),
    ] {
        let (ok, _, err) = magnets(&args);
        assert!(!ok && err.contains(needle) && !err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `magnets bench --json` (WGSL vs burn-wgpu on whatever adapter wgpu finds: lavapipe in CI)
/// prints the documented keys, and its GFLOPs per image agree with `magnets flops`.
#[cfg(all(feature = "gpu", feature = "burn-wgpu"))]
#[test]
fn bench_json_reports_times_ratios_and_flops_per_image() {
    let config = tmp("tiny-config.json");
    std::fs::write(&config, serde_json::to_string(&magnets::config::ModelConfig::tiny()).unwrap()).unwrap();
    let weights = tmp("tiny.safetensors");
    let w = weights.to_str().unwrap();
    let (ok, _, err) = magnets(&["init", "--config", config.to_str().unwrap(), "--out", w]);
    assert!(ok, "{err}");
    let (ok, out, err) = magnets(&["bench", "--weights", w, "--batch", "2", "--repeats", "1", "--json"]);
    if !ok && std::env::var("MAGNETS_SKIP_GPU_TESTS").is_ok_and(|v| v == "1") {
        eprintln!("skipping (MAGNETS_SKIP_GPU_TESTS=1): {err}");
        return;
    }
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    for key in ["baseline_ms_per_image", "magnets_ms_per_image", "speedup_vs_baseline", "burn_wgpu_ms_per_image", "speedup_vs_burn", "speedup_vs_burn_magnets"] {
        assert!(v[key].as_f64().is_some_and(|x| x > 0.0), "{key}: {}", v[key]);
    }
    assert!(v["device"].as_str().is_some_and(|d| !d.is_empty()));
    for (key, schedule, cache) in [("baseline_gflops_per_image", "baseline", "off"), ("magnets_gflops_per_image", "magnets", "on")] {
        let (ok, out, err) = magnets(&["flops", "--weights", w, "--schedule", schedule, "--cache", cache, "--json"]);
        assert!(ok, "{err}");
        let f: serde_json::Value = serde_json::from_str(&out).unwrap();
        let expected = f["total_gflops"].as_f64().unwrap();
        let got = v[key].as_f64().unwrap();
        assert!((got - expected).abs() <= 1e-9 * expected.max(1.0), "{key}: bench {got} vs flops {expected}");
    }
}

/// `magnets ARGS` that must finish within `secs` (a hang is a failure, not a stuck CI job).
fn magnets_within(args: &[&str], secs: u64) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_magnets"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run magnets");
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed().as_secs() >= secs {
            child.kill().unwrap();
            panic!("magnets {args:?} still running after {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// Every reproducer of the bad-input report: a non-zero exit within seconds whose message names
/// the flag or file and the problem — no panic, no abort, no hang, no giant allocation.
#[test]
fn bad_input_is_a_clear_error() {
    use magnets::config::ModelConfig;
    use magnets::weights::{StoredDtype, Weights};
    let tiny = Weights::init(&ModelConfig::tiny(), 1).unwrap();
    let weights = tmp("bad-tiny.safetensors");
    tiny.save(&weights, StoredDtype::F32).unwrap();
    let w = weights.to_str().unwrap();

    // Finite but huge weights: NaN logits, which the sampler used to turn into code K-1; now
    // refused at load (the run-time check behind it is tested in tests/fuzz.rs).
    let mut huge = tiny.clone();
    for name in ["blocks.0.mlp.w1", "head.w"] {
        huge.tensors.get_mut(name).unwrap().data.iter_mut().for_each(|v| *v = 1e38);
    }
    let huge_path = tmp("bad-huge.safetensors");
    huge.save(&huge_path, StoredDtype::F32).unwrap();
    let huge_w = huge_path.to_str().unwrap();

    // A model config whose grid product wraps around to 64 (= the shipped tensors' N).
    let wrapped_model = tmp("bad-wrapped-model.safetensors");
    std::fs::write(
        &wrapped_model,
        common::with_config(&common::shipped("models/magnets-emoji.safetensors"), "magnets.config", |c| {
            c["grid"] = serde_json::json!([9223372036854775816u64, 8])
        }),
    )
    .unwrap();
    // A tokenizer config whose `4 * grid` wraps around to image_size.
    let wrapped_tok = tmp("bad-wrapped-tokenizer.safetensors");
    std::fs::write(
        &wrapped_tok,
        common::with_config(&common::shipped("models/tokenizer-decoder.safetensors"), "magnets.tokenizer", |c| {
            c["grid"] = serde_json::json!([4611686018427387912u64, 4611686018427387912u64])
        }),
    )
    .unwrap();
    // A tokenizer whose weights would overflow (f32, ×1e30).
    let big_tok = tmp("bad-huge-tokenizer.safetensors");
    let mut t = magnets::tokenizer::TokenizerWeights::load(&common::repo_file("models/tokenizer-decoder.safetensors")).unwrap();
    t.tensors.values_mut().for_each(|x| x.data.iter_mut().for_each(|v| *v *= 1e30));
    std::fs::write(&big_tok, common::raw_f32_file(&t.tensors, "magnets.tokenizer", &serde_json::to_string(&t.config).unwrap())).unwrap();
    // A truncated tensor section.
    let truncated = tmp("bad-truncated.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 100]).unwrap();
    // A huge model config, a FIFO, a directory, requests with empty positions.
    let huge_config = tmp("bad-huge-config.json");
    let mut c: serde_json::Value = serde_json::from_str(&ModelConfig::tiny().to_json()).unwrap();
    c["dim"] = serde_json::json!(8192);
    c["depth"] = serde_json::json!(64);
    c["widths"] = serde_json::json!([1024, 2048, 4096, 8192]);
    c["head_dim"] = serde_json::json!(64);
    c["mlp_ratio"] = serde_json::json!(16);
    std::fs::write(&huge_config, c.to_string()).unwrap();
    let fifo = tmp("bad-fifo");
    let _ = std::fs::remove_file(&fifo);
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let fifo = fifo.to_str().unwrap();
    let empty_positions = tmp("bad-positions.json");
    let n = ModelConfig::tiny().tokens();
    std::fs::write(&empty_positions, serde_json::json!({"tokens": [vec![0; n]], "classes": [0], "width": "S", "positions": []}).to_string()).unwrap();
    let empty_row = tmp("bad-positions-row.json");
    std::fs::write(&empty_row, serde_json::json!({"tokens": [vec![0; n]], "classes": [0], "width": "S", "positions": [[]]}).to_string()).unwrap();
    let a_file = tmp("bad-a-file");
    std::fs::write(&a_file, "x").unwrap();
    let under_file = a_file.join("out");
    let (empty_positions, empty_row) = (empty_positions.to_str().unwrap(), empty_row.to_str().unwrap());
    let (wrapped_model, wrapped_tok, big_tok) =
        (wrapped_model.to_str().unwrap(), wrapped_tok.to_str().unwrap(), big_tok.to_str().unwrap());
    let dir = tmp("bad-out");
    let dir = dir.to_str().unwrap();

    let mut cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (vec!["generate", "--weights", w, "--steps", "18446744073709551615"], vec!["--steps", "choose 1 to"]),
        (vec!["generate", "--weights", w, "--steps", "1000000000000"], vec!["--steps", "choose 1 to"]),
        (vec!["generate", "--weights", w, "--steps", "1000000000"], vec!["--steps"]),
        (vec!["generate", "--weights", w, "--steps", "0"], vec!["--steps"]),
        (vec!["generate", "--weights", w, "--batch", "1000000000000"], vec!["--batch", "1 to 64"]),
        (vec!["generate", "--weights", w, "--batch", "0"], vec!["--batch", "1 to 64"]),
        (vec!["generate", "--weights", w, "--class", "0,1", "--batch", "3"], vec!["--class", "--batch"]),
        (vec!["generate", "--weights", w, "--refresh-every", "0"], vec!["--refresh-every"]),
        (vec!["generate", "--weights", w, "--temperature", "1e-40"], vec!["temperature"]),
        (vec!["generate", "--weights", w, "--tokenizer", "models/tokenizer.safetensors"], vec!["--out"]),
        (vec!["generate", "--weights", huge_w], vec!["too large", huge_w]),
        (vec!["flops", "--weights", huge_w], vec!["too large", huge_w]),
        (vec!["forward", "--weights", huge_w, "--request", empty_positions], vec!["too large", huge_w]),
        (vec!["flops", "--weights", wrapped_model], vec![wrapped_model, "grid"]),
        (vec!["generate", "--weights", wrapped_model], vec![wrapped_model, "grid"]),
        (vec!["generate", "--weights", w, "--tokenizer", wrapped_tok, "--out", dir], vec![wrapped_tok, "grid"]),
        (vec!["web-assets", "--tokenizer", wrapped_tok, "--decoder-out", "/tmp/x", "--palette-out", "/tmp/y"], vec![wrapped_tok, "grid"]),
        (vec!["generate", "--weights", w, "--tokenizer", big_tok, "--out", dir], vec![big_tok, "too large"]),
        (vec!["generate", "--weights", truncated.to_str().unwrap()], vec!["truncated"]),
        (vec!["generate", "--weights", "/dev/zero"], vec!["/dev/zero", "not a regular file"]),
        (vec!["generate", "--weights", fifo], vec![fifo, "not a regular file"]),
        (vec!["generate", "--weights", "models"], vec!["models", "not a regular file"]),
        (vec!["forward", "--weights", w, "--request", "/dev/zero"], vec!["/dev/zero", "not a regular file"]),
        (vec!["forward", "--weights", w, "--request", fifo], vec![fifo, "not a regular file"]),
        (vec!["forward", "--weights", w, "--request", empty_positions], vec![empty_positions, "positions"]),
        (vec!["forward", "--weights", w, "--request", empty_row], vec![empty_row, "positions"]),
        (vec!["init", "--config", huge_config.to_str().unwrap(), "--out", "/tmp/never.safetensors"], vec!["parameters", "bad-huge-config.json"]),
        (vec!["init", "--from", w, "--depth", "5", "--out", "/tmp/never.safetensors"], vec!["--depth", "multiple of the model's depth"]),
        (vec!["init", "--from", w, "--out", "/tmp/never.safetensors"], vec!["--int8"]),
        (vec!["init", "--from", w, "--int8", "--f32", "--out", "/tmp/never.safetensors"], vec!["--f32", "--int8"]),
        (vec!["flops", "--config", "/dev/zero"], vec!["/dev/zero", "not a regular file"]),
        (vec!["flops", "--config", a_file.to_str().unwrap()], vec!["bad-a-file", "invalid config JSON"]),
        (vec!["generate", "--weights", w, "--out", a_file.to_str().unwrap()], vec!["bad-a-file"]),
        (vec!["generate", "--weights", w, "--out", under_file.to_str().unwrap()], vec!["bad-a-file/out"]),
        (vec!["eval", "--weights", w, "--samples", "10000000000"], vec!["--samples"]),
        (vec!["eval", "--weights", w, "--samples", "4294967298"], vec!["--samples"]),
        (vec!["eval", "--weights", w, "--samples", "1"], vec!["--samples"]),
        (vec!["eval", "--weights", w, "--batch", "0"], vec!["--batch"]),
        (vec!["eval-images", "--images", dir, "--limit", "0"], vec!["--limit"]),
        (vec!["bench", "--weights", w, "--batch", "0"], vec!["--batch"]),
        (vec!["train-tokenizer", "--log-every", "0"], vec!["--log-every"]),
        (vec!["train", "--synthetic", "4", "--add-data", "models/anim/noto_tokens.safetensors"], vec!["--data"]),
        (
            vec![
                "train", "--config", "models/magnets-anim.config.json", "--data", "models/anim/anim_tokens.safetensors",
                "--add-data", "models/emoji_tokens.safetensors", "--steps", "1", "--out", "/tmp/never-trained",
            ],
            vec!["--add-data models/emoji_tokens.safetensors", "different grids"],
        ),
    ];
    if !cfg!(feature = "tch") {
        cases.push((vec!["generate", "--weights", w, "--engine", "torch"], vec!["--engine torch", "--features tch"]));
    }
    for (args, needles) in &cases {
        let (ok, _, err) = magnets_within(args, 60);
        assert!(!ok, "{args:?} succeeded");
        assert!(!err.contains("panicked") && !err.contains("memory allocation"), "{args:?}: {err}");
        for needle in needles {
            assert!(err.contains(needle), "{args:?}: `{needle}` missing from: {err}");
        }
    }
    println!("cli: {} bad-input cases, each a clear error", cases.len());
}

/// models/models.json: the default model and its tokenizer are what commands use without
/// --weights/--tokenizer; a broken list is an error naming the file, not a panic.
#[test]
fn shipped_models_list() {
    let (ok, out, err) = magnets(&["models", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let default = v["default"].as_str().unwrap();
    let models = v["models"].as_array().unwrap();
    let d = models.iter().find(|m| m["id"] == default).expect("the default is listed");
    assert!(d["parameters"].as_u64().unwrap() > 100_000, "the default model's weights load: {d}");
    assert_eq!(d["tokenizer_present"], true);
    assert!(models.iter().any(|m| m["light"] == true), "a light model for slow devices");

    let dir = tmp("registry");
    std::fs::create_dir_all(dir.join("models")).unwrap();
    let run_in = |text: &str, args: &[&str]| {
        std::fs::write(dir.join("models/models.json"), text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_magnets")).args(args).current_dir(&dir).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let one = |id: &str, w: &str| format!(r#"{{"id":"{id}","name":"N","about":"a","weights":"{w}","tokenizer":"t.safetensors"}}"#);
    for (text, needle) in [
        ("{".to_string(), "not a model list"),
        (format!(r#"{{"default":"x","models":[{}]}}"#, one("a", "a.safetensors")), "the default model `x` is not in its list"),
        (format!(r#"{{"default":"a","models":[{},{}]}}"#, one("a", "a.safetensors"), one("a", "b.safetensors")), "listed twice"),
        (format!(r#"{{"default":"a","models":[{}]}}"#, one("a", "../a.safetensors")), "inside models/"),
        (format!(r#"{{"default":"a","models":[{}]}}"#, one("a", "a.safetensors").replace('}', r#","kind":"clip"}"#)), "must make images"),
        (format!(r#"{{"default":"a","models":[{}]}}"#, one("a", "a.safetensors").replace('}', r#","kind":"movie"}"#)), "unknown variant"),
        (
            format!(r#"{{"default":"a","models":[{}]}}"#, one("a", "a.safetensors").replace('}', r#","sampling":{"temperature":1,"tau":500,"guidance":0}}"#)),
            "model `a`: sampling: confidence noise",
        ),
        (
            format!(r#"{{"default":"a","models":[{}]}}"#, one("a", "a.safetensors").replace('}', r#","sampling":{"tau":8}}"#)),
            "missing field `temperature`",
        ),
    ] {
        let (ok, err) = run_in(&text, &["flops"]);
        assert!(!ok && err.contains("models/models.json") && err.contains(needle) && !err.contains("panicked"), "{text}: {err}");
    }
    // A list whose default weights are missing: the error names the weights file.
    let (ok, err) = run_in(&format!(r#"{{"default":"a","models":[{}]}}"#, one("a", "a.safetensors")), &["flops"]);
    assert!(!ok && err.contains("models/a.safetensors"), "{err}");
    std::fs::remove_file(dir.join("models/models.json")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_magnets")).args(["flops"]).current_dir(&dir).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("models/models.json") && err.contains("--weights"), "{err}");
}

/// Without --temperature/--noise/--guidance a shipped model decodes with its own settings
/// (models/models.json `sampling`); other weights with the library's defaults; a flag wins.
#[test]
fn decodes_use_the_shipped_models_sampling_settings() {
    let models = common::shipped_models();
    let small = models.iter().find(|m| m.id == "small").expect("the small model is listed");
    let tau = small.sampling.expect("the small model has its settings").tau;
    let default_tau = magnets::sampling::SamplingParams::default().confidence_noise;
    assert_ne!(tau, default_tau, "the test needs a model whose τ is not the default");
    let weights = format!("models/{}", small.weights);
    let copy = tmp("sampling").join("copy.safetensors");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    std::fs::copy(&weights, &copy).unwrap();
    let tokens = |w: &str, extra: &[&str]| {
        let mut args = vec!["generate", "--weights", w, "--schedule", "S2M2L2XL2", "--class", "0,3", "--seed", "5"];
        args.extend_from_slice(extra);
        let (ok, out, err) = magnets(&args);
        assert!(ok, "{args:?}: {err}");
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["tokens"].clone()
    };
    let (own, other) = (format!("{tau}"), format!("{default_tau}"));
    let shipped = tokens(&weights, &[]);
    assert_eq!(shipped, tokens(&weights, &["--noise", &own]), "the shipped model decodes with its own τ");
    assert_ne!(shipped, tokens(&weights, &["--noise", &other]), "a flag wins (and τ changes the tokens)");
    let copy = copy.to_str().unwrap();
    assert_eq!(tokens(copy, &[]), tokens(copy, &["--noise", &other]), "other weights: the library's defaults");
    // Its int8 copy (what the page downloads, and what the page's "Reproduce" command names) is
    // the same model: its settings, and its tokenizer for the PNGs.
    let int8 = small.int8_path();
    let int8 = int8.to_str().unwrap();
    assert_eq!(tokens(int8, &[]), tokens(int8, &["--noise", &own]), "the int8 copy decodes with the model's τ");
    let registry = magnets::registry::Registry::load_from(&common::repo_file(magnets::registry::REGISTRY)).unwrap();
    assert_eq!(registry.tokenizer_for(std::path::Path::new(int8)), small.tokenizer_path());
    assert_ne!(small.tokenizer_path(), registry.default_model().tokenizer_path(), "the test needs a model with its own tokenizer");
}

/// A clip model from the command line: `generate` continues held-out clips named by number or
/// name and keeps their first frame; bad starts are clear errors; `eval` sends clip models to
/// `eval-clips`.
#[test]
fn clip_model_generate_continues_held_out_clips() {
    let dir = tmp("clip");
    std::fs::create_dir_all(&dir).unwrap();
    let w = dir.join("clip.safetensors");
    let (ok, _, err) = magnets(&["init", "--config", "models/magnets-anim.config.json", "--out", w.to_str().unwrap()]);
    assert!(ok, "{err}");
    let args = |start: &str| vec!["generate", "--weights", w.to_str().unwrap(), "--schedule", "S1XL1", "--start", start].iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let run = |start: &str| {
        let a = args(start);
        magnets(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (ok, out, err) = run("0,sun_with_face,beers");
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tokens = v["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 3);
    assert_eq!(tokens[0].as_array().unwrap().len(), 512);
    // Held-out clip 0 is sun_with_face: both start from the same given frame, beers from another.
    let first = |i: usize| tokens[i].as_array().unwrap()[..64].to_vec();
    assert_eq!(first(0), first(1));
    assert_ne!(first(0), first(2));
    for (start, want) in [("81", "there are 81 held-out clips"), ("no_such_emoji", "no held-out clip of that name")] {
        let (ok, _, err) = run(start);
        assert!(!ok && err.contains(want) && !err.contains("panicked"), "{start}: {err}");
    }
    let (ok, _, err) = magnets(&["eval", "--weights", w.to_str().unwrap(), "--samples", "2"]);
    assert!(!ok && err.contains("eval-clips"), "{err}");

    // `--context`: a given frame by its codes (a generated emoji's), continued once per class.
    let frame: Vec<String> = first(2).iter().map(|c| c.to_string()).collect();
    let frame = frame.join(",");
    let with = |extra: &[&str]| {
        let mut args = vec!["generate", "--weights", w.to_str().unwrap(), "--schedule", "S1XL1"];
        args.extend_from_slice(extra);
        magnets(&args)
    };
    let (ok, out, err) = with(&["--context", &frame, "--class", "1,4"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tokens = v["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "one clip per class");
    for clip in tokens {
        assert_eq!(clip.as_array().unwrap()[..64].to_vec(), first(2), "the given frame stays");
    }
    // The same frame as a held-out start's continues the same way (same classes and seeds).
    let (ok, by_start, err) = with(&["--start", "beers", "--class", "1"]);
    assert!(ok, "{err}");
    let (ok, by_codes, err) = with(&["--context", &frame, "--class", "1"]);
    assert!(ok, "{err}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&by_start).unwrap()["tokens"], serde_json::from_str::<serde_json::Value>(&by_codes).unwrap()["tokens"]);
    let short = frame.rsplit_once(',').unwrap().0.to_string();
    let big = format!("{short},512");
    let long = format!("{frame},1");
    for (extra, want) in [
        (vec!["--context", &short], "--context holds 63 codes; this model's given frames hold 64"),
        (vec!["--context", &long], "--context holds more than 64 codes"),
        (vec!["--context", &big], "--context: `512` is not a code of this model (0..512)"),
        (vec!["--context", &frame, "--start", "0"], "cannot be used with"),
    ] {
        let (ok, _, err) = with(&extra);
        assert!(!ok && err.contains(want) && !err.contains("panicked"), "{extra:?}: {err}");
    }
    let (ok, _, err) = magnets(&["generate", "--weights", "models/magnets-emoji.safetensors", "--context", &frame]);
    assert!(!ok && err.contains("--context is for clip models"), "{err}");
}

/// Frame prediction's paired gap from the command line: `eval-clips --features-out` keeps the
/// predicted frames' features, and `fid-gap --clips` compares two schedules' rows of the same
/// draws against the held-out clips; a row of other draws, a missing `--clips` or another clip
/// file are clear errors.
#[test]
fn clip_rows_compare_with_a_paired_gap() {
    use magnets::data::{Split, split_of};
    let dir = tmp("clip-gap");
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    // Five held-out and two training clips of moving discs.
    let mut clips = magnets::data::anim::AnimDataset::default();
    let (mut held, mut train) = (0, 0);
    for i in 0u32.. {
        let name = format!("disc_{i}");
        let is_held = split_of(&name) == Split::HeldOut;
        if (is_held && held < 5) || (!is_held && train < 2) {
            let clip: Vec<u8> = (0..8 * 1024)
                .flat_map(|p| {
                    let (f, y, x) = (p / 1024, (p % 1024) / 32, p % 32);
                    let inside = (x as i32 - 8 - 2 * f as i32).pow(2) + (y as i32 - 16).pow(2) < 36 + (i % 5) as i32 * 8;
                    if inside { [200, (40 * i % 255) as u8, 30] } else { [255, 255, 255] }
                })
                .collect();
            clips.push(&clip, (i % 9) as u8, name, format!("{i:x}"));
            if is_held { held += 1 } else { train += 1 }
        }
        if held == 5 && train == 2 {
            break;
        }
    }
    clips.save(std::path::Path::new(&path("clips.safetensors"))).unwrap();
    let (ok, _, err) = magnets(&["tokenize", "--clips", &path("clips.safetensors"), "--tokenizer", "models/tokenizer-all-art.safetensors", "--out", &path("tokens.safetensors")]);
    assert!(ok, "{err}");
    let row = |schedule: &str, cache: &str, seed: &str, out: &str| {
        let (ok, stdout, err) = magnets(&[
            "eval-clips", "--weights", "models/magnets-anim.safetensors", "--schedule", schedule, "--cache", cache,
            "--tokens", &path("tokens.safetensors"), "--clips", &path("clips.safetensors"), "--per-clip", "2", "--seed", seed,
            "--features-out", &path(out), "--json",
        ]);
        assert!(ok, "{err}");
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
    };
    let base = row("XL2", "off", "0", "base.safetensors");
    let split = row("S1XL1", "on", "0", "split.safetensors");
    row("S1XL1", "on", "9", "other-draws.safetensors");
    let kept = magnets::metrics::paired::SampleFeatures::load(std::path::Path::new(&path("split.safetensors"))).unwrap();
    assert_eq!(kept.count(), 2 * 5 * 7, "two predictions of each held-out clip, frames 1–7");
    assert_eq!(kept.draws().clip.as_ref().map(|c| c.context_frames), Some(1));
    let gap_of = |other: &str, extra: &[&str]| {
        let (base, other) = (path("base.safetensors"), path(other));
        let mut args = vec!["fid-gap", "--baseline", &base, "--other", &other];
        args.extend_from_slice(extra);
        magnets(&args)
    };
    let clips_file = path("clips.safetensors");
    let (ok, out, err) = gap_of("split.safetensors", &["--clips", &clips_file, "--replicates", "20", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let gap = &v["rows"][0]["gap"];
    assert_eq!(gap["count"], 70);
    let close = |a: &serde_json::Value, b: &serde_json::Value| (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-6 * b.as_f64().unwrap().max(1.0);
    assert!(close(&gap["fid_baseline"], &base["frame_fid"]) && close(&gap["fid"], &split["frame_fid"]), "the rows' own frame-FIDs: {gap}");
    let (g, lo, hi) = (gap["gap"].as_f64().unwrap(), gap["gap_ci95"][0].as_f64().unwrap(), gap["gap_ci95"][1].as_f64().unwrap());
    assert!(lo <= g && g <= hi && lo < hi, "{gap}");
    assert_eq!(v["rows"][0]["gflops_per_clip"], split["gflops_per_clip"]);

    let (ok, _, err) = gap_of("other-draws.safetensors", &["--clips", &clips_file]);
    assert!(!ok && err.contains("seed") && !err.contains("panicked"), "{err}");
    let (ok, _, err) = gap_of("split.safetensors", &[]);
    assert!(!ok && err.contains("--clips"), "{err}");
    let (ok, _, err) = gap_of("split.safetensors", &["--clips", &path("tokens.safetensors")]);
    assert!(!ok && err.contains("another classifier or reference"), "{err}");
}
