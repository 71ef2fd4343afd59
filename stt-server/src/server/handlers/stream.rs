//! `GET /v1/stream` (section 2): live transcription over a WebSocket.
//!
//! Each connection owns a core `StreamSession`; its steps run on the stream workers
//! (`workers::stream`). A stream has at most one step in flight: audio that arrives meanwhile
//! waits and goes into the next step, so a slow engine makes steps larger, not more numerous.
//! Streams are admitted while the stream workers' measured load leaves room for one more, and
//! at most `max_streams`; one more is refused with a clear message.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use stt_core::{StreamOptions, StreamSession};
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;

use crate::server::AppState;
use crate::server::auth::{self, Admission, Caller, Reservation};
use crate::server::error::ApiError;
use crate::server::request::stream::{
    CONFIG_EXAMPLE, MAX_MESSAGE_BYTES, PcmJoiner, Refusal, close_reason, config_object,
    not_a_config, stop_action, too_large, too_large_refusal,
};
use crate::server::request::{json_fields, resolve_model};
use crate::server::storage::db::{credits, now_unix};
use crate::server::workers::stream::{MAX_STEP_SAMPLES, StepResult, joined};

/// Time allowed for the config message after the connection opens.
const CONFIG_TIMEOUT: Duration = Duration::from_secs(10);
/// A stream that sends nothing for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a closing stream waits for the client's close frame.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// `GET /v1/stream`.
pub async fn stream(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return ApiError::bad_request(
            "/v1/stream is a WebSocket endpoint: connect with a WebSocket client",
        )
        .into_response();
    };
    // The refusal is sent over the socket too: browsers cannot read an HTTP error body.
    let admitted = admit(&state, &headers, &query, peer).await;
    upgrade
        .max_message_size(MAX_MESSAGE_BYTES)
        .on_upgrade(move |mut socket| async move {
            match admitted {
                Ok(admitted) => run(&state, socket, admitted).await,
                Err(refusal) => close_with_error(&mut socket, refusal).await,
            }
        })
}

struct Admitted {
    caller: Caller,
    /// Holds the caller's request slot while the stream runs.
    _admission: Admission,
    _slot: OwnedSemaphorePermit,
}

async fn admit(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    peer: SocketAddr,
) -> Result<Admitted, Refusal> {
    let mut headers = headers.clone();
    // Browsers cannot set headers on a WebSocket: the key may come as `?token=`.
    if let Some(token) = query.get("token")
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        headers.insert(axum::http::header::AUTHORIZATION, value);
    }
    let refused = |e: ApiError| Refusal::new(close_code::POLICY, e.message);
    let caller = auth::authenticate(&state.db, &state.config, &headers, peer.ip())
        .await
        .map_err(refused)?;
    let Some(streams) = &state.streams else {
        return Err(Refusal::new(
            close_code::ERROR,
            "this node runs no live streams",
        ));
    };
    let slot = streams
        .try_slot()
        .map_err(|reason| Refusal::new(close_code::AGAIN, reason))?;
    let admission = state.admit(&caller).await.map_err(refused)?;
    Ok(Admitted {
        caller,
        _admission: admission,
        _slot: slot,
    })
}

async fn run(state: &Arc<AppState>, mut socket: WebSocket, admitted: Admitted) {
    let (model, session) = match configure(state, &mut socket).await {
        Ok(Some(configured)) => configured,
        Ok(None) => return, // gone before configuring
        Err(refusal) => return close_with_error(&mut socket, refusal).await,
    };
    if send_json(&mut socket, &json!({"status": "ready"}))
        .await
        .is_err()
    {
        return;
    }
    // Minutes are held as the audio comes, so streams and requests at once share the quota.
    let quota = match admitted.caller.monthly_minutes() {
        Some(quota) => match auth::Reservation::take(
            &state.db,
            &state.node,
            &admitted.caller.subject(),
            quota,
            Some(0.0),
        )
        .await
        {
            Ok(reservation) => Some((quota, reservation)),
            Err(e) => {
                return close_with_error(&mut socket, Refusal::new(close_code::POLICY, e.message))
                    .await;
            }
        },
        None => None,
    };
    let mut stream = StreamConnection {
        state: Arc::clone(state),
        socket,
        model,
        session: Some(session),
        pending: Vec::new(),
        pending_since: None,
        pcm: PcmJoiner::default(),
        received_samples: 0,
        quota,
    };
    let ending = stream.serve().await;
    let StreamConnection {
        mut socket,
        received_samples,
        quota,
        ..
    } = stream;
    let seconds = received_samples as f64 / 16_000.0;
    if received_samples > 0
        && let Err(e) = state
            .db
            .record_usage(&admitted.caller.subject(), now_unix(), seconds)
            .await
    {
        eprintln!("stt: cannot record the usage of a stream ({seconds:.1} s): {e}");
    }
    // Recorded: the minutes held for the stream go back.
    drop(quota);
    match ending {
        Ending::Gone => {}
        Ending::Finished => {
            let _ = send_json(&mut socket, &json!({"is_final": true})).await;
            close(&mut socket, close_code::NORMAL, "").await;
        }
        Ending::Refused(refusal) => close_with_error(&mut socket, refusal).await,
    }
}

/// Reads the config message: the model and the session, `None` when the client left.
async fn configure(
    state: &Arc<AppState>,
    socket: &mut WebSocket,
) -> Result<Option<(String, StreamSession)>, Refusal> {
    let message = match tokio::time::timeout(CONFIG_TIMEOUT, socket.recv()).await {
        Err(_) => {
            return Err(Refusal::new(
                close_code::POLICY,
                format!(
                    "no config within {} s: send a JSON text message such as {CONFIG_EXAMPLE} \
                     first",
                    CONFIG_TIMEOUT.as_secs()
                ),
            ));
        }
        Ok(Some(Err(error))) if too_large(&error) => return Err(too_large_refusal()),
        Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return Ok(None),
        Ok(Some(Ok(message))) => message,
    };
    let Message::Text(text) = message else {
        return Err(not_a_config());
    };
    let config = config_object(&text)?;
    let invalid = |e: ApiError| Refusal::new(close_code::INVALID, e.message);
    let fields = json_fields(&config);
    let model = resolve_model(state, fields.get("model").as_deref()).map_err(invalid)?;
    let defaults = StreamOptions::default();
    let options = StreamOptions {
        transcribe: fields
            .options_from(state, &model, defaults.transcribe.clone())
            .map_err(invalid)?,
        ..defaults
    };
    let session = StreamSession::new(options).map_err(|e| invalid(e.into()))?;
    Ok(Some((model, session)))
}

enum Ending {
    /// The client closed or dropped the connection: nothing more to send.
    Gone,
    /// `{"action": "stop"}`: everything was flushed.
    Finished,
    Refused(Refusal),
}

/// One `/v1/stream` WebSocket and the core `StreamSession` it feeds.
struct StreamConnection {
    state: Arc<AppState>,
    socket: WebSocket,
    model: String,
    /// `None` while a step has it.
    session: Option<StreamSession>,
    /// Audio received and not yet given to a step, and when the oldest of it came.
    pending: Vec<f32>,
    pending_since: Option<Instant>,
    /// Joins samples split between two messages.
    pcm: PcmJoiner,
    received_samples: usize,
    /// The caller's monthly minutes and those held for this stream, which grow with its audio.
    quota: Option<(u64, Reservation)>,
}

impl StreamConnection {
    /// Receives audio and sends events until the client stops, leaves or breaks the protocol.
    async fn serve(&mut self) -> Ending {
        let mut running: Option<JoinHandle<StepResult>> = None;
        loop {
            if running.is_none() && !self.pending.is_empty() {
                running = self.start_step(false);
            }
            tokio::select! {
                message = tokio::time::timeout(IDLE_TIMEOUT, self.socket.recv()) => {
                    let refusal = match message {
                        Err(_) => Refusal::new(
                            close_code::POLICY,
                            format!("no audio for {} s", IDLE_TIMEOUT.as_secs()),
                        ),
                        Ok(Some(Err(error))) if too_large(&error) => too_large_refusal(),
                        Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return Ending::Gone,
                        Ok(Some(Ok(Message::Binary(bytes)))) => match self.accept(&bytes).await {
                            Ok(()) => continue,
                            Err(refusal) => refusal,
                        },
                        Ok(Some(Ok(Message::Text(text)))) => match stop_action(&text) {
                            Ok(()) => return self.flush(running, None).await,
                            Err(refusal) => refusal,
                        },
                        Ok(Some(Ok(_))) => continue, // ping and pong
                    };
                    return self.flush(running, Some(refusal)).await;
                }
                result = async {
                    match running.as_mut() {
                        Some(step) => step.await,
                        None => std::future::pending().await,
                    }
                } => {
                    running = None;
                    if let Err(ending) = self.finish_step(joined(result)).await {
                        return ending;
                    }
                }
            }
        }
    }

    /// Hands the session and up to [`MAX_STEP_SAMPLES`] of pending audio (all of it when
    /// finishing) to a stream worker.
    fn start_step(&mut self, finish: bool) -> Option<JoinHandle<StepResult>> {
        let session = self.session.take()?;
        let take = match finish {
            true => self.pending.len(),
            false => self.pending.len().min(MAX_STEP_SAMPLES),
        };
        let audio: Vec<f32> = self.pending.drain(..take).collect();
        let waited = self
            .pending_since
            .map_or(Duration::ZERO, |since| since.elapsed());
        self.pending_since = (!self.pending.is_empty()).then(Instant::now);
        if let Some(streams) = &self.state.streams
            && !finish
        {
            streams.waited(waited);
        }
        let (state, model) = (Arc::clone(&self.state), self.model.clone());
        Some(tokio::spawn(async move {
            match &state.streams {
                Some(streams) => streams.step(&model, session, audio, finish).await,
                None => Err("this node runs no live streams".into()),
            }
        }))
    }

    /// Takes the session back and sends the step's events.
    async fn finish_step(&mut self, result: StepResult) -> Result<(), Ending> {
        let engine_failed = |message| Ending::Refused(Refusal::new(close_code::ERROR, message));
        let (session, outcome) = result.map_err(engine_failed)?;
        self.session = Some(session);
        for event in outcome.map_err(engine_failed)? {
            let value = serde_json::to_value(&event).unwrap_or(Value::Null);
            if send_json(&mut self.socket, &value).await.is_err() {
                return Err(Ending::Gone);
            }
        }
        Ok(())
    }

    /// Transcribes everything accepted, then ends as `refusal` says (or as finished).
    async fn flush(
        &mut self,
        running: Option<JoinHandle<StepResult>>,
        refusal: Option<Refusal>,
    ) -> Ending {
        if let Some(step) = running {
            let result = self.awaiting(step).await;
            if let Err(ending) = self.finish_step(result).await {
                return ending;
            }
        }
        if let Some(last) = self.start_step(true) {
            let result = self.awaiting(last).await;
            if let Err(ending) = self.finish_step(result).await {
                return ending;
            }
        }
        match refusal {
            Some(refusal) => Ending::Refused(refusal),
            None => Ending::Finished,
        }
    }

    /// Waits for a step while reading (and dropping) what the client still sends, so that its
    /// pings are answered however long the flush takes.
    async fn awaiting(&mut self, mut step: JoinHandle<StepResult>) -> StepResult {
        loop {
            tokio::select! {
                result = &mut step => return joined(result),
                message = self.socket.recv() => {
                    if !matches!(message, Some(Ok(_))) {
                        // Gone: the step's result has no reader, but it must still be awaited
                        // for the session to be whole again.
                        return joined(step.await);
                    }
                }
            }
        }
    }

    /// Adds a binary message's PCM (s16le) to the pending audio.
    async fn accept(&mut self, bytes: &[u8]) -> Result<(), Refusal> {
        let samples = self.pcm.samples(bytes);
        let mut accepted = samples.len();
        let mut refusal = None;
        if let Some((quota, reservation)) = &mut self.quota {
            let reserved = reservation.minutes as usize * 60 * 16_000;
            let wanted = self.received_samples + accepted;
            if wanted > reserved {
                let more = credits(wanted as f64 / 16_000.0) - reservation.minutes;
                if !reservation.extend(*quota, more).await.unwrap_or(false) {
                    accepted = reserved.saturating_sub(self.received_samples);
                    refusal = Some(Refusal::new(
                        close_code::POLICY,
                        "no credits left: this stream used the minutes that remained this month",
                    ));
                }
            }
        }
        self.received_samples += accepted;
        if accepted > 0 && self.pending.is_empty() {
            self.pending_since = Some(Instant::now());
        }
        self.pending.extend(
            samples[..accepted]
                .iter()
                .map(|&sample| f32::from(sample) / 32768.0),
        );
        refusal.map_or(Ok(()), Err)
    }
}

async fn send_json(socket: &mut WebSocket, value: &Value) -> Result<(), axum::Error> {
    socket
        .send(Message::Text(Utf8Bytes::from(value.to_string())))
        .await
}

/// Sends a close frame, then reads until the client's (or for [`CLOSE_TIMEOUT`]): leaving at
/// once would reset the connection under audio the client had already sent, and the client
/// would lose the messages before the close, an error among them.
async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    };
    if socket.send(Message::Close(Some(frame))).await.is_err() {
        return;
    }
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

async fn close_with_error(socket: &mut WebSocket, refusal: Refusal) {
    let _ = send_json(socket, &json!({"error": refusal.message})).await;
    // The message went in full above; the close frame carries what fits.
    close(socket, refusal.code, close_reason(&refusal.message)).await;
}
