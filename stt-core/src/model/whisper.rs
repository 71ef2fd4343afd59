//! Encoder and decoder sessions of one Whisper model, and the per-window decoder state that
//! carries the key/value cache between steps.

use std::borrow::Cow;
use std::path::Path;

use ndarray::Array2;
use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, Session, SessionInputValue};
use ort::value::{DynValue, Tensor};

use super::layout::{ModelConfig, ModelFiles};
use super::runtime::{LoadOptions, open_session};
use crate::decode::TokenDecoder;
use crate::mel::N_FRAMES;
use crate::{Error, Result};

const ENCODER_INPUT: &str = "input_features";
const ENCODER_OUTPUT: &str = "last_hidden_state";
const INPUT_IDS: &str = "input_ids";
const ENCODER_HIDDEN_STATES: &str = "encoder_hidden_states";
const USE_CACHE_BRANCH: &str = "use_cache_branch";
const LOGITS: &str = "logits";

/// Names of one layer's cache tensors: past inputs and the matching present outputs.
struct LayerCacheNames {
    past: [String; 4],
    present: [String; 4],
}

/// Order of the four cache tensors of a layer; the first two grow, the last two are fixed.
const CACHE_PARTS: [&str; 4] = [
    "decoder.key",
    "decoder.value",
    "encoder.key",
    "encoder.value",
];

pub struct WhisperModel {
    pub config: ModelConfig,
    encoder: Session,
    decoder: Session,
    cache_names: Vec<LayerCacheNames>,
    /// Outputs fetched on a window's first step: logits and every cache tensor.
    first_step_outputs: RunOptions<HasSelectedOutputs>,
    /// Outputs fetched on later steps: logits and the growing self-attention cache.
    next_step_outputs: RunOptions<HasSelectedOutputs>,
}

/// Encoder output for one window, kept in ONNX Runtime's memory and fed to the decoder as is.
pub struct AudioFeatures(DynValue);

impl WhisperModel {
    pub fn load(files: &ModelFiles, options: &LoadOptions) -> Result<Self> {
        let encoder = open_session(&files.encoder, options)?;
        let decoder = open_session(&files.decoder, options)?;
        let config = files.config.clone();
        let cache_names = (0..config.decoder_layers)
            .map(|layer| LayerCacheNames {
                past: CACHE_PARTS.map(|part| format!("past_key_values.{layer}.{part}")),
                present: CACHE_PARTS.map(|part| format!("present.{layer}.{part}")),
            })
            .collect::<Vec<_>>();

        require_io(
            &encoder,
            &files.encoder,
            &[ENCODER_INPUT],
            &[ENCODER_OUTPUT],
        )?;
        let past: Vec<&str> = cache_names
            .iter()
            .flat_map(|n| &n.past)
            .map(String::as_str)
            .collect();
        let present: Vec<&str> = cache_names
            .iter()
            .flat_map(|n| &n.present)
            .map(String::as_str)
            .collect();
        let inputs = [
            &[INPUT_IDS, ENCODER_HIDDEN_STATES, USE_CACHE_BRANCH][..],
            &past,
        ]
        .concat();
        let outputs = [&[LOGITS][..], &present].concat();
        require_io(&decoder, &files.decoder, &inputs, &outputs)?;

        let select = |names: &mut dyn Iterator<Item = &String>| -> Result<_> {
            let selector = names.fold(OutputSelector::no_default().with(LOGITS), |s, name| {
                s.with(name)
            });
            Ok(RunOptions::new().map_err(inference)?.with_outputs(selector))
        };
        let first_step_outputs = select(&mut cache_names.iter().flat_map(|n| &n.present))?;
        let next_step_outputs = select(&mut cache_names.iter().flat_map(|n| &n.present[..2]))?;
        Ok(Self {
            config,
            encoder,
            decoder,
            cache_names,
            first_step_outputs,
            next_step_outputs,
        })
    }

    /// Runs the encoder on one window of log-mel features (`[n_mels, N_FRAMES]`, bin major).
    pub fn encode(&mut self, window: Vec<f32>) -> Result<AudioFeatures> {
        let shape = [1, self.config.n_mels, N_FRAMES];
        if window.len() != shape.iter().product::<usize>() {
            return Err(Error::Inference(format!(
                "encoder input has {} values, expected {}x{}",
                window.len(),
                shape[1],
                shape[2]
            )));
        }
        let input = Tensor::from_array((shape, window)).map_err(inference)?;
        let mut outputs = self
            .encoder
            .run(ort::inputs![ENCODER_INPUT => input])
            .map_err(inference)?;
        let hidden = outputs
            .remove(ENCODER_OUTPUT)
            .ok_or_else(|| Error::Inference(format!("encoder returned no {ENCODER_OUTPUT}")))?;
        Ok(AudioFeatures(hidden))
    }

    /// A fresh decoder over `audio`, with an empty cache.
    pub fn decoder<'a>(&'a mut self, audio: &'a AudioFeatures) -> DecoderState<'a> {
        DecoderState {
            model: self,
            audio,
            cache: None,
        }
    }
}

/// Fails at load, not mid-decode, when a graph lacks an input or output the engine feeds or reads.
fn require_io(session: &Session, path: &Path, inputs: &[&str], outputs: &[&str]) -> Result<()> {
    let has = |outlets: &[ort::value::Outlet], name: &str| outlets.iter().any(|o| o.name() == name);
    let missing = inputs
        .iter()
        .find(|name| !has(session.inputs(), name))
        .map(|name| format!("input {name}"))
        .or_else(|| {
            outputs
                .iter()
                .find(|name| !has(session.outputs(), name))
                .map(|name| format!("output {name}"))
        });
    match missing {
        Some(what) => Err(Error::InvalidModel(format!(
            "{} has no {what} (a merged decoder with a key/value cache is required)",
            path.display()
        ))),
        None => Ok(()),
    }
}

fn inference(e: impl std::fmt::Display) -> Error {
    Error::Inference(e.to_string())
}

/// Decoder of one window: it remembers the keys and values of every token fed so far, so each
/// step only computes the new tokens.
pub struct DecoderState<'a> {
    model: &'a mut WhisperModel,
    audio: &'a AudioFeatures,
    /// `None` before the first step.
    cache: Option<KvCache>,
}

/// Per layer: self-attention keys and values (grow by one position per token) and
/// cross-attention keys and values (computed once from the audio).
struct KvCache {
    grown: Vec<[DynValue; 2]>,
    cross: Vec<[DynValue; 2]>,
}

impl TokenDecoder for DecoderState<'_> {
    fn forward(&mut self, tokens: &[u32]) -> Result<Array2<f32>> {
        let config = &self.model.config;
        let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        let mut inputs: Vec<(Cow<str>, SessionInputValue)> = vec![
            (
                INPUT_IDS.into(),
                Tensor::from_array(([1, ids.len()], ids))
                    .map_err(inference)?
                    .into(),
            ),
            (ENCODER_HIDDEN_STATES.into(), (&self.audio.0).into()),
            (
                USE_CACHE_BRANCH.into(),
                Tensor::from_array(([1], vec![self.cache.is_some()]))
                    .map_err(inference)?
                    .into(),
            ),
        ];
        let names = &self.model.cache_names;
        match &self.cache {
            Some(cache) => {
                for ((layer, grown), cross) in names.iter().zip(&cache.grown).zip(&cache.cross) {
                    for (name, value) in layer.past.iter().zip(grown.iter().chain(cross)) {
                        inputs.push((name.as_str().into(), value.into()));
                    }
                }
            }
            None => {
                // First step: empty self-attention past; cross keys/values come from the audio.
                let empty_shape = [1, config.decoder_heads, 0, config.head_dim()];
                for layer in names {
                    for name in &layer.past {
                        let empty = Tensor::from_array((empty_shape, Vec::<f32>::new()))
                            .map_err(inference)?;
                        inputs.push((name.as_str().into(), empty.into()));
                    }
                }
            }
        }
        let run_options = match self.cache {
            Some(_) => &self.model.next_step_outputs,
            None => &self.model.first_step_outputs,
        };
        let mut outputs = self
            .model
            .decoder
            .run_with_options(inputs, run_options)
            .map_err(inference)?;

        let logits = outputs
            .get(LOGITS)
            .ok_or_else(|| Error::Inference("decoder returned no logits".into()))?
            .try_extract_array::<f32>()
            .map_err(inference)?;
        let shape = logits.shape().to_vec();
        if shape.len() != 3 || shape[1] != tokens.len() {
            return Err(Error::Inference(format!(
                "unexpected logits shape {shape:?}"
            )));
        }
        let logits = logits
            .to_shape((shape[1], shape[2]))
            .map_err(inference)?
            .to_owned();

        let mut take = |name: &str| {
            outputs
                .remove(name)
                .ok_or_else(|| Error::Inference(format!("decoder returned no {name}")))
        };
        let mut grown = Vec::with_capacity(names.len());
        let mut cross = Vec::new();
        for layer in names {
            grown.push([take(&layer.present[0])?, take(&layer.present[1])?]);
            if self.cache.is_none() {
                cross.push([take(&layer.present[2])?, take(&layer.present[3])?]);
            }
        }
        drop(outputs);
        match &mut self.cache {
            Some(cache) => cache.grown = grown,
            None => self.cache = Some(KvCache { grown, cross }),
        }
        Ok(logits)
    }

    fn reset(&mut self) {
        self.cache = None;
    }
}
