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
//! For recordings with one speaker per channel, [`distinct_channels`] and [`merge_channels`]
//! label each channel's own transcription instead.

mod cluster;
mod fbank;
mod labels;

use std::path::Path;

use crate::audio::{SAMPLE_RATE, SampleSource};
use crate::model::{CancelToken, LoadOptions, SPEAKER_FEATURE_BINS, SpeakerModel};
use crate::store::{self, ModelKind, SPEAKER_MODEL};
use crate::vad::{SpeechSpan, VadOptions};
use crate::{Error, Result};
use cluster::{Cut, agglomerate, normalized};
use fbank::Fbank;
pub use labels::{distinct_channels, label_transcript, merge_channels};

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
/// Resolution of speaker turns.
const FRAME_SECONDS: f64 = 0.01;

/// A stretch of speech by one speaker (a cluster index; [`label_transcript`] numbers the
/// speakers in order of appearance).
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
        samples: &dyn SampleSource,
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
        samples: &dyn SampleSource,
        windows: &[Window],
        cancel: &CancelToken,
    ) -> Result<Vec<Vec<f32>>> {
        let mut embeddings = vec![Vec::new(); windows.len()];
        // Windows of equal length go through the model together; features are computed a batch
        // at a time, so memory does not grow with the recording.
        let length = |i: usize| windows[i].end - windows[i].start;
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| length(i));
        for group in order.chunk_by(|&a, &b| length(a) == length(b)) {
            for batch in group.chunks(BATCH) {
                cancel.check()?;
                let mut input = Vec::new();
                for &i in batch {
                    let window = samples.read_range(windows[i].start..windows[i].end)?;
                    input.extend(mean_normalized(self.fbank.compute(&window)));
                }
                let frames = input.len() / batch.len() / SPEAKER_FEATURE_BINS;
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

/// Speakers heard too little to be real (a cough, a laugh, a noisy window) join the speaker
/// whose mean embedding is the most similar.
fn absorb_minor_speakers(
    embeddings: &[Vec<f32>],
    labels: &[usize],
    windows: &[Window],
) -> Vec<usize> {
    let speakers = labels.iter().max().map_or(0, |m| m + 1);
    let mut heard = vec![0.0f64; speakers];
    for (label, window) in labels.iter().zip(windows) {
        heard[*label] += (window.end - window.start) as f64 / f64::from(SAMPLE_RATE);
    }
    let total: f64 = heard.iter().sum();
    let major: Vec<bool> = heard
        .iter()
        .map(|&h| h >= MIN_SPEAKER_SECONDS || h >= MIN_SPEAKER_SHARE * total)
        .collect();
    if major.iter().all(|&m| m) || !major.iter().any(|&m| m) {
        return labels.to_vec();
    }
    // Unit-length means of unit-length embeddings: their dot product is the cosine.
    let centroids: Vec<Vec<f32>> = (0..speakers)
        .map(|speaker| {
            let mut sum = vec![0.0f32; embeddings[0].len()];
            for (embedding, _) in embeddings
                .iter()
                .zip(labels)
                .filter(|(_, l)| **l == speaker)
            {
                let unit = normalized(embedding);
                sum.iter_mut().zip(&unit).for_each(|(s, x)| *s += x);
            }
            normalized(&sum)
        })
        .collect();
    let similarity = |a: usize, b: usize| -> f32 {
        centroids[a]
            .iter()
            .zip(&centroids[b])
            .map(|(x, y)| x * y)
            .sum()
    };
    let target: Vec<usize> = (0..speakers)
        .map(|s| {
            if major[s] {
                return s;
            }
            (0..speakers)
                .filter(|&m| major[m])
                .max_by(|&a, &b| similarity(s, a).total_cmp(&similarity(s, b)))
                .unwrap_or(s)
        })
        .collect();
    labels.iter().map(|&l| target[l]).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_long_spans_and_skip_tiny_ones() {
        let span = |s: f64, e: f64| SpeechSpan {
            start: (s * 16_000.0) as usize,
            end: (e * 16_000.0) as usize,
        };
        let found = windows(&[span(0.0, 0.3), span(1.0, 2.0), span(3.0, 6.2)]);
        let seconds: Vec<(f64, f64)> = found
            .iter()
            .map(|w| (w.start as f64 / 16_000.0, w.end as f64 / 16_000.0))
            .collect();
        assert_eq!(
            seconds,
            [(1.0, 2.0), (3.0, 4.5), (3.75, 5.25), (4.5, 6.0), (4.7, 6.2)]
        );
    }
}
