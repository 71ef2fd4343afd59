//! Asynchronous jobs (section 3): `POST /v1/stt/create` stores a job for the runners of
//! `workers::jobs`; `GET /v1/stt/{id}` reads it back.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use stt_core::Transcript;
use stt_core::formats::{DeepgramMetadata, DocumentInfo, to_deepgram};

use super::export::{Export, readable_date, speaker_names};
use super::{admit, with_model, with_transcript_id};
use crate::server::auth;
use crate::server::error::{ApiError, Result};
use crate::server::fetch;
use crate::server::request::upload::clean_file_name;
use crate::server::request::{form_fields, json_fields, read_json, read_upload, resolve_model};
use crate::server::storage::db::now_unix;
use crate::server::storage::jobs::{CANCELLED, Job, JobKind, JobStatus};
use crate::server::storage::transcripts::{TranscriptRecord, TranscriptSource};
use crate::server::{AppState, declared_seconds};

/// `POST /v1/stt/create` (section 3): a JSON body with a `url`, or a form with an `audio` part.
pub async fn create_job(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response> {
    let (caller, admission) = admit(&state, &headers, peer).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (model, options, store, url, upload) = if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, &state).await;
        let (form, upload) = read_upload(&state, multipart, &caller, &["audio", "file"]).await?;
        let (model, options, store) = {
            let fields = form_fields(&form);
            let model = resolve_model(&state, fields.get("model").as_deref())?;
            let options = fields.labelled_options(&state, &model)?;
            (model, options, fields.store()?)
        };
        (model, options, store, None, Some(upload))
    } else {
        let body: Value = read_json(request).await?;
        if !body.is_object() {
            return Err(ApiError::bad_request("the JSON body must be an object"));
        }
        let fields = json_fields(&body);
        let url = fields.get("url").ok_or_else(|| {
            ApiError::bad_request("missing `url`: send a JSON body with the audio's URL, or a form with an `audio` file")
        })?;
        fetch::check_url(
            &url,
            &state.fetch_policy(caller.max_upload_bytes(&state.config)),
        )
        .await?;
        let model = resolve_model(&state, fields.get("model").as_deref())?;
        let options = fields.labelled_options(&state, &model)?;
        (model, options, fields.store()?, Some(url), None)
    };
    // The workspace's record, processing until the job ends.
    let transcript = caller.account().filter(|_| store).map(|account| {
        let file_name = match (&upload, &url) {
            (Some(upload), _) => upload.file_name.clone(),
            (None, url) => url.as_deref().and_then(url_file_name),
        };
        let mut record = TranscriptRecord::new(account, TranscriptSource::Job, file_name, &model);
        record.job_id = Some(id.clone());
        record
    });

    // The length (for the queue's metrics) is read before the upload leaves for storage.
    let (audio_path, audio_seconds) = match upload {
        Some(upload) => {
            let seconds = declared_seconds(upload.path()).await;
            let stored = state
                .audio
                .put(&id, upload.path())
                .await
                .map_err(ApiError::internal)?;
            (Some(stored), seconds)
        }
        None => (None, None),
    };
    let now = chrono::Utc::now();
    let job = Job {
        id: id.clone(),
        kind: JobKind::Async,
        subject: caller.subject(),
        status: JobStatus::Waiting,
        model,
        options: serde_json::to_string(&options).map_err(|e| ApiError::internal(e.to_string()))?,
        audio_path: audio_path.clone(),
        url,
        budget_minutes: admission.budget_minutes,
        max_bytes: caller.max_upload_bytes(&state.config),
        audio_seconds,
        created_unix: now.timestamp(),
        created: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        result: None,
        error: None,
        progress: None,
    };
    if let Err(error) = state.db.insert_job(&job, transcript.as_ref()).await {
        if let Some(stored) = &audio_path {
            state.audio.delete(stored).await;
        }
        return Err(ApiError::internal(error));
    }
    let response = (StatusCode::CREATED, Json(json!({"generation_id": id}))).into_response();
    Ok(with_transcript_id(
        response,
        transcript.as_ref().map(|t| t.id.as_str()),
    ))
}

/// The last segment of a URL's path, as the name of what it downloads.
fn url_file_name(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let last = parsed.path_segments()?.next_back()?;
    clean_file_name(&percent_encoding::percent_decode_str(last).decode_utf8_lossy())
}

/// Job `id` if `headers` authenticate its creator, within its result lifetime.
async fn callers_job(
    state: &AppState,
    peer: SocketAddr,
    headers: &HeaderMap,
    id: &str,
) -> Result<Job> {
    let caller = auth::authenticate(&state.db, &state.config, headers, peer.ip()).await?;
    let gone = || {
        ApiError::not_found(format!(
            "no generation {id:?} (results are kept {} s)",
            state.config.result_ttl
        ))
    };
    let job = state
        .db
        .job(id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(gone)?;
    let expired = job.created_unix + state.config.result_ttl as i64 <= now_unix();
    let theirs = job.subject == caller.subject() && job.kind == JobKind::Async;
    if !theirs || expired && job.status.is_finished() {
        return Err(gone());
    }
    Ok(job)
}

/// A completed job's transcript (`None` from a result stored before transcripts were).
fn job_transcript(job: &Job) -> Option<Transcript> {
    serde_json::from_str(job.result.as_deref()?).ok()
}

/// `GET /v1/stt/{id}`: only the caller who created a job sees it, and only for the result
/// lifetime.
pub async fn get_job(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let job = callers_job(&state, peer, &headers, &id).await?;
    let mut body = json!({"generation_id": id, "status": job.status.as_str()});
    match job.status {
        JobStatus::Completed => {
            body["result"] = match job_transcript(&job) {
                Some(transcript) => {
                    let metadata = DeepgramMetadata {
                        request_id: job.id.clone(),
                        created: job.created.clone(),
                    };
                    to_deepgram(&transcript, &metadata)
                }
                None => serde_json::from_str(job.result.as_deref().unwrap_or("null"))
                    .map_err(|e| ApiError::internal(e.to_string()))?,
            }
        }
        JobStatus::Failed => body["error"] = json!(job.error),
        // The share of the audio decoded, to three places (0 until its worker reports).
        JobStatus::Active => {
            body["progress"] = json!((job.progress.unwrap_or(0.0) * 1000.0).round() / 1000.0)
        }
        JobStatus::Waiting => {}
    }
    Ok(with_model(Json(body).into_response(), &job.model))
}

/// `GET /v1/stt/{id}/export/{format}[?speaker_names=...]`: a completed job's transcript as
/// a file in any export format (`txt`, `srt`, `vtt`, `json`, `csv`, `docx`, `pdf`).
pub async fn export_job(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path((id, format)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let export = Export::parse(&format)?;
    let names = speaker_names(query.as_deref())?;
    let job = callers_job(&state, peer, &headers, &id).await?;
    if job.status != JobStatus::Completed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "generation {id:?} is {}: only a completed one exports",
                job.status.as_str()
            ),
        ));
    }
    let mut transcript = job_transcript(&job).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "this result was stored before exports existed",
        )
    })?;
    transcript.rename_speakers(&names);
    let info = DocumentInfo {
        title: format!("Transcript {id}"),
        date: readable_date(&job.created),
    };
    export.respond(transcript, info, None).await
}

/// `DELETE /v1/stt/{id}`: its creator cancels a waiting or active job, which then answers
/// `failed` with why; its worker stops within a second. A finished job is 409.
pub async fn cancel_job(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let caller = auth::authenticate(&state.db, &state.config, &headers, peer.ip()).await?;
    let status = state
        .db
        .cancel_job(&id, &caller.subject())
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(format!("no generation {id:?}")))?;
    if status.is_finished() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("generation {id:?} is {} already", status.as_str()),
        ));
    }
    let body = json!({"generation_id": id, "status": "failed", "error": CANCELLED});
    Ok(Json(body).into_response())
}
