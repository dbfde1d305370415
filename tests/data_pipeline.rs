//! The dataset pipeline on a tiny synthetic package built in the test (nothing downloads).

use std::io::Write;

use magnets::data::pipeline::{build_dataset, decode_png_32, parse_emoji_json, read_tarball};
use magnets::data::{CATEGORIES, EmojiDataset, IMAGE_BYTES, Split, split_of};

/// A 64×64 RGBA PNG: left half opaque `rgb`, right half fully transparent.
fn png(rgb: [u8; 3]) -> Vec<u8> {
    let mut img = image::RgbaImage::new(64, 64);
    for (x, _, p) in img.enumerate_pixels_mut() {
        *p = if x < 32 { image::Rgba([rgb[0], rgb[1], rgb[2], 255]) } else { image::Rgba([0, 0, 0, 0]) };
    }
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn emoji_json() -> String {
    serde_json::json!([
        {"short_name": "grin", "image": "a.png", "category": "Smileys & Emotion", "sort_order": 1,
         "has_img_twitter": true, "has_img_google": true},
        {"short_name": "wave", "image": "b.png", "category": "People & Body", "sort_order": 2,
         "has_img_twitter": true, "has_img_google": true,
         "skin_variations": {"1F3FB": {"image": "b-1f3fb.png", "has_img_twitter": true}}},
        {"short_name": "skin-tone-2", "image": "c.png", "category": "Component", "sort_order": 3,
         "has_img_twitter": true, "has_img_google": true},
        {"short_name": "flag-xx", "image": "d.png", "category": "Flags", "sort_order": 4,
         "has_img_twitter": true, "has_img_google": false}
    ])
    .to_string()
}

fn tarball(path: &std::path::Path, vendor: &str, files: &[(&str, Vec<u8>)]) {
    let f = std::fs::File::create(path).unwrap();
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(f, flate2::Compression::fast()));
    let mut add = |name: String, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    };
    add("package/emoji.json".into(), emoji_json().as_bytes());
    for (n, d) in files {
        add(format!("package/img/{vendor}/64/{n}"), d);
    }
    b.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

#[test]
fn png_is_composited_over_white_and_box_filtered() {
    let out = decode_png_32(&png([255, 0, 0]), "x.png").unwrap();
    assert_eq!(out.len(), IMAGE_BYTES);
    assert_eq!(&out[0..3], &[255, 0, 0]); // opaque red stays red
    let right = (5 * 32 + 20) * 3;
    assert_eq!(&out[right..right + 3], &[255, 255, 255]); // transparent → white
}

#[test]
fn corrupt_png_error_names_the_file() {
    let e = decode_png_32(b"\x89PNG garbage", "img/twitter/64/broken.png").unwrap_err().to_string();
    assert!(e.contains("broken.png"), "{e}");
}

#[test]
fn malformed_emoji_json_error_names_the_file() {
    let e = parse_emoji_json(b"{not json", "pkg/emoji.json").unwrap_err().to_string();
    assert!(e.contains("pkg/emoji.json"), "{e}");
    let e = parse_emoji_json(br#"[{"short_name": "a", "image": "a.png"}]"#, "pkg/emoji.json").unwrap_err().to_string();
    assert!(e.contains("pkg/emoji.json") && e.contains("category"), "{e}");
}

#[test]
fn emoji_json_policy_drops_components_and_skin_tones() {
    let e = parse_emoji_json(emoji_json().as_bytes(), "emoji.json").unwrap();
    let names: Vec<_> = e.iter().map(|e| e.short_name.as_str()).collect();
    assert_eq!(names, ["grin", "wave", "flag-xx"]);
    assert_eq!(e[0].label as usize, CATEGORIES.iter().position(|c| *c == "Smileys & Emotion").unwrap());
}

#[test]
fn synthetic_packages_build_a_dataset_that_round_trips() {
    let dir = std::env::temp_dir().join(format!("magnets-data-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = |c: u8| vec![("a.png", png([c, 0, 0])), ("b.png", png([0, c, 0])), ("c.png", png([0, 0, c])), ("d.png", png([c, c, 0]))];
    tarball(&dir.join("t.tgz"), "twitter", &files(200));
    tarball(&dir.join("g.tgz"), "google", &files(100));
    let t = read_tarball(&dir.join("t.tgz"), "twitter").unwrap();
    let g = read_tarball(&dir.join("g.tgz"), "google").unwrap();
    let ds = build_dataset(&[("twitter", t), ("google", g)], false).unwrap();
    // twitter: grin, wave, flag-xx; google: grin, wave (no google flag art).
    assert_eq!(ds.names, ["grin", "wave", "flag-xx", "grin", "wave"]);
    assert_eq!(ds.images.len(), 5 * IMAGE_BYTES);
    assert_eq!(ds.image(0)[0], 200);
    assert_eq!(ds.image(3)[0], 100);
    // Both vendors of one emoji on the same side of the split.
    for i in 0..ds.len() {
        assert_eq!(ds.split[i], (split_of(&ds.names[i]) == Split::HeldOut) as u8);
    }
    let path = dir.join("ds.safetensors");
    ds.save(&path).unwrap();
    assert_eq!(EmojiDataset::load(&path).unwrap(), ds);
    // A missing PNG is reported with its path.
    let mut t = read_tarball(&dir.join("t.tgz"), "twitter").unwrap();
    t.pngs.remove("b.png");
    let e = build_dataset(&[("twitter", t)], false).unwrap_err().to_string();
    assert!(e.contains("b.png"), "{e}");
    // A corrupt tarball names the file.
    std::fs::write(dir.join("bad.tgz"), b"not gzip").unwrap();
    let e = read_tarball(&dir.join("bad.tgz"), "twitter").err().unwrap().to_string();
    assert!(e.contains("bad.tgz"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn split_is_about_ten_percent_and_stable() {
    let held = (0..10_000).filter(|i| split_of(&format!("emoji-{i}")) == Split::HeldOut).count();
    assert!((800..1200).contains(&held), "{held}");
    assert_eq!(split_of("grinning"), split_of("grinning"));
}
