//! Sample-rate conversion (to 16 kHz for the models of transcription) with rubato's FFT
//! resampler.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler};

use super::SAMPLE_RATE;
use crate::{Error, Result};

/// Target FFT block size (frames on the larger side of the conversion).
const TARGET_BLOCK: usize = 1024;

/// Highest input rate accepted. Far above any real audio; it bounds the FFT size (which grows
/// with `rate / gcd(rate, 16000)`) for nonsense rates from damaged headers.
const MAX_RATE: u32 = 2_000_000;

/// The chunk size to give rubato's [`Fft`] with [`FixedSync::Both`] for `rate` → `target`.
///
/// rubato's block sizes are multiples of the smallest blocks the rate pair allows
/// (`rate / gcd` input and `16000 / gcd` output frames). The multiple is made even: rubato
/// centres its filter at `floor(n / 2)` of an `n`-point block but trims `n / 2` frames of delay,
/// so an odd block (e.g. 1323 = 3 × 441 at 44.1 kHz) would shift the output half an input
/// sample early.
fn chunk_size(rate: u32, target: u32) -> usize {
    let g = gcd(rate, target);
    let min_in = (rate / g) as usize;
    let min_out = (target / g) as usize;
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
/// `ceil(samples.len() * 16000 / rate)` samples. Samples past full scale are clipped to
/// `[-1, 1]` and NaN or infinite ones silenced, at any rate (16 kHz input is otherwise returned
/// as it is).
///
/// # Errors
/// [`Error::InvalidOption`] if `rate` is 0 or above 2 MHz; [`Error::CorruptAudio`] if the
/// resampler fails.
pub fn resample_to_16k(samples: &[f32], rate: u32) -> Result<Vec<f32>> {
    resample(samples, rate, SAMPLE_RATE)
}

/// [`resample_to_16k`] to any `target` rate (`ceil(samples.len() * target / rate)` samples).
pub fn resample(samples: &[f32], rate: u32, target: u32) -> Result<Vec<f32>> {
    for rate in [rate, target] {
        if rate == 0 || rate > MAX_RATE {
            return Err(Error::InvalidOption(format!(
                "cannot resample audio at a sample rate of {rate} Hz"
            )));
        }
    }
    let samples = clean(samples);
    if rate == target || samples.is_empty() {
        return Ok(samples);
    }
    let mut out = Vec::new();
    let mut resampler = StreamResampler::new(rate, target).map_err(Error::CorruptAudio)?;
    resampler
        .push(&samples, &mut |piece| out.extend_from_slice(piece))
        .and_then(|()| resampler.finish(&mut |piece| out.extend_from_slice(piece)))
        .map_err(Error::CorruptAudio)?;
    Ok(out)
}

/// Samples within full scale, NaN and infinities silenced: what the resampler takes (its FFT
/// fails on them) and what it gives (it can overshoot slightly).
pub(super) fn clean(samples: &[f32]) -> Vec<f32> {
    samples
        .iter()
        .map(|s| {
            if s.is_finite() {
                s.clamp(-1.0, 1.0)
            } else {
                0.0
            }
        })
        .collect()
}

/// Resamples mono audio that arrives in pieces, to the same output as rubato's `process_all`
/// of the whole: the startup delay trimmed, exactly `ceil(len * target / rate)` samples.
pub(super) struct StreamResampler {
    resampler: Fft<f32>,
    rate: u32,
    target: u32,
    /// Input not yet processed; at least one sample is kept back for the last (partial) chunk.
    pending: Vec<f32>,
    output: Vec<f32>,
    input_len: usize,
    emitted: usize,
    /// Output samples of the startup delay still to drop.
    to_trim: usize,
}

impl StreamResampler {
    pub(super) fn new(rate: u32, target: u32) -> std::result::Result<Self, String> {
        if rate == 0 || rate > MAX_RATE {
            return Err(format!("invalid sample rate {rate} Hz"));
        }
        let resampler = Fft::<f32>::new(
            rate as usize,
            target as usize,
            chunk_size(rate, target),
            1,
            FixedSync::Both,
        )
        .map_err(|e| format!("creating the resampler from {rate} Hz failed: {e}"))?;
        Ok(Self {
            to_trim: resampler.output_delay(),
            output: vec![0.0; resampler.output_frames_max()],
            resampler,
            rate,
            target,
            pending: Vec::new(),
            input_len: 0,
            emitted: 0,
        })
    }

    /// Adds input; hands out the output it completes.
    pub(super) fn push(
        &mut self,
        samples: &[f32],
        out: &mut dyn FnMut(&[f32]),
    ) -> std::result::Result<(), String> {
        self.input_len += samples.len();
        self.pending.extend_from_slice(samples);
        let chunk = self.resampler.input_frames_next();
        let mut start = 0;
        // `process_all` keeps a last chunk (whole or partial) for the end: so does this.
        while self.pending.len() - start > chunk {
            let end = start + chunk;
            let consumed = self.process(start..end, None, out)?;
            start += consumed;
        }
        self.pending.drain(..start);
        Ok(())
    }

    /// Processes what is left and the delay's worth of zeros.
    pub(super) fn finish(mut self, out: &mut dyn FnMut(&[f32])) -> std::result::Result<(), String> {
        let expected = self.expected_len();
        let left = self.pending.len();
        if left > 0 {
            self.process(0..left, Some(left), out)?;
        }
        self.pending.clear();
        while self.emitted < expected {
            self.process(0..0, Some(0), out)?;
        }
        Ok(())
    }

    /// Output samples of all the input so far.
    fn expected_len(&self) -> usize {
        (u64::from(self.target) * self.input_len as u64).div_ceil(u64::from(self.rate)) as usize
    }

    /// Runs one chunk of `pending`, emitting output past the delay and up to the expected length.
    fn process(
        &mut self,
        range: std::ops::Range<usize>,
        partial_len: Option<usize>,
        out: &mut dyn FnMut(&[f32]),
    ) -> std::result::Result<usize, String> {
        let fail = |e: &dyn std::fmt::Display| {
            format!(
                "resampling from {} Hz to {} Hz failed: {e}",
                self.rate, self.target
            )
        };
        let input = &self.pending[range];
        let input = InterleavedSlice::new(input, 1, input.len()).map_err(|e| fail(&e))?;
        let frames = self.output.len();
        let mut output =
            InterleavedSlice::new_mut(&mut self.output, 1, frames).map_err(|e| fail(&e))?;
        let indexing = Indexing {
            input_offset: 0,
            output_offset: 0,
            partial_len,
            active_channels_mask: None,
        };
        let (consumed, produced) = self
            .resampler
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| fail(&e))?;
        let trimmed = self.to_trim.min(produced);
        self.to_trim -= trimmed;
        let expected = self.expected_len();
        // Only the last call (from `finish`) can reach past the expected length.
        let wanted = match partial_len {
            Some(_) => (produced - trimmed).min(expected.saturating_sub(self.emitted)),
            None => produced - trimmed,
        };
        out(&self.output[trimmed..trimmed + wanted]);
        self.emitted += wanted;
        Ok(consumed)
    }
}

#[cfg(test)]
mod tests {
    use super::chunk_size;

    #[test]
    fn blocks_are_even() {
        for rate in [
            8000, 11025, 22050, 44100, 48000, 44101, 96000, 1, 7, 2_000_000,
        ] {
            let chunk = chunk_size(rate, 16000);
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
