// Prefix LayerNorm: statistics over the first d features of each row (row stride ld_in),
// gamma[:d], beta[:d] from the weight buffer. gather = 1 reads source row idx[idx_off + row]
// (the final norm picks only the rows whose logits are wanted). One invocation per row, two
// passes (mean, then variance of the centred values, as the reference computes it); no
// barriers, which suits the widths here (d ≤ a few hundred) on GPUs and CPU rasterisers alike.

// Field for field the Rust struct in src/gpu/params.rs (tests/gpu_kernels.rs compares them).
struct Params {
    rows: u32, d: u32, ld_in: u32, ld_out: u32,
    g_off: u32, b_off: u32, gather: u32, idx_off: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Weights: f32 here; the host swaps in packed f16 pairs (see gpu::engine::WeightStorage).
@group(0) @binding(1) var<storage, read> w: array<f32>;
fn wv(i: u32) -> f32 { return w[i]; }
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = gid.y * nwg.x * 64u + gid.x;
    if (row >= p.rows) {
        return;
    }
    var srow = row;
    if (p.gather != 0u) {
        srow = idx[p.idx_off + row];
    }
    let base = srow * p.ld_in;
    var s = 0.0;
    for (var c = 0u; c < p.d; c++) {
        s += src[base + c];
    }
    let mean = s / f32(p.d);
    var v = 0.0;
    for (var c = 0u; c < p.d; c++) {
        let z = src[base + c] - mean;
        v = fma(z, z, v);
    }
    let denom = sqrt(v / f32(p.d) + p.eps);
    let obase = row * p.ld_out;
    for (var c = 0u; c < p.d; c++) {
        dst[obase + c] = (src[base + c] - mean) / denom * wv(p.g_off + c) + wv(p.b_off + c);
    }
}
