//! stt-core: speech to text with Whisper models on ONNX Runtime.
//!
//! The pipeline: [`audio`] (decode, mix down, resample) → [`mel`] (log-mel features) →
//! [`model`] (encoder, decoder, key/value cache) → [`decode`] (logit rules, token choice,
//! language detection) → [`transcribe`] (the long-form loop) → [`transcript`] → [`formats`].
//! [`vad`] finds the speech in audio (Silero VAD), as faster-whisper's `vad_filter`;
//! `diarize` (feature `diarization`) labels who speaks when. [`enhance`] removes noise
//! (DeepFilterNet3).

pub mod alignment;
pub mod audio;
pub mod decode;
#[cfg(feature = "diarization")]
pub mod diarize;
pub mod enhance;
pub mod error;
pub mod formats;
pub mod languages;
pub mod mel;
pub mod model;
pub mod options;
pub mod store;
pub mod stream;
pub mod tokenizer;
pub mod transcribe;
pub mod transcript;
pub mod tts;
pub mod vad;

pub use decode::LanguageDetection;
pub use error::{Error, ErrorKind, Result};
pub use model::{CancelToken, Device, LoadOptions, Precision};
pub use options::{Task, TranscribeOptions};
pub use stream::{CommitPolicy, StreamEvent, StreamOptions, StreamSession};
pub use transcribe::{OnProgress, Progress, Transcriber};
pub use transcript::{Segment, Transcript};
