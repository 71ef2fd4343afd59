//! The server's one error type: every failure becomes `{"error": "..."}` with the status code
//! of the service contract.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use stt_core::ErrorKind;

/// What handlers, request parsing and workers return.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Seconds for `Retry-After` (429, 503).
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    pub fn too_large(limit_bytes: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("file too large: the limit is {} MB", limit_bytes / MB),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// The message with the server's path of an upload replaced by `name`: callers know
    /// their upload, not where the server stored it.
    pub fn hiding_path(mut self, stored: &std::path::Path, name: &str) -> Self {
        let stored = stored.display().to_string();
        self.message = self
            .message
            .replace(&format!("file:{stored}"), name)
            .replace(&stored, name);
        self
    }

    pub fn retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn overloaded() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the engine is busy: every worker and queue slot is taken; retry later",
        )
        .retry_after(5)
    }
}

pub const MB: u64 = 1024 * 1024;

/// Engine errors: the caller's input (400) or the server's state (503, 500).
impl From<stt_core::Error> for ApiError {
    fn from(error: stt_core::Error) -> Self {
        let status = match error.kind() {
            ErrorKind::EmptyAudio
            | ErrorKind::UnsupportedFormat
            | ErrorKind::CorruptAudio
            | ErrorKind::InvalidOption
            | ErrorKind::ModelNotFound => StatusCode::BAD_REQUEST,
            ErrorKind::TooLong => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::RuntimeNotFound | ErrorKind::Runtime | ErrorKind::InvalidModel => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorKind::Io | ErrorKind::Inference | ErrorKind::Cancelled => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        Self::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, axum::Json(json!({"error": self.message}))).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}
