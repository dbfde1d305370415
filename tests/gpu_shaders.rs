//! Every WGSL kernel in shaders/ parses and validates with naga (no GPU needed), and the
//! erf approximation used by the fused GELU is accurate to ~1e-7.
#![cfg(feature = "gpu")]

mod common;

fn validate(name: &str, src: &str) {
    let module = naga::front::wgsl::parse_str(src)
        .unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    let mut v = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        // unpack2x16float (f16 weight storage) is core WGSL; wgpu enables this capability on
        // every backend that has it (all of WebGPU, Vulkan, Metal, DX12).
        naga::valid::Capabilities::SHADER_FLOAT16_IN_FLOAT32,
    );
    v.validate(&module)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"));
}

/// Float literals beyond the f32 range: naga rounds them, Chrome's WGSL compiler (Tint) rejects
/// the whole shader (it did, for `-3.4028235e38`, the f32 maximum written in decimal).
fn out_of_range_float_literals(src: &str) -> Vec<String> {
    src.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '+' || c == '-'))
        .map(|w| w.trim_start_matches(['-', '+']).trim_end_matches('f'))
        .filter(|w| w.contains(['e', 'E']) && w.starts_with(|c: char| c.is_ascii_digit()))
        .filter(|w| w.parse::<f64>().is_ok_and(|v| v.is_finite() && v > f32::MAX as f64))
        .map(str::to_string)
        .collect()
}

#[test]
fn float_literals_fit_f32() {
    assert_eq!(out_of_range_float_literals("let a = -3.4028235e38;"), ["3.4028235e38"]);
    assert!(out_of_range_float_literals("let a = -3.0e38; let b = 1e-7; let c = 0x7feb352du;").is_empty());
    for (name, src) in magnets::gpu::shader_sources() {
        let bad = out_of_range_float_literals(&src);
        assert!(bad.is_empty(), "{name}: float literals beyond f32: {bad:?}");
    }
}

#[test]
fn every_shader_validates() {
    let sources = magnets::gpu::shader_sources();
    let mut on_disk: Vec<String> =
        std::fs::read_dir(common::repo_file("shaders"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".wgsl"))
            .collect();
    on_disk.sort();
    let mut listed: Vec<String> = sources.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every shaders/*.wgsl must be listed in gpu::shader_sources()"
    );
    for (name, src) in &sources {
        validate(name, src);
    }
    use magnets::gpu::WeightStorage;
    use magnets::gpu::kernels::{SHADER_EMBED, SHADER_LAYERNORM, attention_source, matmul_source, sample_source};
    for storage in [WeightStorage::F32, WeightStorage::F16] {
        for wx in [4, 8, 16] {
            validate("matmul.wgsl (WX, storage)", &storage.kernel_source(&matmul_source(wx).unwrap()).unwrap());
        }
        for src in [SHADER_EMBED, SHADER_LAYERNORM] {
            validate("embed/layernorm (storage)", &storage.kernel_source(src).unwrap());
        }
    }
    // The f16 variant really swaps the binding (the replaced lines exist in every kernel).
    for src in [SHADER_EMBED, SHADER_LAYERNORM, &matmul_source(8).unwrap()] {
        let f16 = WeightStorage::F16.kernel_source(src).unwrap();
        assert!(f16.contains("array<u32>") && f16.contains("unpack2x16float"), "f16 variant not applied");
    }
    // The sampling kernel holds one row of the codebook in workgroup memory.
    for k in [1, 37, 512, 3000] {
        validate("sample.wgsl (codebook {k})", &sample_source(k).unwrap());
    }
    // The attention kernel is specialised per model head size.
    for hd in [1, 6, 12, 32, 64, 256] {
        validate(
            "attention.wgsl (head_dim {hd})",
            &attention_source(hd).unwrap(),
        );
    }
}

/// erf in f64 by its Maclaurin series (|x| < 3) or continued fraction for erfc (|x| >= 3).
fn erf64(x: f64) -> f64 {
    let a = x.abs();
    let r = if a < 3.0 {
        let mut term = a;
        let mut sum = a;
        let mut n = 0.0;
        loop {
            n += 1.0;
            term *= -a * a / n;
            let add = term / (2.0 * n + 1.0);
            sum += add;
            if add.abs() < 1e-17 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // Lentz continued fraction for erfc.
        let mut f = 0.0;
        for k in (1..60).rev() {
            f = (k as f64 / 2.0) / (a + f);
        }
        1.0 - (-a * a).exp() / std::f64::consts::PI.sqrt() / (a + f)
    };
    r.copysign(x)
}

/// The same formula as `erf_approx` in shaders/matmul.wgsl, evaluated in f32.
fn erf_wgsl(z: f32) -> f32 {
    let a = z.abs();
    let t = 1.0 / (1.0 + 0.5 * a);
    let poly = -a * a - 1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * poly.exp();
    if z >= 0.0 { 1.0 - erfc } else { erfc - 1.0 }
}

#[test]
fn gelu_erf_is_accurate() {
    let mut worst = 0f64;
    for i in -8000..=8000 {
        let x = i as f64 / 1000.0;
        let e = (erf_wgsl(x as f32) as f64 - erf64(x)).abs();
        worst = worst.max(e);
    }
    assert!(worst < 3e-7, "erf max abs error {worst}");
}
