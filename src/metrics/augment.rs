//! Training-time augmentations for the FID classifier, on one 32×32 HWC u8 image on white.
//!
//! [`Augment::Geometric`] (flip, ±2 px shift) is what the shipped classifiers were trained with.
//! [`Augment::Style`] adds what changes from one emoji vendor to another, so that the
//! classifier names an emoji's category by what it depicts rather than how it is drawn: size in
//! the frame, colour gain and saturation, flat colour (posterised), dark outlines around the
//! figure and between colour regions (the OpenMoji / Streamline look), and softness. Every
//! transform keeps white white, so the background stays the dataset's.

use crate::data::IMAGE_SIZE;
use crate::tokenizer::train::splitmix;

const S: usize = IMAGE_SIZE;

/// Which augmentations a classifier trains with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Augment {
    None,
    /// Random horizontal flip and ±2 px shift (white fill).
    #[default]
    Geometric,
    /// Geometric plus the art-style transforms of the module docs.
    Style,
}

impl std::str::FromStr for Augment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Augment::None),
            "geometric" => Ok(Augment::Geometric),
            "style" => Ok(Augment::Style),
            _ => Err(format!("unknown augmentation {s:?}: expected none, geometric or style")),
        }
    }
}

/// Uniform in [0, 1) from the stream.
fn unit(rng: &mut u64) -> f32 {
    (splitmix(rng) >> 40) as f32 / (1u64 << 24) as f32
}

fn chance(rng: &mut u64, p: f32) -> bool {
    unit(rng) < p
}

fn between(rng: &mut u64, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * unit(rng)
}

impl Augment {
    /// The augmented copy of `img` (`IMAGE_BYTES` long), driven by `rng`.
    pub fn apply(self, img: &[u8], rng: &mut u64) -> Vec<u8> {
        match self {
            Augment::None => img.to_vec(),
            Augment::Geometric => flip_shift(img, splitmix(rng)),
            Augment::Style => {
                let mut im = if chance(rng, 0.5) { shrink(img, between(rng, 0.7, 1.0)) } else { img.to_vec() };
                im = flip_shift(&im, splitmix(rng));
                if chance(rng, 0.8) {
                    recolour(&mut im, between(rng, 0.75, 1.25), between(rng, 0.6, 1.4));
                }
                if chance(rng, 0.3) {
                    posterise(&mut im, 3 + (splitmix(rng) % 3) as u32);
                }
                if chance(rng, 0.5) {
                    let ink = between(rng, 10.0, 80.0) as u8;
                    outline(&mut im, ink, chance(rng, 0.6));
                }
                if chance(rng, 0.2) {
                    soften(&mut im);
                }
                im
            }
        }
    }
}

/// Flip / shift one image (white fill), driven by the bits of `r`.
fn flip_shift(img: &[u8], r: u64) -> Vec<u8> {
    let s = S as isize;
    let flip = r & 1 == 1;
    let dx = ((r >> 1) % 5) as isize - 2;
    let dy = ((r >> 4) % 5) as isize - 2;
    let mut out = vec![255u8; img.len()];
    for y in 0..s {
        for x in 0..s {
            let sx = if flip { s - 1 - x } else { x } - dx;
            let sy = y - dy;
            if (0..s).contains(&sx) && (0..s).contains(&sy) {
                let (d, src) = (((y * s + x) * 3) as usize, ((sy * s + sx) * 3) as usize);
                out[d..d + 3].copy_from_slice(&img[src..src + 3]);
            }
        }
    }
    out
}

/// The drawing scaled by `scale` ≤ 1 about the centre (bilinear, white around it): vendors
/// leave different margins.
fn shrink(img: &[u8], scale: f32) -> Vec<u8> {
    let c = (S as f32 - 1.0) / 2.0;
    let at = |x: isize, y: isize, ch: usize| -> f32 {
        if (0..S as isize).contains(&x) && (0..S as isize).contains(&y) { img[(y as usize * S + x as usize) * 3 + ch] as f32 } else { 255.0 }
    };
    let mut out = vec![255u8; img.len()];
    for y in 0..S {
        for x in 0..S {
            let (fx, fy) = (c + (x as f32 - c) / scale, c + (y as f32 - c) / scale);
            let (x0, y0) = (fx.floor(), fy.floor());
            let (tx, ty) = (fx - x0, fy - y0);
            let (x0, y0) = (x0 as isize, y0 as isize);
            for ch in 0..3 {
                let top = at(x0, y0, ch) * (1.0 - tx) + at(x0 + 1, y0, ch) * tx;
                let bottom = at(x0, y0 + 1, ch) * (1.0 - tx) + at(x0 + 1, y0 + 1, ch) * tx;
                out[(y * S + x) * 3 + ch] = (top * (1.0 - ty) + bottom * ty).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// Ink gain (distance from white × `gain`) and saturation (distance from the pixel's grey ×
/// `saturation`); both leave white and greys' hue alone.
fn recolour(img: &mut [u8], gain: f32, saturation: f32) {
    for px in img.chunks_exact_mut(3) {
        let rgb = [px[0] as f32, px[1] as f32, px[2] as f32];
        let grey = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
        for (v, &c) in px.iter_mut().zip(&rgb) {
            let saturated = grey + (c - grey) * saturation;
            *v = (255.0 - (255.0 - saturated) * gain).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Flat colour: each channel rounded to `levels` evenly spaced values (0 and 255 kept).
fn posterise(img: &mut [u8], levels: u32) {
    let step = 255.0 / (levels - 1) as f32;
    for v in img.iter_mut() {
        *v = ((*v as f32 / step).round() * step).round().clamp(0.0, 255.0) as u8;
    }
}

/// Whether a pixel is part of the drawing (visibly off white).
fn inked(px: &[u8]) -> bool {
    px.iter().any(|&v| v < 232)
}

/// Dark `ink` pixels on the drawing's rim (drawing pixels next to background or the frame's
/// edge) and, with `inner`, where neighbouring colours differ strongly (the lines between
/// regions in an outlined style).
fn outline(img: &mut [u8], ink: u8, inner: bool) {
    let src = img.to_vec();
    let px = |x: usize, y: usize| &src[(y * S + x) * 3..(y * S + x) * 3 + 3];
    let differ = |a: &[u8], b: &[u8]| a.iter().zip(b).map(|(&p, &q)| (p as i32 - q as i32).abs()).max().unwrap_or(0) > 90;
    for y in 0..S {
        for x in 0..S {
            let here = px(x, y);
            if !inked(here) {
                continue;
            }
            let mut line = false;
            for (dx, dy) in [(-1isize, 0isize), (1, 0), (0, -1), (0, 1)] {
                let (nx, ny) = (x as isize + dx, y as isize + dy);
                if !(0..S as isize).contains(&nx) || !(0..S as isize).contains(&ny) {
                    line = true;
                    break;
                }
                let n = px(nx as usize, ny as usize);
                // Inner lines on one side only (right/down), so they stay one pixel wide.
                if !inked(n) || (inner && dx + dy > 0 && inked(n) && differ(here, n)) {
                    line = true;
                    break;
                }
            }
            if line {
                img[(y * S + x) * 3..(y * S + x) * 3 + 3].fill(ink);
            }
        }
    }
}

/// Half-strength 3×3 box blur (a softer rendering).
fn soften(img: &mut [u8]) {
    let src = img.to_vec();
    for y in 0..S {
        for x in 0..S {
            for ch in 0..3 {
                let (mut sum, mut n) = (0u32, 0u32);
                for ny in y.saturating_sub(1)..=(y + 1).min(S - 1) {
                    for nx in x.saturating_sub(1)..=(x + 1).min(S - 1) {
                        sum += src[(ny * S + nx) * 3 + ch] as u32;
                        n += 1;
                    }
                }
                let i = (y * S + x) * 3 + ch;
                img[i] = ((src[i] as u32 * n + sum) / (2 * n)) as u8;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_BYTES;

    /// A red disc on white.
    fn disc() -> Vec<u8> {
        let mut im = vec![255u8; IMAGE_BYTES];
        for y in 0..S {
            for x in 0..S {
                let (dx, dy) = (x as f32 - 15.5, y as f32 - 15.5);
                if dx * dx + dy * dy < 100.0 {
                    im[(y * S + x) * 3..(y * S + x) * 3 + 3].copy_from_slice(&[220, 30, 30]);
                }
            }
        }
        im
    }

    #[test]
    fn every_transform_keeps_a_white_image_white() {
        let white = vec![255u8; IMAGE_BYTES];
        for seed in 0..50u64 {
            let mut rng = seed;
            assert_eq!(Augment::Style.apply(&white, &mut rng), white, "seed {seed}");
        }
    }

    #[test]
    fn outline_inks_the_rim_and_not_the_inside() {
        let mut im = disc();
        outline(&mut im, 0, false);
        let at = |x: usize, y: usize| &im[(y * S + x) * 3..(y * S + x) * 3 + 3];
        assert_eq!(at(16, 16), &[220, 30, 30], "the inside stays red");
        assert_eq!(at(0, 0), &[255, 255, 255], "the background stays white");
        // The disc's leftmost pixel on the middle row is on the rim.
        let rim = (0..S).find(|&x| inked(at(x, 16))).unwrap();
        assert_eq!(at(rim, 16), &[0, 0, 0]);
        let inked_count = im.chunks(3).filter(|p| p == &[0, 0, 0]).count();
        assert!((30..80).contains(&inked_count), "a one-pixel rim of a radius-10 disc, got {inked_count}");
    }

    #[test]
    fn shrink_keeps_the_centre_and_moves_the_rim_in() {
        let im = disc();
        let small = shrink(&im, 0.7);
        let at = |im: &[u8], x: usize| im[(16 * S + x) * 3];
        assert_eq!(at(&small, 16), 220);
        let left = |im: &[u8]| (0..S).find(|&x| at(im, x) < 232).unwrap();
        assert!(left(&small) > left(&im) + 1, "{} vs {}", left(&small), left(&im));
    }

    #[test]
    fn style_augmentation_is_a_function_of_the_stream_and_varies() {
        let im = disc();
        let (mut a, mut b) = (7u64, 7u64);
        assert_eq!(Augment::Style.apply(&im, &mut a), Augment::Style.apply(&im, &mut b));
        let outs: std::collections::HashSet<Vec<u8>> = (0..20u64).map(|s| Augment::Style.apply(&im, &mut { s })).collect();
        assert!(outs.len() > 15, "20 draws gave {} distinct images", outs.len());
    }

    #[test]
    fn augmentation_names_parse_and_bad_ones_are_named() {
        assert_eq!("style".parse::<Augment>(), Ok(Augment::Style));
        assert!("sharp".parse::<Augment>().unwrap_err().contains("sharp"));
    }
}
