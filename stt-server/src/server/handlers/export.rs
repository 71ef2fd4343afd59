//! Exports of a finished transcript, as a file to download: a stored one
//! (`/api/v1/transcripts/{id}/export/{format}`) or an asynchronous job's
//! (`/v1/stt/{id}/export/{format}`), with speakers renamed by `speaker_names`.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use stt_core::Transcript;
use stt_core::formats::{self, DocumentInfo, Fonts, Format};

use crate::server::error::{ApiError, Result};

/// The longest name a speaker may be given, in characters.
const MAX_SPEAKER_NAME: usize = 100;

/// The export formats: the text ones the API renders everywhere, and two documents.
#[derive(Clone, Copy)]
pub enum Export {
    Text(Format),
    Docx,
    Pdf,
}

impl Export {
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "txt" => Self::Text(Format::Txt),
            "srt" => Self::Text(Format::Srt),
            "vtt" => Self::Text(Format::Vtt),
            "json" => Self::Text(Format::Json),
            "csv" => Self::Text(Format::Csv),
            "docx" => Self::Docx,
            "pdf" => Self::Pdf,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "unknown export format {name:?}; expected txt, srt, vtt, json, csv, docx or pdf"
                )));
            }
        })
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Text(format) => format.extension(),
            Self::Docx => "docx",
            Self::Pdf => "pdf",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Text(Format::Srt) => "application/x-subrip; charset=utf-8",
            Self::Text(Format::Vtt) => "text/vtt; charset=utf-8",
            Self::Text(Format::Json) => "application/json",
            Self::Text(Format::Csv) => "text/csv; charset=utf-8",
            Self::Text(_) => "text/plain; charset=utf-8",
            Self::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            Self::Pdf => "application/pdf",
        }
    }

    /// The rendered file, named after `file_name` (the upload's) with this format's extension.
    pub async fn respond(
        self,
        transcript: Transcript,
        info: DocumentInfo,
        file_name: Option<&str>,
    ) -> Result<Response> {
        // Documents of hours of speech take a while to lay out: off the async threads.
        let bytes = tokio::task::spawn_blocking(move || self.render(&transcript, &info))
            .await
            .map_err(|e| ApiError::internal(e.to_string()))??;
        let headers = [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(self.content_type()),
            ),
            (
                header::CONTENT_DISPOSITION,
                disposition(file_name, self.extension()),
            ),
        ];
        Ok((headers, bytes).into_response())
    }

    fn render(self, transcript: &Transcript, info: &DocumentInfo) -> Result<Vec<u8>> {
        let rendered = match self {
            Self::Text(format) => Ok(formats::render(transcript, format).into_bytes()),
            Self::Docx => formats::to_docx(transcript, info),
            Self::Pdf => formats::to_pdf(transcript, info, fonts()?),
        };
        rendered.map_err(|e| ApiError::internal(format!("cannot export: {e}")))
    }
}

/// The fonts of PDF exports: found and parsed once, at the first.
fn fonts() -> Result<&'static Fonts> {
    static FONTS: OnceLock<std::result::Result<Fonts, String>> = OnceLock::new();
    FONTS
        .get_or_init(|| Fonts::system().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| ApiError::internal(format!("cannot export PDF: {e}")))
}

/// The `speaker_names` of a query string: a JSON object from speaker labels to the names
/// to show instead (`{"Speaker 1": "Ada"}`), each name one line of at most 100 characters.
pub fn speaker_names(query: Option<&str>) -> Result<HashMap<String, String>> {
    let bad = |why: String| ApiError::bad_request(format!("`speaker_names`: {why}"));
    let Some(value) = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find_map(|(name, value)| (name == "speaker_names").then_some(value))
    else {
        return Ok(HashMap::new());
    };
    let names: HashMap<String, String> = serde_json::from_str(&value).map_err(|e| {
        bad(format!(
            "expected a JSON object of speaker labels to names, as {{\"Speaker 1\": \"Ada\"}} ({e})"
        ))
    })?;
    for name in names.values() {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_SPEAKER_NAME {
            return Err(bad(format!(
                "a name must have 1 to {MAX_SPEAKER_NAME} characters"
            )));
        }
        if name.chars().any(char::is_control) {
            return Err(bad("a name must be one line of text".into()));
        }
    }
    Ok(names
        .into_iter()
        .map(|(label, name)| (label, name.trim().to_string()))
        .collect())
}

/// "5 December 2026, 14:03 UTC" from the stored RFC 3339 time.
pub fn readable_date(created: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(created)
        .map(|time| time.format("%-d %B %Y, %H:%M UTC").to_string())
        .unwrap_or_else(|_| created.to_string())
}

/// `attachment` with the name in ASCII for every client and in UTF-8 for those that read
/// RFC 6266's `filename*`.
fn disposition(file_name: Option<&str>, extension: &str) -> HeaderValue {
    let stem = file_name
        .map(|name| name.rsplit_once('.').map_or(name, |(stem, _)| stem))
        .filter(|stem| !stem.trim().is_empty())
        .unwrap_or("transcript");
    let ascii: String = stem
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || "-_. ()".contains(c) {
                true => c,
                false => '_',
            },
        )
        .collect();
    let name = format!("{stem}.{extension}");
    let utf8 = percent_encoding::utf8_percent_encode(&name, percent_encoding::NON_ALPHANUMERIC);
    let value = format!("attachment; filename=\"{ascii}.{extension}\"; filename*=UTF-8''{utf8}");
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static("attachment"))
}
