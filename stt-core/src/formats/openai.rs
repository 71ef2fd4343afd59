//! The `verbose_json` body of OpenAI's `/v1/audio/transcriptions`, which the `openai` client
//! libraries parse.

use serde_json::{Value, json};

use super::json::seconds;
use crate::languages::language_name;
use crate::options::Task;
use crate::transcript::{Transcript, Word};

fn word_json(word: &Word) -> Value {
    json!({"word": word.word.trim(), "start": seconds(word.start), "end": seconds(word.end)})
}

/// OpenAI names the language in English (`"english"`); segments carry the decoding details,
/// and words (top-level, and per segment) only when `with_words`.
pub fn to_openai_verbose_json(transcript: &Transcript, task: Task, with_words: bool) -> Value {
    let segments: Vec<Value> = transcript
        .segments
        .iter()
        .map(|segment| {
            let mut value = json!({
                "id": segment.id,
                "seek": segment.seek,
                "start": seconds(segment.start),
                "end": seconds(segment.end),
                "text": segment.text,
                "tokens": segment.tokens,
                "temperature": segment.temperature,
                "avg_logprob": segment.avg_logprob,
                "compression_ratio": segment.compression_ratio,
                "no_speech_prob": segment.no_speech_prob,
            });
            if with_words {
                value["words"] = segment.words.iter().map(word_json).collect();
            }
            value
        })
        .collect();
    let mut body = json!({
        "task": match task {
            Task::Transcribe => "transcribe",
            Task::Translate => "translate",
        },
        "language": language_name(&transcript.language).unwrap_or(&transcript.language),
        "duration": seconds(transcript.duration),
        "text": transcript.text,
        "segments": segments,
    });
    if with_words {
        body["words"] = transcript
            .segments
            .iter()
            .flat_map(|segment| &segment.words)
            .map(word_json)
            .collect();
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::sample_transcript;

    #[test]
    fn has_openai_fields() {
        let body = to_openai_verbose_json(&sample_transcript(), Task::Transcribe, true);
        assert_eq!(body["task"], "transcribe");
        assert_eq!(body["language"], "english");
        assert_eq!(body["segments"][1]["start"], 3661.25);
        assert_eq!(body["segments"][0]["avg_logprob"], -0.1);
        assert_eq!(body["words"][0]["word"], "Hello");
        assert_eq!(body["segments"][0]["words"][0]["end"], 0.4);
        let without = to_openai_verbose_json(&sample_transcript(), Task::Translate, false);
        assert_eq!(without["task"], "translate");
        assert!(without.get("words").is_none());
        assert!(without["segments"][0].get("words").is_none());
    }
}
