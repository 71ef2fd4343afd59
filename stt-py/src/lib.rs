//! The native half of the Python SDK, `stt._native`: the engine, called without the GIL.
//! Everything that is Python idiom (audio sources, result dataclasses, keyword options, the
//! HTTP client) lives in `python/stt/`; this module only converts types and maps errors. The
//! language model and the embedder are in `llm`, noise removal in `enhance`, speech in `tts`.

mod enhance;
mod llm;
mod output;
mod tts;

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pyo3::prelude::*;
use stt_core::audio::{self, Audio};
use stt_core::formats::{self, Format};
use stt_core::{
    CancelToken, ErrorKind, LoadOptions, Precision, Segment, StreamOptions, StreamSession,
    TranscribeOptions, Transcriber, store,
};

/// How often a waiting Python thread looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(20);

/// Raises the `stt.errors` class for an engine error, with its stable kind.
fn to_py_err(py: Python<'_>, error: &stt_core::Error) -> PyErr {
    let class = match error.kind() {
        ErrorKind::Io
        | ErrorKind::EmptyAudio
        | ErrorKind::UnsupportedFormat
        | ErrorKind::CorruptAudio
        | ErrorKind::TooLong => "AudioDecodeError",
        ErrorKind::RuntimeNotFound | ErrorKind::Runtime => "RuntimeMissingError",
        ErrorKind::ModelNotFound | ErrorKind::InvalidModel => "ModelNotFoundError",
        ErrorKind::InvalidOption => "InvalidOptionError",
        ErrorKind::Inference => "InferenceError",
        ErrorKind::Cancelled => "CancelledError",
    };
    let raised = py
        .import("stt.errors")
        .and_then(|module| module.getattr(class))
        .and_then(|class| class.call1((error.to_string(), error.kind().as_str())));
    match raised {
        Ok(exception) => PyErr::from_value(exception),
        Err(import_failed) => import_failed,
    }
}

fn invalid_option(py: Python<'_>, message: String) -> PyErr {
    to_py_err(py, &stt_core::Error::InvalidOption(message))
}

fn parse_options(py: Python<'_>, json: &str) -> PyResult<TranscribeOptions> {
    TranscribeOptions::from_json(json).map_err(|e| to_py_err(py, &e))
}

/// Whether audio decoded for the options (JSON) must keep its channels apart: the core's rule.
fn keeps_channels(py: Python<'_>, options_json: Option<&str>) -> PyResult<bool> {
    options_json.map_or(Ok(false), |json| {
        Ok(parse_options(py, json)?.needs_channels())
    })
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("engine types serialize")
}

/// Decoded 16 kHz mono audio, ready for any number of calls.
#[pyclass(frozen, module = "stt._native")]
struct DecodedAudio {
    audio: Arc<Audio>,
}

fn decoded(py: Python<'_>, result: stt_core::Result<Audio>) -> PyResult<DecodedAudio> {
    result
        .map(|audio| DecodedAudio {
            audio: Arc::new(audio),
        })
        .map_err(|e| to_py_err(py, &e))
}

/// Decodes an audio or video file for a call with `options_json` (which say whether each
/// channel is kept apart).
#[pyfunction]
#[pyo3(signature = (path, options_json=None))]
fn decode_file(
    py: Python<'_>,
    path: PathBuf,
    options_json: Option<&str>,
) -> PyResult<DecodedAudio> {
    let channels = keeps_channels(py, options_json)?;
    decoded(
        py,
        py.detach(|| audio::load_file_with_channels(&path, channels)),
    )
}

/// Decodes an encoded file held in memory; `extension` is only a hint.
#[pyfunction]
#[pyo3(signature = (data, extension=None, options_json=None))]
fn decode_bytes(
    py: Python<'_>,
    data: Vec<u8>,
    extension: Option<String>,
    options_json: Option<&str>,
) -> PyResult<DecodedAudio> {
    let channels = keeps_channels(py, options_json)?;
    decoded(
        py,
        py.detach(|| audio::load_bytes_with_channels(data, extension.as_deref(), channels)),
    )
}

/// Samples from float32 little-endian bytes.
fn float32_samples(py: Python<'_>, data: &[u8]) -> PyResult<Vec<f32>> {
    if !data.len().is_multiple_of(4) {
        return Err(invalid_option(
            py,
            format!(
                "float32 samples need a multiple of 4 bytes, got {}",
                data.len()
            ),
        ));
    }
    Ok(data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Wraps raw float32 little-endian samples, already 16 kHz mono.
#[pyfunction]
fn from_float32(py: Python<'_>, data: &[u8]) -> PyResult<DecodedAudio> {
    let samples = float32_samples(py, data)?;
    Ok(DecodedAudio {
        audio: Arc::new(Audio::from_samples(samples)),
    })
}

/// A loaded Whisper model (the core's `Transcriber`). Calls release the GIL; one runs at a
/// time per model, each with a cancel token of its own.
#[pyclass(frozen, name = "Transcriber", module = "stt._native")]
struct SharedTranscriber {
    transcriber: Arc<Mutex<Transcriber>>,
    name: String,
    device: String,
}

/// Takes the model for one call.
fn lock(transcriber: &Mutex<Transcriber>) -> MutexGuard<'_, Transcriber> {
    // A panic inside the engine leaves nothing half-written that the next call reads.
    transcriber.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `work` on another thread while this one waits without the GIL, watching for Ctrl-C
/// (Python runs signal handlers on the main thread only, so the engine cannot look itself).
/// On a signal the engine is cancelled, which stops it within one decoder step, and the
/// signal's exception (`KeyboardInterrupt`) is raised once the work has ended.
fn run_interruptibly<T: Send>(
    py: Python<'_>,
    cancel: &CancelToken,
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    std::thread::scope(|scope| {
        let (done, finished) = mpsc::channel::<()>();
        let worker = scope.spawn(move || {
            let value = work();
            drop(done);
            value
        });
        let mut interrupted = None;
        let mut finished = finished;
        // Returns as soon as the work ends (or panics), not at the next poll: a live step that
        // has nothing to decode costs microseconds, not a poll interval. (The receiver moves
        // in and out: it may be used by one thread at a time only.)
        loop {
            let (outcome, receiver) =
                py.detach(move || (finished.recv_timeout(SIGNAL_POLL), finished));
            finished = receiver;
            if !matches!(outcome, Err(RecvTimeoutError::Timeout)) {
                break;
            }
            if interrupted.is_none()
                && let Err(interrupt) = py.check_signals()
            {
                interrupted = Some(interrupt);
            }
            if interrupted.is_some() {
                cancel.cancel();
            }
        }
        let value = worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        match interrupted {
            Some(interrupt) => Err(interrupt),
            None => Ok(value),
        }
    })
}

#[pymethods]
impl SharedTranscriber {
    #[new]
    #[pyo3(signature = (model, compute_type, threads=None, ort_library=None, device="auto"))]
    fn new(
        py: Python<'_>,
        model: String,
        compute_type: &str,
        threads: Option<usize>,
        ort_library: Option<PathBuf>,
        device: &str,
    ) -> PyResult<Self> {
        let precision: Precision = compute_type.parse().map_err(|e| to_py_err(py, &e))?;
        let options = LoadOptions {
            precision,
            device: device.parse().map_err(|e| to_py_err(py, &e))?,
            ort_library,
            intra_threads: threads.filter(|&n| n > 0),
        };
        let transcriber = py
            .detach(|| Transcriber::load(&model, &options))
            .map_err(|e| to_py_err(py, &e))?;
        Ok(Self {
            name: transcriber.name().to_string(),
            device: transcriber.device().to_string(),
            transcriber: Arc::new(Mutex::new(transcriber)),
        })
    }

    #[getter]
    fn name(&self) -> &str {
        &self.name
    }

    /// Where the model runs: "cpu" or "cuda:N".
    #[getter]
    fn device(&self) -> &str {
        &self.device
    }

    /// Transcribes; returns the transcript as JSON. `progress(processed, total)` is called
    /// between windows; an exception it raises stops the work and is raised here, and so is
    /// Ctrl-C's `KeyboardInterrupt`.
    #[pyo3(signature = (audio, options_json, progress=None))]
    fn transcribe(
        &self,
        py: Python<'_>,
        audio: &DecodedAudio,
        options_json: &str,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<String> {
        let options = parse_options(py, options_json)?;
        let cancel = CancelToken::new();
        let (result, callback_error) = run_interruptibly(py, &cancel, || {
            let mut callback_error: Option<PyErr> = None;
            let result = lock(&self.transcriber).transcribe_with_progress(
                audio.audio.as_ref(),
                &options,
                &cancel,
                &mut |report| {
                    let Some(callback) = &progress else {
                        return ControlFlow::Continue(());
                    };
                    let called = Python::attach(|py| {
                        callback.call1(py, (report.processed_seconds, report.total_seconds))
                    });
                    match called {
                        Ok(_) => ControlFlow::Continue(()),
                        Err(error) => {
                            callback_error = Some(error);
                            ControlFlow::Break(())
                        }
                    }
                },
            );
            (result, callback_error)
        })?;
        match (result, callback_error) {
            (Ok(transcript), _) => Ok(to_json(&transcript)),
            (Err(_), Some(error)) => Err(error),
            (Err(error), None) => Err(to_py_err(py, &error)),
        }
    }

    /// Starts a transcription in the background; the stream hands out segments as each
    /// window is decoded.
    fn segments(
        &self,
        py: Python<'_>,
        audio: &DecodedAudio,
        options_json: &str,
    ) -> PyResult<SegmentStream> {
        let options = parse_options(py, options_json)?;
        let (sender, receiver) = mpsc::channel();
        let transcriber = Arc::clone(&self.transcriber);
        let audio = Arc::clone(&audio.audio);
        let cancel = CancelToken::new();
        let worker_cancel = cancel.clone();
        std::thread::spawn(move || {
            let mut engine = lock(&transcriber);
            let result = engine.transcribe_with_progress(
                audio.as_ref(),
                &options,
                &worker_cancel,
                &mut |report| {
                    for segment in report.new_segments {
                        // The reader has gone: stop decoding for nobody.
                        if sender.send(Ok(segment.clone())).is_err() {
                            return ControlFlow::Break(());
                        }
                    }
                    ControlFlow::Continue(())
                },
            );
            if let Err(error) = result {
                let _ = sender.send(Err(error));
            }
        });
        Ok(SegmentStream {
            receiver: Mutex::new(Some(receiver)),
            cancel,
        })
    }

    /// A live session on this engine; `options_json` names what differs from the stream
    /// defaults (`StreamOptions::from_json`).
    fn stream(&self, py: Python<'_>, options_json: &str) -> PyResult<SharedStreamSession> {
        let options = StreamOptions::from_json(options_json).map_err(|e| to_py_err(py, &e))?;
        let session = StreamSession::new(options).map_err(|e| to_py_err(py, &e))?;
        Ok(SharedStreamSession {
            session: Mutex::new(session),
            transcriber: Arc::clone(&self.transcriber),
        })
    }

    /// The language of the first 30 s: `(code, probability, [(code, probability), ...])`.
    #[allow(clippy::type_complexity)]
    fn detect_language(
        &self,
        py: Python<'_>,
        audio: &DecodedAudio,
        options_json: &str,
    ) -> PyResult<(String, f32, Vec<(String, f32)>)> {
        let options = parse_options(py, options_json)?;
        let cancel = CancelToken::new();
        let detection = run_interruptibly(py, &cancel, || {
            lock(&self.transcriber).detect_language(audio.audio.as_ref(), &options, &cancel)
        })?
        .map_err(|e| to_py_err(py, &e))?;
        Ok((detection.language, detection.probability, detection.ranked))
    }
}

type SegmentResult = stt_core::Result<Segment>;

/// Segments of a background transcription, as JSON, in order.
#[pyclass(frozen, module = "stt._native")]
struct SegmentStream {
    /// `None` once finished or closed.
    receiver: Mutex<Option<Receiver<SegmentResult>>>,
    /// The transcription's own: cancelling it never touches another call.
    cancel: CancelToken,
}

#[pymethods]
impl SegmentStream {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<String>> {
        let mut slot = self.receiver.lock().unwrap_or_else(|e| e.into_inner());
        // Taken out while waiting (a receiver cannot be shared with the GIL-free wait), put
        // back only while the transcription goes on.
        let Some(mut receiver) = slot.take() else {
            return Ok(None);
        };
        loop {
            let (back, received) = py.detach(move || {
                let received = receiver.recv_timeout(SIGNAL_POLL);
                (receiver, received)
            });
            receiver = back;
            match received {
                Ok(Ok(segment)) => {
                    *slot = Some(receiver);
                    return Ok(Some(to_json(&segment)));
                }
                Ok(Err(error)) => return Err(to_py_err(py, &error)),
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(interrupt) = py.check_signals() {
                        self.cancel.cancel();
                        return Err(interrupt);
                    }
                }
            }
        }
    }

    /// Stops the transcription within one decoder step.
    fn close(&self) {
        if self
            .receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .is_some()
        {
            self.cancel.cancel();
        }
    }
}

/// Renders a transcript (the JSON of `Transcriber.transcribe`) as `json`, `full_json`, `txt`,
/// `srt` or `vtt`, exactly as the CLI and the server do.
#[pyfunction]
fn render(py: Python<'_>, transcript_json: &str, format: &str) -> PyResult<String> {
    let transcript = serde_json::from_str(transcript_json)
        .map_err(|e| invalid_option(py, format!("not a transcript: {e}")))?;
    let format: Format = format
        .parse()
        .map_err(|e: stt_core::Error| to_py_err(py, &e))?;
    Ok(formats::render(&transcript, format))
}

/// Installed models: `(name, kind, directory)`.
#[pyfunction]
fn installed_models() -> Vec<(String, &'static str, PathBuf)> {
    store::installed_models()
        .into_iter()
        .map(|model| (model.name, model.kind.as_str(), model.dir))
        .collect()
}

/// Fetches and converts a model into the shared cache; `python` runs the converter.
#[pyfunction]
#[pyo3(signature = (name, python=None))]
fn pull_model(py: Python<'_>, name: String, python: Option<PathBuf>) -> PyResult<PathBuf> {
    let python = python.unwrap_or_else(store::python);
    py.detach(|| stt_models::pull(&name, &python))
        .map_err(|e| to_py_err(py, &e))
}

/// Installs a Whisper model the user already has (`stt models import`); `python` runs the
/// converter.
#[pyfunction]
#[pyo3(signature = (source, name=None, precision=None, python=None))]
fn import_model(
    py: Python<'_>,
    source: String,
    name: Option<String>,
    precision: Option<String>,
    python: Option<PathBuf>,
) -> PyResult<PathBuf> {
    let precision = precision
        .map(|p| p.parse::<Precision>())
        .transpose()
        .map_err(|e| to_py_err(py, &e))?;
    let python = python.unwrap_or_else(store::python);
    py.detach(|| stt_models::import(&source, name.as_deref(), precision, &python))
        .map_err(|e| to_py_err(py, &e))
}

/// `$STT_HOME`, where models and the runtime are cached.
#[pyfunction]
fn stt_home() -> PathBuf {
    store::stt_home()
}

/// A live transcription (the core's `StreamSession`): audio goes in as it arrives, events
/// (JSON) come out.
#[pyclass(frozen, name = "StreamSession", module = "stt._native")]
struct SharedStreamSession {
    session: Mutex<StreamSession>,
    transcriber: Arc<Mutex<Transcriber>>,
}

impl SharedStreamSession {
    /// Runs `work` on the session with the engine, without the GIL; events as JSON.
    fn run(
        &self,
        py: Python<'_>,
        work: impl FnOnce(
            &mut StreamSession,
            &mut Transcriber,
            &CancelToken,
        ) -> stt_core::Result<Vec<stt_core::StreamEvent>>
        + Send,
    ) -> PyResult<Vec<String>> {
        let cancel = CancelToken::new();
        let events = run_interruptibly(py, &cancel, || {
            let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
            work(&mut session, &mut lock(&self.transcriber), &cancel)
        })?
        .map_err(|e| to_py_err(py, &e))?;
        Ok(events.iter().map(to_json).collect())
    }
}

#[pymethods]
impl SharedStreamSession {
    /// Adds 16 kHz mono samples given as little-endian float32 bytes, then decodes if it is
    /// time to.
    fn step_float32(&self, py: Python<'_>, data: &[u8]) -> PyResult<Vec<String>> {
        let samples = float32_samples(py, data)?;
        self.run(py, |session, engine, cancel| {
            session.push(&samples);
            session.step(engine, cancel)
        })
    }

    /// Decodes and commits everything not final yet.
    fn finish(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        self.run(py, |session, engine, cancel| session.finish(engine, cancel))
    }
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    module.add_class::<DecodedAudio>()?;
    module.add_class::<SharedTranscriber>()?;
    module.add_class::<SegmentStream>()?;
    module.add_class::<SharedStreamSession>()?;
    module.add_class::<llm::SharedLlm>()?;
    module.add_class::<enhance::SharedEnhancer>()?;
    module.add_class::<tts::SharedVoice>()?;
    // The core's defaults, which the Python signatures show.
    module.add(
        "DEFAULT_LOUDNESS",
        stt_core::enhance::EnhanceOptions::default().target_lufs,
    )?;
    module.add(
        "DEFAULT_SPEED",
        stt_core::tts::SpeechOptions::default().speed,
    )?;
    module.add_function(wrap_pyfunction!(decode_file, module)?)?;
    module.add_function(wrap_pyfunction!(decode_bytes, module)?)?;
    module.add_function(wrap_pyfunction!(from_float32, module)?)?;
    module.add_function(wrap_pyfunction!(render, module)?)?;
    module.add_function(wrap_pyfunction!(installed_models, module)?)?;
    module.add_function(wrap_pyfunction!(pull_model, module)?)?;
    module.add_function(wrap_pyfunction!(import_model, module)?)?;
    module.add_function(wrap_pyfunction!(stt_home, module)?)?;
    Ok(())
}
