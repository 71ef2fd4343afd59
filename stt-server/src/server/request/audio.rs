//! The bodies of the audio tools: `/v1/enhance-audio`'s form, `/v1/tts`'s form and OpenAI's
//! `/v1/audio/speech` JSON, read and checked here so that handlers get typed requests.

use serde::Deserialize;
use stt_core::audio::AudioFormat;
use stt_core::enhance::EnhanceOptions;
use stt_core::store::VOICE_MODEL;
use stt_core::tts::{SpeechOptions, installed_voices};

use super::{Fields, read_json_up_to};
use crate::server::error::{ApiError, Result};

/// Characters one speech request may hold (OpenAI's limit).
pub const MAX_SPEECH_CHARS: usize = 4096;
/// OpenAI's voices: each speaks with the default installed voice.
const OPENAI_VOICES: [&str; 13] = [
    "alloy", "ash", "ballad", "cedar", "coral", "echo", "fable", "marin", "nova", "onyx", "sage",
    "shimmer", "verse",
];
const OPENAI_MODELS: [&str; 3] = ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"];
/// OpenAI's `pcm` is 24 kHz.
pub const OPENAI_PCM_RATE: u32 = 24_000;

/// `/v1/enhance-audio`'s options (besides the `file`): `attenuation_limit` (dB), `loudness`
/// (LUFS), `normalize`.
pub fn enhance_options(fields: &Fields) -> Result<EnhanceOptions> {
    Ok(EnhanceOptions::new(
        fields.parse("attenuation_limit", "a number of dB")?,
        fields.parse("loudness", "a number of LUFS")?,
        fields.flag("normalize")?.unwrap_or(true),
    )?)
}

/// What to say, with which voice, how.
pub struct Speech {
    pub text: String,
    pub voice: String,
    pub options: SpeechOptions,
}

/// `/v1/tts`'s fields (besides the `reference` clip): `text`, and optionally `voice`,
/// `speed` and `language`.
pub fn tts(fields: &Fields) -> Result<Speech> {
    let text = checked_text(fields.get("text"), "text")?;
    if let Some(language) = fields.get("language")
        && !language.trim().eq_ignore_ascii_case("en")
    {
        return Err(ApiError::bad_request(format!(
            "unsupported `language`: {language:?}; the installed voices speak en"
        )));
    }
    let voice = voice(fields.get("voice").as_deref())?;
    Ok(Speech {
        text,
        voice,
        options: options(fields.parse::<f32>("speed", "a number")?)?,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpeechBody {
    model: String,
    input: String,
    voice: String,
    #[serde(default)]
    response_format: Option<String>,
    #[serde(default)]
    speed: Option<f32>,
    /// Read by OpenAI's instructable voices; Piper voices have nothing to follow it with.
    #[serde(default, rename = "instructions")]
    _instructions: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    stream_format: Option<String>,
}

/// OpenAI's `/v1/audio/speech` body.
pub async fn openai_speech(request: axum::extract::Request) -> Result<(Speech, AudioFormat)> {
    let body: SpeechBody = read_json_up_to(request, MAX_SPEECH_CHARS * 4 + 16 * 1024).await?;
    let installed = installed_voices();
    if !OPENAI_MODELS.contains(&body.model.as_str()) && !installed.contains(&body.model) {
        return Err(ApiError::bad_request(format!(
            "unsupported `model`: {:?}; expected {} or an installed voice",
            body.model,
            OPENAI_MODELS.join(", ")
        )));
    }
    if let Some(other) = body.stream_format.as_deref().filter(|f| *f != "audio") {
        return Err(ApiError::bad_request(format!(
            "unsupported `stream_format`: {other:?}; audio is streamed as it is made (\"audio\")"
        )));
    }
    let format_name = body.response_format.as_deref().unwrap_or("mp3");
    let format = AudioFormat::parse(format_name).map_err(|_| {
        ApiError::bad_request(format!(
            "unsupported `response_format`: {format_name:?}; expected {}",
            AudioFormat::NAMES.join(", ")
        ))
    })?;
    let voice =
        match installed.contains(&body.model) && OPENAI_VOICES.contains(&body.voice.as_str()) {
            true => body.model.clone(),
            false => voice(Some(&body.voice))?,
        };
    Ok((
        Speech {
            text: checked_text(Some(body.input), "input")?,
            voice,
            options: options(body.speed)?,
        },
        format,
    ))
}

fn checked_text(text: Option<String>, field: &str) -> Result<String> {
    let text = text.unwrap_or_default();
    if text.trim().is_empty() {
        return Err(ApiError::bad_request(format!(
            "missing `{field}`: the text to speak"
        )));
    }
    let chars = text.chars().count();
    if chars > MAX_SPEECH_CHARS {
        return Err(ApiError::bad_request(format!(
            "`{field}` has {chars} characters; at most {MAX_SPEECH_CHARS} are spoken per request"
        )));
    }
    Ok(text)
}

/// An installed voice's name, from an installed name or one of OpenAI's.
fn voice(requested: Option<&str>) -> Result<String> {
    let installed = installed_voices();
    let default = match installed.iter().any(|v| v == VOICE_MODEL) {
        true => Some(VOICE_MODEL.to_string()),
        false => installed.first().cloned(),
    };
    let name = match requested.map(str::trim) {
        None | Some("") => default,
        Some(name) if installed.iter().any(|v| v == name) => Some(name.to_string()),
        Some(name) if OPENAI_VOICES.contains(&name) => default,
        Some(name) => {
            return Err(ApiError::bad_request(format!(
                "unsupported `voice`: {name:?}; expected {} or one of OpenAI's ({})",
                installed.join(", "),
                OPENAI_VOICES.join(", ")
            )));
        }
    };
    name.ok_or_else(|| {
        ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("no voice is installed on this server (`stt models pull {VOICE_MODEL}`)"),
        )
    })
}

fn options(speed: Option<f32>) -> Result<SpeechOptions> {
    let options = SpeechOptions {
        speed: speed.unwrap_or(SpeechOptions::default().speed),
        ..SpeechOptions::default()
    };
    options.validate()?;
    Ok(options)
}
