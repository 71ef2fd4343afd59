//! Words handed to a window's segments, with the references' fixes for words stretched over
//! pauses (openai-whisper's and faster-whisper's `add_word_timestamps`).

use super::{SegmentSpan, WordTiming, merge_punctuations};
use crate::transcript::{Word, round_to_hundredths};

const SENTENCE_END_MARKS: &str = ".。!！?？";

/// The words of each segment of one window, from the window's alignment (faster-whisper's
/// `add_word_timestamps`, one window at a time).
///
/// Words longer than twice the median word duration (median capped at 0.7 s) are cut back at
/// sentence ends and after pauses, punctuation is merged ([`merge_punctuations`]), words are
/// handed to segments in order by token count, and each segment's start and end move to its
/// first and last word unless that word overhangs the segment by more than 0.5 s, in which case
/// the word is cut instead. Word times are rounded to 0.01 s when handed to segments, before
/// those last cuts, as in both references.
///
/// `time_offset`: where the window starts, in seconds. `last_speech_timestamp`: end of the
/// speech before this window; on return, the end of the last segment that got words. openai's
/// function is the same for one window but returns nothing; faster-whisper's returns this so
/// that its batched pipeline can chain windows, hence the `&mut`. Both sequential loops instead
/// carry on the end of the last word, once their hallucination checks are done.
pub fn assign_words(
    mut alignment: Vec<WordTiming>,
    segments: &mut [SegmentSpan],
    time_offset: f64,
    last_speech_timestamp: &mut f64,
    prepend_punctuations: &str,
    append_punctuations: &str,
) -> Vec<Vec<Word>> {
    if segments.is_empty() {
        return Vec::new();
    }
    let mut durations: Vec<f64> = alignment
        .iter()
        .map(|timing| timing.end - timing.start)
        .filter(|&duration| duration != 0.0)
        .collect();
    let median = median_of(&mut durations);
    // Python's min(0.7, median): 0.7 unless the median is smaller.
    let median_duration = if median < 0.7 { median } else { 0.7 };
    let max_duration = median_duration * 2.0;

    if !durations.is_empty() {
        for i in 1..alignment.len() {
            let (before, current) = alignment.split_at_mut(i);
            let (previous, timing) = (&before[i - 1], &mut current[0]);
            if timing.end - timing.start > max_duration {
                // Substring tests, as Python's `in`.
                if SENTENCE_END_MARKS.contains(timing.word.as_str()) {
                    timing.end = timing.start + max_duration;
                } else if SENTENCE_END_MARKS.contains(previous.word.as_str()) {
                    timing.start = timing.end - max_duration;
                }
            }
        }
    }

    merge_punctuations(&mut alignment, prepend_punctuations, append_punctuations);

    let mut timings = alignment.into_iter();
    let mut words_per_segment = Vec::with_capacity(segments.len());
    for segment in segments.iter_mut() {
        let mut words = Vec::new();
        let mut saved_tokens = 0;
        while saved_tokens < segment.text_tokens {
            let Some(timing) = timings.next() else { break };
            saved_tokens += timing.tokens.len();
            if !timing.word.is_empty() {
                words.push(Word {
                    word: timing.word,
                    start: round_to_hundredths(time_offset + timing.start),
                    end: round_to_hundredths(time_offset + timing.end),
                    probability: timing.probability,
                    speaker: None,
                });
            }
        }
        fit_segment(segment, &mut words, median_duration, last_speech_timestamp);
        words_per_segment.push(words);
    }
    words_per_segment
}

/// The segment-boundary fixes of `add_word_timestamps` for one segment and its words.
fn fit_segment(
    segment: &mut SegmentSpan,
    words: &mut [Word],
    median_duration: f64,
    last_speech_timestamp: &mut f64,
) {
    let max_duration = median_duration * 2.0;
    let Some(first) = words.first() else { return };
    // The first word after a pause, or the first two, must not last more than twice the median.
    let too_long = first.end - first.start > max_duration
        || words
            .get(1)
            .is_some_and(|second| second.end - first.start > max_duration * 2.0);
    if first.end - *last_speech_timestamp > median_duration * 4.0 && too_long {
        if let [first, second, ..] = words
            && second.end - second.start > max_duration
        {
            let boundary = (second.end / 2.0).max(second.end - max_duration);
            first.end = boundary;
            second.start = boundary;
        }
        words[0].start = (words[0].end - max_duration).max(0.0);
    }

    // Prefer the segment's start if the first word begins well before it.
    let first = &mut words[0];
    if segment.start < first.end && segment.start - 0.5 > first.start {
        first.start = (first.end - median_duration).min(segment.start).max(0.0);
    } else {
        segment.start = first.start;
    }

    // Likewise its end if the last word runs on well after it.
    let last = &mut words[words.len() - 1];
    if segment.end > last.start && segment.end + 0.5 < last.end {
        last.end = (last.start + median_duration).max(segment.end);
    } else {
        segment.end = last.end;
    }
    *last_speech_timestamp = segment.end;
}

/// numpy's median (the mean of the middle two of an even count); 0 for no values.
fn median_of(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.is_empty() {
        0.0
    } else if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alignment::toy::*;
    use crate::alignment::{DEFAULT_APPEND_PUNCTUATIONS, DEFAULT_PREPEND_PUNCTUATIONS};

    #[test]
    fn assign_words_matches_faster_whisper() {
        // Two windows through faster-whisper's add_word_timestamps, printed by
        // tests/alignment_reference.py. Window 1 (median 0.3 s, so at most 0.6 s): "." is cut
        // to 0.6 s and " Next" after it starts 0.6 s before its end; " Hello" after the pause
        // is cut to 0.6 s; " (" and ")" join "yes", "." joins " world"; the second segment
        // starts with the emptied " (", whose token went to " (yes)".
        let alignment = vec![
            timing(" Hello", &[1], 0.0, 1.6),
            timing(" world", &[2], 1.6, 1.9),
            timing(".", &[8], 1.9, 4.0),
            timing(" Next", &[3], 4.0, 6.5),
            timing(" one", &[4], 6.5, 6.8),
            timing(" (", &[5], 6.8, 6.8),
            timing("yes", &[6], 6.8, 7.1),
            timing(")", &[7], 7.1, 7.3),
        ];
        let mut segments = [
            SegmentSpan {
                start: 10.2,
                end: 16.9,
                text_tokens: 5,
            },
            SegmentSpan {
                start: 16.8,
                end: 17.3,
                text_tokens: 3,
            },
        ];
        let mut last_speech = 0.0;
        let words = assign_words(
            alignment,
            &mut segments,
            10.0,
            &mut last_speech,
            DEFAULT_PREPEND_PUNCTUATIONS,
            DEFAULT_APPEND_PUNCTUATIONS,
        );
        assert_words(
            &words[0],
            &[
                word(" Hello", 11.0, 11.6),
                word(" world.", 11.6, 11.9),
                word(" Next", 15.9, 16.5),
                word(" one", 16.5, 16.8),
            ],
        );
        assert_words(&words[1], &[word(" (yes)", 16.8, 17.1)]);
        assert_eq!((segments[0].start, segments[0].end), (11.0, 16.8));
        assert_eq!((segments[1].start, segments[1].end), (16.8, 17.1));
        assert_eq!(last_speech, 17.1);

        // Window 2 (median capped at 0.7 s): after the pause " So" and " then" meet at
        // max(33.5 / 2, 33.5 - 1.4) and " So" starts 0.7 s before that, later than the segment
        // start (31.5) allows; " now" overruns the segment end and is cut back to it.
        let alignment = vec![
            timing(" So", &[1], 0.0, 2.0),
            timing(" then", &[2], 2.0, 3.5),
            timing(" we", &[3], 3.5, 3.8),
            timing(" left", &[4], 3.8, 4.1),
            timing(" home", &[5], 4.1, 4.4),
            timing(" now", &[6], 4.4, 9.0),
        ];
        let mut segments = [SegmentSpan {
            start: 31.5,
            end: 36.0,
            text_tokens: 6,
        }];
        let words = assign_words(
            alignment,
            &mut segments,
            30.0,
            &mut last_speech,
            DEFAULT_PREPEND_PUNCTUATIONS,
            DEFAULT_APPEND_PUNCTUATIONS,
        );
        assert_words(
            &words[0],
            &[
                word(" So", 31.400000000000002, 32.1),
                word(" then", 32.1, 33.5),
                word(" we", 33.5, 33.8),
                word(" left", 33.8, 34.1),
                word(" home", 34.1, 34.4),
                word(" now", 34.4, 36.0),
            ],
        );
        assert_eq!((segments[0].start, segments[0].end), (31.5, 36.0));
        assert_eq!(last_speech, 36.0);
    }

    #[test]
    fn assign_words_handles_missing_words() {
        let mut last_speech = 3.0;
        let mut none: [SegmentSpan; 0] = [];
        let alignment = vec![timing(" a", &[1], 0.0, 1.0)];
        assert!(assign_words(alignment, &mut none, 0.0, &mut last_speech, "", "").is_empty());

        // More segments than words: the later ones get none and keep their times.
        let mut segments = [
            SegmentSpan {
                start: 0.5,
                end: 1.5,
                text_tokens: 1,
            },
            SegmentSpan {
                start: 2.0,
                end: 3.0,
                text_tokens: 2,
            },
        ];
        let alignment = vec![timing(" a", &[1], 0.52, 1.48)];
        let words = assign_words(alignment, &mut segments, 0.0, &mut last_speech, "", "");
        assert_words(&words[0], &[word(" a", 0.52, 1.48)]);
        assert!(words[1].is_empty());
        assert_eq!(segments[0].start, 0.52);
        assert_eq!(segments[1].start, 2.0);
        assert_eq!(last_speech, 1.48);

        let words = assign_words(Vec::new(), &mut segments, 0.0, &mut last_speech, "", "");
        assert_eq!(words, [Vec::new(), Vec::new()]);
    }

    #[test]
    fn times_round_like_python() {
        // Python's round(x, 2) of each.
        for (x, rounded) in [
            (0.125, 0.12),
            (0.375, 0.38),
            (2.675, 2.67),
            (1.005, 1.0),
            (0.015, 0.01),
            (0.025, 0.03),
            (29.995, 30.0),
            (-0.001, -0.0),
        ] {
            assert_eq!(round_to_hundredths(x), rounded, "{x}");
        }
    }
}
