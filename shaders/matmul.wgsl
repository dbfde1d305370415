// Tiled matmul over the width prefix: out[row, col] (op)= act(x[row, :k] · w[:k, col] + bias[col]).
// x: [m, ld_x] activations (only the first k columns read), w: weight block at w_off with row
// stride ld_w (the full stored width, so a prefix slice W[:k, :n] is read in place).
// mode 0: store; 1: exact-erf GELU then store; 2: accumulate (residual add).
// scatter bit z set: output row = idx[map_off + row] (K/V rows written straight into the cache).
// The grid's z index selects one of up to three products sharing x (q, k, v in one dispatch):
// weights at w_off + z·w_zstride, bias at b_off + z·b_zstride, output at out_off / out_off1 /
// out_off2.
// Output tiles in workgroup memory with 16-deep K tiles (see WX/WY below).

// Field for field the Rust struct in src/gpu/params.rs (tests/gpu_kernels.rs compares them).
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
// Per K tile each thread loads 4 weights (k rows kw, kw+4, kw+8, kw+12 of one column; THREADS
// is 4·TN) and X_GROUPS groups of 4 consecutive k of one x row, as straight-line code: a
// real GPU then has all of a group's loads in flight at once instead of one load latency per
// element (the kernels are latency-bound at these sizes).
const X_GROUPS: u32 = TM * TK / (4u * THREADS);

// x[gr, gk], or 0 outside [m, k]; always a load, so no branch separates the loads.
fn x_at(gr: u32, gk: u32) -> f32 {
    let ok = gr < p.m && gk < p.k;
    return select(0.0, x[select(0u, gr * p.ld_x + gk, ok)], ok);
}

// The weight at (gk, gc) of the block at w_off, or 0 outside [k, n].
fn w_at(w_off: u32, gk: u32, gc: u32) -> f32 {
    let ok = gk < p.k && gc < p.n;
    return select(0.0, wv(select(0u, w_off + gk * p.ld_w + gc, ok)), ok);
}

// gamma or beta of feature gk (at off), 0 past k.
fn norm_param(off: u32, gk: u32) -> f32 {
    let ok = gk < p.k;
    return select(0.0, wv(select(0u, off + gk, ok)), ok);
}

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
        // Four independent loads per iteration (x_at is 0 past k or m).
        var s = 0.0;
        for (var c = lane; c < p.k; c += 4u * PER_ROW) {
            s += (x_at(gr, c) + x_at(gr, c + PER_ROW)) + (x_at(gr, c + 2u * PER_ROW) + x_at(gr, c + 3u * PER_ROW));
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
        for (var c = lane; c < p.k; c += 4u * PER_ROW) {
            let cs = vec4<u32>(c, c + PER_ROW, c + 2u * PER_ROW, c + 3u * PER_ROW);
            let xs4 = vec4<f32>(x_at(gr, cs.x), x_at(gr, cs.y), x_at(gr, cs.z), x_at(gr, cs.w));
            let d = select(vec4<f32>(0.0), xs4 - mean, cs < vec4<u32>(p.k));
            v += dot(d, d);
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
        let wc = t % TN;
        let kw = t / TN;
        let w0 = w_at(w_off, k0 + kw, col0 + wc);
        let w1 = w_at(w_off, k0 + kw + 4u, col0 + wc);
        let w2 = w_at(w_off, k0 + kw + 8u, col0 + wc);
        let w3 = w_at(w_off, k0 + kw + 12u, col0 + wc);
        for (var g = 0u; g < X_GROUPS; g++) {
            let e = t + g * THREADS;
            let mm = e / (TK / 4u);
            let kq = (e % (TK / 4u)) * 4u;
            let gr = row0 + mm;
            let gk = k0 + kq;
            var a = vec4<f32>(x_at(gr, gk), x_at(gr, gk + 1u), x_at(gr, gk + 2u), x_at(gr, gk + 3u));
            if (p.norm != 0u) {
                let gamma = vec4<f32>(norm_param(p.g_off, gk), norm_param(p.g_off, gk + 1u),
                                      norm_param(p.g_off, gk + 2u), norm_param(p.g_off, gk + 3u));
                let beta = vec4<f32>(norm_param(p.beta_off, gk), norm_param(p.beta_off, gk + 1u),
                                     norm_param(p.beta_off, gk + 2u), norm_param(p.beta_off, gk + 3u));
                // Padding (past m or k) stays 0, as the products expect.
                let inside = vec4<bool>(gk < p.k, gk + 1u < p.k, gk + 2u < p.k, gk + 3u < p.k) & vec4<bool>(gr < p.m);
                a = select(vec4<f32>(0.0), (a - row_mean[mm]) * row_inv[mm] * gamma + beta, inside);
            }
            let slot = mm / 4u;
            let lane = mm % 4u;
            xs[kq * (TM / 4u) + slot][lane] = a.x;
            xs[(kq + 1u) * (TM / 4u) + slot][lane] = a.y;
            xs[(kq + 2u) * (TM / 4u) + slot][lane] = a.z;
            xs[(kq + 3u) * (TM / 4u) + slot][lane] = a.w;
        }
        ws[kw * (TN / 4u) + wc / 4u][wc % 4u] = w0;
        ws[(kw + 4u) * (TN / 4u) + wc / 4u][wc % 4u] = w1;
        ws[(kw + 8u) * (TN / 4u) + wc / 4u][wc % 4u] = w2;
        ws[(kw + 12u) * (TN / 4u) + wc / 4u][wc % 4u] = w3;
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
