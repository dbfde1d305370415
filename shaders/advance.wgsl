// The decode loop's choice on the device, so that the host need not wait for a step before
// recording the next one: per image, fix the `to_fix` most confident of the step's m proposals
// (greater confidence first, ties to the lower index j, i.e. the lower position: the order of
// `sampling::most_confident`, with f32s compared as `total_cmp` does), write their codes into
// the ids kept by position, and write the next step's row index.
//
// `look` holds [ids by position: sequences × S | the next step's index]. Ids by position are
// per sequence (position 0 = the class row's embedding id, so the unconditional stream of
// guidance differs only there); a chosen code goes into every stream of its image. The next
// index has record.rs' layout: [cache row s·S+pos | table id] per processed row, then per
// sequence the processed row of each logit, then per image the logit positions the sampler
// reads. A cached next step processes exactly this step's masked positions (those still masked
// plus those fixed now, ascending), a refresh step every position 0..S.
//
// One workgroup per image; O(m²) reads of the confidences, no per-token workgroup array, so
// any grid up to MAX_TOKENS fits (the chosen flags are bits).

// Field for field the Rust struct in src/gpu/params.rs (tests/gpu_kernels.rs compares them).
struct Params {
    images: u32, sequences: u32, m: u32, to_fix: u32,
    seq: u32, pos_off: u32, next_off: u32, has_next: u32,
    next_refresh: u32, next_m: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// [images × m] × (code, bitcast confidence), from shaders/sample.wgsl.
@group(0) @binding(1) var<storage, read> proposals: array<u32>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
@group(0) @binding(4) var<storage, read_write> look: array<u32>;

const WG: u32 = 64u;
// config::MAX_TOKENS (set by the host, gpu::kernels): one bit per masked token.
const MAX_TOKENS: u32 = 4096u;
var<workgroup> chosen: array<atomic<u32>, MAX_TOKENS / 32u>;

// An f32's bits as a u32 that orders like `f32::total_cmp`.
fn order_key(bits: u32) -> u32 {
    return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}

fn is_chosen(j: u32) -> bool {
    return (atomicLoad(&chosen[j / 32u]) & (1u << (j % 32u))) != 0u;
}

// How many of the entries before j were chosen.
fn chosen_before(j: u32) -> u32 {
    var count = 0u;
    for (var w = 0u; w < j / 32u; w++) {
        count += countOneBits(atomicLoad(&chosen[w]));
    }
    return count + countOneBits(atomicLoad(&chosen[j / 32u]) & ((1u << (j % 32u)) - 1u));
}

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let b = wid.x;
    if (b >= p.images || p.m > MAX_TOKENS) {
        return; // the whole workgroup: uniform
    }
    for (var w = t; w < MAX_TOKENS / 32u; w += WG) {
        atomicStore(&chosen[w], 0u);
    }
    workgroupBarrier();
    let base = b * p.m;
    for (var j = t; j < p.m; j += WG) {
        let kj = order_key(proposals[2u * (base + j) + 1u]);
        var rank = 0u;
        for (var i = 0u; i < p.m; i++) {
            let ki = order_key(proposals[2u * (base + i) + 1u]);
            rank += select(0u, 1u, ki > kj || (ki == kj && i < j));
        }
        if (rank < p.to_fix) {
            atomicOr(&chosen[j / 32u], 1u << (j % 32u));
        }
    }
    workgroupBarrier();
    let streams = p.sequences / p.images;
    for (var j = t; j < p.m; j += WG) {
        if (is_chosen(j)) {
            let pos = idx[p.pos_off + base + j];
            for (var k = 0u; k < streams; k++) {
                look[(b + k * p.images) * p.seq + pos] = proposals[2u * (base + j)];
            }
        }
    }
    storageBarrier();
    if (p.has_next == 0u) {
        return; // uniform
    }
    let r = select(p.m, p.seq, p.next_refresh != 0u);
    let rows = p.sequences * r;
    let map_off = p.next_off;
    let ids_off = p.next_off + rows;
    let pick_off = p.next_off + 2u * rows;
    let pos_out = pick_off + p.sequences * p.next_m;
    for (var k = 0u; k < streams; k++) {
        let s = b + k * p.images;
        for (var i = t; i < r; i += WG) {
            var pos = i;
            if (p.next_refresh == 0u) {
                pos = idx[p.pos_off + base + i];
            }
            look[map_off + s * r + i] = s * p.seq + pos;
            look[ids_off + s * r + i] = look[s * p.seq + pos];
        }
    }
    for (var j = t; j < p.m; j += WG) {
        if (!is_chosen(j)) {
            let jn = j - chosen_before(j);
            let pos = idx[p.pos_off + base + j];
            look[pos_out + b * p.next_m + jn] = pos;
            for (var k = 0u; k < streams; k++) {
                let s = b + k * p.images;
                look[pick_off + s * p.next_m + jn] = select(s * r + j, s * r + pos, p.next_refresh != 0u);
            }
        }
    }
}
