//! Decoding one 30 s window: logit rules, greedy or sampled token choice, language detection.
//! The model is seen only through [`TokenDecoder`], so every rule here is unit-tested with
//! scripted logits.

mod fallback;
mod language;
mod rules;
mod window;

pub use fallback::{Attempt, FallbackPolicy, compression_ratio, decode_with_fallback};
pub use language::{LanguageDetection, detect_language};
pub use rules::{LogitRules, TimestampRules};
pub use window::{WindowDecoding, WindowParams, decode_window};

use ndarray::Array2;

use crate::Result;

/// A decoder over one window of encoded audio, with its own cache of what it has seen.
pub trait TokenDecoder {
    /// Appends `tokens` to the sequence decoded so far and returns one row of logits per
    /// appended token (`[tokens.len(), vocab]`); row `i` predicts the token after `tokens[i]`.
    fn forward(&mut self, tokens: &[u32]) -> Result<Array2<f32>>;

    /// Forgets every token fed so far (the audio stays).
    fn reset(&mut self);
}

pub(crate) fn log_softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = logits.iter().map(|&x| (x - max).exp()).sum::<f32>().ln() + max;
    logits.iter().map(|&x| x - log_sum).collect()
}

pub(crate) fn argmax(values: &[f32]) -> usize {
    values
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

#[cfg(test)]
pub(crate) mod scripted {
    //! A [`TokenDecoder`] that replays scripted logits: one row per call, keyed by call index.
    use super::*;

    pub struct ScriptedDecoder {
        pub vocab: usize,
        /// For each call, the (token, logit) pairs of its last row; others are 0.
        pub script: Vec<Vec<(u32, f32)>>,
        pub calls: Vec<Vec<u32>>,
    }

    impl ScriptedDecoder {
        pub fn new(vocab: usize, script: Vec<Vec<(u32, f32)>>) -> Self {
            Self {
                vocab,
                script,
                calls: Vec::new(),
            }
        }
    }

    impl TokenDecoder for ScriptedDecoder {
        fn forward(&mut self, tokens: &[u32]) -> Result<Array2<f32>> {
            let step = self.calls.len();
            self.calls.push(tokens.to_vec());
            let mut logits = Array2::zeros((tokens.len(), self.vocab));
            if let Some(row) = self.script.get(step) {
                for &(token, logit) in row {
                    for mut r in logits.rows_mut() {
                        r[token as usize] = logit;
                    }
                }
            }
            Ok(logits)
        }

        fn reset(&mut self) {}
    }
}
