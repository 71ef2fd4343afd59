//! Where decoders put audio as it comes: mixed down to mono (and each channel apart when
//! kept), resampled to 16 kHz, cleaned and spooled, with the input checked against the
//! limits of [`DecodeOptions`] before and while it is decoded.

use super::DecodeOptions;
use super::resample::{StreamResampler, clean};
use super::spool::{Samples, SpoolWriter};
use crate::{Error, Result};

/// Sample rates accepted as speech: below, a few bytes would stand for hours of audio (and
/// resample to gigabytes); above, no recorder samples.
pub const SPEECH_SAMPLE_RATES: std::ops::RangeInclusive<u32> = 4_000..=768_000;

/// Channels kept apart at most (each costs a resampler and a spool).
const MAX_KEPT_CHANNELS: usize = 32;

/// Refuses a sample rate outside [`SPEECH_SAMPLE_RATES`] or a declared length over the limit,
/// before anything is decoded.
pub(super) fn check_declared(
    rate: u32,
    frames: Option<u64>,
    options: &DecodeOptions,
) -> Result<()> {
    if !SPEECH_SAMPLE_RATES.contains(&rate) {
        return Err(Error::UnsupportedFormat(format!(
            "a sample rate of {rate} Hz is not speech audio (accepted: {} to {} Hz)",
            SPEECH_SAMPLE_RATES.start(),
            SPEECH_SAMPLE_RATES.end()
        )));
    }
    if let (Some(frames), Some(limit)) = (frames, options.max_seconds) {
        let seconds = frames as f64 / f64::from(rate);
        if seconds > limit {
            return Err(Error::TooLong(format!(
                "lasts {}, longer than the limit of {}",
                clock(seconds),
                clock(limit)
            )));
        }
    }
    Ok(())
}

/// `h:mm:ss` (or `m:ss`) for messages.
fn clock(seconds: f64) -> String {
    let total = seconds.ceil() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    match h {
        0 => format!("{m}:{s:02}"),
        _ => format!("{h}:{m:02}:{s:02}"),
    }
}

pub(super) struct Sink {
    rate: u32,
    channels: usize,
    mono: Lane,
    /// One lane per channel when they are kept apart.
    split: Vec<Lane>,
    frames: u64,
    max_frames: Option<u64>,
    limit_seconds: Option<f64>,
    mixed: Vec<f32>,
}

impl Sink {
    pub(super) fn new(rate: u32, channels: usize, options: &DecodeOptions) -> Result<Self> {
        check_declared(rate, None, options)?;
        let kept = match options.keep_channels && channels > 1 {
            true => channels,
            false => 0,
        };
        if kept > MAX_KEPT_CHANNELS {
            return Err(Error::UnsupportedFormat(format!(
                "{channels} channels cannot be kept apart (at most {MAX_KEPT_CHANNELS})"
            )));
        }
        // The lanes share the memory allowance, so keeping channels does not multiply it.
        let lane = || {
            Lane::new(
                rate,
                options.sample_rate,
                options.memory_samples / (kept + 1),
            )
        };
        let split = (0..kept).map(|_| lane()).collect::<Result<_>>()?;
        Ok(Self {
            rate,
            channels: channels.max(1),
            mono: lane()?,
            split,
            frames: 0,
            max_frames: options
                .max_seconds
                .map(|seconds| (seconds * f64::from(rate)).ceil() as u64),
            limit_seconds: options.max_seconds,
            mixed: Vec::new(),
        })
    }

    pub(super) fn rate(&self) -> u32 {
        self.rate
    }

    pub(super) fn channels(&self) -> usize {
        self.channels
    }

    /// Source frames taken so far.
    pub(super) fn frames(&self) -> u64 {
        self.frames
    }

    /// Seconds of source audio taken so far.
    pub(super) fn seconds(&self) -> f64 {
        self.frames as f64 / f64::from(self.rate)
    }

    /// Adds interleaved frames of [`Self::channels`] channels.
    pub(super) fn push(&mut self, interleaved: &[f32]) -> Result<()> {
        let frames = interleaved.len() / self.channels;
        self.frames += frames as u64;
        if let (Some(max), Some(limit)) = (self.max_frames, self.limit_seconds)
            && self.frames > max
        {
            return Err(Error::TooLong(format!(
                "is longer than the limit of {} (decoding stopped there)",
                clock(limit)
            )));
        }
        // Damaged or hostile float data: NaN, infinities and values past full scale would
        // make the resampler's FFT fail; decoders of integer formats clip there anyway.
        let interleaved = clean(&interleaved[..frames * self.channels]);
        if self.channels == 1 {
            return self.mono.push(&interleaved);
        }
        let scale = 1.0 / self.channels as f32;
        self.mixed.clear();
        self.mixed.extend(
            interleaved
                .chunks_exact(self.channels)
                .map(|frame| frame.iter().sum::<f32>() * scale),
        );
        self.mono.push(&self.mixed)?;
        for (channel, lane) in self.split.iter_mut().enumerate() {
            let samples: Vec<f32> = interleaved
                .iter()
                .skip(channel)
                .step_by(self.channels)
                .copied()
                .collect();
            lane.push(&samples)?;
        }
        Ok(())
    }

    /// The mono samples and each channel's (when kept), all at the options' sample rate.
    pub(super) fn finish(self) -> Result<(Samples, Vec<Samples>)> {
        let mono = self.mono.finish()?;
        let split = self
            .split
            .into_iter()
            .map(Lane::finish)
            .collect::<Result<_>>()?;
        Ok((mono, split))
    }
}

/// One signal on its way to the decoded rate and its spool.
struct Lane {
    resampler: Option<StreamResampler>,
    spool: SpoolWriter,
}

impl Lane {
    fn new(rate: u32, target: u32, memory_samples: usize) -> Result<Self> {
        let resampler = match rate == target {
            true => None,
            false => Some(StreamResampler::new(rate, target).map_err(Error::CorruptAudio)?),
        };
        Ok(Self {
            resampler,
            spool: SpoolWriter::new(memory_samples),
        })
    }

    fn push(&mut self, samples: &[f32]) -> Result<()> {
        let spool = &mut self.spool;
        match &mut self.resampler {
            None => spool.push(&clean(samples)),
            Some(resampler) => {
                let mut failed = Ok(());
                resampler
                    .push(samples, &mut |out| {
                        if failed.is_ok() {
                            failed = spool.push(&clean(out));
                        }
                    })
                    .map_err(Error::CorruptAudio)?;
                failed
            }
        }
    }

    fn finish(mut self) -> Result<Samples> {
        if let Some(resampler) = self.resampler.take() {
            let spool = &mut self.spool;
            let mut failed = Ok(());
            resampler
                .finish(&mut |out| {
                    if failed.is_ok() {
                        failed = spool.push(&clean(out));
                    }
                })
                .map_err(Error::CorruptAudio)?;
            failed?;
        }
        self.spool.finish()
    }
}
