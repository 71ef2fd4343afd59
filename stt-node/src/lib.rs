//! The native half of the Node SDK: the engine, run on libuv's worker threads so the event
//! loop stays free. Everything that is JavaScript idiom (input types, camelCase options,
//! `AbortSignal`, async iterators, the HTTP client) lives in `ts/`; this module only converts
//! types and maps errors. Transcripts cross as JSON in the engine's own (snake_case) shape.
//! The language model is in `llm`, noise removal in `enhance`, speech in `tts`.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use napi::bindgen_prelude::{AsyncTask, Float32Array, JsObjectValue, Uint8Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsValue, Task};
use napi_derive::napi;
use stt_core::formats::{self, Format};
use stt_core::{
    CancelToken, LoadOptions, Precision, Segment, StreamOptions, StreamSession, TranscribeOptions,
    Transcriber, store,
};

mod enhance;
mod llm;
mod tts;

/// A JS `Error` whose `code` is the engine error's stable kind.
fn js_error(env: &Env, error: &stt_core::Error) -> napi::Error {
    let built = env
        .create_error(napi::Error::from_reason(error.to_string()))
        .and_then(|mut object| {
            object.set_named_property("code", error.kind().as_str())?;
            Ok(napi::Error::from(object.to_unknown()))
        });
    built.unwrap_or_else(|failed| failed)
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("engine types serialize")
}

/// Work for a libuv worker thread whose engine errors reject with a coded `Error`.
pub trait EngineWork: Send {
    type Output: Send + 'static;
    fn run(&mut self) -> stt_core::Result<Self::Output>;
}

/// One call of the engine on a libuv worker: adapts [`EngineWork`] to napi's `Task`, carrying
/// the engine error to the JS thread, where the coded `Error` can be built.
pub struct Call<W>(W);

impl<W: EngineWork> Task for Call<W>
where
    W::Output: napi::bindgen_prelude::ToNapiValue + napi::bindgen_prelude::TypeName,
{
    type Output = stt_core::Result<W::Output>;
    type JsValue = W::Output;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        // A panic must reject this call, not abort the whole Node process.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.0.run()));
        Ok(outcome.unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            Err(stt_core::Error::Inference(format!(
                "the engine panicked: {message}"
            )))
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> napi::Result<W::Output> {
        output.map_err(|error| js_error(&env, &error))
    }
}

/// Decoding options, read and checked by the engine once, ready for any number of calls.
#[napi]
pub struct Options {
    options: TranscribeOptions,
}

/// Reads options from their JSON (the engine's `TranscribeOptions`, snake_case); unknown
/// names and bad values are refused with code `invalid_option`.
#[napi]
pub fn parse_options(env: Env, options_json: String) -> napi::Result<Options> {
    let options = TranscribeOptions::from_json(&options_json).map_err(|e| js_error(&env, &e))?;
    Ok(Options { options })
}

/// Whether audio decoded for `options` keeps each channel apart: the engine decides.
fn keeps_channels(options: Option<&Options>) -> bool {
    options.is_some_and(|o| o.options.needs_channels())
}

/// Stops one call from another: made for the call, handed to it, cancelled on abort.
#[napi(js_name = "CancelToken")]
#[derive(Default)]
pub struct Cancellation {
    token: CancelToken,
}

#[napi]
impl Cancellation {
    #[napi(constructor)]
    pub fn new() -> Self {
        Self::default()
    }

    /// Stops the call within one decoder step; it rejects with code `cancelled`.
    #[napi]
    pub fn cancel(&self) {
        self.token.cancel();
    }
}

/// Decoded 16 kHz mono audio, ready for any number of calls.
#[napi]
pub struct Audio {
    audio: Arc<stt_core::audio::Audio>,
}

pub enum Encoded {
    /// The path, and whether to keep the channels apart.
    File(PathBuf, bool),
    Bytes(Vec<u8>, Option<String>, bool),
}

impl EngineWork for Encoded {
    type Output = Audio;

    fn run(&mut self) -> stt_core::Result<Audio> {
        let audio = match self {
            Encoded::File(path, channels) => {
                stt_core::audio::load_file_with_channels(path, *channels)?
            }
            Encoded::Bytes(data, extension, channels) => stt_core::audio::load_bytes_with_channels(
                std::mem::take(data),
                extension.as_deref(),
                *channels,
            )?,
        };
        Ok(Audio {
            audio: Arc::new(audio),
        })
    }
}

/// Decodes an audio or video file for a call with `options` (which say whether each channel
/// is kept apart).
#[napi(ts_return_type = "Promise<Audio>")]
pub fn decode_file(path: String, options: Option<&Options>) -> AsyncTask<Call<Encoded>> {
    AsyncTask::new(Call(Encoded::File(path.into(), keeps_channels(options))))
}

/// Decodes an encoded file held in memory; `extension` is only a hint.
#[napi(ts_return_type = "Promise<Audio>")]
pub fn decode_bytes(
    data: Uint8Array,
    extension: Option<String>,
    options: Option<&Options>,
) -> AsyncTask<Call<Encoded>> {
    AsyncTask::new(Call(Encoded::Bytes(
        data.to_vec(),
        extension,
        keeps_channels(options),
    )))
}

/// Takes samples that are already 16 kHz mono (copied).
#[napi]
pub fn from_float32(samples: Float32Array) -> Audio {
    Audio {
        audio: Arc::new(stt_core::audio::Audio::from_samples(samples.to_vec())),
    }
}

/// A loaded Whisper model (the core's `Transcriber`). One call runs at a time; others wait
/// for it. Each call takes a `CancelToken` of its own.
#[napi(js_name = "Transcriber")]
pub struct SharedTranscriber {
    transcriber: Arc<Mutex<Transcriber>>,
    name: String,
    device: String,
}

/// Waits for the engine to be free.
fn lock_engine(transcriber: &Mutex<Transcriber>) -> MutexGuard<'_, Transcriber> {
    // A panic inside the engine leaves nothing half-written that the next call reads.
    transcriber.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct Load {
    model: String,
    options: LoadOptions,
}

impl EngineWork for Load {
    type Output = SharedTranscriber;

    fn run(&mut self) -> stt_core::Result<SharedTranscriber> {
        let transcriber = Transcriber::load(&self.model, &self.options)?;
        Ok(SharedTranscriber {
            name: transcriber.name().to_string(),
            device: transcriber.device().to_string(),
            transcriber: Arc::new(Mutex::new(transcriber)),
        })
    }
}

/// Called with the JSON of each progress report,
/// `{"processed_seconds", "total_seconds", "new_segments": [...]}`, then with `""` once the
/// call has ended: the calls arrive in order, but not in order with the call's promise.
type ProgressListener = ThreadsafeFunction<String, (), String, napi::Status, false>;

#[derive(serde::Serialize)]
struct ProgressEvent<'a> {
    processed_seconds: f64,
    total_seconds: f64,
    new_segments: &'a [Segment],
}

pub struct Transcribe {
    transcriber: Arc<Mutex<Transcriber>>,
    audio: Arc<stt_core::audio::Audio>,
    options: TranscribeOptions,
    cancel: CancelToken,
    listener: Option<ProgressListener>,
}

impl EngineWork for Transcribe {
    type Output = String;

    fn run(&mut self) -> stt_core::Result<String> {
        let listener = self.listener.take();
        let notify = |event: String| {
            if let Some(listener) = &listener {
                listener.call(event, ThreadsafeFunctionCallMode::NonBlocking);
            }
        };
        let transcript = lock_engine(&self.transcriber).transcribe_with_progress(
            self.audio.as_ref(),
            &self.options,
            &self.cancel,
            &mut |report| {
                let event = ProgressEvent {
                    processed_seconds: report.processed_seconds,
                    total_seconds: report.total_seconds,
                    new_segments: report.new_segments,
                };
                notify(to_json(&event));
                ControlFlow::Continue(())
            },
        );
        notify(String::new());
        Ok(to_json(&transcript?))
    }
}

pub struct DetectLanguage {
    transcriber: Arc<Mutex<Transcriber>>,
    audio: Arc<stt_core::audio::Audio>,
    options: TranscribeOptions,
    cancel: CancelToken,
}

impl EngineWork for DetectLanguage {
    type Output = String;

    fn run(&mut self) -> stt_core::Result<String> {
        let detection = lock_engine(&self.transcriber).detect_language(
            self.audio.as_ref(),
            &self.options,
            &self.cancel,
        )?;
        Ok(to_json(&detection))
    }
}

#[napi]
impl SharedTranscriber {
    /// Loads an installed model by name, or a model directory. `computeType` is `float32`
    /// (`default`) or `int8`; `threads` 0 lets ONNX Runtime decide; `device` is `auto`, `cpu`,
    /// `cuda` or `cuda:N`.
    #[napi(ts_return_type = "Promise<Transcriber>")]
    pub fn load(
        env: Env,
        model: String,
        compute_type: String,
        threads: u32,
        ort_library: Option<String>,
        device: String,
    ) -> napi::Result<AsyncTask<Call<Load>>> {
        let precision: Precision = compute_type.parse().map_err(|e| js_error(&env, &e))?;
        let options = LoadOptions {
            precision,
            device: device.parse().map_err(|e| js_error(&env, &e))?,
            ort_library: ort_library.map(PathBuf::from),
            intra_threads: (threads > 0).then_some(threads as usize),
        };
        Ok(AsyncTask::new(Call(Load { model, options })))
    }

    /// The name of the loaded model.
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// Where the model runs: `cpu` or `cuda:N`.
    #[napi(getter)]
    pub fn device(&self) -> String {
        self.device.clone()
    }

    /// Transcribes; resolves to the transcript's JSON. `onProgress` gets the JSON of each
    /// report, with the segments finished since the last one, then `""` at the end.
    #[napi(
        ts_args_type = "audio: Audio, options: Options, cancel: CancelToken, onProgress?: (report: string) => void",
        ts_return_type = "Promise<string>"
    )]
    pub fn transcribe(
        &self,
        audio: &Audio,
        options: &Options,
        cancel: &Cancellation,
        on_progress: Option<ProgressListener>,
    ) -> AsyncTask<Call<Transcribe>> {
        AsyncTask::new(Call(Transcribe {
            transcriber: Arc::clone(&self.transcriber),
            audio: Arc::clone(&audio.audio),
            options: options.options.clone(),
            cancel: cancel.token.clone(),
            listener: on_progress,
        }))
    }

    /// The language of the first 30 s, as JSON: `{"language", "probability", "ranked"}`
    /// (`ranked`: `[code, probability]` pairs, most probable first).
    #[napi(ts_return_type = "Promise<string>")]
    pub fn detect_language(
        &self,
        audio: &Audio,
        options: &Options,
        cancel: &Cancellation,
    ) -> AsyncTask<Call<DetectLanguage>> {
        AsyncTask::new(Call(DetectLanguage {
            transcriber: Arc::clone(&self.transcriber),
            audio: Arc::clone(&audio.audio),
            options: options.options.clone(),
            cancel: cancel.token.clone(),
        }))
    }

    /// A live session on this model; `optionsJson` names what differs from the stream
    /// defaults (`{"transcribe": {...}}`, snake_case).
    #[napi]
    pub fn stream(&self, env: Env, options_json: String) -> napi::Result<SharedStreamSession> {
        let session = StreamOptions::from_json(&options_json)
            .and_then(StreamSession::new)
            .map_err(|e| js_error(&env, &e))?;
        Ok(SharedStreamSession {
            session: Arc::new(Mutex::new(session)),
            transcriber: Arc::clone(&self.transcriber),
        })
    }
}

/// A live transcription (the core's `StreamSession`): audio goes in as it arrives, events
/// come out (a JSON array of the engine's `StreamEvent`s).
#[napi(js_name = "StreamSession")]
pub struct SharedStreamSession {
    session: Arc<Mutex<StreamSession>>,
    transcriber: Arc<Mutex<Transcriber>>,
}

pub struct StreamStep {
    session: Arc<Mutex<StreamSession>>,
    transcriber: Arc<Mutex<Transcriber>>,
    /// `None`: the end of the stream.
    samples: Option<Vec<f32>>,
    cancel: CancelToken,
}

impl EngineWork for StreamStep {
    type Output = String;

    fn run(&mut self) -> stt_core::Result<String> {
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let mut engine = lock_engine(&self.transcriber);
        let events = match &self.samples {
            Some(samples) => {
                session.push(samples);
                session.step(&mut engine, &self.cancel)?
            }
            None => session.finish(&mut engine, &self.cancel)?,
        };
        Ok(to_json(&events))
    }
}

#[napi]
impl SharedStreamSession {
    /// Adds 16 kHz mono samples and decodes if it is time to.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn step(
        &self,
        samples: Float32Array,
        cancel: &Cancellation,
    ) -> AsyncTask<Call<StreamStep>> {
        self.call(Some(samples.to_vec()), cancel)
    }

    /// Decodes and commits everything not final yet.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn finish(&self, cancel: &Cancellation) -> AsyncTask<Call<StreamStep>> {
        self.call(None, cancel)
    }

    fn call(
        &self,
        samples: Option<Vec<f32>>,
        cancel: &Cancellation,
    ) -> AsyncTask<Call<StreamStep>> {
        AsyncTask::new(Call(StreamStep {
            session: Arc::clone(&self.session),
            transcriber: Arc::clone(&self.transcriber),
            samples,
            cancel: cancel.token.clone(),
        }))
    }
}

/// Renders a transcript (the JSON of `Transcriber.transcribe`) as `json`, `full_json`,
/// `txt`, `srt` or `vtt`, exactly as the CLI and the server do.
#[napi]
pub fn render(env: Env, transcript_json: String, format: String) -> napi::Result<String> {
    let transcript = serde_json::from_str(&transcript_json).map_err(|e| {
        js_error(
            &env,
            &stt_core::Error::InvalidOption(format!("not a transcript: {e}")),
        )
    })?;
    let format: Format = format.parse().map_err(|e| js_error(&env, &e))?;
    Ok(formats::render(&transcript, format))
}

#[napi(object)]
pub struct InstalledModel {
    pub name: String,
    /// `whisper`, `vad`, `speaker`, `llm` or `embedding`.
    pub kind: String,
    pub dir: String,
}

/// Models in the shared cache (`$STT_HOME/models`).
#[napi]
pub fn installed_models() -> Vec<InstalledModel> {
    store::installed_models()
        .into_iter()
        .map(|model| InstalledModel {
            name: model.name,
            kind: model.kind.as_str().to_string(),
            dir: model.dir.display().to_string(),
        })
        .collect()
}

/// The version of the engine, which the package, `stt --version` and the Python SDK share.
#[napi]
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The cache directory of models and runtime (`$STT_HOME`, else `~/.cache/stt`).
#[napi]
pub fn stt_home() -> String {
    store::stt_home().display().to_string()
}

pub struct Pull {
    name: String,
    python: PathBuf,
}

impl EngineWork for Pull {
    type Output = String;

    fn run(&mut self) -> stt_core::Result<String> {
        stt_models::pull(&self.name, &self.python).map(|dir| dir.display().to_string())
    }
}

pub struct Import {
    source: String,
    name: Option<String>,
    precision: Option<String>,
    python: PathBuf,
}

impl EngineWork for Import {
    type Output = String;

    fn run(&mut self) -> stt_core::Result<String> {
        let precision = self
            .precision
            .as_deref()
            .map(str::parse::<Precision>)
            .transpose()?;
        stt_models::import(&self.source, self.name.as_deref(), precision, &self.python)
            .map(|dir| dir.display().to_string())
    }
}

/// Installs a Whisper model the user already has (as `stt models import`); resolves to its
/// directory. The converter runs with `python` as for `pullModel`.
#[napi(ts_return_type = "Promise<string>")]
pub fn import_model(
    source: String,
    name: Option<String>,
    precision: Option<String>,
    python: Option<String>,
) -> AsyncTask<Call<Import>> {
    AsyncTask::new(Call(Import {
        source,
        name,
        precision,
        python: python.map_or_else(store::python, PathBuf::from),
    }))
}

/// Fetches and converts a model into the cache; resolves to its directory. The converter
/// runs with `python` (default: `$STT_PYTHON`, else the project's venv, else `python3`).
#[napi(ts_return_type = "Promise<string>")]
pub fn pull_model(name: String, python: Option<String>) -> AsyncTask<Call<Pull>> {
    AsyncTask::new(Call(Pull {
        name,
        python: python.map_or_else(store::python, PathBuf::from),
    }))
}
