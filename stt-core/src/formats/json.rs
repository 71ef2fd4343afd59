//! The JSON shape of `POST /v1/transcribe` (see shared/spec/API.md).

use serde_json::{Value, json};

use crate::transcript::Transcript;

/// Seconds rounded to the millisecond, so that JSON shows `3.2`, not `3.2000000000000002`.
fn seconds(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

pub fn to_api_json(transcript: &Transcript) -> Value {
    let segments: Vec<Value> = transcript
        .segments
        .iter()
        .map(|segment| {
            json!({
                "id": segment.id,
                "start": seconds(segment.start),
                "end": seconds(segment.end),
                "text": segment.text.trim(),
                "confidence": (segment.confidence() * 1000.0).round() / 1000.0,
                "words": [],
            })
        })
        .collect();
    json!({
        "text": transcript.text,
        "language": transcript.language,
        "language_probability": transcript.language_probability,
        "duration": seconds(transcript.duration),
        "model": transcript.model,
        "segments": segments,
        "speakers": [],
        "warnings": transcript.warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::sample_transcript;

    #[test]
    fn has_the_api_fields() {
        let json = to_api_json(&sample_transcript());
        assert_eq!(json["text"], "Hello there. General Kenobi!");
        assert_eq!(json["language"], "en");
        assert_eq!(json["duration"], 3725.5);
        let segment = &json["segments"][1];
        assert_eq!(segment["text"], "General Kenobi!");
        assert_eq!(segment["start"], 3661.25);
        assert_eq!(segment["end"], 3662.0);
        assert!(segment["words"].is_array());
        let confidence = segment["confidence"].as_f64().unwrap();
        assert!((confidence - 0.905).abs() < 1e-9, "{confidence}");
    }
}
