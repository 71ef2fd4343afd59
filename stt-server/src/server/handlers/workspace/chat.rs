//! The language model on stored transcripts: `chat` (questions answered from the segments
//! nearest them by embedding, with those segments as sources and the conversation kept by
//! `session_id`), `analyze` and `generate` (the `/v1/` tasks on the stored text).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;
use stt_core::Transcript;
use stt_core::store::EMBEDDING_MODEL;
use stt_llm::TaskContext;
use stt_llm::tasks::{self, AnalysisType, ChatTurn, ContentType};

use super::transcripts::completed;
use crate::server::AppState;
use crate::server::error::{ApiError, Result};
use crate::server::handlers::text::{TypedJob, admit_text, analysis_job, generation_job, respond};
use crate::server::request::text;
use crate::server::workers::text::TextJob;

/// Segments handed to the model per question.
const SOURCES: usize = 5;

/// The stored text as the model reads it: one line per segment with its speaker, and its
/// start in seconds when `timed` (chapter markers need times).
fn stored_text(transcript: &Transcript, timed: bool) -> String {
    if transcript.segments.is_empty() {
        return transcript.text.clone();
    }
    let line = |s: &stt_core::transcript::Segment| {
        let time = if timed {
            format!("[{:.0}] ", s.start)
        } else {
            String::new()
        };
        let speaker = s
            .speaker
            .as_ref()
            .map(|name| format!("{name}: "))
            .unwrap_or_default();
        format!("{time}{speaker}{}", s.text.trim())
    };
    transcript
        .segments
        .iter()
        .map(line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `POST /api/v1/transcripts/{id}/analyze/`
pub async fn analyze(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response> {
    let untimed = |_: &AnalysisType| false;
    on_stored(&state, &headers, peer, &id, request, analysis_job, untimed).await
}

/// `POST /api/v1/transcripts/{id}/generate/`
pub async fn generate(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response> {
    let timed = |kind: &ContentType| *kind == ContentType::ChapterMarkers;
    on_stored(&state, &headers, peer, &id, request, generation_job, timed).await
}

/// A typed call on a stored transcript's text, with segment times when `timed` says so.
async fn on_stored<K: std::str::FromStr<Err = stt_core::Error>>(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    peer: SocketAddr,
    id: &str,
    request: Request,
    job: TypedJob<K>,
    timed: fn(&K) -> bool,
) -> Result<Response> {
    let (account, admission) = admit_text(state, headers, peer).await?;
    let body = text::on_stored::<K>(request).await?;
    let (_, transcript) = completed(state, &account, id, "are used by the language model").await?;
    let text = stored_text(&transcript, timed(&body.kind));
    let job = job(text, body.kind, body.common.model, body.common.stream);
    respond(state, job, body.common.stream, admission).await
}

/// `POST /api/v1/transcripts/{id}/chat/`
pub async fn chat(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response> {
    let (account, admission) = admit_text(&state, &headers, peer).await?;
    let body = text::chat(request).await?;
    let (_, transcript) = completed(&state, &account, &id, "answer questions").await?;
    let segments: Vec<String> = transcript
        .segments
        .iter()
        .map(|s| s.text.trim().to_string())
        .collect();
    if segments.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("transcript {id:?} has no speech to ask about"),
        ));
    }
    let session = body
        .session_id
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let db = state.db.clone();
    let mut history = db
        .chat_turns(&account, &session, &id)
        .await
        .map_err(ApiError::internal)?;
    let kept = db
        .segment_vectors(&id, EMBEDDING_MODEL)
        .await
        .map_err(ApiError::internal)?;
    let (question, model, stream) = (body.question, body.common.model, body.common.stream);
    // The worker thread writes back through the server's runtime.
    let runtime = tokio::runtime::Handle::current();
    let job: TextJob = Box::new(move |models, cancel, on_text| {
        let embedder = models.embedder()?;
        let vectors = match kept {
            Some(vectors) if vectors.len() == segments.len() => vectors,
            _ => {
                let vectors = embedder.embed_all(&segments, cancel)?;
                runtime
                    .block_on(db.keep_segment_vectors(&id, EMBEDDING_MODEL, &vectors))
                    .map_err(ApiError::internal)?;
                vectors
            }
        };
        let asked = embedder
            .embed(&[question.as_str()])?
            .pop()
            .unwrap_or_default();
        let pairs: Vec<(String, Vec<f32>)> = segments.into_iter().zip(vectors).collect();
        let sources = tasks::top_sources(&asked, &pairs, SOURCES);
        let llm = models.llm(model.as_deref())?;
        let mut context = TaskContext::new(&llm, cancel, on_text);
        let answer = tasks::answer(&mut context, &question, &sources, &history, stream)?;
        history.push(ChatTurn {
            question,
            answer: answer.clone(),
        });
        runtime
            .block_on(db.keep_chat_turns(&account, &session, &id, history))
            .map_err(ApiError::internal)?;
        Ok(
            json!({"answer": answer, "sources": sources, "session_id": session, "model": llm.name()}),
        )
    });
    respond(&state, job, stream, admission).await
}
