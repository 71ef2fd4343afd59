//! HTTP handlers: parse, check the caller, queue on the engine, render with the core's
//! formatters. Sections of shared/spec/API.md: 1 (`/v1/transcribe`), 3 (`/v1/stt`),
//! 4 (`/v1/audio`), 5 (discovery), 6 (keys).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::multipart::MultipartRejection;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing};
use serde::Deserialize;
use serde_json::{Value, json};
use stt_core::formats::{self, Format};
use stt_core::{Task, TranscribeOptions, Transcript};

use super::AppState;
use super::auth::{self, Caller};
use super::catalog;
use super::db::{Job, Plan};
use super::engine::Request as EngineRequest;
use super::error::{ApiError, MB};
use super::stream;
use super::upload::{Form, TempFile, read_form};
use crate::fetch;

type Result<T, E = ApiError> = std::result::Result<T, E>;

pub fn router(state: Arc<AppState>) -> Router {
    let upload_limit =
        axum::extract::DefaultBodyLimit::max((state.config.max_upload_bytes() + MB) as usize);
    Router::new()
        .route("/v1/transcribe", routing::post(transcribe))
        .route("/v1/audio/{endpoint}", routing::post(openai))
        .route("/v1/stt/create", routing::post(create_job))
        .layer(upload_limit)
        .route("/v1/stt/{id}", routing::get(get_job))
        .route("/v1/models", routing::get(models))
        .route("/v1/languages", routing::get(languages))
        .route("/v1/stream", routing::get(stream::stream))
        .route("/health", routing::get(health))
        .route("/v1/keys", routing::get(list_keys).post(create_key))
        .route("/v1/keys/{id}", routing::delete(revoke_key))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint (transcription endpoints take POST)",
            )
        })
        .with_state(state)
}

/// Authenticates and admits the caller, refusing a declared body over their upload limit
/// before reading it.
fn admit(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<(Caller, auth::Admission)> {
    let caller = auth::authenticate(&state.db, &state.config, headers, peer.ip())?;
    let admission = auth::admit(&state.db, &state.config, &state.in_flight, &caller)?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let limit = caller.max_upload_bytes(&state.config);
    // The form's own fields and boundaries take a little room besides the file.
    if declared.is_some_and(|length| length > limit + MB) {
        return Err(ApiError::too_large(limit));
    }
    Ok((caller, admission))
}

/// A form and its uploaded file, refusing a missing or empty one.
async fn read_upload(
    state: &AppState,
    multipart: Result<Multipart, MultipartRejection>,
    caller: &Caller,
    file_fields: &[&str],
) -> Result<(Form, TempFile)> {
    let multipart = multipart.map_err(|rejection| {
        ApiError::bad_request(format!(
            "expected a multipart/form-data body: {}",
            rejection.body_text()
        ))
    })?;
    let mut form = read_form(
        multipart,
        file_fields,
        &state.tmp_dir,
        caller.max_upload_bytes(&state.config),
    )
    .await?;
    match form.file.take() {
        None => Err(ApiError::bad_request(format!(
            "missing file: send the audio as the `{}` form part",
            file_fields[0]
        ))),
        Some(file) if file.bytes == 0 => Err(ApiError::bad_request("the uploaded file is empty")),
        Some(file) => Ok((form, file)),
    }
}

/// Request fields, from a form or a JSON object, turned into engine options.
type Lookup<'a> = Box<dyn Fn(&str) -> Option<String> + Send + Sync + 'a>;

pub(super) struct Fields<'a>(Lookup<'a>);

impl Fields<'_> {
    pub(super) fn get(&self, name: &str) -> Option<String> {
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

    /// Options for `model`, starting from the core's defaults for `task`.
    fn options(&self, state: &AppState, model: &str, task: Task) -> Result<TranscribeOptions> {
        let defaults = TranscribeOptions {
            task,
            ..TranscribeOptions::default()
        };
        self.options_from(state, model, defaults)
    }

    /// Options for `model` with speakers labelled unless the caller says not to, as
    /// `/v1/transcribe` (section 1) and the Deepgram-shaped job results (section 3) promise.
    fn labelled_options(&self, state: &AppState, model: &str) -> Result<TranscribeOptions> {
        let defaults = TranscribeOptions {
            diarize: true,
            ..TranscribeOptions::default()
        };
        self.options_from(state, model, defaults)
    }

    /// Options for `model`: `options` with the fields that were sent.
    pub(super) fn options_from(
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
            options.diarize |= by_channel;
        }
        options.validate()?;
        Ok(options)
    }
}

fn form_fields(form: &Form) -> Fields<'_> {
    Fields(Box::new(|name| form.text(name).map(str::to_string)))
}

pub(super) fn json_fields(body: &Value) -> Fields<'_> {
    Fields(Box::new(|name| match body.get(name)? {
        Value::String(text) => Some(text.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }))
}

pub(super) fn resolve_model(state: &AppState, requested: Option<&str>) -> Result<String> {
    state
        .catalog
        .resolve(requested)
        .map_err(ApiError::bad_request)
}

/// Runs a synchronous transcription of an upload and charges it.
async fn run_now(
    state: &AppState,
    caller: &Caller,
    admission: &auth::Admission,
    model: &str,
    upload: &TempFile,
    options: TranscribeOptions,
) -> Result<Transcript> {
    let request = EngineRequest {
        model: model.to_string(),
        audio: upload.path().to_path_buf(),
        options,
        budget_minutes: admission.budget_minutes,
    };
    let transcript = state.engine.try_run(request).await?;
    state
        .db
        .record_usage(&caller.subject(), now_unix(), transcript.duration)
        .map_err(ApiError::internal)?;
    Ok(transcript)
}

fn with_model(mut response: Response, model: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(model) {
        response.headers_mut().insert("x-model", value);
    }
    response
}

fn text_body(content_type: &'static str, body: String) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn subtitles_or_text(transcript: &Transcript, format: Format) -> Response {
    let body = formats::render(transcript, format);
    match format {
        Format::Srt => text_body("application/x-subrip; charset=utf-8", body),
        Format::Vtt => text_body("text/vtt; charset=utf-8", body),
        _ => text_body("text/plain; charset=utf-8", body),
    }
}

/// `POST /v1/transcribe` (section 1).
async fn transcribe(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    let (caller, admission) = admit(&state, &headers, peer)?;
    let (form, upload) = read_upload(&state, multipart, &caller, &["file"]).await?;
    let fields = form_fields(&form);
    let format = match fields.get("response_format").as_deref() {
        None | Some("json") => Format::Json,
        Some("txt" | "text") => Format::Txt,
        Some("srt") => Format::Srt,
        Some("vtt") => Format::Vtt,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid `response_format`: {other:?}; expected json, txt, srt or vtt"
            )));
        }
    };
    let model = resolve_model(&state, fields.get("model").as_deref())?;
    let options = fields.labelled_options(&state, &model)?;
    let transcript = run_now(&state, &caller, &admission, &model, &upload, options).await?;
    let response = match format {
        Format::Json => Json(formats::to_api_json(&transcript)).into_response(),
        _ => subtitles_or_text(&transcript, format),
    };
    Ok(with_model(response, &model))
}

/// `POST /v1/audio/transcriptions` and `/v1/audio/translations` (section 4).
async fn openai(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(endpoint): Path<String>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    let task = match endpoint.as_str() {
        "transcriptions" => Task::Transcribe,
        "translations" => Task::Translate,
        _ => return Err(ApiError::not_found("no such endpoint")),
    };
    let (caller, admission) = admit(&state, &headers, peer)?;
    let (form, upload) = read_upload(&state, multipart, &caller, &["file"]).await?;
    let fields = form_fields(&form);
    let format = fields
        .get("response_format")
        .unwrap_or_else(|| "json".into());
    if !["json", "text", "srt", "verbose_json", "vtt"].contains(&format.as_str()) {
        return Err(ApiError::bad_request(format!(
            "invalid `response_format`: {format:?}; expected json, text, srt, verbose_json or vtt"
        )));
    }
    let mut granularities = form.all("timestamp_granularities[]").to_vec();
    granularities.extend_from_slice(form.all("timestamp_granularities"));
    if let Some(bad) = granularities
        .iter()
        .find(|g| !["segment", "word"].contains(&g.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "invalid `timestamp_granularities[]`: {bad:?}; expected segment or word"
        )));
    }
    let with_words = format == "verbose_json" && granularities.iter().any(|g| g == "word");
    let model = resolve_model(&state, fields.get("model").as_deref())?;
    let mut options = fields.options(&state, &model, task)?;
    // OpenAI times words only when asked; segments stay the same either way.
    options.word_timestamps = with_words;
    let transcript = run_now(&state, &caller, &admission, &model, &upload, options).await?;
    let response = match format.as_str() {
        "json" => Json(json!({"text": transcript.text})).into_response(),
        "verbose_json" => Json(formats::to_openai_verbose_json(
            &transcript,
            task,
            with_words,
        ))
        .into_response(),
        "srt" => subtitles_or_text(&transcript, Format::Srt),
        "vtt" => subtitles_or_text(&transcript, Format::Vtt),
        _ => subtitles_or_text(&transcript, Format::Txt),
    };
    Ok(with_model(response, &model))
}

/// `POST /v1/stt/create` (section 3): a JSON body with a `url`, or a form with an `audio` part.
async fn create_job(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response> {
    let (caller, admission) = admit(&state, &headers, peer)?;
    let id = uuid::Uuid::new_v4().to_string();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (model, options, url, upload) = if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, &state).await;
        let (form, upload) = read_upload(&state, multipart, &caller, &["audio", "file"]).await?;
        let (model, options) = {
            let fields = form_fields(&form);
            let model = resolve_model(&state, fields.get("model").as_deref())?;
            let options = fields.labelled_options(&state, &model)?;
            (model, options)
        };
        (model, options, None, Some(upload))
    } else {
        let Json(body) = Json::<Value>::from_request(request, &state)
            .await
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {}", e.body_text())))?;
        if !body.is_object() {
            return Err(ApiError::bad_request("the JSON body must be an object"));
        }
        let fields = json_fields(&body);
        let url = fields.get("url").ok_or_else(|| {
            ApiError::bad_request("missing `url`: send a JSON body with the audio's URL, or a form with an `audio` file")
        })?;
        fetch::check_url(
            &url,
            &state.fetch_policy(caller.max_upload_bytes(&state.config)),
        )
        .await
        .map_err(fetch_error)?;
        let model = resolve_model(&state, fields.get("model").as_deref())?;
        let options = fields.labelled_options(&state, &model)?;
        (model, options, Some(url), None)
    };

    let audio_path = state.uploads_dir.join(&id);
    if let Some(upload) = upload {
        upload
            .keep(&audio_path)
            .map_err(|e| ApiError::internal(format!("cannot store the upload: {e}")))?;
    }
    let now = chrono::Utc::now();
    let job = Job {
        id: id.clone(),
        subject: caller.subject(),
        status: "waiting".into(),
        model,
        options: serde_json::to_string(&options).map_err(|e| ApiError::internal(e.to_string()))?,
        audio_path: url
            .is_none()
            .then(|| audio_path.to_string_lossy().into_owned()),
        url,
        budget_minutes: admission.budget_minutes,
        max_bytes: caller.max_upload_bytes(&state.config),
        created_unix: now.timestamp(),
        created: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        result: None,
        error: None,
    };
    if let Err(error) = state.db.insert_job(&job) {
        let _ = std::fs::remove_file(&audio_path);
        return Err(ApiError::internal(error));
    }
    state.jobs_ready.notify_one();
    Ok((StatusCode::CREATED, Json(json!({"generation_id": id}))).into_response())
}

pub fn fetch_error(error: fetch::FetchError) -> ApiError {
    match error {
        fetch::FetchError::TooLarge { limit } => ApiError::too_large(limit),
        other => ApiError::bad_request(other.to_string()),
    }
}

/// `GET /v1/stt/{id}`: only the caller who created a job sees it, and only for the result
/// lifetime.
async fn get_job(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response> {
    let caller = auth::authenticate(&state.db, &state.config, &headers, peer.ip())?;
    let gone = || {
        ApiError::not_found(format!(
            "no generation {id:?} (results are kept {} s)",
            state.config.result_ttl
        ))
    };
    let job = state
        .db
        .job(&id)
        .map_err(ApiError::internal)?
        .ok_or_else(gone)?;
    let expired = job.created_unix + state.config.result_ttl as i64 <= now_unix();
    let finished = matches!(job.status.as_str(), "completed" | "failed");
    if job.subject != caller.subject() || (expired && finished) {
        return Err(gone());
    }
    let body = match job.status.as_str() {
        "completed" => {
            let result: Value = serde_json::from_str(job.result.as_deref().unwrap_or("null"))
                .map_err(|e| ApiError::internal(e.to_string()))?;
            json!({"generation_id": id, "status": "completed", "result": result})
        }
        "failed" => json!({"generation_id": id, "status": "failed", "error": job.error}),
        status => json!({"generation_id": id, "status": status}),
    };
    Ok(with_model(Json(body).into_response(), &job.model))
}

/// `GET /v1/models` (section 5).
async fn models(State(state): State<Arc<AppState>>) -> Json<Value> {
    let models: Vec<Value> = state
        .catalog
        .models
        .iter()
        .map(|model| {
            json!({
                "id": model.name,
                "name": catalog::display_name(&model.name),
                "languages": model.languages.len(),
                "speed": catalog::speed(&model.name),
                "default": model.name == state.catalog.default,
            })
        })
        .collect();
    Json(json!({"models": models}))
}

#[derive(Deserialize)]
struct LanguagesQuery {
    model: Option<String>,
}

/// `GET /v1/languages[?model=NAME]` (section 5): the languages of the default model.
async fn languages(
    State(state): State<Arc<AppState>>,
    Query(query): Query<LanguagesQuery>,
) -> Result<Json<Value>> {
    let model = resolve_model(&state, query.model.as_deref())?;
    let info = state
        .catalog
        .get(&model)
        .ok_or_else(|| ApiError::internal("model vanished"))?;
    let languages: Vec<Value> = catalog::language_entries(info)
        .into_iter()
        .map(|(code, name)| json!({"code": code, "name": name}))
        .collect();
    Ok(Json(json!({"model": model, "languages": languages})))
}

/// `GET /health` (section 5): the execution provider the workers really use, and its GPU.
async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    let (provider, gpu) = match state.engine.device {
        stt_core::Device::Cuda(index) => ("cuda", Some(gpu_description(index).await)),
        _ => ("cpu", None),
    };
    let gpu_available = gpu.is_some();
    let (name, memory_mb) = gpu.flatten().unzip();
    Json(json!({
        "status": "ok",
        "gpu_available": gpu_available,
        "gpu_name": name,
        "gpu_memory_mb": memory_mb,
        "execution_provider": provider,
        "device": state.engine.device.to_string(),
        "workers": state.engine.workers,
        "default_model": state.catalog.default,
    }))
}

/// Name and memory (MB) of NVIDIA GPU `index` as `nvidia-smi` reports them; `None` when it
/// cannot tell (ONNX Runtime's CUDA provider does not expose them).
async fn gpu_description(index: u32) -> Option<(String, u64)> {
    let output = tokio::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total",
            "--format=csv,noheader,nounits",
            &format!("--id={index}"),
        ])
        .output()
        .await
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    let (name, memory) = text.trim().rsplit_once(',')?;
    Some((name.trim().to_string(), memory.trim().parse().ok()?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    #[serde(default)]
    name: String,
    plan: Option<Plan>,
    monthly_minutes: Option<u64>,
    concurrency: Option<u32>,
    max_upload_mb: Option<u64>,
}

/// `POST /v1/keys` (operator): the raw key is in this answer only.
async fn create_key(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<NewKey>, axum::extract::rejection::JsonRejection>,
) -> Result<Response> {
    auth::authenticate_admin(&state.config, &headers)?;
    let Json(spec) =
        body.map_err(|e| ApiError::bad_request(format!("invalid JSON body: {}", e.body_text())))?;
    let (key, raw) = auth::create_key(
        &state.db,
        spec.name,
        spec.plan.unwrap_or(Plan::Free),
        spec.monthly_minutes,
        spec.concurrency,
        spec.max_upload_mb,
    )
    .map_err(ApiError::internal)?;
    let mut body = serde_json::to_value(key).map_err(|e| ApiError::internal(e.to_string()))?;
    body["key"] = Value::String(raw);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET /v1/keys` (operator).
async fn list_keys(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Result<Json<Value>> {
    auth::authenticate_admin(&state.config, &headers)?;
    let keys = state.db.keys().map_err(ApiError::internal)?;
    Ok(Json(json!({"keys": keys})))
}

/// `DELETE /v1/keys/{id}` (operator).
async fn revoke_key(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    auth::authenticate_admin(&state.config, &headers)?;
    match state.db.revoke_key(&id).map_err(ApiError::internal)? {
        true => Ok(Json(json!({"id": id, "revoked": true}))),
        false => Err(ApiError::not_found(format!("no key {id:?}"))),
    }
}

pub fn now_unix() -> i64 {
    chrono::Utc::now().timestamp()
}
