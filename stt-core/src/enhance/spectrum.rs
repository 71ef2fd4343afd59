//! The signal side of DeepFilterNet3, as its reference implementation (libDF) computes it: the
//! short-time spectrum (Vorbis window, 50 % overlap), the features the encoder reads (ERB band
//! energies and normalised low bins, each with a running normalisation), and the gains and
//! deep filter applied to the spectrum.

use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

use crate::model::DeepFilterConfig;

/// Initial states of the running normalisations, from libDF: the ERB energies' means (dB,
/// first to last band) and the low bins' magnitudes.
const MEAN_NORM_INIT: [f32; 2] = [-60.0, -90.0];
const UNIT_NORM_INIT: [f32; 2] = [0.001, 0.0001];

/// Frames in, spectra out, and back.
pub(super) struct Stft {
    hop: usize,
    window: Vec<f32>,
    /// Applied on analysis only, so that analysis then synthesis gives the input back.
    norm: f32,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    analysis_memory: Vec<f32>,
    synthesis_memory: Vec<f32>,
    time: Vec<f32>,
}

impl Stft {
    pub(super) fn new(config: &DeepFilterConfig) -> Self {
        let (size, hop) = (config.fft_size, config.hop_size);
        let mut planner = RealFftPlanner::<f32>::new();
        let half = (size / 2) as f64;
        let window = (0..size)
            .map(|i| {
                let s = (0.5 * std::f64::consts::PI * (i as f64 + 0.5) / half).sin();
                (0.5 * std::f64::consts::PI * s * s).sin() as f32
            })
            .collect();
        Self {
            hop,
            window,
            norm: (2 * hop) as f32 / (size * size) as f32,
            forward: planner.plan_fft_forward(size),
            inverse: planner.plan_fft_inverse(size),
            analysis_memory: vec![0.0; size - hop],
            synthesis_memory: vec![0.0; size - hop],
            time: vec![0.0; size],
        }
    }

    /// The spectrum of the window ending with `frame` (`hop` new samples).
    pub(super) fn analysis(&mut self, frame: &[f32]) -> Vec<Complex32> {
        let kept = self.analysis_memory.len();
        let (old, new) = self.time.split_at_mut(kept);
        for ((x, &y), &w) in old.iter_mut().zip(&self.analysis_memory).zip(&self.window) {
            *x = y * w;
        }
        for ((x, &y), &w) in new.iter_mut().zip(frame).zip(&self.window[kept..]) {
            *x = y * w;
        }
        self.analysis_memory.rotate_left(self.hop);
        self.analysis_memory[kept - self.hop..].copy_from_slice(frame);
        let mut spectrum = self.forward.make_output_vec();
        // Sizes come from the plan itself, the only way this can fail.
        self.forward
            .process(&mut self.time, &mut spectrum)
            .expect("FFT sizes match their plan");
        for x in &mut spectrum {
            *x *= self.norm;
        }
        spectrum
    }

    /// `hop` samples out: the window of `spectrum` overlapped with the previous ones.
    pub(super) fn synthesis(&mut self, spectrum: &mut [Complex32], out: &mut Vec<f32>) {
        // A real signal's spectrum has real ends; the inverse refuses anything else.
        let last = spectrum.len() - 1;
        spectrum[0].im = 0.0;
        spectrum[last].im = 0.0;
        self.inverse
            .process(spectrum, &mut self.time)
            .expect("FFT sizes match their plan");
        for (x, &w) in self.time.iter_mut().zip(&self.window) {
            *x *= w;
        }
        let hop = self.hop;
        out.extend(
            self.time[..hop]
                .iter()
                .zip(&self.synthesis_memory)
                .map(|(x, m)| x + m),
        );
        let split = self.synthesis_memory.len() - hop;
        self.synthesis_memory.rotate_left(hop);
        for (m, &x) in self.synthesis_memory[..split]
            .iter_mut()
            .zip(&self.time[hop..])
        {
            *m += x;
        }
        self.synthesis_memory[split..].copy_from_slice(&self.time[hop + split..]);
    }
}

/// The ERB bands: how many frequency bins each holds, low to high (libDF's `erb_fb`).
pub(super) fn erb_bands(config: &DeepFilterConfig) -> Vec<usize> {
    let to_erb = |hz: f32| 9.265 * (hz / (24.7 * 9.265)).ln_1p();
    let to_hz = |erb: f32| 24.7 * 9.265 * ((erb / 9.265).exp() - 1.0);
    let bins = config.fft_size / 2 + 1;
    let bin_width = config.sample_rate as f32 / config.fft_size as f32;
    let high = to_erb((config.sample_rate / 2) as f32);
    let step = high / config.nb_erb as f32;
    let min = config.min_nb_erb_freqs as i64;
    let mut bands = vec![0usize; config.nb_erb];
    let (mut previous, mut over) = (0i64, 0i64);
    for (i, band) in bands.iter_mut().enumerate() {
        let edge = (to_hz((i + 1) as f32 * step) / bin_width).round() as i64;
        let mut width = edge - previous - over;
        over = if width < min {
            let short = min - width;
            width = min;
            short
        } else {
            0
        };
        *band = width as usize;
        previous = edge;
    }
    // The last band also takes the Nyquist bin, and gives back any bins the minimum added.
    bands[config.nb_erb - 1] += 1;
    let extra = bands.iter().sum::<usize>().saturating_sub(bins);
    bands[config.nb_erb - 1] -= extra;
    bands
}

/// The encoder's inputs for each frame, with their running normalisations.
pub(super) struct Features {
    bands: Vec<usize>,
    low_bins: usize,
    alpha: f32,
    band_means: Vec<f32>,
    bin_scales: Vec<f32>,
}

impl Features {
    pub(super) fn new(config: &DeepFilterConfig, bands: Vec<usize>) -> Self {
        let spread = |[first, last]: [f32; 2], n: usize| -> Vec<f32> {
            let step = (last - first) / (n - 1) as f32;
            (0..n).map(|i| first + i as f32 * step).collect()
        };
        Self {
            band_means: spread(MEAN_NORM_INIT, bands.len()),
            bin_scales: spread(UNIT_NORM_INIT, config.nb_df),
            bands,
            low_bins: config.nb_df,
            alpha: norm_alpha(config),
        }
    }

    /// Appends the frame's ERB feature (`nb_erb` values) to `erb`, and its low bins' real and
    /// imaginary parts to `real` and `imag`.
    pub(super) fn push(
        &mut self,
        spectrum: &[Complex32],
        erb: &mut Vec<f32>,
        real: &mut Vec<f32>,
        imag: &mut Vec<f32>,
    ) {
        let alpha = self.alpha;
        let mut start = 0;
        for (&width, mean) in self.bands.iter().zip(&mut self.band_means) {
            let energy = spectrum[start..start + width]
                .iter()
                .map(|x| x.norm_sqr() / width as f32)
                .sum::<f32>();
            start += width;
            let db = (energy + 1e-10).log10() * 10.0;
            *mean = db * (1.0 - alpha) + *mean * alpha;
            erb.push((db - *mean) / 40.0);
        }
        for (x, scale) in spectrum[..self.low_bins].iter().zip(&mut self.bin_scales) {
            *scale = x.norm() * (1.0 - alpha) + *scale * alpha;
            let root = scale.sqrt();
            real.push(x.re / root);
            imag.push(x.im / root);
        }
    }

    /// Each band's gain on every bin of that band.
    pub(super) fn apply_gains(&self, spectrum: &mut [Complex32], gains: &[f32]) {
        let mut start = 0;
        for (&width, &gain) in self.bands.iter().zip(gains) {
            for x in &mut spectrum[start..start + width] {
                *x *= gain;
            }
            start += width;
        }
    }
}

/// The normalisations' decay per frame: `exp(-hop / rate / tau)`, rounded to three decimals as
/// libDF does (0.99 for DeepFilterNet3).
fn norm_alpha(config: &DeepFilterConfig) -> f32 {
    let alpha = (-(config.hop_size as f32) / config.sample_rate as f32 / config.norm_tau).exp();
    let mut digits = 3;
    loop {
        let scale = 10f32.powi(digits);
        let rounded = (alpha * scale).round() / scale;
        if rounded < 1.0 {
            return rounded;
        }
        digits += 1;
    }
}

/// The deep filter of the low bins: each output bin is the sum over the last `df_order`
/// noisy spectra (oldest first) of that bin times its complex coefficient.
pub(super) fn deep_filter(
    noisy: &[&[Complex32]],
    coefs: &[f32],
    low_bins: usize,
    out: &mut [Complex32],
) {
    let order = noisy.len();
    for (bin, y) in out[..low_bins].iter_mut().enumerate() {
        let mut sum = Complex32::new(0.0, 0.0);
        for (k, spectrum) in noisy.iter().enumerate() {
            let at = (bin * order + k) * 2;
            sum += spectrum[bin] * Complex32::new(coefs[at], coefs[at + 1]);
        }
        *y = sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> DeepFilterConfig {
        serde_json::from_str(
            r#"{"sample_rate":48000,"fft_size":960,"hop_size":480,"nb_erb":32,"nb_df":96,
            "min_nb_erb_freqs":2,"norm_tau":1.0,"df_order":5,"df_lookahead":2,"conv_lookahead":2,
            "states":{"enc.onnx":[],"erb_dec.onnx":[],"df_dec.onnx":[]}}"#,
        )
        .unwrap()
    }

    #[test]
    fn erb_bands_are_libdfs() {
        let mut expected = vec![2; 13];
        expected.extend([
            5, 5, 7, 7, 8, 10, 12, 13, 15, 18, 20, 24, 28, 31, 37, 42, 50, 56, 67,
        ]);
        assert_eq!(erb_bands(&config()), expected);
        assert_eq!(norm_alpha(&config()), 0.99);
    }

    #[test]
    fn analysis_then_synthesis_gives_the_input_back_one_hop_late() {
        let config = config();
        let mut stft = Stft::new(&config);
        let input: Vec<f32> = (0..4800).map(|i| (i as f32 * 0.05).sin() * 0.5).collect();
        let mut out = Vec::new();
        for frame in input.chunks(480) {
            let mut spectrum = stft.analysis(frame);
            stft.synthesis(&mut spectrum, &mut out);
        }
        let error = input[..4800 - 480]
            .iter()
            .zip(&out[480..])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(error < 1e-5, "{error}");
    }
}
