//! The two SQL engines behind one small interface: statements are written once, with `$1`
//! placeholders and types both engines read the same way (`BIGINT`, `DOUBLE PRECISION`,
//! `TEXT`), and run on a `Conn` of either. SQLite is one connection behind a lock, each
//! statement atomic; PostgreSQL is a pool, and a `Conn` opened with `begin_locked` is a
//! transaction holding an advisory lock, so that checks and writes about one subject are
//! atomic across every server sharing the database.

use std::path::Path;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use rusqlite::types::{ToSqlOutput, ValueRef};
use tokio::sync::{Mutex, OwnedMutexGuard};
use tokio_postgres::types::{ToSql, Type};

pub type DbResult<T> = Result<T, String>;

/// A statement parameter.
#[derive(Debug, Clone)]
pub enum Value {
    Int(Option<i64>),
    Real(Option<f64>),
    Text(Option<String>),
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Int(Some(value))
    }
}

impl From<Option<i64>> for Value {
    fn from(value: Option<i64>) -> Self {
        Value::Int(value)
    }
}

impl From<f64> for Value {
    fn from(value: f64) -> Self {
        Value::Real(Some(value))
    }
}

impl From<Option<f64>> for Value {
    fn from(value: Option<f64>) -> Self {
        Value::Real(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Text(Some(value.to_string()))
    }
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Text(Some(value))
    }
}

impl From<Option<String>> for Value {
    fn from(value: Option<String>) -> Self {
        Value::Text(value)
    }
}

impl From<Option<&str>> for Value {
    fn from(value: Option<&str>) -> Self {
        Value::Text(value.map(str::to_string))
    }
}

/// `[a, b, ...]` as statement parameters.
macro_rules! sql_params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::server::storage::sql::Value::from($value)),*]
    };
}
pub(crate) use sql_params as params;

/// One result row, its columns read by position.
#[derive(Debug)]
pub struct Row(Vec<Value>);

impl Row {
    pub fn opt_int(&self, column: usize) -> DbResult<Option<i64>> {
        match self.0.get(column) {
            Some(Value::Int(value)) => Ok(*value),
            Some(Value::Text(None)) => Ok(None),
            other => Err(format!(
                "column {column}: expected an integer, got {other:?}"
            )),
        }
    }

    pub fn int(&self, column: usize) -> DbResult<i64> {
        self.opt_int(column)?
            .ok_or_else(|| format!("column {column}: unexpected NULL"))
    }

    /// A non-negative integer as the type the caller wants.
    pub fn count<T: TryFrom<i64>>(&self, column: usize) -> DbResult<T> {
        T::try_from(self.int(column)?).map_err(|_| format!("column {column}: out of range"))
    }

    /// A number; SQLite hands back a whole one as an integer.
    pub fn opt_real(&self, column: usize) -> DbResult<Option<f64>> {
        match self.0.get(column) {
            Some(Value::Real(value)) => Ok(*value),
            Some(Value::Int(value)) => Ok(value.map(|v| v as f64)),
            Some(Value::Text(None)) => Ok(None),
            other => Err(format!("column {column}: expected a number, got {other:?}")),
        }
    }

    pub fn real(&self, column: usize) -> DbResult<f64> {
        self.opt_real(column)?
            .ok_or_else(|| format!("column {column}: unexpected NULL"))
    }

    pub fn opt_text(&self, column: usize) -> DbResult<Option<String>> {
        match self.0.get(column) {
            Some(Value::Text(value)) => Ok(value.clone()),
            Some(Value::Int(None)) => Ok(None),
            other => Err(format!("column {column}: expected text, got {other:?}")),
        }
    }

    pub fn text(&self, column: usize) -> DbResult<String> {
        self.opt_text(column)?
            .ok_or_else(|| format!("column {column}: unexpected NULL"))
    }
}

/// The database: SQLite in a directory, or a PostgreSQL server.
#[derive(Clone)]
pub enum Engine {
    Sqlite(Arc<Mutex<rusqlite::Connection>>),
    Postgres(Pool),
}

impl Engine {
    pub fn open_sqlite(dir: &Path) -> DbResult<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let path = dir.join("stt.db");
        let connection = rusqlite::Connection::open(&path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        // WAL lets `stt keys` work while the server runs; FULL sync keeps accepted jobs
        // through a power cut, not only a crash.
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;")
            .map_err(sqlite_error)?;
        connection
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sqlite_error)?;
        Ok(Engine::Sqlite(Arc::new(Mutex::new(connection))))
    }

    /// A pool of connections to `url` (`postgres://user:password@host:port/db`); fails when
    /// the server cannot be reached, so a wrong address is told at start.
    pub async fn connect_postgres(url: &str) -> DbResult<Self> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| format!("--database: {e}"))?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(16)
            .wait_timeout(Some(std::time::Duration::from_secs(30)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| format!("--database: {e}"))?;
        let engine = Engine::Postgres(pool);
        engine.conn().await?;
        Ok(engine)
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Engine::Postgres(_))
    }

    /// A connection that commits each statement.
    pub async fn conn(&self) -> DbResult<Conn> {
        Ok(match self {
            Engine::Sqlite(connection) => Conn::Sqlite(Arc::clone(connection).lock_owned().await),
            Engine::Postgres(pool) => {
                Conn::Postgres(Box::new(pool.get().await.map_err(pg_pool_error)?))
            }
        })
    }

    /// A transaction in which no other server works on `key` until it commits or is dropped
    /// (rolled back). SQLite's single writer gives that for free.
    pub async fn begin_locked(&self, key: &str) -> DbResult<Transaction> {
        let mut conn = self.conn().await?;
        match &mut conn {
            Conn::Sqlite(connection) => {
                connection
                    .execute_batch("BEGIN IMMEDIATE")
                    .map_err(sqlite_error)?;
            }
            Conn::Postgres(client) => {
                client.batch_execute("BEGIN").await.map_err(pg_error)?;
                client
                    .execute(
                        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                        &[&key],
                    )
                    .await
                    .map_err(pg_error)?;
            }
        }
        Ok(Transaction {
            conn: Some(conn),
            open: true,
        })
    }

    pub async fn execute(&self, sql: &str, params: &[Value]) -> DbResult<u64> {
        self.conn().await?.execute(sql, params).await
    }

    pub async fn query(&self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        self.conn().await?.query(sql, params).await
    }

    pub async fn query_opt(&self, sql: &str, params: &[Value]) -> DbResult<Option<Row>> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Applies the `migrations` not yet applied, in order, each with its version recorded in
    /// the same transaction; servers starting at once take turns.
    pub async fn migrate(&self, migrations: &[&str]) -> DbResult<()> {
        let mut tx = self.begin_locked("stt schema migrations").await?;
        tx.batch(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, \
             applied_unix BIGINT NOT NULL)",
        )
        .await?;
        let applied = tx
            .query(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .first()
            .map(|row| row.int(0))
            .transpose()?
            .unwrap_or(0);
        for (index, migration) in migrations.iter().enumerate() {
            let version = index as i64 + 1;
            if version <= applied {
                continue;
            }
            tx.batch(migration)
                .await
                .map_err(|e| format!("schema migration {version}: {e}"))?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_unix) VALUES ($1, $2)",
                params![version, chrono::Utc::now().timestamp()],
            )
            .await?;
        }
        tx.commit().await
    }
}

/// One connection: SQLite's (locked for as long as this lives) or one from the pool.
pub enum Conn {
    Sqlite(OwnedMutexGuard<rusqlite::Connection>),
    Postgres(Box<Object>),
}

impl Conn {
    pub async fn execute(&mut self, sql: &str, params: &[Value]) -> DbResult<u64> {
        match self {
            Conn::Sqlite(connection) => connection
                .execute(&sqlite_sql(sql), rusqlite::params_from_iter(params.iter()))
                .map(|changed| changed as u64)
                .map_err(sqlite_error),
            Conn::Postgres(client) => client
                .execute(sql, &pg_params(params))
                .await
                .map_err(pg_error),
        }
    }

    pub async fn query(&mut self, sql: &str, params: &[Value]) -> DbResult<Vec<Row>> {
        match self {
            Conn::Sqlite(connection) => {
                let mut statement = connection.prepare(&sqlite_sql(sql)).map_err(sqlite_error)?;
                let columns = statement.column_count();
                let mut rows = statement
                    .query(rusqlite::params_from_iter(params.iter()))
                    .map_err(sqlite_error)?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(sqlite_error)? {
                    let values = (0..columns)
                        .map(|i| row.get_ref(i).map(sqlite_value))
                        .collect::<Result<_, _>>()
                        .map_err(sqlite_error)?;
                    out.push(Row(values));
                }
                Ok(out)
            }
            Conn::Postgres(client) => client
                .query(sql, &pg_params(params))
                .await
                .map_err(pg_error)?
                .iter()
                .map(pg_row)
                .collect(),
        }
    }

    /// Statements without parameters, separated by `;`.
    async fn batch(&mut self, sql: &str) -> DbResult<()> {
        match self {
            Conn::Sqlite(connection) => connection.execute_batch(sql).map_err(sqlite_error),
            Conn::Postgres(client) => client.batch_execute(sql).await.map_err(pg_error),
        }
    }
}

/// A `Conn` inside a transaction: `commit` keeps its writes, dropping it undoes them.
pub struct Transaction {
    conn: Option<Conn>,
    open: bool,
}

impl std::ops::Deref for Transaction {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn
            .as_ref()
            .expect("a transaction has its connection until dropped")
    }
}

impl std::ops::DerefMut for Transaction {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn
            .as_mut()
            .expect("a transaction has its connection until dropped")
    }
}

impl Transaction {
    pub async fn commit(mut self) -> DbResult<()> {
        self.batch("COMMIT").await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        match self.conn.take() {
            Some(Conn::Sqlite(connection)) => {
                let _ = connection.execute_batch("ROLLBACK");
            }
            // Cannot wait here: the connection leaves the pool and its closing rolls back.
            Some(Conn::Postgres(client)) => drop(Object::take(*client)),
            None => {}
        }
    }
}

/// `$1` → `?1`: SQLite's numbered parameters (`$1` would be a name there).
fn sqlite_sql(sql: &str) -> String {
    sql.replace('$', "?")
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Int(value) => rusqlite::ToSql::to_sql(value)?,
            Value::Real(value) => rusqlite::ToSql::to_sql(value)?,
            Value::Text(value) => rusqlite::ToSql::to_sql(value)?,
        })
    }
}

fn sqlite_value(value: ValueRef<'_>) -> Value {
    match value {
        ValueRef::Null => Value::Int(None),
        ValueRef::Integer(value) => Value::Int(Some(value)),
        ValueRef::Real(value) => Value::Real(Some(value)),
        ValueRef::Text(text) | ValueRef::Blob(text) => {
            Value::Text(Some(String::from_utf8_lossy(text).into_owned()))
        }
    }
}

fn pg_params(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|value| match value {
            Value::Int(value) => value as &(dyn ToSql + Sync),
            Value::Real(value) => value as &(dyn ToSql + Sync),
            Value::Text(value) => value as &(dyn ToSql + Sync),
        })
        .collect()
}

fn pg_row(row: &tokio_postgres::Row) -> DbResult<Row> {
    let values = row
        .columns()
        .iter()
        .enumerate()
        .map(|(i, column)| {
            let value = match *column.type_() {
                Type::INT8 => Value::Int(row.try_get(i).map_err(pg_error)?),
                Type::INT4 => Value::Int(
                    row.try_get::<_, Option<i32>>(i)
                        .map_err(pg_error)?
                        .map(i64::from),
                ),
                Type::FLOAT8 => Value::Real(row.try_get(i).map_err(pg_error)?),
                Type::TEXT | Type::VARCHAR => Value::Text(row.try_get(i).map_err(pg_error)?),
                ref other => return Err(format!("column {i}: unexpected type {other}")),
            };
            Ok(value)
        })
        .collect::<DbResult<_>>()?;
    Ok(Row(values))
}

fn sqlite_error(error: rusqlite::Error) -> String {
    format!("database error: {error}")
}

fn pg_error(error: tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("database error: {}", db.message()),
        None => format!("database error: {error}"),
    }
}

fn pg_pool_error(error: deadpool_postgres::PoolError) -> String {
    format!("database unavailable: {error}")
}
