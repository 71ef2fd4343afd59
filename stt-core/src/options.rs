//! The options of one transcription. [`TranscribeOptions::default`] is the single source of
//! defaults, and [`TranscribeOptions::with_overrides`] the single way to apply what a caller
//! set: the CLI, the server and the language bindings all go through them. Names and defaults
//! follow faster-whisper's `transcribe()`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::vad::VadOptions;
use crate::{Error, Result, alignment};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    #[default]
    Transcribe,
    /// Speech in any language to English text.
    Translate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TranscribeOptions {
    /// ISO 639-1 code of the spoken language; `None` (or "auto") detects it from the first window.
    pub language: Option<String>,
    pub task: Task,
    /// Beams searched at temperature 0; 1 is greedy decoding.
    pub beam_size: usize,
    /// Candidates sampled at each temperature above 0; the best ranked is kept.
    pub best_of: usize,
    /// 1 ends beam search when its best proposal ends the text; above 1 it goes on until
    /// `beam_size * patience` sequences have ended.
    pub patience: f32,
    /// Candidates are ranked by `log probability / length ^ length_penalty`.
    pub length_penalty: f32,
    /// Temperatures tried in order until a window decodes well (see `decode::FallbackPolicy`).
    pub temperature: Vec<f32>,
    /// Retry at the next temperature when the text compresses better than this (a loop).
    pub compression_ratio_threshold: Option<f32>,
    /// Retry at the next temperature when the average token log probability is below this.
    pub log_prob_threshold: Option<f32>,
    /// A window whose no-speech probability is above this, and whose average log probability
    /// is below `log_prob_threshold`, is treated as silence.
    pub no_speech_threshold: Option<f32>,
    /// Feed the previous window's text as a prompt to the next one.
    pub condition_on_previous_text: bool,
    /// Stop conditioning on previous text after a window decoded above this temperature.
    pub prompt_reset_on_temperature: f32,
    /// Text given to the model as if it preceded the audio (names, spelling, style).
    pub initial_prompt: Option<String>,
    /// Text the first window's transcript is made to begin with.
    pub prefix: Option<String>,
    /// Words or phrases to make likelier, given as a prompt to every window (ignored with
    /// `prefix`).
    pub hotwords: Option<String>,
    /// Token ids never to emit; -1 stands for the model's list of non-speech symbols.
    pub suppress_tokens: Vec<i64>,
    /// Forbid a blank or end-of-text as the first sampled token.
    pub suppress_blank: bool,
    /// Decode text only, without timestamp tokens (one segment per window).
    pub without_timestamps: bool,
    /// Latest allowed first timestamp of a window, in seconds.
    pub max_initial_timestamp: f32,
    /// Time every word from the cross-attention of the alignment heads.
    pub word_timestamps: bool,
    /// Punctuation joined to the following word when timing words.
    pub prepend_punctuations: String,
    /// Punctuation joined to the preceding word when timing words.
    pub append_punctuations: String,
    /// Detect speech with Silero VAD first and decode only that; silence is never decoded, so
    /// nothing can be invented there. Ignored when `clip_timestamps` are given.
    pub vad_filter: bool,
    /// Thresholds of the voice activity detection.
    pub vad_parameters: VadOptions,
    /// Only these parts of the audio are transcribed: `[start, end, start, end, ...]` in
    /// seconds; a missing last end means the end of the audio. Empty means everything.
    pub clip_timestamps: Vec<f64>,
    /// With word timestamps: skip silences longer than this many seconds before text that
    /// looks hallucinated (improbable, or words too short or too long).
    pub hallucination_silence_threshold: Option<f32>,
    /// Most tokens decoded per window; `None`: half the model's context (224).
    pub max_new_tokens: Option<usize>,
    /// Encode a window shorter than 30 s as its audio and this many seconds of silence after
    /// it, not padded to 30 s (whisper.cpp's `audio_ctx`): the encoder's work falls with the
    /// window's length, as live streams want. Needs graphs converted by this version (older
    /// ones always take 30 s). `None`, as the reference engines do, pads every window.
    pub window_padding: Option<f32>,
    /// Label who speaks ("Speaker 1", "Speaker 2"...) on segments and words, splitting segments
    /// where the speaker changes. Needs the `diarization` feature and the `campplus` model. Off
    /// here; the HTTP contract's `/v1/transcribe` turns it on.
    pub diarize: bool,
    /// The number of speakers when it is known; 0 estimates it.
    pub speakers: usize,
    /// Each channel of the source holds one speaker, so each channel is transcribed on its own
    /// and labelled as its speaker instead of voices being told apart. Implies `diarize`.
    pub diarize_by_channel: bool,
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        Self {
            language: None,
            task: Task::Transcribe,
            beam_size: 5,
            best_of: 5,
            patience: 1.0,
            length_penalty: 1.0,
            temperature: vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
            compression_ratio_threshold: Some(2.4),
            log_prob_threshold: Some(-1.0),
            no_speech_threshold: Some(0.6),
            condition_on_previous_text: true,
            prompt_reset_on_temperature: 0.5,
            initial_prompt: None,
            prefix: None,
            hotwords: None,
            suppress_tokens: vec![-1],
            suppress_blank: true,
            without_timestamps: false,
            max_initial_timestamp: 1.0,
            word_timestamps: true,
            prepend_punctuations: alignment::DEFAULT_PREPEND_PUNCTUATIONS.into(),
            append_punctuations: alignment::DEFAULT_APPEND_PUNCTUATIONS.into(),
            vad_filter: true,
            vad_parameters: VadOptions::default(),
            clip_timestamps: Vec::new(),
            hallucination_silence_threshold: None,
            max_new_tokens: None,
            window_padding: None,
            diarize: false,
            speakers: 0,
            diarize_by_channel: false,
        }
    }
}

/// Most speakers a caller may ask for.
pub const MAX_SPEAKERS: usize = 100;

/// Most beams or samples decoded at once: each holds a key/value cache, so a caller's number
/// must not turn into an allocation that aborts the process.
pub const MAX_CANDIDATES: usize = 64;

impl TranscribeOptions {
    /// The language to decode in, `None` when it must be detected.
    pub fn fixed_language(&self) -> Option<&str> {
        self.language
            .as_deref()
            .filter(|code| !code.is_empty() && !code.eq_ignore_ascii_case("auto"))
    }

    /// Options from a JSON object naming what differs from the defaults (see
    /// [`Self::with_overrides`]).
    pub fn from_json(json: &str) -> Result<Self> {
        Self::default().with_overrides(parse_json(json)?)
    }

    /// These options with what `overrides` (a JSON object) names replaced, at any depth
    /// (`{"vad_parameters": {"threshold": 0.3}}` keeps the other thresholds), then normalised
    /// and checked. An unknown name is refused.
    pub fn with_overrides(&self, overrides: Value) -> Result<Self> {
        with_overrides(self, overrides)?.normalized()
    }

    /// Makes what an option implies explicit (`diarize_by_channel` labels speakers, so it
    /// turns `diarize` on), then checks every value. The engine normalises what it is given.
    pub fn normalized(mut self) -> Result<Self> {
        self.diarize |= self.diarize_by_channel;
        self.validate()?;
        Ok(self)
    }

    /// Whether the audio must be decoded with its channels kept apart
    /// ([`crate::audio::load_file_with_channels`]).
    pub fn needs_channels(&self) -> bool {
        self.diarize_by_channel
    }

    pub fn validate(&self) -> Result<()> {
        if self.temperature.is_empty() {
            return Err(Error::InvalidOption(
                "temperature needs at least one value".into(),
            ));
        }
        if let Some(bad) = self.temperature.iter().find(|t| !(0.0..=1.0).contains(*t)) {
            return Err(Error::InvalidOption(format!(
                "temperature must be between 0 and 1, got {bad}"
            )));
        }
        for (name, value) in [("beam_size", self.beam_size), ("best_of", self.best_of)] {
            if !(1..=MAX_CANDIDATES).contains(&value) {
                return Err(Error::InvalidOption(format!(
                    "{name} must be between 1 and {MAX_CANDIDATES}, got {value}"
                )));
            }
        }
        if self.patience.is_nan() || self.patience <= 0.0 {
            return Err(Error::InvalidOption(format!(
                "patience must be above 0, got {}",
                self.patience
            )));
        }
        if let Some(bad) = self
            .clip_timestamps
            .iter()
            .find(|t| t.is_nan() || **t < 0.0)
        {
            return Err(Error::InvalidOption(format!(
                "clip_timestamps must be seconds >= 0, got {bad}"
            )));
        }
        if self
            .clip_timestamps
            .windows(2)
            .any(|pair| pair[1] < pair[0])
        {
            return Err(Error::InvalidOption(
                "clip_timestamps must not decrease".into(),
            ));
        }
        self.vad_parameters.validate()?;
        if self.speakers > MAX_SPEAKERS {
            return Err(Error::InvalidOption(format!(
                "speakers must be at most {MAX_SPEAKERS} (0 estimates), got {}",
                self.speakers
            )));
        }
        if self.diarize && !cfg!(feature = "diarization") {
            return Err(Error::InvalidOption(
                "diarize needs stt-core built with the `diarization` feature".into(),
            ));
        }
        if let Some(padding) = self.window_padding
            && !(0.0..=30.0).contains(&padding)
        {
            return Err(Error::InvalidOption(format!(
                "window_padding must be seconds from 0 to 30, got {padding}"
            )));
        }
        if self.max_initial_timestamp.is_nan() || self.max_initial_timestamp < 0.0 {
            return Err(Error::InvalidOption(format!(
                "max_initial_timestamp must be >= 0, got {}",
                self.max_initial_timestamp
            )));
        }
        Ok(())
    }
}

/// A JSON text that must be an object of options.
pub(crate) fn parse_json(json: &str) -> Result<Value> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| Error::InvalidOption(format!("options: {e}")))?;
    match value {
        Value::Object(_) => Ok(value),
        other => Err(Error::InvalidOption(format!(
            "options must be a JSON object, got {other}"
        ))),
    }
}

/// `base` with `overrides` written over it, objects key by key; unknown names are refused by
/// `T`'s `deny_unknown_fields`.
pub(crate) fn with_overrides<T: Serialize + DeserializeOwned>(
    base: &T,
    overrides: Value,
) -> Result<T> {
    let invalid = |e: serde_json::Error| Error::InvalidOption(e.to_string());
    let mut merged = serde_json::to_value(base).map_err(invalid)?;
    merge(&mut merged, overrides);
    serde_json::from_value(merged).map_err(invalid)
}

fn merge(base: &mut Value, overrides: Value) {
    match (base, overrides) {
        (Value::Object(base), Value::Object(overrides)) => {
            for (key, value) in overrides {
                match base.get_mut(&key) {
                    Some(slot) => merge(slot, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (slot, value) => *slot = value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_means_detect() {
        let mut options = TranscribeOptions::default();
        assert_eq!(options.fixed_language(), None);
        options.language = Some("auto".into());
        assert_eq!(options.fixed_language(), None);
        options.language = Some("de".into());
        assert_eq!(options.fixed_language(), Some("de"));
    }

    #[test]
    fn partial_json_keeps_defaults() {
        let options: TranscribeOptions =
            serde_json::from_str(r#"{"language": "fr", "task": "translate"}"#).unwrap();
        assert_eq!(options.task, Task::Translate);
        assert_eq!(options.suppress_tokens, vec![-1]);
        assert!(options.condition_on_previous_text);
    }

    #[test]
    fn overrides_merge_at_any_depth() {
        let base = TranscribeOptions {
            beam_size: 1,
            ..Default::default()
        };
        let options = base
            .with_overrides(serde_json::json!({"vad_parameters": {"threshold": 0.3}}))
            .unwrap();
        assert_eq!(options.beam_size, 1, "the base is kept");
        assert_eq!(options.vad_parameters.threshold, 0.3);
        assert_eq!(
            options.vad_parameters.min_silence_duration_ms,
            VadOptions::default().min_silence_duration_ms
        );
        for bad in [r#"{"beam": 3}"#, "[1]", "{", r#"{"beam_size": 0}"#] {
            let error = TranscribeOptions::from_json(bad).unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::InvalidOption, "{bad}");
        }
    }

    #[test]
    fn by_channel_implies_diarize() {
        let by_channel = TranscribeOptions::from_json(r#"{"diarize_by_channel": true}"#);
        if cfg!(feature = "diarization") {
            let options = by_channel.unwrap();
            assert!(options.diarize && options.needs_channels());
        } else {
            // Diarization asked for, by implication, from a build without it.
            assert!(by_channel.unwrap_err().to_string().contains("diarization"));
        }
    }

    #[test]
    fn unknown_fields_and_bad_values_are_rejected() {
        assert!(serde_json::from_str::<TranscribeOptions>(r#"{"beam": 3}"#).is_err());
        let options = TranscribeOptions {
            temperature: vec![0.0, 3.0],
            ..Default::default()
        };
        assert_eq!(
            options.validate().unwrap_err().kind(),
            crate::ErrorKind::InvalidOption
        );
        let huge_beam = TranscribeOptions {
            beam_size: 1_000_000_000_000,
            ..Default::default()
        };
        assert!(
            huge_beam
                .validate()
                .unwrap_err()
                .to_string()
                .contains("beam_size")
        );
    }
}
