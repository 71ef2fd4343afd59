//! Pure steps of the long-form loop: cutting a window's tokens into segments, the clips to
//! seek through, and times moved back from the speech-only audio to the original.

use crate::Result;
use crate::decode::Attempt;
use crate::mel::FRAME_SECONDS;
use crate::tokenizer::TIMESTAMP_SECONDS;
use crate::transcript::Segment;
use crate::vad::SpeechMap;

/// Mel frames per timestamp step (0.02 s is two 10 ms frames).
const FRAMES_PER_TIMESTAMP: usize = 2;

/// Where a window lies and how its tokens read.
pub(super) struct WindowTokens<'a> {
    /// Mel frame of the window start.
    pub seek: usize,
    /// Mel frames of audio in the window.
    pub frames: usize,
    /// `<|0.00|>`: every id from here on is a timestamp.
    pub timestamp_begin: u32,
    pub text_of: &'a dyn Fn(&[u32]) -> Result<String>,
}

/// How a decoded window was cut.
#[derive(Debug)]
pub(super) struct WindowSegments {
    pub segments: Vec<Segment>,
    /// Mel frames the loop moves on by.
    pub advance: usize,
    /// The tokens end on a lone timestamp: the model read the whole window.
    pub single_timestamp_ending: bool,
}

/// Cuts a window's tokens into segments at consecutive timestamp pairs, as openai-whisper.
pub(super) fn split_segments(attempt: &Attempt, window: &WindowTokens) -> Result<WindowSegments> {
    let result = &attempt.decoding;
    let tokens = &result.tokens;
    let is_timestamp = |token: u32| token >= window.timestamp_begin;
    let seconds = |token: u32| (token - window.timestamp_begin) as f64 * TIMESTAMP_SECONDS;
    let time_offset = window.seek as f64 * FRAME_SECONDS;
    let is_ts: Vec<bool> = tokens.iter().map(|&t| is_timestamp(t)).collect();
    let single_timestamp_ending =
        is_ts.len() >= 2 && !is_ts[is_ts.len() - 2] && is_ts[is_ts.len() - 1];
    let mut slices: Vec<usize> = (1..tokens.len())
        .filter(|&i| is_ts[i - 1] && is_ts[i])
        .collect();

    let make = |tokens: &[u32], start: f64, end: f64| -> Result<Segment> {
        Ok(Segment {
            id: 0,
            seek: window.seek,
            start,
            end,
            text: (window.text_of)(tokens)?,
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
        let duration = match tokens.iter().rev().find(|&&t| is_timestamp(t)) {
            Some(&last) if last != window.timestamp_begin => seconds(last),
            _ => window.frames as f64 * FRAME_SECONDS,
        };
        return Ok(WindowSegments {
            segments: vec![make(tokens, time_offset, time_offset + duration)?],
            advance: window.frames,
            single_timestamp_ending,
        });
    }

    if single_timestamp_ending {
        slices.push(tokens.len());
    }
    let mut segments = Vec::with_capacity(slices.len());
    let mut last_slice = 0;
    for &slice in &slices {
        let part = &tokens[last_slice..slice];
        let start = time_offset + seconds(part[0]);
        let end = time_offset + seconds(part[part.len() - 1]);
        segments.push(make(part, start, end)?);
        last_slice = slice;
    }
    let advance = if single_timestamp_ending {
        window.frames
    } else {
        // Resume at the last complete timestamp: the rest of the window is decoded again.
        let last_timestamp = tokens[last_slice - 1];
        let steps = (last_timestamp - window.timestamp_begin) as usize;
        match steps * FRAMES_PER_TIMESTAMP {
            0 => window.frames, // never stand still on a degenerate window
            frames => frames,
        }
    };
    Ok(WindowSegments {
        segments,
        advance,
        single_timestamp_ending,
    })
}

/// Moves times from the speech-only audio back to the original timeline, as faster-whisper's
/// `restore_speech_timestamps`: words by the speech span their middle falls in, segments by
/// their words (or by their own bounds when they have none).
pub(super) fn restore_times(segments: &mut [Segment], map: &SpeechMap) {
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
pub(super) fn seek_clips(clip_timestamps: &[f64], content_frames: usize) -> Vec<(usize, usize)> {
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

pub(super) fn last_word_end(segments: &[Segment]) -> Option<f64> {
    segments
        .iter()
        .rev()
        .find_map(|segment| segment.words.last())
        .map(|word| word.end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::WindowDecoding;
    use crate::transcript::Word;
    use crate::vad::SpeechSpan;

    /// Text tokens below 10; timestamps from 50 (token 50 + n is n * 0.02 s).
    const TS: u32 = 50;

    fn attempt(tokens: Vec<u32>) -> Attempt {
        Attempt {
            decoding: WindowDecoding {
                tokens,
                sum_logprob: -1.0,
                avg_logprob: -0.25,
                no_speech_prob: 0.01,
                temperature: 0.2,
            },
            text: String::new(),
            compression_ratio: 1.5,
        }
    }

    fn split(tokens: Vec<u32>, seek: usize) -> WindowSegments {
        let text_of = |tokens: &[u32]| -> Result<String> {
            Ok(tokens
                .iter()
                .filter(|&&t| t < TS)
                .map(|t| format!(" w{t}"))
                .collect())
        };
        let window = WindowTokens {
            seek,
            frames: 3000,
            timestamp_begin: TS,
            text_of: &text_of,
        };
        split_segments(&attempt(tokens), &window).unwrap()
    }

    #[test]
    fn timestamp_pairs_cut_segments_and_the_window_resumes_at_the_last_pair() {
        // <0.00> a b <1.00><1.00> c <2.00><2.00> d   (the last segment has no closing pair)
        let cut = split(
            vec![TS, 1, 2, TS + 50, TS + 50, 3, TS + 100, TS + 100, 4],
            1000,
        );
        let texts: Vec<&str> = cut.segments.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, [" w1 w2", " w3"]);
        assert_eq!((cut.segments[0].start, cut.segments[0].end), (10.0, 11.0));
        assert_eq!((cut.segments[1].start, cut.segments[1].end), (11.0, 12.0));
        assert_eq!(cut.advance, 200, "2 s of frames: 'd' is decoded again");
        assert!(!cut.single_timestamp_ending);
        let segment = &cut.segments[1];
        assert_eq!((segment.seek, segment.temperature), (1000, 0.2));
        assert_eq!(segment.tokens, vec![TS + 50, 3, TS + 100]);
    }

    #[test]
    fn a_lone_final_timestamp_closes_the_last_segment_and_the_window() {
        let cut = split(vec![TS, 1, TS + 50, TS + 50, 2, TS + 150], 0);
        assert_eq!(cut.segments.len(), 2);
        assert_eq!((cut.segments[1].start, cut.segments[1].end), (1.0, 3.0));
        assert_eq!(cut.advance, 3000);
        assert!(cut.single_timestamp_ending);
    }

    #[test]
    fn without_pairs_one_segment_spans_to_the_last_timestamp_or_the_window() {
        let cut = split(vec![TS, 1, 2, TS + 100], 0);
        assert_eq!(cut.segments.len(), 1);
        assert_eq!(cut.segments[0].end, 2.0);
        assert_eq!(cut.advance, 3000);
        let text_only = split(vec![1, 2], 0);
        assert_eq!(text_only.segments[0].end, 30.0);
        // Pairs only at the very start (<0.00><0.00>) must still move the window on.
        let degenerate = split(vec![TS, TS, 1], 0);
        assert_eq!(degenerate.advance, 3000);
    }

    #[test]
    fn clips_pair_up_and_an_open_end_runs_to_the_end() {
        assert_eq!(seek_clips(&[], 5000), vec![(0, 5000)]);
        assert_eq!(
            seek_clips(&[1.0, 2.5, 10.0], 5000),
            vec![(100, 250), (1000, 5000)]
        );
    }

    #[test]
    fn times_move_back_to_the_original_audio() {
        // Speech at 0-1 s and 5-6 s of the original: 1.5 s of the speech audio is 5.5 s.
        let map = SpeechMap::new(&[
            SpeechSpan {
                start: 0,
                end: 16_000,
            },
            SpeechSpan {
                start: 80_000,
                end: 96_000,
            },
        ]);
        let word = |start, end| Word {
            start,
            end,
            word: " w".into(),
            probability: 0.9,
            speaker: None,
        };
        let segment = |start, end, words| {
            let mut segment = split(vec![1], 0).segments.remove(0);
            (segment.start, segment.end, segment.words) = (start, end, words);
            segment
        };
        let mut segments = vec![
            segment(0.2, 1.8, vec![word(0.2, 0.6), word(1.2, 1.8)]),
            segment(1.1, 1.9, vec![]),
        ];
        restore_times(&mut segments, &map);
        assert_eq!((segments[0].start, segments[0].end), (0.2, 5.8));
        assert_eq!(segments[0].words[1].start, 5.2);
        assert!((segments[1].start - 5.1).abs() < 1e-9);
        assert_eq!(last_word_end(&segments), Some(5.8));
    }
}
