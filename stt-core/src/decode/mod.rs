//! Decoding one 30 s window: logit rules, greedy or sampled token choice, temperature
//! fallback, language detection, and the [`WindowTask`] that sets them up from the options.
//! The model is seen only through [`TokenDecoder`], so every rule here is unit-tested with
//! scripted logits.

mod fallback;
mod language;
mod rules;
mod task;
mod window;

pub use fallback::{Attempt, FallbackPolicy, compression_ratio, decode_with_fallback};
pub use language::{LanguageDetection, detect_language};
pub use rules::{LogitRules, TimestampRules};
pub use task::{ModelLimits, PromptTokens, WindowTask, prompt_head, prompt_tail};
pub use window::{WindowDecoding, WindowParams, decode_window};

use ndarray::Array3;

use crate::Result;

/// A decoder over one window of encoded audio. It holds a batch of token sequences (beams or
/// sampled candidates) and caches what each has seen, so every step computes only new tokens.
pub trait TokenDecoder {
    /// Appends `tokens[i]` to sequence `i` (every row the same length) and returns the logits
    /// of the last `keep` positions, `[sequences, keep, vocab]`: `[i, j]` predicts the token
    /// after `tokens[i][width - keep + j]`. Positions not kept may never be computed (a long
    /// prompt needs only its last rows). After [`reset`](Self::reset) the batch holds a single
    /// sequence.
    fn forward(&mut self, tokens: &[Vec<u32>], keep: usize) -> Result<Array3<f32>>;

    /// Rearranges the batch: sequence `i` continues what sequence `sources[i]` has seen. Fans
    /// one prompt out to several candidates and follows beams without recomputing a prefix.
    fn reorder(&mut self, sources: &[usize]) -> Result<()>;

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
    //! A [`TokenDecoder`] whose logits are a function of each sequence's history.
    use super::*;
    use crate::tokenizer::SpecialTokens;

    /// A toy vocabulary: text 0..10, eot 10, specials 11..16, no_timestamps 16, timestamps
    /// 17..27.
    pub const SPECIAL: SpecialTokens = SpecialTokens {
        eot: 10,
        sot: 11,
        sot_prev: 12,
        sot_lm: 13,
        transcribe: 14,
        translate: 15,
        no_timestamps: 16,
        no_speech: 13,
        timestamp_begin: 17,
    };

    type Script = Box<dyn Fn(&[u32]) -> Vec<(u32, f32)>>;

    pub struct ScriptedDecoder {
        pub vocab: usize,
        /// Logits after a history: the listed (token, logit) pairs, 0 elsewhere.
        script: Script,
        /// Every sequence's history since the last reset.
        histories: Vec<Vec<u32>>,
        /// Rows fed by each call to `forward`.
        pub calls: Vec<Vec<Vec<u32>>>,
    }

    impl ScriptedDecoder {
        pub fn new(vocab: usize, script: impl Fn(&[u32]) -> Vec<(u32, f32)> + 'static) -> Self {
            Self {
                vocab,
                script: Box::new(script),
                histories: vec![Vec::new()],
                calls: Vec::new(),
            }
        }

        /// Logits set by step: every position of the first call (the prompt of `prompt_len`
        /// tokens) gets `steps[0]`, the k-th token after the prompt gets `steps[k]`.
        pub fn by_step(vocab: usize, prompt_len: usize, steps: Vec<Vec<(u32, f32)>>) -> Self {
            Self::new(vocab, move |history| {
                let step = history.len().saturating_sub(prompt_len);
                steps.get(step).cloned().unwrap_or_default()
            })
        }

        /// The single-sequence rows fed so far, one per call.
        pub fn single_calls(&self) -> Vec<Vec<u32>> {
            self.calls.iter().map(|rows| rows[0].clone()).collect()
        }
    }

    impl TokenDecoder for ScriptedDecoder {
        fn forward(&mut self, tokens: &[Vec<u32>], keep: usize) -> Result<Array3<f32>> {
            assert_eq!(tokens.len(), self.histories.len(), "one row per sequence");
            self.calls.push(tokens.to_vec());
            let width = tokens[0].len();
            assert!((1..=width).contains(&keep), "keeps 1 to {width} positions");
            let mut logits = Array3::zeros((tokens.len(), width, self.vocab));
            for (row, (fed, history)) in tokens.iter().zip(&mut self.histories).enumerate() {
                assert_eq!(fed.len(), width, "rows of equal length");
                for (position, &token) in fed.iter().enumerate() {
                    history.push(token);
                    for (id, logit) in (self.script)(history) {
                        logits[[row, position, id as usize]] = logit;
                    }
                }
            }
            Ok(logits.slice_move(ndarray::s![.., width - keep.., ..]))
        }

        fn reorder(&mut self, sources: &[usize]) -> Result<()> {
            self.histories = sources.iter().map(|&s| self.histories[s].clone()).collect();
            Ok(())
        }

        fn reset(&mut self) {
            self.histories = vec![Vec::new()];
        }
    }
}
