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
