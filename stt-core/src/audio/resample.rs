//! Sample-rate conversion to 16 kHz with rubato's FFT resampler.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::SAMPLE_RATE;
use crate::{Error, Result};

/// Chunk size handed to rubato. rubato rounds it to a multiple of the smallest block the rate
/// pair allows (441 input frames for 44.1 kHz → 16 kHz, 3 for 48 kHz → 16 kHz).
const CHUNK: usize = 1024;

/// Resamples mono `samples` recorded at `rate` Hz to [`SAMPLE_RATE`] (16 kHz).
///
/// The output is time-aligned with the input (the resampler's delay is trimmed) and holds
/// `ceil(samples.len() * 16000 / rate)` samples. Input already at 16 kHz is returned unchanged.
///
/// # Errors
/// [`Error::InvalidOption`] if `rate` is 0; [`Error::CorruptAudio`] if the resampler fails.
pub fn resample_to_16k(samples: &[f32], rate: u32) -> Result<Vec<f32>> {
    if rate == 0 {
        return Err(Error::InvalidOption(
            "cannot resample audio with a sample rate of 0 Hz".into(),
        ));
    }
    resample(samples, rate).map_err(Error::CorruptAudio)
}

/// [`resample_to_16k`] with the error as a bare message, for callers that add context.
pub(super) fn resample(samples: &[f32], rate: u32) -> std::result::Result<Vec<f32>, String> {
    if rate == SAMPLE_RATE || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    let fail = |what: &str, err: &dyn std::fmt::Display| {
        format!(
            "resampling {} samples from {rate} Hz to {SAMPLE_RATE} Hz failed ({what}): {err}",
            samples.len()
        )
    };
    let mut resampler = Fft::<f32>::new(
        rate as usize,
        SAMPLE_RATE as usize,
        CHUNK,
        1,
        FixedSync::Both,
    )
    .map_err(|e| fail("creating the resampler", &e))?;
    let input = InterleavedSlice::new(samples, 1, samples.len())
        .map_err(|e| fail("wrapping the input", &e))?;
    // `process_all` trims the resampler's startup delay and the padding at the end, so the
    // output starts at the same instant as the input and has exactly ceil(len * ratio) frames.
    let output = resampler
        .process_all(&input, samples.len(), None)
        .map_err(|e| fail("processing", &e))?;
    Ok(output.take_data())
}
