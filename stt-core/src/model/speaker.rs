//! The CAM++ speaker embedder (`campplus.onnx`, converted by the `stt-models` crate): windows
//! of filterbank features in, one 192-value embedding per window out.

use std::path::Path;

use ort::session::Session;
use ort::value::TensorRef;

use super::runtime::{LoadOptions, open_session};
use crate::{Error, Result};

const INPUT: &str = "features";
const OUTPUT: &str = "embedding";
/// Filterbank bins per frame the graph expects.
pub const SPEAKER_FEATURE_BINS: usize = 80;

pub struct SpeakerModel {
    session: Session,
}

impl SpeakerModel {
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Self> {
        let options = LoadOptions {
            device: super::Device::Cpu,
            ..options.clone()
        };
        let (session, _) = open_session(path, &options)?;
        let has =
            |outlets: &[ort::value::Outlet], name: &str| outlets.iter().any(|o| o.name() == name);
        if !has(session.inputs(), INPUT) || !has(session.outputs(), OUTPUT) {
            return Err(Error::InvalidModel(format!(
                "{} has no {INPUT} input or no {OUTPUT} output (not a converted CAM++ graph)",
                path.display()
            )));
        }
        Ok(Self { session })
    }

    /// One embedding per window: `features` holds `windows` windows of `frames` frames of
    /// [`SPEAKER_FEATURE_BINS`] values each.
    pub fn embed(
        &mut self,
        features: &[f32],
        windows: usize,
        frames: usize,
    ) -> Result<Vec<Vec<f32>>> {
        let input = TensorRef::from_array_view(([windows, frames, SPEAKER_FEATURE_BINS], features))
            .map_err(inference)?;
        let outputs = self
            .session
            .run(ort::inputs![INPUT => input])
            .map_err(inference)?;
        let (shape, values) = outputs
            .get(OUTPUT)
            .ok_or_else(|| Error::Inference(format!("speaker model returned no {OUTPUT}")))?
            .try_extract_tensor::<f32>()
            .map_err(inference)?;
        let size = usize::try_from(shape[shape.len() - 1]).unwrap_or(0);
        if size == 0 || values.len() != windows * size {
            return Err(Error::Inference(format!(
                "speaker model returned {} values for {windows} windows",
                values.len()
            )));
        }
        Ok(values.chunks_exact(size).map(<[f32]>::to_vec).collect())
    }
}

fn inference(e: impl std::fmt::Display) -> Error {
    Error::Inference(e.to_string())
}
