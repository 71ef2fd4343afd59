//! The Silero VAD graph (`silero_vad.onnx` of the `silero-vad` package): one frame of audio per
//! call, with a recurrent state carried from frame to frame.

use std::path::Path;

use ort::session::Session;
use ort::value::{DynValue, Tensor, TensorRef};

use super::runtime::{LoadOptions, open_session};
use crate::{Error, Result};

/// New samples the graph classifies per call (32 ms at 16 kHz).
pub const FRAME_SAMPLES: usize = 512;
/// Samples of the previous frame the graph sees before the new ones.
pub const CONTEXT_SAMPLES: usize = 64;
/// The only sample rate used: the graph also accepts 8 kHz, the engine's audio is 16 kHz.
const SAMPLE_RATE: i64 = 16_000;
const STATE_SHAPE: [usize; 3] = [2, 1, 128];

const INPUT: &str = "input";
const STATE: &str = "state";
const RATE: &str = "sr";
const OUTPUT: &str = "output";
const NEXT_STATE: &str = "stateN";

pub struct SileroModel {
    session: Session,
    sample_rate: Tensor<i64>,
}

impl SileroModel {
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Self> {
        // One frame is far too little work to share between threads (faster-whisper also runs
        // its VAD on one), so one thread unless the caller asked otherwise.
        let options = LoadOptions {
            intra_threads: Some(options.intra_threads.unwrap_or(1)),
            device: super::Device::Cpu,
            ..options.clone()
        };
        let (session, _) = open_session(path, &options)?;
        let has =
            |outlets: &[ort::value::Outlet], name: &str| outlets.iter().any(|o| o.name() == name);
        let missing = [INPUT, STATE, RATE]
            .into_iter()
            .find(|name| !has(session.inputs(), name))
            .or_else(|| {
                [OUTPUT, NEXT_STATE]
                    .into_iter()
                    .find(|name| !has(session.outputs(), name))
            });
        if let Some(name) = missing {
            return Err(Error::InvalidModel(format!(
                "{} has no {name} (not a Silero VAD v5/v6 graph)",
                path.display()
            )));
        }
        let sample_rate = Tensor::from_array(((), vec![SAMPLE_RATE])).map_err(inference)?;
        Ok(Self {
            session,
            sample_rate,
        })
    }

    /// Speech probability of each frame of `samples`: [`CONTEXT_SAMPLES`] of context followed
    /// by whole frames of [`FRAME_SAMPLES`]. The state starts at zero and is carried through the
    /// frames in order; each frame's context is the end of the frame before.
    ///
    /// The graph's batch dimension holds independent streams, each with its own state, so the
    /// frames of one recording go through it one at a time.
    pub fn frame_probabilities(&mut self, samples: &[f32]) -> Result<Vec<f32>> {
        self.continue_frames(samples, &mut SileroState::default())
    }

    /// [`Self::frame_probabilities`] from `state`, which is left as the last frame set it: audio
    /// that arrives in pieces is classified as if it had come whole.
    pub fn continue_frames(
        &mut self,
        samples: &[f32],
        state: &mut SileroState,
    ) -> Result<Vec<f32>> {
        let frames = samples.len().saturating_sub(CONTEXT_SAMPLES) / FRAME_SAMPLES;
        let mut current: DynValue = Tensor::from_array((STATE_SHAPE, state.0.clone()))
            .map_err(inference)?
            .into_dyn();
        let mut probabilities = Vec::with_capacity(frames);
        for frame in 0..frames {
            let start = frame * FRAME_SAMPLES;
            let window = &samples[start..start + CONTEXT_SAMPLES + FRAME_SAMPLES];
            let input =
                TensorRef::from_array_view(([1, window.len()], window)).map_err(inference)?;
            let mut outputs = self
                .session
                .run(ort::inputs![
                    INPUT => input,
                    STATE => &current,
                    RATE => &self.sample_rate,
                ])
                .map_err(inference)?;
            let (_, probability) = outputs
                .get(OUTPUT)
                .ok_or_else(|| Error::Inference(format!("VAD returned no {OUTPUT}")))?
                .try_extract_tensor::<f32>()
                .map_err(inference)?;
            probabilities.push(
                *probability
                    .first()
                    .ok_or_else(|| Error::Inference(format!("VAD returned an empty {OUTPUT}")))?,
            );
            current = outputs
                .remove(NEXT_STATE)
                .ok_or_else(|| Error::Inference(format!("VAD returned no {NEXT_STATE}")))?;
        }
        let (_, values) = current.try_extract_tensor::<f32>().map_err(inference)?;
        if values.len() != state.0.len() {
            return Err(Error::Inference(format!(
                "VAD returned a {NEXT_STATE} of {} values, expected {}",
                values.len(),
                state.0.len()
            )));
        }
        state.0.copy_from_slice(values);
        Ok(probabilities)
    }
}

/// The detector's recurrent state between frames (zero at the start of a recording).
#[derive(Debug, Clone, PartialEq)]
pub struct SileroState(Vec<f32>);

impl Default for SileroState {
    fn default() -> Self {
        Self(vec![0.0; STATE_SHAPE.iter().product()])
    }
}

fn inference(e: impl std::fmt::Display) -> Error {
    Error::Inference(e.to_string())
}
