//! Speech probabilities to spans (faster-whisper's `get_speech_timestamps`), and times in the
//! spans' joined audio mapped back to the recording: pure functions of their inputs.

use super::{FRAME_SAMPLES, SpeechSpan, VadOptions};
use crate::audio::SAMPLE_RATE;
use crate::transcript::round_to_hundredths;

/// Seconds of silence inside an over-long span that make a place to split it (98 ms).
const SPLIT_SILENCE_MS: f64 = 98.0;

/// Spans of speech from the frame probabilities of [`SileroVad::speech_probabilities`] for
/// audio of `n_samples`, exactly as faster-whisper's `get_speech_timestamps`. Options are
/// taken as they are; see [`VadOptions::validate`].
pub fn speech_timestamps(
    probabilities: &[f32],
    n_samples: usize,
    options: &VadOptions,
) -> Vec<SpeechSpan> {
    let rate = f64::from(SAMPLE_RATE);
    let samples_in = |ms: u32| rate * f64::from(ms) / 1000.0;
    // NumPy compares a float32 probability with a Python float in float32.
    let threshold = options.threshold as f32;
    let neg_threshold = options
        .neg_threshold
        .unwrap_or((options.threshold - 0.15).max(0.01)) as f32;
    let min_speech = samples_in(options.min_speech_duration_ms);
    let min_silence = samples_in(options.min_silence_duration_ms);
    let min_split_silence = rate * SPLIT_SILENCE_MS / 1000.0;
    // A whole number of samples: 16 per millisecond.
    let pad = SAMPLE_RATE as usize * options.speech_pad_ms as usize / 1000;
    // Room is left for one frame and the padding of both sides.
    let max_speech = options
        .max_speech_duration_s
        .map_or(f64::INFINITY, |seconds| {
            rate * seconds - FRAME_SAMPLES as f64 - 2.0 * pad as f64
        });
    let length = |from: usize, to: usize| to as f64 - from as f64;

    let mut spans = Vec::new();
    // Where the current span of speech began; `None` outside speech.
    let mut speech_start: Option<usize> = None;
    // Where the silence under way began: the span's end if the silence lasts.
    let mut silence_start: Option<usize> = None;
    // The start of the last silence longer than 98 ms in the current span, and where speech
    // resumed after it: the place to split the span if it grows too long.
    let mut split_end: Option<usize> = None;
    let mut split_resume: Option<usize> = None;

    for (frame, &probability) in probabilities.iter().enumerate() {
        let position = frame * FRAME_SAMPLES;
        if probability >= threshold && silence_start.is_some() {
            silence_start = None;
            // `None < Some(_)`: speech resumes after the silence found since the last split.
            if split_resume < split_end {
                split_resume = Some(position);
            }
        }
        let Some(start) = speech_start else {
            if probability >= threshold {
                speech_start = Some(position);
            }
            continue;
        };

        if length(start, position) > max_speech {
            match split_end {
                Some(end) => {
                    spans.push(SpeechSpan { start, end });
                    // Continue with the speech after that silence, if any has come.
                    speech_start = split_resume.filter(|&resume| resume >= end);
                }
                None => {
                    spans.push(SpeechSpan {
                        start,
                        end: position,
                    });
                    speech_start = None;
                }
            }
            (split_end, split_resume, silence_start) = (None, None, None);
        }
        let Some(start) = speech_start else {
            continue;
        };

        if probability < neg_threshold {
            let silence_from = *silence_start.get_or_insert(position);
            let silence = length(silence_from, position);
            if silence > min_split_silence {
                split_end = Some(silence_from);
            }
            if silence < min_silence {
                continue;
            }
            if length(start, silence_from) > min_speech {
                spans.push(SpeechSpan {
                    start,
                    end: silence_from,
                });
            }
            speech_start = None;
            (split_end, split_resume, silence_start) = (None, None, None);
        }
    }
    if let Some(start) = speech_start
        && length(start, n_samples) > min_speech
    {
        spans.push(SpeechSpan {
            start,
            end: n_samples,
        });
    }

    // Padding, in order: a span's start may already have moved by half the gap before it.
    for index in 0..spans.len() {
        if index == 0 {
            spans[0].start = spans[0].start.saturating_sub(pad);
        }
        let end = spans[index].end;
        match spans.get_mut(index + 1) {
            Some(next) => {
                let gap = next.start.saturating_sub(end);
                if gap < 2 * pad {
                    next.start = next.start.saturating_sub(gap / 2);
                    spans[index].end = end + gap / 2;
                } else {
                    next.start = next.start.saturating_sub(pad);
                    spans[index].end = n_samples.min(end + pad);
                }
            }
            None => spans[index].end = n_samples.min(end + pad),
        }
    }
    spans
}

/// Maps a time in the joined speech audio back to the original recording, as faster-whisper's
/// `SpeechTimestampsMap`, rounding to hundredths of a second as it does. With no spans (no
/// speech) times are returned as they are.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpeechMap {
    /// Per span: where it ends in the joined audio, in samples.
    joined_ends: Vec<i64>,
    /// Per span: seconds of audio removed before it.
    removed_before: Vec<f64>,
}

impl SpeechMap {
    pub fn new(spans: &[SpeechSpan]) -> Self {
        let mut map = Self::default();
        let (mut removed, mut previous_end) = (0i64, 0i64);
        for span in spans {
            removed += span.start as i64 - previous_end;
            previous_end = span.end as i64;
            map.joined_ends.push(span.end as i64 - removed);
            map.removed_before
                .push(removed as f64 / f64::from(SAMPLE_RATE));
        }
        map
    }

    /// The span that `time` (seconds of joined audio) falls in. A time exactly where a span
    /// ends belongs to the next span, unless `is_end` says it ends something: then to the span
    /// it closes. Times past the last span belong to it.
    pub fn span_index(&self, time: f64, is_end: bool) -> usize {
        // Python's int(): towards zero.
        let sample = (time * f64::from(SAMPLE_RATE)) as i64;
        if is_end && let Some(index) = self.joined_ends.iter().position(|&end| end == sample) {
            return index;
        }
        self.joined_ends
            .partition_point(|&end| end <= sample)
            .min(self.joined_ends.len().saturating_sub(1))
    }

    /// The original time of `time`: of a segment's start (`is_end` false) or end (true).
    pub fn original_time(&self, time: f64, is_end: bool) -> f64 {
        self.original_time_in_span(time, self.span_index(time, is_end))
    }

    /// The original time of `time` taken as inside span `index`. faster-whisper maps both ends
    /// of a word through the span of the word's middle, so that they stay together.
    pub fn original_time_in_span(&self, time: f64, index: usize) -> f64 {
        match self
            .removed_before
            .get(index)
            .or(self.removed_before.last())
        {
            Some(removed) => round_to_hundredths(removed + time),
            None => time,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRAME: usize = FRAME_SAMPLES;

    /// Options with no padding and no minimum silence, so spans show the raw decisions.
    fn raw() -> VadOptions {
        VadOptions {
            min_silence_duration_ms: 0,
            speech_pad_ms: 0,
            ..VadOptions::default()
        }
    }

    fn spans(probabilities: &[f32], options: &VadOptions) -> Vec<(usize, usize)> {
        let n_samples = probabilities.len() * FRAME;
        speech_timestamps(probabilities, n_samples, options)
            .into_iter()
            .map(|span| (span.start, span.end))
            .collect()
    }

    /// `count` frames of `probability`, for building sequences.
    fn run(probability: f32, count: usize) -> Vec<f32> {
        vec![probability; count]
    }

    #[test]
    fn no_probabilities_or_no_speech_give_no_spans() {
        assert!(speech_timestamps(&[], 0, &VadOptions::default()).is_empty());
        assert!(speech_timestamps(&[0.01], 0, &VadOptions::default()).is_empty());
        assert!(spans(&run(0.2, 100), &VadOptions::default()).is_empty());
        // Speech in the only, all-padding, frame of empty audio has no length.
        assert!(speech_timestamps(&[0.9], 0, &VadOptions::default()).is_empty());
    }

    #[test]
    fn speech_starts_above_threshold_and_ends_below_neg_threshold() {
        // 0.4 is between neg_threshold (0.35) and threshold: it does not start speech, but it
        // continues it.
        let probabilities = [run(0.4, 2), run(0.6, 1), run(0.4, 2), run(0.3, 3)].concat();
        assert_eq!(spans(&probabilities, &raw()), [(2 * FRAME, 5 * FRAME)]);
        // With neg_threshold above 0.4, the 0.4 frames end it.
        let options = VadOptions {
            neg_threshold: Some(0.45),
            ..raw()
        };
        assert_eq!(spans(&probabilities, &options), [(2 * FRAME, 3 * FRAME)]);
        // A threshold above every probability finds nothing.
        let options = VadOptions {
            threshold: 0.7,
            ..raw()
        };
        assert!(spans(&probabilities, &options).is_empty());
    }

    #[test]
    fn silence_shorter_than_min_silence_does_not_end_speech() {
        // Two bursts with 10 silent frames between. Silence is measured from its first frame
        // to the current one, so it reaches 9 frames (288 ms) before speech resumes.
        let probabilities = [run(0.9, 5), run(0.0, 10), run(0.9, 5), run(0.0, 40)].concat();
        let options = VadOptions {
            min_silence_duration_ms: 250,
            ..raw()
        };
        assert_eq!(
            spans(&probabilities, &options),
            [(0, 5 * FRAME), (15 * FRAME, 20 * FRAME)]
        );
        let options = VadOptions {
            min_silence_duration_ms: 300,
            ..raw()
        };
        assert_eq!(spans(&probabilities, &options), [(0, 20 * FRAME)]);
    }

    #[test]
    fn short_speech_is_dropped() {
        let probabilities = [
            run(0.0, 3),
            run(0.9, 3),
            run(0.0, 10),
            run(0.9, 10),
            run(0.0, 10),
        ]
        .concat();
        let options = VadOptions {
            min_speech_duration_ms: 100, // 3 frames are 96 ms
            ..raw()
        };
        assert_eq!(spans(&probabilities, &options), [(16 * FRAME, 26 * FRAME)]);
    }

    #[test]
    fn speech_until_the_end_ends_with_the_audio() {
        let probabilities = [run(0.0, 4), run(0.9, 6)].concat();
        let n_samples = 9 * FRAME + 100;
        let found = speech_timestamps(&probabilities, n_samples, &VadOptions::default());
        // Padded at the start by 400 ms (6400 samples, clamped at 0).
        assert_eq!(
            found,
            [SpeechSpan {
                start: 0,
                end: n_samples
            }]
        );
    }

    #[test]
    fn padding_extends_spans_and_splits_short_gaps() {
        let options = VadOptions {
            min_silence_duration_ms: 0,
            speech_pad_ms: 100, // 1600 samples
            ..VadOptions::default()
        };
        // Spans at frames 10..20, 24..30 (a 2048-sample gap, under 2 x 1600) and 50..60
        // (a 10240-sample gap).
        let probabilities = [
            run(0.0, 10),
            run(0.9, 10),
            run(0.0, 4),
            run(0.9, 6),
            run(0.0, 20),
            run(0.9, 10),
            run(0.0, 30),
        ]
        .concat();
        assert_eq!(
            spans(&probabilities, &options),
            [
                (10 * FRAME - 1600, 20 * FRAME + 1024),
                (24 * FRAME - 1024, 30 * FRAME + 1600),
                (50 * FRAME - 1600, 60 * FRAME + 1600),
            ]
        );
    }

    #[test]
    fn long_speech_is_split_at_a_silence_or_at_the_limit() {
        // 1 s limit: 16000 - 512 - 2 x 0 samples of speech at most, 31.25 frames.
        let options = VadOptions {
            max_speech_duration_s: Some(1.0),
            ..raw()
        };
        // Without silence: cut at the first frame past the limit; that frame is skipped and
        // speech starts again at the next.
        let probabilities = run(0.9, 70);
        assert_eq!(
            spans(&probabilities, &options),
            [
                (0, 31 * FRAME),
                (32 * FRAME, 63 * FRAME),
                (64 * FRAME, 70 * FRAME)
            ]
        );
        // A 5-frame dip (160 ms, more than 98 ms) at frames 20..25: the span is split there and
        // the next one starts where speech resumed.
        let probabilities = [run(0.9, 20), run(0.1, 5), run(0.9, 30)].concat();
        let options = VadOptions {
            min_silence_duration_ms: 2000,
            ..options
        };
        assert_eq!(
            spans(&probabilities, &options),
            [(0, 20 * FRAME), (25 * FRAME, 55 * FRAME)]
        );
        // A 3-frame dip (64 ms between its first and last frame) is too short to split at.
        let probabilities = [run(0.9, 20), run(0.1, 3), run(0.9, 30)].concat();
        assert_eq!(
            spans(&probabilities, &options),
            [(0, 31 * FRAME), (32 * FRAME, 53 * FRAME)]
        );
    }

    #[test]
    fn speech_map_restores_original_times() {
        // Speech at 1..2 s and 3..4 s: 1 s removed before the first span, 2 s before the second.
        let map = SpeechMap::new(&[
            SpeechSpan {
                start: 16_000,
                end: 32_000,
            },
            SpeechSpan {
                start: 48_000,
                end: 64_000,
            },
        ]);
        assert_eq!(map.original_time(0.0, false), 1.0);
        assert_eq!(map.original_time(0.5, true), 1.5);
        // 1.0 s is where the first span ends in the joined audio: a start there is the next
        // span's start, an end there is the first span's end.
        assert_eq!(map.original_time(1.0, false), 3.0);
        assert_eq!(map.original_time(1.0, true), 2.0);
        assert_eq!(map.original_time(1.5, false), 3.5);
        // Past the end: the last span.
        assert_eq!(map.original_time(2.5, true), 4.5);
        // A word across the boundary is mapped through the span of its middle.
        let index = map.span_index((0.9 + 1.2) / 2.0, false);
        assert_eq!(index, 1);
        assert_eq!(map.original_time_in_span(0.9, index), 2.9);
        // Rounded to hundredths like Python's round(x, 2): 1.125 is a tie, to even.
        assert_eq!(map.original_time(0.125, false), 1.12);
        assert_eq!(map.original_time(0.3333, false), 1.33);
    }

    #[test]
    fn speech_map_without_speech_keeps_times() {
        let map = SpeechMap::new(&[]);
        assert_eq!(map.span_index(3.0, true), 0);
        assert_eq!(map.original_time(3.217, true), 3.217);
    }
}
