//! Temperature fallback: decode greedily first; if the text looks like a loop (too
//! compressible) or the model was unsure (low average log probability), decode again at
//! rising temperatures, as openai-whisper and faster-whisper do.

use std::io::Write;

use super::{LogitRules, TokenDecoder, WindowDecoding, WindowParams, decode_window};
use crate::Result;

#[derive(Debug, Clone, PartialEq)]
pub struct FallbackPolicy {
    /// Temperatures to try in order; the first is usually 0 (greedy or beam search).
    pub temperatures: Vec<f32>,
    pub compression_ratio_threshold: Option<f32>,
    pub log_prob_threshold: Option<f32>,
    pub no_speech_threshold: Option<f32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub decoding: WindowDecoding,
    pub text: String,
    pub compression_ratio: f64,
}

/// Length of the UTF-8 text over its zlib-compressed length; repetitive text scores high.
pub fn compression_ratio(text: &str) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let compressed = encoder
        .write_all(text.as_bytes())
        .and_then(|()| encoder.finish())
        .map_or(text.len(), |bytes| bytes.len());
    text.len() as f64 / compressed.max(1) as f64
}

pub fn decode_with_fallback<D: TokenDecoder>(
    decoder: &mut D,
    prompt: &[u32],
    rules: &LogitRules,
    params: &WindowParams,
    policy: &FallbackPolicy,
    text_of: &dyn Fn(&[u32]) -> Result<String>,
) -> Result<Attempt> {
    let mut attempts: Vec<Attempt> = Vec::new();
    for &temperature in &policy.temperatures {
        let params = WindowParams {
            temperature,
            ..params.clone()
        };
        let decoding = decode_window(decoder, prompt, rules, &params)?;
        let text = text_of(&decoding.tokens)?;
        let attempt = Attempt {
            compression_ratio: compression_ratio(&text),
            text,
            decoding,
        };

        let too_repetitive = policy
            .compression_ratio_threshold
            .is_some_and(|t| attempt.compression_ratio > t as f64);
        let too_unsure = policy
            .log_prob_threshold
            .is_some_and(|t| attempt.decoding.avg_logprob < t as f64);
        // Unsure because there is no speech: retrying would only invent text. (Whether the
        // window is then skipped is `WindowTask::is_silence`'s question, which openai-whisper
        // answers with a different rule: there, confident text alone keeps a window.)
        let silence = policy
            .no_speech_threshold
            .is_some_and(|t| attempt.decoding.no_speech_prob > t)
            && too_unsure;
        if silence || !(too_repetitive || too_unsure) {
            return Ok(attempt);
        }
        attempts.push(attempt);
    }

    // Every temperature failed: keep the likeliest attempt, preferring those that do not loop.
    let within_ratio = |a: &Attempt| {
        policy
            .compression_ratio_threshold
            .is_none_or(|t| a.compression_ratio <= t as f64)
    };
    let pool: Vec<&Attempt> = if attempts.iter().any(within_ratio) {
        attempts.iter().filter(|a| within_ratio(a)).collect()
    } else {
        attempts.iter().collect()
    };
    pool.into_iter()
        .max_by(|a, b| a.decoding.avg_logprob.total_cmp(&b.decoding.avg_logprob))
        .cloned()
        .ok_or_else(|| crate::Error::InvalidOption("no temperatures to decode with".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::scripted::ScriptedDecoder;

    const EOT: u32 = 10;

    fn params() -> WindowParams {
        WindowParams {
            temperature: 0.0,
            beam_size: 1,
            patience: 1.0,
            best_of: 2,
            length_penalty: 1.0,
            max_new_tokens: 8,
            prefix: vec![],
            sot_index: 0,
            no_speech: 9,
            eot: EOT,
            seed: 1,
        }
    }

    fn policy() -> FallbackPolicy {
        FallbackPolicy {
            temperatures: vec![0.0, 0.5, 1.0],
            compression_ratio_threshold: Some(2.4),
            log_prob_threshold: Some(-1.0),
            no_speech_threshold: Some(0.6),
        }
    }

    fn rules() -> LogitRules {
        LogitRules {
            suppress: vec![],
            suppress_at_begin: vec![EOT],
            timestamps: None,
        }
    }

    /// Token 4 reads as a long repeated phrase; others as distinct words.
    fn text_of(tokens: &[u32]) -> Result<String> {
        Ok(tokens
            .iter()
            .map(|&t| {
                if t == 4 {
                    "the same words again ".to_string()
                } else {
                    format!("w{t} ")
                }
            })
            .collect())
    }

    fn run(decoder: &mut ScriptedDecoder, policy: &FallbackPolicy) -> Attempt {
        decode_with_fallback(decoder, &[11], &rules(), &params(), policy, &text_of).unwrap()
    }

    #[test]
    fn compression_ratio_flags_loops() {
        assert!(compression_ratio(&"I'm Sheila in Texas. ".repeat(20)) > 2.4);
        assert!(
            compression_ratio("And so my fellow Americans, ask not what your country can do") < 2.0
        );
        assert_eq!(compression_ratio(""), 0.0);
    }

    #[test]
    fn a_confident_greedy_result_is_kept() {
        let mut decoder = ScriptedDecoder::by_step(12, 1, vec![vec![(5, 20.0)], vec![(EOT, 20.0)]]);
        let attempt = run(&mut decoder, &policy());
        assert_eq!(attempt.decoding.tokens, vec![5]);
        assert_eq!(attempt.decoding.temperature, 0.0);
        assert_eq!(decoder.calls.len(), 2);
    }

    #[test]
    fn a_loop_falls_back_to_higher_temperatures() {
        // Greedy repeats token 4 until the limit: compressible text, so sampling is tried.
        let mut decoder = ScriptedDecoder::new(12, |_| vec![(4, 20.0)]);
        let attempt = run(&mut decoder, &policy());
        // Every attempt loops; the result is still one of them, never an error.
        assert_eq!(attempt.decoding.tokens.len(), 8);
        // Greedy, then both sampled temperatures with 2 candidates batched: 8 steps each.
        let widths: Vec<usize> = decoder.calls.iter().map(Vec::len).collect();
        assert_eq!(
            widths,
            [vec![1; 8], vec![1], vec![2; 7], vec![1], vec![2; 7]].concat()
        );
    }

    #[test]
    fn silence_is_not_retried() {
        // High no-speech probability and low confidence: keep the (empty-ish) greedy result.
        let mut decoder = ScriptedDecoder::by_step(12, 1, vec![vec![(9, 30.0)], vec![(EOT, 0.1)]]);
        let attempt = run(&mut decoder, &policy());
        assert!(attempt.decoding.no_speech_prob > 0.6);
        assert_eq!(attempt.decoding.temperature, 0.0);
    }
}
