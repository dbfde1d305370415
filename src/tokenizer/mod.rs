//! VQ tokenizer: 32×32 RGB ↔ an 8×8 grid of codes from a 512-entry codebook.
//!
//! - [`weights`]: the file format and validation (plain Rust).
//! - [`cpu_decode`]: the decoder of the TEAM_NOTES contract in plain Rust (it is compiled into
//!   the burn-free WebGPU bundle and is the reference the WGSL decoder is tested against).
//! - `model` / `train` (feature `reference`): the burn VQ autoencoder, EMA codebook, training.

pub mod tokens;
pub mod weights;

#[cfg(feature = "reference")]
pub mod model;
#[cfg(feature = "reference")]
pub mod train;

pub use weights::{TokenizerConfig, TokenizerWeights};

use crate::error::{Error, Result};

/// 3×3 convolution, zero padding 1, stride 1, on a CHW map: `[cin, h, w]` → `[cout, h, w]`.
/// Weight `[cout, cin, 3, 3]`, bias `[cout]`.
///
/// Every output pixel is `bias + Σ_i Σ_ky Σ_kx w·x`, summed in that order (out-of-image taps add
/// zero), so the result does not depend on how the loops below are blocked. The blocking is what
/// makes it fast without SIMD intrinsics: a row of output pixels for a few output channels stays
/// in registers across all `cin · 9` taps (the naive loop re-read and re-wrote the output plane
/// once per tap), on the CLI's evaluations (10,000 images a row) and the page's CPU fallback.
fn conv3x3(x: &[f32], cin: usize, h: usize, w: usize, weight: &[f32], bias: &[f32]) -> Vec<f32> {
    let cout = bias.len();
    let mut out = vec![0.0f32; cout * h * w];
    if h == 0 || w == 0 {
        return out;
    }
    // A zero border, so every tap reads a whole row.
    let (ph, pw) = (h + 2, w + 2);
    let mut padded = vec![0.0f32; cin * ph * pw];
    for i in 0..cin {
        for y in 0..h {
            padded[(i * ph + y + 1) * pw + 1..][..w].copy_from_slice(&x[(i * h + y) * w..][..w]);
        }
    }
    let layer = Conv3x3 { padded: &padded, cin, h, weight, bias };
    match w {
        8 => layer.rows::<8, 4>(&mut out),
        16 => layer.rows::<16, 2>(&mut out),
        32 => layer.rows::<32, 1>(&mut out),
        _ => layer.rows_any_width(w, &mut out),
    }
    out
}

struct Conv3x3<'a> {
    padded: &'a [f32],
    cin: usize,
    h: usize,
    weight: &'a [f32],
    bias: &'a [f32],
}

impl Conv3x3<'_> {
    /// Rows of `W` pixels, `OB` output channels at a time (W · OB floats of accumulators: what
    /// fits in the registers of a plain x86-64 or wasm build).
    fn rows<const W: usize, const OB: usize>(&self, out: &mut [f32]) {
        let (cin, h, pw) = (self.cin, self.h, W + 2);
        let plane = (h + 2) * pw;
        let cout = self.bias.len();
        for o0 in (0..cout).step_by(OB) {
            let ob = OB.min(cout - o0);
            for y in 0..h {
                let mut acc = [[0.0f32; W]; OB];
                for (k, a) in acc.iter_mut().enumerate().take(ob) {
                    *a = [self.bias[o0 + k]; W];
                }
                for i in 0..cin {
                    for ky in 0..3 {
                        let row = &self.padded[i * plane + (y + ky) * pw..][..pw];
                        for kx in 0..3 {
                            let src: &[f32; W] = row[kx..kx + W].try_into().expect("row of W");
                            for (k, a) in acc.iter_mut().enumerate().take(ob) {
                                let wv = self.weight[((o0 + k) * cin + i) * 9 + ky * 3 + kx];
                                for (d, s) in a.iter_mut().zip(src) {
                                    *d += wv * s;
                                }
                            }
                        }
                    }
                }
                for (k, a) in acc.iter().enumerate().take(ob) {
                    out[((o0 + k) * h + y) * W..][..W].copy_from_slice(a);
                }
            }
        }
    }

    /// Any other width (the shipped tokenizers only use 8, 16 and 32), same summation order.
    fn rows_any_width(&self, w: usize, out: &mut [f32]) {
        let (cin, h, pw) = (self.cin, self.h, w + 2);
        let plane = (h + 2) * pw;
        for (o, &b) in self.bias.iter().enumerate() {
            for y in 0..h {
                let acc = &mut out[(o * h + y) * w..][..w];
                acc.fill(b);
                for i in 0..cin {
                    for ky in 0..3 {
                        let row = &self.padded[i * plane + (y + ky) * pw..][..pw];
                        for kx in 0..3 {
                            let wv = self.weight[(o * cin + i) * 9 + ky * 3 + kx];
                            for (d, s) in acc.iter_mut().zip(&row[kx..kx + w]) {
                                *d += wv * s;
                            }
                        }
                    }
                }
            }
        }
    }
}

fn silu_inplace(x: &mut [f32]) {
    for v in x {
        *v /= 1.0 + (-*v).exp();
    }
}

/// Nearest-neighbour 2× upsampling of a CHW map.
fn upsample2(x: &[f32], c: usize, h: usize, w: usize) -> Vec<f32> {
    let mut out = vec![0.0; c * 4 * h * w];
    for ch in 0..c {
        for y in 0..2 * h {
            for xx in 0..2 * w {
                out[(ch * 2 * h + y) * 2 * w + xx] = x[(ch * h + y / 2) * w + xx / 2];
            }
        }
    }
    out
}

/// Decodes one grid of codes (token i = y·8 + x) to an image.
///
/// Returns **HWC** RGB in [0, 1]: `[32, 32, 3]` row-major, i.e. `out[(y·32 + x)·3 + c]`.
/// Panics only on a caller bug (wrong code count or a code ≥ K); use [`try_cpu_decode`] for
/// untrusted input.
pub fn cpu_decode(w: &TokenizerWeights, codes: &[u32]) -> Vec<f32> {
    try_cpu_decode(w, codes).unwrap_or_else(|e| panic!("{e}"))
}

/// [`cpu_decode`] that refuses a wrong code count or an out-of-range code.
pub fn try_cpu_decode(w: &TokenizerWeights, codes: &[u32]) -> Result<Vec<f32>> {
    let c = &w.config;
    let (g, e, k) = (c.grid[0], c.code_dim, c.codebook);
    if codes.len() != c.tokens() {
        return Err(Error::Decode(format!("tokenizer decode: {} codes, expected {}", codes.len(), c.tokens())));
    }
    if let Some(bad) = codes.iter().find(|&&v| v as usize >= k) {
        return Err(Error::Decode(format!("tokenizer decode: code {bad} is outside the codebook (K = {k})")));
    }
    // 1. codebook lookup → [e, g, g]
    let cb = &w.get("quantizer.codebook").data;
    let mut x = vec![0.0; e * g * g];
    for (i, &code) in codes.iter().enumerate() {
        for j in 0..e {
            x[j * g * g + i] = cb[code as usize * e + j];
        }
    }
    let conv = |name: &str, x: &[f32], cin: usize, s: usize| {
        conv3x3(x, cin, s, s, &w.get(&format!("{name}.weight")).data, &w.get(&format!("{name}.bias")).data)
    };
    let h = c.hidden;
    // 2. conv_in + SiLU
    let mut x = conv("decoder.conv_in", &x, e, g);
    silu_inplace(&mut x);
    // 3. residual block
    let mut t = x.clone();
    silu_inplace(&mut t);
    let mut t = conv("decoder.res.conv1", &t, h, g);
    silu_inplace(&mut t);
    let t = conv("decoder.res.conv2", &t, h, g);
    for (a, b) in x.iter_mut().zip(&t) {
        *a += b;
    }
    // 4., 5. upsample + conv + SiLU, twice
    let x = upsample2(&x, h, g, g);
    let mut x = conv("decoder.up1", &x, h, 2 * g);
    silu_inplace(&mut x);
    let x = upsample2(&x, h / 2, 2 * g, 2 * g);
    let mut x = conv("decoder.up2", &x, h / 2, 4 * g);
    silu_inplace(&mut x);
    // 6. conv_out + sigmoid, CHW → HWC. Checked before the sigmoid, which would squash an
    // infinite value into a plausible-looking 0 or 1 (a black image, not an error).
    let x = conv("decoder.conv_out", &x, h / 4, 4 * g);
    if x.iter().any(|v| !v.is_finite()) {
        return Err(Error::NonFinite("the tokenizer decoder produced NaN or infinite pixels".into()));
    }
    let s = 4 * g;
    let mut out = vec![0.0; 3 * s * s];
    for ch in 0..3 {
        for p in 0..s * s {
            out[p * 3 + ch] = 1.0 / (1.0 + (-x[ch * s * s + p]).exp());
        }
    }
    Ok(out)
}

/// Typical colour of every code: the mean of the central half of the image decoded from a grid
/// that holds only that code (the border is left out: zero padding tints it). The page paints
/// token grids with it while their pixels are still being decoded, which on a software adapter
/// or the CPU fallback is the whole decode; a random colour per code there reads as noise.
pub fn code_palette(w: &TokenizerWeights) -> Result<Vec<[u8; 3]>> {
    let c = &w.config;
    let s = c.image_size;
    let (lo, hi) = (s / 4, s - s / 4);
    (0..c.codebook as u32)
        .map(|code| {
            let rgb = try_cpu_decode(w, &vec![code; c.tokens()])?;
            let mut sum = [0.0f64; 3];
            for y in lo..hi {
                for x in lo..hi {
                    for (ch, acc) in sum.iter_mut().enumerate() {
                        *acc += rgb[(y * s + x) * 3 + ch] as f64;
                    }
                }
            }
            let n = ((hi - lo) * (hi - lo)) as f64;
            Ok(sum.map(|v| (v / n * 255.0).round().clamp(0.0, 255.0) as u8))
        })
        .collect()
}

/// [0, 1] floats → u8 (rounded), any layout.
pub fn to_u8(x: &[f32]) -> Vec<u8> {
    x.iter().map(|v| (v * 255.0).round().clamp(0.0, 255.0) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::conv3x3;

    /// The definition, one output pixel at a time, skipping out-of-image taps.
    fn conv3x3_by_definition(x: &[f32], cin: usize, h: usize, w: usize, weight: &[f32], bias: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; bias.len() * h * w];
        for (o, &b) in bias.iter().enumerate() {
            for y in 0..h {
                for xx in 0..w {
                    let mut acc = b;
                    for i in 0..cin {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (sy, sx) = ((y + ky) as isize - 1, (xx + kx) as isize - 1);
                                if sy >= 0 && sx >= 0 && (sy as usize) < h && (sx as usize) < w {
                                    acc += weight[(o * cin + i) * 9 + ky * 3 + kx] * x[(i * h + sy as usize) * w + sx as usize];
                                }
                            }
                        }
                    }
                    out[(o * h + y) * w + xx] = acc;
                }
            }
        }
        out
    }

    #[test]
    fn blocked_conv_equals_the_definition_exactly() {
        let mut state = 7u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        // The shipped shapes (w 8/16/32), output counts that do not fill a block, other widths.
        for &(cin, cout, h, w) in &[(16, 64, 8, 8), (8, 7, 8, 8), (12, 5, 16, 16), (6, 3, 32, 32), (5, 4, 6, 5), (3, 2, 1, 1)] {
            let x: Vec<f32> = (0..cin * h * w).map(|_| next()).collect();
            let weight: Vec<f32> = (0..cout * cin * 9).map(|_| next()).collect();
            let bias: Vec<f32> = (0..cout).map(|_| next()).collect();
            let fast = conv3x3(&x, cin, h, w, &weight, &bias);
            let slow = conv3x3_by_definition(&x, cin, h, w, &weight, &bias);
            assert_eq!(fast.len(), slow.len());
            let differing = fast.iter().zip(&slow).filter(|(a, b)| a != b).count();
            assert_eq!(differing, 0, "cin {cin} cout {cout} {h}×{w}: {differing} pixels differ");
        }
    }
}
