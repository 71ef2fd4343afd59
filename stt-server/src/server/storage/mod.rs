//! Where the server keeps its state between requests and restarts. `db` is the embedded
//! SQLite store; another backend (PostgreSQL) would sit beside it with the same calls.

pub mod db;
