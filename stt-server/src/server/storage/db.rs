//! The embedded store (SQLite under the data directory): API keys (hashed), asynchronous jobs
//! and usage. Every call is one short statement, so one connection behind a mutex suffices.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, Row, params};
use sha2::{Digest, Sha256};

pub type DbResult<T> = Result<T, String>;

pub struct Db(Mutex<Connection>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Paid,
}

impl Plan {
    /// The seed's limits: (monthly minutes, upload MB, requests at once).
    pub fn defaults(self) -> (Option<u64>, u64, u32) {
        match self {
            Plan::Free => (Some(600), 500, 2),
            Plan::Paid => (None, 2048, 5),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub plan: Plan,
    /// Minutes of audio a calendar month (UTC); `None` is unlimited.
    pub monthly_minutes: Option<u64>,
    pub max_upload_mb: u64,
    pub concurrency: u32,
    pub created: String,
    pub revoked: bool,
}

/// Where an asynchronous job is: stored and answered (`GET /v1/stt/{id}`) as these words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Accepted, not yet taken by a runner (or put back after a stop).
    Waiting,
    /// Taken by a runner: downloading or transcribing.
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

    /// Completed or failed: the result is final and expires.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }
}

impl ToSql for JobStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for JobStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let text = value.as_str()?;
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| FromSqlError::Other(format!("unknown job status {text:?}").into()))
    }
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub subject: String,
    pub status: JobStatus,
    pub model: String,
    /// `TranscribeOptions` as JSON.
    pub options: String,
    pub audio_path: Option<String>,
    pub url: Option<String>,
    /// Minutes the caller had left when the job was accepted.
    pub budget_minutes: Option<u64>,
    /// The caller's size limit, for downloading `url`.
    pub max_bytes: u64,
    pub created_unix: i64,
    pub created: String,
    pub result: Option<String>,
    pub error: Option<String>,
}

/// Seconds since the Unix epoch: the clock of every stored time (jobs, usage).
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn hash_key(raw: &str) -> String {
    hex(&Sha256::digest(raw.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn sql(error: rusqlite::Error) -> String {
    format!("database error: {error}")
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, plan TEXT NOT NULL,
    monthly_minutes INTEGER, max_upload_mb INTEGER NOT NULL, concurrency INTEGER NOT NULL,
    created TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, subject TEXT NOT NULL, status TEXT NOT NULL, model TEXT NOT NULL,
    options TEXT NOT NULL, audio_path TEXT, url TEXT, budget_minutes INTEGER,
    max_bytes INTEGER NOT NULL,
    created_unix INTEGER NOT NULL, created TEXT NOT NULL, result TEXT, error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_unix);
CREATE TABLE IF NOT EXISTS usage (
    subject TEXT NOT NULL, at_unix INTEGER NOT NULL, seconds REAL NOT NULL,
    credits INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS usage_by_subject ON usage (subject, at_unix);
";

const JOB_COLUMNS: &str = "id, subject, status, model, options, audio_path, url, \
    budget_minutes, max_bytes, created_unix, created, result, error";

fn job_from_row(row: &Row) -> rusqlite::Result<Job> {
    Ok(Job {
        id: row.get(0)?,
        subject: row.get(1)?,
        status: row.get(2)?,
        model: row.get(3)?,
        options: row.get(4)?,
        audio_path: row.get(5)?,
        url: row.get(6)?,
        budget_minutes: row.get(7)?,
        max_bytes: row.get(8)?,
        created_unix: row.get(9)?,
        created: row.get(10)?,
        result: row.get(11)?,
        error: row.get(12)?,
    })
}

fn key_from_row(row: &Row) -> rusqlite::Result<ApiKey> {
    let plan: String = row.get(2)?;
    Ok(ApiKey {
        id: row.get(0)?,
        name: row.get(1)?,
        plan: if plan == "paid" {
            Plan::Paid
        } else {
            Plan::Free
        },
        monthly_minutes: row.get(3)?,
        max_upload_mb: row.get(4)?,
        concurrency: row.get(5)?,
        created: row.get(6)?,
        revoked: row.get(7)?,
    })
}

const KEY_COLUMNS: &str =
    "id, name, plan, monthly_minutes, max_upload_mb, concurrency, created, revoked";

impl Db {
    pub fn open(dir: &Path) -> DbResult<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("stt.db");
        let connection =
            Connection::open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // WAL lets `stt keys` work while the server runs; FULL sync keeps accepted jobs
        // through a power cut, not only a crash.
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(sql)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        connection.execute_batch(SCHEMA).map_err(sql)?;
        Ok(Self(Mutex::new(connection)))
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> DbResult<T> {
        // A panic while holding the lock cannot leave SQLite half-written: keep going.
        let connection = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&connection).map_err(sql)
    }

    pub fn insert_key(&self, key: &ApiKey, raw: &str) -> DbResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO keys (id, name, hash, plan, monthly_minutes, max_upload_mb,
                 concurrency, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    key.id,
                    key.name,
                    hash_key(raw),
                    if key.plan == Plan::Paid {
                        "paid"
                    } else {
                        "free"
                    },
                    key.monthly_minutes,
                    key.max_upload_mb,
                    key.concurrency,
                    key.created
                ],
            )
            .map(drop)
        })
    }

    pub fn keys(&self) -> DbResult<Vec<ApiKey>> {
        self.with(|c| {
            let mut statement =
                c.prepare(&format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY created"))?;
            statement.query_map([], key_from_row)?.collect()
        })
    }

    pub fn key_by_raw(&self, raw: &str) -> DbResult<Option<ApiKey>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {KEY_COLUMNS} FROM keys WHERE hash = ?1"),
                [hash_key(raw)],
                key_from_row,
            )
            .optional()
        })
    }

    pub fn key_by_id(&self, id: &str) -> DbResult<Option<ApiKey>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?1"),
                [id],
                key_from_row,
            )
            .optional()
        })
    }

    /// Whether a key with this id existed (revoking twice is not an error).
    pub fn revoke_key(&self, id: &str) -> DbResult<bool> {
        self.with(|c| c.execute("UPDATE keys SET revoked = 1 WHERE id = ?1", [id]))
            .map(|changed| changed > 0)
    }

    pub fn insert_job(&self, job: &Job) -> DbResult<()> {
        self.with(|c| {
            c.execute(
                &format!(
                    "INSERT INTO jobs ({JOB_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
                     ?10, ?11, ?12, ?13)"
                ),
                params![
                    job.id,
                    job.subject,
                    job.status,
                    job.model,
                    job.options,
                    job.audio_path,
                    job.url,
                    job.budget_minutes,
                    job.max_bytes,
                    job.created_unix,
                    job.created,
                    job.result,
                    job.error
                ],
            )
            .map(drop)
        })
    }

    pub fn job(&self, id: &str) -> DbResult<Option<Job>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?1"),
                [id],
                job_from_row,
            )
            .optional()
        })
    }

    /// Takes the oldest waiting job and marks it active.
    pub fn claim_job(&self) -> DbResult<Option<Job>> {
        self.with(|c| {
            c.query_row(
                &format!(
                    "UPDATE jobs SET status = ?1, attempts = attempts + 1 WHERE id = (SELECT id FROM jobs
                     WHERE status = ?2 ORDER BY created_unix, rowid LIMIT 1)
                     RETURNING {JOB_COLUMNS}"
                ),
                params![JobStatus::Active, JobStatus::Waiting],
                job_from_row,
            )
            .optional()
        })
    }

    /// Jobs a previous run left active go back to waiting, unless they were running at
    /// `max_attempts` stops already: input that brings the server down fails instead of doing
    /// it again at every start. Returns (requeued, failed).
    pub fn requeue_active_jobs(&self, max_attempts: u32) -> DbResult<(usize, usize)> {
        self.with(|c| {
            let failed = c.execute(
                "UPDATE jobs SET status = ?3, error = ?1
                 WHERE status = ?4 AND attempts >= ?2",
                params![
                    format!("the server stopped {max_attempts} times while running this job"),
                    max_attempts,
                    JobStatus::Failed,
                    JobStatus::Active
                ],
            )?;
            let requeued = c.execute(
                "UPDATE jobs SET status = ?1 WHERE status = ?2",
                params![JobStatus::Waiting, JobStatus::Active],
            )?;
            Ok((requeued, failed))
        })
    }

    pub fn set_audio_path(&self, id: &str, path: &str) -> DbResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET audio_path = ?2 WHERE id = ?1",
                params![id, path],
            )
            .map(drop)
        })
    }

    pub fn finish_job(&self, id: &str, outcome: Result<String, String>) -> DbResult<()> {
        let (status, result, error) = match outcome {
            Ok(result) => (JobStatus::Completed, Some(result), None),
            Err(error) => (JobStatus::Failed, None, Some(error)),
        };
        self.with(|c| {
            c.execute(
                "UPDATE jobs SET status = ?2, result = ?3, error = ?4 WHERE id = ?1",
                params![id, status, result, error],
            )
            .map(drop)
        })
    }

    /// Jobs of `subject` not yet completed or failed.
    pub fn unfinished_jobs(&self, subject: &str) -> DbResult<u32> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM jobs WHERE subject = ?1 AND status IN (?2, ?3)",
                params![subject, JobStatus::Waiting, JobStatus::Active],
                |row| row.get(0),
            )
        })
    }

    /// Deletes the jobs created before `cutoff_unix` and returns their audio files.
    pub fn delete_jobs_before(&self, cutoff_unix: i64) -> DbResult<Vec<String>> {
        self.with(|c| {
            let mut statement = c.prepare(
                "DELETE FROM jobs WHERE created_unix < ?1 AND status IN (?2, ?3)
                 RETURNING audio_path",
            )?;
            let paths = statement.query_map(
                params![cutoff_unix, JobStatus::Completed, JobStatus::Failed],
                |row| row.get::<_, Option<String>>(0),
            )?;
            paths.filter_map(|p| p.transpose()).collect()
        })
    }

    pub fn record_usage(&self, subject: &str, at_unix: i64, seconds: f64) -> DbResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO usage (subject, at_unix, seconds, credits) VALUES (?1, ?2, ?3, ?4)",
                params![subject, at_unix, seconds, credits(seconds)],
            )
            .map(drop)
        })
    }

    /// (transcriptions, credits) of `subject` since `since_unix`.
    pub fn usage_since(&self, subject: &str, since_unix: i64) -> DbResult<(u64, u64)> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(credits), 0) FROM usage
                 WHERE subject = ?1 AND at_unix >= ?2",
                params![subject, since_unix],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
        })
    }
}

/// 1 credit = 1 minute of audio, rounded up.
pub fn credits(seconds: f64) -> u64 {
    (seconds / 60.0).ceil().max(0.0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(id: &str, created_unix: i64) -> Job {
        Job {
            id: id.into(),
            subject: "key:a".into(),
            status: JobStatus::Waiting,
            model: "base".into(),
            options: "{}".into(),
            audio_path: Some(format!("/tmp/{id}")),
            url: None,
            budget_minutes: None,
            max_bytes: 1,
            created_unix,
            created: String::new(),
            result: None,
            error: None,
        }
    }

    #[test]
    fn jobs_are_claimed_oldest_first_and_survive_reopening() {
        let dir = std::env::temp_dir().join(format!("stt-db-{}", uuid::Uuid::new_v4()));
        let db = Db::open(&dir).unwrap();
        db.insert_job(&job("new", 20)).unwrap();
        db.insert_job(&job("old", 10)).unwrap();
        assert_eq!(db.claim_job().unwrap().unwrap().id, "old");
        assert_eq!(db.unfinished_jobs("key:a").unwrap(), 2);
        drop(db);

        let db = Db::open(&dir).unwrap();
        assert_eq!(db.requeue_active_jobs(2).unwrap(), (1, 0));
        assert_eq!(db.claim_job().unwrap().unwrap().id, "old");
        // Active at a second stop: failed, with the reason.
        assert_eq!(db.requeue_active_jobs(2).unwrap(), (0, 1));
        let error = db.job("old").unwrap().unwrap().error.unwrap();
        assert!(error.contains("stopped 2 times"), "{error}");
        db.finish_job("old", Err("broken".into())).unwrap();
        assert_eq!(
            db.job("old").unwrap().unwrap().error.as_deref(),
            Some("broken")
        );
        assert_eq!(
            db.delete_jobs_before(15).unwrap(),
            vec!["/tmp/old".to_string()]
        );
        assert!(db.job("old").unwrap().is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn job_statuses_are_stored_as_the_words_of_the_contract() {
        let dir = std::env::temp_dir().join(format!("stt-db-{}", uuid::Uuid::new_v4()));
        let db = Db::open(&dir).unwrap();
        let stored = |db: &Db| {
            db.with(|c| c.query_row("SELECT status FROM jobs", [], |row| row.get::<_, String>(0)))
                .unwrap()
        };
        db.insert_job(&job("a", 1)).unwrap();
        assert_eq!(stored(&db), "waiting");
        assert_eq!(db.claim_job().unwrap().unwrap().status, JobStatus::Active);
        assert_eq!(stored(&db), "active");
        db.finish_job("a", Ok("{}".into())).unwrap();
        assert_eq!(stored(&db), "completed");
        assert_eq!(db.job("a").unwrap().unwrap().status, JobStatus::Completed);
        db.finish_job("a", Err("broken".into())).unwrap();
        assert_eq!(stored(&db), "failed");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn keys_are_stored_hashed_and_usage_is_counted_in_credits() {
        let dir = std::env::temp_dir().join(format!("stt-db-{}", uuid::Uuid::new_v4()));
        let db = Db::open(&dir).unwrap();
        let key = ApiKey {
            id: "k1".into(),
            name: "test".into(),
            plan: Plan::Free,
            monthly_minutes: Some(600),
            max_upload_mb: 500,
            concurrency: 2,
            created: "now".into(),
            revoked: false,
        };
        db.insert_key(&key, "stt_secret").unwrap();
        assert_eq!(db.key_by_raw("stt_secret").unwrap().unwrap().id, "k1");
        assert!(db.key_by_raw("stt_other").unwrap().is_none());
        assert!(db.revoke_key("k1").unwrap());
        assert!(db.key_by_raw("stt_secret").unwrap().unwrap().revoked);

        db.record_usage("key:k1", 100, 61.0).unwrap();
        db.record_usage("key:k1", 200, 11.0).unwrap();
        assert_eq!(db.usage_since("key:k1", 0).unwrap(), (2, 3));
        assert_eq!(db.usage_since("key:k1", 150).unwrap(), (1, 1));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
