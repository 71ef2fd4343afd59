//! The long-form loop: slide a 30 s window over the log-mel spectrogram, decode it, cut the
//! tokens into segments at timestamp pairs, and move the window to the last timestamp, as
//! openai-whisper's `transcribe()` does.

use std::ops::ControlFlow;
use std::path::Path;

use crate::alignment;
use crate::audio::{self, Audio};
use crate::decode::{
    Attempt, FallbackPolicy, LanguageDetection, LogitRules, TimestampRules, WindowParams,
    decode_with_fallback, detect_language, log_softmax,
};
use crate::mel::{FRAME_SECONDS, MelExtractor, N_FRAMES, N_SAMPLES};
use crate::model::{AudioFeatures, CancelToken, LoadOptions, ModelFiles, WhisperModel};
use crate::options::TranscribeOptions;
use crate::tokenizer::{TIMESTAMP_SECONDS, WhisperTokenizer};
use crate::transcript::{Segment, Transcript, Word};
use crate::vad::{SileroVad, SpeechAudio, SpeechMap};
use crate::{Error, Result, store};

/// Mel frames per timestamp step (0.02 s is two 10 ms frames).
const FRAMES_PER_TIMESTAMP: usize = 2;

/// Whether only the speech of the audio is decoded. Clips say exactly what to decode, so voice
/// activity detection would only second-guess them.
fn filters_speech(options: &TranscribeOptions) -> bool {
    options.vad_filter && options.clip_timestamps.is_empty()
}

/// Hands over the labelled segments of a diarized transcript, held back until now.
#[cfg(feature = "diarization")]
fn report_labelled(transcript: &Transcript, on_progress: &mut OnProgress<'_>) -> Result<()> {
    let done = Progress {
        processed_seconds: transcript.duration_after_vad,
        total_seconds: transcript.duration_after_vad,
        new_segments: &transcript.segments,
    };
    match on_progress(done) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(()) => Err(Error::Cancelled),
    }
}

/// How far a transcription has got (for progress bars), and the segments finished since the
/// last report (for callers that show text as it is decoded).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress<'a> {
    pub processed_seconds: f64,
    /// Seconds to decode: the speech found by voice activity detection when it is on.
    pub total_seconds: f64,
    /// Never revised later: their times are final (in the original audio).
    pub new_segments: &'a [Segment],
}

/// Called before each window and once at the end; `Break` stops the transcription with
/// [`Error::Cancelled`].
pub type OnProgress<'a> = dyn FnMut(Progress<'_>) -> ControlFlow<()> + 'a;

/// A loaded model ready to transcribe; one per worker thread.
pub struct Transcriber {
    name: String,
    model: WhisperModel,
    tokenizer: WhisperTokenizer,
    mel: MelExtractor,
    load_options: LoadOptions,
    /// Loaded on first use: a caller that never filters never needs the model installed.
    vad: Option<SileroVad>,
    /// Loaded on first use, like the detector.
    #[cfg(feature = "diarization")]
    diarizer: Option<crate::diarize::Diarizer>,
}

impl Transcriber {
    /// Loads a model by installed name (`base`) or by directory path.
    pub fn load(model: &str, options: &LoadOptions) -> Result<Self> {
        let dir = store::resolve_model(model)?;
        let files = ModelFiles::open(&dir, options.precision)?;
        let tokenizer = WhisperTokenizer::load(&files.tokenizer, files.config.languages.clone())?;
        let model_name = if Path::new(model).is_dir() {
            dir.file_name()
                .map_or_else(|| model.to_string(), |n| n.to_string_lossy().into_owned())
        } else {
            model.to_string()
        };
        let model = WhisperModel::load(&files, options)?;
        let mel = MelExtractor::new(model.config.n_mels);
        Ok(Self {
            name: model_name,
            model,
            tokenizer,
            mel,
            load_options: options.clone(),
            vad: None,
            #[cfg(feature = "diarization")]
            diarizer: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where the Whisper model runs: the CPU or `Cuda(index)`.
    pub fn device(&self) -> crate::Device {
        self.model.device()
    }

    /// Cancels the running transcription (or language detection) from another thread, within
    /// one decoder step; calls fail with [`Error::Cancelled`] until the token is reset.
    pub fn cancel_token(&self) -> CancelToken {
        self.model.cancel_token()
    }

    pub fn transcribe_file(
        &mut self,
        path: &Path,
        options: &TranscribeOptions,
    ) -> Result<Transcript> {
        let audio = audio::load_file_with_channels(path, options.needs_channels())?;
        self.transcribe(&audio, options)
    }

    pub fn transcribe(&mut self, audio: &Audio, options: &TranscribeOptions) -> Result<Transcript> {
        self.transcribe_with_progress(audio, options, &mut |_| ControlFlow::Continue(()))
    }

    /// [`Self::transcribe`], reporting progress and finished segments as it goes; the callback
    /// can cancel.
    pub fn transcribe_with_progress(
        &mut self,
        audio: &Audio,
        options: &TranscribeOptions,
        on_progress: &mut OnProgress<'_>,
    ) -> Result<Transcript> {
        options.validate()?;
        #[cfg(feature = "diarization")]
        if options.needs_channels() {
            return self.transcribe_channels(audio, options, on_progress);
        }
        let probabilities = self.speech_probabilities(audio, options)?;
        let speech = probabilities
            .as_deref()
            .filter(|_| filters_speech(options))
            .map(|p| SpeechAudio::from_probabilities(&audio.samples, p, &options.vad_parameters));
        let samples = speech.as_ref().map_or(&audio.samples, |s| &s.samples);
        let speech_map = speech.as_ref().map(|s| &s.map);
        let mut transcript = if options.diarize {
            // Segments are final only once labelled, after the whole recording.
            let mut held_back = |p: Progress<'_>| {
                on_progress(Progress {
                    new_segments: &[],
                    ..p
                })
            };
            self.decode_samples(samples, speech_map, options, &mut held_back)?
        } else {
            self.decode_samples(samples, speech_map, options, on_progress)?
        };
        transcript.duration = audio.duration();
        transcript.duration_after_vad = speech.map_or(audio.duration(), |s| s.duration());
        transcript.warnings = audio.warnings.clone();
        #[cfg(feature = "diarization")]
        if options.diarize {
            self.label_speakers(audio, probabilities.as_deref(), &mut transcript, options)?;
            report_labelled(&transcript, on_progress)?;
        }
        Ok(transcript)
    }

    /// One speaker per channel: each distinct channel is transcribed on its own and its words
    /// are that channel's speaker's; the segments are merged in time order. Channels that
    /// repeat another (a mono recording stored as stereo) are skipped.
    #[cfg(feature = "diarization")]
    fn transcribe_channels(
        &mut self,
        audio: &Audio,
        options: &TranscribeOptions,
        on_progress: &mut OnProgress<'_>,
    ) -> Result<Transcript> {
        if audio.channels.len() < 2 {
            return Err(Error::InvalidOption(format!(
                "diarize_by_channel needs audio with two or more channels, decoded with them \
                 kept; this audio has {}",
                audio.source_channels.max(1)
            )));
        }
        // Each channel transcribed alone; its segments are handed over once merged and labelled.
        let per_channel = TranscribeOptions {
            diarize: false,
            ..options.clone()
        };
        let channels = crate::diarize::distinct_channels(&audio.channels);
        let whole = audio.duration() * channels.len() as f64;
        let mut parts = Vec::with_capacity(channels.len());
        for (done, &channel) in channels.iter().enumerate() {
            let channel_audio = Audio {
                samples: audio.channels[channel].clone(),
                source_sample_rate: audio.source_sample_rate,
                source_channels: 1,
                warnings: audio.warnings.clone(),
                channels: Vec::new(),
            };
            let before = done as f64 * audio.duration();
            let transcript =
                self.transcribe_with_progress(&channel_audio, &per_channel, &mut |p| {
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
        let transcript = crate::diarize::merge_channels(parts);
        report_labelled(&transcript, on_progress)?;
        Ok(transcript)
    }

    /// Labels the speakers of `transcript` by voice in the speech that `probabilities` finds.
    #[cfg(feature = "diarization")]
    fn label_speakers(
        &mut self,
        audio: &Audio,
        probabilities: Option<&[f32]>,
        transcript: &mut Transcript,
        options: &TranscribeOptions,
    ) -> Result<()> {
        use crate::diarize::{self, Diarizer};
        let Some(probabilities) = probabilities else {
            return Ok(());
        };
        let spans = crate::vad::speech_timestamps(
            probabilities,
            audio.samples.len(),
            &diarize::speech_options(),
        );
        let diarizer = match self.diarizer.take() {
            Some(diarizer) => diarizer,
            None => Diarizer::load_installed(&self.load_options)?,
        };
        let cancel = self.model.cancel_token();
        let turns = self.diarizer.insert(diarizer).turns(
            &audio.samples,
            &spans,
            options.speakers,
            &cancel,
        )?;
        diarize::label_transcript(transcript, &turns);
        Ok(())
    }

    /// The spoken language of the first 30 s (of speech, when `options.vad_filter` is on),
    /// with the probability of every language. English-only models cannot tell.
    pub fn detect_language(
        &mut self,
        audio: &Audio,
        options: &TranscribeOptions,
    ) -> Result<LanguageDetection> {
        options.validate()?;
        let speech = if filters_speech(options) {
            Some(
                self.vad()?
                    .filter(&audio.samples, &options.vad_parameters)?,
            )
        } else {
            None
        };
        let samples = speech.as_ref().map_or(&audio.samples, |s| &s.samples);
        if samples.is_empty() {
            return Err(Error::EmptyAudio(
                "no speech to detect the language from".into(),
            ));
        }
        let first_window = &samples[..samples.len().min(N_SAMPLES)];
        let mel = self.mel.compute(first_window, N_SAMPLES);
        let frames = mel.n_frames.saturating_sub(N_FRAMES).clamp(1, N_FRAMES);
        let features = self.model.encode(mel.window(0, frames))?;
        let mut decoder = self.model.decoder(&features);
        detect_language(
            &mut decoder,
            self.tokenizer.special.sot,
            self.tokenizer.languages(),
        )
    }

    /// Speech probabilities of `audio` when filtering or diarization needs them.
    fn speech_probabilities(
        &mut self,
        audio: &Audio,
        options: &TranscribeOptions,
    ) -> Result<Option<Vec<f32>>> {
        let diarizes_by_voice = options.diarize && !options.diarize_by_channel;
        if !filters_speech(options) && !diarizes_by_voice {
            return Ok(None);
        }
        Ok(Some(self.vad()?.speech_probabilities(&audio.samples)?))
    }

    /// The voice activity detector, loaded on first use.
    pub(crate) fn vad(&mut self) -> Result<&mut SileroVad> {
        let vad = match self.vad.take() {
            Some(vad) => vad,
            None => SileroVad::load_installed(&self.load_options)?,
        };
        Ok(self.vad.insert(vad))
    }

    /// The long-form loop over 16 kHz samples; `speech_map` places the samples in the
    /// original audio when they are its speech only.
    fn decode_samples(
        &mut self,
        samples: &[f32],
        speech_map: Option<&SpeechMap>,
        options: &TranscribeOptions,
        on_progress: &mut OnProgress<'_>,
    ) -> Result<Transcript> {
        let mel = self.mel.compute(samples, N_SAMPLES);
        let content_frames = mel.n_frames.saturating_sub(N_FRAMES);
        let content_seconds = content_frames as f64 * FRAME_SECONDS;
        let special = self.tokenizer.special;

        // The language, and its token in the start sequence (English-only models have none);
        // `None` until detected on the first window.
        let mut language: Option<(String, Option<u32>)> =
            match (options.fixed_language(), self.tokenizer.is_multilingual()) {
                (Some(code), true) => {
                    Some((code.to_string(), Some(self.tokenizer.language_token(code)?)))
                }
                (Some(code), false) if code != "en" => {
                    return Err(Error::InvalidOption(format!(
                        "model {} is English-only; language {code:?} is not available",
                        self.name
                    )));
                }
                (_, false) => Some(("en".to_string(), None)),
                (None, true) => None,
            };
        let mut language_probability = 1.0f32;

        let rules = self.logit_rules(options);
        let policy = FallbackPolicy {
            temperatures: options.temperature.clone(),
            compression_ratio_threshold: options.compression_ratio_threshold,
            log_prob_threshold: options.log_prob_threshold,
            no_speech_threshold: options.no_speech_threshold,
        };
        let max_context = self.model.config.max_target_positions / 2 - 1;
        let text_prompt = |text: &Option<String>| -> Result<Vec<u32>> {
            match text {
                Some(text) if !text.trim().is_empty() => {
                    let mut tokens = self.tokenizer.encode(&format!(" {}", text.trim()))?;
                    tokens.truncate(max_context);
                    Ok(tokens)
                }
                _ => Ok(Vec::new()),
            }
        };
        let mut all_tokens = text_prompt(&options.initial_prompt)?;
        let hotwords = match options.prefix {
            None => text_prompt(&options.hotwords)?,
            Some(_) => Vec::new(),
        };
        let mut prefix = text_prompt(&options.prefix)?;
        if !prefix.is_empty() && !options.without_timestamps {
            prefix.insert(0, special.timestamp_begin);
        }

        let mut prompt_reset_since = 0;
        let mut segments: Vec<Segment> = Vec::new();
        let mut last_speech_timestamp = 0.0;
        let clips = seek_clips(&options.clip_timestamps, content_frames);
        let mut clip_index = 0;
        let mut seek = clips.first().map_or(0, |clip| clip.0);
        let mut reported = 0;

        while let Some(&(clip_start, clip_end)) = clips.get(clip_index) {
            let progress = Progress {
                processed_seconds: seek.min(content_frames) as f64 * FRAME_SECONDS,
                total_seconds: content_seconds,
                new_segments: &segments[reported..],
            };
            if on_progress(progress).is_break() {
                return Err(Error::Cancelled);
            }
            reported = segments.len();
            let clip_end = clip_end.min(content_frames);
            seek = seek.max(clip_start);
            if seek >= clip_end {
                clip_index += 1;
                if let Some(next) = clips.get(clip_index) {
                    seek = next.0;
                }
                continue;
            }
            let previous_seek = seek;
            let segment_frames = N_FRAMES.min(content_frames - seek).min(clip_end - seek);
            let time_offset = seek as f64 * FRAME_SECONDS;
            let features = self.model.encode(mel.window(seek, segment_frames))?;

            let language_token = match &language {
                Some((_, token)) => *token,
                None => {
                    let mut decoder = self.model.decoder(&features);
                    let detection =
                        detect_language(&mut decoder, special.sot, self.tokenizer.languages())?;
                    language_probability = detection.probability;
                    let token = Some(self.tokenizer.language_token(&detection.language)?);
                    language = Some((detection.language, token));
                    token
                }
            };

            // [<|startofprev|> hotwords previous-text] <|startoftranscript|> language task
            let previous = &all_tokens[prompt_reset_since..];
            let mut prompt = Vec::new();
            if !previous.is_empty() || !hotwords.is_empty() {
                prompt.push(special.sot_prev);
                prompt.extend_from_slice(&hotwords);
                prompt.extend_from_slice(&previous[previous.len().saturating_sub(max_context)..]);
            }
            let sot_index = prompt.len();
            let start_sequence = self.tokenizer.start_sequence(language_token, options.task);
            prompt.extend_from_slice(&start_sequence);
            if options.without_timestamps {
                prompt.push(special.no_timestamps);
            }
            let max_positions = self.model.config.max_target_positions;
            let params = WindowParams {
                temperature: 0.0,
                beam_size: options.beam_size,
                patience: options.patience,
                best_of: options.best_of,
                length_penalty: options.length_penalty,
                max_new_tokens: (max_positions / 2)
                    .min(max_positions.saturating_sub(prompt.len()))
                    .min(options.max_new_tokens.unwrap_or(usize::MAX)),
                prefix: if seek == 0 {
                    prefix.clone()
                } else {
                    Vec::new()
                },
                sot_index,
                no_speech: special.no_speech,
                eot: special.eot,
                seed: seek as u64,
            };
            let tokenizer = &self.tokenizer;
            let mut decoder = self.model.decoder(&features);
            let attempt =
                decode_with_fallback(&mut decoder, &prompt, &rules, &params, &policy, &|tokens| {
                    tokenizer.decode(tokens)
                })?;
            let result = &attempt.decoding;

            let is_silence = options
                .no_speech_threshold
                .is_some_and(|threshold| result.no_speech_prob > threshold)
                && !options
                    .log_prob_threshold
                    .is_some_and(|threshold| result.avg_logprob > threshold as f64);
            if is_silence {
                seek += segment_frames;
                continue;
            }

            let (mut window_segments, advance, single_timestamp_ending) =
                self.split_segments(&attempt, seek, time_offset, segment_frames)?;
            seek += advance;
            if options.word_timestamps {
                let language = language.as_ref().map_or("en", |(code, _)| code.as_str());
                self.time_words(
                    &features,
                    &start_sequence,
                    &mut window_segments,
                    segment_frames,
                    language,
                    options,
                    last_speech_timestamp,
                )?;
                // Resume at the last word only when the model placed timestamps: without them
                // it has read the whole window, and decoding its tail again invents text (the
                // reference engines do that and append "Thank you very much." to jfk).
                if !single_timestamp_ending
                    && !options.without_timestamps
                    && let Some(end) = last_word_end(&window_segments)
                    && end > time_offset
                {
                    seek = (end / FRAME_SECONDS).round() as usize;
                }
                if let Some(threshold) = options.hallucination_silence_threshold {
                    let window = WindowSpan {
                        time_offset,
                        duration: segment_frames as f64 * FRAME_SECONDS,
                        content_seconds,
                    };
                    match skip_hallucinated_silence(
                        &mut window_segments,
                        threshold as f64,
                        window,
                        last_speech_timestamp,
                    ) {
                        Some(SkipTo::Gap(gap)) => {
                            seek = previous_seek + (gap / FRAME_SECONDS).round() as usize;
                            continue;
                        }
                        Some(SkipTo::Time(time)) => {
                            seek = ((time / FRAME_SECONDS).round() as usize).min(content_frames)
                        }
                        None => {}
                    }
                }
                if let Some(end) = last_word_end(&window_segments) {
                    last_speech_timestamp = end;
                }
            }

            window_segments
                .retain(|segment| segment.start != segment.end && !segment.text.trim().is_empty());
            if let Some(map) = speech_map {
                restore_times(&mut window_segments, map);
            }
            for segment in window_segments {
                all_tokens.extend_from_slice(&segment.tokens);
                segments.push(Segment {
                    id: segments.len(),
                    ..segment
                });
            }
            if !options.condition_on_previous_text
                || result.temperature > options.prompt_reset_on_temperature
            {
                prompt_reset_since = all_tokens.len();
            }
        }
        let progress = Progress {
            processed_seconds: content_seconds,
            total_seconds: content_seconds,
            new_segments: &segments[reported..],
        };
        if on_progress(progress).is_break() {
            return Err(Error::Cancelled);
        }

        // Too short for a single window: nothing was heard, so nothing was detected.
        let language = match language {
            Some((code, _)) => code,
            None => {
                language_probability = 0.0;
                String::new()
            }
        };
        let text = segments.iter().map(|s| s.text.as_str()).collect::<String>();
        Ok(Transcript {
            text: text.trim().to_string(),
            language,
            language_probability,
            duration: content_seconds,
            duration_after_vad: content_seconds,
            model: self.name.clone(),
            segments,
            warnings: Vec::new(),
            speakers: Vec::new(),
        })
    }

    /// Times the words of one window's segments from the cross-attention of a decoder pass
    /// over their text, and moves segment bounds to the first and last word.
    #[allow(clippy::too_many_arguments)]
    fn time_words(
        &mut self,
        features: &AudioFeatures,
        start_sequence: &[u32],
        segments: &mut [Segment],
        num_frames: usize,
        language: &str,
        options: &TranscribeOptions,
        last_speech_timestamp: f64,
    ) -> Result<()> {
        let special = self.tokenizer.special;
        let text_per_segment: Vec<Vec<u32>> = segments
            .iter()
            .map(|s| {
                s.tokens
                    .iter()
                    .copied()
                    .filter(|&t| t < special.eot)
                    .collect()
            })
            .collect();
        let text_tokens: Vec<u32> = text_per_segment.concat();
        if text_tokens.is_empty() {
            return Ok(());
        }
        let tokens = [
            start_sequence,
            &[special.no_timestamps],
            &text_tokens,
            &[special.eot],
        ]
        .concat();
        let (logits, attention) = self.model.cross_attention(features, &tokens)?;
        let sot_len = start_sequence.len();
        // Probability of each text token, over text tokens only, as the reference computes it.
        let text_token_probs: Vec<f32> = text_tokens
            .iter()
            .enumerate()
            .map(|(i, &token)| {
                let row = logits.row(sot_len + i).to_vec();
                log_softmax(&row[..special.eot as usize])[token as usize].exp()
            })
            .collect();
        let tokenizer = &self.tokenizer;
        let timings = alignment::find_alignment(
            attention.view(),
            sot_len,
            &text_tokens,
            &text_token_probs,
            num_frames,
            &alignment::WordSplitter {
                eot: special.eot,
                unicode_only: alignment::uses_unicode_split(language),
                decode: &|tokens| tokenizer.decode(tokens),
            },
        )?;
        let mut spans: Vec<alignment::SegmentSpan> = segments
            .iter()
            .zip(&text_per_segment)
            .map(|(segment, text)| alignment::SegmentSpan {
                start: segment.start,
                end: segment.end,
                text_tokens: text.len(),
            })
            .collect();
        let time_offset = segments
            .first()
            .map_or(0.0, |s| s.seek as f64 * FRAME_SECONDS);
        let mut last_speech = last_speech_timestamp;
        let words = alignment::assign_words(
            timings,
            &mut spans,
            time_offset,
            &mut last_speech,
            &options.prepend_punctuations,
            &options.append_punctuations,
        );
        for ((segment, span), words) in segments.iter_mut().zip(spans).zip(words) {
            segment.start = span.start;
            segment.end = span.end;
            segment.words = words;
        }
        Ok(())
    }

    fn logit_rules(&self, options: &TranscribeOptions) -> LogitRules {
        let special = self.tokenizer.special;
        let mut suppress: Vec<u32> = Vec::new();
        for &token in &options.suppress_tokens {
            if token == -1 {
                suppress.extend(&self.model.config.suppress_tokens);
            } else if token >= 0 {
                suppress.push(token as u32);
            }
        }
        suppress.extend([
            special.transcribe,
            special.translate,
            special.sot,
            special.sot_prev,
            special.sot_lm,
            special.no_speech,
        ]);
        suppress.sort_unstable();
        suppress.dedup();

        let suppress_at_begin = if options.suppress_blank {
            let mut blank = self.tokenizer.encode(" ").unwrap_or_default();
            blank.push(special.eot);
            blank
        } else {
            Vec::new()
        };
        let timestamps = (!options.without_timestamps).then(|| TimestampRules {
            special,
            max_initial_timestamp_index: Some(
                (options.max_initial_timestamp as f64 / TIMESTAMP_SECONDS).round() as u32,
            ),
        });
        LogitRules {
            suppress,
            suppress_at_begin,
            timestamps,
        }
    }

    /// Cuts a window's tokens into segments at consecutive timestamp pairs; returns them with
    /// how many mel frames the window advances, and whether the tokens end on a lone timestamp.
    fn split_segments(
        &self,
        attempt: &Attempt,
        seek: usize,
        time_offset: f64,
        segment_frames: usize,
    ) -> Result<(Vec<Segment>, usize, bool)> {
        let tokenizer = &self.tokenizer;
        let result = &attempt.decoding;
        let tokens = &result.tokens;
        let is_ts: Vec<bool> = tokens.iter().map(|&t| tokenizer.is_timestamp(t)).collect();
        let single_timestamp_ending =
            is_ts.len() >= 2 && !is_ts[is_ts.len() - 2] && is_ts[is_ts.len() - 1];
        let mut slices: Vec<usize> = (1..tokens.len())
            .filter(|&i| is_ts[i - 1] && is_ts[i])
            .collect();

        let make = |tokens: &[u32], start: f64, end: f64| -> Result<Segment> {
            Ok(Segment {
                id: 0,
                seek,
                start,
                end,
                text: tokenizer.decode(tokens)?,
                tokens: tokens.to_vec(),
                temperature: result.temperature,
                avg_logprob: result.avg_logprob,
                compression_ratio: attempt.compression_ratio,
                no_speech_prob: result.no_speech_prob,
                words: Vec::new(),
                speaker: None,
            })
        };

        if slices.is_empty() {
            // No complete timestamp pair: one segment for the whole window, ending at the last
            // timestamp if there is one.
            let duration = match tokens.iter().rev().find(|&&t| tokenizer.is_timestamp(t)) {
                Some(&last) if last != tokenizer.special.timestamp_begin => {
                    tokenizer.timestamp_seconds(last)
                }
                _ => segment_frames as f64 * FRAME_SECONDS,
            };
            let segment = make(tokens, time_offset, time_offset + duration)?;
            return Ok((vec![segment], segment_frames, single_timestamp_ending));
        }

        if single_timestamp_ending {
            slices.push(tokens.len());
        }
        let mut segments = Vec::with_capacity(slices.len());
        let mut last_slice = 0;
        for &slice in &slices {
            let part = &tokens[last_slice..slice];
            let start = time_offset + tokenizer.timestamp_seconds(part[0]);
            let end = time_offset + tokenizer.timestamp_seconds(part[part.len() - 1]);
            segments.push(make(part, start, end)?);
            last_slice = slice;
        }
        let advance = if single_timestamp_ending {
            segment_frames
        } else {
            // Resume at the last complete timestamp: the rest of the window is decoded again.
            let last_timestamp = tokens[last_slice - 1];
            let steps = (last_timestamp - tokenizer.special.timestamp_begin) as usize;
            match steps * FRAMES_PER_TIMESTAMP {
                0 => segment_frames, // never stand still on a degenerate window
                frames => frames,
            }
        };
        Ok((segments, advance, single_timestamp_ending))
    }
}

/// Moves times from the speech-only audio back to the original timeline, as faster-whisper's
/// `restore_speech_timestamps`: words by the speech span their middle falls in, segments by
/// their words (or by their own bounds when they have none).
fn restore_times(segments: &mut [Segment], map: &SpeechMap) {
    for segment in segments {
        if segment.words.is_empty() {
            segment.start = map.original_time(segment.start, false);
            segment.end = map.original_time(segment.end, true);
            continue;
        }
        for word in &mut segment.words {
            let span = map.span_index((word.start + word.end) / 2.0, false);
            word.start = map.original_time_in_span(word.start, span);
            word.end = map.original_time_in_span(word.end, span);
        }
        segment.start = segment.words[0].start;
        segment.end = segment.words[segment.words.len() - 1].end;
    }
}

/// `[start, end)` mel frame ranges to transcribe, from `clip_timestamps` in seconds (a missing
/// last end is the end of the audio); the whole audio when there are none.
fn seek_clips(clip_timestamps: &[f64], content_frames: usize) -> Vec<(usize, usize)> {
    let mut points: Vec<usize> = clip_timestamps
        .iter()
        .map(|&t| (t / FRAME_SECONDS).round() as usize)
        .collect();
    if points.is_empty() {
        points.push(0);
    }
    if points.len() % 2 == 1 {
        points.push(content_frames);
    }
    points.chunks(2).map(|pair| (pair[0], pair[1])).collect()
}

fn last_word_end(segments: &[Segment]) -> Option<f64> {
    segments
        .iter()
        .rev()
        .find_map(|segment| segment.words.last())
        .map(|word| word.end)
}

/// Where a window lies, for the hallucination checks.
#[derive(Debug, Clone, Copy)]
struct WindowSpan {
    time_offset: f64,
    duration: f64,
    content_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum SkipTo {
    /// Decode the window again, this many seconds later (leading silence skipped).
    Gap(f64),
    /// Go on from this time; the segments from the hallucination on were dropped.
    Time(f64),
}

/// Word-level signs of a hallucination: improbable words, or words too short or too long
/// (openai-whisper's heuristic, also in faster-whisper).
fn word_anomaly_score(word: &Word) -> f64 {
    let duration = word.end - word.start;
    let mut score = 0.0;
    if word.probability < 0.15 {
        score += 1.0;
    }
    if duration < 0.133 {
        score += (0.133 - duration) * 15.0;
    }
    if duration > 2.0 {
        score += duration - 2.0;
    }
    score
}

fn is_segment_anomaly(segment: Option<&Segment>) -> bool {
    let Some(segment) = segment.filter(|s| !s.words.is_empty()) else {
        return false;
    };
    let punctuation = [
        alignment::DEFAULT_PREPEND_PUNCTUATIONS,
        alignment::DEFAULT_APPEND_PUNCTUATIONS,
    ]
    .concat();
    let words: Vec<&Word> = segment
        .words
        .iter()
        .filter(|w| !punctuation.contains(w.word.as_str()))
        .take(8)
        .collect();
    // Only punctuation counts as an anomaly too (0.01 >= 0), as in the reference.
    let score: f64 = words.iter().map(|w| word_anomaly_score(w)).sum();
    score >= 3.0 || score + 0.01 >= words.len() as f64
}

/// Skips silence before text that looks hallucinated, as openai-whisper's and
/// faster-whisper's `hallucination_silence_threshold` do.
fn skip_hallucinated_silence(
    segments: &mut Vec<Segment>,
    threshold: f64,
    window: WindowSpan,
    last_speech_timestamp: f64,
) -> Option<SkipTo> {
    let next_with_words = |from: &[Segment]| from.iter().position(|s| !s.words.is_empty());
    // A first segment that may be a hallucination: skip the leading silence.
    if let Some(first) = next_with_words(segments).map(|i| &segments[i])
        && is_segment_anomaly(Some(first))
    {
        let gap = first.start - window.time_offset;
        if gap > threshold {
            return Some(SkipTo::Gap(gap));
        }
    }
    // Any hallucination surrounded by silence or by more hallucinations: skip to it.
    let mut last_end = last_speech_timestamp;
    for index in 0..segments.len() {
        let segment = &segments[index];
        if segment.words.is_empty() {
            continue;
        }
        if is_segment_anomaly(Some(segment)) {
            let next = next_with_words(&segments[index + 1..]).map(|i| &segments[index + 1 + i]);
            let next_start =
                next.map_or(window.time_offset + window.duration, |s| s.words[0].start);
            let silence_before = segment.start - last_end > threshold
                || segment.start < threshold
                || segment.start - window.time_offset < 2.0;
            let window_end = window.time_offset + N_FRAMES as f64 * FRAME_SECONDS;
            let silence_after = next_start - segment.end > threshold
                || is_segment_anomaly(next)
                || window_end - segment.end < 2.0;
            if silence_before && silence_after {
                let mut resume = (window.time_offset + 1.0).max(segment.start);
                if window.content_seconds - segment.end < threshold {
                    resume = window.content_seconds;
                }
                segments.truncate(index);
                return Some(SkipTo::Time(resume));
            }
        }
        last_end = segment.end;
    }
    None
}
