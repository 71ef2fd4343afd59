//! The local text features, `stt._native.LLM`: a GGUF language model (stt-llm on llama.cpp)
//! for summaries, analyses, generated content and translation, and the sentence embedder
//! (loaded on first use). Calls release the GIL, stop on Ctrl-C, and hand streamed text to an
//! `on_text` callable with the GIL taken again; an exception it raises stops the call.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use stt_core::model::LazyEmbedder;
use stt_core::{CancelToken, LoadOptions};
use stt_llm::tasks::{self, AnalysisType, ContentType, SummaryStyle};
use stt_llm::{Llm, LlmOptions, TaskContext};

use crate::{run_interruptibly, to_json, to_py_err};

/// A loaded language model, and the embedder once `embed` has needed it. Calls run at the
/// same time (each has a context of its own).
#[pyclass(frozen, name = "LLM", module = "stt._native")]
pub(crate) struct SharedLlm {
    llm: Arc<Llm>,
    embedder: LazyEmbedder,
}

impl SharedLlm {
    /// Runs one task on another thread without the GIL (`stream` when there is a callback),
    /// passing each piece of streamed text to `on_text`. An exception raised by the callback
    /// cancels the task and is raised instead of its outcome.
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        on_text: Option<Py<PyAny>>,
        task: impl FnOnce(&mut TaskContext, bool) -> stt_core::Result<T> + Send,
    ) -> PyResult<T> {
        let cancel = CancelToken::new();
        let (result, callback_error) = run_interruptibly(py, &cancel, || {
            let mut callback_error: Option<PyErr> = None;
            let mut forward = |piece: &str| {
                let (Some(callback), None) = (&on_text, &callback_error) else {
                    return;
                };
                if let Err(error) = Python::attach(|py| callback.call1(py, (piece,))) {
                    callback_error = Some(error);
                    cancel.cancel();
                }
            };
            let mut context = TaskContext::new(&self.llm, &cancel, &mut forward);
            let result = task(&mut context, on_text.is_some());
            (result, callback_error)
        })?;
        match (result, callback_error) {
            (_, Some(error)) => Err(error),
            (Ok(value), None) => Ok(value),
            (Err(error), None) => Err(to_py_err(py, &error)),
        }
    }
}

#[pymethods]
impl SharedLlm {
    /// `model`: an installed LLM's name or a `.gguf` path (`None`: the best installed).
    /// `ort_library` is the ONNX Runtime library the embedder runs on.
    #[new]
    #[pyo3(signature = (model=None, device="auto", threads=None, context_tokens=8192, ort_library=None))]
    fn new(
        py: Python<'_>,
        model: Option<String>,
        device: &str,
        threads: Option<usize>,
        context_tokens: u32,
        ort_library: Option<PathBuf>,
    ) -> PyResult<Self> {
        let device = device.parse().map_err(|e| to_py_err(py, &e))?;
        let threads = threads.filter(|&n| n > 0);
        let options = LlmOptions {
            device,
            threads,
            context_tokens,
        };
        let llm = py
            .detach(|| Llm::load(model.as_deref(), &options))
            .map_err(|e| to_py_err(py, &e))?;
        Ok(Self {
            llm: Arc::new(llm),
            embedder: LazyEmbedder::new(LoadOptions {
                device,
                ort_library,
                intra_threads: threads,
                ..LoadOptions::default()
            }),
        })
    }

    /// The name of the loaded model.
    #[getter]
    fn model(&self) -> &str {
        self.llm.name()
    }

    /// Whether the model's layers run on a GPU.
    #[getter]
    fn on_gpu(&self) -> bool {
        self.llm.on_gpu()
    }

    #[pyo3(signature = (text, style="brief", on_text=None))]
    fn summarize(
        &self,
        py: Python<'_>,
        text: String,
        style: &str,
        on_text: Option<Py<PyAny>>,
    ) -> PyResult<String> {
        let style: SummaryStyle = style.parse().map_err(|e| to_py_err(py, &e))?;
        self.run(py, on_text, |context, stream| {
            tasks::summarize(context, &text, style, stream)
        })
    }

    /// The analysis as JSON (the object of its fields).
    #[pyo3(signature = (text, kind))]
    fn analyze(&self, py: Python<'_>, text: String, kind: &str) -> PyResult<String> {
        let kind: AnalysisType = kind.parse().map_err(|e| to_py_err(py, &e))?;
        let analysis = self.run(py, None, |context, stream| {
            tasks::analyze(context, &text, kind, stream)
        })?;
        Ok(to_json(&analysis))
    }

    /// The content as JSON: `{"content": str}` or `{"result": {...}}` by type.
    #[pyo3(signature = (text, kind, on_text=None))]
    fn generate(
        &self,
        py: Python<'_>,
        text: String,
        kind: &str,
        on_text: Option<Py<PyAny>>,
    ) -> PyResult<String> {
        let kind: ContentType = kind.parse().map_err(|e| to_py_err(py, &e))?;
        let generated = self.run(py, on_text, |context, stream| {
            tasks::generate(context, &text, kind, stream)
        })?;
        Ok(to_json(&generated))
    }

    #[pyo3(signature = (text, target, source="en", on_text=None))]
    fn translate(
        &self,
        py: Python<'_>,
        text: String,
        target: &str,
        source: &str,
        on_text: Option<Py<PyAny>>,
    ) -> PyResult<String> {
        tasks::check_languages(source, target).map_err(|e| to_py_err(py, &e))?;
        self.run(py, on_text, |context, stream| {
            tasks::translate(context, &text, source, target, stream)
        })
    }

    /// One unit-length vector per text (all-MiniLM-L6-v2, loaded on first use).
    fn embed(&self, py: Python<'_>, texts: Vec<String>) -> PyResult<Vec<Vec<f32>>> {
        let cancel = CancelToken::new();
        run_interruptibly(py, &cancel, || {
            self.embedder.get()?.embed_all(&texts, &cancel)
        })?
        .map_err(|e| to_py_err(py, &e))
    }
}
