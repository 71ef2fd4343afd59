//! The text endpoints of seed `002_…` (`/v1/summarize`, `/v1/analyze`, `/v1/generate`,
//! `/v1/translate`, `/v1/embed`): an account's key, a request slot of its plan, a call on the
//! text workers, and the answer as JSON or, with `"stream": true`, as Server-Sent Events
//! (`delta` events with the text as it is made, then one `done` event with the whole answer,
//! or an `error` event).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde_json::{Value, json};
use stt_llm::TaskContext;
use stt_llm::tasks;

use crate::server::AppState;
use crate::server::auth::{self, Admission};
use crate::server::error::{ApiError, Result};
use crate::server::request::text;
use crate::server::workers::text::{RunningText, TextJob, TextModels};

/// The caller's account and a request slot: text calls count against the plan's requests at
/// once, and anonymous callers have no plan to count them against.
pub(super) async fn admit_text(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Result<(String, Admission)> {
    let caller = auth::authenticate(&state.db, &state.config, headers, peer.ip()).await?;
    let Some(account) = caller.account().map(str::to_string) else {
        return Err(ApiError::unauthorized(
            "the text features need an account's key: `Authorization: Bearer <key>`",
        ));
    };
    let admission = state.admit(&caller).await?;
    Ok((account, admission))
}

/// Runs `job` on the text workers and answers it as JSON or as an event stream; the request
/// slot is held until the answer is complete, and a client that goes away cancels the call.
pub(super) async fn respond(
    state: &AppState,
    job: TextJob,
    stream: bool,
    admission: Admission,
) -> Result<Response> {
    let workers = state.text.as_ref().ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            "this node runs no text models",
        )
    })?;
    let running = workers.submit(job, stream)?;
    if !stream {
        let answer = running.answer().await?;
        drop(admission);
        return Ok(Json(answer).into_response());
    }
    Ok(events(running, admission).into_response())
}

fn events(
    running: RunningText,
    admission: Admission,
) -> Sse<impl futures_util::Stream<Item = std::result::Result<Event, Infallible>>> {
    let state = Some((running, admission));
    let events = stream::unfold(state, |state| async move {
        let (mut running, admission) = state?;
        if let Some(pieces) = running.pieces.as_mut()
            && let Some(text) = pieces.recv().await
        {
            let event = Event::default()
                .event("delta")
                .json_data(json!({"text": text}));
            return Some((Ok(event.unwrap_or_default()), Some((running, admission))));
        }
        let event = match running.answer().await {
            Ok(answer) => Event::default().event("done").json_data(answer),
            Err(error) => Event::default()
                .event("error")
                .json_data(json!({"error": error.message, "status": error.status.as_u16()})),
        };
        drop(admission);
        Some((Ok(event.unwrap_or_default()), None))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

pub async fn summarize(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response> {
    let (_, admission) = admit_text(&state, &headers, peer).await?;
    let body = text::summarize(request).await?;
    let (style, model, stream) = (body.style, body.common.model, body.common.stream);
    let job: TextJob = Box::new(move |models, cancel, on_text| {
        let llm = models.llm(model.as_deref())?;
        let summary = tasks::summarize(
            &mut TaskContext::new(&llm, cancel, on_text),
            &body.text,
            style,
            stream,
        )?;
        Ok(json!({"summary": summary, "style": style.as_str(), "model": llm.name()}))
    });
    respond(&state, job, stream, admission).await
}

pub async fn analyze(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response> {
    typed_call(&state, &headers, peer, request, analysis_job).await
}

/// Makes the job of a typed call (an analysis or a generation) on a text.
pub(super) type TypedJob<K> = fn(String, K, Option<String>, bool) -> TextJob;

/// `/v1/analyze` and `/v1/generate`: a text and a type.
async fn typed_call<K: std::str::FromStr<Err = stt_core::Error>>(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    peer: SocketAddr,
    request: Request,
    job: TypedJob<K>,
) -> Result<Response> {
    let (_, admission) = admit_text(state, headers, peer).await?;
    let body = text::typed::<K>(request).await?;
    let stream = body.common.stream;
    let job = job(body.text, body.kind, body.common.model, stream);
    respond(state, job, stream, admission).await
}

/// An analysis of `text` (also of a stored transcript's text).
pub(super) fn analysis_job(
    text: String,
    kind: tasks::AnalysisType,
    model: Option<String>,
    stream: bool,
) -> TextJob {
    Box::new(move |models: &TextModels, cancel, on_text| {
        let llm = models.llm(model.as_deref())?;
        let result = tasks::analyze(
            &mut TaskContext::new(&llm, cancel, on_text),
            &text,
            kind,
            stream,
        )?;
        Ok(json!({"type": kind.as_str(), "model": llm.name(), "result": result}))
    })
}

pub async fn generate(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response> {
    typed_call(&state, &headers, peer, request, generation_job).await
}

/// Content generated from `text` (also a stored transcript's).
pub(super) fn generation_job(
    text: String,
    kind: tasks::ContentType,
    model: Option<String>,
    stream: bool,
) -> TextJob {
    Box::new(move |models: &TextModels, cancel, on_text| {
        let llm = models.llm(model.as_deref())?;
        let generated = tasks::generate(
            &mut TaskContext::new(&llm, cancel, on_text),
            &text,
            kind,
            stream,
        )?;
        let mut answer = json!({"type": kind.as_str(), "model": llm.name()});
        if let Some(content) = generated.content {
            answer["content"] = Value::String(content);
        }
        if let Some(result) = generated.result {
            answer["result"] = result;
        }
        Ok(answer)
    })
}

pub async fn translate(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response> {
    let (_, admission) = admit_text(&state, &headers, peer).await?;
    let body = text::translate(request).await?;
    let stream = body.common.stream;
    let job: TextJob = Box::new(move |models, cancel, on_text| {
        let llm = models.llm(body.common.model.as_deref())?;
        let mut context = TaskContext::new(&llm, cancel, on_text);
        let mut translations = Vec::with_capacity(body.texts.len());
        for text in &body.texts {
            translations.push(tasks::translate(
                &mut context,
                text,
                &body.source,
                &body.target,
                stream,
            )?);
        }
        Ok(match body.batch {
            true => json!({
                "translations": translations.iter().map(|t| json!({"translated_text": t})).collect::<Vec<_>>(),
                "source_language": body.source,
                "target_language": body.target,
                "model": llm.name(),
            }),
            false => json!({
                "translated_text": translations.pop().unwrap_or_default(),
                "source_language": body.source,
                "target_language": body.target,
                "model": llm.name(),
            }),
        })
    });
    respond(&state, job, stream, admission).await
}

pub async fn embed(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response> {
    let (_, admission) = admit_text(&state, &headers, peer).await?;
    let texts = text::embed(request).await?;
    let job: TextJob = Box::new(move |models, cancel, _| {
        let embedder = models.embedder()?;
        let embeddings = embedder.embed_all(&texts, cancel)?;
        Ok(json!({"embeddings": embeddings, "dimensions": embedder.dimensions()}))
    });
    respond(&state, job, false, admission).await
}
