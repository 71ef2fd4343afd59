//! The bodies of the text endpoints (`/v1/summarize`, `/analyze`, `/generate`, `/translate`,
//! `/embed`, and a stored transcript's `chat`): read, bounded and checked here, so handlers
//! get typed requests. Unknown fields are refused by name.

use serde::Deserialize;
use stt_llm::tasks::{MAX_TEXT_CHARS, SummaryStyle};

use super::read_json_up_to;
use crate::server::error::{ApiError, Result};

/// A text body: [`MAX_TEXT_CHARS`] characters of up to 4 bytes, and the other fields.
pub const MAX_TEXT_BODY_BYTES: usize = MAX_TEXT_CHARS * 4 + 64 * 1024;
/// Texts one `/v1/embed` or batch `/v1/translate` call takes.
pub const MAX_BATCH: usize = 256;
/// Characters of one embedded text (the embedder reads 256 tokens of it).
pub const MAX_EMBED_CHARS: usize = 10_000;

/// What every LLM call may add: the model and whether to stream the answer.
pub struct Common {
    pub model: Option<String>,
    pub stream: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SummarizeBody {
    text: String,
    #[serde(default)]
    style: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    stream: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypedBody {
    text: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    stream: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TranslateBody {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    texts: Option<Vec<String>>,
    target: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    stream: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmbedBody {
    texts: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KindBody {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    stream: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChatBody {
    question: String,
    #[serde(default)]
    session_id: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    stream: bool,
}

pub struct Summarize {
    pub text: String,
    pub style: SummaryStyle,
    pub common: Common,
}

pub struct Typed<K> {
    pub text: String,
    pub kind: K,
    pub common: Common,
}

/// Single (`text`) or batch (`texts`).
pub struct Translate {
    pub texts: Vec<String>,
    pub batch: bool,
    pub source: String,
    pub target: String,
    pub common: Common,
}

/// A stored transcript's analysis or generation: the type, and the text comes from storage.
pub struct OnStored<K> {
    pub kind: K,
    pub common: Common,
}

pub struct Chat {
    pub question: String,
    pub session_id: Option<String>,
    pub common: Common,
}

type Request = axum::extract::Request;

async fn body<T: serde::de::DeserializeOwned>(request: Request) -> Result<T> {
    read_json_up_to(request, MAX_TEXT_BODY_BYTES).await
}

fn parsed<K: std::str::FromStr<Err = stt_core::Error>>(value: &str) -> Result<K> {
    value.parse().map_err(ApiError::from)
}

pub async fn summarize(request: Request) -> Result<Summarize> {
    let body: SummarizeBody = body(request).await?;
    Ok(Summarize {
        text: body.text,
        style: body
            .style
            .as_deref()
            .map(parsed)
            .transpose()?
            .unwrap_or_default(),
        common: Common {
            model: body.model,
            stream: body.stream,
        },
    })
}

/// A text and a type (`/v1/analyze`, `/v1/generate`).
pub async fn typed<K: std::str::FromStr<Err = stt_core::Error>>(
    request: Request,
) -> Result<Typed<K>> {
    let body: TypedBody = body(request).await?;
    Ok(Typed {
        text: body.text,
        kind: parsed(&body.kind)?,
        common: Common {
            model: body.model,
            stream: body.stream,
        },
    })
}

pub async fn translate(request: Request) -> Result<Translate> {
    let body: TranslateBody = body(request).await?;
    let (texts, batch) = match (body.text, body.texts) {
        (Some(text), None) => (vec![text], false),
        (None, Some(texts)) if texts.is_empty() => {
            return Err(ApiError::bad_request("texts is empty"));
        }
        (None, Some(texts)) if texts.len() > MAX_BATCH => {
            return Err(ApiError::bad_request(format!(
                "texts has {} items; at most {MAX_BATCH}",
                texts.len()
            )));
        }
        (None, Some(texts)) => (texts, true),
        _ => {
            return Err(ApiError::bad_request(
                "give either text (one) or texts (a batch)",
            ));
        }
    };
    let total: usize = texts.iter().map(|t| t.chars().count()).sum();
    if total > MAX_TEXT_CHARS {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("the texts have {total} characters; at most {MAX_TEXT_CHARS} a call"),
        ));
    }
    let source = body.source.unwrap_or_else(|| "en".into());
    stt_llm::tasks::check_languages(&source, &body.target)?;
    if batch && body.stream {
        return Err(ApiError::bad_request(
            "stream is for a single text, not a batch",
        ));
    }
    Ok(Translate {
        texts,
        batch,
        source,
        target: body.target,
        common: Common {
            model: body.model,
            stream: body.stream,
        },
    })
}

pub async fn embed(request: Request) -> Result<Vec<String>> {
    let body: EmbedBody = body(request).await?;
    if body.texts.is_empty() {
        return Err(ApiError::bad_request("texts is empty"));
    }
    if body.texts.len() > MAX_BATCH {
        return Err(ApiError::bad_request(format!(
            "texts has {} items; at most {MAX_BATCH}",
            body.texts.len()
        )));
    }
    if let Some(index) = body
        .texts
        .iter()
        .position(|t| t.chars().count() > MAX_EMBED_CHARS)
    {
        return Err(ApiError::bad_request(format!(
            "texts[{index}] is longer than {MAX_EMBED_CHARS} characters; embed sentences or paragraphs"
        )));
    }
    Ok(body.texts)
}

pub async fn on_stored<K: std::str::FromStr<Err = stt_core::Error>>(
    request: Request,
) -> Result<OnStored<K>> {
    let body: KindBody = read_json_up_to(request, super::MAX_JSON_BYTES).await?;
    Ok(OnStored {
        kind: parsed(&body.kind)?,
        common: Common {
            model: body.model,
            stream: body.stream,
        },
    })
}

pub async fn chat(request: Request) -> Result<Chat> {
    let body: ChatBody = read_json_up_to(request, super::MAX_JSON_BYTES).await?;
    if body.session_id.as_ref().is_some_and(|id| id.len() > 100) {
        return Err(ApiError::bad_request(
            "session_id is longer than 100 characters",
        ));
    }
    Ok(Chat {
        question: body.question,
        session_id: body.session_id,
        common: Common {
            model: body.model,
            stream: body.stream,
        },
    })
}
