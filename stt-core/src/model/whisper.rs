//! Encoder and decoder sessions of one Whisper model, and the per-window decoder state that
//! carries the key/value cache between steps.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::path::Path;

use ndarray::{Array2, Array3, Axis};
use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, Session, SessionInputValue};
use ort::value::{DynValue, Tensor};

use super::CancelToken;
use super::layout::{ModelConfig, ModelFiles};
use super::runtime::{Device, LoadOptions, open_session, release_freed_memory};
use crate::decode::TokenDecoder;
use crate::mel::N_FRAMES;
use crate::{Error, Result};

const ENCODER_INPUT: &str = "input_features";
const ENCODER_OUTPUT: &str = "last_hidden_state";
const INPUT_IDS: &str = "input_ids";
const ENCODER_HIDDEN_STATES: &str = "encoder_hidden_states";
const USE_CACHE_BRANCH: &str = "use_cache_branch";
/// Input of the converter's decoders (others lack it): logits of the last N positions only.
const LOGITS_TO_KEEP: &str = "logits_to_keep";
const LOGITS: &str = "logits";
/// Decoder metadata written by the converter: the cross-attention cache takes one row per
/// audio, shared by that audio's consecutive sequences.
const CROSS_CACHE_KEY: &str = "cross_cache";
const CROSS_CACHE_PER_AUDIO: &str = "per_audio";
/// Encoder metadata of graphs that take windows shorter than [`N_FRAMES`] (an even number of
/// frames, encoded at their positions).
const ENCODER_FRAMES_KEY: &str = "input_frames";
const ENCODER_FRAMES_ANY: &str = "any_even";

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
    /// `None` when the graph does not export cross-attention (no word timestamps then).
    alignment: Option<AlignmentOutputs>,
    /// Whether beams of one audio share its cross-attention cache row; other graphs (the
    /// onnx-community exports) need a copy per sequence.
    cross_cache_per_audio: bool,
    /// Whether the decoder takes `logits_to_keep`; other graphs compute every position's
    /// logits and the unwanted rows are dropped.
    keeps_logits: bool,
    /// Whether the encoder takes windows shorter than 30 s (`input_frames` metadata).
    short_windows: bool,
    device: Device,
    cancel: CancelToken,
}

/// Alignment heads as (layer, head), and the outputs fetched to read their cross-attention.
struct AlignmentOutputs {
    heads: Vec<(usize, usize)>,
    outputs: RunOptions<HasSelectedOutputs>,
}

/// Encoder output for one window, kept in ONNX Runtime's memory and fed to the decoder as is,
/// with the cross-attention keys and values of every layer that the first decoder step over
/// it computes: later decoders over the window (language detection, fallback attempts, the
/// word-timing pass) read them instead of projecting the 1500 frames again.
pub struct AudioFeatures {
    hidden: DynValue,
    cross: OnceCell<Vec<[DynValue; 2]>>,
}

impl WhisperModel {
    pub fn load(files: &ModelFiles, options: &LoadOptions) -> Result<Self> {
        // The larger graph first: loading holds a second copy of a graph's weights for a
        // moment, better while the other is not loaded yet. The encoder goes where the decoder
        // went (an `Auto` choice is made once).
        let (decoder, device) = open_session(&files.decoder, options)?;
        let encoder_options = LoadOptions {
            device,
            ..options.clone()
        };
        let (encoder, _) = open_session(&files.encoder, &encoder_options)?;
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

        let heads = alignment_heads(&config);
        let mut layers: Vec<usize> = heads.iter().map(|&(layer, _)| layer).collect();
        layers.dedup();
        let attention_names: Vec<String> =
            layers.iter().map(|l| cross_attention_name(*l)).collect();
        let exported = attention_names
            .iter()
            .all(|name| decoder.outputs().iter().any(|o| o.name() == name));
        let alignment = match exported {
            true => Some(AlignmentOutputs {
                heads,
                outputs: select(&mut attention_names.iter())?,
            }),
            false => None,
        };
        let cross_cache_per_audio = decoder
            .metadata()
            .map_err(inference)?
            .custom(CROSS_CACHE_KEY)
            .is_some_and(|value| value == CROSS_CACHE_PER_AUDIO);
        let keeps_logits = decoder.inputs().iter().any(|i| i.name() == LOGITS_TO_KEEP);
        let short_windows = encoder
            .metadata()
            .map_err(inference)?
            .custom(ENCODER_FRAMES_KEY)
            .is_some_and(|value| value == ENCODER_FRAMES_ANY);
        Ok(Self {
            config,
            encoder,
            decoder,
            cache_names,
            first_step_outputs,
            next_step_outputs,
            alignment,
            cross_cache_per_audio,
            keeps_logits,
            short_windows,
            device,
            cancel: CancelToken::default(),
        })
    }

    /// Where the model runs (never `Auto`: what an `Auto` load chose).
    pub fn device(&self) -> Device {
        self.device
    }

    /// Makes every encoder pass and decoder step from now on check `cancel`: the token of the
    /// call that is starting, so no call inherits another's cancellation.
    pub fn watch(&mut self, cancel: &CancelToken) {
        self.cancel = cancel.clone();
    }

    /// The token of the call in progress.
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }

    /// Whether the encoder takes windows shorter than [`N_FRAMES`] (graphs converted by this
    /// version); others take exactly [`N_FRAMES`].
    pub fn encodes_short_windows(&self) -> bool {
        self.short_windows
    }

    /// Runs the encoder on one window of log-mel features (`[n_mels, frames]`, bin major):
    /// [`N_FRAMES`] frames, or, where [`Self::encodes_short_windows`], any even number below.
    pub fn encode(&mut self, window: Vec<f32>) -> Result<AudioFeatures> {
        self.cancel.check()?;
        let n_mels = self.config.n_mels;
        let frames = window.len() / n_mels;
        let fits = window.len().is_multiple_of(n_mels)
            && (frames == N_FRAMES
                || self.short_windows
                    && frames > 0
                    && frames < N_FRAMES
                    && frames.is_multiple_of(2));
        if !fits {
            return Err(Error::Inference(format!(
                "encoder input has {} values, expected {n_mels}x{N_FRAMES}{}",
                window.len(),
                if self.short_windows {
                    " or fewer, even, frames"
                } else {
                    ""
                }
            )));
        }
        let shape = [1, n_mels, frames];
        let input = Tensor::from_array((shape, window)).map_err(inference)?;
        // A new window: the last one's decoder steps are over, and so are this pass's
        // activations once it returns.
        release_freed_memory();
        let mut outputs = self
            .encoder
            .run(ort::inputs![ENCODER_INPUT => input])
            .map_err(inference)?;
        let hidden = outputs
            .remove(ENCODER_OUTPUT)
            .ok_or_else(|| Error::Inference(format!("encoder returned no {ENCODER_OUTPUT}")))?;
        drop(outputs);
        release_freed_memory();
        Ok(AudioFeatures {
            hidden,
            cross: OnceCell::new(),
        })
    }

    /// Feeds `tokens` at once to a fresh decoder over `audio` and returns the logits
    /// (`[tokens, vocab]`) and the cross-attention weights of the alignment heads
    /// (`[heads, tokens, audio frames]`), from which word timings are read.
    pub fn cross_attention(
        &mut self,
        audio: &AudioFeatures,
        tokens: &[u32],
    ) -> Result<(Array2<f32>, Array3<f32>)> {
        let Some(AlignmentOutputs { heads, outputs }) = &self.alignment else {
            return Err(Error::InvalidOption(
                "this model's decoder exports no cross-attention, so it cannot time words".into(),
            ));
        };
        let ids: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        let input_ids = Tensor::from_array(([1, ids.len()], ids)).map_err(inference)?;
        let keep = self.keeps_logits.then_some(tokens.len());
        let cross = audio.cross.get().map(Vec::as_slice);
        let mut inputs = step_inputs(input_ids, audio, cross.is_some(), keep)?;
        push_past(&mut inputs, &self.cache_names, &self.config, None, cross)?;
        let outputs = self
            .decoder
            .run_with_options(inputs, outputs)
            .map_err(inference)?;
        let logits =
            extract_logits(&outputs, 1, tokens.len(), tokens.len())?.index_axis_move(Axis(0), 0);

        let mut per_head = Vec::with_capacity(heads.len());
        for &(layer, head) in heads {
            let name = cross_attention_name(layer);
            let weights = outputs
                .get(&name)
                .ok_or_else(|| Error::Inference(format!("decoder returned no {name}")))?
                .try_extract_array::<f32>()
                .map_err(inference)?;
            // [1, heads, tokens, frames]
            if weights.ndim() != 4
                || head >= weights.shape()[1]
                || weights.shape()[2] != tokens.len()
            {
                return Err(Error::Inference(format!(
                    "unexpected {name} shape {:?}",
                    weights.shape()
                )));
            }
            per_head.push(
                weights
                    .index_axis(Axis(0), 0)
                    .index_axis(Axis(0), head)
                    .to_owned(),
            );
        }
        let views: Vec<_> = per_head.iter().map(|w| w.view()).collect();
        let attention = ndarray::stack(Axis(0), &views)
            .map_err(inference)?
            .into_dimensionality::<ndarray::Ix3>()
            .map_err(inference)?;
        Ok((logits, attention))
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

fn cross_attention_name(layer: usize) -> String {
    format!("cross_attentions.{layer}")
}

/// The heads whose cross-attention follows the speech; without a list, every head of the
/// second half of the layers, as openai-whisper does.
fn alignment_heads(config: &ModelConfig) -> Vec<(usize, usize)> {
    let mut heads = config.alignment_heads.clone();
    if heads.is_empty() {
        heads = (config.decoder_layers / 2..config.decoder_layers)
            .flat_map(|layer| (0..config.decoder_heads).map(move |head| (layer, head)))
            .collect();
    }
    heads.sort_unstable();
    heads
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

/// Decoder of one window: it remembers the keys and values of every token fed so far, for
/// every sequence of its batch, so each step only computes the new tokens.
pub struct DecoderState<'a> {
    model: &'a mut WhisperModel,
    audio: &'a AudioFeatures,
    /// `None` before the first step.
    cache: Option<KvCache>,
}

/// Per layer: self-attention keys and values, which grow by one position per token. The
/// cross-attention ones are the audio's, except for graphs that want a copy per sequence.
struct KvCache {
    grown: Vec<[DynValue; 2]>,
    /// The audio's cross-attention keys and values repeated for each sequence, for graphs
    /// without a cache per audio once the batch has more than one sequence.
    repeated_cross: Option<Vec<[DynValue; 2]>>,
    /// Sequences in the batch.
    batch: usize,
}

impl TokenDecoder for DecoderState<'_> {
    fn forward(&mut self, tokens: &[Vec<u32>], keep: usize) -> Result<Array3<f32>> {
        self.model.cancel.check()?;
        let batch = self.cache.as_ref().map_or(1, |c| c.batch);
        let width = tokens.first().map_or(0, Vec::len);
        if tokens.len() != batch || width == 0 || tokens.iter().any(|row| row.len() != width) {
            return Err(Error::Inference(format!(
                "decoder holds {batch} sequences; got {} rows of tokens",
                tokens.len()
            )));
        }
        if !(1..=width).contains(&keep) {
            return Err(Error::Inference(format!(
                "cannot keep the logits of {keep} of {width} positions"
            )));
        }
        let ids: Vec<i64> = tokens.iter().flatten().map(|&t| t as i64).collect();
        let input_ids = Tensor::from_array(([batch, width], ids)).map_err(inference)?;
        let model = &mut *self.model;
        let kept = model.keeps_logits.then_some(keep);
        // Cross keys and values already computed for this audio make every step a cached one.
        let cross = match &self.cache {
            Some(KvCache {
                repeated_cross: Some(cross),
                ..
            }) => Some(cross.as_slice()),
            _ => self.audio.cross.get().map(Vec::as_slice),
        };
        let mut inputs = step_inputs(input_ids, self.audio, cross.is_some(), kept)?;
        let grown = self.cache.as_ref().map(|c| c.grown.as_slice());
        push_past(&mut inputs, &model.cache_names, &model.config, grown, cross)?;
        let options = match cross {
            Some(_) => &model.next_step_outputs,
            None => &model.first_step_outputs,
        };
        let computes_cross = cross.is_none();
        let mut outputs = model
            .decoder
            .run_with_options(inputs, options)
            .map_err(inference)?;

        let logits = extract_logits(&outputs, batch, width, keep)?;
        let names = &model.cache_names;
        let mut take = |name: &str| {
            outputs
                .remove(name)
                .ok_or_else(|| Error::Inference(format!("decoder returned no {name}")))
        };
        let mut grown = Vec::with_capacity(names.len());
        let mut cross = Vec::new();
        for layer in names {
            grown.push([take(&layer.present[0])?, take(&layer.present[1])?]);
            if computes_cross {
                cross.push([take(&layer.present[2])?, take(&layer.present[3])?]);
            }
        }
        drop(outputs);
        if computes_cross {
            // Unset: `cross` was None because the audio had none yet.
            let _ = self.audio.cross.set(cross);
        }
        match &mut self.cache {
            Some(cache) => cache.grown = grown,
            None => {
                self.cache = Some(KvCache {
                    grown,
                    repeated_cross: None,
                    batch,
                })
            }
        }
        Ok(logits)
    }

    fn reorder(&mut self, sources: &[usize]) -> Result<()> {
        let Some(cache) = &mut self.cache else {
            return Err(Error::Inference(
                "reorder before the first decoder step".into(),
            ));
        };
        if let Some(bad) = sources.iter().find(|&&s| s >= cache.batch) {
            return Err(Error::Inference(format!(
                "no sequence {bad} in a batch of {}",
                cache.batch
            )));
        }
        if sources.iter().copied().eq(0..cache.batch) {
            return Ok(());
        }
        for layer in &mut cache.grown {
            for value in layer.iter_mut() {
                *value = gather_rows(value, sources)?;
            }
        }
        // Every sequence attends to the same audio: only the batch size matters, and only
        // to a graph that wants a row per sequence.
        if sources.len() != cache.batch && !self.model.cross_cache_per_audio {
            let audio_cross = self.audio.cross.get().ok_or_else(|| {
                Error::Inference("no cross-attention cache for this audio".into())
            })?;
            let first_rows = vec![0; sources.len()];
            let repeated = audio_cross
                .iter()
                .map(|layer| {
                    Ok([
                        gather_rows(&layer[0], &first_rows)?,
                        gather_rows(&layer[1], &first_rows)?,
                    ])
                })
                .collect::<Result<Vec<_>>>()?;
            cache.repeated_cross = Some(repeated);
        }
        cache.batch = sources.len();
        Ok(())
    }

    fn reset(&mut self) {
        self.cache = None;
    }
}

type Inputs<'v> = Vec<(Cow<'v, str>, SessionInputValue<'v>)>;

/// Token ids, audio, cache switch and (for graphs that take it) how many positions' logits
/// to compute, of one decoder step; the cache tensors come after.
fn step_inputs(
    input_ids: Tensor<i64>,
    audio: &AudioFeatures,
    use_cache: bool,
    logits_to_keep: Option<usize>,
) -> Result<Inputs<'_>> {
    let use_cache = Tensor::from_array(([1], vec![use_cache])).map_err(inference)?;
    let mut inputs: Inputs<'_> = vec![
        (INPUT_IDS.into(), input_ids.into()),
        (ENCODER_HIDDEN_STATES.into(), (&audio.hidden).into()),
        (USE_CACHE_BRANCH.into(), use_cache.into()),
    ];
    if let Some(keep) = logits_to_keep {
        let keep = Tensor::from_array(([1], vec![keep as i64])).map_err(inference)?;
        inputs.push((LOGITS_TO_KEEP.into(), keep.into()));
    }
    Ok(inputs)
}

/// The cache inputs of every layer: self-attention keys and values from `grown` (empty before
/// the first token) and cross-attention ones from `cross` (empty when the step computes them).
fn push_past<'v>(
    inputs: &mut Inputs<'v>,
    names: &'v [LayerCacheNames],
    config: &ModelConfig,
    grown: Option<&'v [[DynValue; 2]]>,
    cross: Option<&'v [[DynValue; 2]]>,
) -> Result<()> {
    let empty_shape = [1, config.decoder_heads, 0, config.head_dim()];
    for (index, layer) in names.iter().enumerate() {
        let values = [grown, grown, cross, cross]
            .into_iter()
            .enumerate()
            .map(|(part, source)| source.map(|layers| &layers[index][part % 2]));
        for (name, value) in layer.past.iter().zip(values) {
            let value: SessionInputValue<'v> = match value {
                Some(value) => value.into(),
                None => Tensor::from_array((empty_shape, Vec::<f32>::new()))
                    .map_err(inference)?
                    .into(),
            };
            inputs.push((name.as_str().into(), value));
        }
    }
    Ok(())
}

/// A tensor made of the rows `sources` (first axis) of `value`.
fn gather_rows(value: &DynValue, sources: &[usize]) -> Result<DynValue> {
    let array = value.try_extract_array::<f32>().map_err(inference)?;
    let gathered = array.select(Axis(0), sources);
    Ok(Tensor::from_array(gathered).map_err(inference)?.into_dyn())
}

/// The last `keep` positions of `logits` as `[batch, keep, vocab]`, checked against what was
/// fed: the graph returned either those positions or all `width`.
fn extract_logits(
    outputs: &ort::session::SessionOutputs,
    batch: usize,
    width: usize,
    keep: usize,
) -> Result<Array3<f32>> {
    let logits = outputs
        .get(LOGITS)
        .ok_or_else(|| Error::Inference("decoder returned no logits".into()))?
        .try_extract_array::<f32>()
        .map_err(inference)?;
    let shape = logits.shape().to_vec();
    if shape.len() != 3 || shape[0] != batch || (shape[1] != width && shape[1] != keep) {
        return Err(Error::Inference(format!(
            "unexpected logits shape {shape:?} for {batch}x{width} tokens"
        )));
    }
    let rows = shape[1];
    Ok(logits
        .into_dimensionality::<ndarray::Ix3>()
        .map_err(inference)?
        .slice(ndarray::s![.., rows - keep.., ..])
        .to_owned())
}
