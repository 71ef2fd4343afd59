//! `/api/v1/transcripts/`: the account's stored transcripts, listed (pages, filters, search),
//! kept from elsewhere, read with their segments, deleted, and exported to seven formats by
//! the core's renderers.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use stt_core::Transcript;
use stt_core::formats::{self, DocumentInfo};

use super::caller_key;
use crate::server::AppState;
use crate::server::error::{ApiError, Result};
use crate::server::handlers::export::{Export, readable_date, speaker_names};
use crate::server::request::read_json_up_to;
use crate::server::request::workspace::{
    ImportBody, ListQuery, MAX_IMPORT_BYTES, imported_transcript,
};
use crate::server::storage::transcripts::{TranscriptRecord, TranscriptSource, TranscriptStatus};

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

/// `POST /api/v1/transcripts/`: keeps a transcript the caller made elsewhere (the web app's
/// live captions): JSON `segments` (`start`, `end`, `text`, optional `speaker`) and optional
/// `file_name`, `language` and `model`; 201 with the stored transcript's summary.
pub async fn create(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    request: Request,
) -> Result<(StatusCode, Json<Value>)> {
    let key = caller_key(&state, &headers).await?;
    let body: ImportBody = read_json_up_to(request, MAX_IMPORT_BYTES).await?;
    let (file_name, transcript) = imported_transcript(body)?;
    let record = TranscriptRecord::new(
        &key.account_id,
        TranscriptSource::Imported,
        file_name,
        &transcript.model,
    )
    .fill(&transcript);
    state
        .db
        .insert_transcript(&record, Some(&transcript))
        .await
        .map_err(ApiError::internal)?;
    let mut body = summary(&record);
    body["text"] = json!(record.text);
    Ok((StatusCode::CREATED, Json(body)))
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

/// `GET /api/v1/transcripts/{id}/export/{format}/[?speaker_names=...]`: the file, to download.
pub async fn export(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path((id, format)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let key = caller_key(&state, &headers).await?;
    let export = Export::parse(&format)?;
    let (record, mut transcript) = completed(&state, &key.account_id, &id, "export").await?;
    transcript.rename_speakers(&speaker_names(query.as_deref())?);
    let info = DocumentInfo {
        title: record
            .file_name
            .clone()
            .unwrap_or_else(|| format!("Transcript {}", record.id)),
        date: readable_date(&record.created),
    };
    export
        .respond(transcript, info, record.file_name.as_deref())
        .await
}
