//! The JSON shape of `POST /v1/transcribe` (see shared/spec/API.md).

use serde_json::{Value, json};

use crate::transcript::Transcript;

/// Seconds rounded to the millisecond, so that JSON shows `3.2`, not `3.2000000000000002`.
pub(crate) fn seconds(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// Probabilities to three decimals.
pub(crate) fn rounded(probability: f64) -> f64 {
    (probability * 1000.0).round() / 1000.0
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
                "speaker": segment.speaker,
                "confidence": rounded(segment.confidence()),
                "words": segment.words.iter().map(|word| {
                    let mut value = json!({
                        "word": word.word.trim(),
                        "start": seconds(word.start),
                        "end": seconds(word.end),
                        "confidence": rounded(word.probability as f64),
                    });
                    if let Some(speaker) = &word.speaker {
                        value["speaker"] = json!(speaker);
                    }
                    value
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "text": transcript.text,
        "language": transcript.language,
        "language_probability": transcript.language_probability,
        "duration": seconds(transcript.duration),
        "duration_after_vad": seconds(transcript.duration_after_vad),
        "model": transcript.model,
        "segments": segments,
        "speakers": transcript.speakers,
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
        assert_eq!(json["segments"][0]["words"][0]["word"], "Hello");
        assert_eq!(json["segments"][0]["words"][0]["confidence"], 0.9);
        let confidence = segment["confidence"].as_f64().unwrap();
        assert!((confidence - 0.905).abs() < 1e-9, "{confidence}");
        assert_eq!(json["speakers"], json!(["Speaker 1", "Speaker 2"]));
        assert_eq!(segment["speaker"], "Speaker 2");
        assert_eq!(json["segments"][0]["words"][0]["speaker"], "Speaker 1");
    }

    #[test]
    fn without_diarization_speakers_are_empty() {
        let mut transcript = sample_transcript();
        transcript.speakers.clear();
        transcript
            .segments
            .iter_mut()
            .for_each(|s| s.speaker = None);
        let json = to_api_json(&transcript);
        assert_eq!(json["speakers"], json!([]));
        assert_eq!(json["segments"][0]["speaker"], Value::Null);
    }
}
