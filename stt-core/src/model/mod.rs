//! The only part of the engine that touches ONNX Runtime: the runtime library, the sessions,
//! the encoder, the decoder with its key/value cache, and the Silero voice activity detector.

pub mod layout;
mod runtime;
mod silero;
mod whisper;

pub use layout::{ModelConfig, ModelFiles, Precision};
pub use runtime::{LoadOptions, runtime_library};
pub use silero::{CONTEXT_SAMPLES, FRAME_SAMPLES, SileroModel};
pub use whisper::{AudioFeatures, DecoderState, WhisperModel};
