//! Local text intelligence beside the speech engine: a GGUF language model on llama.cpp
//! ([`Llm`]) and the tasks the service offers on transcripts (summaries, analyses, generated
//! content, translation, answers with sources). Errors are the engine's [`stt_core::Error`],
//! so every front end maps them once.

pub mod pii;
pub mod runtime;
pub mod tasks;

pub use runtime::{
    FinishReason, Generation, Llm, LlmOptions, Message, Role, SamplingOptions, installed_llms,
    resolve_llm,
};
pub use tasks::TaskContext;
