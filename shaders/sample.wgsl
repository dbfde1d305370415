// On-device sampling: for each (image b, logit row j) draw a code from softmax(logits / T) by
// inverse CDF in code order and score it with log p(code) + noise·Gumbel — the same arithmetic,
// in the same order, and the same counter-based random numbers as `sampling::propose` on the
// CPU, so the decode reads back two words per masked token instead of K logits.
// With guidance the logits buffer holds 2·images sequences (conditional first) and the kernel
// mixes (1+s)·cond − s·uncond on the fly.
// One workgroup of 64 per row: the threads read the row's logits together, reduce the max and
// compute every exp in parallel; thread 0 then sums and scans them sequentially in code order,
// keeping the summation order of the CPU path. (One invocation per row reading K logits
// serially from global memory cost 0.16 ms per step on an H200.) KCAP = K, substituted by
// the host (gpu::engine::sample_source).

// Field for field the Rust struct in src/gpu/params.rs (tests/gpu_kernels.rs compares them).
struct Params {
    images: u32, m: u32, k: u32, guided: u32,
    guidance: f32, inv_t: f32, greedy: u32, seed: u32,
    step: u32, noise: f32, pos_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
// [images × m] × (code, bitcast confidence).
@group(0) @binding(4) var<storage, read_write> proposals: array<u32>;

const KCAP: u32 = 512u;
const WG: u32 = 64u;
// The row's logits, then their exps.
var<workgroup> e: array<f32, KCAP>;
var<workgroup> red: array<f32, WG>;
var<workgroup> first: array<u32, WG>;

// src/rng.rs, bit for bit: lowbias32 finaliser and the five-counter hash.
fn mix32(x: u32) -> u32 {
    var h = x;
    h ^= h >> 16u;
    h *= 0x7feb352du;
    h ^= h >> 15u;
    h *= 0x846ca68bu;
    h ^= h >> 16u;
    return h;
}

fn hash(seed: u32, image: u32, step: u32, position: u32, draw: u32) -> u32 {
    var h = mix32(seed ^ 0x9e3779b9u);
    h = mix32(h ^ (image * 0x85ebca6bu));
    h = mix32(h ^ (step * 0xc2b2ae35u));
    h = mix32(h ^ (position * 0x27d4eb2fu));
    return mix32(h ^ (draw * 0x165667b1u));
}

fn uniform01(seed: u32, image: u32, step: u32, position: u32, draw: u32) -> f32 {
    // Clamped below 1 as src/rng.rs uniform_from_hash (the top bucket rounds to 1.0 in f32).
    return min((f32(hash(seed, image, step, position, draw) >> 8u) + 0.5) * (1.0 / 16777216.0), 16777215.0 / 16777216.0);
}

const DRAW_SAMPLE: u32 = 0u;
const DRAW_CONFIDENCE: u32 = 1u;

fn logit(cond: u32, uncond: u32, i: u32) -> f32 {
    if (p.guided == 0u) {
        return logits[cond + i];
    }
    return (1.0 + p.guidance) * logits[cond + i] - p.guidance * logits[uncond + i];
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // dispatch::grid folds more than 65,535 workgroups into y, as for every 1-D kernel here.
    let row = wid.y * nwg.x + wid.x;
    if (row >= p.images * p.m) {
        return; // the whole workgroup: uniform
    }
    let b = row / p.m;
    let j = row % p.m;
    let cond = (b * p.m + j) * p.k;
    let uncond = ((b + p.images) * p.m + j) * p.k;

    var mx = -3.0e38; // below any logit (Tint rejects the f32 max written in decimal)
    for (var i = t; i < p.k; i += WG) {
        let v = logit(cond, uncond, i);
        e[i] = v;
        mx = max(mx, v);
    }
    red[t] = mx;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half >>= 1u) {
        if (t < half) {
            red[t] = max(red[t], red[t + half]);
        }
        workgroupBarrier();
    }
    mx = red[0];
    // Greedy: the first code at the max, as the CPU picks it.
    var mine = p.k;
    for (var i = t; i < p.k; i += WG) {
        if (e[i] == mx) {
            mine = min(mine, i);
        }
    }
    first[t] = mine;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half >>= 1u) {
        if (t < half) {
            first[t] = min(first[t], first[t + half]);
        }
        workgroupBarrier();
    }
    let scale = select(p.inv_t, 1.0, p.greedy != 0u);
    for (var i = t; i < p.k; i += WG) {
        e[i] = exp((e[i] - mx) * scale);
    }
    workgroupBarrier();
    if (t != 0u) {
        return;
    }
    var sum = 0.0;
    for (var i = 0u; i < p.k; i++) {
        sum += e[i];
    }
    var code = p.k - 1u;
    var log_p = 0.0;
    if (p.greedy != 0u) {
        code = min(first[0], p.k - 1u);
        log_p = -log(sum);
    } else {
        let position = idx[p.pos_off + row];
        let goal = uniform01(p.seed, b, p.step, position, DRAW_SAMPLE) * sum;
        var acc = 0.0;
        for (var i = 0u; i < p.k; i++) {
            acc += e[i];
            if (acc > goal) {
                code = i;
                break;
            }
        }
        log_p = (logit(cond, uncond, code) - mx) * p.inv_t - log(sum);
    }
    let position = idx[p.pos_off + row];
    let g = -log(-log(uniform01(p.seed, b, p.step, position, DRAW_CONFIDENCE)));
    let confidence = log_p + p.noise * g;
    // Non-finite logits (weights that overflow) leave the sum or the score NaN or infinite:
    // flag the row with code 0xffffffff (>= K, which the decode loop refuses). The test reads
    // the bits, because a compiler may assume floats are finite and drop a `v != v` test.
    let inf_bits = 0x7f800000u;
    let bad = (bitcast<u32>(sum) & inf_bits) == inf_bits || (bitcast<u32>(confidence) & inf_bits) == inf_bits;
    proposals[2u * row] = select(code, 0xffffffffu, bad);
    proposals[2u * row + 1u] = bitcast<u32>(confidence);
}
