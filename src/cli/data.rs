//! `magnets data`: fetch the emoji art packages with `npm pack`, verify, and build the 32×32
//! dataset file (a no-op when it already exists). `--all-art` adds the iconify SVG sets and
//! writes OpenMoji, the held-out art style, to a file of its own. `--anim` builds the clips of
//! animated emoji instead (`magnets::data::anim`; `--source noto`: `magnets::data::noto_anim`).
//! See `magnets::data`.

use std::path::PathBuf;

use magnets::data::anim::{self, AnimCounts, AnimDataset, DEFAULT_ANIM_DATASET, FRAMES, MIT_LIST, STILL_THRESHOLD};
use magnets::data::noto_anim::{self, DEFAULT_NOTO_DATASET};
use magnets::data::{ALL_ART_DATASET, CATEGORIES, DEFAULT_DATASET, EmojiDataset, IMAGE_SIZE, STYLE_TEST_DATASET, pipeline};

#[derive(clap::Args)]
pub struct Args {
    /// Folder for the downloaded tarballs.
    #[arg(long, default_value = "data")]
    pub dir: PathBuf,
    /// Dataset file to write [default: data/emoji32.safetensors, with --all-art
    /// data/emoji32-all.safetensors, with --anim data/anim32.safetensors, with --anim --source
    /// noto data/anim32-noto.safetensors].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Every open art set: the two PNG packages plus six iconify SVG sets (8 vendors).
    #[arg(long)]
    pub all_art: bool,
    /// With --all-art: where OpenMoji (evaluation only, never trained on) goes.
    #[arg(long, default_value = STYLE_TEST_DATASET)]
    pub style_out: PathBuf,
    /// Write a contact sheet PNG: one row per vendor, the same emoji in every column (with
    /// --anim: one row per clip, its frames in the columns).
    #[arg(long)]
    pub contact_sheet: Option<PathBuf>,
    /// Clips of 8 frames of the animated Fluent emoji (MIT ones only) instead of still images.
    #[arg(long, conflicts_with = "all_art")]
    pub anim: bool,
    /// With --anim: the licence filter, the list of emoji Microsoft publishes under MIT.
    #[arg(long, default_value = MIT_LIST)]
    pub mit_list: PathBuf,
    /// With --anim: whose animations (noto: Google's, Lottie, CC BY 4.0; needs a build with
    /// `--features lottie-art`, e.g. scripts/magnets-fast.sh).
    #[arg(long, value_enum, default_value_t = AnimSource::Fluent, requires = "anim")]
    pub source: AnimSource,
}

/// The animated emoji a clip file is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AnimSource {
    /// Microsoft's animated Fluent emoji (animated WebP, MIT).
    Fluent,
    /// Google's Noto animated emoji (Lottie, CC BY 4.0).
    Noto,
}

pub fn run(a: Args) -> magnets::Result<()> {
    if a.anim {
        return run_anim(&a);
    }
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from(if a.all_art { ALL_ART_DATASET } else { DEFAULT_DATASET }));
    let (ds, style) = if a.all_art {
        let (ds, style) = pipeline::build_all_art(&a.dir, &out, &a.style_out)?;
        (ds, Some(style))
    } else {
        (pipeline::build(&a.dir, &out)?, None)
    };
    print_counts(&ds, style.as_ref())?;
    if let Some(path) = &a.contact_sheet {
        contact_sheet(&ds, style.as_ref(), path)?;
        eprintln!("wrote {}", path.display());
    }
    eprintln!("dataset: {} ({} images, vendors {:?})", out.display(), ds.len(), ds.vendors);
    if let Some(s) = &style {
        eprintln!("held-out art style: {} ({} images)", a.style_out.display(), s.len());
    }
    Ok(())
}

/// Markdown tables: images per category × vendor (train / held-out), then totals.
fn print_counts(ds: &EmojiDataset, style: Option<&EmojiDataset>) -> magnets::Result<()> {
    let mut vendors: Vec<(&EmojiDataset, usize, String)> = (0..ds.vendors.len()).map(|v| (ds, v, ds.vendors[v].clone())).collect();
    if let Some(s) = style {
        vendors.extend((0..s.vendors.len()).map(|v| (s, v, format!("{} (test only)", s.vendors[v]))));
    }
    let count = |d: &EmojiDataset, v: usize, c: usize, sp: u8| {
        (0..d.len()).filter(|&i| d.vendor[i] as usize == v && d.labels[i] as usize == c && d.split[i] == sp).count()
    };
    outln!("| category | {} | total |", vendors.iter().map(|v| v.2.as_str()).collect::<Vec<_>>().join(" | "))?;
    outln!("|---|{}---:|", "---:|".repeat(vendors.len()))?;
    let mut col_tot = vec![[0usize; 2]; vendors.len()];
    for (c, name) in CATEGORIES.iter().enumerate() {
        let mut row = [0usize; 2];
        let cells: Vec<String> = vendors
            .iter()
            .enumerate()
            .map(|(k, (d, v, _))| {
                let (t, h) = (count(d, *v, c, 0), count(d, *v, c, 1));
                col_tot[k][0] += t;
                col_tot[k][1] += h;
                if std::ptr::eq(*d, ds) {
                    row[0] += t;
                    row[1] += h;
                }
                format!("{t} / {h}")
            })
            .collect();
        outln!("| {name} | {} | {} / {} |", cells.join(" | "), row[0], row[1])?;
    }
    let (tr, ho) = ds.split.iter().fold((0, 0), |(t, h), &s| if s == 0 { (t + 1, h) } else { (t, h + 1) });
    let cells: Vec<String> = col_tot.iter().map(|c| format!("**{} / {}**", c[0], c[1])).collect();
    outln!("| total (train / held-out) | {} | **{tr} / {ho}** |", cells.join(" | "))?;
    Ok(())
}

fn run_anim(a: &Args) -> magnets::Result<()> {
    let t0 = std::time::Instant::now();
    let default_out = match a.source {
        AnimSource::Fluent => DEFAULT_ANIM_DATASET,
        AnimSource::Noto => DEFAULT_NOTO_DATASET,
    };
    let out = a.out.clone().unwrap_or_else(|| PathBuf::from(default_out));
    let (ds, counts) = match a.source {
        AnimSource::Fluent => anim::build(&a.dir, &a.mit_list, &out)?,
        AnimSource::Noto => noto_anim::build_noto(&a.dir, &out)?,
    };
    print_anim_counts(&ds, &counts)?;
    if let Some(path) = &a.contact_sheet {
        // 16 clips spread over the file (the source's order), one per row.
        let rows = 16.min(ds.len());
        let cells: Vec<Vec<&[u8]>> =
            (0..rows).map(|r| r * ds.len() / rows).map(|i| (0..FRAMES).map(|k| ds.frame(i, k)).collect()).collect();
        eprintln!("contact sheet rows: {:?}", cells.iter().enumerate().map(|(r, _)| &ds.names[r * ds.len() / rows]).collect::<Vec<_>>());
        write_sheet(path, &cells)?;
        eprintln!("wrote {}", path.display());
    }
    eprintln!("clips: {} ({} clips of {FRAMES} frames) in {:.1}s", out.display(), ds.len(), t0.elapsed().as_secs_f32());
    Ok(())
}

/// The filter counts, clips per category (train / held-out) and how much the clips move.
fn print_anim_counts(ds: &AnimDataset, c: &AnimCounts) -> magnets::Result<()> {
    if c.files > 0 {
        outln!(
            "files: {} animations; skin-tone variants: {}; kept (on the source's list, once each): {}; not in emoji.json: {}; animated clips: {} (single-frame {}, undecodable {})",
            c.files, c.skin_tone, c.listed, c.unmapped, c.animated, c.single_frame, c.corrupt
        )?;
    }
    outln!("| category | clips (train / held-out) |")?;
    outln!("|---|---:|")?;
    for (k, name) in CATEGORIES.iter().enumerate() {
        let n = |sp: u8| (0..ds.len()).filter(|&i| ds.labels[i] as usize == k && ds.split[i] == sp).count();
        outln!("| {name} | {} / {} |", n(0), n(1))?;
    }
    let held = ds.split.iter().filter(|&&s| s == 1).count();
    outln!("| total | **{} / {held}** |", ds.len() - held)?;
    let motion: Vec<f32> = (0..ds.len()).map(|i| anim::clip_motion(ds.clip(i))).collect();
    if !motion.is_empty() {
        let mean = motion.iter().sum::<f32>() / motion.len() as f32;
        let still = motion.iter().filter(|&&m| m < STILL_THRESHOLD).count();
        outln!(
            "motion: mean |frame-to-frame change| {mean:.2} levels (of 255); {still} of {} clips ({:.1}%) below {STILL_THRESHOLD} (barely moving)",
            motion.len(),
            100.0 * still as f32 / motion.len() as f32
        )?;
    }
    Ok(())
}

/// Writes a grid of 32×32 images (`cells[row][col]`), each 2× nearest-upscaled with a 2 px
/// white gap.
fn write_sheet(path: &std::path::Path, cells: &[Vec<&[u8]>]) -> magnets::Result<()> {
    let cols = cells.iter().map(Vec::len).max().unwrap_or(0);
    let (sc, cell) = (2usize, IMAGE_SIZE * 2 + 2);
    let (wd, ht) = (cols * cell, cells.len() * cell);
    let mut sheet = vec![255u8; wd * ht * 3];
    for (r, row) in cells.iter().enumerate() {
        for (c, pix) in row.iter().enumerate() {
            for y in 0..IMAGE_SIZE * sc {
                for x in 0..IMAGE_SIZE * sc {
                    let s = ((y / sc) * IMAGE_SIZE + x / sc) * 3;
                    let o = ((r * cell + y) * wd + c * cell + x) * 3;
                    sheet[o..o + 3].copy_from_slice(&pix[s..s + 3]);
                }
            }
        }
    }
    magnets::data::write_png(path, &sheet, wd as u32, ht as u32)
}

/// One row per vendor (the style-test set last), 24 emoji that every vendor draws, spread over
/// the `emoji.json` order; 2× nearest upscale.
fn contact_sheet(ds: &EmojiDataset, style: Option<&EmojiDataset>, path: &std::path::Path) -> magnets::Result<()> {
    use std::collections::HashMap;
    let mut rows: Vec<HashMap<&str, usize>> = (0..ds.vendors.len()).map(|_| HashMap::new()).collect();
    for i in 0..ds.len() {
        rows[ds.vendor[i] as usize].insert(ds.names[i].as_str(), i);
    }
    let mut sources: Vec<(&EmojiDataset, HashMap<&str, usize>)> = rows.into_iter().map(|r| (ds, r)).collect();
    if let Some(s) = style {
        sources.push((s, (0..s.len()).map(|i| (s.names[i].as_str(), i)).collect()));
    }
    let mut seen = std::collections::HashSet::new();
    let common: Vec<&str> = ds
        .names
        .iter()
        .map(String::as_str)
        .filter(|n| seen.insert(*n) && sources.iter().all(|(_, m)| m.contains_key(n)))
        .collect();
    if common.is_empty() {
        return Err(magnets::Error::Data("no emoji is drawn by every vendor; no contact sheet".into()));
    }
    let cols = 24.min(common.len());
    let picks: Vec<&str> = (0..cols).map(|k| common[k * common.len() / cols]).collect();
    let cells: Vec<Vec<&[u8]>> = sources.iter().map(|(d, m)| picks.iter().map(|name| d.image(m[name])).collect()).collect();
    let order: Vec<String> = sources.iter().map(|(d, m)| d.vendors[d.vendor[*m.values().next().expect("non-empty")] as usize].clone()).collect();
    eprintln!("contact sheet rows: {order:?}; columns: {picks:?}");
    write_sheet(path, &cells)
}
