//! Whisper's byte-level BPE tokenizer and its special tokens, resolved once at load so that a
//! model missing one fails then rather than mid-decode.

use std::collections::BTreeMap;
use std::path::Path;

use crate::options::Task;
use crate::{Error, Result};

/// Seconds between two consecutive timestamp tokens.
pub const TIMESTAMP_SECONDS: f64 = 0.02;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialTokens {
    pub eot: u32,
    pub sot: u32,
    pub sot_prev: u32,
    pub sot_lm: u32,
    pub transcribe: u32,
    pub translate: u32,
    pub no_timestamps: u32,
    pub no_speech: u32,
    /// `<|0.00|>`; every id from here on is a timestamp.
    pub timestamp_begin: u32,
}

pub struct WhisperTokenizer {
    inner: tokenizers::Tokenizer,
    pub special: SpecialTokens,
    /// ISO code → language token id; empty for English-only models.
    languages: BTreeMap<String, u32>,
}

impl WhisperTokenizer {
    pub fn load(path: &Path, languages: BTreeMap<String, u32>) -> Result<Self> {
        let inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| Error::InvalidModel(format!("{}: {e}", path.display())))?;
        let id = |names: &[&str]| -> Result<u32> {
            names
                .iter()
                .find_map(|name| inner.token_to_id(name))
                .ok_or_else(|| {
                    Error::InvalidModel(format!(
                        "{} has no {} token",
                        path.display(),
                        names.join(" or ")
                    ))
                })
        };
        let no_timestamps = id(&["<|notimestamps|>"])?;
        let special = SpecialTokens {
            eot: id(&["<|endoftext|>"])?,
            sot: id(&["<|startoftranscript|>"])?,
            sot_prev: id(&["<|startofprev|>"])?,
            sot_lm: id(&["<|startoflm|>"])?,
            transcribe: id(&["<|transcribe|>"])?,
            translate: id(&["<|translate|>"])?,
            no_timestamps,
            no_speech: id(&["<|nospeech|>", "<|nocaptions|>"])?,
            timestamp_begin: no_timestamps + 1,
        };
        if let Some(first) = inner.token_to_id("<|0.00|>")
            && first != special.timestamp_begin
        {
            return Err(Error::InvalidModel(format!(
                "{}: <|0.00|> has id {first}, expected {}",
                path.display(),
                special.timestamp_begin
            )));
        }
        Ok(Self {
            inner,
            special,
            languages,
        })
    }

    pub fn is_multilingual(&self) -> bool {
        !self.languages.is_empty()
    }

    pub fn languages(&self) -> &BTreeMap<String, u32> {
        &self.languages
    }

    pub fn language_token(&self, code: &str) -> Result<u32> {
        self.languages.get(code).copied().ok_or_else(|| {
            if self.is_multilingual() {
                Error::InvalidOption(format!("unknown language code {code:?}"))
            } else {
                Error::InvalidOption(format!(
                    "this model is English-only; language {code:?} is not available"
                ))
            }
        })
    }

    /// `<|startoftranscript|>` `<|lang|>` `<|task|>`: the tokens every window starts with.
    /// English-only models take `<|startoftranscript|>` alone.
    pub fn start_sequence(&self, language: Option<u32>, task: Task) -> Vec<u32> {
        let mut tokens = vec![self.special.sot];
        if self.is_multilingual() {
            if let Some(language) = language {
                tokens.push(language);
            }
            tokens.push(match task {
                Task::Transcribe => self.special.transcribe,
                Task::Translate => self.special.translate,
            });
        }
        tokens
    }

    /// Text tokens of `text`, without special tokens.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|e| Error::Inference(format!("tokenizing {text:?}: {e}")))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// Text of `tokens`, ignoring special and timestamp tokens.
    pub fn decode(&self, tokens: &[u32]) -> Result<String> {
        let text: Vec<u32> = tokens
            .iter()
            .copied()
            .filter(|&t| t < self.special.eot)
            .collect();
        self.inner
            .decode(&text, false)
            .map_err(|e| Error::Inference(format!("detokenizing: {e}")))
    }

    pub fn is_timestamp(&self, token: u32) -> bool {
        token >= self.special.timestamp_begin
    }

    /// Seconds from the window start that a timestamp token stands for.
    pub fn timestamp_seconds(&self, token: u32) -> f64 {
        (token - self.special.timestamp_begin) as f64 * TIMESTAMP_SECONDS
    }
}
