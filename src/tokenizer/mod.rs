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
fn conv3x3(x: &[f32], cin: usize, h: usize, w: usize, weight: &[f32], bias: &[f32]) -> Vec<f32> {
    let cout = bias.len();
    let hw = h * w;
    let mut out = vec![0.0f32; cout * hw];
    for o in 0..cout {
        let plane = &mut out[o * hw..(o + 1) * hw];
        plane.fill(bias[o]);
        for i in 0..cin {
            let inp = &x[i * hw..(i + 1) * hw];
            for ky in 0..3 {
                for kx in 0..3 {
                    let wv = weight[((o * cin + i) * 3 + ky) * 3 + kx];
                    // Output columns whose input column x + kx - 1 is inside the image.
                    let (x0, x1) = (if kx == 0 { 1 } else { 0 }, if kx == 2 { w - 1 } else { w });
                    for y in 0..h {
                        let yy = y as isize + ky as isize - 1;
                        if yy < 0 || yy >= h as isize {
                            continue;
                        }
                        let src = &inp[yy as usize * w + x0 + kx - 1..yy as usize * w + x1 + kx - 1];
                        let dst = &mut plane[y * w + x0..y * w + x1];
                        for (d, s) in dst.iter_mut().zip(src) {
                            *d += wv * s;
                        }
                    }
                }
            }
        }
    }
    out
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
