//! Noise removal with DeepFilterNet3 (`stt models pull deepfilternet3`), then loudness
//! normalisation.
//!
//! The recording runs through the model a second at a time, its recurrent state carried from
//! one second to the next, so the output equals the reference implementation's frame-by-frame
//! run (libDF) while memory stays bounded: input is read from a [`SampleSource`] and the output
//! goes to a spool. The model works at 48 kHz; output is delayed by nothing (libDF's 30 ms of
//! lookahead are trimmed) and has exactly the input's length.

mod loudness;
mod spectrum;

use std::collections::VecDeque;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

use realfft::num_complex::Complex32;

use crate::audio::{SampleSource, Samples, SpoolWriter, wav_header};
use crate::model::{DeepFilterConfig, DeepFilterModel, LoadOptions};
use crate::store::{self, ENHANCE_MODEL, ModelKind};
use crate::{CancelToken, Error, Result};
use loudness::LoudnessMeter;
use spectrum::{Features, Stft, deep_filter, erb_bands};

/// Frames (10 ms hops) the graphs run at once: a second of audio.
const CHUNK_FRAMES: usize = 100;
/// Highest sample level after normalisation (-1 dBFS), whatever the loudness target asks.
const PEAK_CEILING: f32 = 0.891;

/// How to enhance; [`Default`] is what every front end uses when not told otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct EnhanceOptions {
    /// The most the noise is lowered, in dB (some of the noisy signal is mixed back); `None`
    /// removes as much as the model finds.
    pub attenuation_limit_db: Option<f32>,
    /// Integrated loudness of the output in LUFS; `None` keeps the level the model gives.
    /// Speech for listening is usually mastered at -16 LUFS.
    pub target_lufs: Option<f32>,
}

impl Default for EnhanceOptions {
    fn default() -> Self {
        Self {
            attenuation_limit_db: None,
            target_lufs: Some(-16.0),
        }
    }
}

impl EnhanceOptions {
    /// A caller's options: `loudness` is the target (`None`: the default's) unless
    /// `normalize` is false; values out of range are refused.
    pub fn new(
        attenuation_limit_db: Option<f32>,
        loudness: Option<f32>,
        normalize: bool,
    ) -> Result<Self> {
        let options = Self {
            attenuation_limit_db,
            target_lufs: match normalize {
                true => loudness.or(Self::default().target_lufs),
                false => None,
            },
        };
        if let Some(lufs) = loudness.filter(|_| !normalize) {
            return Err(Error::InvalidOption(format!(
                "a loudness of {lufs} LUFS was asked for without normalising"
            )));
        }
        options.validate()?;
        Ok(options)
    }

    pub fn validate(&self) -> Result<()> {
        let check = |what: &str, value: Option<f32>, low: f32, high: f32, unit: &str| match value {
            Some(v) if !(v.is_finite() && (low..=high).contains(&v)) => Err(Error::InvalidOption(
                format!("the {what} must be between {low} and {high} {unit}, got {v}"),
            )),
            _ => Ok(()),
        };
        check(
            "attenuation limit",
            self.attenuation_limit_db,
            0.0,
            100.0,
            "dB",
        )?;
        check("loudness", self.target_lufs, -70.0, 0.0, "LUFS")
    }
}

/// Enhanced audio at [`Enhancer::sample_rate`], spooled, and the gain that normalises it.
#[derive(Debug)]
pub struct Enhanced {
    samples: Samples,
    gain: f32,
    pub sample_rate: u32,
}

impl Enhanced {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.len() == 0
    }

    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate)
    }

    /// All the samples in memory, normalised.
    pub fn into_vec(self) -> Result<Vec<f32>> {
        let gain = self.gain;
        let mut samples = self.samples.into_vec()?;
        samples.iter_mut().for_each(|x| *x *= gain);
        Ok(samples)
    }

    /// The audio as a 16-bit mono WAV file, written a second at a time.
    pub fn write_wav(&self, out: &mut dyn Write) -> Result<()> {
        let io = |e| Error::io(Path::new("the WAV output"), e);
        let bytes = u32::try_from(self.len() * 2)
            .map_err(|_| Error::TooLong("the audio is too long for a WAV file".into()))?;
        out.write_all(&wav_header(self.sample_rate, bytes))
            .map_err(io)?;
        let step = self.sample_rate as usize;
        let mut block = vec![0f32; step];
        let mut pcm = Vec::with_capacity(step * 2);
        for start in (0..self.len()).step_by(step) {
            let block = &mut block[..step.min(self.len() - start)];
            self.samples.read(start, block)?;
            pcm.clear();
            for &x in block.iter() {
                let level = (x * self.gain).clamp(-1.0, 1.0);
                pcm.extend_from_slice(&((level * 32767.0).round() as i16).to_le_bytes());
            }
            out.write_all(&pcm).map_err(io)?;
        }
        Ok(())
    }
}

/// A loaded noise remover; one recording runs through it at a time.
pub struct Enhancer {
    model: Mutex<DeepFilterModel>,
    config: DeepFilterConfig,
    bands: Vec<usize>,
}

impl Enhancer {
    /// The installed [`ENHANCE_MODEL`], or the model in `dir`.
    pub fn load(dir: Option<&Path>, options: &LoadOptions) -> Result<Self> {
        let dir = match dir {
            Some(dir) => dir.to_path_buf(),
            None => store::installed_model(ENHANCE_MODEL, ModelKind::Enhance).ok_or_else(|| {
                Error::ModelNotFound(format!(
                    "{ENHANCE_MODEL:?} (noise removal) is not installed; run `stt models pull {ENHANCE_MODEL}`"
                ))
            })?,
        };
        let model = DeepFilterModel::load(&dir, options)?;
        let config = model.config.clone();
        if config.sample_rate as usize != loudness::RATE
            || config.hop_size * 2 != config.fft_size
            || config.conv_lookahead != config.df_lookahead
            || config.conv_lookahead >= config.df_order
        {
            return Err(Error::InvalidModel(format!(
                "{}: a DeepFilterNet3 configuration this engine does not run",
                dir.display()
            )));
        }
        Ok(Self {
            bands: erb_bands(&config),
            model: Mutex::new(model),
            config,
        })
    }

    /// The rate the model works at (48 kHz): decode to it
    /// ([`crate::audio::DecodeOptions::sample_rate`]).
    pub fn sample_rate(&self) -> u32 {
        self.config.sample_rate
    }

    /// `input` (mono at [`Self::sample_rate`]) with the noise removed, then normalised.
    pub fn enhance(
        &self,
        input: &dyn SampleSource,
        options: &EnhanceOptions,
        cancel: &CancelToken,
    ) -> Result<Enhanced> {
        options.validate()?;
        let mut model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        let mut run = Run::new(self, &model, options);
        let mut out = SpoolWriter::new(crate::audio::MEMORY_SAMPLES);
        let mut meter = LoudnessMeter::new();
        let mut emit = |samples: &[f32]| -> Result<()> {
            meter.push(samples);
            out.push(samples)
        };
        let step = CHUNK_FRAMES * self.config.hop_size;
        let mut block = vec![0f32; step];
        for start in (0..input.len()).step_by(step) {
            cancel.check()?;
            let block = &mut block[..step.min(input.len() - start)];
            input.read(start, block)?;
            run.push(&mut model, block, &mut emit)?;
        }
        run.finish(&mut model, input.len(), &mut emit)?;
        let gain = match (options.target_lufs, meter.integrated()) {
            (Some(target), Some(measured)) => {
                let wanted = 10f32.powf((target - measured as f32) / 20.0);
                wanted.min(PEAK_CEILING / meter.peak().max(f32::MIN_POSITIVE))
            }
            _ => 1.0,
        };
        Ok(Enhanced {
            samples: out.finish()?,
            gain,
            sample_rate: self.config.sample_rate,
        })
    }
}

/// How far the output lags the input: the STFT's overlap and the model's lookahead (30 ms).
fn delay_samples(c: &DeepFilterConfig) -> usize {
    (c.fft_size - c.hop_size) + c.conv_lookahead * c.hop_size
}

/// One recording on its way through the model.
struct Run<'a> {
    enhancer: &'a Enhancer,
    stft: Stft,
    features: Features,
    state: crate::model::DeepFilterState,
    /// The last `df_order` noisy spectra, oldest first.
    noisy: VecDeque<Vec<Complex32>>,
    /// Input not yet a whole hop.
    pending: Vec<f32>,
    /// Output samples still to drop ([`delay_samples`] at the start).
    delay: usize,
    emitted: usize,
    /// The input's length, once it is known: output stops there.
    limit: Option<usize>,
    /// The share of the noisy signal mixed back in.
    mix_back: Option<f32>,
}

impl<'a> Run<'a> {
    fn new(enhancer: &'a Enhancer, model: &DeepFilterModel, options: &EnhanceOptions) -> Self {
        let c = &enhancer.config;
        let bins = c.fft_size / 2 + 1;
        Self {
            enhancer,
            stft: Stft::new(c),
            features: Features::new(c, enhancer.bands.clone()),
            state: model.new_state(),
            noisy: (0..c.df_order)
                .map(|_| vec![Complex32::default(); bins])
                .collect(),
            pending: Vec::new(),
            delay: delay_samples(c),
            emitted: 0,
            limit: None,
            mix_back: options
                .attenuation_limit_db
                .map(|db| 10f32.powf(-db.abs() / 20.0)),
        }
    }

    fn push(
        &mut self,
        model: &mut DeepFilterModel,
        samples: &[f32],
        emit: &mut dyn FnMut(&[f32]) -> Result<()>,
    ) -> Result<()> {
        let hop = self.enhancer.config.hop_size;
        self.pending.extend_from_slice(samples);
        let whole = self.pending.len() / hop * hop;
        if whole == 0 {
            return Ok(());
        }
        let frames: Vec<f32> = self.pending.drain(..whole).collect();
        self.frames(model, &frames, emit)
    }

    /// Pads the end with the lookahead's worth of silence, so that the output has all of
    /// `input_len` samples, and no more.
    fn finish(
        mut self,
        model: &mut DeepFilterModel,
        input_len: usize,
        emit: &mut dyn FnMut(&[f32]) -> Result<()>,
    ) -> Result<()> {
        let c = &self.enhancer.config;
        let padded = (input_len + delay_samples(c)).div_ceil(c.hop_size) * c.hop_size;
        self.limit = Some(input_len);
        self.push(model, &vec![0.0; padded - input_len], emit)
    }

    /// Whole hops of input through the model, a chunk at a time.
    fn frames(
        &mut self,
        model: &mut DeepFilterModel,
        samples: &[f32],
        emit: &mut dyn FnMut(&[f32]) -> Result<()>,
    ) -> Result<()> {
        let c = &self.enhancer.config;
        let hop = c.hop_size;
        for chunk in samples.chunks(CHUNK_FRAMES * hop) {
            let count = chunk.len() / hop;
            let mut spectra = Vec::with_capacity(count);
            let (mut erb, mut real, mut imag) = (Vec::new(), Vec::new(), Vec::new());
            for frame in chunk.chunks_exact(hop) {
                let spectrum = self.stft.analysis(frame);
                self.features
                    .push(&spectrum, &mut erb, &mut real, &mut imag);
                spectra.push(spectrum);
            }
            real.extend(imag);
            let out = model.run(erb, real, count, &mut self.state)?;
            let mut samples = Vec::with_capacity(count * hop);
            for (t, spectrum) in spectra.into_iter().enumerate() {
                self.noisy.pop_front();
                self.noisy.push_back(spectrum);
                self.enhance_frame(
                    &out.gains[t * c.nb_erb..(t + 1) * c.nb_erb],
                    &out.coefs[t * c.nb_df * c.df_order * 2..(t + 1) * c.nb_df * c.df_order * 2],
                    &mut samples,
                );
            }
            let skip = self.delay.min(samples.len());
            self.delay -= skip;
            let mut piece = &samples[skip..];
            if let Some(limit) = self.limit {
                piece = &piece[..piece.len().min(limit - self.emitted)];
            }
            self.emitted += piece.len();
            emit(piece)?;
        }
        Ok(())
    }

    /// The spectrum `lookahead` frames back, enhanced with this frame's gains and
    /// coefficients, into `out` as a hop of samples.
    fn enhance_frame(&mut self, gains: &[f32], coefs: &[f32], out: &mut Vec<f32>) {
        let c = &self.enhancer.config;
        // The frame `lookahead` back gets the gains on all bins; its low bins are replaced by
        // the deep filter over the `df_order` frames up to this one.
        let target = c.df_order - 1 - c.conv_lookahead;
        let mut enhanced = self.noisy[target].clone();
        self.features.apply_gains(&mut enhanced, gains);
        let noisy: Vec<&[Complex32]> = self.noisy.iter().map(Vec::as_slice).collect();
        deep_filter(&noisy, coefs, c.nb_df, &mut enhanced);
        if let Some(lim) = self.mix_back {
            let original = &self.noisy[target];
            for (y, x) in enhanced.iter_mut().zip(original) {
                *y = *y * (1.0 - lim) + *x * lim;
            }
        }
        self.stft.synthesis(&mut enhanced, out);
    }
}
