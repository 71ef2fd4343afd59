//! Live transcription: audio arrives in pieces, text leaves as interim hypotheses and final
//! segments that are never revised.
//!
//! Each step decodes a bounded buffer (never the whole history), prompted with the text
//! already committed. A word is committed when two consecutive hypotheses agree on it
//! (LocalAgreement-2, as whisper_streaming), or at once when voice activity detection hears
//! the utterance end. The buffer is cut at the last committed word once it grows long.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::audio::{Audio, SAMPLE_RATE};
use crate::model::CancelToken;
use crate::options::{TranscribeOptions, parse_json, with_overrides};
use crate::transcribe::Transcriber;
use crate::transcript::Word;
use crate::vad::{FRAME_SAMPLES, VadStream};
use crate::{Error, Result};

/// Committed words kept for the prompt and to recognise them when decoded again.
const KEPT_WORDS: usize = 64;
/// Characters of committed text given as the prompt (Whisper reads at most 223 tokens).
const PROMPT_CHARS: usize = 600;
/// Audio kept after the last speech frame, for a word tail the detector heard as silence.
const SPEECH_TAIL_SECONDS: f64 = 0.3;
/// A word decoded again can start this much before the end of its committed twin.
const OVERLAP_SECONDS: f64 = 0.1;
/// Tokens per second of audio a decode may produce (fast speech is about 5).
const TOKENS_PER_SECOND: f64 = 8.0;
/// Longest run of committed words looked for at the start of a new hypothesis.
const MAX_REPEATED_WORDS: usize = 5;

/// How a stream is cut and decoded. Defaults favour latency: greedy decoding, a decode per
/// second of new audio, an utterance ended by half a second of silence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamOptions {
    /// How each buffer is decoded. Word timings are always on; `vad_filter` turns the
    /// detection of utterance ends (and the skipping of silence) on or off.
    pub transcribe: TranscribeOptions,
    /// New audio needed before the buffer is decoded again, in seconds.
    pub min_chunk_seconds: f64,
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
                ..TranscribeOptions::default()
            },
            min_chunk_seconds: 1.0,
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

/// What a stream tells its listener.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum StreamEvent {
    /// The words heard since the last final segment as decoded so far; the next partial
    /// replaces it (empty once they are all final).
    Partial {
        #[serde(rename = "partial")]
        text: String,
    },
    /// Committed words, never revised; times in seconds from the start of the stream.
    Final {
        text: String,
        start: f64,
        end: f64,
        words: Vec<Word>,
    },
}

/// One live stream. It holds no model: each [`StreamSession::step`] borrows a
/// [`Transcriber`], so a pool of them can serve many streams.
#[derive(Debug, Clone)]
pub struct StreamSession {
    options: StreamOptions,
    /// Audio not yet cut away, starting at sample `buffer_start` of the stream.
    buffer: Vec<f32>,
    buffer_start: usize,
    /// Stream samples the last decode covered.
    decoded_until: usize,
    /// Stream samples given to the voice activity detector (all, after each listen).
    listened_until: usize,
    vad: VadStream,
    /// Stream samples the detector has classified (whole frames).
    heard_until: usize,
    /// End of the last frame heard as speech.
    voice_end: Option<usize>,
    /// End of the speech of the last utterance committed whole.
    spoken_until: usize,
    /// The last committed words.
    committed: Vec<Word>,
    /// Words of the last decode not yet committed.
    hypothesis: Vec<Word>,
    /// The last partial text sent.
    partial: String,
    /// Fixed by the first commit when the options leave it to detection.
    language: Option<String>,
    /// Detected by the last decode, until words are committed in it.
    detected: Option<String>,
}

impl StreamSession {
    /// Speaker labels are not given live (clustering needs the whole recording), so `diarize`
    /// is turned off.
    pub fn new(mut options: StreamOptions) -> Result<Self> {
        options.transcribe.diarize = false;
        options.transcribe.diarize_by_channel = false;
        options.validate()?;
        let language = options.transcribe.fixed_language().map(str::to_string);
        Ok(Self {
            options,
            buffer: Vec::new(),
            buffer_start: 0,
            decoded_until: 0,
            listened_until: 0,
            vad: VadStream::default(),
            heard_until: 0,
            voice_end: None,
            spoken_until: 0,
            committed: Vec::new(),
            hypothesis: Vec::new(),
            partial: String::new(),
            language,
            detected: None,
        })
    }

    /// Adds 16 kHz mono samples; nothing is decoded until the next step.
    pub fn push(&mut self, samples: &[f32]) {
        self.buffer.extend_from_slice(samples);
    }

    /// Seconds of audio received so far.
    pub fn received_seconds(&self) -> f64 {
        seconds(self.received())
    }

    /// Decodes when there is reason to: an utterance has ended, or enough new audio has come.
    /// `cancel` stops this step's decode from another thread.
    pub fn step(
        &mut self,
        transcriber: &mut Transcriber,
        cancel: &CancelToken,
    ) -> Result<Vec<StreamEvent>> {
        self.listen(transcriber)?;
        let end = self.received();
        if self.options.transcribe.vad_filter {
            match self.voice_end.filter(|&v| v > self.spoken_until) {
                // Nothing said since the last utterance: nothing to decode.
                None => {
                    self.trim(end);
                    return Ok(Vec::new());
                }
                Some(voice_end)
                    if self.heard_until
                        >= voice_end + samples_in(self.options.end_of_utterance_seconds) =>
                {
                    let cut = (voice_end + samples_in(SPEECH_TAIL_SECONDS)).min(end);
                    let events = self.commit_all(transcriber, cancel, cut)?;
                    self.spoken_until = voice_end;
                    self.trim(end);
                    return Ok(events);
                }
                Some(_) => {}
            }
        }
        if end < self.decoded_until + samples_in(self.options.min_chunk_seconds) {
            return Ok(Vec::new());
        }
        let mut decoded = self.decode(transcriber, cancel, end)?;
        let agreed = common_prefix(&self.hypothesis, &decoded);
        self.hypothesis = decoded.split_off(agreed);
        let mut events = self.commit(decoded);
        if seconds(end - self.buffer_start) > 2.0 * self.options.max_buffer_seconds {
            // Hypotheses that never agree must not grow the buffer without end.
            let words = std::mem::take(&mut self.hypothesis);
            events.extend(self.commit(words));
        }
        events.extend(self.partial_update());
        self.trim(end);
        Ok(events)
    }

    /// The end of the stream: everything not yet final is decoded and committed.
    pub fn finish(
        &mut self,
        transcriber: &mut Transcriber,
        cancel: &CancelToken,
    ) -> Result<Vec<StreamEvent>> {
        self.listen(transcriber)?;
        let end = self.received();
        let speech_left = !self.options.transcribe.vad_filter
            || self.voice_end.is_some_and(|v| v > self.spoken_until);
        // Without speech left only the last hypothesis remains to commit.
        let cut = match speech_left {
            true => end,
            false => self.decoded_until.min(end),
        };
        let events = self.commit_all(transcriber, cancel, cut)?;
        self.cut_buffer(end);
        Ok(events)
    }

    fn received(&self) -> usize {
        self.buffer_start + self.buffer.len()
    }

    /// Runs the voice activity detector over the audio it has not heard: the end of the
    /// buffer, which is only cut after listening.
    fn listen(&mut self, transcriber: &mut Transcriber) -> Result<()> {
        let end = self.received();
        if !self.options.transcribe.vad_filter || self.listened_until == end {
            return Ok(());
        }
        let unheard = &self.buffer[self.listened_until - self.buffer_start..];
        let probabilities = transcriber
            .vad()?
            .continue_probabilities(&mut self.vad, unheard)?;
        self.listened_until = end;
        let threshold = self.options.transcribe.vad_parameters.threshold as f32;
        for probability in probabilities {
            self.heard_until += FRAME_SAMPLES;
            if probability >= threshold {
                self.voice_end = Some(self.heard_until);
            }
        }
        Ok(())
    }

    /// Commits every word up to `cut`: the last hypothesis when the last decode covered that
    /// audio already, else a new decode.
    fn commit_all(
        &mut self,
        transcriber: &mut Transcriber,
        cancel: &CancelToken,
        cut: usize,
    ) -> Result<Vec<StreamEvent>> {
        let words = match self.decoded_until >= cut {
            true => std::mem::take(&mut self.hypothesis)
                .into_iter()
                .filter(|w| w.start < seconds(cut))
                .collect(),
            false => self.decode(transcriber, cancel, cut)?,
        };
        self.hypothesis.clear();
        let mut events = self.commit(words);
        events.extend(self.partial_update());
        Ok(events)
    }

    /// Decodes the buffer up to stream sample `end`: the words not committed yet, in stream
    /// time.
    fn decode(
        &mut self,
        transcriber: &mut Transcriber,
        cancel: &CancelToken,
        end: usize,
    ) -> Result<Vec<Word>> {
        if end <= self.buffer_start {
            return Ok(Vec::new());
        }
        let audio = Audio::from_samples(self.buffer[..end - self.buffer_start].to_vec());
        let options = TranscribeOptions {
            // Enough for fast speech; a decode caught in a loop stops there instead of
            // spending seconds on the model's whole token budget.
            max_new_tokens: Some((seconds(audio.samples.len()) * TOKENS_PER_SECOND) as usize + 16),
            language: self.language.clone(),
            initial_prompt: self.prompt(),
            word_timestamps: true,
            vad_filter: false,
            clip_timestamps: Vec::new(),
            ..self.options.transcribe.clone()
        };
        let transcript =
            transcriber.transcribe_with_progress(&audio, &options, cancel, &mut |_| {
                ControlFlow::Continue(())
            })?;
        self.decoded_until = end;
        if self.language.is_none() && !transcript.language.is_empty() {
            // Kept only once words are committed in it (see `commit`).
            self.detected = Some(transcript.language.clone());
        }
        let offset = seconds(self.buffer_start);
        let words = transcript
            .segments
            .into_iter()
            .flat_map(|segment| segment.words)
            .map(|word| Word {
                start: word.start + offset,
                end: word.end + offset,
                ..word
            });
        Ok(self.not_committed(words.collect()))
    }

    /// Drops the words of a decode that were committed already: those that start before the
    /// last committed word ended, and a run of committed words heard again at the cut.
    fn not_committed(&self, words: Vec<Word>) -> Vec<Word> {
        let Some(last) = self.committed.last() else {
            return words;
        };
        let mut words: Vec<Word> = words
            .into_iter()
            .filter(|w| w.start > last.end - OVERLAP_SECONDS)
            .collect();
        if words
            .first()
            .is_some_and(|w| (w.start - last.end).abs() < 1.0)
        {
            let longest = MAX_REPEATED_WORDS
                .min(words.len())
                .min(self.committed.len());
            let tail = &self.committed[self.committed.len() - longest..];
            if let Some(n) = (1..=longest).find(|&n| {
                let committed = &tail[longest - n..];
                committed
                    .iter()
                    .zip(&words[..n])
                    .all(|(a, b)| same_word(a, b))
            }) {
                words.drain(..n);
            }
        }
        words
    }

    /// Makes `words` final.
    fn commit(&mut self, words: Vec<Word>) -> Vec<StreamEvent> {
        let (Some(first), Some(last)) = (words.first(), words.last()) else {
            return Vec::new();
        };
        let (start, end) = (first.start, last.end);
        let text = join(&words).trim().to_string();
        if self.language.is_none() {
            self.language = self.detected.take();
        }
        self.committed.extend(words.iter().cloned());
        let excess = self.committed.len().saturating_sub(KEPT_WORDS);
        self.committed.drain(..excess);
        vec![StreamEvent::Final {
            text,
            start,
            end,
            words,
        }]
    }

    /// A partial event when the uncommitted text changed.
    fn partial_update(&mut self) -> Option<StreamEvent> {
        let text = join(&self.hypothesis).trim().to_string();
        if text == self.partial {
            return None;
        }
        self.partial = text.clone();
        Some(StreamEvent::Partial { text })
    }

    /// The caller's prompt followed by the committed text whose audio has left the buffer.
    fn prompt(&self) -> Option<String> {
        let cut = seconds(self.buffer_start) + 0.01;
        let said: Vec<Word> = self
            .committed
            .iter()
            .filter(|w| w.end <= cut)
            .cloned()
            .collect();
        let text = format!(
            "{} {}",
            self.options
                .transcribe
                .initial_prompt
                .as_deref()
                .unwrap_or(""),
            join(&said)
        );
        let text = text.trim();
        let skip = text.chars().count().saturating_sub(PROMPT_CHARS);
        let text: String = text.chars().skip(skip).collect();
        (!text.is_empty()).then_some(text)
    }

    /// Keeps the buffer under `max_buffer_seconds` by cutting it where the committed words
    /// end (their text goes on as the prompt), or, when all that was said is committed, down
    /// to the last moments of silence.
    fn trim(&mut self, end: usize) {
        if seconds(end - self.buffer_start) <= self.options.max_buffer_seconds {
            return;
        }
        let committed_end = self
            .committed
            .last()
            .map_or(self.buffer_start, |w| samples_at(w.end));
        let all_said_is_committed = self.options.transcribe.vad_filter
            && self.voice_end.is_none_or(|v| v <= self.spoken_until);
        let cut = match self.hypothesis.first() {
            Some(next) => committed_end.min(samples_at(next.start)),
            None if all_said_is_committed => end.saturating_sub(samples_in(SPEECH_TAIL_SECONDS)),
            None => committed_end,
        };
        self.cut_buffer(cut);
    }

    /// Forgets the audio before stream sample `cut`.
    fn cut_buffer(&mut self, cut: usize) {
        let cut = cut.clamp(self.buffer_start, self.received());
        self.buffer.drain(..cut - self.buffer_start);
        self.buffer_start = cut;
    }
}

/// How many leading words two hypotheses share.
fn common_prefix(previous: &[Word], current: &[Word]) -> usize {
    previous
        .iter()
        .zip(current)
        .take_while(|(a, b)| same_word(a, b))
        .count()
}

/// The same word, whatever its case, punctuation or spacing.
fn same_word(a: &Word, b: &Word) -> bool {
    let letters = |w: &Word| {
        w.word
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    letters(a) == letters(b)
}

fn join(words: &[Word]) -> String {
    words.iter().map(|w| w.word.as_str()).collect()
}

fn seconds(samples: usize) -> f64 {
    samples as f64 / f64::from(SAMPLE_RATE)
}

fn samples_in(seconds: f64) -> usize {
    (seconds * f64::from(SAMPLE_RATE)).round() as usize
}

fn samples_at(time: f64) -> usize {
    samples_in(time.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start: f64, end: f64) -> Word {
        Word {
            word: text.into(),
            start,
            end,
            probability: 0.9,
            speaker: None,
        }
    }

    #[test]
    fn json_overrides_keep_the_stream_defaults() {
        let options = StreamOptions::from_json(
            r#"{"transcribe": {"language": "de"}, "min_chunk_seconds": 2}"#,
        )
        .unwrap();
        assert_eq!(options.transcribe.language.as_deref(), Some("de"));
        assert_eq!(options.transcribe.beam_size, 1);
        assert_eq!(options.min_chunk_seconds, 2.0);
        for bad in [
            r#"{"transcribe": {"langauge": "de"}}"#,
            r#"{"min_chunk_seconds": 0}"#,
            r#"{"transcribe": {"beam_size": 0}}"#,
            "[1]",
        ] {
            let error = StreamOptions::from_json(bad).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::InvalidOption, "{bad}");
        }
    }

    #[test]
    fn agreement_ignores_case_and_punctuation() {
        let before = [
            word(" ask", 0.0, 0.3),
            word(" not,", 0.3, 0.6),
            word(" what", 0.6, 0.9),
        ];
        let after = [
            word(" Ask", 0.0, 0.3),
            word(" not.", 0.3, 0.6),
            word(" why", 0.6, 0.9),
        ];
        assert_eq!(common_prefix(&before, &after), 2);
        assert_eq!(common_prefix(&before, &[]), 0);
    }

    #[test]
    fn committed_words_decoded_again_are_dropped() {
        let mut session = StreamSession::new(StreamOptions::default()).unwrap();
        session.commit(vec![word(" for", 5.0, 5.2), word(" your", 5.2, 5.5)]);
        // Time alone drops " for"; " your" starts after the committed end minus the overlap
        // allowed, so it is recognised as the committed word heard again.
        let decoded = vec![
            word(" for", 4.9, 5.2),
            word(" your", 5.45, 5.6),
            word(" country", 5.6, 6.1),
        ];
        let fresh = session.not_committed(decoded);
        assert_eq!(fresh, vec![word(" country", 5.6, 6.1)]);
    }

    #[test]
    fn a_commit_is_one_final_segment_and_clears_the_partial() {
        let mut session = StreamSession::new(StreamOptions::default()).unwrap();
        session.hypothesis = vec![word(" hello", 0.0, 0.4)];
        assert_eq!(
            session.partial_update(),
            Some(StreamEvent::Partial {
                text: "hello".into()
            })
        );
        assert_eq!(session.partial_update(), None);
        let words = std::mem::take(&mut session.hypothesis);
        let events = session.commit(words.clone());
        assert_eq!(
            events,
            vec![StreamEvent::Final {
                text: "hello".into(),
                start: 0.0,
                end: 0.4,
                words
            }]
        );
        assert_eq!(
            session.partial_update(),
            Some(StreamEvent::Partial {
                text: String::new()
            })
        );
        let json = serde_json::to_value(&events[0]).unwrap();
        assert_eq!(json["text"], "hello");
        assert_eq!(json["words"][0]["word"], " hello");
    }
}
