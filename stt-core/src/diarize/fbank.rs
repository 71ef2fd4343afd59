//! The speaker model's features: Kaldi's `compute-fbank` with its defaults as
//! `torchaudio.compliance.kaldi.fbank` runs them, 80 bins, no dither: 25 ms frames every 10 ms
//! (edges snipped), DC offset removed, pre-emphasis 0.97, Povey window, 512-point power
//! spectrum, triangular bins on Kaldi's mel scale from 20 Hz to 8 kHz, natural log floored at
//! f32 epsilon. The model then wants each window's mean over time removed.

use std::sync::Arc;

use rustfft::{Fft, FftPlanner, num_complex::Complex};

use crate::audio::SAMPLE_RATE;
// The speaker model's input width.
use crate::model::SPEAKER_FEATURE_BINS as BINS;
const FRAME_LENGTH: usize = 400;
const FRAME_SHIFT: usize = 160;
const FFT_SIZE: usize = 512;
const PREEMPHASIS: f32 = 0.97;
const LOW_HZ: f64 = 20.0;

pub struct Fbank {
    fft: Arc<dyn Fft<f32>>,
    window: Vec<f32>,
    /// Per bin: the first FFT bin it covers and its weights from there.
    filters: Vec<(usize, Vec<f32>)>,
}

impl Default for Fbank {
    fn default() -> Self {
        Self::new()
    }
}

impl Fbank {
    pub fn new() -> Self {
        let denominator = (FRAME_LENGTH - 1) as f64;
        let window = (0..FRAME_LENGTH)
            .map(|n| {
                let hann = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / denominator).cos();
                hann.powf(0.85) as f32
            })
            .collect();
        Self {
            fft: FftPlanner::new().plan_fft_forward(FFT_SIZE),
            window,
            filters: mel_filters(),
        }
    }

    /// Frames of `samples` (16 kHz): `1 + (len - 400) / 160`, none below 400 samples.
    pub fn frames(samples: usize) -> usize {
        if samples < FRAME_LENGTH {
            0
        } else {
            1 + (samples - FRAME_LENGTH) / FRAME_SHIFT
        }
    }

    /// Log filterbank energies, frame major: `[frames, BINS]`.
    pub fn compute(&self, samples: &[f32]) -> Vec<f32> {
        let frames = Self::frames(samples.len());
        let mut out = Vec::with_capacity(frames * BINS);
        let mut frame = [0.0f32; FRAME_LENGTH];
        let mut buffer = vec![Complex::new(0.0f32, 0.0); FFT_SIZE];
        for index in 0..frames {
            let start = index * FRAME_SHIFT;
            frame.copy_from_slice(&samples[start..start + FRAME_LENGTH]);
            let mean = frame.iter().sum::<f32>() / FRAME_LENGTH as f32;
            frame.iter_mut().for_each(|x| *x -= mean);
            for i in (1..FRAME_LENGTH).rev() {
                frame[i] -= PREEMPHASIS * frame[i - 1];
            }
            frame[0] -= PREEMPHASIS * frame[0];
            for (slot, (x, w)) in buffer.iter_mut().zip(frame.iter().zip(&self.window)) {
                *slot = Complex::new(x * w, 0.0);
            }
            buffer[FRAME_LENGTH..].fill(Complex::new(0.0, 0.0));
            self.fft.process(&mut buffer);
            for (first, weights) in &self.filters {
                let energy: f32 = weights
                    .iter()
                    .zip(&buffer[*first..])
                    .map(|(w, c)| w * c.norm_sqr())
                    .sum();
                out.push(energy.max(f32::EPSILON).ln());
            }
        }
        out
    }
}

fn kaldi_mel(hz: f64) -> f64 {
    1127.0 * (1.0 + hz / 700.0).ln()
}

/// Kaldi's `MelBanks`: bins equally spaced in mel between 20 Hz and Nyquist, triangles computed
/// in mel over the FFT bins below Nyquist.
fn mel_filters() -> Vec<(usize, Vec<f32>)> {
    let nyquist = f64::from(SAMPLE_RATE) / 2.0;
    let (low, high) = (kaldi_mel(LOW_HZ), kaldi_mel(nyquist));
    let delta = (high - low) / (BINS + 1) as f64;
    let bin_width = f64::from(SAMPLE_RATE) / FFT_SIZE as f64;
    (0..BINS)
        .map(|bin| {
            let left = low + bin as f64 * delta;
            let (centre, right) = (left + delta, left + 2.0 * delta);
            let weights: Vec<(usize, f32)> = (0..FFT_SIZE / 2)
                .filter_map(|k| {
                    let mel = kaldi_mel(bin_width * k as f64);
                    let weight =
                        ((mel - left) / (centre - left)).min((right - mel) / (right - centre));
                    (weight > 0.0).then_some((k, weight as f32))
                })
                .collect();
            let first = weights.first().map_or(0, |(k, _)| *k);
            (first, weights.into_iter().map(|(_, w)| w).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_count_snips_edges() {
        assert_eq!(Fbank::frames(399), 0);
        assert_eq!(Fbank::frames(400), 1);
        assert_eq!(Fbank::frames(16_000), 98);
    }

    #[test]
    fn a_tone_peaks_in_its_bin() {
        let tone: Vec<f32> = (0..16_000)
            .map(|n| (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 16_000.0).sin() * 0.5)
            .collect();
        let fbank = Fbank::new();
        let features = fbank.compute(&tone);
        let frame = &features[10 * BINS..11 * BINS];
        let peak = (0..BINS)
            .max_by(|&a, &b| frame[a].total_cmp(&frame[b]))
            .unwrap();
        // 1 kHz on Kaldi's mel scale between 20 Hz and 8 kHz, 81 steps: bin ~22.
        let expected = ((kaldi_mel(1000.0) - kaldi_mel(LOW_HZ))
            / ((kaldi_mel(8000.0) - kaldi_mel(LOW_HZ)) / 81.0))
            - 1.0;
        assert!(
            (peak as f64 - expected).abs() <= 1.0,
            "peak {peak}, expected {expected}"
        );
    }
}
