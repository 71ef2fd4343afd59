//! The speech of a recording read as one audio: faster-whisper's `collect_chunks` (without a
//! maximum duration, as `WhisperModel.transcribe` calls it), reading the recording on demand
//! instead of copying the speech out of it.

use std::fmt;
use std::ops::Range;

use super::{SpeechMap, SpeechSpan, VadOptions, speech_timestamps};
use crate::Result;
use crate::audio::{SAMPLE_RATE, SampleSource};

/// Audio with everything but speech removed, and the way back to the original times. As a
/// [`SampleSource`] it is the samples of the spans, one after the other.
#[derive(Clone)]
pub struct SpeechAudio<'a> {
    source: &'a dyn SampleSource,
    /// Where the speech is in the original audio.
    pub spans: Vec<SpeechSpan>,
    pub map: SpeechMap,
    /// Per span: its samples in the source, cut at the source's end.
    pieces: Vec<Range<usize>>,
    /// Per span: where it ends in the joined audio.
    joined_ends: Vec<usize>,
}

impl<'a> SpeechAudio<'a> {
    /// The speech of `source` given its [`super::SileroVad::speech_probabilities`].
    pub fn from_probabilities(
        source: &'a dyn SampleSource,
        probabilities: &[f32],
        options: &VadOptions,
    ) -> Self {
        let spans = speech_timestamps(probabilities, source.len(), options);
        Self::from_spans(source, spans)
    }

    /// The audio of `spans` of `source`; spans reaching past its end are cut there.
    pub fn from_spans(source: &'a dyn SampleSource, spans: Vec<SpeechSpan>) -> Self {
        let pieces: Vec<Range<usize>> = spans
            .iter()
            .map(|span| {
                let end = span.end.min(source.len());
                span.start.min(end)..end
            })
            .collect();
        let joined_ends = pieces
            .iter()
            .scan(0, |joined, piece| {
                *joined += piece.len();
                Some(*joined)
            })
            .collect();
        Self {
            source,
            map: SpeechMap::new(&spans),
            spans,
            pieces,
            joined_ends,
        }
    }

    /// Seconds of audio left (faster-whisper's `duration_after_vad`).
    pub fn duration(&self) -> f64 {
        self.len() as f64 / f64::from(SAMPLE_RATE)
    }
}

impl SampleSource for SpeechAudio<'_> {
    fn len(&self) -> usize {
        self.joined_ends.last().copied().unwrap_or(0)
    }

    fn read(&self, start: usize, out: &mut [f32]) -> Result<()> {
        assert!(
            start + out.len() <= self.len(),
            "read of {}..{} past the {} samples of speech",
            start,
            start + out.len(),
            self.len()
        );
        // The first span that ends after `start`, then the ones after it until `out` is full.
        let first = self.joined_ends.partition_point(|&end| end <= start);
        let mut position = start;
        let mut out = out;
        for (piece, &joined_end) in self.pieces[first..].iter().zip(&self.joined_ends[first..]) {
            if out.is_empty() {
                break;
            }
            let offset = position - (joined_end - piece.len());
            let count = (piece.len() - offset).min(out.len());
            let (head, rest) = out.split_at_mut(count);
            self.source.read(piece.start + offset, head)?;
            out = rest;
            position += count;
        }
        Ok(())
    }
}

impl fmt::Debug for SpeechAudio<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpeechAudio")
            .field("spans", &self.spans)
            .field("map", &self.map)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The speech as it was collected before, copied out span by span.
    fn collected(samples: &[f32], spans: &[SpeechSpan]) -> Vec<f32> {
        spans
            .iter()
            .flat_map(|span| {
                let end = span.end.min(samples.len());
                &samples[span.start.min(end)..end]
            })
            .copied()
            .collect()
    }

    fn span(start: usize, end: usize) -> SpeechSpan {
        SpeechSpan { start, end }
    }

    #[test]
    fn speech_joins_spans_and_cuts_at_the_end() {
        let samples: Vec<f32> = (0..10).map(|i| i as f32).collect();
        let spans = vec![span(1, 3), span(6, 8), span(9, 20)];
        let speech = SpeechAudio::from_spans(&samples, spans.clone());
        assert_eq!(
            speech.read_range(0..speech.len()).unwrap(),
            [1.0, 2.0, 6.0, 7.0, 9.0]
        );
        assert_eq!(speech.duration(), 5.0 / 16_000.0);
        assert_eq!(speech.map, SpeechMap::new(&spans));
        assert_eq!(speech.spans, spans);

        let none = SpeechAudio::from_spans(&samples, Vec::new());
        assert!(none.is_empty());
        assert!(none.read_range(0..10).unwrap().is_empty());
        let empty: Vec<f32> = Vec::new();
        assert!(SpeechAudio::from_spans(&empty, spans).is_empty());
    }

    #[test]
    fn every_read_equals_the_collected_speech() {
        let samples: Vec<f32> = (1..=40).map(|i| i as f32).collect();
        // Adjacent, empty and cut spans among ordinary ones.
        let spans = vec![
            span(0, 4),
            span(4, 9),
            span(12, 12),
            span(15, 16),
            span(20, 31),
            span(35, 60),
        ];
        let expected = collected(&samples, &spans);
        let speech = SpeechAudio::from_spans(&samples, spans);
        assert_eq!(speech.len(), expected.len());
        for start in 0..=expected.len() {
            for end in start..=expected.len() {
                let mut out = vec![f32::NAN; end - start];
                speech.read(start, &mut out).unwrap();
                assert_eq!(out, expected[start..end], "{start}..{end}");
            }
        }
    }

    #[test]
    #[should_panic(expected = "past the")]
    fn reading_past_the_end_is_a_bug() {
        let samples = vec![1.0; 10];
        let speech = SpeechAudio::from_spans(&samples, vec![span(2, 5)]);
        speech.read(2, &mut [0.0; 2]).unwrap();
    }
}
