//! `stt serve`: the HTTP service of shared/spec/API.md on the engine of `stt-core`.
//!
//! `request` reads what callers send, `handlers` answer them, `storage` keeps accounts, keys,
//! transcripts, jobs and usage, `workers` run the models off the async threads. Dependencies go one way:
//! handlers → request, workers, storage; workers → storage; the small modules beside them
//! (`auth`, `catalog`, `config`, `error`, `fetch`) are shared.

mod auth;
mod catalog;
pub mod config;
mod connection;
mod error;
mod fetch;
mod handlers;
mod metrics;
pub(crate) mod request;
mod storage;
mod workers;

use std::path::PathBuf;
use std::sync::Arc;

use catalog::Catalog;
use config::{Role, ServeConfig};
use fetch::FetchPolicy;
use storage::audio::AudioStore;
use storage::db::Db;
/// `stt keys` and `stt accounts` open the store without a server.
pub use storage::{accounts, db};
use workers::audio::{AudioModels, AudioWorkers};
use workers::text::{TextModels, TextWorkers};
use workers::{StreamPool, TranscriptionWorkers};

pub struct AppState {
    pub config: ServeConfig,
    pub db: Db,
    /// This node's transcription workers (none on an API node: it queues for `stt worker`s).
    pub workers: Option<TranscriptionWorkers>,
    /// Live streams (none on a worker node).
    pub streams: Option<StreamPool>,
    /// Language model and embedding calls (none on a worker node).
    pub text: Option<TextWorkers>,
    /// Noise removal and speech synthesis (none on a worker node).
    pub audio_tools: Option<AudioWorkers>,
    pub catalog: Catalog,
    /// This server's name on the holds it keeps in the database, and on the jobs it leases.
    pub node: String,
    /// Synchronous uploads and downloaded audio, deleted when done (and at start).
    pub tmp_dir: PathBuf,
    /// Audio of queued jobs, deleted with the job.
    pub audio: AudioStore,
    pub responses: metrics::Responses,
}

impl AppState {
    /// Checks `caller`'s limits and takes a request slot (`auth::admit`).
    pub async fn admit(&self, caller: &auth::Caller) -> Result<auth::Admission, error::ApiError> {
        auth::admit(&self.db, &self.config, &self.node, caller).await
    }

    /// Holds the minutes `audio` needs of `subject`'s monthly quota (when it has one) until the
    /// reservation is dropped, after its usage is recorded.
    pub async fn reserve(
        &self,
        subject: &str,
        quota: Option<u64>,
        audio: &std::path::Path,
    ) -> Result<Option<auth::Reservation>, error::ApiError> {
        let Some(quota) = quota else {
            return Ok(None);
        };
        let seconds = declared_seconds(audio).await;
        auth::Reservation::take(&self.db, &self.node, subject, quota, seconds)
            .await
            .map(Some)
    }

    pub fn fetch_policy(&self, max_bytes: u64) -> FetchPolicy {
        FetchPolicy {
            allow_private: self.config.allow_private_urls,
            max_bytes,
            timeout: self.config.url_timeout(),
            ..FetchPolicy::default()
        }
    }
}

/// The length `audio`'s container header announces, read off the async threads; `None` when
/// it says none.
pub async fn declared_seconds(audio: &std::path::Path) -> Option<f64> {
    let path = audio.to_path_buf();
    tokio::task::spawn_blocking(move || stt_core::audio::declared_duration(&path))
        .await
        .unwrap_or(None)
}

pub async fn serve(config: ServeConfig) -> Result<(), String> {
    config.check()?;
    let catalog = Catalog::load(
        config.model.as_deref(),
        &config.aliases,
        config.strict_models,
    )?;
    eprintln!("stt {} serving", env!("CARGO_PKG_VERSION"));
    eprintln!("{config}");
    eprintln!(
        "  models         {} (default {})",
        catalog
            .models
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        catalog.default
    );

    let data_dir = config.data_dir();
    let db = Db::open(config.database.as_deref(), &data_dir).await?;
    let tmp_dir = data_dir.join("tmp");
    // Synchronous uploads left by a crash were never answered: nothing to keep.
    let _ = std::fs::remove_dir_all(&tmp_dir);
    std::fs::create_dir_all(&tmp_dir)
        .map_err(|e| format!("cannot create {}: {e}", tmp_dir.display()))?;
    let audio = AudioStore::open(config.storage.as_deref(), &data_dir.join("uploads"))?;
    eprintln!("  audio storage  {audio}");
    if !db.is_shared() {
        // The one server is the only worker: what it held at its last stop is free at once.
        let resumed = db.expire_leases().await?;
        if resumed > 0 {
            eprintln!("  resumed        {resumed} jobs interrupted by the last stop");
        }
    }
    db.spawn_listener();

    let device: stt_core::Device = config
        .device
        .parse()
        .map_err(|e| format!("--device: {e}"))?;
    let load = move |threads| stt_core::LoadOptions {
        intra_threads: Some(threads),
        device,
        ..stt_core::LoadOptions::default()
    };
    let workers = match config.role {
        Role::Api => None,
        Role::All | Role::Worker => {
            let (count, queue, worker_load) = (
                config.workers(),
                config.queue,
                load(config.threads_per_worker()),
            );
            let default_model = catalog.default.clone();
            let started = tokio::task::spawn_blocking(move || {
                TranscriptionWorkers::start(count, queue, &worker_load, &default_model)
            });
            Some(started.await.map_err(|e| e.to_string())??)
        }
    };
    let streams = match config.role {
        Role::Worker => None,
        Role::All | Role::Api => {
            let (stream_workers, stream_threads, max_streams, round) = (
                config.stream_workers.max(1),
                config.threads_per_stream_worker(),
                config.max_streams,
                config.stream_round_seconds,
            );
            let default_model = catalog.default.clone();
            let started = tokio::task::spawn_blocking(move || {
                StreamPool::start(
                    stream_workers,
                    &load(stream_threads),
                    max_streams,
                    round,
                    &default_model,
                )
            });
            Some(started.await.map_err(|e| e.to_string())??)
        }
    };

    // Text models load on first use: a server that never summarises never maps an LLM.
    let text = match config.role {
        Role::Worker => None,
        Role::All | Role::Api => {
            let llm_options = stt_llm::LlmOptions {
                device,
                threads: config.llm_threads,
                context_tokens: config.llm_context,
            };
            let models = TextModels::new(
                config.llm_model.clone(),
                llm_options,
                load(config.threads_per_worker()),
            );
            Some(TextWorkers::start(
                "text",
                config.llm_workers,
                config.llm_queue,
                models,
            ))
        }
    };

    // The audio tools' models also load on first use.
    let audio_tools = match config.role {
        Role::Worker => None,
        Role::All | Role::Api => Some(AudioWorkers::start(
            "audio",
            config.audio_workers,
            config.audio_queue,
            AudioModels::new(load(config.threads_per_worker())),
        )),
    };

    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", config.host, config.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;

    let state = Arc::new(AppState {
        config,
        db,
        workers,
        streams,
        text,
        audio_tools,
        catalog,
        node: uuid::Uuid::new_v4().to_string(),
        tmp_dir,
        audio,
        responses: metrics::Responses::default(),
    });
    workers::jobs::spawn(&state);
    let header_timeout = state.config.header_timeout();
    let app = match state.config.role {
        Role::Worker => handlers::operations_router(state),
        Role::All | Role::Api => handlers::router(state),
    };
    // Tests and scripts wait for this line (standard output) to know the port.
    println!("stt: listening on http://{address}");
    connection::serve(listener, app, header_timeout, shutdown_signal()).await;
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, finish answered requests; jobs still running stay
/// active in the database and are resumed at the next start.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate => {}
    }
    eprintln!("stt: shutting down");
}
