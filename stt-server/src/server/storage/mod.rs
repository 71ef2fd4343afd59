//! Where the server keeps its state between requests and restarts: one interface (`db`,
//! `jobs`, `holds`, `events`) over two SQL engines (`sql`: SQLite embedded, PostgreSQL shared
//! by many servers).

pub mod db;
pub mod events;
pub mod holds;
pub mod jobs;
mod sql;
