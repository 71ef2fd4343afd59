//! Discovery (section 5): installed models, their languages, and the server's health.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use stt_core::store::ModelKind;

use crate::server::AppState;
use crate::server::error::{ApiError, Result};
use crate::server::request::resolve_model;
use crate::server::{catalog, metrics};

/// `GET /v1/models` (section 5).
pub async fn models(State(state): State<Arc<AppState>>) -> Json<Value> {
    let models: Vec<Value> = state
        .catalog
        .models
        .iter()
        .map(|model| {
            json!({
                "id": model.name,
                "name": catalog::display_name(&model.name),
                "languages": model.languages.len(),
                "speed": model.speed(),
                "default": model.name == state.catalog.default,
            })
        })
        .collect();
    Json(json!({"models": models}))
}

#[derive(Deserialize)]
pub struct LanguagesQuery {
    model: Option<String>,
}

/// `GET /v1/languages[?model=NAME]` (section 5): the languages of the default model.
pub async fn languages(
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
pub async fn health(State(state): State<Arc<AppState>>) -> Json<Value> {
    // An API node runs no transcription workers: it reports none.
    let (device, workers) = match &state.workers {
        Some(workers) => (Some(workers.device), workers.count),
        None => (None, 0),
    };
    let (provider, gpu) = match device.unwrap_or(stt_core::Device::Cpu) {
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
        "device": device.map(|device| device.to_string()),
        "workers": workers,
        "role": format!("{:?}", state.config.role).to_lowercase(),
        "default_model": state.catalog.default,
    }))
}

/// `GET /v1/capabilities`: what this server offers, so that a client (the web app) shows
/// only what works: each feature is true when its models are installed and its workers run
/// here. How callers are admitted, the upload limits and the export formats come with it.
pub async fn capabilities(State(state): State<Arc<AppState>>) -> Json<Value> {
    let installed = tokio::task::spawn_blocking(stt_core::store::installed_models)
        .await
        .unwrap_or_default();
    let has = |kind: ModelKind| installed.iter().any(|model| model.kind == kind);
    let config = &state.config;
    let text = state.text.is_some() && has(ModelKind::Llm);
    let audio = state.audio_tools.is_some();
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "anonymous": config.anonymous,
        "max_upload_mb": config.max_upload_mb,
        "anonymous_max_upload_mb": config.anonymous.then_some(config.anonymous_max_upload_mb),
        "max_duration_seconds": config.max_duration,
        "transcription": !state.catalog.models.is_empty(),
        "diarization": has(ModelKind::Speaker),
        "streaming": state.streams.is_some(),
        "summary": text,
        "chat": text && has(ModelKind::Embedding),
        "speech": audio && has(ModelKind::Voice),
        "noise_removal": audio && has(ModelKind::Enhance),
        "export_formats": ["txt", "srt", "vtt", "json", "csv", "docx", "pdf"],
    }))
}

/// `GET /metrics`: Prometheus' text format.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let body = metrics::render(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// `GET /livez`: the process answers.
pub async fn live() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers (models were loaded before the port opened); 503
/// otherwise, so a load balancer sends no traffic here.
pub async fn ready(State(state): State<Arc<AppState>>) -> Result<Json<Value>> {
    state
        .db
        .queue_stats()
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}")))?;
    Ok(Json(json!({"status": "ready"})))
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
