//! Voice activity detection as faster-whisper's `vad_filter` does it (faster-whisper 1.2.1,
//! `vad.py`): Silero VAD gives a speech probability per 32 ms frame, [`speech_timestamps`]
//! turns them into spans of speech, [`SpeechAudio`] reads the spans' audio joined for
//! transcription, and [`SpeechMap`] maps times in the joined audio back to the recording.
//! The pure span arithmetic is in `spans`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::audio::{SAMPLE_RATE, SampleSource};
use crate::model::{CONTEXT_SAMPLES, SileroModel, SileroState};
use crate::store::{self, ModelKind, VAD_MODEL};
use crate::{Error, LoadOptions, Result};

mod spans;
mod speech;

pub use crate::model::FRAME_SAMPLES;
pub use spans::{SpeechMap, speech_timestamps};
pub use speech::SpeechAudio;

/// Frames classified per chunk of audio (about 30 s): the memory of
/// [`SileroVad::speech_probabilities`] is this, whatever the length of the audio.
const CHUNK_FRAMES: usize = 30 * SAMPLE_RATE as usize / FRAME_SAMPLES;

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

    /// One speech probability per [`FRAME_SAMPLES`] of 16 kHz `source`, framed as
    /// faster-whisper frames them: zeros are added past the end up to a whole number of
    /// frames (a whole frame of them when the length already is one), so there are
    /// `source.len() / FRAME_SAMPLES + 1` probabilities. The audio is read a chunk at a time.
    pub fn speech_probabilities(&mut self, source: &dyn SampleSource) -> Result<Vec<f32>> {
        let mut state = SileroState::default();
        in_chunks(source, CHUNK_FRAMES, |input| {
            self.model.continue_frames(input, &mut state)
        })
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

    /// faster-whisper's `vad_filter`: finds the speech in `source`, to be read joined.
    pub fn filter<'a>(
        &mut self,
        source: &'a dyn SampleSource,
        options: &VadOptions,
    ) -> Result<SpeechAudio<'a>> {
        options.validate()?;
        let probabilities = self.speech_probabilities(source)?;
        Ok(SpeechAudio::from_probabilities(
            source,
            &probabilities,
            options,
        ))
    }
}

/// Runs `classify` (the model from a carried state) over faster-whisper's framing of `source`,
/// `chunk_frames` frames at a time, each chunk after the [`CONTEXT_SAMPLES`] its first frame
/// sees, and joins the probabilities.
fn in_chunks(
    source: &dyn SampleSource,
    chunk_frames: usize,
    mut classify: impl FnMut(&[f32]) -> Result<Vec<f32>>,
) -> Result<Vec<f32>> {
    let frames = source.len() / FRAME_SAMPLES + 1;
    // faster-whisper clears the first frame's context through a view of the padded audio,
    // which also zeroes its last CONTEXT_SAMPLES; cut here too so the probabilities agree.
    let audio_end = source.len().min(frames * FRAME_SAMPLES - CONTEXT_SAMPLES);
    let mut probabilities = Vec::with_capacity(frames);
    // Zeros as the first frame's context.
    let mut input = vec![0.0; CONTEXT_SAMPLES];
    for first in (0..frames).step_by(chunk_frames) {
        let start = first * FRAME_SAMPLES;
        let end = frames.min(first + chunk_frames) * FRAME_SAMPLES;
        // Past `audio_end` the new samples stay zero: the padding.
        input.resize(CONTEXT_SAMPLES + end - start, 0.0);
        let read_end = end.min(audio_end);
        if start < read_end {
            source.read(
                start,
                &mut input[CONTEXT_SAMPLES..CONTEXT_SAMPLES + read_end - start],
            )?;
        }
        probabilities.extend(classify(&input)?);
        // The chunk's last samples are the next one's context.
        input.drain(..input.len() - CONTEXT_SAMPLES);
    }
    Ok(probabilities)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The framing as it was done on the whole audio at once (faster-whisper's): the context
    /// of the first frame, then every frame, as one buffer.
    fn whole_buffer(samples: &[f32]) -> Vec<f32> {
        let frames = samples.len() / FRAME_SAMPLES + 1;
        let mut padded = vec![0.0; CONTEXT_SAMPLES + frames * FRAME_SAMPLES];
        padded[CONTEXT_SAMPLES..CONTEXT_SAMPLES + samples.len()].copy_from_slice(samples);
        let end = padded.len();
        padded[end - CONTEXT_SAMPLES..].fill(0.0);
        padded
    }

    /// What the model sees of each frame, its context included.
    fn windows(input: &[f32]) -> Vec<Vec<f32>> {
        input
            .windows(CONTEXT_SAMPLES + FRAME_SAMPLES)
            .step_by(FRAME_SAMPLES)
            .map(<[f32]>::to_vec)
            .collect()
    }

    #[test]
    fn chunks_frame_the_audio_as_the_whole_buffer_did() {
        let frame = FRAME_SAMPLES;
        // Lengths around whole frames, into the zeroed end of the last frame (past
        // frame - CONTEXT_SAMPLES), and around chunk boundaries.
        let lengths = [
            0,
            1,
            frame - CONTEXT_SAMPLES - 1,
            frame - CONTEXT_SAMPLES,
            frame - CONTEXT_SAMPLES + 1,
            frame - 1,
            frame,
            frame + 1,
            3 * frame - 1,
            3 * frame,
            3 * frame + 460,
            6 * frame,
            7 * frame + 100,
            7 * frame + 500,
        ];
        for length in lengths {
            // Distinct non-zero samples, so a misplaced or missing zero shows.
            let samples: Vec<f32> = (1..=length).map(|i| i as f32).collect();
            let expected = windows(&whole_buffer(&samples));
            assert_eq!(expected.len(), length / frame + 1);
            for chunk_frames in [1, 2, 3, 4, CHUNK_FRAMES] {
                let mut seen = Vec::new();
                let probabilities = in_chunks(&samples, chunk_frames, |input| {
                    assert_eq!((input.len() - CONTEXT_SAMPLES) % frame, 0);
                    let frames = windows(input);
                    assert!(frames.len() <= chunk_frames);
                    let count = frames.len();
                    seen.extend(frames);
                    Ok(vec![0.5; count])
                })
                .unwrap();
                assert_eq!(probabilities.len(), expected.len());
                assert!(
                    seen == expected,
                    "{length} samples in chunks of {chunk_frames} frames"
                );
            }
        }
    }

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
