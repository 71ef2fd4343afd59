//! `multipart/form-data` bodies: the file part streams to a temporary file under a size limit,
//! so memory stays small whatever the upload; text fields are kept (bounded too).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;
use tokio::io::AsyncWriteExt;

use crate::server::error::ApiError;

/// Longest text field accepted (prompts included).
const MAX_FIELD_BYTES: usize = 64 * 1024;
const MAX_FIELDS: usize = 64;
/// An upload that sends nothing for this long is given up (408), freeing its slot.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The next part, or the next piece of one, within [`IDLE_TIMEOUT`].
async fn within_idle<T>(
    next: impl Future<Output = Result<T, MultipartError>>,
) -> Result<T, ApiError> {
    tokio::time::timeout(IDLE_TIMEOUT, next)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the upload stalled: nothing arrived for {} s",
                    IDLE_TIMEOUT.as_secs()
                ),
            )
        })?
        .map_err(malformed)
}

/// A file removed when dropped unless [`TempFile::keep`] moved it elsewhere.
pub struct TempFile {
    path: PathBuf,
    pub bytes: u64,
    /// The name the client gave the file (its last path component, control characters
    /// removed, at most `MAX_FILE_NAME_CHARS`).
    pub file_name: Option<String>,
}

const MAX_FILE_NAME_CHARS: usize = 255;

/// What is kept of a client's file name: shown back in listings and documents.
pub fn clean_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    Some(cleaned.trim().to_string()).filter(|name| !name.is_empty())
}

impl TempFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            bytes: 0,
            file_name: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

pub struct Form {
    pub file: Option<TempFile>,
    fields: HashMap<String, Vec<String>>,
}

impl Form {
    pub fn text(&self, name: &str) -> Option<&str> {
        self.fields.get(name)?.first().map(String::as_str)
    }

    /// Every value of a repeated field (`timestamp_granularities[]`).
    pub fn all(&self, name: &str) -> &[String] {
        self.fields.get(name).map_or(&[], Vec::as_slice)
    }
}

fn malformed(error: MultipartError) -> ApiError {
    ApiError::new(
        error.status(),
        format!("malformed multipart body: {}", error.body_text()),
    )
}

/// Reads the form; the part named one of `file_fields` goes to a new file in `dir`.
pub async fn read_form(
    mut multipart: Multipart,
    file_fields: &[&str],
    dir: &Path,
    max_bytes: u64,
) -> Result<Form, ApiError> {
    let mut form = Form {
        file: None,
        fields: HashMap::new(),
    };
    let mut field_count = 0;
    while let Some(mut field) = within_idle(multipart.next_field()).await? {
        let name = field.name().unwrap_or_default().to_string();
        if file_fields.contains(&name.as_str()) {
            if form.file.is_some() {
                return Err(ApiError::bad_request(format!(
                    "more than one `{name}` part; send one file per request"
                )));
            }
            let mut file = TempFile::new(dir.join(uuid::Uuid::new_v4().to_string()));
            file.file_name = field.file_name().and_then(clean_file_name);
            let mut out = tokio::fs::File::create(file.path())
                .await
                .map_err(|e| ApiError::internal(format!("cannot store the upload: {e}")))?;
            while let Some(chunk) = within_idle(field.chunk()).await? {
                file.bytes += chunk.len() as u64;
                if file.bytes > max_bytes {
                    return Err(ApiError::too_large(max_bytes));
                }
                out.write_all(&chunk)
                    .await
                    .map_err(|e| ApiError::internal(format!("cannot store the upload: {e}")))?;
            }
            out.flush()
                .await
                .map_err(|e| ApiError::internal(format!("cannot store the upload: {e}")))?;
            form.file = Some(file);
            continue;
        }
        field_count += 1;
        if field_count > MAX_FIELDS {
            return Err(ApiError::bad_request("too many form fields"));
        }
        let mut value = Vec::new();
        while let Some(chunk) = within_idle(field.chunk()).await? {
            value.extend_from_slice(&chunk);
            if value.len() > MAX_FIELD_BYTES {
                return Err(ApiError::bad_request(format!(
                    "form field `{name}` is longer than {MAX_FIELD_BYTES} bytes"
                )));
            }
        }
        let value = String::from_utf8(value)
            .map_err(|_| ApiError::bad_request(format!("form field `{name}` is not UTF-8")))?;
        form.fields.entry(name).or_default().push(value);
    }
    Ok(form)
}
