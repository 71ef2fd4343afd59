//! The audio tools of seed `002_…`: `POST /v1/enhance-audio` (noise removed, loudness
//! normalised, WAV back), `POST /v1/tts` (speech as WAV, with `X-Duration` and
//! `X-Generation-Time`), and OpenAI's `POST /v1/audio/speech` (speech streamed as it is made).
//! Each admits the caller like a transcription, runs on the audio workers, and streams what
//! they make; enhancement is charged to the caller's minutes like a transcription.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::multipart::MultipartRejection;
use axum::extract::{ConnectInfo, Multipart, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use stt_core::audio::{self, AudioFormat, DecodeOptions, Encoder};
use stt_core::tts::{SpeechOptions, choose_voice};

use super::admit;
use crate::server::AppState;
use crate::server::error::{ApiError, MB, Result};
use crate::server::request::audio::{self as parse, OPENAI_PCM_RATE, Speech};
use crate::server::request::{form_fields, read_multipart, read_upload};
use crate::server::storage::db::now_unix;
use crate::server::workers::audio::{AudioAnswer, AudioJob, AudioWorkers, PieceWriter};

/// Seconds of reference audio a cloning voice may be given (the seed asks for 3 to 10).
const MAX_REFERENCE_SECONDS: f64 = 30.0;
/// Bytes of a reference clip: 30 s of 48 kHz 24-bit stereo WAV fit.
const MAX_REFERENCE_BYTES: u64 = 16 * MB;

fn workers(state: &AppState) -> Result<&AudioWorkers> {
    state
        .audio_tools
        .as_ref()
        .ok_or_else(|| ApiError::not_found("this node runs no audio tools"))
}

/// `POST /v1/enhance-audio`: multipart `file`, optional `attenuation_limit` (dB),
/// `loudness` (LUFS) and `normalize`; a 48 kHz 16-bit WAV back.
pub async fn enhance_audio(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    let (caller, admission) = admit(&state, &headers, peer).await?;
    let (form, upload) = read_upload(&state, multipart, &caller, &["file"]).await?;
    let options = parse::enhance_options(&form_fields(&form))?;
    let subject = caller.subject();
    let reservation = state
        .reserve(&subject, caller.monthly_minutes(), upload.path())
        .await?;
    let (path, max_seconds) = (
        upload.path().to_path_buf(),
        state.config.max_duration as f64,
    );
    let job: AudioJob = Box::new(move |models, cancel, on_piece| {
        let started = Instant::now();
        let enhancer = models.enhancer()?;
        let decode = DecodeOptions {
            sample_rate: enhancer.sample_rate(),
            max_seconds: Some(max_seconds),
            ..DecodeOptions::spooled()
        };
        let input = audio::spool_file(&path, &decode)
            .map_err(|e| ApiError::from(e).hiding_path(&path, "the audio"))?;
        let enhanced = enhancer.enhance(&input.samples, &options, cancel)?;
        enhanced.write_wav(&mut PieceWriter(on_piece))?;
        Ok(AudioAnswer {
            bytes: Vec::new(),
            duration: enhanced.duration(),
            generation_time: started.elapsed().as_secs_f64(),
            voice: None,
            voice_cloned: false,
        })
    });
    let held = Box::new((admission, reservation, upload));
    streamed(&state, job, "audio/wav", Some(subject), held).await
}

/// `POST /v1/tts`: multipart `text` and a `reference` clip of the voice to clone (optional:
/// the installed voices cannot clone, which `X-Voice-Cloned: false` says), optionally
/// `voice`, `speed` and `language`; a WAV back, made whole so its headers can give its
/// length and the time it took.
pub async fn tts(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    let (caller, _admission) = admit(&state, &headers, peer).await?;
    let limit = caller
        .max_upload_bytes(&state.config)
        .min(MAX_REFERENCE_BYTES);
    let form = read_multipart(&state, multipart, &["reference"], limit).await?;
    let Speech {
        text,
        voice,
        options,
    } = parse::tts(&form_fields(&form))?;
    let reference = form.file;
    let job: AudioJob = Box::new(move |models, cancel, _| {
        let started = Instant::now();
        let voice = models.voice(&voice)?;
        let reference = match &reference {
            Some(file) => {
                let decode = DecodeOptions {
                    sample_rate: voice.sample_rate(),
                    max_seconds: Some(MAX_REFERENCE_SECONDS),
                    ..DecodeOptions::default()
                };
                let reference = audio::spool_file(file.path(), &decode)
                    .map_err(|e| ApiError::from(e).hiding_path(file.path(), "the reference"))?;
                Some(reference)
            }
            None => None,
        };
        let (voice, cloned) = choose_voice(&voice, reference.as_ref().map(|r| &r.samples as _))?;
        let mut samples = Vec::new();
        voice.speak(&text, &options, cancel, &mut |piece| {
            samples.extend_from_slice(piece);
            Ok(())
        })?;
        let rate = voice.sample_rate();
        let mut encoder = Encoder::new(AudioFormat::Wav, rate, rate, Some(samples.len()))?;
        let mut bytes = encoder.push(&samples)?;
        bytes.extend(encoder.finish()?);
        Ok(AudioAnswer {
            bytes,
            duration: samples.len() as f64 / f64::from(rate),
            generation_time: started.elapsed().as_secs_f64(),
            voice: Some(voice.name().to_string()),
            voice_cloned: cloned,
        })
    });
    let answer = workers(&state)?.submit(job, false)?.answer().await?;
    let mut response = ([(header::CONTENT_TYPE, "audio/wav")], answer.bytes).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-duration", format!("{:.3}", answer.duration)),
        (
            "x-generation-time",
            format!("{:.3}", answer.generation_time),
        ),
    ] {
        headers.insert(name, HeaderValue::from_str(&value).expect("a number"));
    }
    headers.extend(voice_headers(
        answer.voice.as_deref().unwrap_or_default(),
        answer.voice_cloned,
    ));
    Ok(response)
}

/// `POST /v1/audio/speech` (OpenAI): JSON `model`, `input`, `voice`, `response_format`
/// (mp3, opus, wav or pcm at 24 kHz), `speed`; the audio streamed a sentence at a time.
pub async fn openai_speech(
    State(state): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response> {
    let (_, admission) = admit(&state, &headers, peer).await?;
    let (
        Speech {
            text,
            voice,
            options,
        },
        format,
    ) = parse::openai_speech(request).await?;
    let headers = voice_headers(&voice, false);
    let job: AudioJob = Box::new(move |models, cancel, on_piece| {
        speak_streamed(
            models.voice(&voice)?,
            &text,
            &options,
            format,
            cancel,
            on_piece,
        )
    });
    let mut response = streamed(
        &state,
        job,
        format.content_type(),
        None,
        Box::new(admission),
    )
    .await?;
    response.headers_mut().extend(headers);
    Ok(response)
}

/// Speaks into `format`, each sentence's bytes sent as they are encoded.
fn speak_streamed(
    voice: Arc<dyn stt_core::tts::Voice>,
    text: &str,
    options: &SpeechOptions,
    format: AudioFormat,
    cancel: &stt_core::CancelToken,
    on_piece: &mut dyn FnMut(&[u8]),
) -> Result<AudioAnswer> {
    let started = Instant::now();
    let rate = voice.sample_rate();
    let output_rate = match format {
        AudioFormat::Pcm => OPENAI_PCM_RATE,
        _ => rate,
    };
    let mut encoder = Encoder::new(format, rate, output_rate, None)?;
    let mut samples = 0;
    voice.speak(text, options, cancel, &mut |piece| {
        samples += piece.len();
        on_piece(&encoder.push(piece)?);
        Ok(())
    })?;
    on_piece(&encoder.finish()?);
    Ok(AudioAnswer {
        bytes: Vec::new(),
        duration: samples as f64 / f64::from(rate),
        generation_time: started.elapsed().as_secs_f64(),
        voice: Some(voice.name().to_string()),
        voice_cloned: false,
    })
}

/// `X-Voice` (the voice that spoke) and `X-Voice-Cloned` (whether it cloned the reference).
fn voice_headers(voice: &str, cloned: bool) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(voice) {
        headers.insert("x-voice", value);
    }
    headers.insert(
        "x-voice-cloned",
        HeaderValue::from_static(if cloned { "true" } else { "false" }),
    );
    headers
}

/// Runs `job` with its output streamed: errors before its first bytes are answered as
/// errors; after them, the body ends early (the client sees a truncated stream). `held`
/// (the request slot, the quota's reservation, the upload) lives until the stream ends;
/// `charge` is the subject whose usage the answer's duration is recorded to.
async fn streamed(
    state: &Arc<AppState>,
    job: AudioJob,
    content_type: &'static str,
    charge: Option<String>,
    held: Box<dyn Send + Sync>,
) -> Result<Response> {
    let mut running = workers(state)?.submit(job, true)?;
    let first = match running.pieces.as_mut() {
        Some(pieces) => pieces.recv().await,
        None => None,
    };
    match first {
        Some(first) => Ok(body_from(state, running, first, content_type, charge, held)),
        None => {
            running.answer().await?;
            Err(ApiError::internal("the audio tool made no audio"))
        }
    }
}

fn body_from(
    state: &Arc<AppState>,
    running: crate::server::workers::audio::RunningAudio,
    first: Vec<u8>,
    content_type: &'static str,
    charge: Option<String>,
    held: Box<dyn Send + Sync>,
) -> Response {
    let rest = stream::unfold(
        Some((running, Arc::clone(state), charge, held)),
        |streaming| async move {
            let (mut running, state, charge, held) = streaming?;
            if let Some(piece) = running.pieces.as_mut()?.recv().await {
                return Some((Ok(Bytes::from(piece)), Some((running, state, charge, held))));
            }
            let item = match running.answer().await {
                Ok(answer) => {
                    if let Some(subject) = charge
                        && let Err(error) = state
                            .db
                            .record_usage(&subject, now_unix(), answer.duration)
                            .await
                    {
                        eprintln!("stt: cannot record the usage of {subject}: {error}");
                    }
                    drop(held);
                    return None;
                }
                Err(error) => Err(std::io::Error::other(error.message)),
            };
            Some((item, None))
        },
    );
    let body = stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) }).chain(rest);
    let mut response = Response::new(Body::from_stream(body));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    *response.status_mut() = StatusCode::OK;
    response
}
