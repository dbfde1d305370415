//! The Rust side of every kernel interface agrees with the WGSL side (no GPU needed): each
//! shader's `Params` struct, as naga lays it out, has the members, order, types, offsets and
//! size of its `#[repr(C)]` mirror in `gpu::params`; and shader specialisation refuses a
//! source whose marker line or constant is missing instead of leaving it unspecialised.
#![cfg(feature = "gpu")]

use magnets::gpu::WeightStorage;
use magnets::gpu::kernels::{SHADER_ATTENTION, SHADER_EMBED, SHADER_MATMUL, attention_source, replace_line, set_const};

/// (name, offset, size, scalar type) per member.
type Members = Vec<(String, usize, usize, String)>;

/// The members of `src`'s `Params` struct and its size, as naga lays them out; None when the
/// shader has no such struct.
fn wgsl_params(name: &str, src: &str) -> Option<(Members, usize)> {
    let module = naga::front::wgsl::parse_str(src).unwrap_or_else(|e| panic!("{name}: {}", e.emit_to_string(src)));
    let (_, ty) = module.types.iter().find(|(_, t)| t.name.as_deref() == Some("Params"))?;
    let naga::TypeInner::Struct { members, span } = &ty.inner else { panic!("{name}: Params is not a struct") };
    let members = members
        .iter()
        .map(|m| {
            let inner = &module.types[m.ty].inner;
            let scalar = match inner {
                naga::TypeInner::Scalar(s) => match (s.kind, s.width) {
                    (naga::ScalarKind::Uint, 4) => "u32".to_string(),
                    (naga::ScalarKind::Float, 4) => "f32".to_string(),
                    other => format!("{other:?}"),
                },
                other => format!("{other:?}"),
            };
            let size = inner.size(module.to_ctx()) as usize;
            (m.name.clone().unwrap_or_default(), m.offset as usize, size, scalar)
        })
        .collect();
    Some((members, *span as usize))
}

#[test]
fn every_params_struct_matches_its_shader() {
    let layouts = magnets::gpu::params::layouts();
    let mut mirrored = Vec::new();
    for (shader, src) in magnets::gpu::shader_sources() {
        let Some((wgsl, span)) = wgsl_params(shader, &src) else { continue };
        let (_, fields, size) = layouts
            .iter()
            .find(|l| l.0 == shader)
            .unwrap_or_else(|| panic!("{shader} declares Params but gpu::params has no struct for it"));
        // Each Rust member spans up to the next one (or the struct's end): no hidden padding.
        let ends = fields.iter().skip(1).map(|f| f.offset).chain([*size]);
        let rust: Members = fields
            .iter()
            .zip(ends)
            .map(|(f, end)| (f.name.to_string(), f.offset, end - f.offset, f.ty.to_string()))
            .collect();
        assert_eq!(rust, wgsl, "{shader}: Params members (name, offset, size, type)");
        assert_eq!(*size, span, "{shader}: Params size");
        mirrored.push(shader);
    }
    let mut all: Vec<&str> = layouts.iter().map(|l| l.0).collect();
    all.sort();
    mirrored.sort();
    assert_eq!(all, mirrored, "every params struct mirrors a shader's Params");
}

#[test]
fn the_layout_check_sees_a_moved_field() {
    // Swapping two members of the WGSL struct must show up as a difference.
    let swapped = SHADER_ATTENTION.replace("ld: u32, k_off: u32,", "k_off: u32, ld: u32,");
    assert_ne!(swapped, SHADER_ATTENTION);
    let (members, _) = wgsl_params("attention (swapped)", &swapped).unwrap();
    assert_eq!(members[4].0, "k_off");
}

#[test]
fn specialisation_refuses_a_missing_marker() {
    // A kernel without the weight binding (attention reads the K/V cache, not weights).
    for storage in [WeightStorage::F32, WeightStorage::F16] {
        let err = storage.kernel_source(SHADER_ATTENTION).unwrap_err().to_string();
        assert!(err.contains("var<storage, read> w: array<f32>;"), "{err}");
        // The accessor line edited: no longer specialisable.
        let edited = SHADER_EMBED.replace("{ return w[i]; }", "{ return w[i]; } // edited");
        assert_ne!(edited, SHADER_EMBED);
        let err = storage.kernel_source(&edited).unwrap_err().to_string();
        assert!(err.contains("fn wv"), "{err}");
    }
    // A constant that is not declared, or declared twice.
    let err = set_const(SHADER_MATMUL, "NO_SUCH", 3).unwrap_err().to_string();
    assert!(err.contains("const NO_SUCH: u32"), "{err}");
    let twice = format!("{SHADER_MATMUL}\nconst WX: u32 = 2u;\n");
    assert!(set_const(&twice, "WX", 8).is_err());
    assert!(replace_line("a\nb\n", "c", "d").is_err());
    assert!(replace_line("a\nb\nb\n", "b", "d").is_err());
}

#[test]
fn specialisation_follows_the_constant_not_its_value() {
    // Setting a constant works whatever its current value, so editing a default is safe.
    let once = set_const(SHADER_MATMUL, "WX", 8).unwrap();
    let twice = set_const(&once, "WX", 4).unwrap();
    assert!(twice.contains("const WX: u32 = 4u;") && !twice.contains("const WX: u32 = 8u;"));
    assert_eq!(twice.lines().count(), SHADER_MATMUL.lines().count());
    assert_eq!(replace_line("a\n  b\nc", "b", "x").unwrap(), "a\nx\nc");
    let attention = attention_source(64).unwrap();
    assert!(attention.contains("const HEAD_DIM: u32 = 64u;") && attention.contains("const KT: u32 = 16u;"));
}
