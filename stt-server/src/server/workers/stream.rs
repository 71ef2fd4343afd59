//! The stream workers: steps of live streams (`/v1/stream`), apart from the transcription
//! workers so that a long file never delays a stream. A step takes a stream's core
//! `StreamSession` (pure state) with the audio that arrived since the last step, and gives the
//! session back with its events.
//!
//! Streams are admitted by measured capacity: while one round of steps over every stream, at
//! the measured time of a step, fits in `round_seconds` (each stream is decoded at least that
//! often), while no stream's audio has lately waited long for its step, and never more than
//! `max_streams`.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stt_core::{CancelToken, LoadOptions, StreamEvent, StreamSession};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use super::{Models, start_workers};

/// Most audio one step takes, in one decode: a stream that fell behind catches up in larger
/// steps, and a client sending faster than real time is served in turns with the other
/// streams rather than in one long step.
pub const MAX_STEP_SAMPLES: usize = 16_000 * 10;

/// Audio that waited this long for a step means the streams have fallen behind...
const BEHIND: Duration = Duration::from_secs(2);
/// ...and no stream is admitted for this long after.
const BEHIND_MEMORY: Duration = Duration::from_secs(10);
/// Steps measured for the time of a step: the latest ones.
const MEASURED_STEPS: usize = 32;
/// A step that takes at most this much new audio is one of a stream that keeps pace with its
/// audio: only those are measured (a client sending faster than real time makes longer steps,
/// not more streams).
const PACED_STEP_SAMPLES: usize = 16_000;

/// One step of one stream, run on a stream worker.
struct Step {
    load: Arc<StreamLoad>,
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
    load: Arc<StreamLoad>,
    round_seconds: f64,
    pub max_streams: usize,
}

impl StreamPool {
    /// Starts `workers` threads, each loading `preload` (so a stream's first step is not a
    /// model load).
    pub fn start(
        workers: usize,
        load: &LoadOptions,
        max_streams: usize,
        round_seconds: f64,
        preload: &str,
    ) -> Result<Self, String> {
        // Each stream has at most one step queued or running.
        let (queue, receiver) = sync_channel::<Step>(max_streams.max(1));
        start_workers("stt-stream", workers, load, preload, receiver, run_step)?;
        Ok(Self {
            queue,
            slots: Arc::new(Semaphore::new(max_streams)),
            load: Arc::new(StreamLoad::new(workers)),
            round_seconds,
            max_streams,
        })
    }

    /// A slot for one more stream, held while it runs, or why there is none.
    pub fn try_slot(&self) -> Result<OwnedSemaphorePermit, String> {
        let running = self.max_streams - self.slots.available_permits();
        // One stream is always admitted, whatever its steps cost.
        if running > 0
            && let Some(waited) = self.load.fell_behind()
        {
            return Err(format!(
                "the {running} live streams fall behind their audio (it waited {:.1} s for a \
                 step); try again later",
                waited.as_secs_f64()
            ));
        }
        if let Some(step) = self.load.step_seconds()
            && running > 0
            && running >= self.load.capacity(step, self.round_seconds)
        {
            return Err(format!(
                "the server's stream engine is at its measured capacity: {running} live \
                 streams, at {:.2} s a step, are each decoded every {:.1} s; try again later",
                step,
                step * running as f64 / self.load.workers as f64
            ));
        }
        Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            format!(
                "the server is at its limit of {} live streams; try again later",
                self.max_streams
            )
        })
    }

    /// Notes how long a stream's audio waited for the step that takes it now.
    pub fn waited(&self, waited: Duration) {
        if waited > BEHIND {
            self.load.behind(waited);
        }
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
            load: Arc::clone(&self.load),
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
    let started = Instant::now();
    let paced = step.audio.len() <= PACED_STEP_SAMPLES && !step.finish;
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
    if paced {
        step.load.record(started.elapsed());
    }
    let _ = step.reply.send((step.session, outcome));
}

/// The time of the stream workers' latest paced steps.
struct StreamLoad {
    workers: usize,
    steps: Mutex<VecDeque<Duration>>,
    /// When audio last waited more than [`BEHIND`] for its step, and how long.
    behind: Mutex<Option<(Instant, Duration)>>,
}

impl StreamLoad {
    fn new(workers: usize) -> Self {
        Self {
            workers: workers.max(1),
            steps: Mutex::new(VecDeque::with_capacity(MEASURED_STEPS)),
            behind: Mutex::new(None),
        }
    }

    fn behind(&self, waited: Duration) {
        *self.behind.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), waited));
    }

    /// How long audio waited, when it last waited too long within [`BEHIND_MEMORY`].
    fn fell_behind(&self) -> Option<Duration> {
        let behind = *self.behind.lock().unwrap_or_else(|e| e.into_inner());
        behind
            .filter(|(at, _)| at.elapsed() < BEHIND_MEMORY)
            .map(|(_, waited)| waited)
    }

    fn record(&self, took: Duration) {
        let mut steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        if steps.len() == MEASURED_STEPS {
            steps.pop_front();
        }
        steps.push_back(took);
    }

    /// The mean time of a paced step, once one has been measured.
    fn step_seconds(&self) -> Option<f64> {
        let steps = self.steps.lock().unwrap_or_else(|e| e.into_inner());
        let total: Duration = steps.iter().sum();
        (!steps.is_empty()).then(|| total.as_secs_f64() / steps.len() as f64)
    }

    /// Streams whose steps, `step` seconds each, all fit in `round` seconds of the workers.
    fn capacity(&self, step: f64, round: f64) -> usize {
        ((round * self.workers as f64) / step.max(1e-3)).floor() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_is_the_streams_whose_steps_fit_in_a_round() {
        let load = StreamLoad::new(1);
        assert_eq!(load.step_seconds(), None);
        for _ in 0..MEASURED_STEPS {
            load.record(Duration::from_millis(500));
        }
        // The oldest go as new ones come.
        for _ in 0..MEASURED_STEPS {
            load.record(Duration::from_millis(200));
        }
        let step = load.step_seconds().unwrap();
        assert!((step - 0.2).abs() < 1e-9);
        assert_eq!(load.capacity(step, 1.0), 5);
        assert_eq!(StreamLoad::new(2).capacity(step, 1.0), 10);
        assert_eq!(load.capacity(step, 0.1), 0);
        assert_eq!(load.fell_behind(), None);
        load.behind(Duration::from_secs(3));
        assert_eq!(load.fell_behind(), Some(Duration::from_secs(3)));
    }
}
