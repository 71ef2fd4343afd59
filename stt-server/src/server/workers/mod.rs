//! Everything that runs off the request path: OS threads with their own models, and the
//! asynchronous job runners.
//!
//! Each pool is a set of threads, each with its own loaded models (own ONNX sessions), fed by
//! one bounded queue. Inference never runs on the async threads and no lock is held around
//! it. `transcription` runs files (synchronous requests and jobs), `stream` the steps of live
//! streams, apart so that a long file never delays a stream; `jobs` feeds stored jobs to the
//! transcription workers; `queued` hands an API node's synchronous requests to the workers of
//! other nodes through the shared queue.

pub mod audio;
pub mod jobs;
pub mod pool;
pub mod queued;
pub mod stream;
pub mod text;
pub mod transcription;

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use stt_core::{Device, LoadOptions, Transcriber};

pub use stream::StreamPool;
pub use transcription::{Transcription, TranscriptionWorkers};

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
fn start_workers<W: Send + 'static>(
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
