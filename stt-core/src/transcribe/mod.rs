//! The long-form loop: slide a 30 s window over the log-mel spectrogram, decode it, cut the
//! tokens into segments at timestamp pairs, and move the window to the last timestamp, as
//! openai-whisper's `transcribe()` does. What one window needs is [`WindowTask`]'s; the pure
//! steps are in `segments` and `hallucination`, word timings in `words`, speakers in `speakers`.

mod hallucination;
mod segments;
#[cfg(feature = "diarization")]
mod speakers;
mod words;

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

use hallucination::{SkipTo, WindowSpan, skip_hallucinated_silence};
use segments::{WindowTokens, last_word_end, restore_times, seek_clips, split_segments};
use words::DecodedWindow;

use crate::audio::{self, AudioInput, DecodeOptions, SampleSource};
use crate::decode::{
    LanguageDetection, ModelLimits, PromptTokens, WindowTask, detect_language, prompt_head,
    prompt_tail,
};
use crate::mel::{FRAME_SECONDS, MelExtractor, N_FRAMES, N_SAMPLES};
use crate::model::{CancelToken, LoadOptions, ModelFiles, WhisperModel};
use crate::options::TranscribeOptions;
use crate::tokenizer::WhisperTokenizer;
use crate::transcript::{Segment, Transcript};
use crate::vad::{SileroVad, SpeechAudio, SpeechMap};
use crate::{Error, Result, store};

/// Whether only the speech of the audio is decoded. Clips say exactly what to decode, so voice
/// activity detection would only second-guess them.
fn filters_speech(options: &TranscribeOptions) -> bool {
    options.vad_filter && options.clip_timestamps.is_empty()
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

/// How many windows the long-form loop decodes.
#[derive(Clone, Copy, PartialEq)]
enum Windows {
    All,
    /// The first only: a live stream's buffer (under 30 s), decoded again at the next step
    /// with more audio. Going on from the last timestamp would decode the tail after the last
    /// complete segment alone, a second encode and decode for a fraction of a word.
    First,
}

/// The language decoded in, and its token in the start sequence (English-only models have
/// none).
struct Language {
    code: String,
    token: Option<u32>,
}

/// A loaded model ready to transcribe; one per worker thread.
pub struct Transcriber {
    name: String,
    model: WhisperModel,
    tokenizer: WhisperTokenizer,
    /// Shared with the windows of a transcription, which borrow it while the model runs.
    mel: Arc<MelExtractor>,
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
        let mel = Arc::new(MelExtractor::new(model.config.n_mels));
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

    /// Decodes a file (spooled to disk when long, see [`audio::spool_file`]) and transcribes it.
    pub fn transcribe_file(
        &mut self,
        path: &Path,
        options: &TranscribeOptions,
    ) -> Result<Transcript> {
        let decoding = DecodeOptions {
            keep_channels: options.needs_channels(),
            ..DecodeOptions::spooled()
        };
        let audio = audio::spool_file(path, &decoding)?;
        self.transcribe(&audio, options)
    }

    pub fn transcribe(
        &mut self,
        audio: &dyn AudioInput,
        options: &TranscribeOptions,
    ) -> Result<Transcript> {
        let cancel = CancelToken::new();
        self.transcribe_with_progress(audio, options, &cancel, &mut |_| ControlFlow::Continue(()))
    }

    /// [`Self::transcribe`], reporting progress and finished segments as it goes; `cancel`
    /// (from another thread) or the callback can stop it.
    pub fn transcribe_with_progress(
        &mut self,
        audio: &dyn AudioInput,
        options: &TranscribeOptions,
        cancel: &CancelToken,
        on_progress: &mut OnProgress<'_>,
    ) -> Result<Transcript> {
        let options = &options.clone().normalized()?;
        self.model.watch(cancel);
        #[cfg(feature = "diarization")]
        if options.diarize {
            return self.transcribe_diarized(audio, options, on_progress);
        }
        let probabilities = match filters_speech(options) {
            true => Some(self.vad()?.speech_probabilities(audio.samples())?),
            false => None,
        };
        self.transcribe_speech(audio, probabilities.as_deref(), options, on_progress)
    }

    /// One decode of a live stream's buffer (see [`Windows::First`]); no voice filter.
    pub(crate) fn transcribe_buffer(
        &mut self,
        samples: &dyn SampleSource,
        options: &TranscribeOptions,
        cancel: &CancelToken,
    ) -> Result<Transcript> {
        let options = &options.clone().normalized()?;
        self.model.watch(cancel);
        let mut on_progress = |_: Progress<'_>| ControlFlow::Continue(());
        self.decode_samples(samples, None, options, &mut on_progress, Windows::First)
    }

    /// Transcribes `audio`, only where `probabilities` find speech when the options filter.
    fn transcribe_speech(
        &mut self,
        audio: &dyn AudioInput,
        probabilities: Option<&[f32]>,
        options: &TranscribeOptions,
        on_progress: &mut OnProgress<'_>,
    ) -> Result<Transcript> {
        let speech = probabilities
            .filter(|_| filters_speech(options))
            .map(|p| SpeechAudio::from_probabilities(audio.samples(), p, &options.vad_parameters));
        let samples = speech
            .as_ref()
            .map_or(audio.samples(), |s| s as &dyn SampleSource);
        let speech_map = speech.as_ref().map(|s| &s.map);
        let mut transcript =
            self.decode_samples(samples, speech_map, options, on_progress, Windows::All)?;
        transcript.duration = audio.duration();
        transcript.duration_after_vad = speech.map_or(audio.duration(), |s| s.duration());
        transcript.warnings = audio.warnings().to_vec();
        Ok(transcript)
    }

    /// The spoken language of the first 30 s (of speech, when `options.vad_filter` is on),
    /// with the probability of every language. English-only models cannot tell.
    pub fn detect_language(
        &mut self,
        audio: &dyn AudioInput,
        options: &TranscribeOptions,
        cancel: &CancelToken,
    ) -> Result<LanguageDetection> {
        options.validate()?;
        self.model.watch(cancel);
        let speech = if filters_speech(options) {
            Some(
                self.vad()?
                    .filter(audio.samples(), &options.vad_parameters)?,
            )
        } else {
            None
        };
        let samples = speech
            .as_ref()
            .map_or(audio.samples(), |s| s as &dyn SampleSource);
        if samples.is_empty() {
            return Err(Error::EmptyAudio(
                "no speech to detect the language from".into(),
            ));
        }
        let first_window = samples.read_range(0..N_SAMPLES)?;
        let mel = self.mel.compute(&first_window, N_SAMPLES);
        let frames = mel.n_frames.saturating_sub(N_FRAMES).clamp(1, N_FRAMES);
        let features = self.model.encode(mel.window(0, frames))?;
        let mut decoder = self.model.decoder(&features);
        detect_language(
            &mut decoder,
            self.tokenizer.special.sot,
            self.tokenizer.languages(),
        )
    }

    /// The voice activity detector, loaded on first use.
    pub(crate) fn vad(&mut self) -> Result<&mut SileroVad> {
        let vad = match self.vad.take() {
            Some(vad) => vad,
            None => SileroVad::load_installed(&self.load_options)?,
        };
        Ok(self.vad.insert(vad))
    }

    /// The language the options fix, `None` when it is to be detected on the first window.
    fn fixed_language(&self, options: &TranscribeOptions) -> Result<Option<Language>> {
        let language = |code: &str, token| Language {
            code: code.to_string(),
            token,
        };
        match (options.fixed_language(), self.tokenizer.is_multilingual()) {
            (Some(code), true) => Ok(Some(language(
                code,
                Some(self.tokenizer.language_token(code)?),
            ))),
            (Some(code), false) if code != "en" => Err(Error::InvalidOption(format!(
                "model {} is English-only; language {code:?} is not available",
                self.name
            ))),
            (_, false) => Ok(Some(language("en", None))),
            (None, true) => Ok(None),
        }
    }

    /// The window task of `options`: their texts as tokens, the model's limits.
    fn window_task(&self, options: &TranscribeOptions) -> Result<WindowTask> {
        let text = |text: &Option<String>, cut: fn(&str) -> &str| -> Result<Vec<u32>> {
            match text {
                Some(text) if !text.trim().is_empty() => {
                    self.tokenizer.encode(&format!(" {}", cut(text).trim()))
                }
                _ => Ok(Vec::new()),
            }
        };
        let prompts = PromptTokens {
            initial_prompt: text(&options.initial_prompt, prompt_tail)?,
            hotwords: text(&options.hotwords, prompt_head)?,
            prefix: text(&options.prefix, prompt_head)?,
            blank: self.tokenizer.encode(" ").unwrap_or_default(),
        };
        let limits = ModelLimits {
            suppress_tokens: &self.model.config.suppress_tokens,
            max_target_positions: self.model.config.max_target_positions,
        };
        Ok(WindowTask::new(
            self.tokenizer.special,
            prompts,
            limits,
            options,
        ))
    }

    /// Frames the encoder reads for a window of `frames` frames of audio: [`N_FRAMES`], or
    /// with `window_padding` on graphs that allow it, the audio and its padding.
    fn window_width(&self, frames: usize, options: &TranscribeOptions) -> usize {
        match options.window_padding {
            Some(padding) if self.model.encodes_short_windows() => {
                let padded = frames + (f64::from(padding) / FRAME_SECONDS).round() as usize;
                (padded.div_ceil(2) * 2).clamp(2, N_FRAMES)
            }
            _ => N_FRAMES,
        }
    }

    /// The long-form loop over 16 kHz samples; `speech_map` places the samples in the
    /// original audio when they are its speech only.
    fn decode_samples(
        &mut self,
        samples: &dyn SampleSource,
        speech_map: Option<&SpeechMap>,
        options: &TranscribeOptions,
        on_progress: &mut OnProgress<'_>,
        windows: Windows,
    ) -> Result<Transcript> {
        // Windows are computed as the loop reaches them: memory does not grow with length.
        let extractor = Arc::clone(&self.mel);
        let mel = extractor.windows(samples, N_SAMPLES)?;
        let content_frames = mel.n_frames.saturating_sub(N_FRAMES);
        let content_seconds = content_frames as f64 * FRAME_SECONDS;
        let task = self.window_task(options)?;
        let mut language = self.fixed_language(options)?;
        let mut language_probability = 1.0f32;

        let mut all_tokens = task.initial_prompt().to_vec();
        let mut prompt_reset_since = 0;
        let mut segments: Vec<Segment> = Vec::new();
        let mut last_speech_timestamp = 0.0;
        let clips = seek_clips(&options.clip_timestamps, content_frames);
        let mut clip_index = 0;
        let mut seek = clips.first().map_or(0, |clip| clip.0);
        let mut reported = 0;
        let mut encoded = 0;

        while let Some(&(clip_start, clip_end)) = clips.get(clip_index) {
            if windows == Windows::First && encoded == 1 {
                break;
            }
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
            let width = self.window_width(segment_frames, options);
            let features =
                self.model
                    .encode(mel.window_of_width(seek, segment_frames, width)?)?;
            encoded += 1;

            let language = match &mut language {
                Some(language) => language,
                None => {
                    let mut decoder = self.model.decoder(&features);
                    let detection = detect_language(
                        &mut decoder,
                        self.tokenizer.special.sot,
                        self.tokenizer.languages(),
                    )?;
                    language_probability = detection.probability;
                    let token = Some(self.tokenizer.language_token(&detection.language)?);
                    language.insert(Language {
                        code: detection.language,
                        token,
                    })
                }
            };

            let start_sequence = self.tokenizer.start_sequence(language.token, options.task);
            let tokenizer = &self.tokenizer;
            let text_of = |tokens: &[u32]| tokenizer.decode(tokens);
            let mut decoder = self.model.decoder(&features);
            let attempt = task.decode(
                &mut decoder,
                &all_tokens[prompt_reset_since..],
                &start_sequence,
                seek,
                &text_of,
            )?;
            if task.is_silence(&attempt.decoding) {
                seek += segment_frames;
                continue;
            }

            let window = WindowTokens {
                seek,
                frames: segment_frames,
                timestamp_begin: tokenizer.special.timestamp_begin,
                text_of: &text_of,
            };
            let cut = split_segments(&attempt, &window)?;
            let mut window_segments = cut.segments;
            seek += cut.advance;
            if options.word_timestamps {
                let decoded = DecodedWindow {
                    features: &features,
                    start_sequence: &start_sequence,
                    frames: segment_frames,
                    language: &language.code,
                };
                self.time_words(
                    &decoded,
                    &mut window_segments,
                    options,
                    last_speech_timestamp,
                )?;
                // Resume at the last word only when the model placed timestamps: without them
                // it has read the whole window, and decoding its tail again invents text (the
                // reference engines do that and append "Thank you very much." to jfk).
                if !cut.single_timestamp_ending
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
                || attempt.decoding.temperature > options.prompt_reset_on_temperature
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
            Some(language) => language.code,
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
}
