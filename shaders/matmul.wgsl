// Tiled matmul over the width prefix: out[row, col] (op)= act(x[row, :k] · w[:k, col] + bias[col]).
// x: [m, ld_x] activations (only the first k columns read), w: weight block at w_off with row
// stride ld_w (the full stored width, so a prefix slice W[:k, :n] is read in place).
// mode 0: store; 1: exact-erf GELU then store; 2: accumulate (residual add).
// scatter bit z set: output row = idx[map_off + row] (K/V rows written straight into the cache).
// The grid's z index selects one of up to three products sharing x (q, k, v in one dispatch):
// weights at w_off + z·w_zstride, bias at b_off + z·b_zstride, output at out_off / out_off1 /
// out_off2.
// Output tiles in workgroup memory with 16-deep K tiles (see WX/WY below).

struct Params {
    m: u32, n: u32, k: u32, ld_x: u32,
    w_zstride: u32, w_off: u32, ld_w: u32, b_off: u32,
    out_off: u32, ld_out: u32, mode: u32, scatter: u32,
    map_off: u32, b_zstride: u32, out_off1: u32, out_off2: u32,
    // norm = 1: x rows are LayerNorm'ed over their first k features on load (gamma at g_off,
    // beta at beta_off, epsilon eps) — the pre-norm of the block fused into its matmul.
    norm: u32, g_off: u32, beta_off: u32, eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// Weights: f32 here; the host swaps in packed f16 pairs (see gpu::engine::WeightStorage).
@group(0) @binding(1) var<storage, read> w: array<f32>;
fn wv(i: u32) -> f32 { return w[i]; }
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> idx: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

// Threads per workgroup WX × WY, each owning 4 rows × 4 columns (strided by WY / WX): tile
// TM × TN = 4·WY × 4·WX. The host substitutes WX for narrow outputs (small widths), so a tile
// is not mostly padding; 16 × 16 (a 64 × 64 tile) is the default.
const WX: u32 = 16u;
const WY: u32 = 16u;
const THREADS: u32 = WX * WY;
const TM: u32 = 4u * WY;
const TN: u32 = 4u * WX;
const TK: u32 = 16u;

// Tiles as vec4 so a thread reads its 4 rows (4 columns) with one 16-byte load.
var<workgroup> xs: array<vec4<f32>, TK * TM / 4u>; // [TK][TM/4]
var<workgroup> ws: array<vec4<f32>, TK * TN / 4u>; // [TK][TN/4]
// Fused LayerNorm: per tile row mean and 1/sqrt(var + eps); partial sums of THREADS / TM
// invocations per row.
var<workgroup> row_mean: array<f32, TM>;
var<workgroup> row_inv: array<f32, TM>;
var<workgroup> partial: array<f32, THREADS>;

const PER_ROW: u32 = THREADS / TM;

// erf(z) from the Chebyshev-fitted erfc of Numerical Recipes (erfcc): fractional error of
// erfc below 1.2e-7 everywhere, so |erf error| < 1.2e-7 (about one f32 ulp of 1).
fn erf_approx(z: f32) -> f32 {
    let a = abs(z);
    let t = 1.0 / (1.0 + 0.5 * a);
    let poly = -a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
        t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
        t * (-0.82215223 + t * 0.17087277))))))));
    let erfc = t * exp(poly);
    return select(erfc - 1.0, 1.0 - erfc, z >= 0.0);
}

fn gelu(v: f32) -> f32 {
    return 0.5 * v * (1.0 + erf_approx(v * 0.70710678118654752));
}

fn epilogue(z: u32, row: u32, col0: u32, acc: vec4<f32>) {
    if (row >= p.m) {
        return;
    }
    var orow = row;
    if ((p.scatter & (1u << z)) != 0u) {
        orow = idx[p.map_off + row];
    }
    var out_off = p.out_off;
    if (z == 1u) {
        out_off = p.out_off1;
    } else if (z == 2u) {
        out_off = p.out_off2;
    }
    let obase = out_off + orow * p.ld_out;
    let b_off = p.b_off + z * p.b_zstride;
    for (var j = 0u; j < 4u; j++) {
        let col = col0 + j;
        if (col >= p.n) {
            return;
        }
        let y = acc[j] + wv(b_off + col);
        let o = obase + col;
        if (p.mode == 1u) {
            out[o] = gelu(y);
        } else if (p.mode == 2u) {
            out[o] = out[o] + y;
        } else {
            out[o] = y;
        }
    }
}

@compute @workgroup_size(WX, WY, 1)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let row0 = wid.y * TM;
    let col0 = wid.x * TN;
    let z = wid.z;
    let w_off = p.w_off + z * p.w_zstride;
    let t = lid.y * WX + lid.x;
    // Fused LayerNorm statistics of the tile's rows over their first k features, as the
    // reference computes them (mean, then the mean of squared deviations). Computed by every
    // workgroup (cheap next to the tile products); `p.norm` is uniform, so the barriers are in
    // uniform control flow.
    if (p.norm != 0u) {
        let mm = t / PER_ROW;
        let lane = t % PER_ROW;
        let gr = row0 + mm;
        var s = 0.0;
        if (gr < p.m) {
            for (var c = lane; c < p.k; c += PER_ROW) {
                s += x[gr * p.ld_x + c];
            }
        }
        partial[t] = s;
        workgroupBarrier();
        if (lane == 0u) {
            var total = 0.0;
            for (var i = 0u; i < PER_ROW; i++) {
                total += partial[t + i];
            }
            row_mean[mm] = total / f32(p.k);
        }
        workgroupBarrier();
        let mean = row_mean[mm];
        var v = 0.0;
        if (gr < p.m) {
            for (var c = lane; c < p.k; c += PER_ROW) {
                let d = x[gr * p.ld_x + c] - mean;
                v = fma(d, d, v);
            }
        }
        partial[t] = v;
        workgroupBarrier();
        if (lane == 0u) {
            var total = 0.0;
            for (var i = 0u; i < PER_ROW; i++) {
                total += partial[t + i];
            }
            row_inv[mm] = 1.0 / sqrt(total / f32(p.k) + p.eps);
        }
        workgroupBarrier();
    }
    // Thread (lx, ly) owns rows 4·ly .. 4·ly+3 and columns 4·lx .. 4·lx+3 of the tile; four
    // vec4 accumulators (one per row).
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < p.k; k0 += TK) {
        for (var i = 0u; i < TM * TK / THREADS; i++) {
            let e = t + i * THREADS;
            let mm = e / TK;
            let kk = e % TK;
            let gr = row0 + mm;
            let gk = k0 + kk;
            var v = 0.0;
            if (gr < p.m && gk < p.k) {
                v = x[gr * p.ld_x + gk];
                if (p.norm != 0u) {
                    v = (v - row_mean[mm]) * row_inv[mm] * wv(p.g_off + gk) + wv(p.beta_off + gk);
                }
            }
            xs[kk * (TM / 4u) + mm / 4u][mm % 4u] = v;
        }
        for (var i = 0u; i < TN * TK / THREADS; i++) {
            let e = t + i * THREADS;
            let kk = e / TN;
            let nn = e % TN;
            let gk = k0 + kk;
            let gc = col0 + nn;
            var v = 0.0;
            if (gk < p.k && gc < p.n) {
                v = wv(w_off + gk * p.ld_w + gc);
            }
            ws[kk * (TN / 4u) + nn / 4u][nn % 4u] = v;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let a = xs[kk * (TM / 4u) + lid.y];
            let b = ws[kk * (TN / 4u) + lid.x];
            acc0 = fma(vec4<f32>(a.x), b, acc0);
            acc1 = fma(vec4<f32>(a.y), b, acc1);
            acc2 = fma(vec4<f32>(a.z), b, acc2);
            acc3 = fma(vec4<f32>(a.w), b, acc3);
        }
        workgroupBarrier();
    }
    let r = row0 + 4u * lid.y;
    let c = col0 + 4u * lid.x;
    epilogue(z, r, c, acc0);
    epilogue(z, r + 1u, c, acc1);
    epilogue(z, r + 2u, c, acc2);
    epilogue(z, r + 3u, c, acc3);
}
