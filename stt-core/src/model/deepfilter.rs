//! DeepFilterNet3's three graphs (encoder, ERB-gain decoder, deep-filter decoder), as
//! `stt models pull deepfilternet3` writes them: streamable, each GRU state and causal
//! convolution buffer an input and an output, so a recording runs a chunk of frames at a time
//! and gives what one run over all of it would.

use std::path::Path;

use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};
use serde::Deserialize;

use super::runtime::{LoadOptions, open_session};
use crate::{Error, Result};

/// What `deepfilter.json` holds: the model's `config.ini` and the states of each graph.
#[derive(Debug, Clone, Deserialize)]
pub struct DeepFilterConfig {
    pub sample_rate: u32,
    pub fft_size: usize,
    pub hop_size: usize,
    pub nb_erb: usize,
    pub nb_df: usize,
    pub min_nb_erb_freqs: usize,
    pub norm_tau: f32,
    pub df_order: usize,
    pub df_lookahead: usize,
    pub conv_lookahead: usize,
    states: GraphStates,
}

#[derive(Debug, Clone, Deserialize)]
struct GraphStates {
    #[serde(rename = "enc.onnx")]
    encoder: Vec<StateSpec>,
    #[serde(rename = "erb_dec.onnx")]
    erb_decoder: Vec<StateSpec>,
    #[serde(rename = "df_dec.onnx")]
    df_decoder: Vec<StateSpec>,
}

#[derive(Debug, Clone, Deserialize)]
struct StateSpec {
    input: String,
    output: String,
    shape: Vec<usize>,
}

/// One graph and the states it carries from chunk to chunk.
struct Graph {
    session: Session,
    states: Vec<StateSpec>,
}

impl Graph {
    fn load(dir: &Path, file: &str, states: Vec<StateSpec>, options: &LoadOptions) -> Result<Self> {
        let (session, _) = open_session(&dir.join(file), options)?;
        let inputs: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
        if let Some(state) = states.iter().find(|s| !inputs.contains(&s.input.as_str())) {
            return Err(Error::InvalidModel(format!(
                "{file} has no input {} (pull deepfilternet3 again)",
                state.input
            )));
        }
        Ok(Self { session, states })
    }

    /// Runs `inputs` and the carried `state` (updated in place); the outputs named `wanted`.
    fn run(
        &mut self,
        inputs: Vec<(&str, SessionInputValue<'_>)>,
        state: &mut [Vec<f32>],
        wanted: &[&str],
    ) -> Result<Vec<DynValue>> {
        let mut feeds: Vec<(String, SessionInputValue<'_>)> = inputs
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        for (spec, values) in self.states.iter().zip(state.iter()) {
            let value =
                Tensor::from_array((spec.shape.clone(), values.clone())).map_err(inference)?;
            feeds.push((spec.input.clone(), value.into()));
        }
        let mut outputs = self.session.run(feeds).map_err(inference)?;
        for (spec, values) in self.states.iter().zip(state.iter_mut()) {
            let (_, next) = outputs
                .get(spec.output.as_str())
                .ok_or_else(|| missing(&spec.output))?
                .try_extract_tensor::<f32>()
                .map_err(inference)?;
            if next.len() != values.len() {
                return Err(Error::Inference(format!(
                    "{} has {} values, expected {}",
                    spec.output,
                    next.len(),
                    values.len()
                )));
            }
            values.copy_from_slice(next);
        }
        wanted
            .iter()
            .map(|name| outputs.remove(*name).ok_or_else(|| missing(name)))
            .collect()
    }

    fn zero_state(&self) -> Vec<Vec<f32>> {
        self.states
            .iter()
            .map(|s| vec![0.0; s.shape.iter().product()])
            .collect()
    }
}

/// The three graphs of one loaded model.
pub struct DeepFilterModel {
    pub config: DeepFilterConfig,
    encoder: Graph,
    erb_decoder: Graph,
    df_decoder: Graph,
}

/// The recurrent states of one recording's run through the graphs (zero at its start).
pub struct DeepFilterState {
    encoder: Vec<Vec<f32>>,
    erb_decoder: Vec<Vec<f32>>,
    df_decoder: Vec<Vec<f32>>,
}

/// What the graphs give for a chunk of frames.
pub struct DeepFilterOutput {
    /// `[frames, nb_erb]`: the gain of each ERB band (0 to 1).
    pub gains: Vec<f32>,
    /// `[frames, nb_df, df_order, 2]`: the complex deep-filter coefficients of the low bins.
    pub coefs: Vec<f32>,
}

impl DeepFilterModel {
    /// The model in `dir` (`enc.onnx`, `erb_dec.onnx`, `df_dec.onnx`, `deepfilter.json`), on
    /// the CPU: one frame at a time is too little work for a GPU.
    pub fn load(dir: &Path, options: &LoadOptions) -> Result<Self> {
        let config_path = dir.join("deepfilter.json");
        let text = std::fs::read_to_string(&config_path).map_err(|e| {
            Error::InvalidModel(format!("cannot read {}: {e}", config_path.display()))
        })?;
        let config: DeepFilterConfig = serde_json::from_str(&text)
            .map_err(|e| Error::InvalidModel(format!("{}: {e}", config_path.display())))?;
        let options = LoadOptions {
            device: super::Device::Cpu,
            ..options.clone()
        };
        let states = config.states.clone();
        Ok(Self {
            encoder: Graph::load(dir, "enc.onnx", states.encoder, &options)?,
            erb_decoder: Graph::load(dir, "erb_dec.onnx", states.erb_decoder, &options)?,
            df_decoder: Graph::load(dir, "df_dec.onnx", states.df_decoder, &options)?,
            config,
        })
    }

    pub fn new_state(&self) -> DeepFilterState {
        DeepFilterState {
            encoder: self.encoder.zero_state(),
            erb_decoder: self.erb_decoder.zero_state(),
            df_decoder: self.df_decoder.zero_state(),
        }
    }

    /// Gains and coefficients for `frames` frames of features: `erb` `[frames, nb_erb]` and
    /// `spec` `[2, frames, nb_df]` (real parts, then imaginary parts).
    pub fn run(
        &mut self,
        erb: Vec<f32>,
        spec: Vec<f32>,
        frames: usize,
        state: &mut DeepFilterState,
    ) -> Result<DeepFilterOutput> {
        let c = &self.config;
        let tensor = |shape: [usize; 4], values: Vec<f32>| -> Result<SessionInputValue<'static>> {
            Ok(Tensor::from_array((shape, values))
                .map_err(inference)?
                .into())
        };
        let encoded = self.encoder.run(
            vec![
                ("feat_erb", tensor([1, 1, frames, c.nb_erb], erb)?),
                ("feat_spec", tensor([1, 2, frames, c.nb_df], spec)?),
            ],
            &mut state.encoder,
            &["e0", "e1", "e2", "e3", "emb", "c0"],
        )?;
        let [e0, e1, e2, e3, emb, c0]: [DynValue; 6] = encoded
            .try_into()
            .map_err(|_| Error::Inference("the encoder gave too few outputs".into()))?;
        let gains = self.erb_decoder.run(
            vec![
                ("emb", (&emb).into()),
                ("e3", e3.into()),
                ("e2", e2.into()),
                ("e1", e1.into()),
                ("e0", e0.into()),
            ],
            &mut state.erb_decoder,
            &["m"],
        )?;
        let coefs = self.df_decoder.run(
            vec![("emb", emb.into()), ("c0", c0.into())],
            &mut state.df_decoder,
            &["coefs"],
        )?;
        let values = |value: &DynValue, expected: usize, name: &str| -> Result<Vec<f32>> {
            let (_, data) = value.try_extract_tensor::<f32>().map_err(inference)?;
            if data.len() != expected {
                return Err(Error::Inference(format!(
                    "{name} has {} values, expected {expected}",
                    data.len()
                )));
            }
            Ok(data.to_vec())
        };
        Ok(DeepFilterOutput {
            gains: values(&gains[0], frames * c.nb_erb, "m")?,
            coefs: values(&coefs[0], frames * c.nb_df * c.df_order * 2, "coefs")?,
        })
    }
}

fn missing(name: &str) -> Error {
    Error::Inference(format!("the noise remover returned no {name}"))
}

fn inference(e: impl std::fmt::Display) -> Error {
    Error::Inference(e.to_string())
}
