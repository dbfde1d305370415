//! `magnets data --anim` piece by piece on synthetic input (the real tarballs are 730 MB).

mod common;

use std::collections::HashMap;

use magnets::data::anim::{
    ANIM_PACKAGES, AnimCounts, AnimDataset, CLIP_BYTES, FRAMES, MitEmoji, build_clips, clip_motion, decode_clip, has_skin_tone,
    parse_mit_list, pick_frames, webp_stem,
};
use magnets::data::pipeline::fetch_package;
use magnets::data::IMAGE_BYTES;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("magnets-anim-test-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn frames_are_evenly_spaced_over_the_loop() {
    assert_eq!(pick_frames(&[42; 72], 8).unwrap(), [0, 9, 18, 27, 36, 45, 54, 63]);
    assert_eq!(pick_frames(&[42; 8], 8).unwrap(), (0..8).collect::<Vec<_>>());
    // By time, not by index: a long first frame is picked more often.
    assert_eq!(pick_frames(&[400, 100, 100, 100, 100], 8).unwrap(), [0, 0, 0, 0, 1, 2, 3, 4]);
    // Zero delays count as equal.
    assert_eq!(pick_frames(&[0; 16], 8).unwrap(), [0, 2, 4, 6, 8, 10, 12, 14]);
}

#[test]
fn short_loops_repeat_frames_and_stills_are_rejected() {
    assert_eq!(pick_frames(&[100; 3], 8).unwrap(), [0, 0, 0, 1, 1, 1, 2, 2]);
    assert_eq!(pick_frames(&[100; 2], 8).unwrap(), [0, 0, 0, 0, 1, 1, 1, 1]);
    assert_eq!(pick_frames(&[100], 8), None);
    assert_eq!(pick_frames(&[], 8), None);
}

#[test]
fn skin_tone_filter_and_file_names() {
    assert!(has_skin_tone("1f44b-1f3fb"));
    assert!(has_skin_tone("1F44B 1F3FF"));
    assert!(!has_skin_tone("1f44b"));
    assert!(!has_skin_tone("0023-fe0f-20e3"));
    assert!(!has_skin_tone("1f3fa")); // amphora, next to the modifiers
    assert_eq!(webp_stem("package/assets/1f47d.webp"), Some("1f47d"));
    assert_eq!(webp_stem("package/assets/.gitkeep"), None);
    assert_eq!(webp_stem("package/README.md"), None);
}

#[test]
fn mit_list_is_checked() {
    let ok = br#"{"emoji": [{"unicode": "1f47d", "group": "Smileys & Emotion", "cldr": "alien"}]}"#;
    assert_eq!(parse_mit_list(ok, "l.json").unwrap()[0].cldr, "alien");
    let e = parse_mit_list(br#"{"emoji": [{"unicode": "1", "group": "Component", "cldr": "x"}]}"#, "l.json").unwrap_err().to_string();
    assert!(e.contains("l.json") && e.contains("Component"), "{e}");
    // The committed list parses and holds no skin-tone variants.
    let list = parse_mit_list(&std::fs::read(common::repo_file("models/anim/fluent-animated-mit.json")).unwrap(), "list").unwrap();
    assert!(list.len() > 600 && list.iter().all(|e| !has_skin_tone(&e.unicode)));
}

fn synthetic(n: usize) -> AnimDataset {
    let mut ds = AnimDataset::default();
    for i in 0..n {
        ds.clips.extend((0..CLIP_BYTES).map(|b| (b * 7 + i * 13) as u8));
        ds.labels.push((i % 9) as u8);
        ds.split.push((i % 3 == 0) as u8);
        ds.names.push(format!("emoji-{i}"));
        ds.codepoints.push(format!("1f{i:03x}"));
    }
    ds
}

#[test]
fn clip_file_round_trips() {
    let ds = synthetic(5);
    let back = AnimDataset::from_bytes(&ds.to_bytes().unwrap()).unwrap();
    assert_eq!(back, ds);
    assert_eq!(back.frame(2, 3), &ds.clips[2 * CLIP_BYTES + 3 * IMAGE_BYTES..2 * CLIP_BYTES + 4 * IMAGE_BYTES]);
    let st = safetensors::SafeTensors::deserialize(&ds.to_bytes().unwrap()).unwrap().tensor("clips").unwrap().shape().to_vec();
    assert_eq!(st, [5, FRAMES, 32, 32, 3]);
    let dir = temp_dir("round-trip");
    let p = dir.join("anim32.safetensors");
    ds.save(&p).unwrap();
    assert_eq!(AnimDataset::load(&p).unwrap(), ds);
    std::fs::remove_dir_all(&dir).unwrap();
    let mut bad = synthetic(2);
    bad.split.pop();
    assert!(bad.to_bytes().is_err());
}

#[test]
fn motion_is_mean_absolute_frame_change() {
    let still = vec![128u8; CLIP_BYTES];
    assert_eq!(clip_motion(&still), 0.0);
    let mut blink = still.clone();
    for k in (1..FRAMES).step_by(2) {
        blink[k * IMAGE_BYTES..(k + 1) * IMAGE_BYTES].fill(138);
    }
    assert!((clip_motion(&blink) - 10.0).abs() < 1e-4);
}

#[test]
fn corrupt_webp_is_skipped_and_counted() {
    let e = decode_clip(b"RIFF\x10\x00\x00\x00WEBPjunkjunk", "1f47d.webp").unwrap_err().to_string();
    assert!(e.contains("1f47d.webp"), "{e}");
    let mit = vec![
        MitEmoji { unicode: "1f47d".into(), group: "Smileys & Emotion".into(), cldr: "alien".into() },
        MitEmoji { unicode: "1f44b".into(), group: "People & Body".into(), cldr: "waving hand".into() },
    ];
    let files = vec![
        ("package/assets/1f47d.webp".to_string(), b"not a webp".to_vec()),
        ("package/assets/1f44b-1f3fb.webp".to_string(), b"skin".to_vec()),
        ("package/assets/2b50.webp".to_string(), b"not listed".to_vec()),
    ];
    let mut counts = AnimCounts::default();
    let ds = build_clips(&files, &mit, &HashMap::new(), &mut counts);
    assert!(ds.is_empty());
    assert_eq!((counts.files, counts.skin_tone, counts.listed, counts.corrupt, counts.animated), (3, 1, 1, 1, 0));
}

#[test]
fn still_webp_is_not_a_clip() {
    let img = image::RgbaImage::from_pixel(256, 256, image::Rgba([255, 0, 0, 255]));
    let mut bytes = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(img).write_to(&mut bytes, image::ImageFormat::WebP).unwrap();
    assert_eq!(decode_clip(bytes.get_ref(), "still.webp").unwrap(), None);
}

#[test]
fn wrong_tarball_hash_is_an_error_naming_the_file() {
    let dir = temp_dir("hash");
    let name = ANIM_PACKAGES[2].tarball_name();
    assert_eq!(name, "lobehub-fluent-emoji-anim-3-1.0.0.tgz");
    std::fs::write(dir.join(&name), b"not the package").unwrap();
    let e = fetch_package(&ANIM_PACKAGES[2], &dir).unwrap_err().to_string();
    assert!(e.contains(&name) && e.contains("SHA-256"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
