// Attention of the processed (active) query rows over all S = N+1 cached K/V rows of their
// sequence, online softmax in one pass over the keys.
// q at q_off: [rows, ld]; K/V cache layer blocks at k_off / v_off, rows b·S + j, stride ld
// (all three live in one buffer, bound read-only three times); query row i = b·r + row within the sequence.
//
// One workgroup per (tile of 64 query rows, head, sequence): its threads first copy a tile of
// KT keys and values of that head into workgroup memory together (independent loads, one
// memory latency per tile), then each thread runs its query row over the tile from there.
// Reading K/V straight from global memory in every thread's serial key loop left a real GPU
// waiting on one load latency per element (0.25 ms per dispatch on an H200 for 16 images).
// HEAD_DIM and KT are substituted by the host (gpu::engine::attention_source); the values here
// are the default model's, for validation. Head slices are padded to vec4s with zeros.

const HEAD_DIM: u32 = 32u;
const KT: u32 = 32u;
const HD4: u32 = (HEAD_DIM + 3u) / 4u;
const QT: u32 = 64u;
const GROUPS_PER_THREAD: u32 = (KT * HD4 + QT - 1u) / QT;

// Field for field the Rust struct in src/gpu/params.rs (tests/gpu_kernels.rs compares them).
struct Params {
    rows: u32, r: u32, seq: u32, heads: u32,
    ld: u32, k_off: u32, scale: f32, v_off: u32,
    q_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> kc: array<f32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> vc: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;

// Branch-free reads (element 0 where masked), so a thread's loads are all issued together.
fn kv_at(i: u32, ok: bool) -> f32 {
    return select(0.0, kc[select(0u, i, ok)], ok);
}
fn vv_at(i: u32, ok: bool) -> f32 {
    return select(0.0, vc[select(0u, i, ok)], ok);
}
fn q_at(i: u32, ok: bool) -> f32 {
    return select(0.0, q[select(0u, i, ok)], ok);
}

var<workgroup> ks: array<vec4<f32>, KT * HD4>; // [key][HD4]
var<workgroup> vs: array<vec4<f32>, KT * HD4>;

@compute @workgroup_size(QT, 1, 1)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>) {
    let h = wid.y;
    let b = wid.z;
    let qrow = wid.x * QT + t;
    // Threads past the sequence's last query row still help load tiles (uniform barriers).
    let has_row = qrow < p.r;
    let i = b * p.r + qrow;
    let col = h * HEAD_DIM;
    var qv: array<vec4<f32>, HD4>;
    var acc: array<vec4<f32>, HD4>;
    for (var c = 0u; c < HD4; c++) {
        let qi = p.q_off + i * p.ld + col + 4u * c;
        qv[c] = p.scale * vec4<f32>(q_at(qi, has_row && 4u * c < HEAD_DIM),
                                    q_at(qi + 1u, has_row && 4u * c + 1u < HEAD_DIM),
                                    q_at(qi + 2u, has_row && 4u * c + 2u < HEAD_DIM),
                                    q_at(qi + 3u, has_row && 4u * c + 3u < HEAD_DIM));
        acc[c] = vec4<f32>(0.0);
    }
    var mx = -3.0e38;
    var sum = 0.0;
    let kbase = p.k_off + b * p.seq * p.ld + col;
    let vbase = p.v_off + b * p.seq * p.ld + col;
    for (var j0 = 0u; j0 < p.seq; j0 += KT) {
        // Each thread copies groups of 4 consecutive features of one key (K and V): eight
        // independent loads in flight before the first store.
        for (var l = 0u; l < GROUPS_PER_THREAD; l++) {
            let gi = t + l * QT;
            let key = gi / HD4;
            let c4 = gi % HD4;
            if (key < KT) {
                let j = j0 + key;
                let base = j * p.ld + 4u * c4;
                let ok = j < p.seq;
                ks[gi] = vec4<f32>(kv_at(kbase + base, ok && 4u * c4 < HEAD_DIM),
                                   kv_at(kbase + base + 1u, ok && 4u * c4 + 1u < HEAD_DIM),
                                   kv_at(kbase + base + 2u, ok && 4u * c4 + 2u < HEAD_DIM),
                                   kv_at(kbase + base + 3u, ok && 4u * c4 + 3u < HEAD_DIM));
                vs[gi] = vec4<f32>(vv_at(vbase + base, ok && 4u * c4 < HEAD_DIM),
                                   vv_at(vbase + base + 1u, ok && 4u * c4 + 1u < HEAD_DIM),
                                   vv_at(vbase + base + 2u, ok && 4u * c4 + 2u < HEAD_DIM),
                                   vv_at(vbase + base + 3u, ok && 4u * c4 + 3u < HEAD_DIM));
            }
        }
        workgroupBarrier();
        if (has_row) {
            let n = min(KT, p.seq - j0);
            for (var jj = 0u; jj < n; jj++) {
                var s = 0.0;
                for (var c = 0u; c < HD4; c++) {
                    s += dot(qv[c], ks[jj * HD4 + c]);
                }
                let m_new = max(mx, s);
                let corr = exp(mx - m_new);
                let pj = exp(s - m_new);
                sum = sum * corr + pj;
                for (var c = 0u; c < HD4; c++) {
                    acc[c] = fma(vec4<f32>(pj), vs[jj * HD4 + c], acc[c] * corr);
                }
                mx = m_new;
            }
        }
        workgroupBarrier();
    }
    if (!has_row) {
        return;
    }
    let inv = 1.0 / sum;
    for (var c = 0u; c < HD4; c++) {
        for (var e = 0u; e < 4u; e++) {
            if (4u * c + e < HEAD_DIM) {
                o[i * p.ld + col + 4u * c + e] = acc[c][e] * inv;
            }
        }
    }
}
