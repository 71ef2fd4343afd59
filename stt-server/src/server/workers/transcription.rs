//! The transcription workers: files of synchronous requests and of asynchronous jobs, through
//! one bounded queue (full → 503 for synchronous requests).

use std::ops::ControlFlow;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::Instant;

use axum::http::StatusCode;
use stt_core::audio::DecodeOptions;
use stt_core::{CancelToken, Device, ErrorKind, LoadOptions, TranscribeOptions, Transcript};
use tokio::sync::oneshot;

use super::pool::CancelOnDrop;
use super::{Models, start_workers};
use crate::server::error::ApiError;
use crate::server::metrics::WorkerStats;

/// One transcription to run.
pub struct Transcription {
    pub model: String,
    pub audio: PathBuf,
    pub options: TranscribeOptions,
    /// Minutes reserved for the caller; longer audio is refused, before decoding when the
    /// container says its length.
    pub budget_minutes: Option<u64>,
    /// The server's longest audio (`--max-duration`).
    pub max_seconds: f64,
    /// Where the worker reports how far it has got (a job's lease renewal reads it).
    pub progress: Arc<Progress>,
}

/// The share of a transcription's audio decoded so far, from 0 to 1.
#[derive(Debug, Default)]
pub struct Progress(AtomicU32);

impl Progress {
    const SCALE: f64 = 1_000_000.0;

    pub fn fraction(&self) -> f64 {
        f64::from(self.0.load(Ordering::Relaxed)) / Self::SCALE
    }

    fn set(&self, fraction: f64) {
        let scaled = (fraction.clamp(0.0, 1.0) * Self::SCALE) as u32;
        self.0.store(scaled, Ordering::Relaxed);
    }
}

struct Work {
    request: Transcription,
    reply: oneshot::Sender<Result<Transcript, ApiError>>,
    stats: Arc<WorkerStats>,
    /// Cancelled when the caller stops waiting (a closed connection, a lost or cancelled job).
    cancel: CancelToken,
}

pub struct TranscriptionWorkers {
    queue: SyncSender<Work>,
    /// How many workers run (also how many job runners there are).
    pub count: usize,
    /// Where the workers' models run (what `auto` chose).
    pub device: Device,
    pub stats: Arc<WorkerStats>,
}

impl TranscriptionWorkers {
    /// Starts `workers` transcription workers with one queue of `queue` requests.
    pub fn start(
        workers: usize,
        queue: usize,
        load: &LoadOptions,
        preload: &str,
    ) -> Result<Self, String> {
        let (sender, receiver) = sync_channel::<Work>(queue);
        let device = start_workers("stt-worker", workers, load, preload, receiver, run_work)?;
        Ok(Self {
            queue: sender,
            count: workers,
            device,
            stats: Arc::default(),
        })
    }

    /// Queues work if there is room (503 otherwise) and waits for its transcript.
    pub async fn try_run(&self, request: Transcription) -> Result<Transcript, ApiError> {
        let (reply, answer) = oneshot::channel();
        let work = self.work(request, reply);
        let _cancel_on_drop = CancelOnDrop(work.cancel.clone());
        match self.queue.try_send(work) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(ApiError::overloaded()),
            Err(TrySendError::Disconnected(_)) => return Err(stopped()),
        }
        answer.await.map_err(|_| stopped())?
    }

    /// Queues work, waiting for room, and waits for its transcript (asynchronous jobs, which
    /// were accepted already).
    pub async fn run(&self, request: Transcription) -> Result<Transcript, ApiError> {
        let (reply, answer) = oneshot::channel();
        let work = self.work(request, reply);
        let _cancel_on_drop = CancelOnDrop(work.cancel.clone());
        let queue = self.queue.clone();
        tokio::task::spawn_blocking(move || queue.send(work).map_err(drop))
            .await
            .map_err(|_| stopped())?
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

impl TranscriptionWorkers {
    fn work(
        &self,
        request: Transcription,
        reply: oneshot::Sender<Result<Transcript, ApiError>>,
    ) -> Work {
        Work {
            request,
            reply,
            stats: Arc::clone(&self.stats),
            cancel: CancelToken::new(),
        }
    }
}

fn stopped() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "the engine stopped",
    )
    .retry_after(5)
}

fn run_work(work: Work, models: &mut Models) {
    if work.reply.is_closed() {
        return; // the client went away while this waited
    }
    let request = &work.request;
    work.stats.busy.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        transcribe(request, models, &work.cancel)
    }))
    .unwrap_or_else(|_| {
        // A model that panicked may be in any state: load it afresh next time.
        models.forget(&request.model);
        Err(ApiError::internal("the engine failed on this input"))
    })
    .map_err(|error| error.hiding_path(&request.audio, "the audio"));
    work.stats.busy.fetch_sub(1, Ordering::Relaxed);
    if let Ok(transcript) = &result {
        work.stats.record(transcript.duration, started.elapsed());
    }
    let _ = work.reply.send(result);
}

fn transcribe(
    work: &Transcription,
    models: &mut Models,
    cancel: &CancelToken,
) -> Result<Transcript, ApiError> {
    // The caller's reserved minutes bound the decoding, as does the server's longest audio.
    let budget_seconds = work.budget_minutes.map(|minutes| minutes as f64 * 60.0);
    let decoding = DecodeOptions {
        keep_channels: work.options.needs_channels(),
        max_seconds: Some(budget_seconds.map_or(work.max_seconds, |b| b.min(work.max_seconds))),
        ..DecodeOptions::spooled()
    };
    let audio = stt_core::audio::spool_file(&work.audio, &decoding).map_err(|error| {
        match (error.kind(), work.budget_minutes) {
            (ErrorKind::TooLong, Some(budget)) if budget_seconds < Some(work.max_seconds) => {
                ApiError::new(
                    StatusCode::PAYMENT_REQUIRED,
                    format!("not enough credits ({budget} minutes remain): {error}"),
                )
            }
            _ => error.into(),
        }
    })?;
    let transcriber = models.get(&work.model)?;
    let transcript =
        transcriber.transcribe_with_progress(&audio, &work.options, cancel, &mut |progress| {
            if progress.total_seconds > 0.0 {
                work.progress
                    .set(progress.processed_seconds / progress.total_seconds);
            }
            ControlFlow::Continue(())
        })?;
    Ok(transcript)
}
