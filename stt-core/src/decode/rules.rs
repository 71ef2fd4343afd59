//! Logit rules applied before each token is chosen, in openai-whisper's order:
//! suppress blank at the start, suppress listed tokens, then the timestamp rules.

use crate::tokenizer::SpecialTokens;

#[derive(Debug, Clone)]
pub struct LogitRules {
    /// Never emitted.
    pub suppress: Vec<u32>,
    /// Not emitted as the first sampled token (blank, end of text).
    pub suppress_at_begin: Vec<u32>,
    /// Timestamp rules; `None` when decoding without timestamps.
    pub timestamps: Option<TimestampRules>,
}

#[derive(Debug, Clone, Copy)]
pub struct TimestampRules {
    pub special: SpecialTokens,
    /// Latest timestamp index allowed as the first token (`max_initial_timestamp / 0.02`).
    pub max_initial_timestamp_index: Option<u32>,
}

impl LogitRules {
    /// Masks `logits` (the next-token row) given the tokens sampled so far in this window.
    pub fn apply(&self, logits: &mut [f32], sampled: &[u32]) {
        if sampled.is_empty() {
            suppress(logits, &self.suppress_at_begin);
        }
        suppress(logits, &self.suppress);
        if let Some(rules) = &self.timestamps {
            rules.apply(logits, sampled);
        }
    }
}

fn suppress(logits: &mut [f32], tokens: &[u32]) {
    for &token in tokens {
        if let Some(logit) = logits.get_mut(token as usize) {
            *logit = f32::NEG_INFINITY;
        }
    }
}

fn suppress_range(logits: &mut [f32], range: std::ops::Range<usize>) {
    let end = range.end.min(logits.len());
    let start = range.start.min(end);
    logits[start..end].fill(f32::NEG_INFINITY);
}

impl TimestampRules {
    fn apply(&self, logits: &mut [f32], sampled: &[u32]) {
        let begin = self.special.timestamp_begin as usize;
        let eot = self.special.eot as usize;
        let vocab = logits.len();
        suppress(logits, &[self.special.no_timestamps]);

        // Timestamps come in pairs (end of one segment, start of the next), except the last.
        let is_ts = |t: &u32| *t as usize >= begin;
        let last_was_timestamp = sampled.last().is_some_and(is_ts);
        let penultimate_was_timestamp = sampled.len() < 2 || is_ts(&sampled[sampled.len() - 2]);
        if last_was_timestamp {
            if penultimate_was_timestamp {
                suppress_range(logits, begin..vocab);
            } else {
                suppress_range(logits, 0..eot);
            }
        }

        // Timestamps never decrease, and a segment has non-zero length.
        if let Some(&last_timestamp) = sampled.iter().rfind(|t| is_ts(t)) {
            let floor = if last_was_timestamp && !penultimate_was_timestamp {
                last_timestamp as usize
            } else {
                last_timestamp as usize + 1
            };
            suppress_range(logits, begin..floor);
        }

        if sampled.is_empty() {
            suppress_range(logits, 0..begin);
            if let Some(index) = self.max_initial_timestamp_index {
                suppress_range(logits, begin + index as usize + 1..vocab);
            }
        }

        // If the timestamps together are likelier than any single text token, take a timestamp.
        let logprobs = super::log_softmax(logits);
        let timestamp_logprob = log_sum_exp(&logprobs[begin.min(vocab)..]);
        let max_text_logprob = logprobs[..begin.min(vocab)]
            .iter()
            .copied()
            .fold(f32::NEG_INFINITY, f32::max);
        if timestamp_logprob > max_text_logprob {
            suppress_range(logits, 0..begin);
        }
    }
}

fn log_sum_exp(values: &[f32]) -> f32 {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return max;
    }
    values.iter().map(|&v| (v - max).exp()).sum::<f32>().ln() + max
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::scripted::SPECIAL;

    const VOCAB: usize = 27;

    fn rules(max_initial: Option<u32>) -> LogitRules {
        LogitRules {
            suppress: vec![3, 11, 12, 13, 14, 15],
            suppress_at_begin: vec![0, SPECIAL.eot],
            timestamps: Some(TimestampRules {
                special: SPECIAL,
                max_initial_timestamp_index: max_initial,
            }),
        }
    }

    fn allowed(rules: &LogitRules, sampled: &[u32]) -> Vec<usize> {
        let mut logits = vec![0.0; VOCAB];
        rules.apply(&mut logits, sampled);
        (0..VOCAB).filter(|&i| logits[i].is_finite()).collect()
    }

    #[test]
    fn a_window_starts_with_an_early_timestamp() {
        assert_eq!(allowed(&rules(Some(2)), &[]), vec![17, 18, 19]);
        assert_eq!(allowed(&rules(None), &[]), (17..27).collect::<Vec<_>>());
    }

    #[test]
    fn the_opening_timestamp_is_followed_by_text() {
        let got = allowed(&rules(None), &[18]);
        assert!(got.contains(&5) && !got.contains(&3), "{got:?}");
        assert!(got.iter().all(|&t| t <= 10), "{got:?}");
    }

    #[test]
    fn timestamps_never_decrease() {
        // <|0.00|> text <|0.04|> <|0.04|> text: the next timestamp is at least 0.06.
        let got = allowed(&rules(None), &[17, 4, 19, 19, 5]);
        assert!(got.contains(&20) && !got.contains(&19), "{got:?}");
    }

    #[test]
    fn after_a_timestamp_pair_text_must_follow() {
        let got = allowed(&rules(None), &[17, 4, 19, 19]);
        assert!(got.iter().all(|&t| t < 17), "{got:?}");
    }

    #[test]
    fn after_text_then_timestamp_only_timestamps_or_eot() {
        // <|0.00|> text <|0.04|>: next must be a timestamp >= 0.04 (start of next segment) or eot.
        let got = allowed(&rules(None), &[17, 4, 19]);
        assert!(got.iter().all(|&t| t >= 19), "{got:?}");
        let mut logits = vec![0.0f32; VOCAB];
        logits[10] = 5.0; // a confident end of text survives
        rules(None).apply(&mut logits, &[17, 4, 19]);
        assert!(logits[10].is_finite() && logits[4].is_infinite());
    }

    #[test]
    fn strong_timestamp_mass_forces_a_timestamp() {
        let mut logits = vec![0.0f32; VOCAB];
        logits[5] = 2.0;
        logits[19..27].fill(1.5); // each below token 5, together above it
        rules(None).apply(&mut logits, &[17, 4]);
        assert!(logits[5].is_infinite());
        assert!(logits[20].is_finite());
    }

    #[test]
    fn blank_and_eot_are_suppressed_only_at_begin() {
        let no_ts = LogitRules {
            timestamps: None,
            ..rules(None)
        };
        assert!(!allowed(&no_ts, &[]).contains(&0));
        assert!(!allowed(&no_ts, &[]).contains(&10));
        assert!(allowed(&no_ts, &[4]).contains(&0));
        assert!(!allowed(&no_ts, &[4]).contains(&3));
    }
}
