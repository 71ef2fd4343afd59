//! Speaker diarization: who spoke when.
//!
//! Speech spans from the voice activity detector are cut into 1.5 s windows every 0.75 s; CAM++
//! turns each window's filterbank features into a speaker embedding; average-linkage clustering
//! on cosine similarity groups the windows into speakers (cut at a similarity when the number
//! of speakers is to be estimated, at the number asked for otherwise). Each 10 ms of speech
//! takes the speaker of the window centred nearest to it, so a change of speaker inside a long
//! span is found to within half a hop. Words then take the speaker they overlap most, and a
//! segment is split where its words change speaker.
//!
//! [`by_channel`] is the alternative for recordings with one speaker per channel.

mod cluster;
mod fbank;

use std::path::Path;

use crate::audio::SAMPLE_RATE;
use crate::model::{CancelToken, LoadOptions, SPEAKER_FEATURE_BINS, SpeakerModel};
use crate::store::{self, ModelKind, SPEAKER_MODEL};
use crate::transcript::{Segment, Transcript};
use crate::vad::{SpeechSpan, VadOptions};
use crate::{Error, Result};
use cluster::{Cut, agglomerate};
use fbank::Fbank;

const MODEL_FILE: &str = "campplus.onnx";

const WINDOW_SECONDS: f64 = 1.5;
const HOP_SECONDS: f64 = 0.75;
/// Shorter speech gives no usable embedding; it takes the speaker of the speech nearest to it.
const MIN_WINDOW_SECONDS: f64 = 0.4;
/// The hop grows on long recordings so the similarity matrix stays under ~64 MB.
const MAX_WINDOWS: usize = 4000;
/// Windows embedded per model call.
const BATCH: usize = 16;
/// Average cosine similarity above which two groups of windows are one speaker (calibrated on
/// the fixtures by `benches/diarization.py`).
const SAME_SPEAKER: f32 = 0.35;
/// When estimating, a speaker heard for less than this share of the speech (and under
/// [`MIN_SPEAKER_SECONDS`]) is taken for an outlier of the most similar speaker.
const MIN_SPEAKER_SHARE: f64 = 0.1;
const MIN_SPEAKER_SECONDS: f64 = 3.0;
/// How many times more energy a channel needs over a word than every other channel to take it.
const CHANNEL_DOMINANCE: f32 = 2.0;
/// Resolution of speaker turns.
const FRAME_SECONDS: f64 = 0.01;

/// A stretch of speech by one speaker; speakers are numbered from 0 in order of appearance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpeakerTurn {
    pub start: f64,
    pub end: f64,
    pub speaker: usize,
}

/// The label of speaker `index` (from 0): "Speaker 1", "Speaker 2"...
pub fn speaker_label(index: usize) -> String {
    format!("Speaker {}", index + 1)
}

/// Voice activity settings for diarization: finer spans than transcription uses, so that the
/// pause at a change of speaker ends a span.
pub fn speech_options() -> VadOptions {
    VadOptions {
        min_silence_duration_ms: 300,
        speech_pad_ms: 100,
        min_speech_duration_ms: 250,
        ..VadOptions::default()
    }
}

pub struct Diarizer {
    model: SpeakerModel,
    fbank: Fbank,
}

/// One window of speech to embed, in samples.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: usize,
    end: usize,
}

impl Window {
    fn centre(&self) -> f64 {
        (self.start + self.end) as f64 / 2.0 / f64::from(SAMPLE_RATE)
    }
}

impl Diarizer {
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Self> {
        if !path.is_file() {
            return Err(Error::ModelNotFound(format!(
                "{} does not exist; run `stt models pull {SPEAKER_MODEL}`",
                path.display()
            )));
        }
        Ok(Self {
            model: SpeakerModel::load(path, options)?,
            fbank: Fbank::new(),
        })
    }

    /// Loads the embedder that `stt models pull campplus` installed under `$STT_HOME`.
    pub fn load_installed(options: &LoadOptions) -> Result<Self> {
        let dir = store::installed_model(SPEAKER_MODEL, ModelKind::Speaker).ok_or_else(|| {
            Error::ModelNotFound(format!(
                "{SPEAKER_MODEL:?} (speaker embedder, needed to label speakers) is not installed \
                 in {}; run `stt models pull {SPEAKER_MODEL}`",
                store::models_dir().display()
            ))
        })?;
        Self::load(&dir.join(MODEL_FILE), options)
    }

    /// Who speaks when in `speech` (spans of 16 kHz `samples`); `speakers` is the number of
    /// speakers, 0 to estimate it.
    pub fn turns(
        &mut self,
        samples: &[f32],
        speech: &[SpeechSpan],
        speakers: usize,
        cancel: &CancelToken,
    ) -> Result<Vec<SpeakerTurn>> {
        let windows = windows(speech);
        if windows.is_empty() {
            return Ok(Vec::new());
        }
        let embeddings = self.embed(samples, &windows, cancel)?;
        let labels = if speakers > 0 {
            agglomerate(&embeddings, Cut::Clusters(speakers))
        } else {
            let labels = agglomerate(&embeddings, Cut::Similarity(SAME_SPEAKER));
            absorb_minor_speakers(&embeddings, &labels, &windows)
        };
        Ok(turns_from_windows(speech, &windows, &labels))
    }

    fn embed(
        &mut self,
        samples: &[f32],
        windows: &[Window],
        cancel: &CancelToken,
    ) -> Result<Vec<Vec<f32>>> {
        let features: Vec<Vec<f32>> = windows
            .iter()
            .map(|w| mean_normalized(self.fbank.compute(&samples[w.start..w.end])))
            .collect();
        let mut embeddings = vec![Vec::new(); windows.len()];
        // Windows of equal length go through the model together.
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| features[i].len());
        for group in order.chunk_by(|&a, &b| features[a].len() == features[b].len()) {
            for batch in group.chunks(BATCH) {
                cancel.check()?;
                let frames = features[batch[0]].len() / SPEAKER_FEATURE_BINS;
                let input: Vec<f32> = batch
                    .iter()
                    .flat_map(|&i| features[i].iter().copied())
                    .collect();
                let out = self.model.embed(&input, batch.len(), frames)?;
                for (&i, embedding) in batch.iter().zip(out) {
                    embeddings[i] = embedding;
                }
            }
        }
        Ok(embeddings)
    }
}

/// The embedding windows of the spans long enough to have one, in time order.
fn windows(speech: &[SpeechSpan]) -> Vec<Window> {
    let rate = f64::from(SAMPLE_RATE);
    let to_samples = |seconds: f64| (seconds * rate).round() as usize;
    let (window, min_window) = (to_samples(WINDOW_SECONDS), to_samples(MIN_WINDOW_SECONDS));
    let total: usize = speech.iter().map(|s| s.end - s.start).sum();
    let hop = to_samples(HOP_SECONDS).max(total / MAX_WINDOWS);
    let mut out = Vec::new();
    for span in speech.iter().filter(|s| s.end - s.start >= min_window) {
        let length = span.end - span.start;
        if length <= window {
            out.push(Window {
                start: span.start,
                end: span.end,
            });
            continue;
        }
        let count = (length - window).div_ceil(hop) + 1;
        out.extend((0..count).map(|i| {
            let start = span.start + (i * hop).min(length - window);
            Window {
                start,
                end: start + window,
            }
        }));
    }
    out
}

/// Subtracts each bin's mean over the window (the model was trained so).
fn mean_normalized(mut features: Vec<f32>) -> Vec<f32> {
    let frames = features.len() / SPEAKER_FEATURE_BINS;
    for bin in 0..SPEAKER_FEATURE_BINS {
        let mean = (0..frames)
            .map(|f| features[f * SPEAKER_FEATURE_BINS + bin])
            .sum::<f32>()
            / frames as f32;
        (0..frames).for_each(|f| features[f * SPEAKER_FEATURE_BINS + bin] -= mean);
    }
    features
}

/// Speakers heard too little to be real (a cough, a laugh, a noisy window) join the most
/// similar remaining speaker; labels are renumbered in order of appearance.
fn absorb_minor_speakers(
    embeddings: &[Vec<f32>],
    labels: &[usize],
    windows: &[Window],
) -> Vec<usize> {
    let speakers = labels.iter().max().map_or(0, |m| m + 1);
    let seconds = |w: &Window| (w.end - w.start) as f64 / f64::from(SAMPLE_RATE);
    let mut heard = vec![0.0f64; speakers];
    for (label, window) in labels.iter().zip(windows) {
        heard[*label] += seconds(window);
    }
    let total: f64 = heard.iter().sum();
    let major: Vec<bool> = heard
        .iter()
        .map(|&h| h >= MIN_SPEAKER_SECONDS || h >= MIN_SPEAKER_SHARE * total)
        .collect();
    if major.iter().all(|&m| m) || !major.iter().any(|&m| m) {
        return labels.to_vec();
    }
    let centroid = |speaker: usize| -> Vec<f32> {
        let dim = embeddings[0].len();
        let mut sum = vec![0.0f32; dim];
        for (e, _) in embeddings
            .iter()
            .zip(labels)
            .filter(|(_, l)| **l == speaker)
        {
            let norm = e.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
            sum.iter_mut().zip(e).for_each(|(s, x)| *s += x / norm);
        }
        sum
    };
    let centroids: Vec<Vec<f32>> = (0..speakers).map(centroid).collect();
    let cosine = |a: &[f32], b: &[f32]| {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        dot / (norm(a) * norm(b))
    };
    let target: Vec<usize> = (0..speakers)
        .map(|s| {
            if major[s] {
                return s;
            }
            (0..speakers)
                .filter(|&m| major[m])
                .max_by(|&a, &b| {
                    cosine(&centroids[s], &centroids[a])
                        .total_cmp(&cosine(&centroids[s], &centroids[b]))
                })
                .unwrap_or(s)
        })
        .collect();
    renumber(labels.iter().map(|&l| target[l]))
}

/// Labels from 0 in order of first appearance.
fn renumber(labels: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut seen: Vec<usize> = Vec::new();
    labels
        .map(|l| match seen.iter().position(|&s| s == l) {
            Some(i) => i,
            None => {
                seen.push(l);
                seen.len() - 1
            }
        })
        .collect()
}

/// Every 10 ms of speech takes the label of the window centred nearest to it (spans too short
/// for a window take the nearest window's); runs of one label become turns.
fn turns_from_windows(
    speech: &[SpeechSpan],
    windows: &[Window],
    labels: &[usize],
) -> Vec<SpeakerTurn> {
    let rate = f64::from(SAMPLE_RATE);
    let mut turns: Vec<SpeakerTurn> = Vec::new();
    let mut nearest = 0usize;
    for span in speech {
        let (start, end) = (span.start as f64 / rate, span.end as f64 / rate);
        let mut time = start;
        while time < end {
            let frame_end = (time + FRAME_SECONDS).min(end);
            let centre = (time + frame_end) / 2.0;
            // Windows are in time order, so the nearest one only moves forward.
            while nearest + 1 < windows.len()
                && (windows[nearest + 1].centre() - centre).abs()
                    <= (windows[nearest].centre() - centre).abs()
            {
                nearest += 1;
            }
            let speaker = labels[nearest];
            match turns.last_mut() {
                Some(turn) if turn.speaker == speaker && time - turn.end < 1e-9 => {
                    turn.end = frame_end
                }
                _ => turns.push(SpeakerTurn {
                    start: time,
                    end: frame_end,
                    speaker,
                }),
            }
            time = frame_end;
        }
    }
    turns
}

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

/// Labels the words and segments of `transcript` with the speakers of `turns`, splitting
/// segments where their words change speaker, and lists the speakers in order of appearance.
pub fn label_transcript(transcript: &mut Transcript, turns: &[SpeakerTurn]) {
    label_with(transcript, &mut |start, end| speaker_at(turns, start, end));
}

/// Labels by channel: `levels[c]` is the energy of channel `c` per 10 ms (see
/// [`crate::audio::Audio::channel_levels`]). A word goes to the channel clearly louder than the
/// others over it (by [`CHANNEL_DOMINANCE`]); when none is, it stays with the speaker before it,
/// so a recording whose channels carry the same voice is one speaker.
pub fn by_channel(transcript: &mut Transcript, levels: &[Vec<f32>]) {
    let mut previous: Option<usize> = None;
    let mut assign = |start: f64, end: f64| {
        let first = (start / FRAME_SECONDS).floor() as usize;
        let last = ((end / FRAME_SECONDS).ceil() as usize).max(first + 1);
        let mut energies: Vec<(usize, f32)> = levels
            .iter()
            .map(|level| level.iter().skip(first).take(last - first).sum::<f32>())
            .enumerate()
            .collect();
        energies.sort_by(|a, b| b.1.total_cmp(&a.1));
        let (loudest, energy) = energies[0];
        if previous.is_none() || energy >= CHANNEL_DOMINANCE * energies[1].1 {
            previous = Some(loudest);
        }
        previous
    };
    label_with(transcript, &mut assign);
}

fn label_with(transcript: &mut Transcript, speaker_of: &mut dyn FnMut(f64, f64) -> Option<usize>) {
    let mut segments = Vec::with_capacity(transcript.segments.len());
    for segment in std::mem::take(&mut transcript.segments) {
        segments.extend(split_by_speaker(segment, &mut *speaker_of));
    }
    // Labels in order of first appearance in the transcript.
    let mut first_seen: Vec<usize> = Vec::new();
    for raw in segments
        .iter()
        .flat_map(|p| p.word_speakers.iter().copied().chain([p.speaker_index]))
        .flatten()
    {
        if !first_seen.contains(&raw) {
            first_seen.push(raw);
        }
    }
    let label_of = |raw: usize| first_seen.iter().position(|&r| r == raw).map(speaker_label);
    for (id, piece) in segments.iter_mut().enumerate() {
        piece.segment.id = id;
        piece.segment.speaker = piece.speaker_index.and_then(label_of);
        for (word, raw) in piece.segment.words.iter_mut().zip(&piece.word_speakers) {
            word.speaker = raw.and_then(label_of);
        }
    }
    transcript.speakers = (0..first_seen.len()).map(speaker_label).collect();
    transcript.segments = segments.into_iter().map(|p| p.segment).collect();
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
    speaker_of: &mut dyn FnMut(f64, f64) -> Option<usize>,
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
