//! `magnets data --anim --source noto` piece by piece on synthetic input (the real crate is
//! 10 MB of Lottie). Rendering runs only in a build with `--features lottie-art` (rlottie is a
//! system library); the default build checks that it says so instead.

use std::collections::HashMap;

use magnets::data::anim::{AnimCounts, EmojiInfo};
use magnets::data::noto_anim::{NOTO_CRATE, build_noto, build_noto_clips, lottie_codepoints, render_clip};
use magnets::data::pipeline::fetch_crate;

const PREFIX: &str = "animated-emojis-rs-0.4.0/static/noto_animated_emoji/lottie";

/// A 64×64 Lottie animation of 30 frames: a red 16 px square sliding from x = 16 to x = 48.
const SLIDING_SQUARE: &str = r#"{"v":"5.5.2","fr":30,"ip":0,"op":30,"w":64,"h":64,"layers":[{"ty":4,"ind":1,"ip":0,"op":30,"st":0,
"ks":{"o":{"a":0,"k":100},"r":{"a":0,"k":0},"a":{"a":0,"k":[0,0,0]},"s":{"a":0,"k":[100,100,100]},
"p":{"a":1,"k":[{"t":0,"s":[16,32,0],"i":{"x":[1],"y":[1]},"o":{"x":[0],"y":[0]}},{"t":30,"s":[48,32,0]}]}},
"shapes":[{"ty":"rc","d":1,"p":{"a":0,"k":[0,0]},"s":{"a":0,"k":[16,16]},"r":{"a":0,"k":0}},{"ty":"fl","c":{"a":0,"k":[1,0,0,1]},"o":{"a":0,"k":100}}]}]}"#;

fn info(short_name: &str, label: u8) -> EmojiInfo {
    EmojiInfo { short_name: short_name.into(), label }
}

#[test]
fn lottie_paths_give_their_codepoints() {
    assert_eq!(lottie_codepoints(&format!("{PREFIX}/1f600/lottie.json")).as_deref(), Some("1f600"));
    assert_eq!(lottie_codepoints(&format!("{PREFIX}/1f636_200d_1f32b_fe0f/lottie.json")).as_deref(), Some("1f636-200d-1f32b-fe0f"));
    for other in [format!("{PREFIX}/1f600/other.json"), format!("{PREFIX}/a/b/lottie.json"), format!("{PREFIX}//lottie.json"), "README.md".into()] {
        assert_eq!(lottie_codepoints(&other), None, "{other}");
    }
}

#[test]
fn skin_tones_duplicates_and_unknown_emoji_are_filtered_and_counted() {
    let files: HashMap<String, Vec<u8>> = [
        ("1f600", SLIDING_SQUARE),
        ("1f44b_1f3fb", SLIDING_SQUARE), // skin tone
        ("2764_fe0f", SLIDING_SQUARE),
        ("2764", SLIDING_SQUARE), // the same emoji without FE0F: kept once
        ("1faff", SLIDING_SQUARE), // not in emoji.json
    ]
    .into_iter()
    .map(|(cp, json)| (format!("{PREFIX}/{cp}/lottie.json"), json.as_bytes().to_vec()))
    .chain([("README.md".to_string(), b"not an animation".to_vec())])
    .collect();
    let index = HashMap::from([("1f600".to_string(), info("grinning", 0)), ("2764".to_string(), info("heart", 7))]);
    let mut counts = AnimCounts::default();
    let built = build_noto_clips(&files, &index, &mut counts);
    assert_eq!((counts.files, counts.skin_tone, counts.unmapped, counts.listed), (5, 1, 1, 2));
    if cfg!(feature = "lottie-art") {
        let ds = built.unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.labels, [0, 7]);
        assert_eq!(ds.names, ["grinning", "heart"]);
        assert_eq!(ds.codepoints[0], "1f600");
    } else {
        let e = built.unwrap_err().to_string();
        assert!(e.contains("lottie-art") && e.contains("lottie.json"), "{e}");
    }
}

#[cfg(feature = "lottie-art")]
#[test]
fn a_sliding_square_renders_into_a_moving_clip() {
    use magnets::data::anim::{CLIP_BYTES, FRAMES, clip_motion};
    use magnets::data::{IMAGE_BYTES, IMAGE_SIZE};
    let clip = render_clip(SLIDING_SQUARE.as_bytes(), "square.json").unwrap().expect("30 frames make a clip");
    assert_eq!(clip.len(), CLIP_BYTES);
    assert!(clip_motion(&clip) > 1.0, "the square moves: {}", clip_motion(&clip));
    // The square's red columns: composited over white (no black fringe from premultiplied alpha),
    // and further right in the last frame than in the first.
    let red_center = |k: usize| {
        let f = &clip[k * IMAGE_BYTES..(k + 1) * IMAGE_BYTES];
        let xs: Vec<usize> = (0..IMAGE_SIZE * IMAGE_SIZE).filter(|p| f[p * 3] > 200 && f[p * 3 + 1] < 60).map(|p| p % IMAGE_SIZE).collect();
        assert!(!xs.is_empty(), "frame {k} has the red square");
        assert!(f.chunks(3).all(|px| px[0] > 200), "frame {k}: white background, red square, nothing dark");
        xs.iter().sum::<usize>() as f32 / xs.len() as f32
    };
    assert!(red_center(FRAMES - 1) > red_center(0) + 8.0, "{} → {}", red_center(0), red_center(FRAMES - 1));
}

#[cfg(feature = "lottie-art")]
#[test]
fn broken_lottie_files_are_errors_that_name_the_file() {
    for bad in [&b""[..], b"{\"not\": \"lottie\"}", b"{\"v\":\"5\",\0}", b"\xff\xfe garbage"] {
        let e = render_clip(bad, "1f494/lottie.json").unwrap_err().to_string();
        assert!(e.contains("1f494/lottie.json"), "{e}");
    }
    // In a build they are skipped and counted, and the others still make clips.
    let files: HashMap<String, Vec<u8>> = HashMap::from([
        (format!("{PREFIX}/1f494/lottie.json"), Vec::new()),
        (format!("{PREFIX}/1f600/lottie.json"), SLIDING_SQUARE.as_bytes().to_vec()),
    ]);
    let index = HashMap::from([("1f494".to_string(), info("broken_heart", 7)), ("1f600".to_string(), info("grinning", 0))]);
    let mut counts = AnimCounts::default();
    let ds = build_noto_clips(&files, &index, &mut counts).unwrap();
    assert_eq!((ds.len(), counts.corrupt, counts.animated), (1, 1, 1));
}

#[cfg(not(feature = "lottie-art"))]
#[test]
fn without_a_renderer_the_error_says_which_build_renders() {
    let e = render_clip(SLIDING_SQUARE.as_bytes(), "1f600/lottie.json").unwrap_err().to_string();
    assert!(e.contains("1f600/lottie.json") && e.contains("--features lottie-art") && e.contains("librlottie"), "{e}");
}

#[cfg(not(feature = "lottie-art"))]
#[test]
fn without_a_renderer_noto_data_is_refused_before_any_download() {
    let dir = std::env::temp_dir().join(format!("magnets-noto-norender-{}", std::process::id()));
    let e = build_noto(&dir.join("pkgs"), &dir.join("clips.safetensors")).unwrap_err().to_string();
    assert!(e.contains("--source noto") && e.contains("--features lottie-art"), "{e}");
    assert!(!dir.exists(), "nothing may be fetched or created");
}

#[test]
fn a_crate_file_with_the_wrong_hash_is_refused_by_name() {
    let dir = std::env::temp_dir().join(format!("magnets-noto-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(NOTO_CRATE.file_name());
    std::fs::write(&path, b"not the pinned crate").unwrap();
    let e = fetch_crate(&NOTO_CRATE, &dir).unwrap_err().to_string();
    assert!(e.contains(&path.display().to_string()) && e.contains(NOTO_CRATE.sha256), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
