//! Speakers onto a transcript: words take the speaker whose turns they overlap most, segments
//! are split where their words change speaker; and, for one speaker per channel, the channels'
//! own transcriptions merged in time order.

use super::{SpeakerTurn, speaker_label};
use crate::Result;
use crate::audio::SampleSource;
use crate::transcript::{Segment, Transcript};

/// The speaker of a stretch of audio: the one whose turns overlap it most, or the nearest turn's
/// when none does.
fn speaker_at(turns: &[SpeakerTurn], start: f64, end: f64) -> Option<usize> {
    let speakers = turns.iter().map(|t| t.speaker).max()? + 1;
    let mut overlap = vec![0.0f64; speakers];
    for turn in turns {
        overlap[turn.speaker] += (turn.end.min(end) - turn.start.max(start)).max(0.0);
    }
    let (best, most) = overlap
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|(s, o)| (s, *o))?;
    if most > 0.0 {
        return Some(best);
    }
    let distance = |t: &SpeakerTurn| (t.start - end).max(start - t.end).max(0.0);
    turns
        .iter()
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .map(|t| t.speaker)
}

/// The channels worth transcribing: those that are not a copy of an earlier one (their
/// difference is 30 dB below it), so a mono recording stored as stereo is one speaker.
pub fn distinct_channels(channels: &[&dyn SampleSource]) -> Result<Vec<usize>> {
    // Compared a minute at a time: the channels may be spooled and hours long.
    const PIECE: usize = 60 * 16_000;
    let len = channels.iter().map(|c| c.len()).min().unwrap_or(0);
    let mut energy = vec![0.0f64; channels.len()];
    let mut difference = vec![vec![0.0f64; channels.len()]; channels.len()];
    for start in (0..len).step_by(PIECE) {
        let pieces = channels
            .iter()
            .map(|c| c.read_range(start..(start + PIECE).min(len)))
            .collect::<Result<Vec<_>>>()?;
        for (i, a) in pieces.iter().enumerate() {
            energy[i] += a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
            for (j, b) in pieces.iter().enumerate().take(i) {
                difference[i][j] += a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| f64::from(x - y).powi(2))
                    .sum::<f64>();
            }
        }
    }
    let mut kept: Vec<usize> = Vec::new();
    for index in 0..channels.len() {
        let copies = kept
            .iter()
            .any(|&k| difference[index][k] <= 1e-3 * energy[k].max(energy[index]));
        if !copies {
            kept.push(index);
        }
    }
    Ok(kept)
}

/// One transcript of the transcripts of single channels: every segment and word labelled with
/// its channel's speaker, segments in time order, speakers numbered by first appearance.
pub fn merge_channels(parts: Vec<(usize, Transcript)>) -> Transcript {
    let mut merged = parts
        .iter()
        .max_by_key(|(_, t)| t.text.len())
        .map(|(_, t)| Transcript {
            segments: Vec::new(),
            ..t.clone()
        })
        .expect("at least one channel");
    merged.duration_after_vad = parts
        .iter()
        .map(|(_, t)| t.duration_after_vad)
        .fold(0.0, f64::max);
    let mut segments: Vec<(usize, Segment)> = parts
        .into_iter()
        .flat_map(|(channel, t)| t.segments.into_iter().map(move |s| (channel, s)))
        .collect();
    segments.sort_by(|a, b| a.1.start.total_cmp(&b.1.start));
    let pieces = segments
        .into_iter()
        .map(|(channel, segment)| Labelled {
            speaker_index: Some(channel),
            word_speakers: vec![Some(channel); segment.words.len()],
            segment,
        })
        .collect();
    apply_labels(&mut merged, pieces);
    merged.text = merged
        .segments
        .iter()
        .map(|s| s.text.as_str())
        .collect::<String>()
        .trim()
        .to_string();
    merged
}

/// Labels the words and segments of `transcript` with the speakers of `turns`, splitting
/// segments where their words change speaker, and lists the speakers in order of appearance.
pub fn label_transcript(transcript: &mut Transcript, turns: &[SpeakerTurn]) {
    let pieces = std::mem::take(&mut transcript.segments)
        .into_iter()
        .flat_map(|segment| split_by_speaker(segment, &|start, end| speaker_at(turns, start, end)))
        .collect();
    apply_labels(transcript, pieces);
}

/// Sets `pieces` as the segments of `transcript`, their raw speaker indices turned into labels
/// numbered in order of first appearance.
fn apply_labels(transcript: &mut Transcript, mut pieces: Vec<Labelled>) {
    let mut first_seen: Vec<usize> = Vec::new();
    for raw in pieces
        .iter()
        .flat_map(|p| p.word_speakers.iter().copied().chain([p.speaker_index]))
        .flatten()
    {
        if !first_seen.contains(&raw) {
            first_seen.push(raw);
        }
    }
    let label_of = |raw: usize| first_seen.iter().position(|&r| r == raw).map(speaker_label);
    for (id, piece) in pieces.iter_mut().enumerate() {
        piece.segment.id = id;
        piece.segment.speaker = piece.speaker_index.and_then(label_of);
        for (word, raw) in piece.segment.words.iter_mut().zip(&piece.word_speakers) {
            word.speaker = raw.and_then(label_of);
        }
    }
    transcript.speakers = (0..first_seen.len()).map(speaker_label).collect();
    transcript.segments = pieces.into_iter().map(|p| p.segment).collect();
}

/// A segment (or part of one) with the raw speaker indices found for it.
struct Labelled {
    segment: Segment,
    speaker_index: Option<usize>,
    word_speakers: Vec<Option<usize>>,
}

/// Splits a segment into runs of words of one speaker; a segment without words takes the
/// speaker of its time span whole. Parts of a split segment carry no tokens (they cannot be
/// divided by word), their own text, times and words.
fn split_by_speaker(
    segment: Segment,
    speaker_of: &dyn Fn(f64, f64) -> Option<usize>,
) -> Vec<Labelled> {
    if segment.words.is_empty() {
        let speaker_index = speaker_of(segment.start, segment.end);
        return vec![Labelled {
            segment,
            speaker_index,
            word_speakers: Vec::new(),
        }];
    }
    let speakers: Vec<Option<usize>> = segment
        .words
        .iter()
        .map(|w| speaker_of(w.start, w.end))
        .collect();
    let runs: Vec<(usize, usize)> = {
        let mut runs = Vec::new();
        let mut start = 0;
        for i in 1..=speakers.len() {
            if i == speakers.len() || speakers[i] != speakers[start] {
                runs.push((start, i));
                start = i;
            }
        }
        runs
    };
    if runs.len() == 1 {
        return vec![Labelled {
            speaker_index: speakers[0],
            word_speakers: speakers,
            segment,
        }];
    }
    let last = runs.len() - 1;
    runs.into_iter()
        .enumerate()
        .map(|(n, (from, to))| {
            let words = segment.words[from..to].to_vec();
            let text: String = words.iter().map(|w| w.word.as_str()).collect();
            let piece = Segment {
                start: if n == 0 {
                    segment.start
                } else {
                    words[0].start
                },
                end: if n == last {
                    segment.end
                } else {
                    words[words.len() - 1].end
                },
                text,
                tokens: Vec::new(),
                words,
                ..segment.clone()
            };
            Labelled {
                segment: piece,
                speaker_index: speakers[from],
                word_speakers: speakers[from..to].to_vec(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Word;

    fn word(text: &str, start: f64, end: f64) -> Word {
        Word {
            word: text.into(),
            start,
            end,
            probability: 0.9,
            speaker: None,
        }
    }

    fn segment(start: f64, end: f64, words: Vec<Word>) -> Segment {
        Segment {
            id: 0,
            seek: 0,
            start,
            end,
            text: words.iter().map(|w| w.word.as_str()).collect(),
            tokens: vec![1, 2, 3],
            temperature: 0.0,
            avg_logprob: -0.2,
            compression_ratio: 1.0,
            no_speech_prob: 0.0,
            words,
            speaker: None,
        }
    }

    fn transcript(segments: Vec<Segment>) -> Transcript {
        Transcript {
            text: String::new(),
            language: "en".into(),
            language_probability: 1.0,
            duration: 10.0,
            duration_after_vad: 10.0,
            model: "base".into(),
            segments,
            warnings: vec![],
            speakers: vec![],
        }
    }

    fn turn(start: f64, end: f64, speaker: usize) -> SpeakerTurn {
        SpeakerTurn {
            start,
            end,
            speaker,
        }
    }

    #[test]
    fn a_segment_is_split_where_its_words_change_speaker() {
        // Raw speaker 1 speaks first, so it becomes "Speaker 1".
        let turns = [turn(0.0, 1.9, 1), turn(1.9, 4.0, 0)];
        let words = vec![
            word(" Hello", 0.0, 0.5),
            word(" there.", 0.6, 1.8),
            word(" Hi!", 2.0, 2.5),
        ];
        let mut t = transcript(vec![segment(0.0, 2.6, words), segment(3.0, 3.5, vec![])]);
        label_transcript(&mut t, &turns);
        assert_eq!(t.speakers, ["Speaker 1", "Speaker 2"]);
        let summary: Vec<(usize, &str, f64, f64, Option<&str>)> = t
            .segments
            .iter()
            .map(|s| (s.id, s.text.as_str(), s.start, s.end, s.speaker.as_deref()))
            .collect();
        assert_eq!(
            summary,
            [
                (0, " Hello there.", 0.0, 1.8, Some("Speaker 1")),
                (1, " Hi!", 2.0, 2.6, Some("Speaker 2")),
                (2, "", 3.0, 3.5, Some("Speaker 2")),
            ]
        );
        assert!(t.segments[0].tokens.is_empty() && t.segments[1].tokens.is_empty());
        assert_eq!(t.segments[1].words[0].speaker.as_deref(), Some("Speaker 2"));
    }

    #[test]
    fn a_word_between_turns_takes_the_nearest() {
        let turns = [turn(0.0, 1.0, 0), turn(5.0, 6.0, 1)];
        assert_eq!(speaker_at(&turns, 1.2, 1.4), Some(0));
        assert_eq!(speaker_at(&turns, 4.5, 4.8), Some(1));
        assert_eq!(speaker_at(&turns, 0.9, 5.5), Some(1));
        assert_eq!(speaker_at(&[], 0.0, 1.0), None);
    }

    #[test]
    fn copied_channels_are_one() {
        let voice: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.1).sin()).collect();
        let other: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).cos()).collect();
        let nearly: Vec<f32> = voice.iter().map(|x| x * 0.999).collect();
        assert_eq!(distinct_channels(&[&voice, &nearly]).unwrap(), [0]);
        assert_eq!(distinct_channels(&[&voice, &other]).unwrap(), [0, 1]);
    }

    #[test]
    fn channels_merge_in_time_order() {
        let left = transcript(vec![segment(0.0, 4.0, vec![word(" Long", 0.0, 4.0)])]);
        let right = transcript(vec![segment(1.0, 2.0, vec![word(" Short", 1.0, 2.0)])]);
        let merged = merge_channels(vec![(1, right), (0, left)]);
        assert_eq!(merged.text, "Long Short");
        assert_eq!(merged.speakers, ["Speaker 1", "Speaker 2"]);
        let speakers: Vec<_> = merged
            .segments
            .iter()
            .map(|s| s.speaker.clone().unwrap())
            .collect();
        assert_eq!(speakers, ["Speaker 1", "Speaker 2"]);
        assert_eq!(
            merged.segments[1].words[0].speaker.as_deref(),
            Some("Speaker 2")
        );
    }
}
