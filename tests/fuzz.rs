//! Deterministic fuzzing of every reader of untrusted input: a seeded mutator over the shipped
//! model, tokenizer and token-dataset files (truncations, byte flips, header edits: shapes,
//! dtypes, offsets, names, the header length, the config JSON; and huge or non-finite values),
//! over config JSON, and over schedule / cache-policy strings (property tests: any string is a
//! value or an error). The contract, checked on every case: a clear error, or a valid result
//! whose outputs are finite — never a panic. Accepted model files are decoded (CPU reference)
//! and accepted tokenizers decode an image, so weights that parse but overflow must be refused
//! at load or at run time, never turned into garbage.
//!
//! The counts are printed (`cargo test --release --test fuzz -- --nocapture`) and quoted in
//! docs/RESULTS.md.

use std::panic::{AssertUnwindSafe, catch_unwind};

use magnets::config::ModelConfig;
use magnets::decode::{DecodeRequest, decode};
use magnets::reference::ReferenceEngine;
use magnets::sampling::SamplingParams;
use magnets::schedule::{CachePolicy, MAX_STEPS, Schedule};
use magnets::tokenizer::tokens::TokenDataset;
use magnets::tokenizer::{TokenizerConfig, TokenizerWeights, try_cpu_decode};
use magnets::weights::Weights;
use serde_json::{Value, json};

mod common;

use common::{join, shipped, split};

/// splitmix64: small, seeded, the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Numbers a hostile file would put in a size field: zero, boundaries, products that wrap.
const NASTY_NUMBERS: &[u64] = &[
    0,
    1,
    2,
    3,
    7,
    8,
    64,
    4096,
    4097,
    65_535,
    65_536,
    1 << 31,
    1 << 32,
    (1 << 32) + 1,
    1 << 62,
    (1 << 62) + 8,
    (1 << 63) + 8,
    u64::MAX,
];

fn nasty_value(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0..=2 => json!(*rng.pick(NASTY_NUMBERS)),
        3 => json!(*rng.pick(&[-1i64, -64])),
        4 => json!(*rng.pick(&[1.5f64, 1e30, -0.0])),
        _ => rng.pick(&[json!("x"), json!(null), json!([]), json!({}), json!([8, 8, 8]), json!(["S"])]).clone(),
    }
}

/// Replaces one field (or one array entry) of a config object with a nasty value; sometimes
/// removes it or adds an unknown one.
fn mutate_config(rng: &mut Rng, config: &mut Value) {
    let obj = config.as_object_mut().unwrap();
    let keys: Vec<String> = obj.keys().cloned().collect();
    let key = rng.pick(&keys).clone();
    match rng.below(10) {
        0 => {
            obj.remove(&key);
        }
        1 => {
            obj.insert("surprise".into(), json!(1));
        }
        2..=4 if obj[&key].is_array() && !obj[&key].as_array().unwrap().is_empty() => {
            let arr = obj.get_mut(&key).unwrap().as_array_mut().unwrap();
            let i = rng.below(arr.len());
            arr[i] = nasty_value(rng);
        }
        5 if obj[&key].is_array() => {
            let arr = obj.get_mut(&key).unwrap().as_array_mut().unwrap();
            if rng.below(2) == 0 { arr.pop(); } else { let v = arr.last().cloned().unwrap_or(json!(1)); arr.push(v); }
        }
        _ => {
            obj.insert(key, nasty_value(rng));
        }
    }
}

/// Tensor names of a header (everything but `__metadata__`), sorted for determinism.
fn tensor_names(header: &Value) -> Vec<String> {
    let mut names: Vec<String> = header.as_object().unwrap().keys().filter(|k| *k != "__metadata__").cloned().collect();
    names.sort();
    names
}

/// One mutation of a safetensors file whose config sits under `config_key`; returns what was done.
fn mutate_file(rng: &mut Rng, original: &[u8], config_key: &str) -> (&'static str, Vec<u8>) {
    let (mut header, mut data) = split(original);
    let names = tensor_names(&header);
    let name = rng.pick(&names).clone();
    match rng.below(12) {
        0 => {
            let cut = if rng.below(3) == 0 { rng.below(original.len().min(4096)) } else { rng.below(original.len()) };
            ("truncate", original[..cut].to_vec())
        }
        1 => {
            let mut bytes = original.to_vec();
            let hlen = 8 + u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
            for _ in 0..1 + rng.below(8) {
                let at = if rng.below(2) == 0 { rng.below(hlen) } else { rng.below(bytes.len()) };
                bytes[at] ^= 1 << rng.below(8);
            }
            ("flip bits", bytes)
        }
        2 => {
            let mut bytes = original.to_vec();
            let n = *rng.pick(&[0u64, 1, 2, 7, (original.len() - 8) as u64, original.len() as u64, 100_000_001, u64::MAX]);
            bytes[..8].copy_from_slice(&n.to_le_bytes());
            ("header length", bytes)
        }
        3 => {
            let dims = 1 + rng.below(3);
            let shape: Vec<Value> = (0..dims).map(|_| json!(*rng.pick(NASTY_NUMBERS))).collect();
            header[&name]["shape"] = Value::Array(shape);
            ("shape", join(&header, &data))
        }
        4 => {
            let shape = header[&name]["shape"].as_array().unwrap().clone();
            let mut s: Vec<Value> = shape.into_iter().rev().collect();
            if rng.below(2) == 0 {
                s.push(json!(1));
            }
            header[&name]["shape"] = Value::Array(s);
            ("reshape", join(&header, &data))
        }
        5 => {
            header[&name]["dtype"] = json!(*rng.pick(&["F32", "F16", "BF16", "I8", "U8", "F64", "BOOL", "I64", "F8_E4M3", "Q4"]));
            ("dtype", join(&header, &data))
        }
        6 => {
            let off = header[&name]["data_offsets"].as_array().unwrap().clone();
            let (a, b) = (off[0].as_u64().unwrap(), off[1].as_u64().unwrap());
            let d = *rng.pick(&[1u64, 2, 4, 1 << 20, u64::MAX / 2]);
            header[&name]["data_offsets"] = match rng.below(4) {
                0 => json!([a.wrapping_add(d), b.wrapping_add(d)]),
                1 => json!([b, a]),
                2 => json!([a, b.saturating_add(d)]),
                _ => json!([0, b]),
            };
            ("offsets", join(&header, &data))
        }
        7 => {
            let obj = header.as_object_mut().unwrap();
            let info = obj.remove(&name).unwrap();
            if rng.below(2) == 0 {
                obj.insert(format!("{name}.renamed"), info);
            }
            ("rename or drop", join(&header, &data))
        }
        8 => {
            let text = header["__metadata__"][config_key].as_str().unwrap().to_string();
            let mut config: Value = serde_json::from_str(&text).unwrap();
            for _ in 0..1 + rng.below(2) {
                mutate_config(rng, &mut config);
            }
            header["__metadata__"][config_key] = json!(config.to_string());
            ("config", join(&header, &data))
        }
        9 => {
            let meta = header["__metadata__"].as_object_mut().unwrap();
            match rng.below(3) {
                0 => {
                    meta.remove(config_key);
                }
                1 => {
                    meta.insert(config_key.into(), json!("{not json"));
                }
                _ => {
                    header["__metadata__"] = json!(null);
                }
            }
            ("metadata", join(&header, &data))
        }
        _ => {
            // Values: f16 bit patterns written over a run of one tensor (the shipped files are f16).
            let off = header[&name]["data_offsets"].as_array().unwrap();
            let (a, b) = (off[0].as_u64().unwrap() as usize, off[1].as_u64().unwrap() as usize);
            let count = (b - a) / 2;
            if count == 0 {
                return ("values", original.to_vec());
            }
            let random_bits = rng.next() as u16;
            let bits: u16 = *rng.pick(&[0x7e00, 0x7c00, 0xfc00, 0x7bff, 0xfbff, 0x7800, 0x5bff, random_bits]);
            let longest = if rng.below(2) == 0 { 8.min(count) } else { count };
            let len = 1 + rng.below(longest);
            let start = rng.below(count - len + 1);
            for i in start..start + len {
                data[a + 2 * i..a + 2 * i + 2].copy_from_slice(&bits.to_le_bytes());
            }
            ("values", join(&header, &data))
        }
    }
}

#[derive(Default, Debug)]
struct Tally {
    cases: usize,
    refused: usize,
    accepted: usize,
    ran_finite: usize,
    refused_at_run: usize,
    panics: Vec<String>,
    unclear: Vec<String>,
    non_finite: Vec<String>,
}

impl Tally {
    fn report(&self, what: &str) {
        println!(
            "fuzz {what}: {} cases: {} refused with an error, {} accepted ({} ran with finite output, {} refused at run time \
             as non-finite); {} panics, {} unclear errors, {} non-finite outputs",
            self.cases,
            self.refused,
            self.accepted,
            self.ran_finite,
            self.refused_at_run,
            self.panics.len(),
            self.unclear.len(),
            self.non_finite.len()
        );
        assert!(self.panics.is_empty(), "{what}: panics on {:?}", &self.panics[..self.panics.len().min(5)]);
        assert!(self.unclear.is_empty(), "{what}: unclear errors {:?}", &self.unclear[..self.unclear.len().min(5)]);
        assert!(self.non_finite.is_empty(), "{what}: non-finite output {:?}", &self.non_finite[..self.non_finite.len().min(5)]);
    }

    /// An error must say what is wrong in words (no debug dumps, no empty text).
    fn refused(&mut self, label: &str, message: &str) {
        self.refused += 1;
        if message.trim().len() < 12 || message.contains("panicked") {
            self.unclear.push(format!("{label}: {message:?}"));
        }
    }
}

/// Runs `f`, turning a panic into a recorded failure (and silencing its default report).
fn guarded<T>(tally: &mut Tally, label: &str, f: impl FnOnce() -> T) -> Option<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => Some(v),
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            tally.panics.push(format!("{label}: {}", msg.unwrap_or_default()));
            None
        }
    }
}

fn quiet_panics() {
    std::panic::set_hook(Box::new(|_| {}));
}

/// A short decode that visits two widths and the cache.
fn short_decode(w: &Weights) -> magnets::Result<Vec<Vec<u32>>> {
    let schedule = Schedule::parse(&format!("{}1{}2", w.config.width_names[0], w.config.width_names.last().unwrap()), &w.config)?;
    let req = DecodeRequest {
        context: Vec::new(),
        schedule,
        cache: CachePolicy::On { refresh_every: None },
        classes: vec![0],
        sampling: SamplingParams { seed: 3, ..Default::default() },
    };
    let mut e = ReferenceEngine::cpu(w);
    Ok(pollster::block_on(decode(&mut e, &req, |_| {}))?.tokens)
}

#[test]
fn fuzz_model_files() {
    quiet_panics();
    let original = shipped("models/magnets-emoji.safetensors");
    let mut rng = Rng(0x5eed_0001);
    let mut t = Tally::default();
    let mut decodes = 0;
    for case in 0..1200 {
        let (label, bytes) = mutate_file(&mut rng, &original, "magnets.config");
        let label = format!("model case {case} ({label})");
        t.cases += 1;
        let Some(loaded) = guarded(&mut t, &label, || Weights::from_safetensors(&bytes)) else { continue };
        let w = match loaded {
            Err(e) => {
                t.refused(&label, &e.to_string());
                continue;
            }
            Ok(w) => w,
        };
        t.accepted += 1;
        // Decoding costs ~50 ms; the accepted cases are mostly value edits, a few hundred suffice.
        if decodes >= 150 {
            continue;
        }
        decodes += 1;
        match guarded(&mut t, &label, || short_decode(&w)) {
            Some(Ok(tokens)) => {
                if tokens.iter().flatten().any(|&c| c as usize >= w.config.codebook) {
                    t.non_finite.push(format!("{label}: a code outside the codebook"));
                } else {
                    t.ran_finite += 1;
                }
            }
            Some(Err(magnets::Error::NonFinite(m))) => {
                t.refused_at_run += 1;
                assert!(m.contains("non-finite"), "{label}: {m}");
            }
            Some(Err(e)) => t.unclear.push(format!("{label}: decode failed with {e}")),
            None => {}
        }
    }
    t.report("model files");
    assert!(t.refused > 0 && t.accepted > 0 && t.refused_at_run + t.ran_finite > 0, "the mutator exercises both paths: {t:?}");
}

/// The f32 form of the shipped model with one tensor scaled to huge-but-finite values (the
/// class the f16 files cannot hold): refused at load or at run time, never sampled from.
#[test]
fn fuzz_huge_f32_weights() {
    quiet_panics();
    let base = Weights::from_safetensors(&shipped("models/magnets-emoji.safetensors")).unwrap();
    let mut names: Vec<String> = base.tensors.keys().cloned().collect();
    names.sort();
    let mut rng = Rng(0x5eed_0002);
    let mut t = Tally::default();
    for case in 0..40 {
        let mut w = base.clone();
        let name = rng.pick(&names).clone();
        let scale = *rng.pick(&[1e10f32, 1e20, 1e30, 1e38, -1e38]);
        for v in &mut w.tensors.get_mut(&name).unwrap().data {
            *v = (*v * scale).clamp(-f32::MAX, f32::MAX);
            if *v == 0.0 {
                *v = scale.clamp(-f32::MAX, f32::MAX);
            }
        }
        let bytes = w.to_safetensors(magnets::weights::StoredDtype::F32).unwrap();
        let label = format!("huge case {case} ({name} × {scale:e})");
        t.cases += 1;
        match guarded(&mut t, &label, || Weights::from_safetensors(&bytes).and_then(|w| short_decode(&w))) {
            Some(Ok(tokens)) => {
                t.accepted += 1;
                if tokens.iter().flatten().any(|&c| c as usize >= w.config.codebook) {
                    t.non_finite.push(label);
                } else {
                    t.ran_finite += 1;
                }
            }
            Some(Err(magnets::Error::NonFinite(_))) => {
                t.accepted += 1;
                t.refused_at_run += 1;
            }
            Some(Err(e)) => t.refused(&label, &e.to_string()),
            None => {}
        }
    }
    t.report("huge f32 weights");
    assert!(t.refused > 0, "huge weights are refused at load: {t:?}");
}

fn fuzz_tokenizer(path: &str, seed: u64, cases: usize) -> Tally {
    quiet_panics();
    let original = shipped(path);
    let mut rng = Rng(seed);
    let mut t = Tally::default();
    let mut decodes = 0;
    for case in 0..cases {
        let (label, bytes) = mutate_file(&mut rng, &original, "magnets.tokenizer");
        let label = format!("tokenizer case {case} ({label})");
        t.cases += 1;
        let Some(loaded) = guarded(&mut t, &label, || TokenizerWeights::from_safetensors(&bytes)) else { continue };
        let w = match loaded {
            Err(e) => {
                t.refused(&label, &e.to_string());
                continue;
            }
            Ok(w) => w,
        };
        t.accepted += 1;
        if decodes >= 60 {
            continue;
        }
        decodes += 1;
        let codes: Vec<u32> = (0..w.config.tokens()).map(|i| (i * 37 % w.config.codebook) as u32).collect();
        match guarded(&mut t, &label, || try_cpu_decode(&w, &codes)) {
            Some(Ok(px)) if px.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)) => t.ran_finite += 1,
            Some(Ok(_)) => t.non_finite.push(label),
            Some(Err(magnets::Error::NonFinite(_))) => t.refused_at_run += 1,
            Some(Err(e)) => t.unclear.push(format!("{label}: decode failed with {e}")),
            None => {}
        }
    }
    t
}

#[test]
fn fuzz_tokenizer_files() {
    let t = fuzz_tokenizer("models/tokenizer-decoder.safetensors", 0x5eed_0003, 900);
    t.report("tokenizer (decoder) files");
    assert!(t.refused > 0 && t.ran_finite > 0, "{t:?}");
    let t = fuzz_tokenizer("models/tokenizer.safetensors", 0x5eed_0004, 300);
    t.report("tokenizer (full) files");
}

#[test]
fn fuzz_token_dataset_files() {
    quiet_panics();
    let original = shipped("models/emoji_tokens.safetensors");
    let mut rng = Rng(0x5eed_0005);
    let mut t = Tally::default();
    for case in 0..400 {
        let (label, mut bytes) = mutate_file(&mut rng, &original, "magnets.tokens");
        // The token file's arrays are u16/u8, not f16: "values" edits are still just bytes.
        if label == "values" && bytes.len() > 100 {
            let at = rng.below(bytes.len());
            bytes[at] = 0xff;
        }
        let label = format!("tokens case {case} ({label})");
        t.cases += 1;
        match guarded(&mut t, &label, || TokenDataset::from_bytes(&bytes)) {
            Some(Ok(ds)) => {
                t.accepted += 1;
                // Accepted means consistent: every image's codes are in range and indexable.
                let ok = (0..ds.len()).all(|i| ds.image_codes(i).iter().all(|&c| (c as usize) < ds.meta.codebook));
                if ok { t.ran_finite += 1 } else { t.non_finite.push(label) }
            }
            Some(Err(e)) => t.refused(&label, &e.to_string()),
            None => {}
        }
    }
    t.report("token dataset files");
}

/// Config JSON (the `init` / `flops --config` input and the `magnets.config` metadata): a value
/// or an error; an accepted config has sizes that fit the stated limits.
#[test]
fn fuzz_config_json() {
    quiet_panics();
    let original: Value = serde_json::from_slice(&shipped("models/default-config.json")).unwrap();
    let tok_original = serde_json::to_value(TokenizerConfig::default()).unwrap();
    let mut rng = Rng(0x5eed_0006);
    let mut t = Tally::default();
    for case in 0..1500 {
        let mut c = original.clone();
        let mut tc = tok_original.clone();
        for _ in 0..1 + rng.below(3) {
            mutate_config(&mut rng, &mut c);
            mutate_config(&mut rng, &mut tc);
        }
        let label = format!("config case {case}: {c} / {tc}");
        t.cases += 2;
        match guarded(&mut t, &label, || ModelConfig::from_json(&c.to_string())) {
            Some(Ok(cfg)) => {
                t.accepted += 1;
                let n = cfg.grid[0].checked_mul(cfg.grid[1]);
                if n.is_none_or(|n| n > magnets::config::MAX_TOKENS)
                    || cfg.parameter_count() > magnets::config::MAX_PARAMETERS
                {
                    t.non_finite.push(format!("{label}: accepted out-of-limit sizes"));
                } else if cfg.parameter_count() < 2_000_000 {
                    match guarded(&mut t, &label, || Weights::init(&cfg, 1)) {
                        Some(Ok(_)) => t.ran_finite += 1,
                        Some(Err(e)) => t.unclear.push(format!("{label}: init refused a valid config: {e}")),
                        None => {}
                    }
                }
            }
            Some(Err(e)) => t.refused(&label, &e.to_string()),
            None => {}
        }
        match guarded(&mut t, &label, || serde_json::from_value::<TokenizerConfig>(tc.clone()).map(|c| (c.validate(), c))) {
            Some(Ok((Ok(()), cfg))) => {
                t.accepted += 1;
                if cfg.tokens() > 4096 || cfg.image_size != 4 * cfg.grid[0] {
                    t.non_finite.push(format!("{label}: tokenizer config out of limits accepted"));
                } else {
                    t.ran_finite += 1;
                }
            }
            Some(Ok((Err(e), _))) => t.refused(&label, &e.to_string()),
            Some(Err(e)) => t.refused(&label, &format!("bad tokenizer config JSON: {e}")),
            None => {}
        }
    }
    t.report("config JSON");
}

/// A random string over an alphabet that makes parsers work: width names, digits, separators,
/// multi-byte text, huge numbers.
fn random_text(rng: &mut Rng) -> String {
    if rng.below(2) == 0 {
        // Well-formed runs (most fit the model), sometimes with one character changed.
        let mut s = String::new();
        for _ in 0..1 + rng.below(4) {
            s.push_str(*rng.pick(&["S", "M", "L", "XL", "m", "Xl"]));
            let most = if rng.below(8) == 0 { 3000 } else { 20 };
            s.push_str(&(1 + rng.below(most)).to_string());
        }
        if rng.below(4) == 0 {
            let at = rng.below(s.len());
            let with = *rng.pick(&["", "0", "-", " ", "é", "Q", "99999"]);
            s.replace_range(at..at + 1, with);
        }
        return s;
    }
    const ATOMS: &[&str] = &[
        "S", "M", "L", "XL", "xl", "s", "Q", "0", "1", "3", "12", "99999", "100000", "1024", "18446744073709551615", " ",
        ":", "on", "off", "on:", "const:", "magnets", "baseline", "reverse", "maskgit", "é", "€", "\u{0}", "-", "+", "XL0",
        "S1025",
    ];
    let mut s = String::new();
    for _ in 0..rng.below(9) {
        s.push_str(*rng.pick(ATOMS));
    }
    s
}

/// Property: `Schedule::parse` / `Schedule::resolve` map any string (and any step count) to a
/// schedule that fits the model, or an error — and a parsed schedule formats back to itself.
#[test]
fn property_schedule_parser() {
    quiet_panics();
    let config = ModelConfig::from_json(&shipped_text("models/magnets-emoji.config.json")).unwrap();
    let mut rng = Rng(0x5eed_0007);
    let mut t = Tally::default();
    for case in 0..6000 {
        let text = random_text(&mut rng);
        let steps = match rng.below(4) {
            0 => rng.below(80),
            1 => *rng.pick(&[0usize, 1, 64, 65, 1024, 1025, usize::MAX, 1 << 40]),
            _ => 12,
        };
        let label = format!("schedule case {case}: {text:?} steps {steps}");
        t.cases += 1;
        let Some(parsed) = guarded(&mut t, &label, || Schedule::parse(&text, &config)) else { continue };
        if let Ok(s) = &parsed {
            if s.is_empty() || s.len() > MAX_STEPS || s.steps.iter().any(|&w| w >= config.widths.len()) {
                t.non_finite.push(format!("{label}: parse gave {s:?}"));
            }
            let again = Schedule::parse(&s.format(&config), &config).ok();
            if again.as_ref() != Some(s) {
                t.non_finite.push(format!("{label}: format/parse round trip"));
            }
        }
        match guarded(&mut t, &label, || Schedule::resolve(&text, steps, &config)) {
            Some(Ok(s)) => {
                t.accepted += 1;
                if s.check(&config).is_err() {
                    t.non_finite.push(format!("{label}: resolve gave an unfit schedule"));
                } else {
                    t.ran_finite += 1;
                }
            }
            Some(Err(e)) => t.refused(&label, &e.to_string()),
            None => {}
        }
        match guarded(&mut t, &label, || CachePolicy::parse(&text)) {
            Some(Ok(p)) => {
                if CachePolicy::parse(&p.format()).ok() != Some(p) {
                    t.non_finite.push(format!("{label}: cache policy round trip"));
                }
            }
            Some(Err(e)) if e.to_string().len() < 12 => t.unclear.push(label),
            _ => {}
        }
    }
    t.report("schedule strings");
    assert!(t.accepted > 100 && t.refused > 100, "the generator reaches both outcomes: {t:?}");
}

fn shipped_text(path: &str) -> String {
    String::from_utf8(shipped(path)).unwrap()
}

/// Behind the load-time bound, the decode loop itself refuses non-finite logits: weights that
/// skip validation (the fields are public) end in a non-finite error, not in codes.
#[test]
fn reference_engine_refuses_non_finite_logits() {
    let config = ModelConfig::tiny();
    let mut w = Weights::init(&config, 5).unwrap();
    for name in ["blocks.0.mlp.w1", "head.w"] {
        w.tensors.get_mut(name).unwrap().data.iter_mut().for_each(|v| *v = 1e38);
    }
    assert!(w.validate().unwrap_err().to_string().contains("too large"));
    for guidance in [0.0, 2.0] {
        let req = DecodeRequest {
            context: Vec::new(),
            schedule: Schedule::parse("S2XL2", &config).unwrap(),
            cache: CachePolicy::On { refresh_every: None },
            classes: vec![0, 1],
            sampling: SamplingParams { seed: 1, guidance, ..Default::default() },
        };
        let mut e = ReferenceEngine::cpu(&w);
        match pollster::block_on(decode(&mut e, &req, |_| {})) {
            Err(magnets::Error::NonFinite(m)) => assert!(m.contains("non-finite logit"), "{m}"),
            other => panic!("guidance {guidance}: expected a non-finite error, got {:?}", other.map(|t| t.tokens)),
        }
    }
}

/// The WGSL engine samples on the device and reads back only (code, confidence): weights that
/// overflow must still end in a non-finite error, through both its samplers, never in codes.
#[cfg(feature = "gpu")]
#[test]
fn gpu_engine_refuses_non_finite_logits() {
    let config = ModelConfig::tiny();
    let mut w = Weights::init(&config, 5).unwrap();
    for name in ["blocks.0.mlp.w1", "head.w"] {
        w.tensors.get_mut(name).unwrap().data.iter_mut().for_each(|v| *v = 1e38);
    }
    let mut engine = match pollster::block_on(magnets::gpu::GpuEngine::new(&w, 4)) {
        Ok(e) => e,
        Err(e) if std::env::var("MAGNETS_SKIP_GPU_TESTS").is_ok_and(|v| v == "1") => {
            eprintln!("skipping (MAGNETS_SKIP_GPU_TESTS=1): {e}");
            return;
        }
        Err(e) => panic!("no usable GPU adapter ({e}); set MAGNETS_SKIP_GPU_TESTS=1 to skip"),
    };
    for (on_device, guidance, temperature) in [(true, 0.0, 1.0), (true, 2.0, 1.0), (true, 0.0, 0.0), (false, 0.0, 1.0)] {
        engine.sample_on_device = on_device;
        let req = DecodeRequest {
            context: Vec::new(),
            schedule: Schedule::parse("S2XL2", &config).unwrap(),
            cache: CachePolicy::On { refresh_every: None },
            classes: vec![0, 1],
            sampling: SamplingParams { seed: 1, guidance, temperature, ..Default::default() },
        };
        match pollster::block_on(decode(&mut engine, &req, |_| {})) {
            Err(magnets::Error::NonFinite(m)) => eprintln!("device sampling {on_device}, guidance {guidance}: {m}"),
            other => panic!("device sampling {on_device}, guidance {guidance}: expected a non-finite error, got {:?}", other.map(|t| t.tokens)),
        }
    }
}

/// The command line over a subset of the mutated model files: exit 0 with output, or exit 1
/// with an `error:` line naming the file — never a panic or an abort (a signal), never a hang.
#[test]
fn fuzz_cli_on_mutated_model_files() {
    let original = shipped("models/magnets-emoji.safetensors");
    let dir = std::env::temp_dir().join(format!("magnets-fuzz-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(0x5eed_0008);
    let (mut ok, mut refused) = (0, 0);
    for case in 0..40 {
        let (label, bytes) = mutate_file(&mut rng, &original, "magnets.config");
        let path = dir.join(format!("case{case}.safetensors"));
        std::fs::write(&path, &bytes).unwrap();
        let p = path.to_str().unwrap();
        let args: Vec<&str> = if case % 4 == 0 {
            vec!["generate", "--weights", p, "--schedule", "S1XL1"]
        } else {
            vec!["flops", "--weights", p, "--json"]
        };
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_magnets")).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let what = format!("cli case {case} ({label}) {args:?}");
        assert!(out.status.code().is_some(), "{what}: killed by a signal: {err}");
        assert!(!err.contains("panicked"), "{what}: {err}");
        if out.status.success() {
            assert!(!out.stdout.is_empty(), "{what}: no output");
            ok += 1;
        } else {
            assert!(err.contains("error:") && err.contains(p), "{what}: unclear: {err}");
            refused += 1;
        }
        std::fs::remove_file(&path).unwrap();
    }
    println!("fuzz cli: 40 runs on mutated model files: {ok} succeeded, {refused} refused with an error naming the file; 0 panics, 0 signals");
}

/// Every file reader refuses a FIFO (which would block forever) and a device such as
/// `/dev/zero` (which never ends) at once, naming the path.
#[test]
fn readers_refuse_fifos_and_devices() {
    let dir = std::env::temp_dir().join(format!("magnets-fuzz-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("pipe.png");
    let _ = std::fs::remove_file(&fifo);
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for path in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
        let shown = path.display().to_string();
        let errors = [
            Weights::load(path).err().map(|e| e.to_string()),
            TokenizerWeights::load(path).err().map(|e| e.to_string()),
            TokenDataset::load(path).err().map(|e| e.to_string()),
            ModelConfig::load(path).err().map(|e| e.to_string()),
            magnets::data::EmojiDataset::load(path).err().map(|e| e.to_string()),
            magnets::metrics::classifier::Classifier::load(path, &burn::tensor::Device::flex()).err().map(|e| e.to_string()),
        ];
        for (i, e) in errors.into_iter().enumerate() {
            let e = e.unwrap_or_else(|| panic!("reader {i} accepted {shown}"));
            assert!(e.contains(&shown) && e.contains("not a regular file"), "reader {i}: {e}");
        }
    }
    let e = magnets::data::load_png_dir(&dir).unwrap_err().to_string();
    assert!(e.contains("pipe.png") && e.contains("not a regular file"), "{e}");
    std::fs::remove_file(&fifo).unwrap();
}
