//! Schedule strings, presets, the mask schedule and the cache policy.

use magnets::config::ModelConfig;
use magnets::schedule::{CachePolicy, MAX_STEPS, Preset, Schedule, masked_counts};

fn cfg() -> ModelConfig {
    ModelConfig::tiny()
}

#[test]
fn round_trip_and_presets() {
    let c = cfg();
    for text in ["XL12", "S3M3L3XL3", "XL3L3M3S3", "S1", "M2S1XL4"] {
        let s = Schedule::parse(text, &c).unwrap();
        assert_eq!(s.format(&c), text);
    }
    assert_eq!(Schedule::parse("S3M3L3XL3", &c).unwrap().len(), 12);
    assert_eq!(Schedule::preset(Preset::Magnets, &c, 12).format(&c), "S3M3L3XL3");
    assert_eq!(Schedule::preset(Preset::Reverse, &c, 12).format(&c), "XL3L3M3S3");
    assert_eq!(Schedule::preset(Preset::Baseline, &c, 12).format(&c), "XL12");
    assert_eq!(Schedule::preset(Preset::Constant(1), &c, 5).format(&c), "M5");
    // Uneven split: the later (larger) groups take the extra steps.
    assert_eq!(Schedule::preset(Preset::Magnets, &c, 10).format(&c), "S2M2L3XL3");
    // Merging of adjacent runs of the same width.
    assert_eq!(Schedule::parse("S1S2", &c).unwrap().format(&c), "S3");
}

#[test]
fn clear_errors() {
    let c = cfg();
    let err = |t: &str| Schedule::parse(t, &c).unwrap_err().to_string();
    assert!(err("XL0").contains("at least one step"), "{}", err("XL0"));
    assert!(err("Q3").contains("unknown width name `Q`"), "{}", err("Q3"));
    assert!(err("").contains("empty"), "{}", err(""));
    assert!(err("   ").contains("empty"));
    assert!(err("XL1025").contains("1024"), "{}", err("XL1025"));
    assert!(err("XL600S600").contains("1024"));
    assert!(err("XL99999999999999999999").contains("too large"));
    assert!(err("S").contains("needs a step count"));
    assert!(err("3S").contains("expected a width name"));
    assert!(err("S3-M2").contains("expected a width name"));
    assert!(Schedule::parse(&format!("XL{MAX_STEPS}"), &c).is_ok());
    // Valid string, but more steps than this model has tokens.
    let long = Schedule::parse("XL17", &c).unwrap();
    assert!(long.check(&c).unwrap_err().to_string().contains("only 16 tokens"));
}

#[test]
fn mask_schedule_properties() {
    for n in [1usize, 2, 16, 64, 256] {
        for t in 1..=n.min(70) {
            let m = masked_counts(n, t);
            assert_eq!(m[0], n);
            assert_eq!(m[t], 0);
            for s in 1..=t {
                assert!(m[s] < m[s - 1], "n={n} t={t}: step {s} unmasks nothing: {m:?}");
            }
        }
    }
    // Cosine shape: few tokens fixed early, many late.
    let m = masked_counts(64, 12);
    // floor(64·cos(π/2·t/12)), checked independently in Python.
    assert_eq!(m, vec![64, 63, 61, 59, 55, 50, 45, 38, 32, 24, 16, 8, 0]);
}

#[test]
fn cache_policy() {
    let off = CachePolicy::Off;
    assert!(off.is_refresh(3, 0, Some(0)));
    let on = CachePolicy::parse("on").unwrap();
    assert!(on.is_refresh(0, 0, None));
    assert!(!on.is_refresh(1, 0, Some(0)));
    assert!(on.is_refresh(1, 1, Some(0)));
    let every = CachePolicy::parse("on:2").unwrap();
    assert!(every.is_refresh(2, 0, Some(0)));
    assert!(!every.is_refresh(3, 0, Some(0)));
    assert_eq!(every.format(), "on:2");
    assert!(CachePolicy::parse("on:0").is_err());
    assert!(CachePolicy::parse("sometimes").is_err());
}
