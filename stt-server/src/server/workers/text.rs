//! The text workers: LLM and embedding calls off the async threads, through one bounded queue
//! (full → 503). The models are loaded once and shared: llama.cpp maps a model's weights once
//! and each call runs in a context of its own. A call's cancel token is cancelled when its
//! client goes away, which stops the model within one token.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use stt_core::model::{LazyEmbedder, TextEmbedder};
use stt_core::{CancelToken, LoadOptions};
use stt_llm::{Llm, LlmOptions};
use tokio::sync::{mpsc, oneshot};

use crate::server::error::{ApiError, Result};

/// The loaded text models, each on first use.
pub struct TextModels {
    llms: Mutex<HashMap<String, Arc<Llm>>>,
    embedder: LazyEmbedder,
    /// `--llm-model`: the model of requests naming none (none: the best installed).
    default_llm: Option<String>,
    llm_options: LlmOptions,
}

impl TextModels {
    pub fn new(
        default_llm: Option<String>,
        llm_options: LlmOptions,
        embedder_load: LoadOptions,
    ) -> Self {
        Self {
            llms: Mutex::default(),
            embedder: LazyEmbedder::new(embedder_load),
            default_llm,
            llm_options,
        }
    }

    /// The language model `requested` (an installed name), or the default (the operator's
    /// `--llm-model`, a name or a path, else the best installed).
    pub fn llm(&self, requested: Option<&str>) -> Result<Arc<Llm>> {
        let key = match (requested, &self.default_llm) {
            // Only installed names: a path from a client must not open files on the server.
            (Some(name), _) if !stt_llm::installed_llms().iter().any(|i| i == name) => {
                return Err(ApiError::bad_request(format!(
                    "language model {name:?} is not installed (installed: {})",
                    stt_llm::installed_llms().join(", ")
                )));
            }
            (Some(name), _) => name.to_string(),
            (None, Some(default)) => default.clone(),
            (None, None) => stt_llm::resolve_llm(None)?.0,
        };
        let mut llms = self.llms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(llm) = llms.get(&key) {
            return Ok(Arc::clone(llm));
        }
        let llm = Arc::new(Llm::load(Some(&key), &self.llm_options)?);
        llms.insert(key, Arc::clone(&llm));
        Ok(llm)
    }

    pub fn embedder(&self) -> Result<Arc<TextEmbedder>> {
        Ok(self.embedder.get()?)
    }
}

/// One call: runs on a worker with the models, the call's cancel token and where streamed
/// text goes; answers the response body.
pub type TextJob =
    Box<dyn FnOnce(&TextModels, &CancelToken, &mut dyn FnMut(&str)) -> Result<Value> + Send>;

struct Work {
    job: TextJob,
    cancel: CancelToken,
    deltas: Option<mpsc::UnboundedSender<String>>,
    reply: oneshot::Sender<Result<Value>>,
}

pub struct TextWorkers {
    queue: SyncSender<Work>,
    pub models: Arc<TextModels>,
}

/// A queued call: its streamed text (when asked for), its answer, and the cancel token that
/// stops it when this is dropped (the client went away).
pub struct RunningText {
    pub deltas: Option<mpsc::UnboundedReceiver<String>>,
    pub answer: oneshot::Receiver<Result<Value>>,
    _cancel_on_drop: CancelOnDrop,
}

struct CancelOnDrop(CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl RunningText {
    pub async fn answer(self) -> Result<Value> {
        self.answer.await.map_err(|_| stopped())?
    }
}

impl TextWorkers {
    /// Starts `workers` threads with one queue of `queue` calls.
    pub fn start(workers: usize, queue: usize, models: TextModels) -> Self {
        let (sender, receiver) = sync_channel::<Work>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let models = Arc::new(models);
        for index in 0..workers.max(1) {
            let (receiver, models) = (Arc::clone(&receiver), Arc::clone(&models));
            std::thread::Builder::new()
                .name(format!("stt-text-{index}"))
                .spawn(move || {
                    loop {
                        let work = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match work {
                            Ok(work) => run(work, &models),
                            Err(_) => return,
                        }
                    }
                })
                .expect("cannot start a text worker thread");
        }
        Self {
            queue: sender,
            models,
        }
    }

    /// Queues a call if there is room (503 otherwise).
    pub fn submit(&self, job: TextJob, stream: bool) -> Result<RunningText> {
        let cancel = CancelToken::new();
        let (reply, answer) = oneshot::channel();
        let (deltas, receiver) = match stream {
            true => {
                let (sender, receiver) = mpsc::unbounded_channel();
                (Some(sender), Some(receiver))
            }
            false => (None, None),
        };
        let work = Work {
            job,
            cancel: cancel.clone(),
            deltas,
            reply,
        };
        match self.queue.try_send(work) {
            Ok(()) => Ok(RunningText {
                deltas: receiver,
                answer,
                _cancel_on_drop: CancelOnDrop(cancel),
            }),
            Err(TrySendError::Full(_)) => Err(ApiError::overloaded()),
            Err(TrySendError::Disconnected(_)) => Err(stopped()),
        }
    }
}

fn run(work: Work, models: &TextModels) {
    if work.reply.is_closed() || work.cancel.is_cancelled() {
        return; // the client went away while this waited
    }
    let Work {
        job,
        cancel,
        deltas,
        reply,
    } = work;
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut on_text = |text: &str| {
            if let Some(deltas) = &deltas {
                let _ = deltas.send(text.to_string());
            }
        };
        job(models, &cancel, &mut on_text)
    }))
    .unwrap_or_else(|_| {
        Err(ApiError::internal(
            "the language model failed on this input",
        ))
    });
    // The stream ends before its answer is sent, so the answer is always its last event.
    drop(deltas);
    let _ = reply.send(result);
}

fn stopped() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "the text workers stopped",
    )
    .retry_after(5)
}
