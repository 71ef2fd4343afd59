//! How a live stream is cut, decoded and committed: one options struct, one `Default`.

use serde::{Deserialize, Serialize};

use crate::options::{TranscribeOptions, parse_json, with_overrides};
use crate::{Error, Result};

/// When a word heard between pauses becomes final (at a pause every word does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitPolicy {
    /// LocalAgreement-2 (whisper_streaming): a word is final once two consecutive decodes
    /// agree on it. With a decode every half second that is soon after it is first heard.
    LocalAgreement,
    /// AlignAtt's rule (Papi et al., SimulStreaming): a word is final once the model's
    /// cross-attention places it at least `commit_margin_seconds` before the end of the audio
    /// heard, where later audio can no longer change it. One decode suffices. The alignment is
    /// the one word timings use (the alignment heads, through dynamic time warping). As
    /// accurate as LocalAgreement here but later at the median (README).
    AlignAtt,
}

/// How a stream is cut and decoded. Defaults favour latency: greedy decoding of the audio
/// there is (and 5 s of padding, not 30 s), a decode per half second of new audio, words final
/// when two decodes agree, an utterance ended by half a second of silence. They were chosen
/// with `benches/stream_sweep.py` (README, "Live streaming").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamOptions {
    /// How each buffer is decoded. Word timings are always on; `vad_filter` turns the
    /// detection of utterance ends (and the skipping of silence) on or off.
    pub transcribe: TranscribeOptions,
    /// New audio needed before the buffer is decoded again, in seconds.
    pub min_chunk_seconds: f64,
    /// When words become final before the utterance ends.
    pub commit: CommitPolicy,
    /// With [`CommitPolicy::AlignAtt`]: how far before the end of the audio heard a word must
    /// end to be final, in seconds.
    pub commit_margin_seconds: f64,
    /// Silence that ends an utterance and commits all of its words, in seconds.
    pub end_of_utterance_seconds: f64,
    /// Once the buffer is longer than this it is cut at the last committed word, in seconds;
    /// at twice this the words decoded so far are committed to make room.
    pub max_buffer_seconds: f64,
}

impl Default for StreamOptions {
    fn default() -> Self {
        Self {
            transcribe: TranscribeOptions {
                beam_size: 1,
                // One sample per fallback temperature: a decode caught in a loop (the prompt
                // of committed text invites them) is retried once or twice, not five ways.
                best_of: 1,
                // The encoder reads the buffer and 5 s of silence instead of 30 s (graphs of
                // format 7): less padding costs words, more costs time (README).
                window_padding: Some(5.0),
                ..TranscribeOptions::default()
            },
            min_chunk_seconds: 0.5,
            commit: CommitPolicy::LocalAgreement,
            commit_margin_seconds: 1.0,
            end_of_utterance_seconds: 0.5,
            max_buffer_seconds: 10.0,
        }
    }
}

impl StreamOptions {
    /// Options from JSON that names only what differs from [`StreamOptions::default`], at any
    /// depth: `{"transcribe": {"language": "de"}}` keeps the stream's greedy decoding.
    pub fn from_json(json: &str) -> Result<Self> {
        let options: Self = with_overrides(&Self::default(), parse_json(json)?)?;
        options.validate()?;
        Ok(options)
    }

    pub fn validate(&self) -> Result<()> {
        self.transcribe.validate()?;
        for (name, value, low, high) in [
            ("min_chunk_seconds", self.min_chunk_seconds, 0.1, 10.0),
            (
                "commit_margin_seconds",
                self.commit_margin_seconds,
                0.0,
                5.0,
            ),
            (
                "end_of_utterance_seconds",
                self.end_of_utterance_seconds,
                0.1,
                10.0,
            ),
            ("max_buffer_seconds", self.max_buffer_seconds, 2.0, 14.0),
        ] {
            if !(low..=high).contains(&value) {
                return Err(Error::InvalidOption(format!(
                    "{name} must be between {low} and {high} seconds, got {value}"
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_overrides_keep_the_stream_defaults() {
        let options = StreamOptions::from_json(
            r#"{"transcribe": {"language": "de"}, "min_chunk_seconds": 2, "commit": "align_att"}"#,
        )
        .unwrap();
        assert_eq!(options.transcribe.language.as_deref(), Some("de"));
        assert_eq!(options.transcribe.beam_size, 1);
        assert_eq!(options.min_chunk_seconds, 2.0);
        assert_eq!(options.commit, CommitPolicy::AlignAtt);
        for bad in [
            r#"{"transcribe": {"langauge": "de"}}"#,
            r#"{"min_chunk_seconds": 0}"#,
            r#"{"commit_margin_seconds": -1}"#,
            r#"{"commit": "agreement"}"#,
            r#"{"transcribe": {"beam_size": 0}}"#,
            "[1]",
        ] {
            let error = StreamOptions::from_json(bad).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::InvalidOption, "{bad}");
        }
    }
}
