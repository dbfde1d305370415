//! Models split by art style: class `category·S + style` in one class table. The class
//! arithmetic, the split of a trained category-only model, and the token labels training reads.
//! Run: `cargo test --release --test styles`.

mod common;

use magnets::config::ModelConfig;
use magnets::decode::{DecodeRequest, decode};
use magnets::reference::ReferenceEngine;
use magnets::sampling::SamplingParams;
use magnets::schedule::{CachePolicy, Schedule};
use magnets::tokenizer::tokens::{TokenDataset as TokenFile, TokenMeta};
use magnets::train::TokenDataset;
use magnets::weights::Weights;
use pollster::block_on;

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("magnets-styles-test-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn styles(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// The tiny config's weights, scaled so that classes decode differently.
fn trained_like(seed: u64) -> Weights {
    let mut w = Weights::init(&ModelConfig::tiny(), seed).unwrap();
    for t in w.tensors.values_mut() {
        t.data.iter_mut().for_each(|v| *v *= 5.0);
    }
    w
}

#[test]
fn a_styled_config_draws_every_category_and_style_equally() {
    let w = trained_like(1).split_by_style(&styles(&["flat", "3d"])).unwrap();
    let c = &w.config;
    assert_eq!((c.classes, c.categories(), c.style_count()), (6, 3, 2));
    assert_eq!(c.class_names[3], "b · 3d");
    for category in 0..3 {
        for style in 0..2 {
            assert_eq!(c.category_of(c.class_of(category, style)), category);
        }
    }
    // 12 balanced draws: each of the 6 classes twice, categories in turn.
    let drawn: Vec<u32> = (0..12).map(|i| c.balanced_class(i)).collect();
    assert_eq!(drawn.iter().map(|&k| c.category_of(k)).collect::<Vec<_>>(), [0, 1, 2].repeat(4));
    for k in 0..6 {
        assert_eq!(drawn.iter().filter(|&&d| d == k).count(), 2, "class {k} in {drawn:?}");
    }
    // In proportion to counts: 3:1 for category a, none for b (styles in turn), c only style 0.
    let counts = vec![vec![300, 100], vec![0, 0], vec![5, 0]];
    let drawn: Vec<u32> = (0..3 * 400).map(|i| c.proportional_class(i, &counts)).collect();
    let share = |k: u32| drawn.iter().filter(|&&d| d == k).count();
    assert_eq!(drawn.iter().map(|&k| c.category_of(k)).collect::<Vec<_>>(), [0, 1, 2].repeat(400));
    assert!((299..=301).contains(&share(0)) && (99..=101).contains(&share(1)), "{} {}", share(0), share(1));
    assert_eq!((share(2), share(3)), (200, 200));
    assert_eq!((share(4), share(5)), (400, 0));
    assert_eq!(c.proportional_class(7, &counts), c.proportional_class(7, &counts));
    // A category-only model draws categories in turn, as before.
    let plain = ModelConfig::tiny();
    assert_eq!((0..6).map(|i| plain.balanced_class(i)).collect::<Vec<_>>(), [0, 1, 2, 0, 1, 2]);
    // The config round-trips through JSON (the weights' metadata) and is checked.
    assert_eq!(&ModelConfig::from_json(&c.to_json()).unwrap(), c);
    let mut bad = c.clone();
    bad.styles.extend(styles(&["x", "y"]));
    assert!(bad.validate().unwrap_err().to_string().contains("multiple of the 4 styles"));
}

#[test]
fn a_split_model_decodes_each_style_as_its_category_until_trained() {
    let w = trained_like(2);
    let split = w.split_by_style(&styles(&["a", "b"])).unwrap();
    // Every tensor but the class table is unchanged; the null class keeps its row.
    for (name, t) in &w.tensors {
        if name != "classes.embedding" {
            assert_eq!(&split.tensors[name], t, "{name}");
        }
    }
    let (old, new) = (w.get("classes.embedding"), split.get("classes.embedding"));
    let d = old.shape[1];
    assert_eq!(new.shape, vec![7, d]);
    assert_eq!(new.data[6 * d..], old.data[3 * d..]);
    let run = |weights: &Weights, classes: Vec<u32>| {
        let mut e = ReferenceEngine::cpu(weights);
        let req = DecodeRequest {
            context: Vec::new(),
            schedule: Schedule::parse("S2M2XL3", &weights.config).unwrap(),
            cache: CachePolicy::On { refresh_every: None },
            classes,
            sampling: SamplingParams { seed: 3, guidance: 0.5, ..Default::default() },
        };
        block_on(decode(&mut e, &req, |_| {})).unwrap().tokens
    };
    let plain = run(&w, vec![0, 1, 2, 2]);
    let styled = run(&split, vec![split.config.class_of(0, 1), split.config.class_of(1, 0), split.config.class_of(2, 0), split.config.class_of(2, 1)]);
    assert_eq!(plain, styled);
    assert_ne!(plain[0], plain[1], "classes must decode differently for this test to mean something");
    // Splitting twice, or by no or repeated styles, is refused.
    for (base, names) in [(&split, styles(&["c"])), (&w, vec![]), (&w, styles(&["a", "a"]))] {
        assert!(base.split_by_style(&names).is_err(), "{names:?}");
    }
}

/// A `magnets tokenize` file of 4 images: categories 0, 1, 2, 1, vendors v0, v1, v1, v0; the
/// last image held out.
fn token_file(dir: &std::path::Path) -> std::path::PathBuf {
    let file = TokenFile {
        codes: (0..4 * 16).map(|i| (i % 32) as u16).collect(),
        labels: vec![0, 1, 2, 1],
        split: vec![0, 0, 0, 1],
        vendor: vec![0, 1, 1, 0],
        meta: TokenMeta {
            categories: styles(&["a", "b", "c"]),
            vendors: styles(&["v0", "v1"]),
            names: styles(&["e0", "e1", "e2", "e3"]),
            codebook: 32,
            grid: [4, 4],
            frames: 1,
        },
    };
    let path = dir.join("tokens.safetensors");
    file.save(&path).unwrap();
    path
}

#[test]
fn styled_training_labels_combine_category_and_vendor_by_name() {
    let path = token_file(&temp_dir("labels"));
    // The model lists the styles in another order than the file: matched by name.
    let order = styles(&["v1", "v0"]);
    let train = TokenDataset::load_styled(&path, 0, &order).unwrap();
    assert_eq!(train.labels, [0 * 2 + 1, 1 * 2 + 0, 2 * 2 + 0]);
    assert_eq!(TokenDataset::load_styled(&path, 1, &order).unwrap().labels, [1 * 2 + 1]);
    let mut config = Weights::init(&ModelConfig::tiny(), 0).unwrap().split_by_style(&order).unwrap().config;
    train.check(&config).unwrap();
    // Without styles the labels stay categories.
    assert_eq!(TokenDataset::load_split(&path, 0).unwrap().labels, [0, 1, 2]);
    // A vendor the model has no style for is named.
    let err = TokenDataset::load_styled(&path, 0, &styles(&["v1"])).unwrap_err().to_string();
    assert!(err.contains("\"v0\"") && err.contains("tokens.safetensors"), "{err}");
    // Labels past the model's classes are refused by the check.
    config.classes = 4;
    assert!(train.check(&config).is_err());
}

#[test]
fn a_token_file_without_vendors_cannot_train_a_styled_model() {
    // The mirror-image tokens cache of the shipped default model's run holds categories only.
    let path = common::repo_file("models/all-art/emoji_tokens_flip.safetensors");
    assert!(!TokenDataset::load(&path).unwrap().is_empty());
    let err = TokenDataset::load_styled(&path, 0, &styles(&["twitter"])).unwrap_err().to_string();
    assert!(err.contains("emoji_tokens_flip.safetensors"), "{err}");
}
