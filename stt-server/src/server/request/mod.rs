//! What the caller sent, checked and turned into the engine's terms: form or JSON fields into
//! `TranscribeOptions` (starting from the core's defaults), the model name resolved, the
//! uploaded file (`upload`: multipart streamed to disk under a limit). Handlers and the
//! WebSocket config share these, so a field means the same everywhere.

pub mod audio;
pub mod stream;
pub mod text;
pub mod upload;
pub mod workspace;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;
use stt_core::{Task, TranscribeOptions};

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, Result};
use upload::{Form, TempFile, read_form};

/// Request fields, from a form or a JSON object, turned into engine options.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + Send + Sync + 'a>;

pub struct Fields<'a>(Lookup<'a>);

impl Fields<'_> {
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|value| !value.trim().is_empty())
    }

    fn parse<T: std::str::FromStr>(&self, name: &str, expected: &str) -> Result<Option<T>> {
        self.get(name)
            .map(|value| {
                value.trim().parse().map_err(|_| {
                    ApiError::bad_request(format!("invalid `{name}`: {value:?} is not {expected}"))
                })
            })
            .transpose()
    }

    fn flag(&self, name: &str) -> Result<Option<bool>> {
        self.get(name)
            .map(|value| match value.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ApiError::bad_request(format!(
                    "invalid `{name}`: {value:?} is not true or false"
                ))),
            })
            .transpose()
    }

    /// Whether the caller's workspace keeps the transcript (`store`, true unless sent false).
    pub fn store(&self) -> Result<bool> {
        Ok(self.flag("store")?.unwrap_or(true))
    }

    /// Options for `model`, starting from the core's defaults for `task`.
    pub fn options(&self, state: &AppState, model: &str, task: Task) -> Result<TranscribeOptions> {
        let defaults = TranscribeOptions {
            task,
            ..TranscribeOptions::default()
        };
        self.options_from(state, model, defaults)
    }

    /// Options for `model` with speakers labelled unless the caller says not to, as
    /// `/v1/transcribe` (section 1) and the Deepgram-shaped job results (section 3) promise.
    pub fn labelled_options(&self, state: &AppState, model: &str) -> Result<TranscribeOptions> {
        let defaults = TranscribeOptions {
            diarize: true,
            ..TranscribeOptions::default()
        };
        self.options_from(state, model, defaults)
    }

    /// Options for `model`: `options` with the fields that were sent.
    pub fn options_from(
        &self,
        state: &AppState,
        model: &str,
        mut options: TranscribeOptions,
    ) -> Result<TranscribeOptions> {
        if let Some(task) = self.get("task") {
            options.task = serde_json::from_value(Value::String(task.to_ascii_lowercase()))
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid `task`: {task:?}; expected transcribe or translate"
                    ))
                })?;
        }
        if let Some(language) = self.get("language").filter(|l| l != "auto") {
            let code = stt_core::languages::language_code(&language).filter(|code| {
                state
                    .catalog
                    .get(model)
                    .is_some_and(|m| m.languages.iter().any(|known| known == code))
            });
            let Some(code) = code else {
                return Err(ApiError::bad_request(format!(
                    "invalid `language`: {language:?} is not a language of model {model} \
                     (see /v1/languages)"
                )));
            };
            options.language = Some(code.to_string());
        }
        if let Some(prompt) = self.get("prompt") {
            options.initial_prompt = Some(prompt);
        }
        // OpenAI's meaning: 0 lets the engine raise the temperature when decoding fails.
        if let Some(temperature) = self.parse::<f32>("temperature", "a number")? {
            if !(0.0..=1.0).contains(&temperature) {
                return Err(ApiError::bad_request(
                    "invalid `temperature`: must be between 0 and 1",
                ));
            }
            if temperature > 0.0 {
                options.temperature = vec![temperature];
            }
        }
        if let Some(beam_size) = self.parse("beam_size", "a whole number")? {
            options.beam_size = beam_size;
        }
        if let Some(words) = self.flag("word_timestamps")? {
            options.word_timestamps = words;
        }
        if let Some(vad) = self.flag("vad")? {
            options.vad_filter = vad;
        }
        if let Some(diarize) = self.flag("diarize")? {
            options.diarize = diarize;
        }
        if let Some(speakers) = self.parse("speakers", "a whole number")? {
            options.speakers = speakers;
        }
        if let Some(by_channel) = self.flag("diarize_by_channel")? {
            options.diarize_by_channel = by_channel;
        }
        Ok(options.normalized()?)
    }
}

pub fn form_fields(form: &Form) -> Fields<'_> {
    Fields(Box::new(|name| form.text(name).map(str::to_string)))
}

pub fn json_fields(body: &Value) -> Fields<'_> {
    Fields(Box::new(|name| match body.get(name)? {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }))
}

/// Largest JSON body (a job's URL and options, a key's limits).
pub const MAX_JSON_BYTES: usize = 64 * 1024;

/// Reads a JSON body, no further than [`MAX_JSON_BYTES`] whatever it declares (or, chunked,
/// does not).
pub async fn read_json<T: DeserializeOwned>(request: Request) -> Result<T> {
    read_json_up_to(request, MAX_JSON_BYTES).await
}

/// Reads a JSON body of at most `limit` bytes.
pub async fn read_json_up_to<T: DeserializeOwned>(request: Request, limit: usize) -> Result<T> {
    let bytes = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|e| match e.to_string().contains("length limit") {
            true => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the JSON body is larger than {} kB", limit / 1024),
            ),
            false => ApiError::bad_request(format!("cannot read the body: {e}")),
        })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

pub fn resolve_model(state: &AppState, requested: Option<&str>) -> Result<String> {
    state
        .catalog
        .resolve(requested)
        .map_err(ApiError::bad_request)
}

/// A form, its file (if any) stored under `max_bytes`.
pub async fn read_multipart(
    state: &AppState,
    multipart: Result<Multipart, MultipartRejection>,
    file_fields: &[&str],
    max_bytes: u64,
) -> Result<Form> {
    let multipart = multipart.map_err(|rejection| {
        ApiError::bad_request(format!(
            "expected a multipart/form-data body: {}",
            rejection.body_text()
        ))
    })?;
    read_form(multipart, file_fields, &state.tmp_dir, max_bytes).await
}

/// A form and its uploaded file, refusing a missing or empty one.
pub async fn read_upload(
    state: &AppState,
    multipart: Result<Multipart, MultipartRejection>,
    caller: &Caller,
    file_fields: &[&str],
) -> Result<(Form, TempFile)> {
    let limit = caller.max_upload_bytes(&state.config);
    let mut form = read_multipart(state, multipart, file_fields, limit).await?;
    match form.file.take() {
        None => Err(ApiError::bad_request(format!(
            "missing file: send the audio as the `{}` form part",
            file_fields[0]
        ))),
        Some(file) if file.bytes == 0 => Err(ApiError::bad_request("the uploaded file is empty")),
        Some(file) => Ok((form, file)),
    }
}
