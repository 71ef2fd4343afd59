//! Skipping silence before text that looks hallucinated, as openai-whisper's and
//! faster-whisper's `hallucination_silence_threshold`: a pure function of a window's timed
//! segments.

use crate::alignment;
use crate::mel::{FRAME_SECONDS, N_FRAMES};
use crate::transcript::{Segment, Word};

/// Where a window lies, for the hallucination checks.
#[derive(Debug, Clone, Copy)]
pub(super) struct WindowSpan {
    pub time_offset: f64,
    pub duration: f64,
    pub content_seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum SkipTo {
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
pub(super) fn skip_hallucinated_silence(
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A segment of words, each given as (start, end, probability).
    fn segment(words: &[(f64, f64, f32)]) -> Segment {
        let words: Vec<Word> = words
            .iter()
            .map(|&(start, end, probability)| Word {
                word: " w".into(),
                start,
                end,
                probability,
                speaker: None,
            })
            .collect();
        Segment {
            id: 0,
            seek: 0,
            start: words.first().map_or(0.0, |w| w.start),
            end: words.last().map_or(0.0, |w| w.end),
            text: " w".repeat(words.len()),
            tokens: Vec::new(),
            temperature: 0.0,
            avg_logprob: -0.2,
            compression_ratio: 1.2,
            no_speech_prob: 0.0,
            words,
            speaker: None,
        }
    }

    fn good(start: f64) -> Segment {
        segment(&[(start, start + 0.4, 0.9), (start + 0.5, start + 0.9, 0.9)])
    }

    /// Improbable, too short and too long words.
    fn hallucinated(start: f64) -> Segment {
        segment(&[(start, start + 0.05, 0.05), (start + 0.1, start + 3.5, 0.1)])
    }

    const WINDOW: WindowSpan = WindowSpan {
        time_offset: 30.0,
        duration: 30.0,
        content_seconds: 120.0,
    };

    #[test]
    fn anomalies_are_improbable_or_badly_timed_words() {
        let word = |start, end, probability| Word {
            word: " w".into(),
            start,
            end,
            probability,
            speaker: None,
        };
        assert_eq!(word_anomaly_score(&word(0.0, 0.5, 0.9)), 0.0);
        assert_eq!(word_anomaly_score(&word(0.0, 0.5, 0.1)), 1.0);
        assert!((word_anomaly_score(&word(0.0, 3.0, 0.9)) - 1.0).abs() < 1e-9);
        assert!(is_segment_anomaly(Some(&hallucinated(0.0))));
        assert!(!is_segment_anomaly(Some(&good(0.0))));
        assert!(!is_segment_anomaly(None));
        assert!(
            !is_segment_anomaly(Some(&segment(&[]))),
            "no words, no judgement"
        );
    }

    #[test]
    fn a_hallucinated_start_after_a_long_gap_skips_the_gap() {
        let mut segments = vec![hallucinated(36.0), good(40.0)];
        let skip = skip_hallucinated_silence(&mut segments, 2.0, WINDOW, 30.0);
        assert_eq!(skip, Some(SkipTo::Gap(6.0)));
        assert_eq!(
            segments.len(),
            2,
            "the window is decoded again, nothing dropped"
        );
        // A short gap, with speech right after, is left alone.
        let mut close = vec![hallucinated(31.0), good(35.0)];
        assert_eq!(
            skip_hallucinated_silence(&mut close, 2.0, WINDOW, 30.0),
            None
        );
    }

    #[test]
    fn a_hallucination_between_silences_is_dropped_with_what_follows() {
        let mut segments = vec![good(30.5), hallucinated(40.0), good(50.0)];
        let skip = skip_hallucinated_silence(&mut segments, 2.0, WINDOW, 30.0);
        assert_eq!(skip, Some(SkipTo::Time(40.0)));
        assert_eq!(segments.len(), 1);
        // Near the end of the audio, resume there.
        let end = WindowSpan {
            content_seconds: 45.0,
            ..WINDOW
        };
        let mut segments = vec![good(30.5), hallucinated(40.0)];
        let skip = skip_hallucinated_silence(&mut segments, 2.0, end, 30.0);
        assert_eq!(skip, Some(SkipTo::Time(45.0)));
        // Speech right before and after: kept.
        let mut segments = vec![good(30.5), hallucinated(31.5), good(35.0)];
        assert_eq!(
            skip_hallucinated_silence(&mut segments, 2.0, WINDOW, 30.0),
            None
        );
        assert_eq!(segments.len(), 3);
    }
}
