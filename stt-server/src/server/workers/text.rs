//! The text workers: LLM and embedding calls off the async threads, through one bounded queue
//! (full → 503). The models are loaded once and shared: llama.cpp maps a model's weights once
//! and each call runs in a context of its own. A call's cancel token is cancelled when its
//! client goes away, which stops the model within one token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use stt_core::LoadOptions;
use stt_core::model::{LazyEmbedder, TextEmbedder};
use stt_llm::{Llm, LlmOptions};

use super::pool::{Job, Pool, Running};
use crate::server::error::{ApiError, Result};

/// The loaded text models, each on first use.
pub struct TextModels {
    llms: Mutex<HashMap<String, Arc<Llm>>>,
    embedder: LazyEmbedder,
    /// `--llm-model`: the model of requests naming none (none: the best installed).
    default_llm: Option<String>,
    llm_options: LlmOptions,
}

impl TextModels {
    pub fn new(
        default_llm: Option<String>,
        llm_options: LlmOptions,
        embedder_load: LoadOptions,
    ) -> Self {
        Self {
            llms: Mutex::default(),
            embedder: LazyEmbedder::new(embedder_load),
            default_llm,
            llm_options,
        }
    }

    /// The language model `requested` (an installed name), or the default (the operator's
    /// `--llm-model`, a name or a path, else the best installed).
    pub fn llm(&self, requested: Option<&str>) -> Result<Arc<Llm>> {
        let key = match (requested, &self.default_llm) {
            // Only installed names: a path from a client must not open files on the server.
            (Some(name), _) if !stt_llm::installed_llms().iter().any(|i| i == name) => {
                return Err(ApiError::bad_request(format!(
                    "language model {name:?} is not installed (installed: {})",
                    stt_llm::installed_llms().join(", ")
                )));
            }
            (Some(name), _) => name.to_string(),
            (None, Some(default)) => default.clone(),
            (None, None) => stt_llm::resolve_llm(None)?.0,
        };
        let mut llms = self.llms.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(llm) = llms.get(&key) {
            return Ok(Arc::clone(llm));
        }
        let llm = Arc::new(Llm::load(Some(&key), &self.llm_options)?);
        llms.insert(key, Arc::clone(&llm));
        Ok(llm)
    }

    pub fn embedder(&self) -> Result<Arc<TextEmbedder>> {
        Ok(self.embedder.get()?)
    }
}

/// One call: runs on a worker with the models, the call's cancel token and where streamed
/// text goes; answers the response body.
pub type TextJob = Job<TextModels, str, Value>;
pub type TextWorkers = Pool<TextModels, str, Value>;
pub type RunningText = Running<str, Value>;
