//! The server's state: API keys (hashed), asynchronous jobs (`jobs.rs`), usage, and the
//! requests and minutes held by work in progress (`holds.rs`). SQLite under the data
//! directory by default, or PostgreSQL (`--database postgres://...`) shared by many servers:
//! the same statements and migrations on both (`sql.rs`).

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::events::Events;
use super::sql::{DbResult, Engine, params};

#[derive(Clone)]
pub struct Db {
    pub(super) engine: Engine,
    pub events: Arc<Events>,
    /// Where the notification listener connects (PostgreSQL only).
    pub(super) listen: Option<tokio_postgres::Config>,
}

/// Seconds since the Unix epoch: the clock of every stored time (jobs, usage, holds).
pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn hash_key(raw: &str) -> String {
    hex(&Sha256::digest(raw.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The schema, one step per release that changed it, applied in order at start. Types are
/// the ones both engines read alike.
const MIGRATIONS: &[&str] = &[
    // 1: keys, jobs and usage of the single-server release.
    "CREATE TABLE IF NOT EXISTS keys (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, plan TEXT NOT NULL,
        monthly_minutes BIGINT, max_upload_mb BIGINT NOT NULL, concurrency BIGINT NOT NULL,
        created TEXT NOT NULL, revoked BIGINT NOT NULL DEFAULT 0);
    CREATE TABLE IF NOT EXISTS jobs (
        id TEXT PRIMARY KEY, subject TEXT NOT NULL, status TEXT NOT NULL, model TEXT NOT NULL,
        options TEXT NOT NULL, audio_path TEXT, url TEXT, budget_minutes BIGINT,
        max_bytes BIGINT NOT NULL, created_unix BIGINT NOT NULL, created TEXT NOT NULL,
        result TEXT, error TEXT, attempts BIGINT NOT NULL DEFAULT 0);
    CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created_unix);
    CREATE TABLE IF NOT EXISTS usage (
        subject TEXT NOT NULL, at_unix BIGINT NOT NULL, seconds DOUBLE PRECISION NOT NULL,
        credits BIGINT NOT NULL);
    CREATE INDEX IF NOT EXISTS usage_by_subject ON usage (subject, at_unix);",
    // 2: many servers on one database. Jobs are leased by a worker, usage is recorded once
    // per job, and requests and minutes in progress are rows that expire with their server.
    "ALTER TABLE jobs ADD COLUMN queued_ms BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'async';
    ALTER TABLE jobs ADD COLUMN worker TEXT;
    ALTER TABLE jobs ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN audio_seconds DOUBLE PRECISION;
    ALTER TABLE usage ADD COLUMN job_id TEXT;
    CREATE UNIQUE INDEX IF NOT EXISTS usage_by_job ON usage (job_id);
    CREATE TABLE IF NOT EXISTS holds (
        id TEXT PRIMARY KEY, subject TEXT NOT NULL, node TEXT NOT NULL,
        slots BIGINT NOT NULL, minutes BIGINT NOT NULL, expires_unix BIGINT NOT NULL);
    CREATE INDEX IF NOT EXISTS holds_by_subject ON holds (subject, expires_unix);
    CREATE INDEX IF NOT EXISTS holds_by_node ON holds (node);",
    // 3: accounts, each key in one (a key made before is an account of its own, under the
    // key's id, with its limits), and the stored transcripts of the workspace. Usage, jobs
    // and holds are kept under the account from now on.
    "CREATE TABLE IF NOT EXISTS accounts (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT, email_preferences TEXT NOT NULL,
        plan TEXT NOT NULL, monthly_minutes BIGINT, max_upload_mb BIGINT NOT NULL,
        concurrency BIGINT NOT NULL, created TEXT NOT NULL);
    INSERT INTO accounts (id, name, email, email_preferences, plan, monthly_minutes,
        max_upload_mb, concurrency, created)
        SELECT id, name, NULL, '{}', plan, monthly_minutes, max_upload_mb, concurrency, created
        FROM keys;
    ALTER TABLE keys ADD COLUMN account_id TEXT;
    ALTER TABLE keys ADD COLUMN prefix TEXT;
    UPDATE keys SET account_id = id;
    ALTER TABLE keys DROP COLUMN plan;
    ALTER TABLE keys DROP COLUMN monthly_minutes;
    ALTER TABLE keys DROP COLUMN max_upload_mb;
    ALTER TABLE keys DROP COLUMN concurrency;
    CREATE INDEX IF NOT EXISTS keys_by_account ON keys (account_id);
    UPDATE usage SET subject = 'account:' || substr(subject, 5) WHERE subject LIKE 'key:%';
    UPDATE jobs SET subject = 'account:' || substr(subject, 5) WHERE subject LIKE 'key:%';
    UPDATE holds SET subject = 'account:' || substr(subject, 5) WHERE subject LIKE 'key:%';
    CREATE TABLE IF NOT EXISTS transcripts (
        id TEXT PRIMARY KEY, account_id TEXT NOT NULL, job_id TEXT, status TEXT NOT NULL,
        source TEXT NOT NULL, file_name TEXT, language TEXT, duration DOUBLE PRECISION,
        model TEXT NOT NULL, speakers TEXT NOT NULL, text TEXT NOT NULL,
        search_text TEXT NOT NULL, body TEXT, error TEXT, created_ms BIGINT NOT NULL,
        created TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS transcripts_by_account ON transcripts (account_id, created_ms);
    CREATE INDEX IF NOT EXISTS transcripts_by_job ON transcripts (job_id);",
    // 4: chat over stored transcripts: each transcript's segment embeddings, computed once,
    // and the conversations (by account and session id).
    "CREATE TABLE IF NOT EXISTS transcript_embeddings (
        transcript_id TEXT PRIMARY KEY, model TEXT NOT NULL, vectors TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS chat_sessions (
        account_id TEXT NOT NULL, id TEXT NOT NULL, transcript_id TEXT NOT NULL,
        turns TEXT NOT NULL, updated_ms BIGINT NOT NULL, PRIMARY KEY (account_id, id));
    CREATE INDEX IF NOT EXISTS chat_sessions_by_transcript ON chat_sessions (transcript_id);",
    // 5: how far an active job has got (0 to 1), written by its worker with each renewal.
    "ALTER TABLE jobs ADD COLUMN progress DOUBLE PRECISION;",
];

impl Db {
    /// `database`: a `postgres://` URL, or none for SQLite under `data_dir`. The schema is
    /// brought up to date.
    pub async fn open(database: Option<&str>, data_dir: &Path) -> DbResult<Self> {
        let mut listen = None;
        let engine = match database {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                listen = Some(url.parse().map_err(|e| format!("--database: {e}"))?);
                Engine::connect_postgres(url).await?
            }
            Some(other) => {
                return Err(format!(
                    "--database {other:?}: expected postgres://user:password@host:port/name \
                     (leave it out for SQLite under the data directory)"
                ));
            }
            None => Engine::open_sqlite(data_dir)?,
        };
        engine.migrate(MIGRATIONS).await?;
        Ok(Self {
            engine,
            events: Arc::default(),
            listen,
        })
    }

    /// Whether many servers may share this database (PostgreSQL).
    pub fn is_shared(&self) -> bool {
        self.engine.is_postgres()
    }

    /// Usage of a synchronous request or a stream (jobs record theirs with the result).
    pub async fn record_usage(&self, subject: &str, at_unix: i64, seconds: f64) -> DbResult<()> {
        self.engine
            .execute(
                "INSERT INTO usage (subject, at_unix, seconds, credits) VALUES ($1, $2, $3, $4)",
                params![subject, at_unix, seconds, credits(seconds) as i64],
            )
            .await
            .map(drop)
    }

    /// (day as days since the epoch, requests, seconds, credits) of `subject` since
    /// `since_unix`, for the days with any.
    pub async fn usage_by_day(
        &self,
        subject: &str,
        since_unix: i64,
    ) -> DbResult<Vec<(i64, u64, f64, u64)>> {
        let rows = self
            .engine
            .query(
                "SELECT at_unix / 86400, COUNT(*), SUM(seconds), CAST(SUM(credits) AS BIGINT)
                 FROM usage WHERE subject = $1 AND at_unix >= $2 GROUP BY at_unix / 86400",
                params![subject, since_unix],
            )
            .await?;
        rows.iter()
            .map(|row| Ok((row.int(0)?, row.count(1)?, row.real(2)?, row.count(3)?)))
            .collect()
    }

    /// (transcriptions, credits) of `subject` since `since_unix`.
    pub async fn usage_since(&self, subject: &str, since_unix: i64) -> DbResult<(u64, u64)> {
        let mut conn = self.engine.conn().await?;
        usage_since(&mut conn, subject, since_unix).await
    }
}

pub(super) async fn usage_since(
    conn: &mut super::sql::Conn,
    subject: &str,
    since_unix: i64,
) -> DbResult<(u64, u64)> {
    let rows = conn
        .query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(credits), 0) AS BIGINT) FROM usage
             WHERE subject = $1 AND at_unix >= $2",
            params![subject, since_unix],
        )
        .await?;
    let row = rows.first().ok_or("no row from COUNT")?;
    Ok((row.count(0)?, row.count(1)?))
}

/// 1 credit = 1 minute of audio, rounded up.
pub fn credits(seconds: f64) -> u64 {
    (seconds / 60.0).ceil().max(0.0) as u64
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A store for one test: SQLite in a new directory, or a fresh schema of the PostgreSQL
    /// server in `STT_TEST_DATABASE` when the test suite runs against it.
    pub async fn test_db() -> (Db, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("stt-db-{}", uuid::Uuid::new_v4()));
        let db = match std::env::var("STT_TEST_DATABASE") {
            Ok(url) if !url.is_empty() => {
                let schema = format!("t{}", uuid::Uuid::new_v4().simple());
                let admin = Engine::connect_postgres(&url).await.unwrap();
                admin
                    .execute(&format!("CREATE SCHEMA {schema}"), &[])
                    .await
                    .unwrap();
                let separator = if url.contains('?') { '&' } else { '?' };
                let url = format!("{url}{separator}options=-csearch_path%3D{schema}");
                Db::open(Some(&url), &dir).await.unwrap()
            }
            _ => Db::open(None, &dir).await.unwrap(),
        };
        (db, dir)
    }

    #[tokio::test]
    async fn usage_is_counted_in_credits_and_by_day() {
        let (db, dir) = test_db().await;
        db.record_usage("account:a", 100, 61.0).await.unwrap();
        db.record_usage("account:a", 200, 11.0).await.unwrap();
        db.record_usage("account:a", 86_400 + 5, 30.0)
            .await
            .unwrap();
        assert_eq!(db.usage_since("account:a", 0).await.unwrap(), (3, 4));
        assert_eq!(db.usage_since("account:a", 150).await.unwrap(), (2, 2));
        let mut days = db.usage_by_day("account:a", 0).await.unwrap();
        days.sort_by_key(|day| day.0);
        assert_eq!(days, vec![(0, 2, 72.0, 3), (1, 1, 30.0, 1)]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn keys_made_before_accounts_become_accounts_of_their_own() {
        let dir = std::env::temp_dir().join(format!("stt-db-{}", uuid::Uuid::new_v4()));
        let engine = Engine::open_sqlite(&dir).unwrap();
        engine.migrate(&MIGRATIONS[..2]).await.unwrap();
        engine
            .execute(
                "INSERT INTO keys (id, name, hash, plan, monthly_minutes, max_upload_mb,
                 concurrency, created) VALUES ('key_old', 'old', $1, 'free', 50, 100, 1, 'then')",
                params![hash_key("stt_old")],
            )
            .await
            .unwrap();
        engine
            .execute(
                "INSERT INTO usage (subject, at_unix, seconds, credits) VALUES ('key:key_old', 1, 90.0, 2)",
                &[],
            )
            .await
            .unwrap();
        drop(engine);

        let db = Db::open(None, &dir).await.unwrap();
        let key = db.key_by_raw("stt_old").await.unwrap().unwrap();
        assert_eq!(key.account_id, "key_old");
        assert_eq!(
            (
                key.limits.monthly_minutes,
                key.limits.max_upload_mb,
                key.limits.concurrency
            ),
            (Some(50), 100, 1)
        );
        let account = db.account("key_old").await.unwrap().unwrap();
        assert_eq!(account.profile.name, "old");
        assert_eq!(db.usage_since("account:key_old", 0).await.unwrap(), (1, 2));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn migrations_run_once_and_a_second_open_keeps_the_data() {
        let dir = std::env::temp_dir().join(format!("stt-db-{}", uuid::Uuid::new_v4()));
        let db = Db::open(None, &dir).await.unwrap();
        db.record_usage("ip:1", 1, 1.0).await.unwrap();
        drop(db);
        let db = Db::open(None, &dir).await.unwrap();
        assert_eq!(db.usage_since("ip:1", 0).await.unwrap(), (1, 1));
        let versions = db
            .engine
            .query(
                "SELECT version FROM schema_migrations ORDER BY version",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(versions.len(), MIGRATIONS.len());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
