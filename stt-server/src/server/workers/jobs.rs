//! Asynchronous jobs: runners take waiting jobs from the database, fetch `url` audio, run the
//! transcription workers and store the Deepgram-shaped result; a sweeper deletes results and
//! audio after their lifetime. State lives in SQLite, so a restart picks up where a crash
//! stopped.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use stt_core::TranscribeOptions;
use stt_core::formats::{DeepgramMetadata, to_deepgram};

use super::Transcription;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::fetch;
use crate::server::storage::db::{Job, now_unix};

/// Starts one runner per transcription worker (more would only wait in the workers' queue,
/// where synchronous requests need room) and the sweeper.
pub fn spawn(state: &Arc<AppState>) {
    for _ in 0..state.workers.count {
        tokio::spawn(runner(Arc::clone(state)));
    }
    tokio::spawn(sweeper(Arc::clone(state)));
}

async fn runner(state: Arc<AppState>) {
    loop {
        match state.db.claim_job() {
            Ok(Some(job)) => {
                let outcome = run(&state, &job).await.map_err(|e| e.message);
                if let Err(error) = state.db.finish_job(&job.id, outcome) {
                    eprintln!("stt: job {}: {error}", job.id);
                }
            }
            Ok(None) => {
                // Woken by a new job, or polling in case one came from elsewhere.
                let _ =
                    tokio::time::timeout(Duration::from_secs(1), state.jobs_ready.notified()).await;
            }
            Err(error) => {
                eprintln!("stt: cannot read jobs: {error}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn run(state: &AppState, job: &Job) -> Result<String, ApiError> {
    let audio = match (&job.audio_path, &job.url) {
        (Some(path), _) => PathBuf::from(path),
        (None, Some(url)) => {
            let path = state.uploads_dir.join(&job.id);
            let policy = state.fetch_policy(job.max_bytes);
            fetch::fetch_to_file(url, &path, &policy).await?;
            // Recorded only once complete: a crash mid-download downloads again.
            state
                .db
                .set_audio_path(&job.id, &path.to_string_lossy())
                .map_err(ApiError::internal)?;
            path
        }
        (None, None) => return Err(ApiError::internal("the job has no audio")),
    };
    if !audio.is_file() {
        return Err(ApiError::internal("the job's audio is missing"));
    }
    let options = TranscribeOptions::from_json(&job.options)
        .map_err(|e| ApiError::internal(format!("stored options unreadable: {e}")))?;
    // The quota is the key's as it is now (a job may wait); none when it had none.
    let quota = match (job.budget_minutes, job.subject.strip_prefix("key:")) {
        (Some(_), Some(id)) => state
            .db
            .key_by_id(id)
            .map_err(ApiError::internal)?
            .and_then(|key| key.monthly_minutes),
        _ => None,
    };
    let reservation = state.reserve(&job.subject, quota, &audio).await?;
    let transcript = state
        .workers
        .run(Transcription {
            model: job.model.clone(),
            audio,
            options,
            budget_minutes: reservation.as_ref().map(|r| r.minutes),
            max_seconds: state.config.max_duration as f64,
        })
        .await?;
    state
        .db
        .record_usage(&job.subject, now_unix(), transcript.duration)
        .map_err(ApiError::internal)?;
    drop(reservation);
    let metadata = DeepgramMetadata {
        request_id: job.id.clone(),
        created: job.created.clone(),
    };
    Ok(to_deepgram(&transcript, &metadata).to_string())
}

async fn sweeper(state: Arc<AppState>) {
    loop {
        let cutoff = now_unix() - state.config.result_ttl as i64;
        match state.db.delete_jobs_before(cutoff) {
            Ok(paths) => {
                for path in paths {
                    let _ = std::fs::remove_file(path);
                }
            }
            Err(error) => eprintln!("stt: cannot delete old jobs: {error}"),
        }
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
}
