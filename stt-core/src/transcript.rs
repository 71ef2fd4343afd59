//! The result of a transcription: what every output format is rendered from.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// All segment texts joined, without leading or trailing space.
    pub text: String,
    /// ISO 639-1 code of the language decoded in (empty when the audio was too short to tell).
    pub language: String,
    /// Detection probability of `language` (1 when it was given).
    pub language_probability: f32,
    /// Length of the input audio, in seconds.
    pub duration: f64,
    /// Seconds of audio left to decode after voice activity detection removed silence (equal
    /// to `duration` without it).
    pub duration_after_vad: f64,
    /// Which model produced it.
    pub model: String,
    pub segments: Vec<Segment>,
    /// Problems that did not stop the transcription (e.g. a damaged frame that was skipped).
    pub warnings: Vec<String>,
    /// The speakers found by diarization, in order of appearance (empty without it).
    #[serde(default)]
    pub speakers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub id: usize,
    /// Mel frame where the window that produced this segment began.
    pub seek: usize,
    pub start: f64,
    pub end: f64,
    /// Text as decoded, usually with a leading space.
    pub text: String,
    /// Token ids, timestamp tokens included.
    pub tokens: Vec<u32>,
    /// Temperature of the decoding that was kept (above 0 after a fallback).
    pub temperature: f32,
    pub avg_logprob: f64,
    /// Text length over its compressed length; high values mean repetition.
    pub compression_ratio: f64,
    pub no_speech_prob: f32,
    /// Timed words (empty unless word timestamps were asked for).
    pub words: Vec<Word>,
    /// "Speaker 1", "Speaker 2"... with diarization on. A segment is split where its words
    /// change speaker; the parts carry no tokens.
    #[serde(default)]
    pub speaker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// As decoded, usually with a leading space; punctuation is joined to its word.
    pub word: String,
    pub start: f64,
    pub end: f64,
    /// Mean probability of the word's tokens.
    pub probability: f32,
    /// The speaker, with diarization on.
    #[serde(default)]
    pub speaker: Option<String>,
}

impl Transcript {
    /// A transcript of segments made elsewhere (live captions kept by a client, an import):
    /// its text, duration and speakers follow from them; the decoding statistics are zero.
    pub fn from_segments(segments: Vec<Segment>, language: &str, model: &str) -> Self {
        let mut speakers: Vec<String> = Vec::new();
        for speaker in segments.iter().filter_map(|s| s.speaker.as_ref()) {
            if !speakers.contains(speaker) {
                speakers.push(speaker.clone());
            }
        }
        let duration = segments.iter().map(|s| s.end).fold(0.0, f64::max);
        let text = segments.iter().map(|s| s.text.trim()).collect::<Vec<_>>();
        Self {
            text: text.join(" ").trim().to_string(),
            language: language.to_string(),
            language_probability: 1.0,
            duration,
            duration_after_vad: duration,
            model: model.to_string(),
            segments,
            warnings: Vec::new(),
            speakers,
        }
    }

    /// Shows each speaker label of `names` (`"Speaker 1"`) as its name there, in the
    /// speaker list, the segments and the words; other labels stay as they are.
    pub fn rename_speakers(&mut self, names: &std::collections::HashMap<String, String>) {
        let rename = |speaker: &mut Option<String>| {
            if let Some(name) = speaker.as_ref().and_then(|label| names.get(label)) {
                *speaker = Some(name.clone());
            }
        };
        for segment in &mut self.segments {
            rename(&mut segment.speaker);
            segment
                .words
                .iter_mut()
                .for_each(|word| rename(&mut word.speaker));
        }
        let mut speakers: Vec<String> = Vec::with_capacity(self.speakers.len());
        for label in &self.speakers {
            let name = names.get(label).unwrap_or(label);
            if !speakers.contains(name) {
                speakers.push(name.clone());
            }
        }
        self.speakers = speakers;
    }
}

impl Segment {
    /// Segment `id` of `text` from `start` to `end`, with no tokens, words or statistics.
    pub fn from_text(id: usize, start: f64, end: f64, text: &str) -> Self {
        Self {
            id,
            seek: 0,
            start,
            end,
            text: text.to_string(),
            tokens: Vec::new(),
            temperature: 0.0,
            avg_logprob: 0.0,
            compression_ratio: 0.0,
            no_speech_prob: 0.0,
            words: Vec::new(),
            speaker: None,
        }
    }

    /// Geometric mean of the token probabilities of the window, in [0, 1].
    pub fn confidence(&self) -> f64 {
        self.avg_logprob.exp().clamp(0.0, 1.0)
    }
}

/// Python's `round(x, 2)`, as the references report times: the nearest hundredth of the exact
/// binary value, ties to even, as Rust's formatting rounds (multiplying by 100 first would
/// round some values the other way).
pub(crate) fn round_to_hundredths(x: f64) -> f64 {
    format!("{x:.2}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rounding() {
        for (x, rounded) in [
            (0.125, 0.12),
            (0.375, 0.38),
            (2.675, 2.67),
            (0.045, 0.04),
            (1.005, 1.0),
        ] {
            assert_eq!(round_to_hundredths(x), rounded, "{x}");
        }
    }

    #[test]
    fn a_transcript_of_given_segments_has_their_text_length_and_speakers() {
        let mut first = Segment::from_text(0, 0.0, 2.0, " Hello there.");
        first.speaker = Some("Ada".into());
        let mut second = Segment::from_text(1, 2.5, 4.25, "General Kenobi! ");
        second.speaker = Some("Ben".into());
        let mut third = Segment::from_text(2, 4.5, 5.0, "Hi.");
        third.speaker = Some("Ada".into());
        let transcript = Transcript::from_segments(vec![first, second, third], "en", "live");
        assert_eq!(transcript.text, "Hello there. General Kenobi! Hi.");
        assert_eq!(transcript.duration, 5.0);
        assert_eq!(transcript.speakers, ["Ada", "Ben"]);
        assert_eq!(transcript.model, "live");
        assert!(
            Transcript::from_segments(vec![], "", "live")
                .text
                .is_empty()
        );
    }

    #[test]
    fn renamed_speakers_show_everywhere_and_the_others_keep_their_labels() {
        let mut transcript = crate::formats::sample_transcript();
        let names = [("Speaker 1".to_string(), "Ada".to_string())].into();
        transcript.rename_speakers(&names);
        assert_eq!(transcript.speakers, ["Ada", "Speaker 2"]);
        assert_eq!(transcript.segments[0].speaker.as_deref(), Some("Ada"));
        assert_eq!(
            transcript.segments[0].words[0].speaker.as_deref(),
            Some("Ada")
        );
        assert_eq!(transcript.segments[1].speaker.as_deref(), Some("Speaker 2"));
        // Two labels given one name are one speaker.
        let names = [("Speaker 2".to_string(), "Ada".to_string())].into();
        transcript.rename_speakers(&names);
        assert_eq!(transcript.speakers, ["Ada"]);
    }
}
