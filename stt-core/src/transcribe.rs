//! The long-form loop: slide a 30 s window over the log-mel spectrogram, decode it, cut the
//! tokens into segments at timestamp pairs, and move the window to the last timestamp, as
//! openai-whisper's `transcribe()` does.

use std::path::Path;

use crate::audio::{self, Audio};
use crate::decode::{
    Attempt, FallbackPolicy, LogitRules, TimestampRules, WindowParams, decode_with_fallback,
    detect_language,
};
use crate::mel::{FRAME_SECONDS, MelExtractor, N_FRAMES, N_SAMPLES};
use crate::model::{LoadOptions, ModelFiles, WhisperModel};
use crate::options::TranscribeOptions;
use crate::tokenizer::{TIMESTAMP_SECONDS, WhisperTokenizer};
use crate::transcript::{Segment, Transcript};
use crate::{Error, Result, store};

/// Mel frames per timestamp step (0.02 s is two 10 ms frames).
const FRAMES_PER_TIMESTAMP: usize = 2;

/// How far a transcription has got, for progress bars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub processed_seconds: f64,
    pub total_seconds: f64,
}

/// A loaded model ready to transcribe; one per worker thread.
pub struct Transcriber {
    name: String,
    model: WhisperModel,
    tokenizer: WhisperTokenizer,
    mel: MelExtractor,
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
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn transcribe_file(
        &mut self,
        path: &Path,
        options: &TranscribeOptions,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<Transcript> {
        let audio = audio::load_file(path)?;
        self.transcribe(&audio, options, on_progress)
    }

    pub fn transcribe(
        &mut self,
        audio: &Audio,
        options: &TranscribeOptions,
        on_progress: &mut dyn FnMut(Progress),
    ) -> Result<Transcript> {
        options.validate()?;
        let mel = self.mel.compute(&audio.samples, N_SAMPLES);
        let content_frames = mel.n_frames.saturating_sub(N_FRAMES);
        let total_seconds = audio.duration();
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
            best_of: options.best_of,
            compression_ratio_threshold: options.compression_ratio_threshold,
            log_prob_threshold: options.log_prob_threshold,
            no_speech_threshold: options.no_speech_threshold,
        };
        let mut all_tokens: Vec<u32> = match &options.initial_prompt {
            Some(prompt) if !prompt.trim().is_empty() => {
                self.tokenizer.encode(&format!(" {}", prompt.trim()))?
            }
            _ => Vec::new(),
        };
        let mut prompt_reset_since = 0;
        let mut segments: Vec<Segment> = Vec::new();
        let mut seek = 0usize;

        while seek < content_frames {
            let segment_frames = N_FRAMES.min(content_frames - seek);
            let time_offset = seek as f64 * FRAME_SECONDS;
            let features = self.model.encode(mel.window(seek))?;

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

            let mut prompt = Vec::new();
            let previous = &all_tokens[prompt_reset_since..];
            let max_context = self.model.config.max_target_positions / 2 - 1;
            if !previous.is_empty() {
                prompt.push(special.sot_prev);
                prompt.extend_from_slice(&previous[previous.len().saturating_sub(max_context)..]);
            }
            let sot_index = prompt.len();
            prompt.extend(self.tokenizer.start_sequence(language_token, options.task));
            if options.without_timestamps {
                prompt.push(special.no_timestamps);
            }
            let params = WindowParams {
                temperature: 0.0,
                max_new_tokens: (self.model.config.max_target_positions / 2).min(
                    self.model
                        .config
                        .max_target_positions
                        .saturating_sub(prompt.len()),
                ),
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
            } else {
                let (window_segments, advance) =
                    self.split_segments(&attempt, seek, time_offset, segment_frames)?;
                for segment in window_segments {
                    all_tokens.extend_from_slice(&segment.tokens);
                    if segment.start < segment.end && !segment.text.trim().is_empty() {
                        segments.push(Segment {
                            id: segments.len(),
                            ..segment
                        });
                    }
                }
                seek += advance;
            }
            if !options.condition_on_previous_text || result.temperature > 0.5 {
                prompt_reset_since = all_tokens.len();
            }
            on_progress(Progress {
                processed_seconds: (seek.min(content_frames) as f64 * FRAME_SECONDS)
                    .min(total_seconds),
                total_seconds,
            });
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
            duration: total_seconds,
            model: self.name.clone(),
            segments,
            warnings: audio.warnings.clone(),
        })
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
    /// how many mel frames the window advances.
    fn split_segments(
        &self,
        attempt: &Attempt,
        seek: usize,
        time_offset: f64,
        segment_frames: usize,
    ) -> Result<(Vec<Segment>, usize)> {
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
            return Ok((vec![segment], segment_frames));
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
        Ok((segments, advance))
    }
}
