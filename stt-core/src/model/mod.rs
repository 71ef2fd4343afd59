//! The only part of the engine that touches ONNX Runtime: the runtime library, the sessions,
//! the encoder, the decoder with its key/value cache, the Silero voice activity detector, the
//! CAM++ speaker embedder, the sentence embedder and the DeepFilterNet3 noise remover.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{Error, Result};

mod deepfilter;
mod embedder;
pub mod layout;
mod piper;
mod runtime;
mod silero;
#[cfg(feature = "diarization")]
mod speaker;
mod whisper;

pub use deepfilter::{DeepFilterConfig, DeepFilterModel, DeepFilterOutput, DeepFilterState};
pub use embedder::{LazyEmbedder, TextEmbedder};
pub use layout::{ModelConfig, ModelFiles, Precision};
pub use piper::{PiperConfig, PiperModel, PiperScales};
pub use runtime::{Device, LoadOptions, runtime_library};
pub use silero::{CONTEXT_SAMPLES, FRAME_SAMPLES, SileroModel, SileroState};
#[cfg(feature = "diarization")]
pub use speaker::{SPEAKER_FEATURE_BINS, SpeakerModel};
pub use whisper::{AudioFeatures, DecoderState, WhisperModel};

/// Stops one call from another thread: the caller makes a token per call and hands a clone
/// to whoever may cancel it. Each encoder pass and decoder step checks it first, so a
/// cancelled call ends within one step with [`Error::Cancelled`]; the next call has its own.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// [`Error::Cancelled`] once [`cancel`](Self::cancel) has been called.
    pub fn check(&self) -> Result<()> {
        match self.is_cancelled() {
            true => Err(Error::Cancelled),
            false => Ok(()),
        }
    }
}
