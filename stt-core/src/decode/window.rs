//! The token loop of one window: feed the prompt once, then extend every candidate one token
//! per step until end of text or the length limit. At temperature 0 that is greedy decoding or
//! beam search; above 0, `best_of` independent samples. Candidates share the prompt's cache.

use super::{LogitRules, TokenDecoder, argmax, log_softmax};
use crate::Result;

#[derive(Debug, Clone)]
pub struct WindowParams {
    /// 0 picks the likeliest tokens; above 0 samples from the softened distribution.
    pub temperature: f32,
    /// Beams searched at temperature 0; 1 is greedy decoding.
    pub beam_size: usize,
    /// With patience 1, beam search stops as soon as the best proposal of a step ends the
    /// text (CTranslate2's early exit, what faster-whisper runs); above 1, once
    /// `round(beam_size * patience)` sequences have ended (openai-whisper).
    pub patience: f32,
    /// Candidates sampled at temperatures above 0; the best ranked is kept.
    pub best_of: usize,
    /// Ranks candidates by `sum_logprob / length ^ length_penalty` (CTranslate2's meaning).
    pub length_penalty: f32,
    /// Most tokens to sample in this window.
    pub max_new_tokens: usize,
    /// Tokens every candidate is made to begin with: fed after the prompt, part of the result.
    pub prefix: Vec<u32>,
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

/// A sequence being decoded, or one that ended.
#[derive(Debug, Clone, Default)]
struct Candidate {
    tokens: Vec<u32>,
    sum_logprob: f64,
}

pub fn decode_window(
    decoder: &mut impl TokenDecoder,
    prompt: &[u32],
    rules: &LogitRules,
    params: &WindowParams,
) -> Result<WindowDecoding> {
    decoder.reset();
    let fed = [prompt, &params.prefix].concat();
    // Rows from <|startoftranscript|> (the no-speech probability) to the last: the previous
    // text before it needs no logits.
    let has_sot = params.sot_index < fed.len();
    let keep = fed.len().saturating_sub(params.sot_index).max(1);
    let logits = decoder.forward(&[fed], keep)?;
    let no_speech_prob = match has_sot {
        true => {
            let row = logits.slice(ndarray::s![0, 0, ..]).to_vec();
            log_softmax(&row)
                .get(params.no_speech as usize)
                .map_or(0.0, |lp| lp.exp())
        }
        false => 0.0,
    };
    let first_row = logits.slice(ndarray::s![0, keep - 1, ..]).to_vec();

    let candidates = if params.temperature == 0.0 && params.beam_size > 1 {
        beam_search(decoder, first_row, rules, params)?
    } else {
        let count = if params.temperature > 0.0 {
            params.best_of.max(1)
        } else {
            1
        };
        sample(decoder, first_row, count, rules, params)?
    };
    let best = candidates
        .into_iter()
        .map(|c| (rank_score(&c, params.length_penalty), c))
        .fold(None::<(f64, Candidate)>, |best, (score, c)| match best {
            Some((best_score, _)) if best_score >= score => best,
            _ => Some((score, c)),
        })
        .map(|(_, c)| c)
        .unwrap_or_default();
    Ok(WindowDecoding {
        avg_logprob: best.sum_logprob / (best.tokens.len() + 1) as f64,
        tokens: best.tokens,
        sum_logprob: best.sum_logprob,
        no_speech_prob,
        temperature: params.temperature,
    })
}

/// Log probability normalised by length, as CTranslate2 ranks hypotheses.
fn rank_score(candidate: &Candidate, length_penalty: f32) -> f64 {
    let length = candidate.tokens.len().max(1) as f64;
    candidate.sum_logprob / length.powf(length_penalty as f64)
}

/// `count` independent sequences, greedy (count 1, temperature 0) or sampled; finished ones
/// leave the batch so later steps only compute the live ones.
fn sample(
    decoder: &mut impl TokenDecoder,
    first_row: Vec<f32>,
    count: usize,
    rules: &LogitRules,
    params: &WindowParams,
) -> Result<Vec<Candidate>> {
    let mut rng = SplitMix64(params.seed);
    let start = Candidate {
        tokens: params.prefix.clone(),
        sum_logprob: 0.0,
    };
    let mut candidates = vec![start; count];
    // Batch row i decodes candidates[live[i]].
    let mut live: Vec<usize> = (0..count).collect();
    let mut rows = vec![first_row; count];
    if count > 1 {
        decoder.reorder(&vec![0; count])?;
    }
    loop {
        let mut kept_rows = Vec::with_capacity(live.len());
        let mut next_tokens = Vec::with_capacity(live.len());
        for (row, (&index, logits)) in live.iter().zip(&mut rows).enumerate() {
            let candidate = &mut candidates[index];
            rules.apply(logits, &candidate.tokens);
            let logprobs = log_softmax(logits);
            let token = match params.temperature > 0.0 {
                true => draw(&logprobs, params.temperature, &mut rng),
                false => argmax(logits),
            } as u32;
            candidate.sum_logprob += logprobs[token as usize] as f64;
            if token != params.eot {
                candidate.tokens.push(token);
                if candidate.tokens.len() < params.max_new_tokens {
                    kept_rows.push(row);
                    next_tokens.push(vec![token]);
                }
            }
        }
        if kept_rows.is_empty() {
            return Ok(candidates);
        }
        if kept_rows.len() < live.len() {
            decoder.reorder(&kept_rows)?;
            live = kept_rows.iter().map(|&row| live[row]).collect();
        }
        rows = last_rows(decoder.forward(&next_tokens, 1)?);
    }
}

/// Beam search: each beam proposes its `beam_size + 1` likeliest next tokens, the best
/// `beam_size` unfinished proposals become the next beams, and proposals ending in end of text
/// are kept (openai-whisper's scheme). It ends when the best proposal of a step ends the text
/// (patience 1, CTranslate2's early exit: a confident ending is not outvoted by longer, often
/// invented, continuations) or once `round(beam_size * patience)` sequences have ended.
fn beam_search(
    decoder: &mut impl TokenDecoder,
    first_row: Vec<f32>,
    rules: &LogitRules,
    params: &WindowParams,
) -> Result<Vec<Candidate>> {
    let beam_size = params.beam_size;
    let max_finished = ((beam_size as f32 * params.patience).round() as usize).max(1);
    let mut beams = vec![Candidate {
        tokens: params.prefix.clone(),
        sum_logprob: 0.0,
    }];
    let mut rows = vec![first_row];
    let mut finished: Vec<Candidate> = Vec::new();

    for step in 0..params.max_new_tokens {
        // (score, source beam, token) of every proposal.
        let mut proposals: Vec<(f64, usize, u32)> = Vec::new();
        for (source, (beam, logits)) in beams.iter().zip(&mut rows).enumerate() {
            rules.apply(logits, &beam.tokens);
            let logprobs = log_softmax(logits);
            for token in top_k(&logprobs, beam_size + 1) {
                let score = beam.sum_logprob + logprobs[token] as f64;
                proposals.push((score, source, token as u32));
            }
        }
        proposals.sort_by(|a, b| b.0.total_cmp(&a.0));
        let best_ends_text = proposals.first().is_some_and(|p| p.2 == params.eot);

        let mut next = Vec::with_capacity(beam_size);
        let mut sources = Vec::with_capacity(beam_size);
        for &(score, source, token) in &proposals {
            if token == params.eot {
                if finished.len() < max_finished {
                    finished.push(Candidate {
                        tokens: beams[source].tokens.clone(),
                        sum_logprob: score,
                    });
                }
                continue;
            }
            let mut tokens = beams[source].tokens.clone();
            tokens.push(token);
            next.push(Candidate {
                tokens,
                sum_logprob: score,
            });
            sources.push(source);
            if next.len() == beam_size {
                break;
            }
        }
        beams = next;
        if params.patience <= 1.0 && best_ends_text {
            return Ok(finished);
        }
        if finished.len() >= max_finished || beams.is_empty() || step + 1 == params.max_new_tokens {
            break;
        }
        decoder.reorder(&sources)?;
        let fed: Vec<Vec<u32>> = beams
            .iter()
            .map(|b| vec![b.tokens[b.tokens.len() - 1]])
            .collect();
        rows = last_rows(decoder.forward(&fed, 1)?);
    }

    // Too few ended (length limit): the likeliest live beams count as ended.
    beams.sort_by(|a, b| b.sum_logprob.total_cmp(&a.sum_logprob));
    let missing = beam_size.saturating_sub(finished.len());
    finished.extend(beams.into_iter().take(missing));
    Ok(finished)
}

/// The last position's logits of every sequence.
fn last_rows(logits: ndarray::Array3<f32>) -> Vec<Vec<f32>> {
    let last = logits.shape()[1].saturating_sub(1);
    logits
        .outer_iter()
        .map(|sequence| sequence.row(last).to_vec())
        .collect()
}

/// Indices of the `k` largest finite values, largest first (ties: lower index first).
fn top_k(values: &[f32], k: usize) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..values.len())
        .filter(|&i| values[i] > f32::NEG_INFINITY)
        .collect();
    let k = k.min(indices.len());
    if k == 0 {
        return indices;
    }
    indices.select_nth_unstable_by(k - 1, |&a, &b| {
        values[b].total_cmp(&values[a]).then(a.cmp(&b))
    });
    indices.truncate(k);
    indices.sort_by(|&a, &b| values[b].total_cmp(&values[a]).then(a.cmp(&b)));
    indices
}

/// Draws from `softmax(logprobs / temperature)`.
fn draw(logprobs: &[f32], temperature: f32, rng: &mut SplitMix64) -> usize {
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
            beam_size: 1,
            patience: 1.0,
            best_of: 1,
            length_penalty: 1.0,
            max_new_tokens: 5,
            prefix: vec![],
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
        let mut decoder = ScriptedDecoder::by_step(
            12,
            2,
            vec![vec![(4, 5.0), (9, 1.0)], vec![(6, 5.0)], vec![(EOT, 5.0)]],
        );
        let result = decode_window(&mut decoder, &[11, 1], &no_rules(), &params(0.0)).unwrap();
        assert_eq!(result.tokens, vec![4, 6]);
        assert_eq!(decoder.single_calls(), vec![vec![11, 1], vec![4], vec![6]]);
        assert!(result.no_speech_prob > 0.0 && result.no_speech_prob < 0.1);
        assert!((result.avg_logprob - result.sum_logprob / 3.0).abs() < 1e-9);
        assert!(result.sum_logprob < 0.0);
    }

    #[test]
    fn rules_change_the_choice() {
        let mut decoder =
            ScriptedDecoder::by_step(12, 1, vec![vec![(4, 5.0), (5, 4.0)], vec![(EOT, 9.0)]]);
        let rules = LogitRules {
            suppress: vec![4],
            ..no_rules()
        };
        let result = decode_window(&mut decoder, &[11], &rules, &params(0.0)).unwrap();
        assert_eq!(result.tokens, vec![5]);
    }

    #[test]
    fn stops_at_the_length_limit() {
        let mut decoder = ScriptedDecoder::new(12, |_| vec![(4, 5.0)]);
        let result = decode_window(&mut decoder, &[11], &no_rules(), &params(0.0)).unwrap();
        assert_eq!(result.tokens.len(), 5);
    }

    fn sampled_first_tokens(best_of: usize, seed: u64) -> (Vec<u32>, ScriptedDecoder) {
        let mut decoder =
            ScriptedDecoder::by_step(12, 1, vec![vec![(4, 1.0), (5, 1.0)], vec![(EOT, 50.0)]]);
        let params = WindowParams {
            seed,
            best_of,
            ..params(1.0)
        };
        let rules = LogitRules {
            suppress_at_begin: vec![EOT],
            ..no_rules()
        };
        let tokens = decode_window(&mut decoder, &[11], &rules, &params)
            .unwrap()
            .tokens;
        (tokens, decoder)
    }

    #[test]
    fn sampling_is_reproducible_and_follows_the_distribution() {
        assert_eq!(sampled_first_tokens(1, 3).0, sampled_first_tokens(1, 3).0);
        let picks: Vec<u32> = (0..64)
            .map(|seed| sampled_first_tokens(1, seed).0[0])
            .collect();
        assert!(picks.contains(&4) && picks.contains(&5), "{picks:?}");
        assert!(
            picks.iter().any(|t| *t != 4 && *t != 5),
            "others keep some mass: {picks:?}"
        );
    }

    #[test]
    fn best_of_samples_share_the_prompt_and_run_as_one_batch() {
        let (tokens, decoder) = sampled_first_tokens(5, 1);
        assert_eq!(tokens.len(), 1);
        // The prompt is fed once; the second call carries the five candidates together.
        assert_eq!(decoder.calls[0], vec![vec![11]]);
        assert_eq!(decoder.calls[1].len(), 5);
        assert_eq!(decoder.calls.len(), 2);
    }

    #[test]
    fn finished_samples_leave_the_batch() {
        // Candidates that drew token 4 end at once; those that drew 5 go on for one more step.
        let mut decoder = ScriptedDecoder::new(12, |history| match history {
            [11] => vec![(4, 3.0), (5, 3.0)],
            [11, 4] => vec![(EOT, 50.0)],
            [11, 5] => vec![(6, 50.0)],
            _ => vec![(EOT, 50.0)],
        });
        let params = WindowParams {
            best_of: 8,
            seed: 5,
            ..params(1.0)
        };
        let rules = LogitRules {
            suppress: (0..12).filter(|t| ![4, 5, 6, EOT].contains(t)).collect(),
            suppress_at_begin: vec![6, EOT],
            ..no_rules()
        };
        decode_window(&mut decoder, &[11], &rules, &params).unwrap();
        let widths: Vec<usize> = decoder.calls.iter().map(Vec::len).collect();
        assert_eq!(widths[1], 8);
        assert!(widths[2] < 8 && widths[2] > 0, "{widths:?}");
    }

    /// Greedy takes 1 then ends (log p = ln 0.6 + ln 0.3), beam search finds 2 then 3
    /// (ln 0.4 + ln 0.9 + ln 1), the likelier sequence.
    fn garden_path() -> ScriptedDecoder {
        // Unlisted tokens keep logit 0: 20 above it leaves them ~1e-8 of the mass.
        let ln = |p: f32| 20.0 + p.ln();
        ScriptedDecoder::new(12, move |history| match history {
            [11] => vec![(1, ln(0.6)), (2, ln(0.4))],
            [11, 1] => vec![(EOT, ln(0.3)), (4, ln(0.35)), (5, ln(0.35))],
            [11, 2] => vec![(3, ln(0.9)), (EOT, ln(0.1))],
            [11, 2, 3] => vec![(EOT, ln(1.0))],
            // Any other history rambles on: a beam fed the wrong cache never ends.
            _ => vec![(EOT, -3.0)],
        })
    }

    fn masked_rules() -> LogitRules {
        // Only the scripted tokens are possible.
        LogitRules {
            suppress: vec![6, 7, 8, 9, 11],
            ..no_rules()
        }
    }

    #[test]
    fn beam_search_finds_what_greedy_misses() {
        let mut greedy = garden_path();
        let result = decode_window(&mut greedy, &[11], &masked_rules(), &params(0.0)).unwrap();
        assert_eq!(result.tokens[0], 1);

        let mut decoder = garden_path();
        let beam = WindowParams {
            beam_size: 2,
            ..params(0.0)
        };
        let result = decode_window(&mut decoder, &[11], &masked_rules(), &beam).unwrap();
        // Step 2 swaps the beams ([2, 3] comes from beam 1): only a correct reorder ends it.
        assert_eq!(result.tokens, vec![2, 3]);
        let expected = (0.4f64.ln() + 0.9f64.ln() + 0.0) / 3.0;
        assert!((result.avg_logprob - expected).abs() < 1e-3, "{result:?}");
        // The prompt is fed once; each later step feeds one token per beam.
        assert_eq!(decoder.calls[0], vec![vec![11]]);
        assert!(
            decoder.calls[1..]
                .iter()
                .all(|rows| rows.len() == 2 && rows[0].len() == 1)
        );
    }

    /// Ending now is the single best proposal, but a longer continuation scores better per
    /// token once it ends.
    fn ending_or_rambling() -> ScriptedDecoder {
        let ln = |p: f32| 20.0 + p.ln();
        ScriptedDecoder::new(12, move |history| match history {
            [11] => vec![(1, ln(0.9)), (2, ln(0.1))],
            [11, 1] => vec![(EOT, ln(0.5)), (3, ln(0.45)), (4, ln(0.05))],
            [11, 1, 3] => vec![(5, ln(1.0))],
            [11, 1, 3, 5] => vec![(4, ln(1.0))],
            [11, 1, 3, 5, 4] => vec![(EOT, ln(1.0))],
            _ => vec![(EOT, ln(0.5)), (0, ln(0.5))],
        })
    }

    #[test]
    fn beam_search_exits_when_the_best_proposal_ends() {
        let beam = WindowParams {
            beam_size: 2,
            max_new_tokens: 10,
            ..params(0.0)
        };
        let result =
            decode_window(&mut ending_or_rambling(), &[11], &masked_rules(), &beam).unwrap();
        assert_eq!(result.tokens, vec![1]);

        // With patience, more sequences must end: the longer one wins on score per token.
        let patient = WindowParams {
            patience: 2.0,
            ..beam
        };
        let result =
            decode_window(&mut ending_or_rambling(), &[11], &masked_rules(), &patient).unwrap();
        assert_eq!(result.tokens, vec![1, 3, 5, 4]);
    }

    #[test]
    fn length_penalty_changes_the_ranking() {
        // One short unlikely-per-token sequence against a long confident one.
        let long_sum = -3.0;
        let short = Candidate {
            tokens: vec![1],
            sum_logprob: -1.0,
        };
        let long = Candidate {
            tokens: vec![1; 10],
            sum_logprob: long_sum,
        };
        // Divided by length: the long one wins (-0.3 > -1.0).
        assert!(rank_score(&long, 1.0) > rank_score(&short, 1.0));
        // Penalty 0 means raw sums: the short one wins.
        assert!(rank_score(&short, 0.0) > rank_score(&long, 0.0));
    }

    #[test]
    fn a_prefix_is_fed_with_the_prompt_and_kept_in_the_result() {
        let mut decoder = ScriptedDecoder::new(12, |history| match history {
            [11, 3] => vec![(4, 5.0)],
            [11, 3, 4] => vec![(EOT, 5.0)],
            _ => vec![(0, 5.0)],
        });
        let params = WindowParams {
            prefix: vec![3],
            ..params(0.0)
        };
        let result = decode_window(&mut decoder, &[11], &no_rules(), &params).unwrap();
        assert_eq!(result.tokens, vec![3, 4]);
        assert_eq!(decoder.calls[0], vec![vec![11, 3]]);
    }

    #[test]
    fn top_k_orders_and_skips_masked() {
        let values = [0.5, f32::NEG_INFINITY, 2.0, 0.5, 1.0];
        assert_eq!(top_k(&values, 3), vec![2, 4, 0]);
        assert_eq!(top_k(&values, 10), vec![2, 4, 0, 3]);
    }
}
