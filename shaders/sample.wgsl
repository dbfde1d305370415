// On-device sampling: for each (image b, logit row j) draw a code from softmax(logits / T) by
// inverse CDF in code order and score it with log p(code) + noise·Gumbel — the same arithmetic,
// in the same order, and the same counter-based random numbers as `sampling::propose` on the
// CPU, so the decode reads back two words per masked token instead of K logits.
// With guidance the logits buffer holds 2·images sequences (conditional first) and the kernel
// mixes (1+s)·cond − s·uncond on the fly.
// One invocation per row: a sequential pass over K (3 reads of K floats) keeps the summation
// order of the CPU path; rows are many (images × masked) and K is small, so this is cheap.

struct Params {
    images: u32, m: u32, k: u32, guided: u32,
    guidance: f32, inv_t: f32, greedy: u32, seed: u32,
    step: u32, noise: f32, pos_off: u32, _p0: u32,
    _p1: u32, _p2: u32, _p3: u32, _p4: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
// [images × m] × (code, bitcast confidence).
@group(0) @binding(4) var<storage, read_write> proposals: array<u32>;

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
    return (f32(hash(seed, image, step, position, draw) >> 8u) + 0.5) * (1.0 / 16777216.0);
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
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    // util::grid folds more than 65,535 workgroups into y, as for every 1-D kernel here.
    let row = gid.y * nwg.x * 64u + gid.x;
    if (row >= p.images * p.m) {
        return;
    }
    let b = row / p.m;
    let j = row % p.m;
    let cond = (b * p.m + j) * p.k;
    let uncond = ((b + p.images) * p.m + j) * p.k;
    let position = idx[p.pos_off + row];

    var mx = logit(cond, uncond, 0u);
    for (var i = 1u; i < p.k; i++) {
        mx = max(mx, logit(cond, uncond, i));
    }
    var code = p.k - 1u;
    var log_p = 0.0;
    if (p.greedy != 0u) {
        var sum = 0.0;
        var found = false;
        for (var i = 0u; i < p.k; i++) {
            let v = logit(cond, uncond, i);
            if (!found && v == mx) {
                code = i;
                found = true;
            }
            sum += exp(v - mx);
        }
        log_p = -log(sum);
    } else {
        var sum = 0.0;
        for (var i = 0u; i < p.k; i++) {
            sum += exp((logit(cond, uncond, i) - mx) * p.inv_t);
        }
        let goal = uniform01(p.seed, b, p.step, position, DRAW_SAMPLE) * sum;
        var acc = 0.0;
        for (var i = 0u; i < p.k; i++) {
            acc += exp((logit(cond, uncond, i) - mx) * p.inv_t);
            if (acc > goal) {
                code = i;
                break;
            }
        }
        log_p = (logit(cond, uncond, code) - mx) * p.inv_t - log(sum);
    }
    let g = -log(-log(uniform01(p.seed, b, p.step, position, DRAW_CONFIDENCE)));
    proposals[2u * row] = code;
    proposals[2u * row + 1u] = bitcast<u32>(log_p + p.noise * g);
}
