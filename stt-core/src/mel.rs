//! Log-mel spectrogram exactly as openai-whisper computes it (`whisper/audio.py`):
//! STFT (n_fft 400, hop 160, periodic Hann, centred with reflect padding, last frame dropped),
//! power spectrum, Slaney mel filterbank, `log10(max(x, 1e-10))`, floor at max − 8,
//! then `(x + 4) / 4`.

use std::ops::Range;
use std::sync::Arc;

use rustfft::{Fft, FftPlanner, num_complex::Complex};

use crate::Result;
use crate::audio::{SAMPLE_RATE, SampleSource};

/// Window size of the short-time Fourier transform, in samples (25 ms).
pub const N_FFT: usize = 400;
/// Hop between frames, in samples (10 ms).
pub const HOP_LENGTH: usize = 160;
/// One model window: 30 s of audio.
pub const CHUNK_SECONDS: usize = 30;
pub const N_SAMPLES: usize = CHUNK_SECONDS * SAMPLE_RATE as usize;
/// Mel frames in one model window.
pub const N_FRAMES: usize = N_SAMPLES / HOP_LENGTH;
/// Seconds per mel frame.
pub const FRAME_SECONDS: f64 = HOP_LENGTH as f64 / SAMPLE_RATE as f64;

const N_FREQS: usize = N_FFT / 2 + 1;

/// A log-mel spectrogram, stored mel-bin major: `data[bin * n_frames + frame]`.
#[derive(Debug, Clone)]
pub struct LogMel {
    pub n_mels: usize,
    pub n_frames: usize,
    pub data: Vec<f32>,
}

impl LogMel {
    /// `frames` frames from `start` as a model input `[n_mels, N_FRAMES]`; the rest is zero, as
    /// in openai-whisper's and faster-whisper's `pad_or_trim` of the feature matrix.
    pub fn window(&self, start: usize, frames: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; self.n_mels * N_FRAMES];
        let available = self
            .n_frames
            .saturating_sub(start)
            .min(frames)
            .min(N_FRAMES);
        if available == 0 {
            // `start` may lie past the end, where the slicing below would not.
            return out;
        }
        for bin in 0..self.n_mels {
            let src = &self.data[bin * self.n_frames + start..][..available];
            out[bin * N_FRAMES..][..available].copy_from_slice(src);
        }
        out
    }
}

/// Computes log-mel spectrograms for one filterbank size; build once, reuse per file.
pub struct MelExtractor {
    n_mels: usize,
    /// Per mel bin, its first frequency bin and the nonzero run of its triangle (a tenth of
    /// the spectrum at most), so the filterbank costs what the triangles cover.
    filters: Vec<(usize, Vec<f32>)>,
    window: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
}

impl MelExtractor {
    pub fn new(n_mels: usize) -> Self {
        // Periodic Hann: torch.hann_window(N_FFT) divides by N, not N - 1.
        let window = (0..N_FFT)
            .map(|i| {
                let phase = 2.0 * std::f64::consts::PI * i as f64 / N_FFT as f64;
                (0.5 - 0.5 * phase.cos()) as f32
            })
            .collect();
        Self {
            n_mels,
            filters: slaney_mel_filters(n_mels)
                .chunks(N_FREQS)
                .map(|row| {
                    let first = row.iter().position(|&w| w != 0.0).unwrap_or(0);
                    let end = row.iter().rposition(|&w| w != 0.0).map_or(first, |i| i + 1);
                    (first, row[first..end].to_vec())
                })
                .collect(),
            window,
            fft: FftPlanner::new().plan_fft_forward(N_FFT),
        }
    }

    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Log-mel of `samples` (16 kHz mono) followed by `padding` zero samples; openai-whisper pads
    /// with a whole window (`N_SAMPLES`) so that the last window of speech is complete.
    pub fn compute(&self, samples: &[f32], padding: usize) -> LogMel {
        let total = samples.len() + padding;
        let n_frames = total / HOP_LENGTH;
        let mut data = vec![0.0f32; self.n_mels * n_frames];
        let max = self.raw_log_mel(total, 0, samples, 0..n_frames, &mut data, n_frames);
        normalize(&mut data, max - 8.0);
        LogMel {
            n_mels: self.n_mels,
            n_frames,
            data,
        }
    }

    /// The same spectrogram as [`Self::compute`] of `source` followed by `padding` zeros, as
    /// model windows computed on demand: one pass over the audio now to find the global maximum
    /// (the floor is `max - 8`), then each window from only the samples it needs. Memory does
    /// not grow with the length of the audio.
    pub fn windows<'a>(
        &'a self,
        source: &'a dyn SampleSource,
        padding: usize,
    ) -> Result<MelWindows<'a>> {
        let total = source.len() + padding;
        let n_frames = total / HOP_LENGTH;
        let mut max = f32::NEG_INFINITY;
        let mut out = vec![0.0f32; self.n_mels * N_FRAMES];
        for start in (0..n_frames).step_by(N_FRAMES) {
            let frames = start..(start + N_FRAMES).min(n_frames);
            let (base, chunk) = read_for_frames(source, total, frames.clone())?;
            max = max.max(self.raw_log_mel(total, base, &chunk, frames, &mut out, N_FRAMES));
        }
        Ok(MelWindows {
            extractor: self,
            source,
            total,
            n_frames,
            floor: max - 8.0,
        })
    }

    /// `log10(max(mel energy, 1e-10))` of `frames` of a signal `total` samples long (the audio
    /// then its zero padding) whose samples from `base` on are `chunk`, zero past it; written to
    /// `out[mel * stride + frame - frames.start]`. Returns the largest value. `chunk` must hold
    /// every audio sample those frames read (see [`needed_samples`]).
    fn raw_log_mel(
        &self,
        total: usize,
        base: usize,
        chunk: &[f32],
        frames: Range<usize>,
        out: &mut [f32],
        stride: usize,
    ) -> f32 {
        let sample_at = |i: isize| {
            let j = reflect(i, total);
            j.checked_sub(base)
                .and_then(|k| chunk.get(k))
                .copied()
                .unwrap_or(0.0)
        };
        let silent_log = 0.0f32.max(1e-10).log10();
        let mut buffer = vec![Complex::new(0.0f32, 0.0); N_FFT];
        let mut scratch = vec![Complex::new(0.0f32, 0.0); self.fft.get_inplace_scratch_len()];
        let mut power = [0.0f32; N_FREQS];
        let mut max = f32::NEG_INFINITY;
        for (column, frame) in frames.enumerate() {
            let origin = (frame * HOP_LENGTH) as isize - (N_FFT / 2) as isize;
            let mut silent = true;
            for (k, slot) in buffer.iter_mut().enumerate() {
                let sample = sample_at(origin + k as isize);
                silent &= sample == 0.0;
                *slot = Complex::new(sample * self.window[k], 0.0);
            }
            // The padding's frames are silent: their spectrum is zero, no transform needed.
            if silent {
                for mel in 0..self.n_mels {
                    out[mel * stride + column] = silent_log;
                }
                max = max.max(silent_log);
                continue;
            }
            self.fft.process_with_scratch(&mut buffer, &mut scratch);
            for (p, value) in power.iter_mut().zip(&buffer[..N_FREQS]) {
                *p = value.norm_sqr();
            }
            for (mel, (first, filter)) in self.filters.iter().enumerate() {
                let spectrum = &power[*first..][..filter.len()];
                let energy: f32 = filter.iter().zip(spectrum).map(|(f, p)| f * p).sum();
                let log = energy.max(1e-10).log10();
                max = max.max(log);
                out[mel * stride + column] = log;
            }
        }
        max
    }
}

/// The spectrogram of a [`SampleSource`] plus zero padding, computed a model window at a time;
/// made by [`MelExtractor::windows`].
pub struct MelWindows<'a> {
    extractor: &'a MelExtractor,
    source: &'a dyn SampleSource,
    /// Samples in the padded signal.
    total: usize,
    /// Frames in the whole spectrogram, as [`LogMel::n_frames`].
    pub n_frames: usize,
    /// `max - 8` over the whole spectrogram, in log10 units.
    floor: f32,
}

impl MelWindows<'_> {
    pub fn n_mels(&self) -> usize {
        self.extractor.n_mels
    }

    /// Exactly [`LogMel::window`] of the whole spectrogram: `frames` frames from `start` as a
    /// model input `[n_mels, N_FRAMES]`, zero past them and past the end.
    pub fn window(&self, start: usize, frames: usize) -> Result<Vec<f32>> {
        self.window_of_width(start, frames, N_FRAMES)
    }

    /// [`Self::window`] `width` frames wide (at most [`N_FRAMES`]): the spectrogram past
    /// `frames` is left out when it does not fit, and zero past the end.
    pub fn window_of_width(&self, start: usize, frames: usize, width: usize) -> Result<Vec<f32>> {
        let width = width.min(N_FRAMES);
        let mut out = vec![0.0f32; self.n_mels() * width];
        let available = self.n_frames.saturating_sub(start).min(frames).min(width);
        if available == 0 {
            return Ok(out);
        }
        let range = start..start + available;
        let (base, chunk) = read_for_frames(self.source, self.total, range.clone())?;
        self.extractor
            .raw_log_mel(self.total, base, &chunk, range, &mut out, width);
        for row in out.chunks_mut(width) {
            normalize(&mut row[..available], self.floor);
        }
        Ok(out)
    }
}

/// openai-whisper's `(max(x, floor) + 4) / 4`.
fn normalize(values: &mut [f32], floor: f32) {
    for value in values {
        *value = (value.max(floor) + 4.0) / 4.0;
    }
}

/// Index into a signal of `len` samples of position `i` of the STFT's input: reflect padding of
/// `N_FFT / 2` at both ends (torch.stft center=True), clamped for signals shorter than that.
fn reflect(i: isize, len: usize) -> usize {
    let len = len as isize;
    let j = if i < 0 {
        -i
    } else if i >= len {
        2 * (len - 1) - i
    } else {
        i
    };
    j.clamp(0, len.max(1) - 1) as usize
}

/// The range of the padded signal (`total` samples) that `frames` read. `reflect` is monotonic
/// between its break points, so the extremes lie at the ends of the range or at those points.
fn needed_samples(total: usize, frames: &Range<usize>) -> Range<usize> {
    let first = (frames.start * HOP_LENGTH) as isize - (N_FFT / 2) as isize;
    let last = ((frames.end - 1) * HOP_LENGTH + N_FFT / 2) as isize - 1;
    let len = total as isize;
    let candidates = [first, last, -1, 0, len - 1, len];
    let reflected = candidates
        .into_iter()
        .filter(|i| (first..=last).contains(i))
        .map(|i| reflect(i, total));
    let (lo, hi) = reflected.fold((usize::MAX, 0), |(lo, hi), j| (lo.min(j), hi.max(j)));
    lo..hi + 1
}

/// The audio samples `frames` need, and where they start; the padding is not read.
fn read_for_frames(
    source: &dyn SampleSource,
    total: usize,
    frames: Range<usize>,
) -> Result<(usize, Vec<f32>)> {
    let needed = needed_samples(total, &frames);
    Ok((needed.start, source.read_range(needed)?))
}

/// librosa.filters.mel(sr=16000, n_fft=400, n_mels, htk=False, norm="slaney"), row-major
/// `[n_mels, N_FREQS]`.
fn slaney_mel_filters(n_mels: usize) -> Vec<f32> {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;
    let log_step = 6.4f64.ln() / 27.0;
    let hz_to_mel = |hz: f64| {
        if hz >= MIN_LOG_HZ {
            MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / log_step
        } else {
            hz / F_SP
        }
    };
    let mel_to_hz = |mel: f64| {
        if mel >= MIN_LOG_MEL {
            MIN_LOG_HZ * (log_step * (mel - MIN_LOG_MEL)).exp()
        } else {
            mel * F_SP
        }
    };

    let nyquist = SAMPLE_RATE as f64 / 2.0;
    let fft_freqs: Vec<f64> = (0..N_FREQS)
        .map(|i| i as f64 * nyquist / (N_FREQS - 1) as f64)
        .collect();
    let max_mel = hz_to_mel(nyquist);
    let mel_freqs: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(max_mel * i as f64 / (n_mels + 1) as f64))
        .collect();

    let mut filters = vec![0.0f32; n_mels * N_FREQS];
    for mel in 0..n_mels {
        let (lower, centre, upper) = (mel_freqs[mel], mel_freqs[mel + 1], mel_freqs[mel + 2]);
        let norm = 2.0 / (upper - lower);
        for (bin, &freq) in fft_freqs.iter().enumerate() {
            let rising = (freq - lower) / (centre - lower);
            let falling = (upper - freq) / (upper - centre);
            filters[mel * N_FREQS + bin] = (rising.min(falling).max(0.0) * norm) as f32;
        }
    }
    filters
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_matches_whisper() {
        let mel = MelExtractor::new(80).compute(&vec![0.0; 16_000], N_SAMPLES);
        assert_eq!(mel.n_frames, (16_000 + N_SAMPLES) / HOP_LENGTH);
        assert_eq!(mel.data.len(), 80 * mel.n_frames);
    }

    #[test]
    fn filterbank_rows_cover_the_spectrum() {
        for n_mels in [80, 128] {
            let filters = slaney_mel_filters(n_mels);
            for row in filters.chunks(N_FREQS) {
                assert!(row.iter().any(|&w| w > 0.0), "empty mel filter");
            }
        }
    }

    #[test]
    fn a_pure_tone_peaks_in_the_right_mel_bin() {
        let tone: Vec<f32> = (0..N_SAMPLES)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 16_000.0).sin() * 0.5)
            .collect();
        let mel = MelExtractor::new(80).compute(&tone, 0);
        let frame = mel.n_frames / 2;
        let loudest = (0..80)
            .max_by(|&a, &b| {
                let (x, y) = (
                    mel.data[a * mel.n_frames + frame],
                    mel.data[b * mel.n_frames + frame],
                );
                x.total_cmp(&y)
            })
            .unwrap();
        // 1 kHz is 15 Slaney mels; bins are ~0.57 mel wide at 80 bins up to 8 kHz: bin ≈ 26.
        assert!((25..=27).contains(&loudest), "loudest bin {loudest}");
    }

    #[test]
    fn window_pads_with_zeros_past_the_end() {
        let mel = MelExtractor::new(80).compute(&vec![0.1; 3_200], 0);
        let window = mel.window(0, 10);
        assert_eq!(window.len(), 80 * N_FRAMES);
        assert_eq!(window[9], mel.data[9]);
        assert_eq!(window[10], 0.0, "only the frames asked for");
        assert_eq!(window[N_FRAMES - 1], 0.0);
        assert_eq!(window[0], mel.data[0]);
    }

    /// 75 s: a chirp with deterministic noise, then 10 s of digital silence, then noise.
    fn test_signal() -> Vec<f32> {
        let mut state = 0x2545_f491u32;
        (0..75 * 16_000)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                let noise = (state as f32 / u32::MAX as f32 - 0.5) * 0.02;
                let t = i as f32 / 16_000.0;
                match i / 16_000 {
                    40..50 => 0.0,
                    50.. => noise * 5.0,
                    _ => (2.0 * std::f32::consts::PI * (100.0 + 50.0 * t) * t).sin() * 0.3 + noise,
                }
            })
            .collect()
    }

    fn assert_windows_match(samples: &[f32], padding: usize, starts: &[usize]) {
        let extractor = MelExtractor::new(80);
        let whole = extractor.compute(samples, padding);
        // `[f32]` is unsized, so not a trait object: go through a `Vec`.
        let source = samples.to_vec();
        let windows = extractor.windows(&source, padding).unwrap();
        assert_eq!(windows.n_frames, whole.n_frames);
        assert_eq!(windows.n_mels(), 80);
        for &start in starts {
            for frames in [N_FRAMES, N_FRAMES - 1, 1234, 1, 0] {
                let expected: Vec<u32> = whole
                    .window(start, frames)
                    .iter()
                    .map(|v| v.to_bits())
                    .collect();
                let actual: Vec<u32> = windows
                    .window(start, frames)
                    .unwrap()
                    .iter()
                    .map(|v| v.to_bits())
                    .collect();
                assert!(
                    expected == actual,
                    "padding {padding}, start {start}, frames {frames}"
                );
            }
        }
    }

    #[test]
    fn windows_match_the_whole_spectrogram() {
        let samples = test_signal();
        for padding in [N_SAMPLES, 0] {
            let n_frames = (samples.len() + padding) / HOP_LENGTH;
            let starts = [
                0,
                1,
                1234,
                3999,
                n_frames - N_FRAMES + 7,
                n_frames - 1,
                n_frames,
                n_frames + 5,
            ];
            assert_windows_match(&samples, padding, &starts);
        }
    }

    #[test]
    fn windows_of_tiny_inputs_match() {
        for len in [0, 1, 100, 201, 399] {
            let samples: Vec<f32> = (0..len)
                .map(|i| ((i * 7919) % 101) as f32 / 200.0 - 0.25)
                .collect();
            for padding in [0, 37, 400, N_SAMPLES] {
                assert_windows_match(&samples, padding, &[0, 1, 2]);
            }
        }
    }
}
