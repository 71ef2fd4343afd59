//! Sample-rate conversion to 16 kHz with rubato's FFT resampler.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::SAMPLE_RATE;
use crate::{Error, Result};

/// Target FFT block size (frames on the larger side of the conversion).
const TARGET_BLOCK: usize = 1024;

/// Highest input rate accepted. Far above any real audio; it bounds the FFT size (which grows
/// with `rate / gcd(rate, 16000)`) for nonsense rates from damaged headers.
const MAX_RATE: u32 = 2_000_000;

/// The chunk size to give rubato's [`Fft`] with [`FixedSync::Both`] for `rate` → 16 kHz.
///
/// rubato's block sizes are multiples of the smallest blocks the rate pair allows
/// (`rate / gcd` input and `16000 / gcd` output frames). The multiple is made even: rubato
/// centres its filter at `floor(n / 2)` of an `n`-point block but trims `n / 2` frames of delay,
/// so an odd block (e.g. 1323 = 3 × 441 at 44.1 kHz) would shift the output half an input
/// sample early.
fn chunk_size(rate: u32) -> usize {
    let g = gcd(rate, SAMPLE_RATE);
    let min_in = (rate / g) as usize;
    let min_out = (SAMPLE_RATE / g) as usize;
    let blocks = TARGET_BLOCK.div_ceil(min_in.max(min_out)).max(1);
    (blocks + blocks % 2) * min_in
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Resamples mono `samples` recorded at `rate` Hz to [`SAMPLE_RATE`] (16 kHz).
///
/// The output is time-aligned with the input (the resampler's delay is trimmed) and holds
/// `ceil(samples.len() * 16000 / rate)` samples. Input already at 16 kHz is returned unchanged.
///
/// # Errors
/// [`Error::InvalidOption`] if `rate` is 0 or above 2 MHz; [`Error::CorruptAudio`] if the
/// resampler fails.
pub fn resample_to_16k(samples: &[f32], rate: u32) -> Result<Vec<f32>> {
    if rate == 0 || rate > MAX_RATE {
        return Err(Error::InvalidOption(format!(
            "cannot resample audio from a sample rate of {rate} Hz"
        )));
    }
    resample(samples, rate).map_err(Error::CorruptAudio)
}

/// [`resample_to_16k`] with the error as a bare message, for callers that add context.
pub(super) fn resample(samples: &[f32], rate: u32) -> std::result::Result<Vec<f32>, String> {
    if rate == SAMPLE_RATE || samples.is_empty() {
        return Ok(samples.to_vec());
    }
    if rate == 0 || rate > MAX_RATE {
        return Err(format!("invalid sample rate {rate} Hz"));
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
        chunk_size(rate),
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

#[cfg(test)]
mod tests {
    use super::chunk_size;

    #[test]
    fn blocks_are_even() {
        for rate in [
            8000, 11025, 22050, 44100, 48000, 44101, 96000, 1, 7, 2_000_000,
        ] {
            let chunk = chunk_size(rate);
            let out = chunk as u64 * 16000 / u64::from(rate);
            assert!(
                chunk.is_multiple_of(2) && out.is_multiple_of(2),
                "{rate}: {chunk} -> {out}"
            );
            assert!(
                chunk <= 4_000_000 && out <= 100_000,
                "{rate}: {chunk} -> {out}"
            );
        }
    }
}
