//! The GGUF language model on llama.cpp (through `llama-cpp-2`): one loaded model shared by
//! every thread, a fresh context (KV cache) per call, the model's own chat template, and a
//! sampler chain with an optional grammar that constrains what may be generated.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use stt_core::store::{self, LLM_MODELS, ModelKind};
use stt_core::{CancelToken, Device, Error, Result};

/// How a model is loaded and run; one `Default` for every front end.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmOptions {
    pub device: Device,
    /// Threads for prompt and generation; `None`: the machine's cores.
    pub threads: Option<usize>,
    /// Tokens one call may hold (prompt and answer); longer texts are processed in pieces.
    pub context_tokens: u32,
}

impl Default for LlmOptions {
    fn default() -> Self {
        Self {
            device: Device::Auto,
            threads: None,
            context_tokens: 8192,
        }
    }
}

/// One call's sampling. Greedy by default: analyses and summaries should not change between
/// runs on the same text.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingOptions {
    pub max_tokens: u32,
    /// 0: always the most likely token.
    pub temperature: f32,
    pub seed: u32,
    /// A llama.cpp GBNF grammar the answer must match (see [`crate::schema`]).
    pub grammar: Option<String>,
}

impl Default for SamplingOptions {
    fn default() -> Self {
        Self {
            max_tokens: 512,
            temperature: 0.0,
            seed: 0,
            grammar: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its answer.
    Stop,
    /// `max_tokens` was reached first.
    Length,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub finish: FinishReason,
    /// Seconds spent reading the prompt, and making the answer.
    pub prompt_seconds: f64,
    pub generation_seconds: f64,
}

pub struct Llm {
    model: LlamaModel,
    template: LlamaChatTemplate,
    name: String,
    options: LlmOptions,
    gpu: bool,
}

/// llama.cpp's process-wide state, set up once.
fn backend() -> Result<&'static LlamaBackend> {
    static BACKEND: OnceLock<std::result::Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut backend = LlamaBackend::init().map_err(|e| e.to_string())?;
            backend.void_logs();
            Ok(backend)
        })
        .as_ref()
        .map_err(|e| Error::Runtime(format!("llama.cpp failed to start: {e}")))
}

/// The names of the installed language models.
pub fn installed_llms() -> Vec<String> {
    store::installed_models()
        .into_iter()
        .filter(|m| m.kind == ModelKind::Llm)
        .map(|m| m.name)
        .collect()
}

/// The GGUF file of an installed LLM (by name) or a path to a `.gguf` file or a directory
/// holding `model.gguf`; `None` is the best installed one.
pub fn resolve_llm(name_or_path: Option<&str>) -> Result<(String, PathBuf)> {
    let installed = installed_llms();
    let Some(name_or_path) = name_or_path else {
        let best = LLM_MODELS
            .iter()
            .map(|name| name.to_string())
            .find(|name| installed.contains(name))
            .or_else(|| installed.first().cloned())
            .ok_or_else(|| {
                Error::ModelNotFound(format!(
                    "no language model is installed; run `stt models pull {}` (or one of {})",
                    LLM_MODELS[1],
                    LLM_MODELS.join(", ")
                ))
            })?;
        return resolve_llm(Some(&best));
    };
    let path = Path::new(name_or_path);
    if path.is_file() {
        return Ok((file_stem(path), path.to_path_buf()));
    }
    if path.join("model.gguf").is_file() {
        return Ok((file_stem(path), path.join("model.gguf")));
    }
    if let Some(dir) = store::installed_model(name_or_path, ModelKind::Llm) {
        return Ok((name_or_path.to_string(), dir.join("model.gguf")));
    }
    let installed = if installed.is_empty() {
        "none".into()
    } else {
        installed.join(", ")
    };
    Err(Error::ModelNotFound(format!(
        "language model {name_or_path:?} is not installed (installed: {installed}); models that can be pulled: {}",
        LLM_MODELS.join(", ")
    )))
}

fn file_stem(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "model".into(), |s| s.to_string_lossy().into_owned())
}

impl Llm {
    /// Loads a model found by [`resolve_llm`].
    pub fn load(name_or_path: Option<&str>, options: &LlmOptions) -> Result<Self> {
        let (name, path) = resolve_llm(name_or_path)?;
        let gpu = match options.device {
            Device::Cpu => false,
            Device::Auto => backend()?.supports_gpu_offload(),
            Device::Cuda(_) if backend()?.supports_gpu_offload() => true,
            Device::Cuda(_) => {
                return Err(Error::Runtime(
                    "this build of the LLM runtime has no GPU support (build stt-llm with the `cuda` feature)".into(),
                ));
            }
        };
        let mut params = LlamaModelParams::default().with_n_gpu_layers(if gpu { 999 } else { 0 });
        if let Device::Cuda(index) = options.device {
            params = params.with_main_gpu(index as i32);
        }
        let model = LlamaModel::load_from_file(backend()?, &path, &params).map_err(|e| {
            Error::InvalidModel(format!(
                "{} is not a loadable GGUF model: {e}",
                path.display()
            ))
        })?;
        let template = model.chat_template(None).map_err(|e| {
            Error::InvalidModel(format!("{} has no chat template: {e}", path.display()))
        })?;
        Ok(Self {
            model,
            template,
            name,
            options: options.clone(),
            gpu,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the layers run on a GPU.
    pub fn on_gpu(&self) -> bool {
        self.gpu
    }

    pub fn context_tokens(&self) -> u32 {
        self.options
            .context_tokens
            .min(self.model.n_ctx_train().max(512))
    }

    /// Tokens `text` takes in a prompt.
    pub fn count_tokens(&self, text: &str) -> usize {
        self.model
            .vocab()
            .tokenize(text.as_bytes(), false, false)
            .len()
    }

    /// The conversation rendered with the model's chat template, ready for the answer.
    fn prompt(&self, messages: &[Message]) -> Result<String> {
        let messages = messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                // NUL cannot cross into C; it means nothing in text anyway.
                LlamaChatMessage::new(role.into(), m.content.replace('\0', ""))
                    .map_err(|e| Error::InvalidOption(format!("message: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        self.model
            .apply_chat_template(&self.template, &messages, true)
            .map_err(|e| Error::Inference(format!("chat template: {e}")))
    }

    /// Tokens the messages take once rendered (for fitting text into the context).
    pub fn count_prompt_tokens(&self, messages: &[Message]) -> Result<usize> {
        Ok(self.tokenize_prompt(&self.prompt(messages)?).len())
    }

    fn tokenize_prompt(&self, prompt: &str) -> Vec<LlamaToken> {
        self.model.vocab().tokenize(prompt.as_bytes(), true, true)
    }

    /// The assistant's answer to `messages`, each piece of text handed to `on_text` as it is
    /// made. Stops at the model's end token, `max_tokens`, or `cancel`.
    pub fn generate(
        &self,
        messages: &[Message],
        sampling: &SamplingOptions,
        cancel: &CancelToken,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation> {
        let prompt = self.tokenize_prompt(&self.prompt(messages)?);
        let context_tokens = self.context_tokens();
        let needed = prompt.len() + sampling.max_tokens as usize;
        if needed > context_tokens as usize {
            return Err(Error::TooLong(format!(
                "the prompt takes {} tokens and the answer up to {}; the context holds {context_tokens}",
                prompt.len(),
                sampling.max_tokens
            )));
        }
        let threads = self.options.threads.unwrap_or_else(default_threads) as i32;
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(needed as u32))
            .with_n_batch(BATCH as u32)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let mut context = self
            .model
            .new_context(backend()?, params)
            .map_err(|e| Error::Runtime(format!("llama.cpp context: {e}")))?;
        let mut sampler = self.sampler(sampling)?;
        let mut batch = LlamaBatch::new(BATCH, 1);
        let started = Instant::now();
        for (start, piece) in prompt.chunks(BATCH).enumerate() {
            cancel.check()?;
            batch.clear();
            let offset = start * BATCH;
            for (i, token) in piece.iter().enumerate() {
                let position = offset + i;
                batch
                    .add(*token, position as i32, &[0], position + 1 == prompt.len())
                    .map_err(inference)?;
            }
            context.decode(&mut batch).map_err(inference)?;
        }
        let prompt_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        let vocab = self.model.vocab();
        let mut text = Utf8Pieces::default();
        let mut position = prompt.len();
        let mut finish = FinishReason::Length;
        let mut produced = 0;
        while produced < sampling.max_tokens as usize {
            cancel.check()?;
            let token = sampler.sample(&context, batch.n_tokens() - 1)?;
            produced += 1;
            if vocab.is_eog(token) {
                finish = FinishReason::Stop;
                break;
            }
            if let Some(piece) = text.push(&vocab.token_to_piece(token, false, None)) {
                on_text(piece);
            }
            batch.clear();
            batch
                .add(token, position as i32, &[0], true)
                .map_err(inference)?;
            position += 1;
            context.decode(&mut batch).map_err(inference)?;
        }
        Ok(Generation {
            text: text.finish(on_text),
            prompt_tokens: prompt.len(),
            completion_tokens: produced,
            finish,
            prompt_seconds,
            generation_seconds: started.elapsed().as_secs_f64(),
        })
    }

    fn sampler(&self, sampling: &SamplingOptions) -> Result<Sampler> {
        let grammar = match &sampling.grammar {
            Some(grammar) => Some(
                LlamaSampler::grammar(&self.model, grammar, "root")
                    .map_err(|e| Error::InvalidOption(format!("grammar: {e}")))?,
            ),
            None => None,
        };
        // Small models loop on their own words without a mild penalty.
        let mut chain = vec![LlamaSampler::penalties(
            self.model.n_vocab(),
            64,
            1.1,
            0.0,
            0.0,
        )];
        if sampling.temperature <= 0.0 {
            chain.push(LlamaSampler::greedy());
        } else {
            chain.extend([
                LlamaSampler::top_k(40),
                LlamaSampler::top_p(0.95, 1),
                LlamaSampler::temp(sampling.temperature),
                LlamaSampler::dist(sampling.seed),
            ]);
        }
        Ok(Sampler {
            grammar,
            chain: LlamaSampler::chain_simple(chain),
        })
    }
}

/// The sampler chain, and the grammar that may veto its choice. Matching every one of a
/// 151k-token vocabulary against a grammar at each step is what makes constrained decoding
/// crawl (about one token a second, measured); so the chain picks first, the grammar checks
/// only that token, and only when it refuses is the whole vocabulary filtered and the pick
/// made again, as llama.cpp's own common sampler does.
struct Sampler {
    grammar: Option<LlamaSampler>,
    chain: LlamaSampler,
}

impl Sampler {
    fn sample(&mut self, context: &LlamaContext, index: i32) -> Result<LlamaToken> {
        if self.grammar.is_none() {
            // Free text: llama.cpp samples and accepts in place, without copying the logits.
            return Ok(self.chain.sample(context, index));
        }
        let mut candidates = context.token_data_array_ith(index);
        self.chain.apply(&mut candidates);
        let mut token = candidates
            .selected_token()
            .ok_or_else(|| inference("no token sampled"))?;
        if let Some(grammar) = &mut self.grammar {
            let mut single =
                LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 1.0, 0.0)], false);
            grammar.apply(&mut single);
            if single.data[0].logit() == f32::NEG_INFINITY {
                let mut candidates = context.token_data_array_ith(index);
                grammar.apply(&mut candidates);
                self.chain.apply(&mut candidates);
                token = candidates
                    .selected_token()
                    .ok_or_else(|| inference("the grammar allows no token"))?;
            }
            grammar.accept(token);
        }
        self.chain.accept(token);
        Ok(token)
    }
}

/// Prompt tokens decoded per llama.cpp call.
const BATCH: usize = 512;

/// The physical cores, as llama.cpp's own tools default to.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get())
}

/// Token pieces are bytes, and a character may span two tokens: text is handed on only up to
/// the last complete character.
#[derive(Default)]
struct Utf8Pieces {
    text: String,
    pending: Vec<u8>,
}

impl Utf8Pieces {
    fn push(&mut self, bytes: &[u8]) -> Option<&str> {
        self.pending.extend_from_slice(bytes);
        let valid = match std::str::from_utf8(&self.pending) {
            Ok(s) => s.len(),
            Err(e) if e.error_len().is_some() => {
                // Not UTF-8 at all: replace rather than wait forever.
                let lossy = String::from_utf8_lossy(&self.pending).into_owned();
                self.pending.clear();
                let start = self.text.len();
                self.text.push_str(&lossy);
                return Some(&self.text[start..]);
            }
            Err(e) => e.valid_up_to(),
        };
        if valid == 0 {
            return None;
        }
        let start = self.text.len();
        let rest = self.pending.split_off(valid);
        self.text
            .push_str(std::str::from_utf8(&self.pending).unwrap_or_default());
        self.pending = rest;
        Some(&self.text[start..])
    }

    fn finish(mut self, on_text: &mut dyn FnMut(&str)) -> String {
        if !self.pending.is_empty() {
            let rest = String::from_utf8_lossy(&self.pending).into_owned();
            on_text(&rest);
            self.text.push_str(&rest);
        }
        self.text
    }
}

fn inference(e: impl std::fmt::Display) -> Error {
    Error::Inference(format!("llama.cpp: {e}"))
}

#[cfg(test)]
mod tests {
    use super::Utf8Pieces;

    #[test]
    fn characters_split_over_tokens_are_handed_on_whole() {
        let mut pieces = Utf8Pieces::default();
        let bytes = "é".as_bytes();
        assert_eq!(pieces.push(b"caf"), Some("caf"));
        assert_eq!(pieces.push(&bytes[..1]), None);
        assert_eq!(pieces.push(&bytes[1..]), Some("é"));
        assert_eq!(pieces.finish(&mut |_| {}), "café");
    }
}
