// Prefix LayerNorm: statistics over the first d features of each row (row stride ld_in),
// gamma[:d], beta[:d] from the weight buffer. gather = 1 reads source row idx[idx_off + row]
// (the final norm picks only the rows whose logits are wanted). One workgroup per row.

struct Params {
    rows: u32, d: u32, ld_in: u32, ld_out: u32,
    g_off: u32, b_off: u32, gather: u32, idx_off: u32,
    eps: f32, _p0: u32, _p1: u32, _p2: u32,
    _p3: u32, _p4: u32, _p5: u32, _p6: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
@group(0) @binding(4) var<storage, read_write> dst: array<f32>;

const WG: u32 = 64u;
var<workgroup> red: array<f32, 64>;

fn reduce_sum(lane: u32, v: f32) -> f32 {
    red[lane] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            red[lane] += red[lane + s];
        }
        workgroupBarrier();
    }
    let total = red[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wid.y * nwg.x + wid.x;
    // Uniform control flow: every invocation of the workgroup takes the same branch.
    if (row >= p.rows) {
        return;
    }
    let lane = lid.x;
    var srow = row;
    if (p.gather != 0u) {
        srow = idx[p.idx_off + row];
    }
    let base = srow * p.ld_in;
    var s = 0.0;
    for (var c = lane; c < p.d; c += WG) {
        s += src[base + c];
    }
    let mean = reduce_sum(lane, s) / f32(p.d);
    var v = 0.0;
    for (var c = lane; c < p.d; c += WG) {
        let z = src[base + c] - mean;
        v += z * z;
    }
    let variance = reduce_sum(lane, v) / f32(p.d);
    let denom = sqrt(variance + p.eps);
    let obase = row * p.ld_out;
    for (var c = lane; c < p.d; c += WG) {
        dst[obase + c] = (src[base + c] - mean) / denom * w[p.g_off + c] + w[p.b_off + c];
    }
}
