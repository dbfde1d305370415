//! The iconify emoji sets (`@iconify-json/*`): SVG art of other vendors, mapped to the base
//! emoji of `emoji.json` and rasterised with resvg.
//!
//! Mapping, per icon set (one drawing per emoji and set; the best-ranked match wins, ties by
//! icon name):
//! 0. the set's `chars.json` (codepoint → icon name), where the set ships one;
//! 1. the icon name (or a plain alias of it) equals a known emoji name: the slug of `emoji.json`'s
//!    `name` or `short_names`, or an icon name that Fluent Flat / OpenMoji map by codepoint
//!    (CLDR names, shared by most sets);
//! 2. the same after the flag spellings `flag-for-X` / `flag-for-flag-X` / `X` → `flag-X`;
//! 3. the same after dropping a numbered-variant suffix (`ok-hand-1`, Streamline's variants);
//! 4. the same with the dashes removed on both sides (Firefox OS names: `admissiontickets`).
//!
//! Skin-tone variants never match a base emoji, so they drop out as in the PNG packages.
//! Rendering: each SVG at 64×64 on an opaque white pixmap (so alpha is composited over white),
//! then the same 2×2 box filter as the 64 px PNGs → 32×32, once.

use std::collections::HashMap;

#[cfg(feature = "svg-art")]
use super::IMAGE_SIZE;
use crate::error::{Error, Result};

/// Side of the raster the SVGs are drawn at before the 2×2 box filter (as the 64 px PNGs).
pub const RENDER_SIZE: u32 = 64;

/// One icon set, as read from `package/icons.json` (+ `chars.json`).
#[derive(Debug, Clone, Default)]
pub struct IconSet {
    /// name → SVG body and its view box (left, top, width, height).
    pub icons: HashMap<String, Icon>,
    /// alias name → parent icon name (only plain aliases: flipped or rotated ones are skipped).
    pub aliases: HashMap<String, String>,
    /// codepoint sequence (lower-case hex, `-`-joined, as in `chars.json`) → icon name.
    pub chars: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Icon {
    pub body: String,
    pub view_box: [f64; 4],
}

impl IconSet {
    /// Parses `icons.json` (and `chars.json`, when the set has one). `file` names the package.
    pub fn parse(icons_json: &[u8], chars_json: Option<&[u8]>, file: &str) -> Result<Self> {
        let v: serde_json::Value =
            serde_json::from_slice(icons_json).map_err(|e| Error::Data(format!("{file}: icons.json is not valid JSON: {e}")))?;
        let num = |o: &serde_json::Value, k: &str, d: f64| o.get(k).and_then(|x| x.as_f64()).unwrap_or(d);
        let (w, h) = (num(&v, "width", 16.0), num(&v, "height", 16.0));
        let (l, t) = (num(&v, "left", 0.0), num(&v, "top", 0.0));
        let icons_v = v
            .get("icons")
            .and_then(|x| x.as_object())
            .ok_or_else(|| Error::Data(format!("{file}: icons.json has no `icons` object")))?;
        let mut icons = HashMap::new();
        for (name, icon) in icons_v {
            let body = icon
                .get("body")
                .and_then(|b| b.as_str())
                .ok_or_else(|| Error::Data(format!("{file}: icon `{name}` has no string `body`")))?;
            let view_box = [num(icon, "left", l), num(icon, "top", t), num(icon, "width", w), num(icon, "height", h)];
            icons.insert(name.clone(), Icon { body: body.to_string(), view_box });
        }
        let mut aliases = HashMap::new();
        if let Some(a) = v.get("aliases").and_then(|x| x.as_object()) {
            for (name, al) in a {
                let Some(o) = al.as_object() else { continue };
                if let (1, Some(p)) = (o.len(), o.get("parent").and_then(|p| p.as_str())) {
                    if icons.contains_key(p) {
                        aliases.insert(name.clone(), p.to_string());
                    }
                }
            }
        }
        let chars = match chars_json {
            Some(b) => serde_json::from_slice::<HashMap<String, String>>(b)
                .map_err(|e| Error::Data(format!("{file}: chars.json is not a string→string map: {e}")))?,
            None => HashMap::new(),
        };
        if icons.is_empty() {
            return Err(Error::Data(format!("{file}: icons.json holds no icons")));
        }
        Ok(IconSet { icons, aliases, chars })
    }

    /// A standalone SVG document for one icon.
    pub fn svg(&self, name: &str) -> Option<String> {
        let i = self.icons.get(name)?;
        let [l, t, w, h] = i.view_box;
        Some(format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="{l} {t} {w} {h}" width="{w}" height="{h}">{}</svg>"#,
            i.body
        ))
    }
}

/// Codepoint sequence in a comparable form: lower-case hex, variation selector FE0F dropped.
pub fn codepoint_key(seq: &str) -> String {
    seq.to_ascii_lowercase().split('-').filter(|p| !p.is_empty() && *p != "fe0f").collect::<Vec<_>>().join("-")
}

/// Lower-case, runs of anything but a–z / 0–9 become one `-` (how iconify spells CLDR names).
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// What icon names can be matched against: emoji names and codepoints → `short_name`.
#[derive(Debug, Default)]
pub struct NameTable {
    by_codepoint: HashMap<String, String>,
    by_name: HashMap<String, String>,
    by_compact: HashMap<String, String>,
}

impl NameTable {
    /// From the base emoji: `(short_name, unified codepoints, other codepoint spellings, names)`.
    pub fn new<'a>(emoji: impl IntoIterator<Item = (&'a str, Vec<&'a str>, Vec<&'a str>)>) -> Self {
        let mut t = NameTable::default();
        for (short, codepoints, names) in emoji {
            for c in codepoints {
                t.by_codepoint.entry(codepoint_key(c)).or_insert_with(|| short.to_string());
            }
            for n in names {
                t.add_name(&slug(n), short);
            }
        }
        t
    }

    fn add_name(&mut self, name: &str, short: &str) {
        if name.is_empty() {
            return;
        }
        self.by_name.entry(name.to_string()).or_insert_with(|| short.to_string());
        self.by_compact.entry(name.replace('-', "")).or_insert_with(|| short.to_string());
    }

    /// Learns the icon names of a set with `chars.json` (their CLDR names name other sets' icons).
    pub fn learn_names(&mut self, set: &IconSet) {
        let mut pairs: Vec<(&String, &String)> = set.chars.iter().collect();
        pairs.sort();
        for (cp, name) in pairs {
            if let Some(short) = self.by_codepoint.get(&codepoint_key(cp)).cloned() {
                self.add_name(name, &short);
            }
        }
    }

    pub fn short_name_of_codepoint(&self, seq: &str) -> Option<&str> {
        self.by_codepoint.get(&codepoint_key(seq)).map(String::as_str)
    }

    /// The best match of one icon name: `(rank, short_name)` (ranks in the module docs).
    pub fn match_name(&self, name: &str) -> Option<(u8, &str)> {
        let numbered = name.rsplit_once('-').filter(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        let mut cands: Vec<(u8, String)> = Vec::new();
        let mut add_stem = |stem: &str, base_rank: u8| {
            cands.push((base_rank, stem.to_string()));
            let flag = stem.strip_prefix("flag-for-flag-").or_else(|| stem.strip_prefix("flag-for-"));
            match flag {
                Some(rest) => cands.push((base_rank + 1, format!("flag-{rest}"))),
                None => cands.push((base_rank + 1, format!("flag-{stem}"))),
            }
        };
        add_stem(name, 1);
        if let Some((stem, _)) = numbered {
            add_stem(stem, 3);
        }
        for (r, c) in &cands {
            if let Some(s) = self.by_name.get(c) {
                return Some(((*r).min(3), s));
            }
        }
        cands.iter().find_map(|(_, c)| self.by_compact.get(&c.replace('-', "")).map(|s| (4, s.as_str())))
    }
}

/// `short_name` → icon name for one set (see the module docs for the rules).
pub fn map_icons(set: &IconSet, table: &NameTable) -> HashMap<String, String> {
    let mut best: HashMap<String, (u8, String)> = HashMap::new();
    let mut offer = |short: &str, rank: u8, icon: &str| {
        let e = best.entry(short.to_string()).or_insert_with(|| (rank, icon.to_string()));
        if (rank, icon) < (e.0, e.1.as_str()) {
            *e = (rank, icon.to_string());
        }
    };
    for (cp, icon) in &set.chars {
        if let (Some(short), true) = (table.short_name_of_codepoint(cp), set.icons.contains_key(icon)) {
            offer(short, 0, icon);
        }
    }
    for name in set.icons.keys().chain(set.aliases.keys()) {
        let icon = set.aliases.get(name).unwrap_or(name);
        if let Some((rank, short)) = table.match_name(name) {
            offer(short, rank, icon);
        }
    }
    best.into_iter().map(|(k, (_, v))| (k, v)).collect()
}

/// Without the `svg-art` feature: a clear error (the default build has no SVG renderer).
#[cfg(not(feature = "svg-art"))]
pub fn render_svg_32(_svg: &str, file: &str) -> Result<Vec<u8>> {
    Err(Error::Data(format!(
        "{file}: rendering SVG art needs a build with `--features svg-art` (scripts/instrument.sh builds one)"
    )))
}

/// Renders an SVG document to 32×32 RGB (HWC u8): drawn at 64×64 over white, 2×2 box filter.
/// A non-square view box is fitted and centred. `file` names the icon in errors.
#[cfg(feature = "svg-art")]
pub fn render_svg_32(svg: &str, file: &str) -> Result<Vec<u8>> {
    use resvg::{tiny_skia, usvg};
    let tree = usvg::Tree::from_str(svg, &usvg::Options::default()).map_err(|e| Error::Data(format!("{file}: cannot parse SVG: {e}")))?;
    let mut pixmap = tiny_skia::Pixmap::new(RENDER_SIZE, RENDER_SIZE).expect("non-zero size");
    pixmap.fill(tiny_skia::Color::WHITE);
    let size = tree.size();
    let s = RENDER_SIZE as f32;
    let scale = (s / size.width()).min(s / size.height());
    let (dx, dy) = ((s - size.width() * scale) / 2.0, (s - size.height() * scale) / 2.0);
    resvg::render(&tree, tiny_skia::Transform::from_row(scale, 0.0, 0.0, scale, dx, dy), &mut pixmap.as_mut());
    // The pixmap is opaque everywhere (white underneath), so premultiplied RGB is plain RGB.
    let raw = pixmap.data();
    let f = RENDER_SIZE as usize / IMAGE_SIZE;
    let mut out = vec![0u8; IMAGE_SIZE * IMAGE_SIZE * 3];
    for y in 0..IMAGE_SIZE {
        for x in 0..IMAGE_SIZE {
            for c in 0..3 {
                let mut acc = 0u32;
                for dy in 0..f {
                    for dx in 0..f {
                        acc += raw[((y * f + dy) * RENDER_SIZE as usize + x * f + dx) * 4 + c] as u32;
                    }
                }
                out[(y * IMAGE_SIZE + x) * 3 + c] = ((acc as f32) / (f * f) as f32).round() as u8;
            }
        }
    }
    Ok(out)
}
