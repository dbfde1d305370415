//! The uniform parameter block of each kernel: one `#[repr(C)]` struct per WGSL `Params`
//! struct, with the same member names, order and types. A misplaced field would hand a kernel
//! another field's value without any error, so `tests/gpu_kernels.rs` compares every struct here
//! with naga's layout of its shader.

/// One member of a parameter struct, as the layout test compares it with the shader's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    /// Bytes from the start of the struct.
    pub offset: usize,
    /// The WGSL scalar type (`u32` or `f32`).
    pub ty: &'static str,
}

/// A kernel's parameter block.
pub trait KernelParams: bytemuck::Pod {
    /// The file in shaders/ whose `Params` struct this mirrors.
    const SHADER: &'static str;
    /// The members in declaration order.
    const FIELDS: &'static [Field];
}

/// Declares a parameter struct and its [`KernelParams`] description from one field list, so
/// the two cannot disagree.
macro_rules! kernel_params {
    ($(#[$m:meta])* $name:ident for $shader:literal { $($field:ident: $ty:ident,)* }) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $(pub $field: $ty,)*
        }
        impl KernelParams for $name {
            const SHADER: &'static str = $shader;
            const FIELDS: &'static [Field] = &[
                $(Field { name: stringify!($field), offset: std::mem::offset_of!($name, $field), ty: stringify!($ty) },)*
            ];
        }
    };
}

kernel_params! {
    /// Row gather of token/class and position embeddings.
    EmbedParams for "embed.wgsl" {
        rows: u32, d: u32, ld: u32, seq: u32,
        tab_off: u32, pos_off: u32, ids_off: u32, map_off: u32,
    }
}

kernel_params! {
    /// The final LayerNorm, optionally gathering rows through the index.
    LayerNormParams for "layernorm.wgsl" {
        rows: u32, d: u32, ld_in: u32, ld_out: u32,
        g_off: u32, b_off: u32, gather: u32, idx_off: u32,
        eps: f32,
    }
}

kernel_params! {
    /// `out = act(norm(x) · W + b)` over up to three products (grid z), with optional residual
    /// add (`mode` 2), GELU (`mode` 1) and scatter of product z's rows through the row map
    /// (bit z of `scatter`).
    MatmulParams for "matmul.wgsl" {
        m: u32, n: u32, k: u32, ld_x: u32,
        w_zstride: u32, w_off: u32, ld_w: u32, b_off: u32,
        out_off: u32, ld_out: u32, mode: u32, scatter: u32,
        map_off: u32, b_zstride: u32, out_off1: u32, out_off2: u32,
        norm: u32, g_off: u32, beta_off: u32, eps: f32,
    }
}

kernel_params! {
    /// Active queries against every cached key/value row.
    AttentionParams for "attention.wgsl" {
        rows: u32, r: u32, seq: u32, heads: u32,
        ld: u32, k_off: u32, scale: f32, v_off: u32,
        q_off: u32,
    }
}

kernel_params! {
    /// Code and confidence per masked token, with the CPU sampler's counter RNG.
    SampleParams for "sample.wgsl" {
        images: u32, m: u32, k: u32, guided: u32,
        guidance: f32, inv_t: f32, greedy: u32, seed: u32,
        step: u32, noise: f32, pos_off: u32,
    }
}

kernel_params! {
    /// The device-side choice of the step's tokens and the next step's row index.
    AdvanceParams for "advance.wgsl" {
        images: u32, sequences: u32, m: u32, to_fix: u32,
        seq: u32, pos_off: u32, next_off: u32, has_next: u32,
        next_refresh: u32, next_m: u32,
    }
}

kernel_params! {
    /// The tokenizer decoder's lookup, 3×3 conv and RGBA stages (each uses its own fields).
    DecoderParams for "decoder.wgsl" {
        batch: u32, cin: u32, cout: u32, size: u32,
        up: u32, pre_silu: u32, act: u32, accumulate: u32,
        w_off: u32, b_off: u32, tokens: u32, code_dim: u32,
    }
}

/// Every parameter struct: its shader, its members and its size in bytes.
pub fn layouts() -> [(&'static str, &'static [Field], usize); 7] {
    fn of<P: KernelParams>() -> (&'static str, &'static [Field], usize) {
        (P::SHADER, P::FIELDS, std::mem::size_of::<P>())
    }
    [
        of::<EmbedParams>(),
        of::<LayerNormParams>(),
        of::<MatmulParams>(),
        of::<AttentionParams>(),
        of::<SampleParams>(),
        of::<AdvanceParams>(),
        of::<DecoderParams>(),
    ]
}
