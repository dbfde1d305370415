//! `magnets data --anim`: clips of Microsoft's animated Fluent emoji (DESIGN §5, video) for frame
//! prediction.
//!
//! Pipeline: `npm pack` the four pinned `@lobehub/fluent-emoji-anim-*` packages, check their
//! SHA-256, read `package/assets/<codepoints>.webp`, keep only the emoji of the MIT list
//! ([`MIT_LIST`], made by `scripts/anim-mit-list.mjs` from microsoft/fluentui-emoji-animated:
//! the packages hold more files than Microsoft licenses), drop skin-tone variants, decode each
//! animated WebP with frame compositing, pick [`FRAMES`] frames evenly spaced in time over the
//! whole loop ([`pick_frames`]), composite over white and box-filter 256→32 (as the image data).
//!
//! - **Labels**: the metadata `group` of the MIT list, one of the 9 [`CATEGORIES`].
//! - **Split**: [`split_of`] of the emoji's `short_name` in `emoji.json` (the twitter package), so
//!   an emoji is held out here iff it is held out in the image data; the CLDR name when
//!   `emoji.json` lacks the codepoint.
//! - **Bad input**: a `.webp` that does not decode, or has one frame, is skipped and counted.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use image::AnimationDecoder;
use rayon::prelude::*;

use super::iconify::codepoint_key;
use super::pipeline::{fetch_package, parse_emoji_json, read_tar_files, read_tar_matching, rgba_to_32};
use super::{CATEGORIES, IMAGE_BYTES, IMAGE_SIZE, Package, Split, split_of};
use crate::error::{Error, Result};

/// Frames per clip.
pub const FRAMES: usize = 8;
/// Bytes per clip: `[FRAMES, 32, 32, 3]` u8.
pub const CLIP_BYTES: usize = FRAMES * IMAGE_BYTES;
/// Default location of the clip file.
pub const DEFAULT_ANIM_DATASET: &str = "data/anim32.safetensors";
/// The licence filter (see the module docs).
pub const MIT_LIST: &str = "models/anim/fluent-animated-mit.json";
/// A clip whose [`clip_motion`] is below this (mean |Δ| in 0..255 levels) barely moves.
pub const STILL_THRESHOLD: f32 = 1.0;
const METADATA_KEY: &str = "magnets.anim";

const fn anim_package(npm_name: &'static str, sha256: &'static str) -> Package {
    Package {
        npm_name,
        version: "1.0.0",
        vendor: "fluent-anim",
        sha256,
        credit: "Fluent Emoji animations © Microsoft Corporation",
        licence: "MIT",
    }
}

/// The animated WebP packages, pinned like [`super::PACKAGES`].
pub const ANIM_PACKAGES: [Package; 4] = [
    anim_package("@lobehub/fluent-emoji-anim-1", "4c03ac178c1eabf2e2a16dd498f3cc2b92dc30ec3466ae38fdc497d4774c99ea"),
    anim_package("@lobehub/fluent-emoji-anim-2", "e431da8172e394036c330faa77648d6fbbae1fd3b0be95637c4497c9075019c0"),
    anim_package("@lobehub/fluent-emoji-anim-3", "3624d0c34c819c1794b74ccf6ae9034adff7c4cb6318dd2a645145f0196feb43"),
    anim_package("@lobehub/fluent-emoji-anim-4", "3d4c08f1e321f70808ef4996aba0ab575a9d97b6c56ffffc92cf6161a7836aa3"),
];

/// Which frames make a clip: the frame on screen at times `k·T/f`, `k = 0..f`, where `T` is the
/// loop's length (sum of the frame delays in ms). With equal delays that is frame `⌊k·n/f⌋`, so
/// loops shorter than `f` frames repeat frames (the clip still spans the loop once). `None` for
/// fewer than 2 frames: not an animation. Zero total delay counts every frame as equally long.
pub fn pick_frames(delays_ms: &[u32], f: usize) -> Option<Vec<usize>> {
    let n = delays_ms.len();
    if n < 2 {
        return None;
    }
    let delays: Vec<u64> = if delays_ms.iter().all(|&d| d == 0) { vec![1; n] } else { delays_ms.iter().map(|&d| d as u64).collect() };
    let total: u64 = delays.iter().sum();
    let mut starts = Vec::with_capacity(n);
    let mut t = 0;
    for d in &delays {
        starts.push(t);
        t += d;
    }
    // The last frame that has started by time k·T/f (integer arithmetic: exact for equal delays).
    Some((0..f).map(|k| starts.partition_point(|&s| s * f as u64 <= k as u64 * total) - 1).collect())
}

/// Whether a codepoint sequence (`1f44b-1f3fb`, any case, `-` or space separated) holds a
/// skin-tone modifier (U+1F3FB..U+1F3FF).
pub fn has_skin_tone(seq: &str) -> bool {
    seq.split(['-', ' ']).any(|p| matches!(u32::from_str_radix(p, 16), Ok(0x1f3fb..=0x1f3ff)))
}

/// One emoji of the MIT list.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct MitEmoji {
    pub unicode: String,
    pub group: String,
    pub cldr: String,
}

#[derive(serde::Deserialize)]
struct MitList {
    emoji: Vec<MitEmoji>,
}

/// Parses the MIT list; `file` names it in errors. Every group must be one of [`CATEGORIES`].
pub fn parse_mit_list(bytes: &[u8], file: &str) -> Result<Vec<MitEmoji>> {
    let l: MitList = serde_json::from_slice(bytes).map_err(|e| Error::Data(format!("{file}: not an emoji list: {e}")))?;
    if let Some(e) = l.emoji.iter().find(|e| !CATEGORIES.contains(&e.group.as_str())) {
        return Err(Error::Data(format!("{file}: {} has unknown group `{}`", e.unicode, e.group)));
    }
    Ok(l.emoji)
}

/// The `.webp` stem of a tarball path (`package/assets/1f47d.webp` → `1f47d`).
pub fn webp_stem(path: &str) -> Option<&str> {
    path.strip_prefix("package/assets/")?.strip_suffix(".webp").filter(|s| !s.contains('/'))
}

/// Decodes an animated WebP (compositing its frames) into one clip `[FRAMES, 32, 32, 3]`.
/// `Ok(None)` when it has a single frame. `file` names it in errors.
pub fn decode_clip(bytes: &[u8], file: &str) -> Result<Option<Vec<u8>>> {
    let err = |e: image::ImageError| Error::Data(format!("{file}: cannot decode WebP: {e}"));
    let mut dec = image::codecs::webp::WebPDecoder::new(std::io::Cursor::new(bytes)).map_err(err)?;
    if !dec.has_animation() {
        return Ok(None);
    }
    // Transparent canvas, then our own compositing over white (as every other image).
    dec.set_background_color(image::Rgba([0, 0, 0, 0])).map_err(err)?;
    let frames = dec.into_frames().collect_frames().map_err(err)?;
    let delays: Vec<u32> = frames.iter().map(|f| f.delay().numer_denom_ms().0 / f.delay().numer_denom_ms().1.max(1)).collect();
    let Some(picks) = pick_frames(&delays, FRAMES) else { return Ok(None) };
    let mut clip = Vec::with_capacity(CLIP_BYTES);
    for i in picks {
        clip.extend_from_slice(&rgba_to_32(frames[i].buffer(), file)?);
    }
    Ok(Some(clip))
}

/// Mean absolute change between consecutive frames of a clip, in 0..255 levels.
pub fn clip_motion(clip: &[u8]) -> f32 {
    let mut sum = 0u64;
    for k in 1..FRAMES {
        let (a, b) = (&clip[(k - 1) * IMAGE_BYTES..k * IMAGE_BYTES], &clip[k * IMAGE_BYTES..(k + 1) * IMAGE_BYTES]);
        sum += a.iter().zip(b).map(|(&x, &y)| x.abs_diff(y) as u64).sum::<u64>();
    }
    sum as f32 / ((FRAMES - 1) * IMAGE_BYTES) as f32
}

/// The clips in memory: `clips` is `[n, FRAMES, 32, 32, 3]` u8.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AnimDataset {
    pub clips: Vec<u8>,
    /// Category id (index into [`CATEGORIES`]).
    pub labels: Vec<u8>,
    /// 0 = train, 1 = held-out.
    pub split: Vec<u8>,
    /// The key [`split_of`] was taken of (`short_name`, else the CLDR name).
    pub names: Vec<String>,
    /// Codepoints as in the MIT list (`-`-joined lower-case hex).
    pub codepoints: Vec<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Meta {
    categories: Vec<String>,
    frames: usize,
    names: Vec<String>,
    codepoints: Vec<String>,
}

/// What a build saw (printed by the CLI).
#[derive(Debug, Clone, Default)]
pub struct AnimCounts {
    /// Animation files in the packages (`.webp`, or Lottie `.json`).
    pub files: usize,
    /// Of those, not skin-tone variants and on the source's list (first copy of each emoji): the
    /// MIT list for the Fluent clips, `emoji.json` for the Noto ones.
    pub listed: usize,
    /// Of those, animated (2+ frames) and decoded: the clips.
    pub animated: usize,
    pub single_frame: usize,
    /// Not skin-tone variants, but codepoints `emoji.json` does not know (Noto; skipped).
    pub unmapped: usize,
    /// Files that failed to decode (skipped, with a warning each).
    pub corrupt: usize,
    pub skin_tone: usize,
}

impl AnimDataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Clip `i`, [`CLIP_BYTES`] bytes.
    pub fn clip(&self, i: usize) -> &[u8] {
        &self.clips[i * CLIP_BYTES..(i + 1) * CLIP_BYTES]
    }
    /// Appends one clip; its split is [`split_of`] its `name` (the `short_name`).
    pub fn push(&mut self, clip: &[u8], label: u8, name: String, codepoints: String) {
        self.clips.extend_from_slice(clip);
        self.labels.push(label);
        self.split.push((split_of(&name) == Split::HeldOut) as u8);
        self.names.push(name);
        self.codepoints.push(codepoints);
    }
    /// Frame `k` of clip `i`, one 32×32 RGB image.
    pub fn frame(&self, i: usize, k: usize) -> &[u8] {
        &self.clip(i)[k * IMAGE_BYTES..(k + 1) * IMAGE_BYTES]
    }

    pub fn validate(&self) -> Result<()> {
        let n = self.labels.len();
        if self.clips.len() != n * CLIP_BYTES || self.split.len() != n || self.names.len() != n || self.codepoints.len() != n {
            return Err(Error::Data(format!("clip arrays disagree on the clip count ({n} labels)")));
        }
        super::check_labels_and_split(&self.labels, &self.split)
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let n = self.len();
        let meta = Meta {
            categories: CATEGORIES.iter().map(|s| s.to_string()).collect(),
            frames: FRAMES,
            names: self.names.clone(),
            codepoints: self.codepoints.clone(),
        };
        let arrays = [
            ("clips", vec![n, FRAMES, IMAGE_SIZE, IMAGE_SIZE, 3], &self.clips[..]),
            ("labels", vec![n], &self.labels),
            ("split", vec![n], &self.split),
        ];
        super::u8_arrays_to_bytes(&arrays, METADATA_KEY, &meta)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (st, meta): (_, Meta) = super::u8_arrays_from_bytes(bytes, METADATA_KEY)?;
        if meta.categories != CATEGORIES || meta.frames != FRAMES {
            return Err(Error::Data(format!("clip file was built with other categories or {} frames", meta.frames)));
        }
        let ds = AnimDataset {
            clips: super::u8_array(&st, "clips")?,
            labels: super::u8_array(&st, "labels")?,
            split: super::u8_array(&st, "split")?,
            names: meta.names,
            codepoints: meta.codepoints,
        };
        ds.validate()?;
        Ok(ds)
    }

    pub fn load(path: &Path) -> Result<Self> {
        let bytes = crate::files::read_capped(path, 1 << 30)
            .map_err(|e| Error::Data(format!("{} (run `magnets data --anim` first)", e.detail())))?;
        Self::from_bytes(&bytes).map_err(|e| Error::Data(format!("{}: {e}", path.display())))
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        super::write_file_atomic(path, &self.to_bytes()?)
    }
}

/// Builds clips from `.webp` files (tarball path → bytes) of any number of tarballs, in MIT-list
/// order. `short_names` maps a [`codepoint_key`] to its `emoji.json` `short_name` (the split key).
/// A file that does not decode is skipped with a warning and counted.
pub fn build_clips(files: &[(String, Vec<u8>)], mit: &[MitEmoji], short_names: &HashMap<String, String>, counts: &mut AnimCounts) -> AnimDataset {
    let mut by_key: HashMap<String, &[u8]> = HashMap::new();
    for (path, bytes) in files {
        let Some(stem) = webp_stem(path) else { continue };
        counts.files += 1;
        if has_skin_tone(stem) {
            counts.skin_tone += 1;
            continue;
        }
        by_key.entry(codepoint_key(stem)).or_insert(bytes);
    }
    let keep: Vec<(&MitEmoji, &[u8])> = mit
        .iter()
        .filter(|e| !has_skin_tone(&e.unicode))
        .filter_map(|e| by_key.get(&codepoint_key(&e.unicode)).map(|b| (e, *b)))
        .collect();
    counts.listed += keep.len();
    let clips: Vec<Result<Option<Vec<u8>>>> = keep.par_iter().map(|(e, b)| decode_clip(b, &format!("{}.webp", e.unicode))).collect();
    let mut ds = AnimDataset::default();
    for ((e, _), clip) in keep.iter().zip(clips) {
        match clip {
            Ok(Some(clip)) => {
                let name = short_names.get(&codepoint_key(&e.unicode)).cloned().unwrap_or_else(|| e.cldr.clone());
                let label = CATEGORIES.iter().position(|c| *c == e.group).expect("groups are checked on parse") as u8;
                ds.push(&clip, label, name, e.unicode.clone());
                counts.animated += 1;
            }
            Ok(None) => counts.single_frame += 1,
            Err(err) => {
                eprintln!("warning: skipped {err}");
                counts.corrupt += 1;
            }
        }
    }
    ds
}

/// What `emoji.json` says of one emoji: its `short_name` (the split key) and category id.
#[derive(Debug, Clone, PartialEq)]
pub struct EmojiInfo {
    pub short_name: String,
    pub label: u8,
}

/// `emoji.json`'s [`codepoint_key`] → [`EmojiInfo`], from the twitter package in `dir` (fetched if
/// missing).
pub(super) fn emoji_index(dir: &Path) -> Result<HashMap<String, EmojiInfo>> {
    let pkg = &super::PACKAGES[0];
    let tgz = fetch_package(pkg, dir)?;
    let json = "package/emoji.json";
    let files = read_tar_files(&tgz, &[json])?;
    let bytes = files.get(json).ok_or_else(|| Error::Data(format!("{}: no {json} inside", tgz.display())))?;
    let entries = parse_emoji_json(bytes, &format!("{}: {json}", tgz.display()))?;
    Ok(entries
        .iter()
        .flat_map(|e| e.codepoints.iter().map(|c| (codepoint_key(c), EmojiInfo { short_name: e.short_name.clone(), label: e.label })))
        .collect())
}

/// The clip file at `out` when it is already there and valid (then a build has nothing to do).
pub(super) fn already_built(out: &Path) -> Option<AnimDataset> {
    if !out.exists() {
        return None;
    }
    match AnimDataset::load(out) {
        Ok(ds) => {
            eprintln!("{} already present ({} clips); nothing to do", out.display(), ds.len());
            Some(ds)
        }
        Err(_) => {
            eprintln!("{} is unreadable; rebuilding it", out.display());
            None
        }
    }
}

/// `magnets data --anim`: everything above into `out`; a no-op when `out` already holds a valid
/// clip file (then the counts are empty).
pub fn build(dir: &Path, mit_list: &Path, out: &Path) -> Result<(AnimDataset, AnimCounts)> {
    if let Some(ds) = already_built(out) {
        return Ok((ds, AnimCounts::default()));
    }
    let list_bytes = crate::files::read_capped(mit_list, 16 * crate::files::MIB).map_err(|e| Error::Data(e.detail()))?;
    let mit = parse_mit_list(&list_bytes, &mit_list.display().to_string())?;
    let wanted: HashSet<String> = mit.iter().map(|e| codepoint_key(&e.unicode)).collect();
    std::fs::create_dir_all(dir).map_err(|e| Error::Data(format!("cannot create {}: {e}", dir.display())))?;
    let short_names: HashMap<String, String> = emoji_index(dir)?.into_iter().map(|(k, e)| (k, e.short_name)).collect();
    let mut counts = AnimCounts::default();
    let mut ds = AnimDataset::default();
    let mut seen = HashSet::new();
    for pkg in &ANIM_PACKAGES {
        let tgz = fetch_package(pkg, dir)?;
        eprintln!("reading {}", tgz.display());
        // Only the listed files are held in memory; the others are only counted.
        let (all, skin) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
        let files = read_tar_matching(&tgz, |p| {
            let Some(stem) = webp_stem(p) else { return false };
            all.set(all.get() + 1);
            let tone = has_skin_tone(stem);
            skin.set(skin.get() + tone as usize);
            !tone && wanted.contains(&codepoint_key(stem))
        })?;
        counts.files += all.get() - files.len();
        counts.skin_tone += skin.get();
        let mut files: Vec<(String, Vec<u8>)> = files.into_iter().collect();
        files.sort();
        let listed: Vec<MitEmoji> = mit.iter().filter(|e| !seen.contains(&codepoint_key(&e.unicode))).cloned().collect();
        let part = build_clips(&files, &listed, &short_names, &mut counts);
        seen.extend(part.codepoints.iter().map(|c| codepoint_key(c)));
        ds.clips.extend(part.clips);
        ds.labels.extend(part.labels);
        ds.split.extend(part.split);
        ds.names.extend(part.names);
        ds.codepoints.extend(part.codepoints);
    }
    ds.validate()?;
    ds.save(out)?;
    Ok((ds, counts))
}
