//! The on-disk layout contract of a model directory: the Hugging Face optimum /
//! onnx-community Whisper export that users already download, and that `stt models pull`
//! writes. Everything the engine knows about file names and JSON fields lives here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{Error, Result};

pub const ENCODER: &str = "onnx/encoder_model";
pub const DECODER: &str = "onnx/decoder_model_merged";
pub const CONFIG: &str = "config.json";
pub const GENERATION_CONFIG: &str = "generation_config.json";
pub const PREPROCESSOR_CONFIG: &str = "preprocessor_config.json";
pub const TOKENIZER: &str = "tokenizer.json";

/// Which graphs to load: float32, float16-stored (`*_fp16.onnx`: half the file, cast to
/// float32 as the graph loads) or int8-quantized (`*_quantized.onnx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// The default takes the most precise graphs a model has: float32, else float16, else int8
    /// (an import may keep only one). Also accepts faster-whisper's `compute_type` names that
    /// mean float32 on a CPU.
    #[default]
    #[serde(alias = "default", alias = "auto")]
    Float32,
    #[serde(alias = "fp16")]
    Float16,
    #[serde(alias = "int8_float32")]
    Int8,
}

impl Precision {
    /// Most precise first.
    pub const ALL: [Precision; 3] = [Precision::Float32, Precision::Float16, Precision::Int8];

    fn file_suffix(self) -> &'static str {
        match self {
            Precision::Float32 => ".onnx",
            Precision::Float16 => "_fp16.onnx",
            Precision::Int8 => "_quantized.onnx",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Float32 => "float32",
            Precision::Float16 => "float16",
            Precision::Int8 => "int8",
        }
    }

    /// The precisions whose encoder and decoder graphs are both in `dir`.
    pub fn installed(dir: &Path) -> Vec<Precision> {
        Precision::ALL
            .into_iter()
            .filter(|p| {
                [ENCODER, DECODER]
                    .iter()
                    .all(|graph| dir.join(format!("{graph}{}", p.file_suffix())).is_file())
            })
            .collect()
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;

    /// Case-insensitive, with the same aliases as the serde form.
    fn from_str(name: &str) -> Result<Self> {
        serde_json::from_value(serde_json::Value::String(name.to_ascii_lowercase())).map_err(|_| {
            Error::InvalidOption(format!(
                "precision {name:?} is not available; use \"float32\", \"float16\" or \"int8\" \
                 (\"default\" is float32)"
            ))
        })
    }
}

/// Fields of `config.json` the engine needs.
#[derive(Debug, Clone, Deserialize)]
struct ArchitectureConfig {
    d_model: usize,
    encoder_layers: Option<usize>,
    decoder_layers: usize,
    decoder_attention_heads: usize,
    #[serde(default = "default_mels")]
    num_mel_bins: usize,
    vocab_size: usize,
    #[serde(default = "default_max_target_positions")]
    max_target_positions: usize,
}

fn default_mels() -> usize {
    80
}
fn default_max_target_positions() -> usize {
    448
}

/// Fields of `generation_config.json` the engine needs.
#[derive(Debug, Clone, Deserialize)]
struct GenerationConfig {
    #[serde(default)]
    alignment_heads: Vec<(usize, usize)>,
    #[serde(default)]
    lang_to_id: BTreeMap<String, u32>,
    #[serde(default)]
    suppress_tokens: Vec<u32>,
    #[serde(default)]
    begin_suppress_tokens: Vec<u32>,
    #[serde(default)]
    is_multilingual: Option<bool>,
}

/// A model directory that passed the layout checks.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub dir: PathBuf,
    pub encoder: PathBuf,
    pub decoder: PathBuf,
    pub tokenizer: PathBuf,
    pub config: ModelConfig,
}

/// What the engine knows about a model once loaded, independent of where it came from.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub n_mels: usize,
    pub d_model: usize,
    pub encoder_layers: usize,
    pub decoder_layers: usize,
    pub decoder_heads: usize,
    pub vocab_size: usize,
    pub max_target_positions: usize,
    /// (decoder layer, head) pairs whose cross-attention follows the audio (word timing).
    pub alignment_heads: Vec<(usize, usize)>,
    /// ISO code ("en") → token id of `<|en|>`; empty for English-only models.
    pub languages: BTreeMap<String, u32>,
    pub suppress_tokens: Vec<u32>,
    pub begin_suppress_tokens: Vec<u32>,
    pub is_multilingual: bool,
}

impl ModelConfig {
    pub fn head_dim(&self) -> usize {
        self.d_model / self.decoder_heads
    }

    /// About how many weights the model has (12 d² per encoder layer, 16 d² per decoder layer,
    /// the embeddings): what tells large-v3 from turbo, whatever the models are called.
    pub fn parameters(&self) -> u64 {
        let d = self.d_model as u64;
        d * d * (12 * self.encoder_layers as u64 + 16 * self.decoder_layers as u64)
            + d * self.vocab_size as u64
    }
}

impl ModelFiles {
    /// Checks that `dir` holds a complete export and reads its configuration.
    pub fn open(dir: &Path, precision: Precision) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::ModelNotFound(format!(
                "{} is not a directory",
                dir.display()
            )));
        }
        let file = |relative: &str| -> Result<PathBuf> {
            let path = dir.join(relative);
            if path.is_file() {
                Ok(path)
            } else {
                Err(Error::InvalidModel(format!(
                    "{} is missing {relative}",
                    dir.display()
                )))
            }
        };
        let installed = Precision::installed(dir);
        let precision = match precision {
            Precision::Float32 if !installed.contains(&precision) => {
                installed.first().copied().unwrap_or(precision)
            }
            _ => precision,
        };
        let encoder = file(&format!("{ENCODER}{}", precision.file_suffix()))?;
        let decoder = file(&format!("{DECODER}{}", precision.file_suffix()))?;
        let tokenizer = file(TOKENIZER)?;
        let architecture: ArchitectureConfig = read_json(&file(CONFIG)?)?;
        let generation: GenerationConfig = read_json(&file(GENERATION_CONFIG)?)?;

        if architecture.decoder_attention_heads == 0
            || !architecture
                .d_model
                .is_multiple_of(architecture.decoder_attention_heads)
        {
            return Err(Error::InvalidModel(format!(
                "{}: d_model {} is not divisible by {} heads",
                dir.display(),
                architecture.d_model,
                architecture.decoder_attention_heads
            )));
        }
        let languages = generation
            .lang_to_id
            .into_iter()
            .map(|(token, id)| {
                let code = token.trim_start_matches("<|").trim_end_matches("|>");
                (code.to_string(), id)
            })
            .collect::<BTreeMap<_, _>>();
        let config = ModelConfig {
            n_mels: architecture.num_mel_bins,
            d_model: architecture.d_model,
            encoder_layers: architecture
                .encoder_layers
                .unwrap_or(architecture.decoder_layers),
            decoder_layers: architecture.decoder_layers,
            decoder_heads: architecture.decoder_attention_heads,
            vocab_size: architecture.vocab_size,
            max_target_positions: architecture.max_target_positions,
            alignment_heads: generation.alignment_heads,
            is_multilingual: generation.is_multilingual.unwrap_or(!languages.is_empty()),
            languages,
            suppress_tokens: generation.suppress_tokens,
            begin_suppress_tokens: generation.begin_suppress_tokens,
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            encoder,
            decoder,
            tokenizer,
            config,
        })
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::InvalidModel(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, relative: &str, text: &str) {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn export(dir: &Path) {
        for graph in [ENCODER, DECODER] {
            write(dir, &format!("{graph}.onnx"), "");
        }
        write(dir, TOKENIZER, "{}");
        write(
            dir,
            CONFIG,
            r#"{"d_model": 512, "decoder_layers": 6, "decoder_attention_heads": 8,
                "num_mel_bins": 80, "vocab_size": 51865, "unknown_field": 1}"#,
        );
        write(
            dir,
            GENERATION_CONFIG,
            r#"{"alignment_heads": [[3, 1], [5, 6]], "lang_to_id": {"<|en|>": 50259, "<|de|>": 50261},
                "suppress_tokens": [1, 2], "begin_suppress_tokens": [220, 50257]}"#,
        );
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stt-layout-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn precision_names_parse_case_insensitively_with_aliases() {
        for (name, expected) in [
            ("float32", Precision::Float32),
            ("Default", Precision::Float32),
            ("auto", Precision::Float32),
            ("INT8", Precision::Int8),
            ("int8_float32", Precision::Int8),
            ("float16", Precision::Float16),
            ("fp16", Precision::Float16),
        ] {
            assert_eq!(name.parse::<Precision>().unwrap(), expected, "{name}");
        }
        let err = "bfloat16".parse::<Precision>().unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidOption);
        assert!(err.to_string().contains("\"bfloat16\""), "{err}");
    }

    #[test]
    fn reads_an_optimum_export() {
        let dir = temp_dir("ok");
        export(&dir);
        let files = ModelFiles::open(&dir, Precision::Float32).unwrap();
        assert_eq!(files.config.head_dim(), 64);
        assert_eq!(files.config.languages["de"], 50261);
        assert_eq!(files.config.alignment_heads, vec![(3, 1), (5, 6)]);
        assert!(files.config.is_multilingual);
        assert!(files.decoder.ends_with("onnx/decoder_model_merged.onnx"));
    }

    #[test]
    fn the_default_takes_the_most_precise_graphs_installed() {
        let dir = temp_dir("fp16");
        export(&dir);
        for graph in [ENCODER, DECODER] {
            std::fs::rename(
                dir.join(format!("{graph}.onnx")),
                dir.join(format!("{graph}_fp16.onnx")),
            )
            .unwrap();
        }
        assert_eq!(Precision::installed(&dir), vec![Precision::Float16]);
        let files = ModelFiles::open(&dir, Precision::Float32).unwrap();
        assert!(files.encoder.ends_with("onnx/encoder_model_fp16.onnx"));
        // An explicit choice is never swapped for another.
        let err = ModelFiles::open(&dir, Precision::Int8).unwrap_err();
        assert!(
            err.to_string().contains("encoder_model_quantized.onnx"),
            "{err}"
        );
    }

    #[test]
    fn missing_files_are_named() {
        let dir = temp_dir("missing");
        export(&dir);
        let err = ModelFiles::open(&dir, Precision::Int8).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::InvalidModel);
        assert!(
            err.to_string()
                .contains("onnx/encoder_model_quantized.onnx"),
            "{err}"
        );

        std::fs::remove_file(dir.join(TOKENIZER)).unwrap();
        let err = ModelFiles::open(&dir, Precision::Float32).unwrap_err();
        assert!(err.to_string().contains("tokenizer.json"), "{err}");
    }

    #[test]
    fn bad_json_and_missing_dirs_are_clear_errors() {
        let dir = temp_dir("badjson");
        export(&dir);
        write(&dir, CONFIG, "{not json");
        let err = ModelFiles::open(&dir, Precision::Float32).unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");

        let err = ModelFiles::open(&dir.join("nope"), Precision::Float32).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::ModelNotFound);
    }
}
