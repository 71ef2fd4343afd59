//! `POST /v1/audio/transcriptions` and `/v1/audio/translations` (section 4): OpenAI's
//! fields and response formats, for its client libraries.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{ConnectInfo, Multipart, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use stt_core::Task;
use stt_core::formats::{self, Format};

use super::{admit, run_now, subtitles_or_text, with_model, with_transcript_id};
use crate::server::AppState;
use crate::server::error::{ApiError, Result};
use crate::server::request::{form_fields, read_upload, resolve_model};
use crate::server::storage::transcripts::TranscriptSource;

/// `POST /v1/audio/transcriptions` and `/v1/audio/translations` (section 4).
pub async fn openai(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    let task = match endpoint.as_str() {
        "transcriptions" => Task::Transcribe,
        "translations" => Task::Translate,
        _ => return Err(ApiError::not_found("no such endpoint")),
    };
    // The admission holds the caller's request slot until the answer.
    let (caller, _admission) = admit(&state, &headers, peer).await?;
    let (form, upload) = read_upload(&state, multipart, &caller, &["file"]).await?;
    let fields = form_fields(&form);
    let format = fields
        .get("response_format")
        .unwrap_or_else(|| "json".into());
    if !["json", "text", "srt", "verbose_json", "vtt"].contains(&format.as_str()) {
        return Err(ApiError::bad_request(format!(
            "invalid `response_format`: {format:?}; expected json, text, srt, verbose_json or vtt"
        )));
    }
    let mut granularities = form.all("timestamp_granularities[]").to_vec();
    granularities.extend_from_slice(form.all("timestamp_granularities"));
    if let Some(bad) = granularities
        .iter()
        .find(|g| !["segment", "word"].contains(&g.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "invalid `timestamp_granularities[]`: {bad:?}; expected segment or word"
        )));
    }
    let with_words = format == "verbose_json" && granularities.iter().any(|g| g == "word");
    let model = resolve_model(&state, fields.get("model").as_deref())?;
    let mut options = fields.options(&state, &model, task)?;
    let keep_as = fields.store()?.then_some(TranscriptSource::OpenAi);
    // OpenAI times words only when asked; segments stay the same either way.
    options.word_timestamps = with_words;
    let (transcript, kept) = run_now(&state, &caller, &model, &upload, options, keep_as).await?;
    let response = match format.as_str() {
        "json" => Json(json!({"text": transcript.text})).into_response(),
        "verbose_json" => Json(formats::to_openai_verbose_json(
            &transcript,
            task,
            with_words,
        ))
        .into_response(),
        "srt" => subtitles_or_text(&transcript, Format::Srt),
        "vtt" => subtitles_or_text(&transcript, Format::Vtt),
        _ => subtitles_or_text(&transcript, Format::Txt),
    };
    Ok(with_transcript_id(
        with_model(response, &model),
        kept.as_deref(),
    ))
}
