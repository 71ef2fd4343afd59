//! Speech synthesis: text → speakable text (`normalize`) → espeak-ng phonemes, a sentence at
//! a time (`espeak`) → the voice's phoneme ids → a VITS voice on ONNX Runtime
//! ([`crate::model::PiperModel`]) → samples, streamed sentence by sentence.
//!
//! Voices are a trait, so a voice that clones a reference recording plugs in beside the
//! installed Piper voice: [`choose_voice`] asks the voice, and the answer says whether it
//! cloned.

mod espeak;
mod normalize;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use unicode_normalization::UnicodeNormalization;

use crate::audio::SampleSource;
use crate::model::{LoadOptions, PiperModel, PiperScales};
use crate::store::{self, ModelKind, VOICE_MODEL};
use crate::{CancelToken, Error, Result};
pub use normalize::normalize_english;

/// Phonemes one run of the voice takes at most: longer sentences are split between words
/// (VITS's cost and memory grow with the length of what it reads).
const MAX_PHONEMES: usize = 400;
/// Highest sample level of each sentence (Piper scales each sentence to full scale).
const SENTENCE_PEAK: f32 = 0.95;

/// How to speak; [`Default`] is what every front end uses when not told otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechOptions {
    /// Speaking rate: 2 is twice as fast (OpenAI's `speed`, 0.25 to 4).
    pub speed: f32,
    /// Silence between sentences, in seconds.
    pub sentence_silence: f32,
    /// How much the voice's sound varies from run to run (Piper's `noise_scale`); `None`:
    /// the voice's own. 0 makes the output the same every time.
    pub noise_scale: Option<f32>,
    /// How much phoneme durations vary (Piper's `noise_w`); `None`: the voice's own.
    pub noise_w: Option<f32>,
}

impl Default for SpeechOptions {
    fn default() -> Self {
        Self {
            speed: 1.0,
            sentence_silence: 0.2,
            noise_scale: None,
            noise_w: None,
        }
    }
}

impl SpeechOptions {
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, value: f32, low: f32, high: f32| match value.is_finite()
            && (low..=high).contains(&value)
        {
            true => Ok(()),
            false => Err(Error::InvalidOption(format!(
                "`{name}` must be between {low} and {high}, got {value}"
            ))),
        };
        check("speed", self.speed, 0.25, 4.0)?;
        check("sentence_silence", self.sentence_silence, 0.0, 5.0)?;
        check("noise_scale", self.noise_scale.unwrap_or(0.0), 0.0, 2.0)?;
        check("noise_w", self.noise_w.unwrap_or(0.0), 0.0, 2.0)
    }
}

/// Where synthesized samples go, a sentence at a time.
pub type OnAudio<'a> = dyn FnMut(&[f32]) -> Result<()> + 'a;

/// A voice: text in, samples at [`Voice::sample_rate`] out.
pub trait Voice: Send + Sync {
    fn name(&self) -> &str;
    fn sample_rate(&self) -> u32;
    /// Speaks `text` into `emit`, a sentence at a time.
    fn speak(
        &self,
        text: &str,
        options: &SpeechOptions,
        cancel: &CancelToken,
        emit: &mut OnAudio<'_>,
    ) -> Result<()>;
    /// A voice that sounds like `reference` (mono, at the rate it says), or `None` when this
    /// voice cannot clone.
    fn cloned_from(&self, _reference: &dyn SampleSource) -> Result<Option<Arc<dyn Voice>>> {
        Ok(None)
    }
}

/// The voice to speak with: one cloned from `reference` when `voice` can clone, else `voice`
/// itself; and whether it cloned.
pub fn choose_voice(
    voice: &Arc<dyn Voice>,
    reference: Option<&dyn SampleSource>,
) -> Result<(Arc<dyn Voice>, bool)> {
    if let Some(reference) = reference
        && let Some(cloned) = voice.cloned_from(reference)?
    {
        return Ok((cloned, true));
    }
    Ok((Arc::clone(voice), false))
}

/// The names of the installed voices.
pub fn installed_voices() -> Vec<String> {
    store::installed_models()
        .into_iter()
        .filter(|m| m.kind == ModelKind::Voice)
        .map(|m| m.name)
        .collect()
}

/// A Piper voice: espeak-ng phonemes read by a VITS graph.
pub struct PiperVoice {
    name: String,
    model: Mutex<PiperModel>,
    /// Each phoneme's id in the graph's table.
    ids: HashMap<char, i64>,
    espeak_voice: String,
    default_scales: PiperScales,
    sample_rate: u32,
}

impl PiperVoice {
    /// The installed voice `name` (default [`VOICE_MODEL`]), or the voice in directory `dir`.
    pub fn load(name: Option<&str>, dir: Option<&Path>, options: &LoadOptions) -> Result<Self> {
        let name = name.unwrap_or(VOICE_MODEL);
        let dir = match dir {
            Some(dir) => dir.to_path_buf(),
            None => store::installed_model(name, ModelKind::Voice).ok_or_else(|| {
                Error::ModelNotFound(match name == VOICE_MODEL {
                    true => {
                        format!("voice {name:?} is not installed; run `stt models pull {name}`")
                    }
                    false => format!(
                        "voice {name:?} is not installed (installed: {})",
                        installed_voices().join(", ")
                    ),
                })
            })?,
        };
        let model = PiperModel::load(&dir, options)?;
        let config = &model.config;
        // Each phoneme is one character (NFD) with one id.
        let ids = config
            .phoneme_id_map
            .iter()
            .filter_map(|(phoneme, ids)| {
                let mut chars = phoneme.chars();
                match (chars.next(), chars.next(), ids.as_slice()) {
                    (Some(c), None, [id]) => Some((c, *id)),
                    _ => None,
                }
            })
            .collect::<HashMap<_, _>>();
        let missing = ['^', '_', '$'].into_iter().find(|c| !ids.contains_key(c));
        if let Some(c) = missing {
            return Err(Error::InvalidModel(format!(
                "{}: the voice has no id for {c:?}",
                dir.display()
            )));
        }
        Ok(Self {
            name: dir
                .file_name()
                .map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned()),
            ids,
            espeak_voice: config.espeak.voice.clone(),
            default_scales: config.inference,
            sample_rate: config.audio.sample_rate,
            model: Mutex::new(model),
        })
    }

    /// The phonemes this voice reads for `text`, one string per sentence.
    pub fn phonemes(&self, text: &str) -> Result<Vec<String>> {
        let text = match self.espeak_voice.starts_with("en") {
            true => normalize_english(text),
            false => text.to_string(),
        };
        espeak::phonemize(&text, &self.espeak_voice)
    }

    /// Piper's ids for one sentence: `^ _`, each known phoneme then `_`, `$`. Phonemes the
    /// voice has no id for are skipped.
    fn ids(&self, phonemes: &str) -> Vec<i64> {
        let mut ids = vec![self.ids[&'^'], self.ids[&'_']];
        for c in phonemes.nfd() {
            if let Some(&id) = self.ids.get(&c) {
                ids.extend([id, self.ids[&'_']]);
            }
        }
        ids.push(self.ids[&'$']);
        ids
    }
}

impl Voice for PiperVoice {
    fn name(&self) -> &str {
        &self.name
    }

    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    fn speak(
        &self,
        text: &str,
        options: &SpeechOptions,
        cancel: &CancelToken,
        emit: &mut OnAudio<'_>,
    ) -> Result<()> {
        options.validate()?;
        let scales = PiperScales {
            noise_scale: options
                .noise_scale
                .unwrap_or(self.default_scales.noise_scale),
            length_scale: self.default_scales.length_scale / options.speed,
            noise_w: options.noise_w.unwrap_or(self.default_scales.noise_w),
        };
        let silence = vec![0f32; (options.sentence_silence * self.sample_rate as f32) as usize];
        let mut spoken = false;
        // Punctuation alone has nothing to say.
        let sentences = self.phonemes(text)?.into_iter();
        for sentence in sentences.filter(|s| s.chars().any(char::is_alphabetic)) {
            for piece in split_long(&sentence, MAX_PHONEMES) {
                cancel.check()?;
                let mut samples = self
                    .model
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .run(self.ids(piece), scales)?;
                let peak = samples.iter().fold(0f32, |m, x| m.max(x.abs()));
                let gain = SENTENCE_PEAK / peak.max(0.01);
                samples.iter_mut().for_each(|x| *x *= gain);
                if spoken && !silence.is_empty() {
                    emit(&silence)?;
                }
                emit(&samples)?;
                spoken = true;
            }
        }
        if !spoken {
            return Err(Error::InvalidOption("the text has nothing to say".into()));
        }
        Ok(())
    }
}

/// `phonemes` in pieces of at most `limit` characters, split between words.
fn split_long(phonemes: &str, limit: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = phonemes.trim();
    while rest.chars().count() > limit {
        let cut = rest
            .char_indices()
            .take(limit + 1)
            .filter(|(_, c)| *c == ' ')
            .map(|(i, _)| i)
            .last()
            .unwrap_or_else(|| {
                rest.char_indices()
                    .nth(limit)
                    .map_or(rest.len(), |(i, _)| i)
            });
        let (piece, tail) = rest.split_at(cut);
        if !piece.trim().is_empty() {
            pieces.push(piece.trim());
        }
        rest = tail.trim_start();
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sentences_split_between_words() {
        let text = "ab cd ef gh";
        assert_eq!(split_long(text, 5), vec!["ab cd", "ef gh"]);
        assert_eq!(split_long("abcdefgh", 3), vec!["abc", "def", "gh"]);
        assert_eq!(split_long("short.", 400), vec!["short."]);
    }

    #[test]
    fn options_out_of_range_are_refused() {
        let bad = SpeechOptions {
            speed: 5.0,
            ..SpeechOptions::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("`speed`"));
        assert!(SpeechOptions::default().validate().is_ok());
    }
}
