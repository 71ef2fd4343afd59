//! The stream workers: steps of live streams (`/v1/stream`), apart from the transcription
//! workers so that a long file never delays a stream. A step takes a stream's core
//! `StreamSession` (pure state) with the audio that arrived since the last step, and gives the
//! session back with its events. At most `max_streams` streams hold a slot at once.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};

use stt_core::{CancelToken, LoadOptions, StreamEvent, StreamSession};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::{Models, start_workers};

/// Most audio one step takes, in one decode: a stream that fell behind catches up in larger
/// steps, and a client sending faster than real time is served in turns with the other
/// streams rather than in one long step.
pub const MAX_STEP_SAMPLES: usize = 16_000 * 10;

/// One step of one stream, run on a stream worker.
struct Step {
    model: String,
    session: StreamSession,
    audio: Vec<f32>,
    finish: bool,
    reply: oneshot::Sender<StepReply>,
}

/// The session back, with the step's events or the engine's error.
pub type StepReply = (StreamSession, Result<Vec<StreamEvent>, String>);
/// A step's reply, or why the stream engine could not give one.
pub type StepResult = Result<StepReply, String>;

pub struct StreamPool {
    queue: SyncSender<Step>,
    slots: Arc<Semaphore>,
    pub max_streams: usize,
}

impl StreamPool {
    /// Starts `workers` threads, each loading `preload` (so a stream's first step is not a
    /// model load).
    pub fn start(
        workers: usize,
        load: &LoadOptions,
        max_streams: usize,
        preload: &str,
    ) -> Result<Self, String> {
        // Each stream has at most one step queued or running.
        let (queue, receiver) = sync_channel::<Step>(max_streams.max(1));
        start_workers("stt-stream", workers, load, preload, receiver, run_step)?;
        Ok(Self {
            queue,
            slots: Arc::new(Semaphore::new(max_streams)),
            max_streams,
        })
    }

    /// A slot for one more stream, held while it runs; `None` at the limit.
    pub fn try_slot(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.slots).try_acquire_owned().ok()
    }

    /// Runs one step: pushes `audio` into `session` (ending the stream when `finish`).
    pub async fn step(
        &self,
        model: &str,
        session: StreamSession,
        audio: Vec<f32>,
        finish: bool,
    ) -> StepResult {
        let (reply, answer) = oneshot::channel();
        let step = Step {
            model: model.to_string(),
            session,
            audio,
            finish,
            reply,
        };
        let queue = self.queue.clone();
        // Never full for long: each admitted stream has at most one step in the queue.
        tokio::task::spawn_blocking(move || queue.send(step).map_err(drop))
            .await
            .map_err(|_| stopped())?
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())
    }
}

fn stopped() -> String {
    "the stream engine stopped".into()
}

/// A step task that panicked or was cancelled counts as an engine failure.
pub fn joined(result: Result<StepResult, tokio::task::JoinError>) -> StepResult {
    result.unwrap_or_else(|_| Err(stopped()))
}

fn run_step(mut step: Step, models: &mut Models) {
    if step.reply.is_closed() {
        return; // the client went away while this waited
    }
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let transcriber = models.get(&step.model)?;
        // Nothing cancels a step: a stream whose client left ends after the step in flight.
        let cancel = CancelToken::new();
        let mut events = Vec::new();
        // Only a final step carries more (everything pending): it goes in as steps would.
        for slice in step.audio.chunks(MAX_STEP_SAMPLES) {
            step.session.push(slice);
            events.extend(step.session.step(transcriber, &cancel)?);
        }
        if step.finish {
            events.extend(step.session.finish(transcriber, &cancel)?);
        }
        Ok(events)
    }))
    .unwrap_or_else(|_| {
        models.forget(&step.model);
        Err(stt_core::Error::Inference(
            "the engine failed on this stream".into(),
        ))
    })
    .map_err(|e: stt_core::Error| e.to_string());
    let _ = step.reply.send((step.session, outcome));
}
