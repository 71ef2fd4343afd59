//! The only part of the engine that touches ONNX Runtime: the runtime library, the sessions,
//! the encoder, and the decoder with its key/value cache.

pub mod layout;
mod runtime;
mod whisper;

pub use layout::{ModelConfig, ModelFiles, Precision};
pub use runtime::{LoadOptions, runtime_library};
pub use whisper::{AudioFeatures, DecoderState, WhisperModel};
