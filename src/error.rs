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
}

impl Error {
    /// The message without the kind prefix, for wrapping with more context of the same kind.
    pub fn detail(&self) -> String {
        match self {
            Error::Config(m) | Error::Weights(m) | Error::Schedule(m) | Error::Decode(m) | Error::Engine(m)
            | Error::Data(m) | Error::NonFinite(m) | Error::Other(m) => m.clone(),
            Error::Io(e) => e.to_string(),
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
