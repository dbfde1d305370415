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

/// An iconify `icons.json` of four 16×16 icons: a red left half, a green square, a blue square,
/// a yellow square (names chosen to exercise each matching rule).
fn icons_json() -> String {
    let half = |c: &str| format!(r#"<path fill="{c}" d="M0 0h8v16H0z"/>"#);
    let full = |c: &str| format!(r#"<rect width="16" height="16" fill="{c}"/>"#);
    serde_json::json!({
        "prefix": "t", "width": 16, "height": 16,
        "icons": {
            "grinning-face": {"body": half("#ff0000")},
            "waving-hand-1": {"body": full("#00ff00")},
            "waving-hand-2": {"body": full("#0000ff")},
            "flag-for-xx": {"body": full("#ffff00")},
            "unrelated-thing": {"body": full("#000000")},
            "broken": {"body": "<path d=\"M0 0h"}
        },
        "aliases": {"smile-alias": {"parent": "grinning-face"}, "flipped": {"parent": "flag-for-xx", "hFlip": true}}
    })
    .to_string()
}

fn entries_with_names() -> Vec<magnets::data::pipeline::EmojiEntry> {
    let json = serde_json::json!([
        {"short_name": "grinning", "name": "GRINNING FACE", "unified": "1F600", "image": "a.png", "category": "Smileys & Emotion"},
        {"short_name": "wave", "name": "WAVING HAND SIGN", "short_names": ["wave"], "unified": "1F44B", "image": "b.png", "category": "People & Body"},
        {"short_name": "flag-xx", "name": "XX FLAG", "short_names": ["flag-xx"], "unified": "1F1FD-1F1FD", "image": "d.png", "category": "Flags"},
        {"short_name": "heart", "name": "HEAVY BLACK HEART", "unified": "2764-FE0F", "non_qualified": "2764", "image": "h.png", "category": "Smileys & Emotion"}
    ]);
    parse_emoji_json(json.to_string().as_bytes(), "emoji.json").unwrap()
}

/// A set with chars.json: it teaches the name table its CLDR name for 1F44B ("waving-hand").
fn cldr_set() -> magnets::data::iconify::IconSet {
    magnets::data::iconify::IconSet::parse(
        serde_json::json!({"icons": {"waving-hand": {"body": ""}, "red-heart": {"body": ""}}}).to_string().as_bytes(),
        Some(br#"{"1f44b": "waving-hand", "2764-fe0f": "red-heart"}"#),
        "cldr.tgz",
    )
    .unwrap()
}

#[test]
fn iconify_names_and_codepoints_map_to_base_emoji() {
    use magnets::data::iconify::{IconSet, codepoint_key, map_icons, slug};
    assert_eq!(slug("WAVING HAND SIGN"), "waving-hand-sign");
    assert_eq!(slug("Flag: Côte d’Ivoire"), "flag-c-te-d-ivoire");
    assert_eq!(codepoint_key("2764-FE0F"), "2764");
    let entries = entries_with_names();
    let cldr = cldr_set();
    let table = magnets::data::pipeline::name_table(&entries, &[&cldr]);
    let by_chars = map_icons(&cldr, &table);
    assert_eq!(by_chars.get("heart").map(String::as_str), Some("red-heart"));
    let set = IconSet::parse(icons_json().as_bytes(), None, "t.tgz").unwrap();
    let m = map_icons(&set, &table);
    assert_eq!(m.get("grinning").map(String::as_str), Some("grinning-face")); // slug of `name`
    assert_eq!(m.get("wave").map(String::as_str), Some("waving-hand-1")); // numbered variant, lowest first
    assert_eq!(m.get("flag-xx").map(String::as_str), Some("flag-for-xx")); // flag spelling
    assert_eq!(m.len(), 3, "{m:?}"); // unrelated and broken icons match nothing
    // Flipped aliases are not plain drawings of their parent.
    assert!(!set.aliases.contains_key("flipped") && set.aliases.contains_key("smile-alias"));
    // Bad input names the package.
    let e = IconSet::parse(b"{", None, "pkg-1.0.tgz").unwrap_err().to_string();
    assert!(e.contains("pkg-1.0.tgz"), "{e}");
}

/// Runs in the model-making build (`cargo test --release --features tch,x86-v4,svg-art --test
/// data_pipeline` with CARGO_TARGET_DIR=~/.cache/magnets-target-tch); the default build refuses clearly.
#[test]
fn svg_render_without_the_feature_is_a_clear_error() {
    if cfg!(feature = "svg-art") {
        return;
    }
    let e = magnets::data::iconify::render_svg_32("<svg/>", "t: icon").unwrap_err().to_string();
    assert!(e.contains("svg-art") && e.contains("t: icon"), "{e}");
}

#[cfg(feature = "svg-art")]
#[test]
fn svg_is_rendered_over_white_and_box_filtered() {
    use magnets::data::iconify::{IconSet, render_svg_32};
    let set = IconSet::parse(icons_json().as_bytes(), None, "t.tgz").unwrap();
    let img = render_svg_32(&set.svg("grinning-face").unwrap(), "t: grinning-face").unwrap();
    assert_eq!(img.len(), IMAGE_BYTES);
    let px = |x: usize, y: usize| &img[(y * 32 + x) * 3..(y * 32 + x) * 3 + 3];
    assert_eq!(px(3, 10), &[255, 0, 0]); // the drawn half
    assert_eq!(px(28, 10), &[255, 255, 255]); // nothing drawn → white
    let e = render_svg_32(&set.svg("broken").unwrap(), "t: icon `broken`").unwrap_err().to_string();
    assert!(e.contains("broken"), "{e}");
}

#[cfg(feature = "svg-art")]
#[test]
fn every_vendor_of_an_emoji_is_on_one_side_of_the_split() {
    use magnets::data::iconify::IconSet;
    use magnets::data::pipeline::{add_icon_set, name_table};
    let entries = entries_with_names();
    let table = name_table(&entries, &[&cldr_set()]);
    let set = IconSet::parse(icons_json().as_bytes(), None, "t.tgz").unwrap();
    let mut ds = EmojiDataset::default();
    let n = add_icon_set(&mut ds, &entries, &set, &table, "a", false).unwrap();
    let n2 = add_icon_set(&mut ds, &entries, &set, &table, "b", false).unwrap();
    assert_eq!((n, n2), (3, 3));
    assert_eq!(ds.vendors, ["a", "b"]);
    ds.validate().unwrap();
    for i in 0..ds.len() {
        assert_eq!(ds.split[i], (split_of(&ds.names[i]) == Split::HeldOut) as u8);
        let other = (0..ds.len()).find(|&j| j != i && ds.names[j] == ds.names[i]).unwrap();
        assert_eq!((ds.split[i], ds.labels[i]), (ds.split[other], ds.labels[other]));
        assert_ne!(ds.vendor[i], ds.vendor[other]);
    }
}
