//! Int8 storage of a weights file: every matrix as signed bytes with one f32 scale per column.
//!
//! A column of `x·W` is an output channel, and a nested sub-model reads a leading block of rows
//! and columns, so it decodes its columns with their own scales. A code q decodes to
//! `f16(q · scale)`: the decoded model is f16-exact, so every engine computes with the same
//! weights and the GPU engine keeps its f16 storage (what int8 buys is the download, half of
//! f16's). Vectors (biases, LayerNorm) stay f16: they are a fraction of a percent of the bytes.
//!
//! In a file, matrix `NAME` is an `I8` tensor and `NAME.int8_scale` an `F32` tensor with one
//! entry per column; codes lie in −127..=127 (symmetric: the scale is the column's largest
//! magnitude / 127).

use super::HostTensor;

/// The name of a matrix's scales in a file.
pub const SCALE_SUFFIX: &str = ".int8_scale";

/// Largest code magnitude.
const MAX_CODE: f32 = 127.0;

/// A matrix as int8 codes (row-major, like the tensor) and one scale per column.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Matrix {
    pub codes: Vec<i8>,
    pub scales: Vec<f32>,
}

/// Quantises a 2-D tensor per column: scale = the column's largest |value| / 127, code =
/// round(value / scale). (A smaller scale that clips the outliers does not lower the logits'
/// drift measurably.)
pub fn quantize_columns(t: &HostTensor) -> Int8Matrix {
    let [_, cols] = t.shape[..] else { panic!("int8 storage is for matrices, not shape {:?}", t.shape) };
    let mut scales = vec![0.0f32; cols];
    for row in t.data.chunks(cols.max(1)) {
        for (s, v) in scales.iter_mut().zip(row) {
            *s = s.max(v.abs());
        }
    }
    scales.iter_mut().for_each(|s| *s /= MAX_CODE);
    let code = |v: f32, s: f32| if s > 0.0 { (v / s).round().clamp(-MAX_CODE, MAX_CODE) as i8 } else { 0 };
    let codes = t.data.chunks(cols.max(1)).flat_map(|row| row.iter().zip(&scales).map(|(&v, &s)| code(v, s))).collect();
    Int8Matrix { codes, scales }
}

/// The decoded matrix of `shape` [rows, cols]; an error (naming what is wrong, not the tensor)
/// for codes or scales that no writer of this format produces.
pub fn dequantize_columns(shape: &[usize], m: &Int8Matrix) -> Result<HostTensor, String> {
    let [rows, cols] = shape[..] else {
        return Err(format!("int8 storage is for matrices, but the shape is {shape:?}"));
    };
    if m.scales.len() != cols {
        return Err(format!("{} scales for {cols} columns", m.scales.len()));
    }
    if let Some(s) = m.scales.iter().find(|s| !(s.is_finite() && **s >= 0.0)) {
        return Err(format!("holds the scale {s} (scales are finite and ≥ 0)"));
    }
    if m.codes.len() != rows * cols {
        return Err(format!("{} codes for shape {shape:?}", m.codes.len()));
    }
    if m.codes.contains(&i8::MIN) {
        return Err("holds the code −128 (codes are symmetric, −127..=127)".into());
    }
    let data = m
        .codes
        .chunks(cols.max(1))
        .flat_map(|row| row.iter().zip(&m.scales).map(|(&q, &s)| half::f16::from_f32(q as f32 * s).to_f32()))
        .collect();
    Ok(HostTensor::new(shape.to_vec(), data))
}
