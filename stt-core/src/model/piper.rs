//! A Piper voice (VITS, `stt models pull en_US-joe-medium`): `voice.onnx` turns one
//! sentence's phoneme ids into samples; `voice.json` holds its sample rate, espeak-ng voice,
//! phoneme ids and default inference scales.

use std::collections::HashMap;
use std::path::Path;

use ort::session::Session;
use ort::value::Tensor;
use serde::Deserialize;

use super::runtime::{LoadOptions, open_session};
use crate::{Error, Result};

/// What the graph needs from `voice.json` (Piper's `.onnx.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct PiperConfig {
    pub audio: PiperAudio,
    pub espeak: PiperEspeak,
    pub inference: PiperScales,
    #[serde(default)]
    pub phoneme_type: Option<String>,
    pub phoneme_id_map: HashMap<String, Vec<i64>>,
    #[serde(default)]
    pub num_speakers: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PiperAudio {
    pub sample_rate: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PiperEspeak {
    /// The espeak-ng voice that phonemizes its text (`en-us`).
    pub voice: String,
}

/// The noise of the voice's two random samplers and the length of its phonemes.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct PiperScales {
    pub noise_scale: f32,
    pub length_scale: f32,
    pub noise_w: f32,
}

pub struct PiperModel {
    session: Session,
    pub config: PiperConfig,
}

impl PiperModel {
    /// The voice in `dir`, on the CPU.
    pub fn load(dir: &Path, options: &LoadOptions) -> Result<Self> {
        let config_path = dir.join("voice.json");
        let text = std::fs::read_to_string(&config_path).map_err(|e| {
            Error::InvalidModel(format!("cannot read {}: {e}", config_path.display()))
        })?;
        let config: PiperConfig = serde_json::from_str(&text)
            .map_err(|e| Error::InvalidModel(format!("{}: {e}", config_path.display())))?;
        if config
            .phoneme_type
            .as_deref()
            .is_some_and(|t| t != "espeak")
            || config.num_speakers > 1
        {
            return Err(Error::InvalidModel(format!(
                "{}: only single-speaker espeak voices are supported",
                config_path.display()
            )));
        }
        let options = LoadOptions {
            device: super::Device::Cpu,
            ..options.clone()
        };
        let (session, _) = open_session(&dir.join("voice.onnx"), &options)?;
        Ok(Self { session, config })
    }

    /// The samples of one utterance of phoneme `ids` (`^ _ … $`), at the voice's rate.
    pub fn run(&mut self, ids: Vec<i64>, scales: PiperScales) -> Result<Vec<f32>> {
        let length = ids.len();
        let inputs = ort::inputs![
            "input" => Tensor::from_array(([1, length], ids)).map_err(inference)?,
            "input_lengths" => Tensor::from_array(([1], vec![length as i64])).map_err(inference)?,
            "scales" => Tensor::from_array((
                [3],
                vec![scales.noise_scale, scales.length_scale, scales.noise_w],
            ))
            .map_err(inference)?,
        ];
        let outputs = self.session.run(inputs).map_err(inference)?;
        let (_, samples) = outputs
            .get("output")
            .ok_or_else(|| Error::Inference("the voice returned no output".into()))?
            .try_extract_tensor::<f32>()
            .map_err(inference)?;
        Ok(samples.to_vec())
    }
}

fn inference(e: impl std::fmt::Display) -> Error {
    Error::Inference(e.to_string())
}
