//! An API node's synchronous requests (`--role api`): the upload goes to the audio store,
//! the request into the shared queue as a job of kind `sync`, and the handler waits for the
//! notification that a worker finished it, then answers with its transcript. The worker
//! records the usage with the result; the caller's minutes stay held here until then.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use stt_core::Transcript;
use tokio::sync::broadcast;

use super::Transcription;
use crate::server::error::ApiError;
use crate::server::storage::jobs::{Job, JobKind, JobStatus};
use crate::server::{AppState, declared_seconds};

/// How long a request may wait for a worker to take it before it is answered 503.
const WAIT_FOR_A_WORKER: Duration = Duration::from_secs(600);
/// How often the job is looked at when no notification came (one may be lost).
const POLL_EVERY: Duration = Duration::from_secs(5);

/// Deletes the job and its audio when the request ends, answered or abandoned (a worker
/// that has the job then finds its lease gone and stores nothing).
struct Queued {
    state: Arc<AppState>,
    id: String,
    stored: String,
}

impl Drop for Queued {
    fn drop(&mut self) {
        let (state, id, stored) = (
            Arc::clone(&self.state),
            std::mem::take(&mut self.id),
            std::mem::take(&mut self.stored),
        );
        tokio::spawn(async move {
            if let Err(error) = state.db.delete_job(&id).await {
                eprintln!("stt: cannot delete queued request {id}: {error}");
            }
            state.audio.delete(&stored).await;
        });
    }
}

/// Queues `request` for the workers and waits for its transcript.
pub async fn run(
    state: &Arc<AppState>,
    subject: &str,
    request: Transcription,
) -> Result<Transcript, ApiError> {
    let id = uuid::Uuid::new_v4().to_string();
    let audio_seconds = declared_seconds(&request.audio).await;
    let stored = state
        .audio
        .put(&id, &request.audio)
        .await
        .map_err(ApiError::internal)?;
    let queued = Queued {
        state: Arc::clone(state),
        id: id.clone(),
        stored: stored.clone(),
    };
    let now = chrono::Utc::now();
    let job = Job {
        id: id.clone(),
        kind: JobKind::Sync,
        subject: subject.to_string(),
        status: JobStatus::Waiting,
        model: request.model,
        options: serde_json::to_string(&request.options)
            .map_err(|e| ApiError::internal(e.to_string()))?,
        audio_path: Some(stored),
        url: None,
        budget_minutes: request.budget_minutes,
        max_bytes: 0,
        audio_seconds,
        created_unix: now.timestamp(),
        created: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        result: None,
        error: None,
        progress: None,
    };
    // Listening before the job exists: its end cannot come before the wait.
    let mut finished = state.db.events.finished();
    state
        .db
        .insert_job(&job, None)
        .await
        .map_err(ApiError::internal)?;
    let done = wait(state, &id, &mut finished).await;
    drop(queued);
    answer(done?)
}

/// Waits for job `id` to finish: woken by its notification, looking now and then anyway.
async fn wait(
    state: &AppState,
    id: &str,
    finished: &mut broadcast::Receiver<String>,
) -> Result<Job, ApiError> {
    let queued_at = Instant::now();
    loop {
        let job = state
            .db
            .job(id)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal("the queued request disappeared"))?;
        if job.status.is_finished() {
            return Ok(job);
        }
        if job.status == JobStatus::Waiting && queued_at.elapsed() > WAIT_FOR_A_WORKER {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no transcription worker took this request; try again later",
            )
            .retry_after(30));
        }
        let notified = async {
            loop {
                match finished.recv().await {
                    // An empty id: notifications may have been missed; look again.
                    Ok(done) if done == id || done.is_empty() => return,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => return,
                    Err(broadcast::error::RecvError::Closed) => std::future::pending::<()>().await,
                }
            }
        };
        let _ = tokio::time::timeout(POLL_EVERY, notified).await;
    }
}

/// The transcript of a completed job, or the failure the worker stored with its status.
fn answer(job: Job) -> Result<Transcript, ApiError> {
    if job.status == JobStatus::Completed {
        let result = job.result.unwrap_or_default();
        return serde_json::from_str(&result)
            .map_err(|e| ApiError::internal(format!("unreadable result from the worker: {e}")));
    }
    // JSON from the worker's runner; plain text when the queue itself failed the job.
    let text = job.error.unwrap_or_default();
    let stored: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let message = stored["error"]
        .as_str()
        .map_or(text.clone(), str::to_string);
    let status = stored["status"]
        .as_u64()
        .and_then(|code| StatusCode::from_u16(code as u16).ok())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut error = ApiError::new(status, message);
    error.retry_after = stored["retry_after"].as_u64();
    Err(error)
}
