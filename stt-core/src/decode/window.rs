//! The token loop of one window: feed the whole prompt to a reset decoder, then choose one
//! token at a time until end of text or the length limit.

use super::{LogitRules, TokenDecoder, argmax, log_softmax};
use crate::Result;

#[derive(Debug, Clone)]
pub struct WindowParams {
    /// 0 picks the likeliest token; above 0 samples from the softened distribution.
    pub temperature: f32,
    /// Most tokens to sample in this window.
    pub max_new_tokens: usize,
    /// Index in the prompt of `<|startoftranscript|>`, whose logits give the no-speech probability.
    pub sot_index: usize,
    pub no_speech: u32,
    pub eot: u32,
    /// Seed of the sampler (only used when `temperature > 0`).
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct WindowDecoding {
    /// Sampled tokens, without the prompt and without the final end of text.
    pub tokens: Vec<u32>,
    /// Sum of the log probabilities of the sampled tokens, end of text included.
    pub sum_logprob: f64,
    /// `sum_logprob / (tokens + 1)`, as openai-whisper reports it.
    pub avg_logprob: f64,
    pub no_speech_prob: f32,
    pub temperature: f32,
}

pub fn decode_window(
    decoder: &mut impl TokenDecoder,
    prompt: &[u32],
    rules: &LogitRules,
    params: &WindowParams,
) -> Result<WindowDecoding> {
    decoder.reset();
    let mut rng = SplitMix64(params.seed);
    let mut tokens = Vec::new();
    let mut sum_logprob = 0.0f64;
    let mut no_speech_prob = 0.0f32;
    let mut input = prompt.to_vec();

    while tokens.len() < params.max_new_tokens {
        let logits = decoder.forward(&input)?;
        if tokens.is_empty()
            && let Some(row) = logits.rows().into_iter().nth(params.sot_index)
        {
            let row: Vec<f32> = row.to_vec();
            no_speech_prob = log_softmax(&row)
                .get(params.no_speech as usize)
                .map_or(0.0, |lp| lp.exp());
        }
        let Some(last) = logits.rows().into_iter().next_back() else {
            break;
        };
        let mut last = last.to_vec();
        rules.apply(&mut last, &tokens);
        let logprobs = log_softmax(&last);
        let token = if params.temperature > 0.0 {
            sample(&logprobs, params.temperature, &mut rng)
        } else {
            argmax(&last)
        } as u32;
        sum_logprob += logprobs[token as usize] as f64;
        if token == params.eot {
            break;
        }
        tokens.push(token);
        input = vec![token];
    }

    let avg_logprob = sum_logprob / (tokens.len() + 1) as f64;
    Ok(WindowDecoding {
        tokens,
        sum_logprob,
        avg_logprob,
        no_speech_prob,
        temperature: params.temperature,
    })
}

/// Draws from `softmax(logprobs / temperature)`.
fn sample(logprobs: &[f32], temperature: f32, rng: &mut SplitMix64) -> usize {
    let scaled: Vec<f32> = logprobs.iter().map(|&lp| lp / temperature).collect();
    let probs: Vec<f32> = log_softmax(&scaled).iter().map(|lp| lp.exp()).collect();
    let mut target = rng.next_f32() * probs.iter().sum::<f32>();
    for (token, p) in probs.iter().enumerate() {
        target -= p;
        if target <= 0.0 && *p > 0.0 {
            return token;
        }
    }
    argmax(&probs)
}

/// Small deterministic generator: sampling is reproducible for a given seed.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_f32(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::scripted::ScriptedDecoder;

    const EOT: u32 = 10;

    fn params(temperature: f32) -> WindowParams {
        WindowParams {
            temperature,
            max_new_tokens: 5,
            sot_index: 0,
            no_speech: 9,
            eot: EOT,
            seed: 7,
        }
    }

    fn no_rules() -> LogitRules {
        LogitRules {
            suppress: vec![],
            suppress_at_begin: vec![],
            timestamps: None,
        }
    }

    #[test]
    fn greedy_feeds_the_prompt_once_then_one_token_per_step() {
        let mut decoder = ScriptedDecoder::new(
            12,
            vec![vec![(4, 5.0), (9, 1.0)], vec![(6, 5.0)], vec![(EOT, 5.0)]],
        );
        let result = decode_window(&mut decoder, &[11, 1], &no_rules(), &params(0.0)).unwrap();
        assert_eq!(result.tokens, vec![4, 6]);
        assert_eq!(decoder.calls, vec![vec![11, 1], vec![4], vec![6]]);
        assert!(result.no_speech_prob > 0.0 && result.no_speech_prob < 0.1);
        assert!((result.avg_logprob - result.sum_logprob / 3.0).abs() < 1e-9);
        assert!(result.sum_logprob < 0.0);
    }

    #[test]
    fn rules_change_the_choice() {
        let mut decoder =
            ScriptedDecoder::new(12, vec![vec![(4, 5.0), (5, 4.0)], vec![(EOT, 9.0)]]);
        let rules = LogitRules {
            suppress: vec![4],
            ..no_rules()
        };
        let result = decode_window(&mut decoder, &[11], &rules, &params(0.0)).unwrap();
        assert_eq!(result.tokens, vec![5]);
    }

    #[test]
    fn stops_at_the_length_limit() {
        let mut decoder = ScriptedDecoder::new(12, vec![vec![(4, 5.0)]; 20]);
        let result = decode_window(&mut decoder, &[11], &no_rules(), &params(0.0)).unwrap();
        assert_eq!(result.tokens.len(), 5);
    }

    #[test]
    fn sampling_is_reproducible_and_follows_the_distribution() {
        let run = |seed| {
            let mut decoder =
                ScriptedDecoder::new(12, vec![vec![(4, 1.0), (5, 1.0)], vec![(EOT, 50.0)]]);
            let params = WindowParams {
                seed,
                ..params(1.0)
            };
            let rules = LogitRules {
                suppress_at_begin: vec![EOT],
                ..no_rules()
            };
            decode_window(&mut decoder, &[11], &rules, &params)
                .unwrap()
                .tokens
        };
        assert_eq!(run(3), run(3));
        let picks: Vec<u32> = (0..64).map(|seed| run(seed)[0]).collect();
        assert!(picks.contains(&4) && picks.contains(&5), "{picks:?}");
        assert!(
            picks.iter().any(|t| *t != 4 && *t != 5),
            "others keep some mass: {picks:?}"
        );
    }
}
