//! The audio-tool workers: noise removal and speech synthesis off the async threads, through
//! one bounded queue (full → 503). The models load on first use and are shared by the
//! workers; each call's audio streams out as it is encoded.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use stt_core::LoadOptions;
use stt_core::enhance::Enhancer;
use stt_core::tts::{PiperVoice, Voice, installed_voices};

use super::pool::{Job, Pool, Running};
use crate::server::error::{ApiError, Result};

/// The loaded audio models, each on first use.
pub struct AudioModels {
    enhancer: OnceLock<Arc<Enhancer>>,
    voices: Mutex<HashMap<String, Arc<dyn Voice>>>,
    load: LoadOptions,
}

impl AudioModels {
    pub fn new(load: LoadOptions) -> Self {
        Self {
            enhancer: OnceLock::new(),
            voices: Mutex::default(),
            load,
        }
    }

    pub fn enhancer(&self) -> Result<Arc<Enhancer>> {
        if let Some(enhancer) = self.enhancer.get() {
            return Ok(Arc::clone(enhancer));
        }
        let loaded = Arc::new(Enhancer::load(None, &self.load)?);
        Ok(Arc::clone(self.enhancer.get_or_init(|| loaded)))
    }

    /// The installed voice `name` (checked by the request against [`installed_voices`]).
    pub fn voice(&self, name: &str) -> Result<Arc<dyn Voice>> {
        let mut voices = self.voices.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(voice) = voices.get(name) {
            return Ok(Arc::clone(voice));
        }
        if !installed_voices().iter().any(|v| v == name) {
            return Err(ApiError::bad_request(format!(
                "voice {name:?} is not installed"
            )));
        }
        let voice: Arc<dyn Voice> = Arc::new(PiperVoice::load(Some(name), None, &self.load)?);
        voices.insert(name.to_string(), Arc::clone(&voice));
        Ok(voice)
    }
}

/// What a call made: the audio (unless it was streamed) and how it was made.
pub struct AudioAnswer {
    pub bytes: Vec<u8>,
    /// Seconds of audio.
    pub duration: f64,
    /// Seconds it took, from the start of the call on its worker.
    pub generation_time: f64,
    pub voice: Option<String>,
    pub voice_cloned: bool,
}

pub type AudioJob = Job<AudioModels, [u8], AudioAnswer>;
pub type AudioWorkers = Pool<AudioModels, [u8], AudioAnswer>;
pub type RunningAudio = Running<[u8], AudioAnswer>;

/// Bytes written to a call's stream of pieces, a piece per `write`.
pub struct PieceWriter<'a>(pub &'a mut dyn FnMut(&[u8]));

impl Write for PieceWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        (self.0)(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
