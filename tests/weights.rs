//! Every malformed weights file is refused with a message naming the problem; nothing panics.

use std::collections::HashMap;

use magnets::config::{ModelConfig, TensorKind};
use magnets::weights::{HostTensor, StoredDtype, Weights};

fn good() -> Weights {
    Weights::init(&ModelConfig::tiny(), 7).unwrap()
}

fn load_err(bytes: &[u8]) -> String {
    match Weights::from_safetensors(bytes) {
        Ok(_) => panic!("malformed file was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn round_trip_f32_and_f16() {
    let w = good();
    let back = Weights::from_safetensors(&w.to_safetensors(StoredDtype::F32).unwrap()).unwrap();
    assert_eq!(back.config, w.config);
    for (name, t) in &w.tensors {
        assert_eq!(&back.tensors[name], t, "{name}");
    }
    let half = Weights::from_safetensors(&w.to_safetensors(StoredDtype::F16).unwrap()).unwrap();
    for (name, t) in &w.tensors {
        let h = &half.tensors[name];
        for (a, b) in t.data.iter().zip(&h.data) {
            assert!((a - b).abs() <= 1e-3 * a.abs().max(1e-2), "{name}: {a} vs {b}");
        }
    }
}

#[test]
fn truncated_and_garbage() {
    let bytes = good().to_safetensors(StoredDtype::F16).unwrap();
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        let e = load_err(&bytes[..cut]);
        assert!(e.contains("weights file"), "cut {cut}: {e}");
    }
    let e = load_err(b"this is not a safetensors file at all");
    assert!(e.contains("not a readable safetensors file"), "{e}");
}

fn with_tensors(config: &ModelConfig, f: impl FnOnce(&mut HashMap<String, HostTensor>)) -> Vec<u8> {
    let mut w = Weights::init(config, 3).unwrap();
    f(&mut w.tensors);
    // Serialise without validation by going through a raw writer.
    raw_serialise(&w.config.to_json(), &w.tensors, safetensors::Dtype::F32)
}

fn raw_serialise(config_json: &str, tensors: &HashMap<String, HostTensor>, dtype: safetensors::Dtype) -> Vec<u8> {
    let bufs: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, t)| {
            let b: Vec<u8> = match dtype {
                safetensors::Dtype::F32 => bytemuck::cast_slice(&t.data).to_vec(),
                _ => t.data.iter().flat_map(|&v| [(v as i8) as u8]).collect(),
            };
            (n.clone(), t.shape.clone(), b)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = bufs
        .iter()
        .map(|(n, s, b)| (n.clone(), safetensors::tensor::TensorView::new(dtype, s.clone(), b).unwrap()))
        .collect();
    let mut meta = HashMap::new();
    meta.insert("magnets.config".to_string(), config_json.to_string());
    safetensors::serialize(views, Some(meta)).unwrap()
}

#[test]
fn missing_unknown_wrong_shape() {
    let c = ModelConfig::tiny();
    let e = load_err(&with_tensors(&c, |t| {
        t.remove("blocks.1.attn.wk");
    }));
    assert!(e.contains("missing tensor `blocks.1.attn.wk`"), "{e}");
    let e = load_err(&with_tensors(&c, |t| {
        t.insert("blocks.9.attn.wq".into(), HostTensor::zeros(vec![2, 2]));
    }));
    assert!(e.contains("unknown tensor `blocks.9.attn.wq`"), "{e}");
    let e = load_err(&with_tensors(&c, |t| {
        t.insert("head.w".into(), HostTensor::zeros(vec![64, 31]));
    }));
    assert!(e.contains("`head.w` has shape [64, 31]"), "{e}");
    let e = load_err(&with_tensors(&c, |t| {
        t.insert("head.b".into(), HostTensor::new(vec![32], vec![f32::NAN; 32]));
    }));
    assert!(e.contains("NaN"), "{e}");
}

#[test]
fn unsupported_dtype() {
    let w = good();
    let e = load_err(&raw_serialise(&w.config.to_json(), &w.tensors, safetensors::Dtype::U8));
    assert!(e.contains("unsupported dtype"), "{e}");
}

#[test]
fn config_problems() {
    let w = good();
    // Config contradicts the tensors: a different dim.
    let mut c = w.config.clone();
    c.dim = 128;
    c.widths = vec![16, 32, 64, 128];
    let e = load_err(&raw_serialise(&c.to_json(), &w.tensors, safetensors::Dtype::F32));
    assert!(e.contains("has shape") || e.contains("config implies"), "{e}");
    // Widths not ascending / not multiples of head_dim / last != dim.
    for (widths, needle) in [
        (vec![16, 8, 32, 64], "ascending"),
        (vec![12, 16, 32, 64], "multiple of head_dim"),
        (vec![8, 16, 32], "must equal dim"),
    ] {
        let mut c = w.config.clone();
        c.width_names = (0..widths.len()).map(|i| ["S", "M", "L", "XL"][i].to_string()).collect();
        c.widths = widths;
        let e = load_err(&raw_serialise(&c.to_json(), &w.tensors, safetensors::Dtype::F32));
        assert!(e.contains(needle), "{needle}: {e}");
    }
    let e = load_err(&raw_serialise("{\"grid\": 3}", &w.tensors, safetensors::Dtype::F32));
    assert!(e.contains("invalid config JSON"), "{e}");
    // No config at all.
    let views: Vec<(String, safetensors::tensor::TensorView)> = vec![];
    let bytes = safetensors::serialize(views, None).unwrap();
    assert!(load_err(&bytes).contains("magnets.config"));
}

#[test]
fn config_json_rejects_unknown_keys() {
    let mut v: serde_json::Value = serde_json::from_str(&ModelConfig::tiny().to_json()).unwrap();
    v["dimension"] = serde_json::json!(3);
    let e = ModelConfig::from_json(&v.to_string()).unwrap_err().to_string();
    assert!(e.contains("unknown field"), "{e}");
}

#[test]
fn sizes_that_overflow_or_exceed_the_limits_are_refused() {
    // grid[0]·grid[1] wraps around to 64 in usize: once accepted, contradicting its tensors.
    let mut v: serde_json::Value = serde_json::from_str(&ModelConfig::tiny().to_json()).unwrap();
    v["grid"] = serde_json::json!([9223372036854775816u64, 8]);
    let e = ModelConfig::from_json(&v.to_string()).unwrap_err().to_string();
    assert!(e.contains("grid") && e.contains("4096"), "{e}");
    // A config that is valid in form but would allocate ~155 G parameters.
    let mut c = ModelConfig::tiny();
    (c.dim, c.depth, c.head_dim, c.mlp_ratio, c.widths) = (8192, 64, 64, 16, vec![1024, 2048, 4096, 8192]);
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("parameters"), "{e}");
    assert!(Weights::init(&c, 0).is_err(), "init checks before allocating");
    // Too many classes or widths.
    let mut c = ModelConfig::tiny();
    c.classes = 1 << 40;
    assert!(c.validate().unwrap_err().to_string().contains("classes"));
}

#[test]
fn truncated_data_and_trailing_bytes_say_so() {
    let bytes = good().to_safetensors(StoredDtype::F16).unwrap();
    let e = load_err(&bytes[..bytes.len() - 10]);
    assert!(e.contains("truncated") && e.contains("holds only"), "{e}");
    let mut longer = bytes.clone();
    longer.extend([0u8; 5]);
    let e = load_err(&longer);
    assert!(e.contains("5 unexpected bytes"), "{e}");
}

#[test]
fn load_names_the_file_and_refuses_what_is_not_a_regular_file() {
    for path in ["/dev/zero", "models", "/nonexistent/x.safetensors"] {
        let e = Weights::load(std::path::Path::new(path)).unwrap_err().to_string();
        assert!(e.contains(path), "{path}: {e}");
    }
    assert!(Weights::load(std::path::Path::new("/dev/zero")).unwrap_err().to_string().contains("not a regular file"));
    // A config problem inside a file names the file too.
    let mut c = ModelConfig::tiny();
    c.depth = 0;
    let dir = std::env::temp_dir().join(format!("magnets-weights-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad-config.safetensors");
    std::fs::write(&path, raw_serialise(&c.to_json(), &good().tensors, safetensors::Dtype::F32)).unwrap();
    let e = Weights::load(&path).unwrap_err().to_string();
    assert!(e.contains("bad-config.safetensors") && e.contains("depth"), "{e}");
}

#[test]
fn shipped_model_is_far_inside_the_activation_bound_and_huge_weights_are_not() {
    let w = Weights::load(std::path::Path::new("models/magnets-emoji.safetensors")).unwrap();
    let (bound, at) = w.activation_bound();
    println!("shipped model: activations bounded by {bound:.3e} (largest at {at})");
    assert!(bound < 1e-6 * magnets::weights::MAX_ACTIVATION_BOUND, "{bound} at {at}");
    let mut huge = w.clone();
    huge.tensors.get_mut("blocks.0.mlp.w1").unwrap().data.iter_mut().for_each(|v| *v *= 1e30);
    let e = huge.validate().unwrap_err().to_string();
    assert!(e.contains("too large") && e.contains("blocks.0"), "{e}");
}

#[test]
fn nested_shapes_of_the_shipped_config() {
    let c = ModelConfig::load(std::path::Path::new("models/magnets-emoji.config.json")).unwrap();
    let shipped = Weights::load(std::path::Path::new("models/magnets-emoji.safetensors")).unwrap();
    assert_eq!(shipped.config, c);
    // At the widest width the nested shapes are the stored ones, tensor by tensor.
    let full = c.full_width_index();
    assert_eq!(c.tensor_kinds().len(), shipped.tensors.len());
    for (name, kind) in c.tensor_kinds() {
        assert_eq!(c.nested_shape(kind, full), shipped.get(&name).shape, "{name}");
    }
    // K = 512 codes, C = 9 classes, N = 64 tokens, mlp_ratio 4.
    for (w, d) in [16, 32, 64, 128].into_iter().enumerate() {
        let h = 4 * d;
        let expected = [
            (TensorKind::TokenEmbedding, vec![513, d]),
            (TensorKind::ClassEmbedding, vec![10, d]),
            (TensorKind::PositionEmbedding, vec![65, d]),
            (TensorKind::Vector, vec![d]),
            (TensorKind::Projection, vec![d, d]),
            (TensorKind::MlpIn, vec![d, h]),
            (TensorKind::MlpBias, vec![h]),
            (TensorKind::MlpOut, vec![h, d]),
            (TensorKind::Head, vec![d, 512]),
            (TensorKind::HeadBias, vec![512]),
        ];
        for (kind, shape) in expected {
            assert_eq!(c.nested_shape(kind, w), shape, "{kind:?} at width {d}");
        }
        // The slices are exactly the standalone model of that width.
        assert_eq!(c.prefix_shapes(w), c.submodel(w).tensor_shapes(), "width {d}");
    }
}

#[test]
fn a_model_can_be_nested_at_other_widths() {
    use magnets::decode::{DecodeRequest, decode};
    use magnets::reference::ReferenceEngine;
    use magnets::sampling::SamplingParams;
    use magnets::schedule::{CachePolicy, Schedule};

    let w = good(); // widths 8/16/32/64, head_dim 8
    let wider = w.clone().with_widths(vec![8, 24, 32, 64]).unwrap();
    assert_eq!(wider.config.widths, vec![8, 24, 32, 64]);
    assert_eq!(wider.tensors, w.tensors, "the weights are unchanged");
    assert_eq!(wider.standalone_submodel(1).config.dim, 24, "M is now the leading 24 features");
    // The widths that did not move are the same sub-models: an S and L decode is unchanged, and
    // one through the new M differs.
    let run = |w: &Weights, schedule: &str| {
        let req = DecodeRequest {
            schedule: Schedule::parse(schedule, &w.config).unwrap(),
            cache: CachePolicy::On { refresh_every: None },
            classes: vec![0, 1],
            sampling: SamplingParams { seed: 3, ..Default::default() },
            context: vec![],
        };
        pollster::block_on(decode(&mut ReferenceEngine::cpu(w), &req, |_| {})).unwrap().tokens
    };
    assert_eq!(run(&wider, "S2L2"), run(&w, "S2L2"));
    assert_ne!(run(&wider, "M4"), run(&w, "M4"));
    // Refused with the reason: a width per name, multiples of head_dim, ascending, the last = dim.
    for (widths, want) in [
        (vec![8, 16, 64], "one width per sub-model (S, M, L, XL): 3 given"),
        (vec![8, 20, 32, 64], "not a positive multiple of head_dim 8"),
        (vec![8, 32, 16, 64], "strictly ascending"),
        (vec![8, 16, 32, 48], "must equal dim 64"),
    ] {
        let e = w.clone().with_widths(widths).unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
}

/// An int8 file's tensors as (name, dtype, shape, bytes), to edit and write back unchecked.
type RawTensor = (String, safetensors::Dtype, Vec<usize>, Vec<u8>);

fn raw_tensors(bytes: &[u8]) -> Vec<RawTensor> {
    let st = safetensors::SafeTensors::deserialize(bytes).unwrap();
    st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect()
}

fn raw_write(config: &ModelConfig, tensors: &[RawTensor]) -> Vec<u8> {
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(n, d, s, b)| (n.clone(), safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    let meta = HashMap::from([("magnets.config".to_string(), config.to_json())]);
    safetensors::serialize(views, Some(meta)).unwrap()
}

#[test]
fn int8_storage_round_trips_within_half_a_step_per_column_and_decodes_to_f16() {
    let w = good();
    let bytes = w.to_safetensors(StoredDtype::Int8).unwrap();
    let raw = raw_tensors(&bytes);
    // Every matrix is int8 with a scale per column; every vector f16.
    for (name, t) in &w.tensors {
        let (_, dtype, ..) = raw.iter().find(|(n, ..)| n == name).unwrap();
        let want = if t.shape.len() == 2 { safetensors::Dtype::I8 } else { safetensors::Dtype::F16 };
        assert_eq!(*dtype, want, "{name}");
        let scale = raw.iter().find(|(n, ..)| *n == format!("{name}.int8_scale"));
        assert_eq!(scale.map(|(_, d, s, _)| (*d, s.clone())), (t.shape.len() == 2).then(|| (safetensors::Dtype::F32, vec![t.shape[1]])), "{name}");
    }
    let back = Weights::from_safetensors(&bytes).unwrap();
    assert_eq!(back.config, w.config);
    for (name, t) in &w.tensors {
        let b = &back.tensors[name];
        assert_eq!(b.shape, t.shape);
        let cols = *t.shape.last().unwrap();
        for (i, (x, y)) in t.data.iter().zip(&b.data).enumerate() {
            // Decoded values are f16 values, within half a code step (+ f16 rounding) of the original.
            assert_eq!(half::f16::from_f32(*y).to_f32(), *y, "{name}[{i}] is not an f16 value");
            let step = if t.shape.len() == 2 {
                t.data.iter().skip(i % cols).step_by(cols).fold(0.0f32, |m, v| m.max(v.abs())) / 127.0
            } else {
                0.0
            };
            assert!((x - y).abs() <= 0.5 * step + 1e-3 * x.abs().max(1e-4), "{name}[{i}]: {x} vs {y} (step {step})");
        }
    }
    // The shipped default model: half of f16's bytes.
    let f16_bytes = std::fs::metadata("models/magnets-emoji-d256.safetensors").unwrap().len();
    let int8_bytes = std::fs::metadata("models/magnets-emoji-d256.int8.safetensors").unwrap().len();
    assert!(int8_bytes * 100 <= 52 * f16_bytes, "{int8_bytes} vs {f16_bytes} bytes");
}

#[test]
fn broken_int8_files_are_refused_naming_the_tensor() {
    let w = good();
    let raw = raw_tensors(&w.to_safetensors(StoredDtype::Int8).unwrap());
    let edited = |f: &dyn Fn(&mut Vec<RawTensor>)| {
        let mut t = raw.clone();
        f(&mut t);
        load_err(&raw_write(&w.config, &t))
    };
    let scale_of = |t: &mut Vec<RawTensor>, name: &str| t.iter().position(|(n, ..)| n == name).unwrap();
    let e = edited(&|t| t.retain(|(n, ..)| n != "head.w.int8_scale"));
    assert!(e.contains("`head.w` is int8 but the file has no `head.w.int8_scale`"), "{e}");
    let e = edited(&|t| t.retain(|(n, ..)| n != "head.w"));
    assert!(e.contains("`head.w.int8_scale` scales no int8 tensor `head.w`"), "{e}");
    let e = edited(&|t| {
        let i = scale_of(t, "head.w.int8_scale");
        t[i].3[..4].copy_from_slice(&(-1.0f32).to_le_bytes());
    });
    assert!(e.contains("int8 tensor `head.w`") && e.contains("scale -1"), "{e}");
    let e = edited(&|t| {
        let i = scale_of(t, "head.w.int8_scale");
        t[i].3[..4].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    assert!(e.contains("int8 tensor `head.w`") && e.contains("scale NaN"), "{e}");
    let e = edited(&|t| {
        let i = scale_of(t, "head.w.int8_scale");
        let (cols, len) = (t[i].2[0], t[i].3.len());
        t[i].2 = vec![cols - 1];
        t[i].3.truncate(len - 4);
    });
    assert!(e.contains("int8 tensor `head.w`") && e.contains("scales for"), "{e}");
    let e = edited(&|t| {
        let i = scale_of(t, "head.w");
        t[i].3[0] = 0x80;
    });
    assert!(e.contains("int8 tensor `head.w`") && e.contains("−128"), "{e}");
    // A vector stored as int8 is not a matrix.
    let e = edited(&|t| {
        let i = scale_of(t, "head.b");
        let n = t[i].2[0];
        t[i] = ("head.b".into(), safetensors::Dtype::I8, vec![n], vec![1; n]);
        t.push(("head.b.int8_scale".into(), safetensors::Dtype::F32, vec![1], 1.0f32.to_le_bytes().to_vec()));
    });
    assert!(e.contains("int8 tensor `head.b`") && e.contains("matrices"), "{e}");
}
