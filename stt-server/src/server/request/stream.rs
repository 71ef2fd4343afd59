//! What a `/v1/stream` client sends (section 2 of the contract), checked without a socket or
//! an engine so that the fuzz targets reach it: the JSON config first, then PCM (s16le, 16 kHz,
//! mono) in binary messages of any size, and `{"action": "stop"}`.

use axum::extract::ws::close_code;
use serde_json::Value;

/// Largest WebSocket message (10 s of PCM is 320 kB).
pub const MAX_MESSAGE_BYTES: usize = 4 << 20;

/// A config message as the errors show it.
pub const CONFIG_EXAMPLE: &str = r#"{"language": "en", "model": "base"}"#;

/// Why a stream ended early: what the client is told and the close code.
pub struct Refusal {
    pub code: u16,
    pub message: String,
}

impl Refusal {
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The first message was not text.
pub fn not_a_config() -> Refusal {
    Refusal::new(
        close_code::UNSUPPORTED,
        format!("the first message must be the JSON config, such as {CONFIG_EXAMPLE}, as text"),
    )
}

/// The config message as a JSON object.
pub fn config_object(text: &str) -> Result<Value, Refusal> {
    serde_json::from_str(text)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            Refusal::new(
                close_code::INVALID,
                format!("the config must be a JSON object such as {CONFIG_EXAMPLE}"),
            )
        })
}

/// Samples from binary messages of any size: a sample split between two messages is joined.
#[derive(Debug, Default)]
pub struct PcmJoiner {
    /// The first byte of a sample whose second is in the next message.
    odd_byte: Option<u8>,
}

impl PcmJoiner {
    pub fn samples(&mut self, mut bytes: &[u8]) -> Vec<i16> {
        let mut samples = Vec::with_capacity(bytes.len() / 2 + 1);
        if let Some(first) = self.odd_byte.take() {
            match bytes.split_first() {
                Some((&second, rest)) => {
                    samples.push(i16::from_le_bytes([first, second]));
                    bytes = rest;
                }
                None => self.odd_byte = Some(first),
            }
        }
        let pairs = bytes.chunks_exact(2);
        if let [last] = pairs.remainder() {
            self.odd_byte = Some(*last);
        }
        samples.extend(pairs.map(|pair| i16::from_le_bytes([pair[0], pair[1]])));
        samples
    }
}

/// The one text message of the audio phase: `{"action": "stop"}`.
pub fn stop_action(text: &str) -> Result<(), Refusal> {
    let expected = r#"expected binary PCM audio (s16le, 16 kHz, mono) or {"action": "stop"}"#;
    let value: Value = serde_json::from_str(text).map_err(|_| {
        Refusal::new(
            close_code::UNSUPPORTED,
            format!("{expected}; got a text message that is not JSON"),
        )
    })?;
    match value.get("action").and_then(Value::as_str) {
        Some("stop") => Ok(()),
        Some(other) => Err(Refusal::new(
            close_code::INVALID,
            format!("unknown action {other:?}; {expected}"),
        )),
        None => Err(Refusal::new(
            close_code::UNSUPPORTED,
            format!("{expected}; got a JSON message without an action"),
        )),
    }
}

/// Whether a receive failed on a message over [`MAX_MESSAGE_BYTES`] (the WebSocket library's
/// capacity error, which it reports only as text).
pub fn too_large(error: &axum::Error) -> bool {
    error.to_string().contains("Message too long")
}

pub fn too_large_refusal() -> Refusal {
    Refusal::new(
        close_code::SIZE,
        format!(
            "a message is larger than {} MB: send the audio in pieces (100 ms is 3200 bytes)",
            MAX_MESSAGE_BYTES >> 20
        ),
    )
}

/// The longest start of `message` that fits a close frame's reason: 123 bytes (a control
/// frame's 125 less the code), cut between characters so it stays UTF-8.
pub fn close_reason(message: &str) -> &str {
    const MAX_REASON_BYTES: usize = 123;
    let mut end = message.len().min(MAX_REASON_BYTES);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_control_frame_and_stay_utf8() {
        assert_eq!(close_reason("short"), "short");
        let accented = "é".repeat(200);
        assert_eq!(close_reason(&accented), "é".repeat(61));
        let ascii = "a".repeat(300);
        assert_eq!(close_reason(&ascii).len(), 123);
    }

    #[test]
    fn samples_split_between_messages_are_joined() {
        let mut pcm = PcmJoiner::default();
        assert_eq!(pcm.samples(&[1]), Vec::<i16>::new());
        assert_eq!(pcm.samples(&[]), Vec::<i16>::new());
        assert_eq!(pcm.samples(&[0, 2, 0, 3]), vec![1, 2]);
        assert_eq!(pcm.samples(&[0]), vec![3]);
    }
}
