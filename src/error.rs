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
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;
