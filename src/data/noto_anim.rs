//! `magnets data --anim --source noto`: clips of Google's Noto animated emoji, a second clip
//! source beside the Fluent one ([`super::anim`]) with larger motion (a bomb that explodes, a
//! rainbow that grows, a guitar that swings) and more of the categories Fluent's animations lack
//! (Food, Activities, Objects, Symbols).
//!
//! Pipeline: the crates.io crate [`NOTO_CRATE`] carries the Noto animations as Lottie JSON
//! (`static/noto_animated_emoji/lottie/<codepoints>/lottie.json`, `_`-separated); cargo fetches
//! its `.crate` ([`fetch_crate`], pinned by SHA-256), the files are read straight from it, skin-tone
//! variants dropped, each animation rendered with rlottie at 256 px at 8 frames evenly
//! spaced over its loop ([`pick_frames`](super::anim::pick_frames), as for the Fluent clips), composited over white and
//! box-filtered 256→32 (as every image).
//!
//! - **Labels and split**: `emoji.json`'s category and `short_name` ([`split_of`]), so an emoji is
//!   held out here iff it is held out in the image data and in the Fluent clips. An animation
//!   whose codepoints `emoji.json` lacks is skipped and counted.
//! - **Licence**: the art is CC BY 4.0 (Noto Emoji Animation © Google); the crate's code is MIT.
//! - **Rendering** needs the `lottie-art` feature (rlottie, a system library: `librlottie-dev`);
//!   without it the step says so. A file that rlottie cannot read is skipped and counted.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use super::anim::{AnimCounts, AnimDataset, EmojiInfo, already_built, emoji_index, has_skin_tone};
#[cfg(feature = "lottie-art")]
use super::anim::{CLIP_BYTES, FRAMES, pick_frames};
use super::iconify::codepoint_key;
use super::pipeline::{CratePackage, fetch_crate, read_tar_matching};
use crate::error::{Error, Result};

/// The crate that carries the Noto animations, pinned by the SHA-256 of its `.crate` file.
pub const NOTO_CRATE: CratePackage = CratePackage {
    name: "animated-emojis-rs",
    version: "0.4.0",
    sha256: "dda9a77a4e0ed046c171387152dba80b58d67b23f69d9f0b2872b2b4a1727aa3",
};
/// Default location of the Noto clip file.
pub const DEFAULT_NOTO_DATASET: &str = "data/anim32-noto.safetensors";
/// Side of the square rlottie renders into (a multiple of 32, box-filtered down).
#[cfg(feature = "lottie-art")]
const RENDER_SIZE: usize = 256;

/// The codepoints of a Lottie file inside the crate
/// (`animated-emojis-rs-0.4.0/static/noto_animated_emoji/lottie/1f636_200d_1f32b_fe0f/lottie.json`
/// → `1f636-200d-1f32b-fe0f`); `None` for any other path.
pub fn lottie_codepoints(path: &str) -> Option<String> {
    let rest = path.split_once("/static/noto_animated_emoji/lottie/")?.1;
    let dir = rest.strip_suffix("/lottie.json").filter(|d| !d.is_empty() && !d.contains('/'))?;
    Some(dir.replace('_', "-"))
}

/// Renders a Lottie animation into one clip `[8, 32, 32, 3]`. `Ok(None)` when it has fewer
/// than 2 frames. `file` names it in errors.
#[cfg(feature = "lottie-art")]
pub fn render_clip(json: &[u8], file: &str) -> Result<Option<Vec<u8>>> {
    // rlottie takes a C string: a NUL inside would be a panic in its binding, and is no Lottie.
    if json.contains(&0) {
        return Err(Error::Data(format!("{file}: not a Lottie file (it holds a NUL byte)")));
    }
    let mut anim = rlottie::Animation::from_data(json.to_vec(), "", "")
        .ok_or_else(|| Error::Data(format!("{file}: rlottie cannot read it as a Lottie animation")))?;
    // Lottie frames all last 1/fps: equal delays.
    let Some(picks) = pick_frames(&vec![1; anim.totalframe()], FRAMES) else { return Ok(None) };
    let mut surface = rlottie::Surface::new(rlottie::Size::new(RENDER_SIZE, RENDER_SIZE));
    let mut clip = Vec::with_capacity(CLIP_BYTES);
    let mut rgba = image::RgbaImage::new(RENDER_SIZE as u32, RENDER_SIZE as u32);
    for frame in picks {
        anim.render(frame, &mut surface);
        // rlottie writes premultiplied BGRA; the box filter takes straight RGBA.
        for (px, p) in rgba.pixels_mut().zip(surface.data()) {
            let un = |c: u8| if p.a == 0 { 0 } else { ((c as u32 * 255 + p.a as u32 / 2) / p.a as u32).min(255) as u8 };
            *px = image::Rgba([un(p.r), un(p.g), un(p.b), p.a]);
        }
        clip.extend_from_slice(&super::pipeline::rgba_to_32(&rgba, file)?);
    }
    Ok(Some(clip))
}

/// Without the `lottie-art` feature: a clear error (the default build has no Lottie renderer).
#[cfg(not(feature = "lottie-art"))]
pub fn render_clip(_json: &[u8], file: &str) -> Result<Option<Vec<u8>>> {
    Err(no_renderer(file))
}

/// The error of a build without a Lottie renderer, naming what asked for one.
fn no_renderer(what: &str) -> Error {
    Error::Data(format!(
        "{what}: rendering Lottie animations needs a build with `--features lottie-art` and the system \
         library rlottie (librlottie-dev); scripts/magnets-fast.sh builds one"
    ))
}

/// Builds clips from Lottie files (path inside the crate → bytes), in codepoint order. `index`
/// is [`emoji_index`]. A file that does not render is skipped with a warning and counted; without
/// a renderer the first error is returned.
pub fn build_noto_clips(files: &HashMap<String, Vec<u8>>, index: &HashMap<String, EmojiInfo>, counts: &mut AnimCounts) -> Result<AnimDataset> {
    let mut keep: Vec<(String, &EmojiInfo, &[u8])> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut paths: Vec<&String> = files.keys().collect();
    paths.sort();
    for path in paths {
        let Some(codepoints) = lottie_codepoints(path) else { continue };
        counts.files += 1;
        if has_skin_tone(&codepoints) {
            counts.skin_tone += 1;
            continue;
        }
        let key = codepoint_key(&codepoints);
        match index.get(&key) {
            Some(info) if seen.insert(key) => keep.push((codepoints, info, &files[path])),
            Some(_) => {} // the same emoji again (with and without FE0F)
            None => counts.unmapped += 1,
        }
    }
    counts.listed += keep.len();
    let clips: Vec<Result<Option<Vec<u8>>>> = keep.par_iter().map(|(cp, _, json)| render_clip(json, &format!("{cp}/lottie.json"))).collect();
    let mut ds = AnimDataset::default();
    for ((codepoints, info, _), clip) in keep.iter().zip(clips) {
        match clip {
            Ok(Some(clip)) => {
                ds.push(&clip, info.label, info.short_name.clone(), codepoints.clone());
                counts.animated += 1;
            }
            Ok(None) => counts.single_frame += 1,
            Err(err) if cfg!(feature = "lottie-art") => {
                eprintln!("warning: skipped {err}");
                counts.corrupt += 1;
            }
            Err(err) => return Err(err),
        }
    }
    ds.validate()?;
    Ok(ds)
}

/// `magnets data --anim --source noto`: everything above into `out`; a no-op when `out` already
/// holds a valid clip file (then the counts are empty).
pub fn build_noto(dir: &Path, out: &Path) -> Result<(AnimDataset, AnimCounts)> {
    if let Some(ds) = already_built(out) {
        return Ok((ds, AnimCounts::default()));
    }
    // Refuse before downloading anything that could not be rendered.
    if !cfg!(feature = "lottie-art") {
        return Err(no_renderer("--source noto"));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::Data(format!("cannot create {}: {e}", dir.display())))?;
    let index = emoji_index(dir)?;
    let krate = fetch_crate(&NOTO_CRATE, dir)?;
    eprintln!("reading {}", krate.display());
    let files = read_tar_matching(&krate, |p| lottie_codepoints(p).is_some())?;
    let mut counts = AnimCounts::default();
    let ds = build_noto_clips(&files, &index, &mut counts)?;
    ds.save(out)?;
    Ok((ds, counts))
}
