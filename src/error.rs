//! One error type for the whole crate: every failure the page or CLI can show as text.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("model config: {0}")]
    Config(String),
    #[error("weights file: {0}")]
    Weights(String),
    #[error("schedule: {0}")]
    Schedule(String),
    #[error("decode: {0}")]
    Decode(String),
    #[error("engine: {0}")]
    Engine(String),
    #[error("data: {0}")]
    Data(String),
    /// NaN or infinite numbers where a model must produce finite ones (logits, pixels):
    /// the weights are broken even though they parsed.
    #[error("non-finite output: {0}")]
    NonFinite(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
    /// A newer request replaced this decode before it finished (the page drops it quietly).
    #[error("cancelled: a newer request replaced this decode")]
    Cancelled,
    /// The GPU device is gone or failed (driver reset, GPU process crash, out of memory): this
    /// engine can never run again, so the page builds a new one. The text says what happened.
    #[error("{0}")]
    DeviceLost(String),
}

/// Every name [`Error::kind`] returns. Code outside Rust tells failures apart by these names
/// (the page's worker: fall back to the CPU, drop a cancelled decode, rebuild after a device
/// loss), so they are an interface: `tests/error_kinds.rs` pins them.
pub const ERROR_KINDS: [&str; 11] = [
    "bad-config",
    "bad-weights",
    "bad-schedule",
    "bad-request",
    "engine-failed",
    "bad-data",
    "non-finite",
    "io",
    "other",
    "cancelled",
    "device-lost",
];

impl Error {
    /// A stable name for this kind of failure (one of [`ERROR_KINDS`]); the page's JavaScript
    /// errors carry it as their `name`, so nothing has to match on the wording.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config(_) => "bad-config",
            Error::Weights(_) => "bad-weights",
            Error::Schedule(_) => "bad-schedule",
            Error::Decode(_) => "bad-request",
            Error::Engine(_) => "engine-failed",
            Error::Data(_) => "bad-data",
            Error::NonFinite(_) => "non-finite",
            Error::Io(_) => "io",
            Error::Other(_) => "other",
            Error::Cancelled => "cancelled",
            Error::DeviceLost(_) => "device-lost",
        }
    }

    /// The message without the kind prefix, for wrapping with more context of the same kind.
    pub fn detail(&self) -> String {
        match self {
            Error::Config(m) | Error::Weights(m) | Error::Schedule(m) | Error::Decode(m) | Error::Engine(m)
            | Error::Data(m) | Error::NonFinite(m) | Error::Other(m) | Error::DeviceLost(m) => m.clone(),
            Error::Io(e) => e.to_string(),
            Error::Cancelled => self.to_string(),
        }
    }

    /// The same failure with `context` (the file or flag it came from) in front of its message;
    /// the kind is kept, so a config mismatch found while reading weights stays a config error.
    pub fn within(self, context: impl std::fmt::Display) -> Error {
        let wrap = |m: String| format!("{context}: {m}");
        match self {
            Error::Config(m) => Error::Config(wrap(m)),
            Error::Weights(m) => Error::Weights(wrap(m)),
            Error::Schedule(m) => Error::Schedule(wrap(m)),
            Error::Decode(m) => Error::Decode(wrap(m)),
            Error::Engine(m) => Error::Engine(wrap(m)),
            Error::Data(m) => Error::Data(wrap(m)),
            Error::NonFinite(m) => Error::NonFinite(wrap(m)),
            Error::Other(m) => Error::Other(wrap(m)),
            Error::DeviceLost(m) => Error::DeviceLost(wrap(m)),
            Error::Io(e) => Error::Io(std::io::Error::new(e.kind(), wrap(e.to_string()))),
            Error::Cancelled => Error::Cancelled,
        }
    }

    /// Names the weights (or tokenizer) file in a non-finite-output error: the decode loop
    /// that detects it does not know which file the numbers came from.
    pub fn blame_file(self, path: &std::path::Path) -> Error {
        match self {
            Error::NonFinite(m) => Error::NonFinite(format!("{m}; the file {} holds weights that overflow", path.display())),
            other => other,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;
