//! Where the server keeps its state between requests and restarts: one interface (`db`,
//! `accounts`, `transcripts`, `jobs`, `holds`, `events`) over two SQL engines (`sql`: SQLite embedded, PostgreSQL shared
//! by many servers), and the audio of queued work (`audio`: a directory or a bucket).

pub mod accounts;
pub mod audio;
pub mod chat;
pub mod db;
pub mod events;
pub mod holds;
pub mod jobs;
mod sql;
pub mod transcripts;
