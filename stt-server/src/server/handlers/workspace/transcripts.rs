//! `/api/v1/transcripts/`: the account's stored transcripts, listed (pages, filters, search),
//! read with their segments, deleted, and exported to seven formats by the core's renderers.

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use stt_core::Transcript;
use stt_core::formats::{self, DocumentInfo, Fonts, Format};

use super::caller_key;
use crate::server::AppState;
use crate::server::error::{ApiError, Result};
use crate::server::request::workspace::ListQuery;
use crate::server::storage::transcripts::{TranscriptRecord, TranscriptStatus};

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("no transcript {id:?}"))
}

/// A transcript without its segments, as lists show it.
fn summary(record: &TranscriptRecord) -> Value {
    json!({
        "id": record.id,
        "status": record.status.as_str(),
        "source": record.source.as_str(),
        "file_name": record.file_name,
        "language": record.language,
        "duration": record.duration,
        "model": record.model,
        "speakers": record.speakers,
        "created": record.created,
        "error": record.error,
    })
}

/// `GET /api/v1/transcripts/`: newest first, `page` of `page_size`, narrowed by `status`,
/// `language`, `created_after`/`created_before` and `search`.
pub async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>> {
    let key = caller_key(&state, &headers).await?;
    let query = ListQuery::parse(query.as_deref())?;
    let (count, records) = state
        .db
        .list_transcripts(
            &key.account_id,
            &query.filter,
            query.offset(),
            query.page_size,
        )
        .await
        .map_err(ApiError::internal)?;
    let pages = count.div_ceil(query.page_size).max(1);
    if query.page > pages {
        return Err(ApiError::not_found(format!(
            "invalid page {}: there are {pages}",
            query.page
        )));
    }
    let results: Vec<Value> = records
        .iter()
        .map(|record| {
            let mut item = summary(record);
            item["text_preview"] = json!(record.text);
            item
        })
        .collect();
    Ok(Json(json!({
        "count": count,
        "next": (query.page < pages).then(|| query.link(query.page + 1)),
        "previous": (query.page > 1).then(|| query.link(query.page - 1)),
        "results": results,
    })))
}

async fn find(
    state: &AppState,
    account: &str,
    id: &str,
) -> Result<(TranscriptRecord, Option<Transcript>)> {
    state
        .db
        .transcript(account, id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| not_found(id))
}

/// Transcript `id` of `account` when completed (409 while processing or failed: nothing to
/// `use` it for yet).
pub(super) async fn completed(
    state: &AppState,
    account: &str,
    id: &str,
    action: &str,
) -> Result<(TranscriptRecord, Transcript)> {
    let (record, transcript) = find(state, account, id).await?;
    match transcript.filter(|_| record.status == TranscriptStatus::Completed) {
        Some(transcript) => Ok((record, transcript)),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "transcript {id:?} is {}: only completed transcripts {action}",
                record.status.as_str()
            ),
        )),
    }
}

/// `GET /api/v1/transcripts/{id}/`: the summary, the text and the segments with their words.
pub async fn detail(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    let key = caller_key(&state, &headers).await?;
    let (record, transcript) = find(&state, &key.account_id, &id).await?;
    let mut body = summary(&record);
    let (text, probability, warnings, segments) = match &transcript {
        Some(transcript) => {
            let mut api = formats::to_api_json(transcript);
            let mut segments = api["segments"].take();
            for (order, segment) in segments.as_array_mut().into_iter().flatten().enumerate() {
                segment["order"] = json!(order);
            }
            (
                api["text"].take(),
                api["language_probability"].take(),
                json!(transcript.warnings),
                segments,
            )
        }
        None => (json!(""), Value::Null, json!([]), json!([])),
    };
    body["text"] = text;
    body["language_probability"] = probability;
    body["warnings"] = warnings;
    body["segments"] = segments;
    Ok(Json(body))
}

/// `DELETE /api/v1/transcripts/{id}/`: the transcript, its job (a waiting or running one
/// stops: its worker finds it gone) and the job's audio.
pub async fn delete(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let key = caller_key(&state, &headers).await?;
    let audio = state
        .db
        .delete_transcript(&key.account_id, &id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| not_found(&id))?;
    if let Some(audio) = audio {
        state.audio.delete(&audio).await;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The export formats: the text ones the API renders everywhere, and two documents.
#[derive(Clone, Copy)]
enum Export {
    Text(Format),
    Docx,
    Pdf,
}

impl Export {
    fn parse(name: &str) -> Result<Self> {
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
}

/// The fonts of PDF exports: found and parsed once, at the first.
fn fonts() -> Result<&'static Fonts> {
    static FONTS: OnceLock<std::result::Result<Fonts, String>> = OnceLock::new();
    FONTS
        .get_or_init(|| Fonts::system().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| ApiError::internal(format!("cannot export PDF: {e}")))
}

fn render(export: Export, transcript: &Transcript, info: &DocumentInfo) -> Result<Vec<u8>> {
    let rendered = match export {
        Export::Text(format) => Ok(formats::render(transcript, format).into_bytes()),
        Export::Docx => formats::to_docx(transcript, info),
        Export::Pdf => formats::to_pdf(transcript, info, fonts()?),
    };
    rendered.map_err(|e| ApiError::internal(format!("cannot export: {e}")))
}

/// `attachment` with the name in ASCII for every client and in UTF-8 for those that read
/// RFC 6266's `filename*`.
fn disposition(record: &TranscriptRecord, extension: &str) -> HeaderValue {
    let stem = record
        .file_name
        .as_deref()
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

/// "5 December 2026, 14:03 UTC" from the stored RFC 3339 time.
fn readable_date(created: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(created)
        .map(|time| time.format("%-d %B %Y, %H:%M UTC").to_string())
        .unwrap_or_else(|_| created.to_string())
}

/// `GET /api/v1/transcripts/{id}/export/{format}/`: the file, to download.
pub async fn export(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, format)): Path<(String, String)>,
) -> Result<Response> {
    let key = caller_key(&state, &headers).await?;
    let export = Export::parse(&format)?;
    let (record, transcript) = completed(&state, &key.account_id, &id, "export").await?;
    let info = DocumentInfo {
        title: record
            .file_name
            .clone()
            .unwrap_or_else(|| format!("Transcript {}", record.id)),
        date: readable_date(&record.created),
    };
    // Documents of hours of speech take a while to lay out: off the async threads.
    let bytes = tokio::task::spawn_blocking(move || render(export, &transcript, &info))
        .await
        .map_err(|e| ApiError::internal(e.to_string()))??;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(export.content_type()),
            ),
            (
                header::CONTENT_DISPOSITION,
                disposition(&record, export.extension()),
            ),
        ],
        bytes,
    )
        .into_response())
}
