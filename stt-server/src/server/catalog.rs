//! Installed models and how requested names map onto them (API.md, "Model names").

use std::collections::BTreeMap;

use stt_core::model::ModelFiles;
use stt_core::store::{self, ModelKind};
use stt_core::{Precision, languages::language_name};

/// Sizes of the Whisper family, smallest first (names clients send).
const SIZES: [&str; 5] = ["tiny", "base", "small", "medium", "large"];

#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub name: String,
    /// Language codes the model knows (only `en` for English-only models).
    pub languages: Vec<String>,
    /// About how many weights it has ([`stt_core::model::ModelConfig::parameters`]).
    pub parameters: u64,
    pub decoder_layers: usize,
}

impl ModelInfo {
    /// The best model is the largest; at one size the multilingual model beats the
    /// English-only one.
    fn rank(&self) -> (u64, bool) {
        (self.parameters, self.languages.len() > 1)
    }

    /// The seed's speed labels, from the model's size: up to small "very_fast", medium and the
    /// shallow-decoder models (turbo, distil) "fast", the full large models "standard".
    pub fn speed(&self) -> &'static str {
        if self.parameters <= 300_000_000 {
            "very_fast"
        } else if self.parameters <= 800_000_000 || self.decoder_layers <= 4 {
            "fast"
        } else {
            "standard"
        }
    }
}

#[derive(Debug)]
pub struct Catalog {
    pub models: Vec<ModelInfo>,
    pub default: String,
    aliases: BTreeMap<String, String>,
    strict: bool,
}

impl Catalog {
    /// Reads the installed Whisper models; fails when there is none, or when the default or an
    /// alias names one that is not installed.
    pub fn load(default: Option<&str>, aliases: &[String], strict: bool) -> Result<Self, String> {
        let models: Vec<ModelInfo> = store::installed_models()
            .into_iter()
            .filter(|model| model.kind == ModelKind::Whisper)
            .filter_map(|model| {
                let files = ModelFiles::open(&model.dir, Precision::Float32).ok()?;
                let parameters = files.config.parameters();
                let mut languages: Vec<String> = files.config.languages.into_keys().collect();
                if languages.is_empty() {
                    languages.push("en".into());
                }
                Some(ModelInfo {
                    name: model.name,
                    languages,
                    parameters,
                    decoder_layers: files.config.decoder_layers,
                })
            })
            .collect();
        let installed = |name: &str| models.iter().any(|m| m.name == name);
        let default = match default {
            Some(name) if installed(name) => name.to_string(),
            Some(name) => return Err(format!("default model {name:?} is not installed")),
            None => models
                .iter()
                .max_by_key(|m| m.rank())
                .map(|m| m.name.clone())
                .ok_or("no Whisper model installed; run `stt models pull base`")?,
        };
        let mut alias_map = BTreeMap::new();
        for alias in aliases {
            let (name, target) = alias
                .split_once('=')
                .ok_or_else(|| format!("alias {alias:?}: expected NAME=MODEL"))?;
            if !installed(target.trim()) {
                return Err(format!("alias {alias:?}: {target:?} is not installed"));
            }
            alias_map.insert(normalize(name), target.trim().to_string());
        }
        Ok(Self {
            models,
            default,
            aliases: alias_map,
            strict,
        })
    }

    pub fn get(&self, name: &str) -> Option<&ModelInfo> {
        self.models.iter().find(|m| m.name == name)
    }

    /// The installed model that serves a request for `requested`.
    pub fn resolve(&self, requested: Option<&str>) -> Result<String, String> {
        let Some(requested) = requested.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(self.default.clone());
        };
        if self.get(requested).is_some() {
            return Ok(requested.to_string());
        }
        let name = normalize(requested);
        if let Some(target) = self.aliases.get(&name) {
            return Ok(target.clone());
        }
        if self.get(&name).is_some() {
            return Ok(name);
        }
        let installed: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
        if !is_whisper_name(&name) {
            return Err(format!(
                "unknown model {requested:?}: not a Whisper model (installed: {})",
                installed.join(", ")
            ));
        }
        if self.strict {
            return Err(format!(
                "model {requested:?} is not installed (installed: {})",
                installed.join(", ")
            ));
        }
        Ok(self.default.clone())
    }
}

/// `#g1_whisper-large`, `openai/whisper-large-v3`, `Whisper-1` → `large`, `large-v3`, `1`.
fn normalize(name: &str) -> String {
    let mut name = name.trim().to_ascii_lowercase();
    for prefix in [
        "#g1_", "openai/", "systran/", "faster-", "whisper-", "whisper_",
    ] {
        if let Some(rest) = name.strip_prefix(prefix) {
            name = rest.to_string();
        }
    }
    name
}

/// Names of the Whisper family as clients send them (after [`normalize`]).
fn is_whisper_name(name: &str) -> bool {
    let name = name.strip_prefix("distil-").unwrap_or(name);
    let size = name.strip_suffix(".en").unwrap_or(name);
    matches!(size, "whisper" | "1" | "turbo")
        || SIZES.contains(&size)
        || matches!(
            size,
            "large-v1" | "large-v2" | "large-v3" | "large-v3-turbo" | "large-turbo"
        )
}

/// "Whisper Tiny English", "Whisper Large V3 Turbo".
pub fn display_name(name: &str) -> String {
    let (size, english) = match name.strip_suffix(".en") {
        Some(size) => (size, " English"),
        None => (name, ""),
    };
    let words: Vec<String> = size
        .split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect();
    format!("Whisper {}{english}", words.join(" "))
}

/// `{"code", "name"}` pairs for a model's languages.
pub fn language_entries(model: &ModelInfo) -> Vec<(String, String)> {
    model
        .languages
        .iter()
        .map(|code| {
            let name = language_name(code).unwrap_or(code);
            (code.clone(), name.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str, parameters: u64, decoder_layers: usize, languages: usize) -> ModelInfo {
        ModelInfo {
            name: name.into(),
            languages: (0..languages).map(|i| format!("l{i}")).collect(),
            parameters,
            decoder_layers,
        }
    }

    fn catalog(strict: bool) -> Catalog {
        let model = |name: &str| model(name, 0, 1, 1);
        Catalog {
            models: vec![model("base"), model("tiny.en")],
            default: "base".into(),
            aliases: BTreeMap::from([("large-v3".to_string(), "tiny.en".to_string())]),
            strict,
        }
    }

    #[test]
    fn names_resolve_to_installed_models() {
        let lenient = catalog(false);
        assert_eq!(lenient.resolve(None).unwrap(), "base");
        assert_eq!(lenient.resolve(Some("tiny.en")).unwrap(), "tiny.en");
        assert_eq!(lenient.resolve(Some("whisper-tiny.en")).unwrap(), "tiny.en");
        assert_eq!(lenient.resolve(Some("#g1_whisper-large")).unwrap(), "base");
        assert_eq!(lenient.resolve(Some("whisper-1")).unwrap(), "base");
        assert_eq!(lenient.resolve(Some("large-v3")).unwrap(), "tiny.en");
        let error = lenient.resolve(Some("gpt-4o")).unwrap_err();
        assert!(error.contains("not a Whisper model"), "{error}");

        let strict = catalog(true);
        assert_eq!(strict.resolve(Some("base")).unwrap(), "base");
        let error = strict.resolve(Some("medium")).unwrap_err();
        assert!(error.contains("base, tiny.en"), "{error}");
    }

    #[test]
    fn the_largest_multilingual_model_ranks_first_whatever_its_name() {
        // Parameters as ModelConfig::parameters counts them for the published sizes.
        let base = model("base", 72_000_000, 6, 99);
        let base_en = model("my-english-model", 72_000_000, 6, 1);
        let small_en = model("small.en", 240_000_000, 12, 1);
        let turbo = model("turbo-import", 800_000_000, 4, 100);
        let large = model("v3", 1_540_000_000, 32, 100);
        assert!(base.rank() > base_en.rank());
        assert!(small_en.rank() > base.rank());
        assert!(large.rank() > turbo.rank());
        assert_eq!(
            [&base, &small_en, &turbo, &large].map(ModelInfo::speed),
            ["very_fast", "very_fast", "fast", "standard"]
        );
        assert_eq!(display_name("tiny.en"), "Whisper Tiny English");
        assert_eq!(display_name("large-v3-turbo"), "Whisper Large V3 Turbo");
    }
}
