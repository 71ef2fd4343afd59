//! The job queue. A worker claims the oldest waiting job as a lease (`FOR UPDATE SKIP
//! LOCKED` on PostgreSQL, so workers never wait on each other's rows), renews it while it
//! works, and writes the result and the usage once, in one transaction, only while the lease
//! is its own. A lease that runs out (its worker died) is taken over, up to `MAX_ATTEMPTS`.

use stt_core::Transcript;

use super::db::{Db, credits, now_unix};
use super::sql::{DbResult, Row, params};
use super::transcripts::{self, TranscriptRecord};

/// Times a job may be started before it is failed rather than started again: input that
/// brings a worker down does not bring down the next one.
pub const MAX_ATTEMPTS: i64 = 2;

/// Where an asynchronous job is: stored and answered (`GET /v1/stt/{id}`) as these words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Accepted, not yet taken by a worker (or put back after a stop).
    Waiting,
    /// Leased by a worker: downloading or transcribing.
    Active,
    Completed,
    Failed,
}

impl JobStatus {
    const ALL: [JobStatus; 4] = [Self::Waiting, Self::Active, Self::Completed, Self::Failed];

    /// The word of the service contract and of the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> DbResult<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| format!("unknown job status {text:?}"))
    }

    /// Completed or failed: the result is final and expires.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

/// What a job answers: an asynchronous job its Deepgram-shaped result (`GET /v1/stt/{id}`);
/// a synchronous request that an API node queued for the workers, the transcript it renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Async,
    Sync,
}

impl JobKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Async => "async",
            Self::Sync => "sync",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub kind: JobKind,
    pub subject: String,
    pub status: JobStatus,
    pub model: String,
    /// `TranscribeOptions` as JSON.
    pub options: String,
    /// Where the audio is kept (`storage::audio`), once it is there.
    pub audio_path: Option<String>,
    pub url: Option<String>,
    /// Minutes the caller had left when the job was accepted.
    pub budget_minutes: Option<u64>,
    /// The caller's size limit, for downloading `url`.
    pub max_bytes: u64,
    /// The audio's length when its header told it at upload (queued seconds).
    pub audio_seconds: Option<f64>,
    pub created_unix: i64,
    pub created: String,
    pub result: Option<String>,
    pub error: Option<String>,
    /// How far an active job has got, from 0 to 1, as its worker last reported.
    pub progress: Option<f64>,
}

/// Why a job was failed by `cancel_job`.
pub const CANCELLED: &str = "cancelled by its creator";

/// A job's successful outcome.
pub struct JobResult {
    /// What the job answers with (`Job::result`).
    pub body: String,
    /// Seconds of audio to charge.
    pub seconds: f64,
    /// For the workspace, when an asynchronous job's transcript is kept.
    pub transcript: Option<Transcript>,
}

/// What `finish_job` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Finished {
    Stored,
    /// The lease had passed to another worker (or the job was finished already): nothing
    /// was written.
    LeaseLost,
}

const JOB_COLUMNS: &str = "id, kind, subject, status, model, options, audio_path, url, \
    budget_minutes, max_bytes, audio_seconds, created_unix, created, result, error, progress";

fn job_from_row(row: &Row) -> DbResult<Job> {
    Ok(Job {
        id: row.text(0)?,
        kind: if row.text(1)? == "sync" {
            JobKind::Sync
        } else {
            JobKind::Async
        },
        subject: row.text(2)?,
        status: JobStatus::parse(&row.text(3)?)?,
        model: row.text(4)?,
        options: row.text(5)?,
        audio_path: row.opt_text(6)?,
        url: row.opt_text(7)?,
        budget_minutes: row.opt_int(8)?.map(|m| m.max(0) as u64),
        max_bytes: row.count(9)?,
        audio_seconds: row.opt_real(10)?,
        created_unix: row.int(11)?,
        created: row.text(12)?,
        result: row.opt_text(13)?,
        error: row.opt_text(14)?,
        progress: row.opt_real(15)?,
    })
}

/// (jobs, seconds of audio whose length is known) waiting in the queue, and jobs by status.
#[derive(Debug, Default, Clone)]
pub struct QueueStats {
    pub waiting: u64,
    pub waiting_seconds: f64,
    pub by_status: Vec<(&'static str, u64)>,
}

impl Db {
    /// Stores `job`, and with it the workspace's record of its transcript when it is kept.
    pub async fn insert_job(
        &self,
        job: &Job,
        transcript: Option<&TranscriptRecord>,
    ) -> DbResult<()> {
        let sql = format!(
            "INSERT INTO jobs ({JOB_COLUMNS}, queued_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
             $9, $10, $11, $12, $13, $14, $15, $16, $17)"
        );
        let mut tx = self.engine.begin_locked(&format!("job {}", job.id)).await?;
        tx.execute(
            &sql,
            params![
                job.id.as_str(),
                job.kind.as_str(),
                job.subject.as_str(),
                job.status.as_str(),
                job.model.as_str(),
                job.options.as_str(),
                job.audio_path.clone(),
                job.url.clone(),
                job.budget_minutes.map(|m| m as i64),
                job.max_bytes as i64,
                job.audio_seconds,
                job.created_unix,
                job.created.as_str(),
                job.result.clone(),
                job.error.clone(),
                job.progress,
                chrono::Utc::now().timestamp_millis()
            ],
        )
        .await?;
        if let Some(record) = transcript {
            transcripts::insert(&mut tx, record, None).await?;
        }
        tx.commit().await?;
        self.notify_jobs_waiting().await;
        Ok(())
    }

    pub async fn job(&self, id: &str) -> DbResult<Option<Job>> {
        let sql = format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1");
        let row = self.engine.query_opt(&sql, params![id]).await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Leases the oldest waiting job (or one whose lease ran out) to `worker` for
    /// `lease_seconds`. Jobs whose lease ran out at their last attempt are failed first.
    pub async fn claim_job(&self, worker: &str, lease_seconds: i64) -> DbResult<Option<Job>> {
        let now = now_unix();
        self.engine
            .execute(
                "UPDATE jobs SET status = $1, error = $2, lease_until = 0
                 WHERE status = $3 AND lease_until < $4 AND attempts >= $5",
                params![
                    JobStatus::Failed.as_str(),
                    format!("the worker stopped {MAX_ATTEMPTS} times while running this job"),
                    JobStatus::Active.as_str(),
                    now,
                    MAX_ATTEMPTS
                ],
            )
            .await?;
        let skip_locked = if self.engine.is_postgres() {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE jobs SET status = $1, attempts = attempts + 1, worker = $2, lease_until = $3
             WHERE id = (SELECT id FROM jobs
                 WHERE status = $4 OR (status = $1 AND lease_until < $5)
                 ORDER BY created_unix, queued_ms LIMIT 1 {skip_locked})
             RETURNING {JOB_COLUMNS}"
        );
        let row = self
            .engine
            .query_opt(
                &sql,
                params![
                    JobStatus::Active.as_str(),
                    worker,
                    now + lease_seconds,
                    JobStatus::Waiting.as_str(),
                    now
                ],
            )
            .await?;
        row.as_ref().map(job_from_row).transpose()
    }

    /// Extends `worker`'s lease on job `id` and records its `progress` (0 to 1); `false`
    /// when the lease is no longer its own (taken over, cancelled or deleted).
    pub async fn renew_lease(
        &self,
        id: &str,
        worker: &str,
        lease_seconds: i64,
        progress: f64,
    ) -> DbResult<bool> {
        let changed = self
            .engine
            .execute(
                "UPDATE jobs SET lease_until = $3, progress = $5
                 WHERE id = $1 AND worker = $2 AND status = $4",
                params![
                    id,
                    worker,
                    now_unix() + lease_seconds,
                    JobStatus::Active.as_str(),
                    progress.clamp(0.0, 1.0)
                ],
            )
            .await?;
        Ok(changed > 0)
    }

    /// Fails job `id` of `subject` if it is waiting or active (its worker then finds its
    /// lease gone at the next renewal and stops), with its workspace record. The status the
    /// job had, or `None` for no such job of `subject`.
    pub async fn cancel_job(&self, id: &str, subject: &str) -> DbResult<Option<JobStatus>> {
        let mut tx = self.engine.begin_locked(&format!("job {id}")).await?;
        let rows = tx
            .query(
                "SELECT status FROM jobs WHERE id = $1 AND subject = $2 AND kind = $3",
                params![id, subject, JobKind::Async.as_str()],
            )
            .await?;
        let Some(status) = rows.first().map(|row| row.text(0)).transpose()? else {
            return Ok(None);
        };
        let status = JobStatus::parse(&status)?;
        if !status.is_finished() {
            transcripts::finish_job_transcript(&mut tx, id, Err(CANCELLED)).await?;
            tx.execute(
                "UPDATE jobs SET status = $2, error = $3, lease_until = 0 WHERE id = $1",
                params![id, JobStatus::Failed.as_str(), CANCELLED],
            )
            .await?;
        }
        tx.commit().await?;
        if !status.is_finished() {
            self.notify_job_finished(id).await;
        }
        Ok(Some(status))
    }

    /// Every lease of a server that stopped: with SQLite the one server is the only worker,
    /// so what it held at its last stop can be taken again at once.
    pub async fn expire_leases(&self) -> DbResult<u64> {
        self.engine
            .execute(
                "UPDATE jobs SET lease_until = 0 WHERE status = $1",
                params![JobStatus::Active.as_str()],
            )
            .await
    }

    /// Deletes job `id` whatever its state (a queued synchronous request, answered or
    /// abandoned): a worker running it then finds its lease gone and stores nothing.
    pub async fn delete_job(&self, id: &str) -> DbResult<()> {
        self.engine
            .execute("DELETE FROM jobs WHERE id = $1", params![id])
            .await
            .map(drop)
    }

    /// Stores the outcome of `worker`'s lease on job `id` and, on success, the usage of its
    /// audio and the workspace's transcript, all or nothing, once per job whatever happens
    /// around it.
    pub async fn finish_job(
        &self,
        id: &str,
        worker: &str,
        outcome: Result<JobResult, String>,
    ) -> DbResult<Finished> {
        let mut tx = self.engine.begin_locked(&format!("job {id}")).await?;
        let owner = tx
            .query(
                "SELECT subject FROM jobs WHERE id = $1 AND worker = $2 AND status = $3",
                params![id, worker, JobStatus::Active.as_str()],
            )
            .await?;
        let Some(subject) = owner.first().map(|row| row.text(0)).transpose()? else {
            return Ok(Finished::LeaseLost);
        };
        let (status, result, error) = match outcome {
            Ok(done) => {
                tx.execute(
                    "INSERT INTO usage (subject, at_unix, seconds, credits, job_id)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (job_id) DO NOTHING",
                    params![
                        subject,
                        now_unix(),
                        done.seconds,
                        credits(done.seconds) as i64,
                        id
                    ],
                )
                .await?;
                if let Some(transcript) = &done.transcript {
                    transcripts::finish_job_transcript(&mut tx, id, Ok(transcript)).await?;
                }
                (JobStatus::Completed, Some(done.body), None)
            }
            Err(error) => {
                transcripts::finish_job_transcript(&mut tx, id, Err(&error)).await?;
                (JobStatus::Failed, None, Some(error))
            }
        };
        tx.execute(
            "UPDATE jobs SET status = $2, result = $3, error = $4, lease_until = 0 WHERE id = $1",
            params![id, status.as_str(), result, error],
        )
        .await?;
        tx.commit().await?;
        self.notify_job_finished(id).await;
        Ok(Finished::Stored)
    }

    /// Asynchronous jobs of `subject` not yet completed or failed (a queued synchronous request
    /// holds its caller's request slot already).
    pub async fn unfinished_jobs(&self, subject: &str) -> DbResult<u32> {
        let mut conn = self.engine.conn().await?;
        unfinished_jobs(&mut conn, subject).await
    }

    /// Deletes the jobs created before `cutoff_unix` and returns where their audio was.
    pub async fn delete_jobs_before(&self, cutoff_unix: i64) -> DbResult<Vec<String>> {
        let rows = self
            .engine
            .query(
                "DELETE FROM jobs WHERE created_unix < $1 AND status IN ($2, $3)
                 RETURNING audio_path",
                params![
                    cutoff_unix,
                    JobStatus::Completed.as_str(),
                    JobStatus::Failed.as_str()
                ],
            )
            .await?;
        let paths = rows.iter().map(|row| row.opt_text(0));
        paths.filter_map(Result::transpose).collect()
    }

    /// The queue as the metrics report it.
    pub async fn queue_stats(&self) -> DbResult<QueueStats> {
        let rows = self
            .engine
            .query(
                "SELECT status, COUNT(*), COALESCE(SUM(audio_seconds), 0) FROM jobs
                 GROUP BY status",
                &[],
            )
            .await?;
        let mut stats = QueueStats::default();
        for status in JobStatus::ALL {
            let row = rows
                .iter()
                .find(|row| row.text(0).ok().as_deref() == Some(status.as_str()));
            let count = row.map(|row| row.count(1)).transpose()?.unwrap_or(0);
            if status == JobStatus::Waiting {
                stats.waiting = count;
                stats.waiting_seconds = row.map(|row| row.real(2)).transpose()?.unwrap_or(0.0);
            }
            stats.by_status.push((status.as_str(), count));
        }
        Ok(stats)
    }
}

pub(super) async fn unfinished_jobs(conn: &mut super::sql::Conn, subject: &str) -> DbResult<u32> {
    let rows = conn
        .query(
            "SELECT COUNT(*) FROM jobs WHERE subject = $1 AND status IN ($2, $3) AND kind = $4",
            params![
                subject,
                JobStatus::Waiting.as_str(),
                JobStatus::Active.as_str(),
                JobKind::Async.as_str()
            ],
        )
        .await?;
    rows.first().ok_or("no row from COUNT")?.count(0)
}

#[cfg(test)]
mod tests {
    use super::super::db::tests::test_db;
    use super::*;

    fn done(body: &str) -> JobResult {
        JobResult {
            body: body.into(),
            seconds: 61.0,
            transcript: None,
        }
    }

    fn job(id: &str, created_unix: i64) -> Job {
        Job {
            id: id.into(),
            kind: JobKind::Async,
            subject: "account:a".into(),
            status: JobStatus::Waiting,
            model: "base".into(),
            options: "{}".into(),
            audio_path: Some(format!("/tmp/{id}")),
            url: None,
            budget_minutes: None,
            max_bytes: 1,
            audio_seconds: Some(30.0),
            created_unix,
            created: String::new(),
            result: None,
            error: None,
            progress: None,
        }
    }

    #[tokio::test]
    async fn renewals_record_progress_and_a_cancelled_job_loses_its_lease() {
        let (db, _dir) = test_db().await;
        db.insert_job(&job("a", 10), None).await.unwrap();
        db.insert_job(&job("b", 20), None).await.unwrap();
        db.claim_job("w1", 60).await.unwrap().unwrap();
        assert!(db.renew_lease("a", "w1", 60, 0.25).await.unwrap());
        assert_eq!(db.job("a").await.unwrap().unwrap().progress, Some(0.25));

        assert_eq!(db.cancel_job("a", "account:other").await.unwrap(), None);
        let cancel = async |id| db.cancel_job(id, "account:a").await.unwrap();
        assert_eq!(cancel("a").await, Some(JobStatus::Active));
        assert!(!db.renew_lease("a", "w1", 60, 0.5).await.unwrap());
        let cancelled = db.job("a").await.unwrap().unwrap();
        assert_eq!(cancelled.status, JobStatus::Failed);
        assert_eq!(cancelled.error.as_deref(), Some(CANCELLED));
        let late = db.finish_job("a", "w1", Ok(done("{}"))).await.unwrap();
        assert_eq!(late, Finished::LeaseLost);
        // A waiting job is never claimed once cancelled; a finished one stays as it was.
        assert_eq!(cancel("b").await, Some(JobStatus::Waiting));
        assert!(db.claim_job("w1", 60).await.unwrap().is_none());
        assert_eq!(cancel("a").await, Some(JobStatus::Failed));
        assert_eq!(db.usage_since("account:a", 0).await.unwrap(), (0, 0));
    }

    #[tokio::test]
    async fn jobs_are_claimed_oldest_first_once_and_taken_over_when_a_lease_runs_out() {
        let (db, dir) = test_db().await;
        db.insert_job(&job("new", 20), None).await.unwrap();
        db.insert_job(&job("old", 10), None).await.unwrap();
        let stats = db.queue_stats().await.unwrap();
        assert_eq!((stats.waiting, stats.waiting_seconds), (2, 60.0));
        assert_eq!(db.claim_job("w1", 60).await.unwrap().unwrap().id, "old");
        assert_eq!(db.claim_job("w2", 60).await.unwrap().unwrap().id, "new");
        assert!(db.claim_job("w3", 60).await.unwrap().is_none());
        assert_eq!(db.unfinished_jobs("account:a").await.unwrap(), 2);

        // w1 dies: its lease runs out and w3 takes the job over; w1's late result is dropped.
        assert!(db.renew_lease("old", "w1", -1, 0.0).await.unwrap());
        let taken = db.claim_job("w3", 60).await.unwrap().unwrap();
        assert_eq!(taken.id, "old");
        assert!(!db.renew_lease("old", "w1", 60, 0.0).await.unwrap());
        let late = db.finish_job("old", "w1", Ok(done("{}"))).await;
        assert_eq!(late.unwrap(), Finished::LeaseLost);
        assert_eq!(
            db.finish_job("old", "w3", Ok(done("{\"a\":1}")))
                .await
                .unwrap(),
            Finished::Stored
        );
        // Finishing again writes nothing: one result, one usage row.
        assert_eq!(
            db.finish_job("old", "w3", Ok(done("{}"))).await.unwrap(),
            Finished::LeaseLost
        );
        let done = db.job("old").await.unwrap().unwrap();
        assert_eq!(done.status, JobStatus::Completed);
        assert_eq!(done.result.as_deref(), Some("{\"a\":1}"));
        assert_eq!(db.usage_since("account:a", 0).await.unwrap(), (1, 2));

        // Its second lease runs out too: the job fails instead of being started a third time.
        assert!(db.renew_lease("new", "w2", -1, 0.0).await.unwrap());
        assert_eq!(db.claim_job("w1", 60).await.unwrap().unwrap().id, "new");
        assert!(db.renew_lease("new", "w1", -1, 0.0).await.unwrap());
        assert!(db.claim_job("w2", 60).await.unwrap().is_none());
        let failed = db.job("new").await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert!(failed.error.unwrap().contains("stopped 2 times"));

        assert_eq!(
            db.delete_jobs_before(15).await.unwrap(),
            vec!["/tmp/old".to_string()]
        );
        assert!(db.job("old").await.unwrap().is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn workers_claiming_at_once_take_each_job_exactly_once() {
        let (db, dir) = test_db().await;
        for i in 0..40 {
            db.insert_job(&job(&format!("j{i:02}"), i), None)
                .await
                .unwrap();
        }
        let claimers = (0..4).map(|w| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut taken = Vec::new();
                while let Some(job) = db.claim_job(&format!("w{w}"), 60).await.unwrap() {
                    taken.push(job.id);
                }
                taken
            })
        });
        let mut all = Vec::new();
        for claimer in claimers {
            all.extend(claimer.await.unwrap());
        }
        all.sort();
        let expected: Vec<String> = (0..40).map(|i| format!("j{i:02}")).collect();
        assert_eq!(all, expected);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_stopped_servers_leases_expire_at_its_next_start() {
        let (db, dir) = test_db().await;
        db.insert_job(&job("a", 1), None).await.unwrap();
        db.claim_job("old-run", 600).await.unwrap().unwrap();
        assert!(db.claim_job("new-run", 600).await.unwrap().is_none());
        db.expire_leases().await.unwrap();
        let job = db.claim_job("new-run", 600).await.unwrap().unwrap();
        assert_eq!(job.status, JobStatus::Active);
        let _ = std::fs::remove_dir_all(dir);
    }
}
