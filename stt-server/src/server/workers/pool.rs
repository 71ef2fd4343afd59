//! A pool of threads sharing one set of models `M`, fed by one bounded queue (full → 503):
//! the text workers (LLM and embeddings) and the audio-tool workers (noise removal, speech).
//! A call runs as a job with the models, its cancel token (cancelled when its client goes
//! away) and a sink for what it streams (`D`: `str` of text, `[u8]` of audio, sent as it is
//! made); it answers `A`.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

use stt_core::CancelToken;
use tokio::sync::{mpsc, oneshot};

use crate::server::error::{ApiError, Result};

/// One call, run on a worker thread.
pub type Job<M, D, A> = Box<dyn FnOnce(&M, &CancelToken, &mut dyn FnMut(&D)) -> Result<A> + Send>;

/// Streamed pieces a call may make before its client has read them: a slow client slows the
/// worker down rather than filling memory.
const STREAM_BACKLOG: usize = 64;

struct Work<M, D: ?Sized + ToOwned, A> {
    job: Job<M, D, A>,
    cancel: CancelToken,
    pieces: Option<mpsc::Sender<D::Owned>>,
    reply: oneshot::Sender<Result<A>>,
}

pub struct Pool<M, D: ?Sized + ToOwned, A> {
    queue: SyncSender<Work<M, D, A>>,
    pub models: Arc<M>,
    /// What the pool runs, for its threads' names and its errors ("text", "audio").
    what: &'static str,
}

/// A queued call: what it streams (when asked for), its answer, and the cancel token that
/// stops it when this is dropped (the client went away).
pub struct Running<D: ?Sized + ToOwned, A> {
    pub pieces: Option<mpsc::Receiver<D::Owned>>,
    pub answer: oneshot::Receiver<Result<A>>,
    what: &'static str,
    _cancel_on_drop: CancelOnDrop,
}

/// Cancels its token when dropped: work whose caller stopped waiting stops too.
pub(super) struct CancelOnDrop(pub CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

impl<D: ?Sized + ToOwned, A> Running<D, A> {
    pub async fn answer(self) -> Result<A> {
        let what = self.what;
        self.answer.await.map_err(|_| stopped(what))?
    }
}

impl<M, D, A> Pool<M, D, A>
where
    M: Send + Sync + 'static,
    D: ?Sized + ToOwned + 'static,
    D::Owned: Send + 'static,
    A: Send + 'static,
{
    /// Starts `workers` threads with one queue of `queue` calls.
    pub fn start(what: &'static str, workers: usize, queue: usize, models: M) -> Self {
        let (sender, receiver) = sync_channel::<Work<M, D, A>>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let models = Arc::new(models);
        for index in 0..workers.max(1) {
            let (receiver, models) = (Arc::clone(&receiver), Arc::clone(&models));
            std::thread::Builder::new()
                .name(format!("stt-{what}-{index}"))
                .spawn(move || {
                    loop {
                        let work = receiver.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match work {
                            Ok(work) => run(work, &models, what),
                            Err(_) => return,
                        }
                    }
                })
                .unwrap_or_else(|e| panic!("cannot start a {what} worker thread: {e}"));
        }
        Self {
            queue: sender,
            models,
            what,
        }
    }

    /// Queues a call if there is room (503 otherwise).
    pub fn submit(&self, job: Job<M, D, A>, stream: bool) -> Result<Running<D, A>> {
        let cancel = CancelToken::new();
        let (reply, answer) = oneshot::channel();
        let (pieces, receiver) = match stream {
            true => {
                let (sender, receiver) = mpsc::channel(STREAM_BACKLOG);
                (Some(sender), Some(receiver))
            }
            false => (None, None),
        };
        let work = Work {
            job,
            cancel: cancel.clone(),
            pieces,
            reply,
        };
        match self.queue.try_send(work) {
            Ok(()) => Ok(Running {
                pieces: receiver,
                answer,
                what: self.what,
                _cancel_on_drop: CancelOnDrop(cancel),
            }),
            Err(TrySendError::Full(_)) => Err(ApiError::overloaded()),
            Err(TrySendError::Disconnected(_)) => Err(stopped(self.what)),
        }
    }
}

fn run<M, D: ?Sized + ToOwned, A>(work: Work<M, D, A>, models: &M, what: &str) {
    if work.reply.is_closed() || work.cancel.is_cancelled() {
        return; // the client went away while this waited
    }
    let Work {
        job,
        cancel,
        pieces,
        reply,
    } = work;
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let mut on_piece = |piece: &D| {
            // A client that went away also cancels the call; the job sees it.
            if let Some(pieces) = &pieces
                && pieces.blocking_send(piece.to_owned()).is_err()
            {
                cancel.cancel();
            }
        };
        job(models, &cancel, &mut on_piece)
    }))
    .unwrap_or_else(|_| {
        Err(ApiError::internal(format!(
            "the {what} worker failed on this input"
        )))
    });
    // The stream ends before its answer is sent, so the answer is always its last event.
    drop(pieces);
    let _ = reply.send(result);
}

fn stopped(what: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        format!("the {what} workers stopped"),
    )
    .retry_after(5)
}
