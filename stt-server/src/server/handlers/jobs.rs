//! Asynchronous jobs (section 3): `POST /v1/stt/create` stores a job for the runners of
//! `workers::jobs`; `GET /v1/stt/{id}` reads it back.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{admit, with_model, with_transcript_id};
use crate::server::auth;
use crate::server::error::{ApiError, Result};
use crate::server::fetch;
use crate::server::request::upload::clean_file_name;
use crate::server::request::{form_fields, json_fields, read_json, read_upload, resolve_model};
use crate::server::storage::db::now_unix;
use crate::server::storage::jobs::{Job, JobKind, JobStatus};
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

/// `GET /v1/stt/{id}`: only the caller who created a job sees it, and only for the result
/// lifetime.
pub async fn get_job(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let caller = auth::authenticate(&state.db, &state.config, &headers, peer.ip()).await?;
    let gone = || {
        ApiError::not_found(format!(
            "no generation {id:?} (results are kept {} s)",
            state.config.result_ttl
        ))
    };
    let job = state
        .db
        .job(&id)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(gone)?;
    let expired = job.created_unix + state.config.result_ttl as i64 <= now_unix();
    if job.subject != caller.subject() || (expired && job.status.is_finished()) {
        return Err(gone());
    }
    let mut body = json!({"generation_id": id, "status": job.status.as_str()});
    match job.status {
        JobStatus::Completed => {
            let result: Value = serde_json::from_str(job.result.as_deref().unwrap_or("null"))
                .map_err(|e| ApiError::internal(e.to_string()))?;
            body["result"] = result;
        }
        JobStatus::Failed => body["error"] = json!(job.error),
        JobStatus::Waiting | JobStatus::Active => {}
    }
    Ok(with_model(Json(body).into_response(), &job.model))
}
