// VQ tokenizer decoder (docs/TEAM_NOTES.md contract) for a batch of images, CHW per image.
// Entry points: `lookup` (codes → codebook feature map), `conv` (3×3, zero padding 1, with
// optional nearest 2× upsampling of its input, SiLU on its input, SiLU/sigmoid on its output,
// accumulate into the output for the residual), `rgba` (→ packed RGBA8, alpha 255).

// Field for field the Rust struct in src/gpu/params.rs (tests/gpu_kernels.rs compares them).
struct Params {
    batch: u32, cin: u32, cout: u32, size: u32,
    up: u32, pre_silu: u32, act: u32, accumulate: u32,
    w_off: u32, b_off: u32, tokens: u32, code_dim: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> codes: array<u32>;
// Output words: f32 bit patterns (feature maps) or packed RGBA8; u32 so the pixel words are
// never reinterpreted as (possibly NaN) floats.
@group(0) @binding(4) var<storage, read_write> dst: array<u32>;

fn silu(v: f32) -> f32 {
    return v / (1.0 + exp(-v));
}

fn linear_id(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.y * nwg.x * 64u + gid.x;
}

// dst[b, j, i] = codebook[codes[b·N + i], j]
@compute @workgroup_size(64, 1, 1)
fn lookup(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_id(gid, nwg);
    if (e >= p.batch * p.code_dim * p.tokens) {
        return;
    }
    let i = e % p.tokens;
    let j = (e / p.tokens) % p.code_dim;
    let b = e / (p.tokens * p.code_dim);
    dst[e] = bitcast<u32>(w[p.w_off + codes[b * p.tokens + i] * p.code_dim + j]);
}

// One invocation per output value (b, o, y, x); `size` is the output side (square maps).
@compute @workgroup_size(64, 1, 1)
fn conv(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_id(gid, nwg);
    let s = p.size;
    let hw = s * s;
    if (e >= p.batch * p.cout * hw) {
        return;
    }
    let x = e % s;
    let y = (e / s) % s;
    let o = (e / hw) % p.cout;
    let b = e / (hw * p.cout);
    var s_in = s;
    if (p.up != 0u) {
        s_in = s / 2u;
    }
    let in_base = b * p.cin * s_in * s_in;
    var acc = w[p.b_off + o];
    for (var i = 0u; i < p.cin; i++) {
        let plane = in_base + i * s_in * s_in;
        let wb = p.w_off + (o * p.cin + i) * 9u;
        for (var ky = 0u; ky < 3u; ky++) {
            let yy = i32(y) + i32(ky) - 1;
            if (yy < 0 || yy >= i32(s)) {
                continue;
            }
            var ys = u32(yy);
            if (p.up != 0u) {
                ys = ys / 2u;
            }
            for (var kx = 0u; kx < 3u; kx++) {
                let xx = i32(x) + i32(kx) - 1;
                if (xx < 0 || xx >= i32(s)) {
                    continue;
                }
                var xs = u32(xx);
                if (p.up != 0u) {
                    xs = xs / 2u;
                }
                var v = src[plane + ys * s_in + xs];
                if (p.pre_silu != 0u) {
                    v = silu(v);
                }
                acc = fma(w[wb + ky * 3u + kx], v, acc);
            }
        }
    }
    if (p.act == 1u) {
        acc = silu(acc);
    } else if (p.act == 2u) {
        acc = 1.0 / (1.0 + exp(-acc));
    }
    if (p.accumulate != 0u) {
        dst[e] = bitcast<u32>(bitcast<f32>(dst[e]) + acc);
    } else {
        dst[e] = bitcast<u32>(acc);
    }
}

// RGB planes [b, 3, s, s] in [0, 1] → one packed RGBA8 u32 per pixel (R in the low byte),
// rounded like `tokenizer::to_u8` (half away from zero).
@compute @workgroup_size(64, 1, 1)
fn rgba(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = linear_id(gid, nwg);
    let hw = p.size * p.size;
    if (e >= p.batch * hw) {
        return;
    }
    let b = e / hw;
    let px = e % hw;
    var packed = 255u << 24u;
    for (var c = 0u; c < 3u; c++) {
        let v = src[(b * 3u + c) * hw + px];
        let q = u32(clamp(floor(v * 255.0 + 0.5), 0.0, 255.0));
        packed = packed | (q << (8u * c));
    }
    dst[e] = packed;
}
