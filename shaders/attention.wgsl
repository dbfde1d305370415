// Attention of the processed (active) query rows over all S = N+1 cached K/V rows of their
// sequence. One invocation per (query row, head), online softmax in one pass over the keys.
// q at q_off: [rows, ld]; K/V cache layer blocks at k_off / v_off, rows b·S + j, stride ld
// (all three live in one buffer, bound read-only three times);
// query row i belongs to sequence i / r. HEAD_DIM is substituted by the host (the private
// arrays are sized by it); the value here is the default model's, for validation.

const HEAD_DIM: u32 = 32u;

struct Params {
    rows: u32, r: u32, seq: u32, heads: u32,
    ld: u32, k_off: u32, scale: f32, v_off: u32,
    q_off: u32,
    _p2: u32, _p3: u32, _p4: u32,
    _p5: u32, _p6: u32, _p7: u32, _p8: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> kc: array<f32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> vc: array<f32>;
@group(0) @binding(4) var<storage, read_write> o: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.y * nwg.x * 64u + gid.x;
    if (e >= p.rows * p.heads) {
        return;
    }
    let i = e / p.heads;
    let h = e % p.heads;
    let b = i / p.r;
    let col = h * HEAD_DIM;
    var qv: array<f32, HEAD_DIM>;
    var acc: array<f32, HEAD_DIM>;
    for (var c = 0u; c < HEAD_DIM; c++) {
        qv[c] = q[p.q_off + i * p.ld + col + c] * p.scale;
        acc[c] = 0.0;
    }
    var mx = -3.0e38;
    var sum = 0.0;
    let kbase = p.k_off + b * p.seq * p.ld + col;
    let vbase = p.v_off + b * p.seq * p.ld + col;
    for (var j = 0u; j < p.seq; j++) {
        let kb = kbase + j * p.ld;
        let vb = vbase + j * p.ld;
        var s = 0.0;
        for (var c = 0u; c < HEAD_DIM; c++) {
            s = fma(qv[c], kc[kb + c], s);
        }
        let m_new = max(mx, s);
        let corr = exp(mx - m_new);
        let pj = exp(s - m_new);
        sum = sum * corr + pj;
        for (var c = 0u; c < HEAD_DIM; c++) {
            acc[c] = fma(pj, vc[vb + c], acc[c] * corr);
        }
        mx = m_new;
    }
    let inv = 1.0 / sum;
    for (var c = 0u; c < HEAD_DIM; c++) {
        o[i * p.ld + col + c] = acc[c] * inv;
    }
}
