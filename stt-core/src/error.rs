//! The one error type of the engine. Front ends map [`ErrorKind`] once: Python exception
//! classes, Node `err.code`, HTTP status codes.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no audio: {0}")]
    EmptyAudio(String),
    #[error("unsupported audio format: {0}")]
    UnsupportedFormat(String),
    #[error("corrupt audio: {0}")]
    CorruptAudio(String),
    #[error("too long: {0}")]
    TooLong(String),
    #[error("ONNX Runtime library not found (looked in: {0})")]
    RuntimeNotFound(String),
    #[error("ONNX Runtime failed to start: {0}")]
    Runtime(String),
    #[error("model not found: {0}")]
    ModelNotFound(String),
    #[error("invalid model: {0}")]
    InvalidModel(String),
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("cancelled")]
    Cancelled,
}

/// Stable, machine-readable error categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Io,
    EmptyAudio,
    UnsupportedFormat,
    CorruptAudio,
    TooLong,
    RuntimeNotFound,
    Runtime,
    ModelNotFound,
    InvalidModel,
    InvalidOption,
    Inference,
    Cancelled,
}

impl ErrorKind {
    /// Snake-case name, stable across releases (used as Node `err.code`, in logs and JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::EmptyAudio => "empty_audio",
            ErrorKind::UnsupportedFormat => "unsupported_format",
            ErrorKind::CorruptAudio => "corrupt_audio",
            ErrorKind::TooLong => "too_long",
            ErrorKind::RuntimeNotFound => "runtime_not_found",
            ErrorKind::Runtime => "runtime",
            ErrorKind::ModelNotFound => "model_not_found",
            ErrorKind::InvalidModel => "invalid_model",
            ErrorKind::InvalidOption => "invalid_option",
            ErrorKind::Inference => "inference",
            ErrorKind::Cancelled => "cancelled",
        }
    }
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Io { .. } => ErrorKind::Io,
            Error::EmptyAudio(_) => ErrorKind::EmptyAudio,
            Error::UnsupportedFormat(_) => ErrorKind::UnsupportedFormat,
            Error::CorruptAudio(_) => ErrorKind::CorruptAudio,
            Error::TooLong(_) => ErrorKind::TooLong,
            Error::RuntimeNotFound(_) => ErrorKind::RuntimeNotFound,
            Error::Runtime(_) => ErrorKind::Runtime,
            Error::ModelNotFound(_) => ErrorKind::ModelNotFound,
            Error::InvalidModel(_) => ErrorKind::InvalidModel,
            Error::InvalidOption(_) => ErrorKind::InvalidOption,
            Error::Inference(_) => ErrorKind::Inference,
            Error::Cancelled => ErrorKind::Cancelled,
        }
    }

    /// An I/O failure on `path` (also for the crates beside the engine, such as `stt-models`).
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
