//! `POST /v1/transcribe` (section 1): the native endpoint, speakers labelled by default.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{ConnectInfo, Multipart, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use stt_core::formats::{self, Format};

use super::{admit, run_now, subtitles_or_text, with_model, with_transcript_id};
use crate::server::AppState;
use crate::server::error::{ApiError, Result};
use crate::server::request::{form_fields, read_upload, resolve_model};
use crate::server::storage::transcripts::TranscriptSource;

/// `POST /v1/transcribe` (section 1).
pub async fn transcribe(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    // The admission holds the caller's request slot until the answer.
    let (caller, _admission) = admit(&state, &headers, peer).await?;
    let (form, upload) = read_upload(&state, multipart, &caller, &["file"]).await?;
    let fields = form_fields(&form);
    let format = match fields.get("response_format").as_deref() {
        None | Some("json") => Format::Json,
        Some("txt" | "text") => Format::Txt,
        Some("srt") => Format::Srt,
        Some("vtt") => Format::Vtt,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid `response_format`: {other:?}; expected json, txt, srt or vtt"
            )));
        }
    };
    let model = resolve_model(&state, fields.get("model").as_deref())?;
    let options = fields.labelled_options(&state, &model)?;
    let keep_as = fields.store()?.then_some(TranscriptSource::Transcribe);
    let (transcript, kept) = run_now(&state, &caller, &model, &upload, options, keep_as).await?;
    let response = match format {
        Format::Json => Json(formats::to_api_json(&transcript)).into_response(),
        _ => subtitles_or_text(&transcript, format),
    };
    Ok(with_transcript_id(
        with_model(response, &model),
        kept.as_deref(),
    ))
}
