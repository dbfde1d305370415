//! Helpers shared by the bad-input tests: safetensors files taken apart and put back together
//! without validation, so a test can write exactly the broken file it needs.
#![allow(dead_code)]

use serde_json::Value;

/// A file of this checkout. Cargo sets CARGO_MANIFEST_DIR when it runs a test, too: read at run
/// time it names the checkout being tested, where the compile-time value can name another
/// clone that built a test binary cargo still deems fresh (a shared target dir).
pub fn repo_file(path: &str) -> std::path::PathBuf {
    let root = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    std::path::Path::new(&root).join(path)
}

/// The project's default model config (models/default-config.json).
pub fn default_config() -> magnets::config::ModelConfig {
    magnets::config::ModelConfig::load(&repo_file("models/default-config.json")).unwrap()
}

/// The shipped models of models/models.json, read the way the CLI reads them.
pub fn shipped_models() -> Vec<magnets::registry::ShippedModel> {
    magnets::registry::Registry::load_from(&repo_file(magnets::registry::REGISTRY)).unwrap().models
}

pub fn shipped(path: &str) -> Vec<u8> {
    std::fs::read(repo_file(path)).unwrap()
}

/// A safetensors file as (header JSON, tensor bytes).
pub fn split(bytes: &[u8]) -> (Value, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    (serde_json::from_slice(&bytes[8..8 + n]).unwrap(), bytes[8 + n..].to_vec())
}

pub fn join(header: &Value, data: &[u8]) -> Vec<u8> {
    let h = serde_json::to_vec(header).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(h);
    out.extend(data);
    out
}

/// The file with its config JSON (metadata `key`) edited by `edit`.
pub fn with_config(bytes: &[u8], key: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let (mut header, data) = split(bytes);
    let mut config: Value = serde_json::from_str(header["__metadata__"][key].as_str().unwrap()).unwrap();
    edit(&mut config);
    header["__metadata__"][key] = Value::String(config.to_string());
    join(&header, &data)
}

/// An f32 safetensors file of `tensors` with `config_json` under metadata `key`, written
/// without any validation.
pub fn raw_f32_file(
    tensors: &std::collections::HashMap<String, magnets::weights::HostTensor>,
    key: &str,
    config_json: &str,
) -> Vec<u8> {
    let bufs: Vec<(String, Vec<usize>, Vec<u8>)> =
        tensors.iter().map(|(n, t)| (n.clone(), t.shape.clone(), bytemuck::cast_slice(&t.data).to_vec())).collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bufs
        .iter()
        .map(|(n, s, b)| (n.clone(), safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), b).unwrap()))
        .collect();
    let mut meta = std::collections::HashMap::new();
    meta.insert(key.to_string(), config_json.to_string());
    safetensors::serialize(views, Some(meta)).unwrap()
}
