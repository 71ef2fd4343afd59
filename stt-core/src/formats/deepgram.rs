//! Deepgram's pre-recorded response shape, the `result` of an asynchronous job.

use serde_json::{Value, json};

use super::json::{rounded, seconds};
use crate::transcript::{Transcript, Word};

/// What the job knows and the transcript does not.
#[derive(Debug, Clone)]
pub struct DeepgramMetadata {
    pub request_id: String,
    /// RFC 3339 time the job was created.
    pub created: String,
}

/// Deepgram's `word` is lowercase without punctuation; `punctuated_word` is as written.
fn bare_word(word: &str) -> String {
    word.trim()
        .trim_matches(|c: char| !c.is_alphanumeric())
        .to_lowercase()
}

/// Deepgram numbers speakers from 0.
fn speaker_number(transcript: &Transcript, label: Option<&String>) -> Option<usize> {
    label.and_then(|label| transcript.speakers.iter().position(|s| s == label))
}

fn deepgram_words<'a>(
    transcript: &Transcript,
    words: impl Iterator<Item = &'a Word>,
) -> Vec<Value> {
    words
        .map(|word| {
            let mut value = json!({
                "word": bare_word(&word.word),
                "start": seconds(word.start),
                "end": seconds(word.end),
                "confidence": rounded(word.probability as f64),
                "punctuated_word": word.word.trim(),
            });
            if let Some(speaker) = speaker_number(transcript, word.speaker.as_ref()) {
                value["speaker"] = json!(speaker);
            }
            value
        })
        .collect()
}

pub fn to_deepgram(transcript: &Transcript, metadata: &DeepgramMetadata) -> Value {
    let words = deepgram_words(
        transcript,
        transcript.segments.iter().flat_map(|s| &s.words),
    );
    // Deepgram's `utterances` (asked for with `utterances=true` there): one per segment.
    let utterances: Vec<Value> = transcript
        .segments
        .iter()
        .map(|segment| {
            let mut utterance = json!({
                "id": segment.id,
                "start": seconds(segment.start),
                "end": seconds(segment.end),
                "confidence": rounded(segment.confidence()),
                "channel": 0,
                "transcript": segment.text.trim(),
                "words": deepgram_words(transcript, segment.words.iter()),
            });
            if let Some(speaker) = speaker_number(transcript, segment.speaker.as_ref()) {
                utterance["speaker"] = json!(speaker);
            }
            utterance
        })
        .collect();
    // The mean word probability, else the segments' token confidence when words are off.
    let confidence = if words.is_empty() {
        let segments = &transcript.segments;
        segments.iter().map(|s| s.confidence()).sum::<f64>() / segments.len().max(1) as f64
    } else {
        let words = transcript.segments.iter().flat_map(|s| &s.words);
        words.clone().map(|w| w.probability as f64).sum::<f64>() / words.count() as f64
    };
    json!({
        "metadata": {
            "request_id": metadata.request_id,
            "created": metadata.created,
            "duration": seconds(transcript.duration),
            "channels": 1,
            "models": [transcript.model],
        },
        "results": {
            "channels": [{
                "detected_language": transcript.language,
                "language_confidence": rounded(transcript.language_probability as f64),
                "alternatives": [{
                    "transcript": transcript.text,
                    "confidence": rounded(confidence),
                    "words": words,
                }],
            }],
            "utterances": utterances,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::sample_transcript;

    #[test]
    fn has_the_deepgram_fields() {
        let metadata = DeepgramMetadata {
            request_id: "r1".into(),
            created: "2026-11-21T10:00:00Z".into(),
        };
        let body = to_deepgram(&sample_transcript(), &metadata);
        assert_eq!(body["metadata"]["request_id"], "r1");
        assert_eq!(body["metadata"]["models"][0], "base");
        let channel = &body["results"]["channels"][0];
        assert_eq!(channel["detected_language"], "en");
        let alternative = &channel["alternatives"][0];
        assert_eq!(alternative["transcript"], "Hello there. General Kenobi!");
        assert_eq!(alternative["words"][0]["word"], "hello");
        assert_eq!(alternative["words"][0]["punctuated_word"], "Hello");
        assert_eq!(alternative["confidence"], 0.9);
        let utterance = &body["results"]["utterances"][1];
        assert_eq!(utterance["transcript"], "General Kenobi!");
        assert_eq!(utterance["start"], 3661.25);
        assert_eq!(utterance["speaker"], 1);
        assert_eq!(alternative["words"][0]["speaker"], 0);
        assert_eq!(
            body["results"]["utterances"][0]["words"][0]["word"],
            "hello"
        );
    }

    #[test]
    fn bare_words_lose_case_and_punctuation() {
        assert_eq!(bare_word(" Don't,"), "don't");
        assert_eq!(bare_word(" \"Yes!\""), "yes");
    }
}
