//! Transcription with speaker labels (feature `diarization`): by voice (CAM++ embeddings over
//! the speech the detector finds) or one speaker per channel. Labelled segments are final only
//! once the whole recording is done, so they are handed over at the end.

use super::{OnProgress, Progress, Transcriber};
use crate::audio::{AudioInput, SampleSource};
use crate::diarize::{self, Diarizer};
use crate::options::TranscribeOptions;
use crate::transcript::Transcript;
use crate::{Error, Result};

impl Transcriber {
    /// Transcribes and labels speakers; `options` are normalised and ask for diarization.
    pub(super) fn transcribe_diarized(
        &mut self,
        audio: &dyn AudioInput,
        options: &TranscribeOptions,
        on_progress: &mut OnProgress<'_>,
    ) -> Result<Transcript> {
        let transcript = match options.diarize_by_channel {
            true => self.transcribe_channels(audio, options, on_progress)?,
            false => self.transcribe_voices(audio, options, on_progress)?,
        };
        let done = Progress {
            processed_seconds: transcript.duration_after_vad,
            total_seconds: transcript.duration_after_vad,
            new_segments: &transcript.segments,
        };
        match on_progress(done).is_break() {
            true => Err(Error::Cancelled),
            false => Ok(transcript),
        }
    }

    /// Voices told apart in the speech the detector finds (the same probabilities filter the
    /// audio for decoding).
    fn transcribe_voices(
        &mut self,
        audio: &dyn AudioInput,
        options: &TranscribeOptions,
        on_progress: &mut OnProgress<'_>,
    ) -> Result<Transcript> {
        let probabilities = self.vad()?.speech_probabilities(audio.samples())?;
        let mut held_back = |p: Progress<'_>| {
            on_progress(Progress {
                new_segments: &[],
                ..p
            })
        };
        let mut transcript =
            self.transcribe_speech(audio, Some(&probabilities), options, &mut held_back)?;
        let spans = crate::vad::speech_timestamps(
            &probabilities,
            audio.samples().len(),
            &diarize::speech_options(),
        );
        let diarizer = match self.diarizer.take() {
            Some(diarizer) => diarizer,
            None => Diarizer::load_installed(&self.load_options)?,
        };
        let cancel = self.model.cancel_token().clone();
        let turns = self.diarizer.insert(diarizer).turns(
            audio.samples(),
            &spans,
            options.speakers,
            &cancel,
        )?;
        diarize::label_transcript(&mut transcript, &turns);
        Ok(transcript)
    }

    /// One speaker per channel: each distinct channel is transcribed on its own and its words
    /// are that channel's speaker's; the segments are merged in time order. Channels that
    /// repeat another (a mono recording stored as stereo) are skipped.
    fn transcribe_channels(
        &mut self,
        audio: &dyn AudioInput,
        options: &TranscribeOptions,
        on_progress: &mut OnProgress<'_>,
    ) -> Result<Transcript> {
        let all_channels = audio.channels();
        if all_channels.len() < 2 {
            return Err(Error::InvalidOption(
                "diarize_by_channel needs audio with two or more channels, decoded with them \
                 kept; this audio has one"
                    .into(),
            ));
        }
        let per_channel = TranscribeOptions {
            diarize: false,
            diarize_by_channel: false,
            ..options.clone()
        };
        let cancel = self.model.cancel_token().clone();
        let channels = diarize::distinct_channels(&all_channels)?;
        let whole = audio.duration() * channels.len() as f64;
        let mut parts = Vec::with_capacity(channels.len());
        for (done, &channel) in channels.iter().enumerate() {
            let channel_audio = Channel {
                samples: all_channels[channel],
                warnings: audio.warnings(),
            };
            let before = done as f64 * audio.duration();
            let transcript =
                self.transcribe_with_progress(&channel_audio, &per_channel, &cancel, &mut |p| {
                    let share = if p.total_seconds > 0.0 {
                        p.processed_seconds / p.total_seconds
                    } else {
                        1.0
                    };
                    on_progress(Progress {
                        processed_seconds: before + share * audio.duration(),
                        total_seconds: whole,
                        new_segments: &[],
                    })
                })?;
            parts.push((channel, transcript));
        }
        Ok(diarize::merge_channels(parts))
    }
}

/// One channel of a recording, transcribed on its own.
struct Channel<'a> {
    samples: &'a dyn SampleSource,
    warnings: &'a [String],
}

impl AudioInput for Channel<'_> {
    fn samples(&self) -> &dyn SampleSource {
        self.samples
    }

    fn channels(&self) -> Vec<&dyn SampleSource> {
        Vec::new()
    }

    fn warnings(&self) -> &[String] {
        self.warnings
    }
}
