//! Jobs: runners lease waiting jobs from the database (as many as there are transcription
//! workers, so no server claims more than it can run), fetch `url` audio, run the
//! transcription workers, renew the lease meanwhile, and store the result; a sweeper deletes
//! results and audio after their lifetime. State lives in the database, so a job whose
//! server died is taken over by another, or by the same one after a restart.

use std::sync::Arc;
use std::time::Duration;

use stt_core::TranscribeOptions;

use super::Transcription;
use super::transcription::Progress;
use crate::server::AppState;
use crate::server::auth::Reservation;
use crate::server::error::ApiError;
use crate::server::fetch;
use crate::server::storage::audio::LocalAudio;
use crate::server::storage::db::now_unix;
use crate::server::storage::jobs::{Job, JobKind, JobResult};

/// Starts one runner per transcription worker of this node (more would only wait in the
/// workers' queue, where synchronous requests need room) and the sweeper.
pub fn spawn(state: &Arc<AppState>) {
    let runners = state.workers.as_ref().map_or(0, |workers| workers.count);
    for _ in 0..runners {
        tokio::spawn(runner(Arc::clone(state)));
    }
    tokio::spawn(sweeper(Arc::clone(state)));
}

/// How long a lease lasts without renewal, and how often it is renewed with the job's
/// progress (a cancelled job stops within one renewal).
const LEASE_SECONDS: i64 = 30;
const RENEW_EVERY: Duration = Duration::from_secs(1);

async fn runner(state: Arc<AppState>) {
    loop {
        match state.db.claim_job(&state.node, LEASE_SECONDS).await {
            Ok(Some(job)) => {
                let progress = Arc::new(Progress::default());
                // Losing the lease drops `run`, which cancels the transcription.
                let (outcome, reservation) = tokio::select! {
                    outcome = run(&state, &job, &progress) => match outcome {
                        Ok((result, reservation)) => (Ok(result), reservation),
                        Err(error) => (Err(stored_error(&job, error)), None),
                    },
                    lost = keep_lease(&state, &job.id, &progress) => {
                        eprintln!("stt: job {}: stopped: {lost}", job.id);
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

/// A failure as the job keeps it: the message (`GET /v1/stt/{id}`), or for a queued
/// synchronous request the status too, for the API node to answer with.
fn stored_error(job: &Job, error: ApiError) -> String {
    match job.kind {
        JobKind::Async => error.message,
        JobKind::Sync => serde_json::json!({
            "status": error.status.as_u16(),
            "error": error.message,
            "retry_after": error.retry_after,
        })
        .to_string(),
    }
}

/// Renews the lease on job `id` with its progress until it is lost (returns why); runs
/// beside the job.
async fn keep_lease(state: &AppState, id: &str, progress: &Progress) -> String {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let renewed = state
            .db
            .renew_lease(id, &state.node, LEASE_SECONDS, progress.fraction())
            .await;
        match renewed {
            Ok(true) => {}
            Ok(false) => return "it was cancelled or its lease passed to another worker".into(),
            // The database may come back before the lease runs out.
            Err(error) => eprintln!("stt: job {id}: cannot renew its lease: {error}"),
        }
    }
}

/// Runs a job: its result, and the minutes held for it.
async fn run(
    state: &AppState,
    job: &Job,
    progress: &Arc<Progress>,
) -> Result<(JobResult, Option<Reservation>), ApiError> {
    let Some(workers) = &state.workers else {
        return Err(ApiError::internal(
            "this node runs no transcription workers",
        ));
    };
    let audio = match (&job.audio_path, &job.url) {
        (Some(stored), _) => state
            .audio
            .local(stored, &state.tmp_dir)
            .await
            .map_err(ApiError::internal)?,
        (None, Some(url)) => {
            let local = LocalAudio::scratch(&state.tmp_dir);
            let policy = state.fetch_policy(job.max_bytes);
            fetch::fetch_to_file(url, &local.path, &policy).await?;
            local
        }
        (None, None) => return Err(ApiError::internal("the job has no audio")),
    };
    if !audio.path.is_file() {
        return Err(ApiError::internal("the job's audio is missing"));
    }
    let options = TranscribeOptions::from_json(&job.options)
        .map_err(|e| ApiError::internal(format!("stored options unreadable: {e}")))?;
    // A queued synchronous request's minutes are held by the API node that waits for it. An
    // asynchronous job holds its own, out of the key's quota as it is now (a job may wait).
    let quota = match (
        job.kind,
        job.budget_minutes,
        job.subject.strip_prefix("account:"),
    ) {
        (JobKind::Async, Some(_), Some(id)) => state
            .db
            .account(id)
            .await
            .map_err(ApiError::internal)?
            .and_then(|account| account.limits.monthly_minutes),
        _ => None,
    };
    let reservation = state.reserve(&job.subject, quota, &audio.path).await?;
    let budget_minutes = match job.kind {
        JobKind::Async => reservation.as_ref().map(|r| r.minutes),
        JobKind::Sync => job.budget_minutes,
    };
    let transcript = workers
        .run(Transcription {
            model: job.model.clone(),
            audio: audio.path.clone(),
            options,
            budget_minutes,
            max_seconds: state.config.max_duration as f64,
            progress: Arc::clone(progress),
        })
        .await?;
    let seconds = transcript.duration;
    // Both kinds keep the whole transcript: a queued request renders it for its caller, an
    // asynchronous job answers in Deepgram's shape and exports from it.
    let result = JobResult {
        body: serde_json::to_string(&transcript).map_err(|e| ApiError::internal(e.to_string()))?,
        seconds,
        transcript: (job.kind == JobKind::Async).then_some(transcript),
    };
    Ok((result, reservation))
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
            Ok(stored) => {
                for audio in stored {
                    state.audio.delete(&audio).await;
                }
            }
            Err(error) => eprintln!("stt: cannot delete old jobs: {error}"),
        }
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
}
