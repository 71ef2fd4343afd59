//! The server's state: API keys (hashed), asynchronous jobs (`jobs.rs`), usage, and the
//! requests and minutes held by work in progress (`holds.rs`). SQLite under the data
//! directory by default, or PostgreSQL (`--database postgres://...`) shared by many servers:
//! the same statements and migrations on both (`sql.rs`).

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::events::Events;
use super::sql::{DbResult, Engine, Row, params};

#[derive(Clone)]
pub struct Db {
    pub(super) engine: Engine,
    pub events: Arc<Events>,
    /// Where the notification listener connects (PostgreSQL only).
    pub(super) listen: Option<tokio_postgres::Config>,
}

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

    fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Paid => "paid",
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
];

const KEY_COLUMNS: &str =
    "id, name, plan, monthly_minutes, max_upload_mb, concurrency, created, revoked";

fn key_from_row(row: &Row) -> DbResult<ApiKey> {
    Ok(ApiKey {
        id: row.text(0)?,
        name: row.text(1)?,
        plan: if row.text(2)? == "paid" {
            Plan::Paid
        } else {
            Plan::Free
        },
        monthly_minutes: row.opt_int(3)?.map(|m| m.max(0) as u64),
        max_upload_mb: row.count(4)?,
        concurrency: row.count(5)?,
        created: row.text(6)?,
        revoked: row.int(7)? != 0,
    })
}

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

    pub async fn insert_key(&self, key: &ApiKey, raw: &str) -> DbResult<()> {
        self.engine
            .execute(
                "INSERT INTO keys (id, name, hash, plan, monthly_minutes, max_upload_mb,
                 concurrency, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                params![
                    key.id.as_str(),
                    key.name.as_str(),
                    hash_key(raw),
                    key.plan.as_str(),
                    key.monthly_minutes.map(|m| m as i64),
                    key.max_upload_mb as i64,
                    i64::from(key.concurrency),
                    key.created.as_str()
                ],
            )
            .await
            .map(drop)
    }

    pub async fn keys(&self) -> DbResult<Vec<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY created, id");
        let rows = self.engine.query(&sql, &[]).await?;
        rows.iter().map(key_from_row).collect()
    }

    pub async fn key_by_raw(&self, raw: &str) -> DbResult<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM keys WHERE hash = $1");
        let row = self.engine.query_opt(&sql, params![hash_key(raw)]).await?;
        row.as_ref().map(key_from_row).transpose()
    }

    pub async fn key_by_id(&self, id: &str) -> DbResult<Option<ApiKey>> {
        let sql = format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = $1");
        let row = self.engine.query_opt(&sql, params![id]).await?;
        row.as_ref().map(key_from_row).transpose()
    }

    /// Whether a key with this id existed (revoking twice is not an error).
    pub async fn revoke_key(&self, id: &str) -> DbResult<bool> {
        let changed = self
            .engine
            .execute("UPDATE keys SET revoked = 1 WHERE id = $1", params![id])
            .await?;
        Ok(changed > 0)
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
    async fn keys_are_stored_hashed_and_usage_is_counted_in_credits() {
        let (db, dir) = test_db().await;
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
        db.insert_key(&key, "stt_secret").await.unwrap();
        let found = db.key_by_raw("stt_secret").await.unwrap().unwrap();
        assert_eq!(
            (found.id.as_str(), found.monthly_minutes),
            ("k1", Some(600))
        );
        assert!(db.key_by_raw("stt_other").await.unwrap().is_none());
        assert!(db.revoke_key("k1").await.unwrap());
        assert!(db.key_by_raw("stt_secret").await.unwrap().unwrap().revoked);

        db.record_usage("key:k1", 100, 61.0).await.unwrap();
        db.record_usage("key:k1", 200, 11.0).await.unwrap();
        assert_eq!(db.usage_since("key:k1", 0).await.unwrap(), (2, 3));
        assert_eq!(db.usage_since("key:k1", 150).await.unwrap(), (1, 1));
        let _ = std::fs::remove_dir_all(dir);
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
