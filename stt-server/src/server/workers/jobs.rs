//! Jobs: runners lease waiting jobs from the database (as many as there are transcription
//! workers, so no server claims more than it can run), fetch `url` audio, run the
//! transcription workers, renew the lease meanwhile, and store the result; a sweeper deletes
//! results and audio after their lifetime. State lives in the database, so a job whose
//! server died is taken over by another, or by the same one after a restart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use stt_core::TranscribeOptions;
use stt_core::formats::{DeepgramMetadata, to_deepgram};

use super::Transcription;
use crate::server::AppState;
use crate::server::auth::Reservation;
use crate::server::error::ApiError;
use crate::server::fetch;
use crate::server::storage::db::now_unix;
use crate::server::storage::jobs::Job;

/// Starts one runner per transcription worker (more would only wait in the workers' queue,
/// where synchronous requests need room) and the sweeper.
pub fn spawn(state: &Arc<AppState>) {
    for _ in 0..state.workers.count {
        tokio::spawn(runner(Arc::clone(state)));
    }
    tokio::spawn(sweeper(Arc::clone(state)));
}

/// How long a lease lasts without renewal, and how often it is renewed.
const LEASE_SECONDS: i64 = 30;
const RENEW_EVERY: Duration = Duration::from_secs(10);

async fn runner(state: Arc<AppState>) {
    loop {
        match state.db.claim_job(&state.node, LEASE_SECONDS).await {
            Ok(Some(job)) => {
                let (outcome, reservation) = tokio::select! {
                    outcome = run(&state, &job) => match outcome {
                        Ok((result, seconds, reservation)) => (Ok((result, seconds)), reservation),
                        Err(error) => (Err(error.message), None),
                    },
                    lost = keep_lease(&state, &job.id) => {
                        eprintln!("stt: job {}: {lost}; left to the worker that has it", job.id);
                        continue;
                    }
                };
                if let Err(error) = state.db.finish_job(&job.id, &state.node, outcome).await {
                    eprintln!("stt: job {}: {error}", job.id);
                }
                // Recorded with the result: the minutes held for it go back.
                drop(reservation);
            }
            Ok(None) => {
                // Woken by a new job, or polling in case a notification was lost.
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    state.db.events.jobs_waiting.notified(),
                )
                .await;
            }
            Err(error) => {
                eprintln!("stt: cannot read jobs: {error}");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Renews the lease on job `id` until it is lost (returns why); runs beside the job.
async fn keep_lease(state: &AppState, id: &str) -> String {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        match state.db.renew_lease(id, &state.node, LEASE_SECONDS).await {
            Ok(true) => {}
            Ok(false) => return "its lease passed to another worker".into(),
            // The database may come back before the lease runs out.
            Err(error) => eprintln!("stt: job {id}: cannot renew its lease: {error}"),
        }
    }
}

/// Runs a job: its result, the seconds of audio to charge, and the minutes held for them.
async fn run(state: &AppState, job: &Job) -> Result<(String, f64, Option<Reservation>), ApiError> {
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
                .await
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
            .await
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
    let metadata = DeepgramMetadata {
        request_id: job.id.clone(),
        created: job.created.clone(),
    };
    let result = to_deepgram(&transcript, &metadata).to_string();
    Ok((result, transcript.duration, reservation))
}

/// Every 20 s: renews this server's holds (they expire a minute after it dies), deletes the
/// jobs and audio past their lifetime.
async fn sweeper(state: Arc<AppState>) {
    loop {
        if let Err(error) = state.db.renew_holds(&state.node).await {
            eprintln!("stt: cannot renew this server's holds: {error}");
        }
        let cutoff = now_unix() - state.config.result_ttl as i64;
        match state.db.delete_jobs_before(cutoff).await {
            Ok(paths) => {
                for path in paths {
                    let _ = std::fs::remove_file(path);
                }
            }
            Err(error) => eprintln!("stt: cannot delete old jobs: {error}"),
        }
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
}
