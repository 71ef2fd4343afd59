//! The pool of engine workers: OS threads, each with its own loaded models (own ONNX
//! sessions), fed by one bounded queue. Inference never runs on the async threads and no lock
//! is held around it. The live streams' pool (`stream.rs`) starts its workers the same way.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use stt_core::{Device, LoadOptions, TranscribeOptions, Transcriber, Transcript};
use tokio::sync::oneshot;

use super::db::credits;
use super::error::ApiError;

/// One transcription to run.
pub struct Request {
    pub model: String,
    pub audio: PathBuf,
    pub options: TranscribeOptions,
    /// Minutes the caller may still spend; longer audio is refused before decoding.
    pub budget_minutes: Option<u64>,
}

struct Work {
    request: Request,
    reply: oneshot::Sender<Result<Transcript, ApiError>>,
}

pub struct Engine {
    queue: SyncSender<Work>,
    pub workers: usize,
    /// Where the workers' models run (what `auto` chose).
    pub device: Device,
}

impl Engine {
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
            workers,
            device,
        })
    }

    /// Queues work if there is room (503 otherwise) and waits for its transcript.
    pub async fn try_run(&self, request: Request) -> Result<Transcript, ApiError> {
        let (reply, answer) = oneshot::channel();
        let work = Work { request, reply };
        match self.queue.try_send(work) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(ApiError::overloaded()),
            Err(TrySendError::Disconnected(_)) => return Err(stopped()),
        }
        answer.await.map_err(|_| stopped())?
    }

    /// Queues work, waiting for room, and waits for its transcript (asynchronous jobs, which
    /// were accepted already).
    pub async fn run(&self, request: Request) -> Result<Transcript, ApiError> {
        let (reply, answer) = oneshot::channel();
        let work = Work { request, reply };
        let queue = self.queue.clone();
        tokio::task::spawn_blocking(move || queue.send(work).map_err(drop))
            .await
            .map_err(|_| stopped())?
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
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
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| transcribe(request, models)))
        .unwrap_or_else(|_| {
            // A model that panicked may be in any state: load it afresh next time.
            models.forget(&request.model);
            Err(ApiError::internal("the engine failed on this input"))
        })
        .map_err(|mut error| {
            // Callers know their upload, not where the server stored it.
            let stored = request.audio.display().to_string();
            error.message = error
                .message
                .replace(&format!("file:{stored}"), "the audio")
                .replace(&stored, "the audio");
            error
        });
    let _ = work.reply.send(result);
}

/// A worker's models, each loaded on first use.
pub struct Models {
    loaded: HashMap<String, Transcriber>,
    load: LoadOptions,
}

impl Models {
    pub fn get(&mut self, name: &str) -> stt_core::Result<&mut Transcriber> {
        Ok(match self.loaded.entry(name.to_string()) {
            Entry::Occupied(loaded) => loaded.into_mut(),
            Entry::Vacant(slot) => slot.insert(Transcriber::load(name, &self.load)?),
        })
    }

    /// Drops a model that may be in any state (it panicked), to be loaded afresh.
    pub fn forget(&mut self, name: &str) {
        self.loaded.remove(name);
    }
}

/// Starts `count` threads that each load `preload` with `load` (so a broken runtime or model
/// stops the server at start rather than failing every request), then hand each item of
/// `queue` to `handle` with their own models. Returns, once all loaded, where they run.
pub fn start_workers<W: Send + 'static>(
    name: &str,
    count: usize,
    load: &LoadOptions,
    preload: &str,
    queue: Receiver<W>,
    handle: fn(W, &mut Models),
) -> Result<Device, String> {
    let queue = Arc::new(Mutex::new(queue));
    let mut ready = Vec::new();
    for index in 0..count {
        let (ready_sender, ready_receiver) = std::sync::mpsc::channel();
        let queue = Arc::clone(&queue);
        let mut models = Models {
            loaded: HashMap::new(),
            load: load.clone(),
        };
        let preload = preload.to_string();
        std::thread::Builder::new()
            .name(format!("{name}-{index}"))
            .spawn(move || {
                let loaded = models
                    .get(&preload)
                    .map(|model| model.device())
                    .map_err(|e| e.to_string());
                let failed = loaded.is_err();
                let _ = ready_sender.send(loaded);
                if failed {
                    return;
                }
                loop {
                    // The lock only hands out the next item; it is released before the work.
                    let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(item) = next else { return };
                    handle(item, &mut models);
                }
            })
            .map_err(|e| format!("cannot start a worker thread: {e}"))?;
        ready.push(ready_receiver);
    }
    let mut device = load.device;
    for ready in ready {
        device = ready
            .recv()
            .map_err(|_| "a worker died while loading".to_string())??;
    }
    Ok(device)
}

fn transcribe(work: &Request, models: &mut Models) -> Result<Transcript, ApiError> {
    let audio =
        stt_core::audio::load_file_with_channels(&work.audio, work.options.needs_channels())?;
    if let Some(budget) = work.budget_minutes {
        let needed = credits(audio.duration());
        if needed > budget {
            return Err(ApiError::new(
                axum::http::StatusCode::PAYMENT_REQUIRED,
                format!("not enough credits: this audio needs {needed} minutes, {budget} remain"),
            ));
        }
    }
    Ok(models.get(&work.model)?.transcribe(&audio, &work.options)?)
}
