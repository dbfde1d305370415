//! Building the dataset: fetch (npm pack) → verify (SHA-256) → read tarball → decode and
//! downscale PNGs → label and split. Every step names the file it failed on.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::iconify::{IconSet, NameTable, map_icons, render_svg_32};
use super::{CATEGORIES, EmojiDataset, IMAGE_BYTES, IMAGE_SIZE, Package, Split, split_of};
use crate::error::{Error, Result};

/// One base emoji of `emoji.json` that we keep.
#[derive(Debug, Clone, PartialEq)]
pub struct EmojiEntry {
    pub short_name: String,
    /// PNG file name under `img/<vendor>/64/`.
    pub image: String,
    pub label: u8,
    pub sort_order: i64,
    /// Vendors with art for it (`has_img_<vendor>`).
    pub vendors: Vec<String>,
    /// Codepoint sequences (`unified`, `non_qualified`) and names (`name`, `short_names`), for
    /// matching the iconify sets; empty when `emoji.json` lacks them.
    pub codepoints: Vec<String>,
    pub names: Vec<String>,
}

/// Parses `emoji.json`: keeps base entries of the 9 categories (skin-tone variants, which live
/// under `skin_variations`, are not read). `file` names the file in errors.
pub fn parse_emoji_json(bytes: &[u8], file: &str) -> Result<Vec<EmojiEntry>> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| Error::Data(format!("{file}: not valid JSON: {e}")))?;
    let arr = v.as_array().ok_or_else(|| Error::Data(format!("{file}: expected a JSON array of emoji")))?;
    let mut out = Vec::new();
    for (i, e) in arr.iter().enumerate() {
        let field = |k: &str| {
            e.get(k)
                .and_then(|x| x.as_str())
                .ok_or_else(|| Error::Data(format!("{file}: entry {i} has no string field `{k}`")))
        };
        let category = field("category")?;
        let Some(label) = CATEGORIES.iter().position(|c| *c == category) else {
            if category == "Component" {
                continue;
            }
            return Err(Error::Data(format!("{file}: entry {i} has unknown category `{category}`")));
        };
        let vendors = e
            .as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, v)| k.starts_with("has_img_") && v.as_bool() == Some(true))
                    .map(|(k, _)| k["has_img_".len()..].to_string())
                    .collect()
            })
            .unwrap_or_default();
        out.push(EmojiEntry {
            short_name: field("short_name")?.to_string(),
            image: field("image")?.to_string(),
            label: label as u8,
            sort_order: e.get("sort_order").and_then(|x| x.as_i64()).unwrap_or(i as i64),
            vendors,
            codepoints: ["unified", "non_qualified"].iter().filter_map(|k| e.get(*k)?.as_str().map(str::to_string)).collect(),
            names: e
                .get("name")
                .and_then(|x| x.as_str())
                .into_iter()
                .chain(e.get("short_names").and_then(|x| x.as_array()).into_iter().flatten().filter_map(|x| x.as_str()))
                .map(str::to_string)
                .collect(),
        });
    }
    if out.is_empty() {
        return Err(Error::Data(format!("{file}: no emoji of the 9 categories")));
    }
    out.sort_by_key(|e| e.sort_order);
    Ok(out)
}

/// Decodes a PNG, composites alpha over white and box-filters it down to 32×32 RGB (HWC u8).
/// The side must be a multiple of 32 (64 for the shipped art). `file` names the file in errors.
pub fn decode_png_32(bytes: &[u8], file: &str) -> Result<Vec<u8>> {
    let img = image::load_from_memory_with_format(bytes, image::ImageFormat::Png)
        .map_err(|e| Error::Data(format!("{file}: cannot decode PNG: {e}")))?
        .to_rgba8();
    rgba_to_32(&img, file)
}

/// Composites straight alpha over white and box-filters a square RGBA image whose side is a
/// multiple of 32 down to 32×32 RGB (HWC u8). `file` names the image in errors.
pub fn rgba_to_32(img: &image::RgbaImage, file: &str) -> Result<Vec<u8>> {
    let (w, h) = img.dimensions();
    if w != h || w == 0 || w as usize % IMAGE_SIZE != 0 {
        return Err(Error::Data(format!("{file}: image is {w}×{h}, expected a square multiple of {IMAGE_SIZE}")));
    }
    let f = w as usize / IMAGE_SIZE;
    let raw = img.as_raw();
    let mut out = vec![0u8; IMAGE_BYTES];
    for y in 0..IMAGE_SIZE {
        for x in 0..IMAGE_SIZE {
            let mut acc = [0f32; 3];
            for dy in 0..f {
                for dx in 0..f {
                    let p = ((y * f + dy) * w as usize + x * f + dx) * 4;
                    let a = raw[p + 3] as f32 / 255.0;
                    for c in 0..3 {
                        // Straight (non-premultiplied) alpha over a white background.
                        acc[c] += raw[p + c] as f32 * a + 255.0 * (1.0 - a);
                    }
                }
            }
            for c in 0..3 {
                out[(y * IMAGE_SIZE + x) * 3 + c] = (acc[c] / (f * f) as f32).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Ok(out)
}

/// The parts of a package tarball we need: `emoji.json` and the 64 px PNGs by file name.
pub struct PackageFiles {
    pub emoji_json: Vec<u8>,
    pub pngs: HashMap<String, Vec<u8>>,
}

/// Reads `package/emoji.json` and `package/img/<vendor>/64/*.png` from a `.tgz` in one pass.
pub fn read_tarball(path: &Path, vendor: &str) -> Result<PackageFiles> {
    let name = path.display().to_string();
    let prefix = format!("package/img/{vendor}/64/");
    let json = "package/emoji.json";
    let mut files = read_tar_matching(path, |p| p == json || (p.starts_with(&prefix) && p.ends_with(".png")))?;
    let emoji_json = files.remove(json).ok_or_else(|| Error::Data(format!("{name}: no {json} inside")))?;
    let pngs: HashMap<String, Vec<u8>> = files.into_iter().map(|(p, b)| (p[prefix.len()..].to_string(), b)).collect();
    if pngs.is_empty() {
        return Err(Error::Data(format!("{name}: no PNGs under {prefix}")));
    }
    Ok(PackageFiles { emoji_json, pngs })
}

/// Builds the dataset from already-read package files (one per vendor, in order).
pub fn build_dataset(packages: &[(&str, PackageFiles)], progress: bool) -> Result<EmojiDataset> {
    let mut ds = EmojiDataset { vendors: packages.iter().map(|(v, _)| v.to_string()).collect(), ..Default::default() };
    for (vi, (vendor, files)) in packages.iter().enumerate() {
        let entries = parse_emoji_json(&files.emoji_json, &format!("{vendor}: package/emoji.json"))?;
        let keep: Vec<&EmojiEntry> = entries.iter().filter(|e| e.vendors.iter().any(|v| v == vendor)).collect();
        let bar = if progress { ProgressBar::new(keep.len() as u64) } else { ProgressBar::hidden() };
        bar.set_style(
            ProgressStyle::with_template("{msg:>8} [{bar:30}] {pos}/{len} {elapsed}").expect("valid template").progress_chars("=> "),
        );
        bar.set_message(vendor.to_string());
        let images: Vec<Result<Vec<u8>>> = keep
            .par_iter()
            .map(|e| {
                let file = format!("package/img/{vendor}/64/{}", e.image);
                let bytes = files
                    .pngs
                    .get(&e.image)
                    .ok_or_else(|| Error::Data(format!("{vendor}: {file} is listed in emoji.json but missing")))?;
                let img = decode_png_32(bytes, &format!("{vendor}: {file}"));
                bar.inc(1);
                img
            })
            .collect();
        bar.finish();
        for (e, img) in keep.iter().zip(images) {
            ds.images.extend_from_slice(&img?);
            ds.labels.push(e.label);
            ds.split.push((split_of(&e.short_name) == Split::HeldOut) as u8);
            ds.vendor.push(vi as u8);
            ds.names.push(e.short_name.clone());
        }
    }
    ds.validate()?;
    Ok(ds)
}

/// Makes sure `dir/<tarball>` exists and matches the pinned hash, running `npm pack` if needed.
pub fn fetch_package(pkg: &Package, dir: &Path) -> Result<PathBuf> {
    let path = dir.join(pkg.tarball_name());
    if !path.exists() {
        let spec = format!("{}@{}", pkg.npm_name, pkg.version);
        eprintln!("npm pack {spec} …");
        let out = Command::new("npm")
            .args(["pack", &spec, "--silent"])
            .current_dir(dir)
            .output()
            .map_err(|e| Error::Data(format!("cannot run `npm` ({e}); install Node.js/npm to fetch the emoji art")))?;
        if !out.status.success() || !path.exists() {
            return Err(Error::Data(format!("`npm pack {spec}` failed (is the npm registry reachable?): {}", stderr_tail(&out.stderr))));
        }
    }
    check_pinned(path, pkg.sha256)
}

/// The last lines of a failed command's stderr, on one line.
fn stderr_tail(stderr: &[u8]) -> String {
    let err = String::from_utf8_lossy(stderr);
    let tail: Vec<&str> = err.lines().rev().take(6).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// `path` when its SHA-256 is the pinned one; else an error naming it.
fn check_pinned(path: PathBuf, sha256: &str) -> Result<PathBuf> {
    let got = super::sha256_file(&path)?;
    if got != sha256 {
        return Err(Error::Data(format!(
            "{} has SHA-256 {got}, expected {sha256} (delete it and re-run `magnets data`)",
            path.display()
        )));
    }
    Ok(path)
}

/// A pinned crates.io crate used as a data package (its `.crate` file is a `.tar.gz`).
pub struct CratePackage {
    pub name: &'static str,
    pub version: &'static str,
    /// SHA-256 of the `.crate` file (what `Cargo.lock` records as its checksum).
    pub sha256: &'static str,
}

impl CratePackage {
    pub fn file_name(&self) -> String {
        format!("{}-{}.crate", self.name, self.version)
    }
}

/// Makes sure `dir/<name>-<version>.crate` exists and matches the pinned hash: if missing, cargo
/// fetches it (a throwaway manifest under `dir` that depends on exactly that version; cargo
/// checks the registry's checksum too) and it is copied out of cargo's download cache.
pub fn fetch_crate(pkg: &CratePackage, dir: &Path) -> Result<PathBuf> {
    let path = dir.join(pkg.file_name());
    if !path.exists() {
        let fetch_dir = dir.join("crate-fetch");
        let manifest = fetch_dir.join("Cargo.toml");
        let io = |what: &Path, e: std::io::Error| Error::Data(format!("cannot write {}: {e}", what.display()));
        std::fs::create_dir_all(&fetch_dir).map_err(|e| io(&fetch_dir, e))?;
        // `[workspace]`: its own root, whatever manifest lies above `dir`.
        let toml = format!(
            "[package]\nname = \"magnets-data-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n[lib]\npath = \"lib.rs\"\n\n[dependencies]\n{} = \"={}\"\n\n[workspace]\n",
            pkg.name, pkg.version
        );
        std::fs::write(&manifest, toml).map_err(|e| io(&manifest, e))?;
        std::fs::write(fetch_dir.join("lib.rs"), "").map_err(|e| io(&fetch_dir, e))?;
        eprintln!("cargo fetch {}@{} …", pkg.name, pkg.version);
        let out = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .arg("fetch")
            .arg("--manifest-path")
            .arg(&manifest)
            .output()
            .map_err(|e| Error::Data(format!("cannot run `cargo` ({e}); it fetches the {} crate", pkg.name)))?;
        if !out.status.success() {
            return Err(Error::Data(format!(
                "`cargo fetch` of {}@{} failed (is the crates registry reachable?): {}",
                pkg.name,
                pkg.version,
                stderr_tail(&out.stderr)
            )));
        }
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
            .ok_or_else(|| Error::Data("neither CARGO_HOME nor HOME is set: cannot find cargo's download cache".into()))?;
        let cache = cargo_home.join("registry").join("cache");
        let found = std::fs::read_dir(&cache)
            .map_err(|e| Error::Data(format!("cannot read cargo's download cache {}: {e}", cache.display())))?
            .filter_map(|d| d.ok())
            .map(|d| d.path().join(pkg.file_name()))
            .find(|p| p.exists())
            .ok_or_else(|| Error::Data(format!("`cargo fetch` ran but {} is not under {}", pkg.file_name(), cache.display())))?;
        std::fs::copy(&found, &path).map_err(|e| Error::Data(format!("cannot copy {} to {}: {e}", found.display(), path.display())))?;
    }
    check_pinned(path, pkg.sha256)
}

/// The two emoji-datasource packages (PNG art + emoji.json), fetched into `dir` and read.
fn fetch_base_packages(dir: &Path) -> Result<Vec<(&'static str, PackageFiles)>> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Data(format!("cannot create {}: {e}", dir.display())))?;
    let mut packages = Vec::new();
    for pkg in &super::PACKAGES {
        let tgz = fetch_package(pkg, dir)?;
        eprintln!("reading {}", tgz.display());
        packages.push((pkg.vendor, read_tarball(&tgz, pkg.vendor)?));
    }
    Ok(packages)
}

/// `magnets data`: everything above; a no-op when `out` already holds a valid dataset.
pub fn build(dir: &Path, out: &Path) -> Result<EmojiDataset> {
    if out.exists() {
        if let Ok(ds) = EmojiDataset::load(out) {
            eprintln!("{} already present ({} images); nothing to do", out.display(), ds.len());
            return Ok(ds);
        }
        eprintln!("{} is unreadable; rebuilding it", out.display());
    }
    let packages = fetch_base_packages(dir)?;
    let ds = build_dataset(&packages, true)?;
    ds.save(out)?;
    Ok(ds)
}

/// Reads the named files of a `.tgz` (paths inside the archive) in one pass; missing ones are
/// simply absent from the map.
pub fn read_tar_files(path: &Path, wanted: &[&str]) -> Result<HashMap<String, Vec<u8>>> {
    read_tar_matching(path, |p| wanted.contains(&p))
}

/// Reads every file of a `.tgz` whose path inside the archive passes `keep`, in one pass.
pub fn read_tar_matching(path: &Path, keep: impl Fn(&str) -> bool) -> Result<HashMap<String, Vec<u8>>> {
    let name = path.display().to_string();
    let f = std::fs::File::open(path).map_err(|e| Error::Data(format!("cannot open {name}: {e}")))?;
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut out = HashMap::new();
    let entries = ar.entries().map_err(|e| Error::Data(format!("{name}: not a tar.gz archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| Error::Data(format!("{name}: corrupt archive: {e}")))?;
        let p = entry.path().map_err(|e| Error::Data(format!("{name}: bad entry path: {e}")))?.to_string_lossy().into_owned();
        if keep(&p) {
            let mut buf = Vec::new();
            entry.read_to_end(&mut buf).map_err(|e| Error::Data(format!("{name}: cannot read {p}: {e}")))?;
            out.insert(p, buf);
        }
    }
    Ok(out)
}

/// Reads one iconify package (`package/icons.json`, optional `package/chars.json`).
pub fn read_icon_set(path: &Path) -> Result<IconSet> {
    let (icons, chars) = ("package/icons.json", "package/chars.json");
    let mut files = read_tar_files(path, &[icons, chars])?;
    let name = path.display().to_string();
    let icons_json = files.remove(icons).ok_or_else(|| Error::Data(format!("{name}: no {icons} inside")))?;
    IconSet::parse(&icons_json, files.get(chars).map(Vec::as_slice), &name)
}

/// The name table of the base emoji of `emoji.json`, plus the CLDR icon names of every set
/// that maps icons by codepoint.
pub fn name_table(entries: &[EmojiEntry], sets: &[&IconSet]) -> NameTable {
    let mut t = NameTable::new(entries.iter().map(|e| {
        (e.short_name.as_str(), e.codepoints.iter().map(String::as_str).collect(), e.names.iter().map(String::as_str).collect())
    }));
    for s in sets {
        t.learn_names(s);
    }
    t
}

/// Appends one icon set to `ds` as vendor `vendor`: every base emoji it draws (in `emoji.json`
/// order), rendered to 32×32. Returns how many images it added.
pub fn add_icon_set(ds: &mut EmojiDataset, entries: &[EmojiEntry], set: &IconSet, table: &NameTable, vendor: &str, progress: bool) -> Result<usize> {
    let mapped = map_icons(set, table);
    let keep: Vec<(&EmojiEntry, &String)> = entries.iter().filter_map(|e| mapped.get(&e.short_name).map(|icon| (e, icon))).collect();
    let bar = if progress { ProgressBar::new(keep.len() as u64) } else { ProgressBar::hidden() };
    bar.set_style(ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} {elapsed}").expect("valid template").progress_chars("=> "));
    bar.set_message(vendor.to_string());
    let images: Vec<Result<Vec<u8>>> = keep
        .par_iter()
        .map(|(_, icon)| {
            let svg = set.svg(icon).expect("mapped icons exist");
            let img = render_svg_32(&svg, &format!("{vendor}: icon `{icon}`"));
            bar.inc(1);
            img
        })
        .collect();
    bar.finish();
    let vi = match ds.vendors.iter().position(|v| v == vendor) {
        Some(i) => i,
        None => {
            ds.vendors.push(vendor.to_string());
            ds.vendors.len() - 1
        }
    };
    if vi > u8::MAX as usize {
        return Err(Error::Data("more than 256 vendors".into()));
    }
    for ((e, _), img) in keep.iter().zip(images) {
        ds.images.extend_from_slice(&img?);
        ds.labels.push(e.label);
        ds.split.push((split_of(&e.short_name) == Split::HeldOut) as u8);
        ds.vendor.push(vi as u8);
        ds.names.push(e.short_name.clone());
    }
    Ok(keep.len())
}

/// `magnets data --all-art`: the PNG vendors plus [`super::ICONIFY_PACKAGES`] into `out`, and
/// [`super::STYLE_TEST_PACKAGE`] alone into `style_out`. Both are rebuilt only when missing.
pub fn build_all_art(dir: &Path, out: &Path, style_out: &Path) -> Result<(EmojiDataset, EmojiDataset)> {
    let present = |p: &Path| p.exists().then(|| EmojiDataset::load(p).ok()).flatten();
    if let (Some(a), Some(b)) = (present(out), present(style_out)) {
        eprintln!("{} and {} already present; nothing to do", out.display(), style_out.display());
        return Ok((a, b));
    }
    let packages = fetch_base_packages(dir)?;
    let entries = parse_emoji_json(&packages[0].1.emoji_json, &format!("{}: package/emoji.json", packages[0].0))?;
    let mut ds = build_dataset(&packages, true)?;
    drop(packages);
    let mut sets = Vec::new();
    for pkg in super::ICONIFY_PACKAGES.iter().chain([&super::STYLE_TEST_PACKAGE]) {
        let tgz = fetch_package(pkg, dir)?;
        eprintln!("reading {}", tgz.display());
        sets.push((pkg.vendor, read_icon_set(&tgz)?));
    }
    let table = name_table(&entries, &sets.iter().map(|(_, s)| s).collect::<Vec<_>>());
    let (style_vendor, style_set) = sets.pop().expect("the style-test set was pushed last");
    for (vendor, set) in &sets {
        add_icon_set(&mut ds, &entries, set, &table, vendor, true)?;
    }
    let mut style = EmojiDataset::default();
    add_icon_set(&mut style, &entries, &style_set, &table, style_vendor, true)?;
    ds.validate()?;
    ds.save(out)?;
    style.save(style_out)?;
    Ok((ds, style))
}
