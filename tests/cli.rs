//! The command-line interfaces other tools rely on (issue: keep them stable).

use std::process::Command;

fn magnets(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_magnets")).args(args).output().expect("run magnets");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("magnets-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
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
