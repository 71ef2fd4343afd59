//! Live transcription: audio arrives in pieces, text leaves as interim hypotheses and final
//! segments that are never revised.
//!
//! Each step decodes a bounded buffer (never the whole history), prompted with the text
//! already committed. A word is committed when its alignment puts it far enough before the end
//! of the audio heard (AlignAtt), or when two consecutive decodes agree on it (LocalAgreement),
//! and at once when voice activity detection hears the utterance end. The buffer is cut at the
//! last committed word once it grows long.

mod options;
mod words;

use serde::Serialize;

use crate::Result;
use crate::audio::SAMPLE_RATE;
use crate::model::CancelToken;
use crate::options::TranscribeOptions;
use crate::transcribe::Transcriber;
use crate::transcript::Word;
use crate::vad::{FRAME_SAMPLES, VadStream};

pub use options::{CommitPolicy, StreamOptions};
use words::{common_prefix, fresh_words, join, settled_prefix, starts_with, without_loop};

/// Committed words kept for the prompt and to recognise them when decoded again.
const KEPT_WORDS: usize = 64;
/// Characters of committed text given as the prompt (Whisper reads at most 223 tokens).
const PROMPT_CHARS: usize = 600;
/// Audio kept after the last speech frame, for a word tail the detector heard as silence.
const SPEECH_TAIL_SECONDS: f64 = 0.3;
/// Tokens per second of audio a decode may produce, its prefix included (fast speech is about
/// 5), and a few more for timestamps.
const TOKENS_PER_SECOND: f64 = 8.0;
const SPARE_TOKENS: usize = 16;

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
        let settled = match self.options.commit {
            CommitPolicy::AlignAtt => {
                settled_prefix(&decoded, seconds(end) - self.options.commit_margin_seconds)
            }
            CommitPolicy::LocalAgreement => common_prefix(&self.hypothesis, &decoded),
        };
        self.hypothesis = decoded.split_off(settled);
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
        // Without speech left only the last hypothesis remains to commit. With it, the audio
        // after the last speech is not decoded: a model reading only silence after the prefix
        // invents text there.
        let cut = match (speech_left, self.voice_end) {
            (true, Some(voice_end)) if self.options.transcribe.vad_filter => {
                (voice_end + samples_in(SPEECH_TAIL_SECONDS)).min(end)
            }
            (true, _) => end,
            (false, _) => self.decoded_until.min(end),
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
        let samples = self.buffer[..end - self.buffer_start].to_vec();
        // The committed words the buffer still holds are forced as the decode's prefix: they
        // are read in one pass instead of decoded again, and cannot come back changed.
        let heard = self.committed_in_buffer();
        let prefix = match heard.is_empty() {
            true => self.options.transcribe.prefix.clone(),
            false => Some(join(heard).trim().to_string()),
        };
        let options = TranscribeOptions {
            // Enough for fast speech; a decode caught in a loop stops there instead of
            // spending seconds on the model's whole token budget.
            max_new_tokens: Some(
                (seconds(samples.len()) * TOKENS_PER_SECOND) as usize + SPARE_TOKENS,
            ),
            language: self.language.clone(),
            initial_prompt: self.prompt(),
            prefix,
            word_timestamps: true,
            vad_filter: false,
            clip_timestamps: Vec::new(),
            ..self.options.transcribe.clone()
        };
        let transcript = transcriber.transcribe_buffer(&samples, &options, cancel)?;
        self.decoded_until = end;
        if self.language.is_none() && !transcript.language.is_empty() {
            // Kept only once words are committed in it (see `commit`).
            self.detected = Some(transcript.language.clone());
        }
        let offset = seconds(self.buffer_start);
        let mut words: Vec<Word> = transcript
            .segments
            .into_iter()
            .flat_map(|segment| segment.words)
            .map(|word| Word {
                start: word.start + offset,
                end: word.end + offset,
                ..word
            })
            .collect();
        let heard = self.committed_in_buffer();
        let fresh = match starts_with(&words, heard) {
            true => words.split_off(heard.len()),
            false => fresh_words(&self.committed, words),
        };
        Ok(without_loop(fresh))
    }

    /// The committed words whose audio is still in the buffer (the others are the prompt).
    fn committed_in_buffer(&self) -> &[Word] {
        let cut = seconds(self.buffer_start) + 0.01;
        let kept = self.committed.partition_point(|w| w.end <= cut);
        &self.committed[kept..]
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
        let said = &self.committed[..self.committed.len() - self.committed_in_buffer().len()];
        let text = format!(
            "{} {}",
            self.options
                .transcribe
                .initial_prompt
                .as_deref()
                .unwrap_or(""),
            join(said)
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
    use super::words::word;
    use super::*;

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
