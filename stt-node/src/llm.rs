//! The local text features: a GGUF language model on llama.cpp (`stt_llm::Llm`) for
//! summaries, analyses, generated content and translation, and sentence embeddings (the
//! core's `TextEmbedder`, loaded on first use). Every call runs on a libuv worker thread and
//! rejects with a coded `Error`, as the engine's do; results cross as JSON in the engine's
//! (snake_case) shape, and `ts/llm.ts` makes them JavaScript.

use std::path::PathBuf;
use std::sync::Arc;

use napi::Env;
use napi::bindgen_prelude::AsyncTask;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use stt_core::model::LazyEmbedder;
use stt_core::{CancelToken, Device, LoadOptions};
use stt_llm::tasks::{self, AnalysisType, ContentType, SummaryStyle};
use stt_llm::{Llm, LlmOptions, TaskContext};

use crate::{Call, Cancellation, EngineWork, js_error, to_json};

/// Called with each piece of text as the model writes it, then with `""` once the call has
/// ended: the pieces arrive in order, but not in order with the call's promise.
type TextListener = ThreadsafeFunction<String, (), String, napi::Status, false>;

/// A loaded language model; calls may run at once (each has a context of its own), and the
/// sentence embedder beside it.
#[napi(js_name = "Llm")]
pub struct SharedLlm {
    llm: Arc<Llm>,
    embedder: Arc<LazyEmbedder>,
}

pub struct LoadLlm {
    model: Option<String>,
    options: LlmOptions,
    embedder_load: LoadOptions,
}

impl EngineWork for LoadLlm {
    type Output = SharedLlm;

    fn run(&mut self) -> stt_core::Result<SharedLlm> {
        let llm = Llm::load(self.model.as_deref(), &self.options)?;
        Ok(SharedLlm {
            llm: Arc::new(llm),
            embedder: Arc::new(LazyEmbedder::new(self.embedder_load.clone())),
        })
    }
}

/// What one text call does with its text.
enum Job {
    Summarize(SummaryStyle),
    Analyze(AnalysisType),
    Generate(ContentType),
    Translate { source: String, target: String },
}

pub struct TextCall {
    llm: Arc<Llm>,
    text: String,
    job: Job,
    cancel: CancelToken,
    listener: Option<TextListener>,
}

/// Where a call's text goes: `""` is sent when it is dropped, so the end is heard even when
/// the call panicked.
struct Pieces(Option<TextListener>);

impl Pieces {
    fn send(&self, piece: String) {
        if let Some(listener) = &self.0 {
            listener.call(piece, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}

impl Drop for Pieces {
    fn drop(&mut self) {
        self.send(String::new());
    }
}

impl EngineWork for TextCall {
    type Output = String;

    fn run(&mut self) -> stt_core::Result<String> {
        let pieces = Pieces(self.listener.take());
        let stream = pieces.0.is_some();
        let mut on_text = |piece: &str| {
            if !piece.is_empty() {
                pieces.send(piece.to_string());
            }
        };
        let mut context = TaskContext::new(&self.llm, &self.cancel, &mut on_text);
        let text = self.text.as_str();
        match &self.job {
            Job::Summarize(style) => tasks::summarize(&mut context, text, *style, stream)
                .map(|summary| to_json(&summary)),
            Job::Analyze(kind) => {
                tasks::analyze(&mut context, text, *kind, stream).map(|result| to_json(&result))
            }
            Job::Generate(kind) => {
                tasks::generate(&mut context, text, *kind, stream).map(|result| to_json(&result))
            }
            Job::Translate { source, target } => {
                tasks::translate(&mut context, text, source, target, stream)
                    .map(|translated| to_json(&translated))
            }
        }
    }
}

pub struct Embed {
    embedder: Arc<LazyEmbedder>,
    texts: Vec<String>,
    cancel: CancelToken,
}

impl EngineWork for Embed {
    type Output = Vec<Vec<f64>>;

    fn run(&mut self) -> stt_core::Result<Vec<Vec<f64>>> {
        let vectors = self.embedder.get()?.embed_all(&self.texts, &self.cancel)?;
        Ok(vectors
            .into_iter()
            .map(|vector| vector.into_iter().map(f64::from).collect())
            .collect())
    }
}

fn parse<T: std::str::FromStr<Err = stt_core::Error>>(env: &Env, value: &str) -> napi::Result<T> {
    value.parse().map_err(|e| js_error(env, &e))
}

#[napi]
impl SharedLlm {
    /// Loads an installed language model by name (`qwen2.5-coder-0.5b`), a `.gguf` file, or
    /// the best installed one (`model` null). `device`: `auto`, `cpu`, `cuda` or `cuda:N`;
    /// `threads` 0 uses every core; `contextTokens` 0 is the engine's default. The embedder
    /// runs on ONNX Runtime: `ortLibrary` is the library to load.
    #[napi(ts_return_type = "Promise<Llm>")]
    pub fn load(
        env: Env,
        model: Option<String>,
        device: String,
        threads: u32,
        context_tokens: u32,
        ort_library: Option<String>,
    ) -> napi::Result<AsyncTask<Call<LoadLlm>>> {
        let device: Device = parse(&env, &device)?;
        let threads = (threads > 0).then_some(threads as usize);
        let defaults = LlmOptions::default();
        let options = LlmOptions {
            device,
            threads,
            context_tokens: if context_tokens > 0 {
                context_tokens
            } else {
                defaults.context_tokens
            },
        };
        let embedder_load = LoadOptions {
            device,
            ort_library: ort_library.map(PathBuf::from),
            intra_threads: threads,
            ..LoadOptions::default()
        };
        Ok(AsyncTask::new(Call(LoadLlm {
            model,
            options,
            embedder_load,
        })))
    }

    /// The name of the loaded model.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.llm.name().to_string()
    }

    /// Whether the model's layers run on a GPU.
    #[napi(getter)]
    pub fn on_gpu(&self) -> bool {
        self.llm.on_gpu()
    }

    /// A summary in `style` (`brief`, `detailed`, `action_items`, `bullet_points`), as JSON.
    #[napi(
        ts_args_type = "text: string, style: string, cancel: CancelToken, onText?: (text: string) => void",
        ts_return_type = "Promise<string>"
    )]
    pub fn summarize(
        &self,
        env: Env,
        text: String,
        style: String,
        cancel: &Cancellation,
        on_text: Option<TextListener>,
    ) -> napi::Result<AsyncTask<Call<TextCall>>> {
        let job = Job::Summarize(parse(&env, &style)?);
        Ok(self.call(text, job, cancel, on_text))
    }

    /// An analysis of type `kind` as the JSON of its result object.
    #[napi(
        ts_args_type = "text: string, kind: string, cancel: CancelToken, onText?: (text: string) => void",
        ts_return_type = "Promise<string>"
    )]
    pub fn analyze(
        &self,
        env: Env,
        text: String,
        kind: String,
        cancel: &Cancellation,
        on_text: Option<TextListener>,
    ) -> napi::Result<AsyncTask<Call<TextCall>>> {
        let job = Job::Analyze(parse(&env, &kind)?);
        Ok(self.call(text, job, cancel, on_text))
    }

    /// Content of type `kind`, as JSON: `{"content"}` (prose) or `{"result"}` (structured).
    #[napi(
        ts_args_type = "text: string, kind: string, cancel: CancelToken, onText?: (text: string) => void",
        ts_return_type = "Promise<string>"
    )]
    pub fn generate(
        &self,
        env: Env,
        text: String,
        kind: String,
        cancel: &Cancellation,
        on_text: Option<TextListener>,
    ) -> napi::Result<AsyncTask<Call<TextCall>>> {
        let job = Job::Generate(parse(&env, &kind)?);
        Ok(self.call(text, job, cancel, on_text))
    }

    /// `text` translated from `source` to `target` (language codes), as JSON; unsupported
    /// languages are refused before any work.
    #[napi(
        ts_args_type = "text: string, source: string, target: string, cancel: CancelToken, onText?: (text: string) => void",
        ts_return_type = "Promise<string>"
    )]
    pub fn translate(
        &self,
        env: Env,
        text: String,
        source: String,
        target: String,
        cancel: &Cancellation,
        on_text: Option<TextListener>,
    ) -> napi::Result<AsyncTask<Call<TextCall>>> {
        tasks::check_languages(&source, &target).map_err(|e| js_error(&env, &e))?;
        Ok(self.call(text, Job::Translate { source, target }, cancel, on_text))
    }

    /// One unit vector per text (the sentence embedder, loaded by the first call).
    #[napi(
        ts_args_type = "texts: Array<string>, cancel: CancelToken",
        ts_return_type = "Promise<Array<Array<number>>>"
    )]
    pub fn embed(&self, texts: Vec<String>, cancel: &Cancellation) -> AsyncTask<Call<Embed>> {
        AsyncTask::new(Call(Embed {
            embedder: Arc::clone(&self.embedder),
            texts,
            cancel: cancel.token.clone(),
        }))
    }

    fn call(
        &self,
        text: String,
        job: Job,
        cancel: &Cancellation,
        listener: Option<TextListener>,
    ) -> AsyncTask<Call<TextCall>> {
        AsyncTask::new(Call(TextCall {
            llm: Arc::clone(&self.llm),
            text,
            job,
            cancel: cancel.token.clone(),
            listener,
        }))
    }
}
