//! The error kinds are an interface: the page's JavaScript switches on them (`www/protocol.js`
//! `ErrorKind`), so renaming one must fail here, not silently change what the page does.

use magnets::Error;
use magnets::error::ERROR_KINDS;

/// One error of every variant with the kind the page expects of it.
fn every_variant() -> Vec<(Error, &'static str)> {
    vec![
        (Error::Config("x".into()), "bad-config"),
        (Error::Weights("x".into()), "bad-weights"),
        (Error::Schedule("x".into()), "bad-schedule"),
        (Error::Decode("x".into()), "bad-request"),
        (Error::Engine("x".into()), "engine-failed"),
        (Error::Data("x".into()), "bad-data"),
        (Error::NonFinite("x".into()), "non-finite"),
        (Error::Io(std::io::Error::other("x")), "io"),
        (Error::Other("x".into()), "other"),
        (Error::Cancelled, "cancelled"),
        (Error::DeviceLost("x".into()), "device-lost"),
    ]
}

#[test]
fn every_variant_has_its_pinned_kind() {
    for (e, want) in every_variant() {
        assert_eq!(e.kind(), want, "{e:?}");
    }
}

#[test]
fn the_kind_list_is_exactly_the_kinds_in_use() {
    let used: Vec<&str> = every_variant().iter().map(|(e, _)| e.kind()).collect();
    assert_eq!(ERROR_KINDS.to_vec(), used);
    let mut unique = used.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), used.len(), "two variants share a kind");
}

#[test]
fn the_messages_stay_readable() {
    assert!(Error::Cancelled.to_string().starts_with("cancelled"));
    assert_eq!(Error::DeviceLost("the GPU device was lost".into()).detail(), "the GPU device was lost");
    assert!(Error::Weights("bad header".into()).to_string().contains("weights file"));
}

#[test]
fn context_keeps_the_kind_and_leads_the_message() {
    for (e, want) in every_variant() {
        let wrapped = e.within("--from a.safetensors");
        assert_eq!(wrapped.kind(), want, "{wrapped:?}");
        if want != "cancelled" {
            assert!(wrapped.to_string().contains("--from a.safetensors: x"), "{wrapped}");
        }
    }
}
