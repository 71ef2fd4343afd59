//! The HTTP service of shared/spec/API.md: the router, and what its handlers share. Each
//! handler parses (`request`), admits the caller (`auth`), queues on the workers and renders
//! with the core's `formats`. Files by section of the contract: `transcribe` (1), `stream`
//! (2), `jobs` (3), `openai` (4), `info` (5), `keys` (6), `workspace` (the seed's REST API
//! under `/api/v1/`), the seed's other features: `text` (LLM, embeddings) and `audio`
//! (noise removal, speech), and `web`, the page at `/`.

mod audio;
mod export;
mod info;
mod jobs;
mod keys;
mod openai;
mod stream;
mod text;
mod transcribe;
mod web;
mod workspace;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Router, routing};
use stt_core::formats::{self, Format};
use stt_core::{TranscribeOptions, Transcript};

use super::AppState;
use super::auth::{self, Caller};
use super::error::{ApiError, MB, Result};
use super::request::upload::TempFile;
use super::storage::db::now_unix;
use super::storage::transcripts::{TranscriptRecord, TranscriptSource};
use super::workers::Transcription;

/// Every endpoint. Upload bodies are bounded by the server's largest upload (plus room for
/// the form); each caller's own limit is checked in `admit` and while reading.
pub fn router(state: Arc<AppState>) -> Router {
    let upload_limit =
        axum::extract::DefaultBodyLimit::max((state.config.max_upload_bytes() + MB) as usize);
    Router::new()
        .route("/v1/transcribe", routing::post(transcribe::transcribe))
        .route("/v1/audio/{endpoint}", routing::post(openai::openai))
        .route("/v1/stt/create", routing::post(jobs::create_job))
        .route("/v1/enhance-audio", routing::post(audio::enhance_audio))
        .route("/v1/tts", routing::post(audio::tts))
        .layer(upload_limit)
        .route("/v1/audio/speech", routing::post(audio::openai_speech))
        .route(
            "/v1/stt/{id}",
            routing::get(jobs::get_job).delete(jobs::cancel_job),
        )
        .route(
            "/v1/stt/{id}/export/{format}",
            routing::get(jobs::export_job),
        )
        .route("/v1/summarize", routing::post(text::summarize))
        .route("/v1/analyze", routing::post(text::analyze))
        .route("/v1/generate", routing::post(text::generate))
        .route("/v1/translate", routing::post(text::translate))
        .route("/v1/embed", routing::post(text::embed))
        .route("/v1/models", routing::get(info::models))
        .route("/v1/languages", routing::get(info::languages))
        .route("/v1/capabilities", routing::get(info::capabilities))
        .route("/v1/stream", routing::get(stream::stream))
        .route("/health", routing::get(info::health))
        .route("/metrics", routing::get(info::metrics))
        .route("/livez", routing::get(info::live))
        .route("/readyz", routing::get(info::ready))
        .route(
            "/v1/keys",
            routing::get(keys::list_keys).post(keys::create_key),
        )
        .route("/v1/keys/{id}", routing::delete(keys::revoke_key))
        .merge(workspace::routes())
        .merge(web::routes())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint (transcription endpoints take POST)",
            )
        })
        .layer(axum::middleware::map_response(json_errors))
        .layer(axum::middleware::map_response_with_state(
            Arc::clone(&state),
            count_response,
        ))
        .with_state(state)
}

/// A worker node's port (`stt worker`): health and metrics only.
pub fn operations_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", routing::get(info::health))
        .route("/metrics", routing::get(info::metrics))
        .route("/livez", routing::get(info::live))
        .route("/readyz", routing::get(info::ready))
        .fallback(|| async {
            ApiError::not_found("a worker serves only /health, /metrics, /livez and /readyz")
        })
        .layer(axum::middleware::map_response_with_state(
            Arc::clone(&state),
            count_response,
        ))
        .with_state(state)
}

async fn count_response(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    response: Response,
) -> Response {
    state.responses.count(response.status().as_u16());
    response
}

/// Every error body is `{"error": "..."}`, the rejections of axum's extractors (a query that
/// is not UTF-8, say) included: their text becomes the message.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
        .unwrap_or_default();
    let message = match text.is_empty() {
        true => status.canonical_reason().unwrap_or("error").to_lowercase(),
        false => text,
    };
    ApiError::new(status, message).into_response()
}

/// Authenticates and admits the caller, refusing a declared body over their upload limit
/// before reading it.
async fn admit(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<(Caller, auth::Admission)> {
    let caller = auth::authenticate(&state.db, &state.config, headers, peer.ip()).await?;
    let admission = state.admit(&caller).await?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let limit = caller.max_upload_bytes(&state.config);
    // The form's own fields and boundaries take a little room besides the file.
    if declared.is_some_and(|length| length > limit + MB) {
        return Err(ApiError::too_large(limit));
    }
    Ok((caller, admission))
}

/// Runs a synchronous transcription of an upload, charges it, and keeps it in the caller's
/// workspace as `keep_as` (none: `store=false`); the transcript and the id it is kept under.
async fn run_now(
    state: &Arc<AppState>,
    caller: &Caller,
    model: &str,
    upload: &TempFile,
    options: TranscribeOptions,
    keep_as: Option<TranscriptSource>,
) -> Result<(Transcript, Option<String>)> {
    let subject = caller.subject();
    let reservation = state
        .reserve(&subject, caller.monthly_minutes(), upload.path())
        .await?;
    let request = Transcription {
        model: model.to_string(),
        audio: upload.path().to_path_buf(),
        options,
        budget_minutes: reservation.as_ref().map(|r| r.minutes),
        max_seconds: state.config.max_duration as f64,
        progress: Arc::default(),
    };
    let transcript = match &state.workers {
        Some(workers) => {
            let transcript = workers.try_run(request).await?;
            state
                .db
                .record_usage(&subject, now_unix(), transcript.duration)
                .await
                .map_err(ApiError::internal)?;
            transcript
        }
        // An API node: a worker runs it, and records the usage with the result.
        None => super::workers::queued::run(state, &subject, request).await?,
    };
    drop(reservation);
    let kept = match keep_as {
        Some(source) => keep(state, caller, source, upload.file_name.clone(), &transcript).await,
        None => None,
    };
    Ok((transcript, kept))
}

/// Keeps a finished transcription in the caller's workspace, unless anonymous; the stored
/// transcript's id. A failure to store is logged, not answered: the caller still gets the
/// transcription they paid for.
async fn keep(
    state: &AppState,
    caller: &Caller,
    source: TranscriptSource,
    file_name: Option<String>,
    transcript: &Transcript,
) -> Option<String> {
    let account = caller.account()?;
    let record =
        TranscriptRecord::new(account, source, file_name, &transcript.model).fill(transcript);
    match state.db.insert_transcript(&record, Some(transcript)).await {
        Ok(()) => Some(record.id),
        Err(error) => {
            eprintln!("stt: cannot keep a transcript of {account}: {error}");
            None
        }
    }
}

/// Says where the workspace keeps the transcript (`X-Transcript-Id`), when it does.
fn with_transcript_id(mut response: Response, id: Option<&str>) -> Response {
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(id).ok()) {
        response.headers_mut().insert("x-transcript-id", value);
    }
    response
}

/// Names the model that really ran (`X-Model`), whatever alias was asked for.
fn with_model(mut response: Response, model: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(model) {
        response.headers_mut().insert("x-model", value);
    }
    response
}

fn text_body(content_type: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The non-JSON formats, each with its own content type.
fn subtitles_or_text(transcript: &Transcript, format: Format) -> Response {
    let body = formats::render(transcript, format);
    match format {
        Format::Srt => text_body("application/x-subrip; charset=utf-8", body),
        Format::Vtt => text_body("text/vtt; charset=utf-8", body),
        _ => text_body("text/plain; charset=utf-8", body),
    }
}
