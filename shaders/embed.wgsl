// Input embeddings of the processed rows: x[i, :d] = table[id_i, :d] + positions[pos_i, :d].
// The table is tokens.embedding (K+1 rows) followed by classes.embedding (C+1 rows) in the
// weight buffer; the host gives each processed row its table id (idx[ids_off + i]) and its flat
// cache row b·S + pos (idx[map_off + i]), so pos = flat % S.

// Field for field the Rust struct in src/gpu/params.rs (tests/gpu_kernels.rs compares them).
struct Params {
    rows: u32, d: u32, ld: u32, seq: u32,
    tab_off: u32, pos_off: u32, ids_off: u32, map_off: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Weights: f32 here; the host swaps in packed f16 pairs (see gpu::engine::WeightStorage).
@group(0) @binding(1) var<storage, read> w: array<f32>;
fn wv(i: u32) -> f32 { return w[i]; }
@group(0) @binding(3) var<storage, read> idx: array<u32>;
@group(0) @binding(4) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let e = gid.y * nwg.x * 64u + gid.x;
    if (e >= p.rows * p.d) {
        return;
    }
    let i = e / p.d;
    let c = e % p.d;
    let id = idx[p.ids_off + i];
    let pos = idx[p.map_off + i] % p.seq;
    x[i * p.ld + c] = wv(p.tab_off + id * p.ld + c) + wv(p.pos_off + pos * p.ld + c);
}
