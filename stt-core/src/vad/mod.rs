//! Voice activity detection as faster-whisper's `vad_filter` does it (faster-whisper 1.2.1,
//! `vad.py`): Silero VAD gives a speech probability per 32 ms frame, [`speech_timestamps`]
//! turns them into spans of speech, [`collect_speech`] joins the spans' audio for
//! transcription, and [`SpeechMap`] maps times in the joined audio back to the recording.
//! The pure span arithmetic is in `spans`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::audio::SAMPLE_RATE;
use crate::model::{CONTEXT_SAMPLES, SileroModel, SileroState};
use crate::store::{self, ModelKind, VAD_MODEL};
use crate::{Error, LoadOptions, Result};

mod spans;

pub use crate::model::FRAME_SAMPLES;
pub use spans::{SpeechMap, collect_speech, speech_timestamps};

/// The detector's file inside its model directory (`$STT_HOME/models/silero-vad`).
pub const MODEL_FILE: &str = "silero_vad.onnx";

/// How probabilities become spans. Names, meanings and defaults are faster-whisper's
/// `VadOptions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VadOptions {
    /// A frame whose speech probability is at least this is speech.
    pub threshold: f64,
    /// A frame below this is silence; one between this and `threshold` continues speech but
    /// does not start it. `None`: `max(threshold - 0.15, 0.01)`.
    pub neg_threshold: Option<f64>,
    /// Spans of speech shorter than this are dropped.
    pub min_speech_duration_ms: u32,
    /// Longer spans are split, at the last silence of more than 98 ms if there is one, else
    /// just before this length. `None`: no limit.
    pub max_speech_duration_s: Option<f64>,
    /// Silence must last this long to end a span.
    pub min_silence_duration_ms: u32,
    /// Added to both sides of each span (half the gap each when spans are closer than twice
    /// this).
    pub speech_pad_ms: u32,
}

impl Default for VadOptions {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            neg_threshold: None,
            min_speech_duration_ms: 0,
            max_speech_duration_s: None,
            min_silence_duration_ms: 2000,
            speech_pad_ms: 400,
        }
    }
}

impl VadOptions {
    pub fn validate(&self) -> Result<()> {
        let probability = |name: &str, value: f64| {
            if (0.0..=1.0).contains(&value) {
                Ok(())
            } else {
                Err(Error::InvalidOption(format!(
                    "VAD {name} must be between 0 and 1, got {value}"
                )))
            }
        };
        probability("threshold", self.threshold)?;
        if let Some(neg_threshold) = self.neg_threshold {
            probability("neg_threshold", neg_threshold)?;
        }
        if let Some(seconds) = self.max_speech_duration_s
            && !(seconds > 0.0 && seconds.is_finite())
        {
            return Err(Error::InvalidOption(format!(
                "VAD max_speech_duration_s must be a positive number of seconds, got {seconds}"
            )));
        }
        Ok(())
    }
}

/// A stretch of speech, in samples of the 16 kHz audio: `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeechSpan {
    pub start: usize,
    pub end: usize,
}

/// The Silero VAD model, run on the CPU as faster-whisper runs it.
pub struct SileroVad {
    model: SileroModel,
}

impl SileroVad {
    /// Loads the detector from its ONNX file.
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::ModelNotFound(format!(
                "{} does not exist; run `stt models pull {VAD_MODEL}`",
                path.display()
            )));
        }
        Ok(Self {
            model: SileroModel::load(path, options)?,
        })
    }

    /// Loads the detector that `stt models pull silero-vad` installed under `$STT_HOME`.
    pub fn load_installed(options: &LoadOptions) -> Result<Self> {
        let dir = store::installed_model(VAD_MODEL, ModelKind::Vad).ok_or_else(|| {
            Error::ModelNotFound(format!(
                "{VAD_MODEL:?} is not installed in {}; run `stt models pull {VAD_MODEL}`",
                store::models_dir().display()
            ))
        })?;
        Self::load(&dir.join(MODEL_FILE), options)
    }

    /// One speech probability per [`FRAME_SAMPLES`] of 16 kHz `samples`, framed as
    /// faster-whisper frames them: zeros are added past the end up to a whole number of
    /// frames (a whole frame of them when the length already is one), so there are
    /// `samples.len() / FRAME_SAMPLES + 1` probabilities.
    pub fn speech_probabilities(&mut self, samples: &[f32]) -> Result<Vec<f32>> {
        let frames = samples.len() / FRAME_SAMPLES + 1;
        // Zeros as the first frame's context, then the audio and its padding.
        let mut padded = vec![0.0; CONTEXT_SAMPLES + frames * FRAME_SAMPLES];
        padded[CONTEXT_SAMPLES..CONTEXT_SAMPLES + samples.len()].copy_from_slice(samples);
        // faster-whisper clears the first frame's context through a view of the audio, which
        // also zeroes the end of the last frame; done here too so the probabilities agree.
        let end = padded.len();
        padded[end - CONTEXT_SAMPLES..].fill(0.0);
        self.model.frame_probabilities(&padded)
    }

    /// Probabilities of the frames completed by `samples`, audio that arrives in pieces: the
    /// same as [`Self::speech_probabilities`] of the whole, frame by frame, without its padding.
    pub fn continue_probabilities(
        &mut self,
        stream: &mut VadStream,
        samples: &[f32],
    ) -> Result<Vec<f32>> {
        stream.pending.extend_from_slice(samples);
        let whole = stream.pending.len() / FRAME_SAMPLES * FRAME_SAMPLES;
        if whole == 0 {
            return Ok(Vec::new());
        }
        let mut input = Vec::with_capacity(CONTEXT_SAMPLES + whole);
        input.extend_from_slice(&stream.context);
        input.extend(stream.pending.drain(..whole));
        stream
            .context
            .copy_from_slice(&input[input.len() - CONTEXT_SAMPLES..]);
        self.model.continue_frames(&input, &mut stream.state)
    }

    /// faster-whisper's `vad_filter`: finds the speech in `samples` and joins it.
    pub fn filter(&mut self, samples: &[f32], options: &VadOptions) -> Result<SpeechAudio> {
        options.validate()?;
        let probabilities = self.speech_probabilities(samples)?;
        Ok(SpeechAudio::from_probabilities(
            samples,
            &probabilities,
            options,
        ))
    }
}

/// Where the detector is in audio that arrives in pieces: its state, the context of the next
/// frame and the samples of a frame not yet whole.
#[derive(Debug, Clone, PartialEq)]
pub struct VadStream {
    state: SileroState,
    context: [f32; CONTEXT_SAMPLES],
    pending: Vec<f32>,
}

impl Default for VadStream {
    fn default() -> Self {
        Self {
            state: SileroState::default(),
            context: [0.0; CONTEXT_SAMPLES],
            pending: Vec::with_capacity(FRAME_SAMPLES),
        }
    }
}

/// Audio with everything but speech removed, and the way back to the original times.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechAudio {
    /// The samples of the spans, one after the other.
    pub samples: Vec<f32>,
    /// Where the speech is in the original audio.
    pub spans: Vec<SpeechSpan>,
    pub map: SpeechMap,
}

impl SpeechAudio {
    /// The speech of `samples` given their [`SileroVad::speech_probabilities`].
    pub fn from_probabilities(
        samples: &[f32],
        probabilities: &[f32],
        options: &VadOptions,
    ) -> Self {
        let spans = speech_timestamps(probabilities, samples.len(), options);
        Self {
            samples: collect_speech(samples, &spans),
            map: SpeechMap::new(&spans),
            spans,
        }
    }

    /// Seconds of audio left (faster-whisper's `duration_after_vad`).
    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / f64::from(SAMPLE_RATE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_faster_whispers() {
        let options = VadOptions::default();
        assert_eq!(options.threshold, 0.5);
        assert_eq!(options.neg_threshold, None);
        assert_eq!(options.min_speech_duration_ms, 0);
        assert_eq!(options.max_speech_duration_s, None);
        assert_eq!(options.min_silence_duration_ms, 2000);
        assert_eq!(options.speech_pad_ms, 400);
        assert!(options.validate().is_ok());
    }

    #[test]
    fn options_from_partial_json_and_bad_values() {
        let options: VadOptions =
            serde_json::from_str(r#"{"threshold": 0.6, "max_speech_duration_s": 30}"#).unwrap();
        assert_eq!(options.threshold, 0.6);
        assert_eq!(options.max_speech_duration_s, Some(30.0));
        assert_eq!(options.speech_pad_ms, 400);
        assert!(serde_json::from_str::<VadOptions>(r#"{"window_size_samples": 512}"#).is_err());
        assert!(serde_json::from_str::<VadOptions>(r#"{"speech_pad_ms": -1}"#).is_err());

        for (options, field) in [
            (
                VadOptions {
                    threshold: 1.5,
                    ..VadOptions::default()
                },
                "threshold",
            ),
            (
                VadOptions {
                    neg_threshold: Some(f64::NAN),
                    ..VadOptions::default()
                },
                "neg_threshold",
            ),
            (
                VadOptions {
                    max_speech_duration_s: Some(0.0),
                    ..VadOptions::default()
                },
                "max_speech_duration_s",
            ),
        ] {
            let error = options.validate().unwrap_err();
            assert_eq!(error.kind(), crate::ErrorKind::InvalidOption);
            assert!(error.to_string().contains(field), "{error}");
        }
    }
}
