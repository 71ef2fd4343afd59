//! Spoken-language detection from the first token after `<|startoftranscript|>`.

use std::collections::BTreeMap;

use super::{TokenDecoder, log_softmax};
use crate::{Error, Result};

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LanguageDetection {
    pub language: String,
    pub probability: f32,
    /// Every language with its probability, most likely first.
    pub ranked: Vec<(String, f32)>,
}

pub fn detect_language(
    decoder: &mut impl TokenDecoder,
    sot: u32,
    languages: &BTreeMap<String, u32>,
) -> Result<LanguageDetection> {
    if languages.is_empty() {
        return Err(Error::InvalidOption(
            "this model is English-only and cannot detect languages".into(),
        ));
    }
    decoder.reset();
    let logits = decoder.forward(&[vec![sot]], 1)?;
    let row = logits.slice(ndarray::s![0, 0, ..]);
    let language_logits: Vec<f32> = languages
        .values()
        .map(|&id| row.get(id as usize).copied().unwrap_or(f32::NEG_INFINITY))
        .collect();
    let mut ranked: Vec<(String, f32)> = languages
        .keys()
        .cloned()
        .zip(log_softmax(&language_logits).into_iter().map(f32::exp))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (language, probability) = ranked[0].clone();
    Ok(LanguageDetection {
        language,
        probability,
        ranked,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::scripted::ScriptedDecoder;

    #[test]
    fn picks_the_likeliest_language_token_only() {
        let languages = BTreeMap::from([("en".to_string(), 5), ("de".to_string(), 6)]);
        // Token 2 is not a language: its large logit must not matter.
        let mut decoder = ScriptedDecoder::by_step(8, 1, vec![vec![(2, 30.0), (5, 1.0), (6, 3.0)]]);
        let detection = detect_language(&mut decoder, 7, &languages).unwrap();
        assert_eq!(detection.language, "de");
        assert!((detection.probability - 0.8808).abs() < 1e-3);
        assert_eq!(decoder.single_calls(), vec![vec![7]]);
        assert_eq!(detection.ranked[1].0, "en");
    }

    #[test]
    fn english_only_models_cannot_detect() {
        let mut decoder = ScriptedDecoder::by_step(8, 1, vec![]);
        assert!(detect_language(&mut decoder, 7, &BTreeMap::new()).is_err());
    }
}
