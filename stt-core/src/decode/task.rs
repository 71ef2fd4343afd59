//! Everything one window of a transcription needs besides its audio, built once from the
//! options: the logit rules, the fallback policy, the prompt (previous text, hotwords, start
//! sequence) and the prefix. openai-whisper's `DecodingTask` set-up, apart from the long-form
//! loop that drives it.

use super::{
    Attempt, FallbackPolicy, LogitRules, TimestampRules, TokenDecoder, WindowDecoding,
    WindowParams, decode_with_fallback,
};
use crate::Result;
use crate::options::TranscribeOptions;
use crate::tokenizer::{SpecialTokens, TIMESTAMP_SECONDS};

/// The texts of the options as tokens (each encoded with a leading space), and the blank that
/// `suppress_blank` forbids first.
#[derive(Debug, Clone, Default)]
pub struct PromptTokens {
    pub initial_prompt: Vec<u32>,
    pub hotwords: Vec<u32>,
    pub prefix: Vec<u32>,
    pub blank: Vec<u32>,
}

/// What the model allows: its own non-speech symbols and its context length.
#[derive(Debug, Clone, Copy)]
pub struct ModelLimits<'a> {
    pub suppress_tokens: &'a [u32],
    pub max_target_positions: usize,
}

#[derive(Debug, Clone)]
pub struct WindowTask {
    special: SpecialTokens,
    rules: LogitRules,
    policy: FallbackPolicy,
    /// The parameters of every window; the prompt-dependent ones are set per window.
    params: WindowParams,
    /// Most tokens of previous text in a prompt: half the context, as the reference.
    max_context: usize,
    max_positions: usize,
    max_new_tokens: Option<usize>,
    /// The previous text of the first window.
    initial_prompt: Vec<u32>,
    hotwords: Vec<u32>,
    /// Forced at the start of the audio; with timestamps it begins with `<|0.00|>`.
    prefix: Vec<u32>,
    without_timestamps: bool,
    no_speech_threshold: Option<f32>,
    log_prob_threshold: Option<f32>,
}

/// Prompt texts are cut to this many bytes before they are tokenized: the model reads at most
/// 223 of their tokens (about 1 kB of text), so a 60 kB prompt costs what a 4 kB one does.
pub const MAX_PROMPT_BYTES: usize = 4096;

/// The last [`MAX_PROMPT_BYTES`] of a previous-text prompt, cut between characters.
pub fn prompt_tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(MAX_PROMPT_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The first [`MAX_PROMPT_BYTES`] of hotwords or a prefix, cut between characters.
pub fn prompt_head(text: &str) -> &str {
    let mut end = text.len().min(MAX_PROMPT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl WindowTask {
    pub fn new(
        special: SpecialTokens,
        text: PromptTokens,
        model: ModelLimits<'_>,
        options: &TranscribeOptions,
    ) -> Self {
        let max_context = model.max_target_positions / 2 - 1;
        let first = |mut tokens: Vec<u32>| {
            tokens.truncate(max_context);
            tokens
        };
        // The initial prompt is previous text: its end is what leads into the audio, so its
        // last tokens are kept, as openai-whisper and the OpenAI API do.
        let mut initial_prompt = text.initial_prompt;
        initial_prompt.drain(..initial_prompt.len().saturating_sub(max_context));
        // Hotwords only prompt when nothing is forced: a prefix already says what comes first.
        let hotwords = match options.prefix {
            None => first(text.hotwords),
            Some(_) => Vec::new(),
        };
        let mut prefix = first(text.prefix);
        if !prefix.is_empty() && !options.without_timestamps {
            prefix.insert(0, special.timestamp_begin);
        }
        Self {
            special,
            rules: logit_rules(special, text.blank, model.suppress_tokens, options),
            policy: FallbackPolicy {
                temperatures: options.temperature.clone(),
                compression_ratio_threshold: options.compression_ratio_threshold,
                log_prob_threshold: options.log_prob_threshold,
                no_speech_threshold: options.no_speech_threshold,
            },
            params: WindowParams {
                temperature: 0.0,
                beam_size: options.beam_size,
                patience: options.patience,
                best_of: options.best_of,
                length_penalty: options.length_penalty,
                max_new_tokens: 0,
                prefix: Vec::new(),
                sot_index: 0,
                no_speech: special.no_speech,
                eot: special.eot,
                seed: 0,
            },
            max_context,
            max_positions: model.max_target_positions,
            max_new_tokens: options.max_new_tokens,
            initial_prompt,
            hotwords,
            prefix,
            without_timestamps: options.without_timestamps,
            no_speech_threshold: options.no_speech_threshold,
            log_prob_threshold: options.log_prob_threshold,
        }
    }

    /// The previous text of the first window: the initial prompt.
    pub fn initial_prompt(&self) -> &[u32] {
        &self.initial_prompt
    }

    /// `[<|startofprev|> hotwords previous-text] start-sequence [<|notimestamps|>]`, with the
    /// index of `<|startoftranscript|>` in it.
    pub fn prompt(&self, previous: &[u32], start_sequence: &[u32]) -> (Vec<u32>, usize) {
        let mut prompt = Vec::new();
        if !previous.is_empty() || !self.hotwords.is_empty() {
            prompt.push(self.special.sot_prev);
            prompt.extend_from_slice(&self.hotwords);
            prompt.extend_from_slice(&previous[previous.len().saturating_sub(self.max_context)..]);
        }
        let sot_index = prompt.len();
        prompt.extend_from_slice(start_sequence);
        if self.without_timestamps {
            prompt.push(self.special.no_timestamps);
        }
        (prompt, sot_index)
    }

    /// Decodes the window at mel frame `seek` after `previous` text, falling back to higher
    /// temperatures as the policy says. The prefix is forced only at the start of the audio.
    pub fn decode<D: TokenDecoder>(
        &self,
        decoder: &mut D,
        previous: &[u32],
        start_sequence: &[u32],
        seek: usize,
        text_of: &dyn Fn(&[u32]) -> Result<String>,
    ) -> Result<Attempt> {
        let (prompt, sot_index) = self.prompt(previous, start_sequence);
        let params = WindowParams {
            max_new_tokens: (self.max_positions / 2)
                .min(self.max_positions.saturating_sub(prompt.len()))
                .min(self.max_new_tokens.unwrap_or(usize::MAX)),
            prefix: if seek == 0 {
                self.prefix.clone()
            } else {
                Vec::new()
            },
            sot_index,
            seed: seek as u64,
            ..self.params.clone()
        };
        decode_with_fallback(
            decoder,
            &prompt,
            &self.rules,
            &params,
            &self.policy,
            text_of,
        )
    }

    /// Whether a decoded window is silence, to be skipped: the model says there is no speech,
    /// unless the text it decoded anyway is confident. (The fallback's own test, which stops
    /// retrying, also needs the text to be unsure: openai-whisper's two rules, kept apart.)
    pub fn is_silence(&self, decoding: &WindowDecoding) -> bool {
        self.no_speech_threshold
            .is_some_and(|threshold| decoding.no_speech_prob > threshold)
            && !self
                .log_prob_threshold
                .is_some_and(|threshold| decoding.avg_logprob > threshold as f64)
    }
}

/// Suppressed tokens (the option's list, -1 meaning the model's own, and the task and special
/// tokens), the blank forbidden first, and the timestamp rules unless decoding text only.
fn logit_rules(
    special: SpecialTokens,
    blank: Vec<u32>,
    model_suppress: &[u32],
    options: &TranscribeOptions,
) -> LogitRules {
    let mut suppress: Vec<u32> = Vec::new();
    for &token in &options.suppress_tokens {
        if token == -1 {
            suppress.extend(model_suppress);
        } else if token >= 0 {
            suppress.push(token as u32);
        }
    }
    suppress.extend([
        special.transcribe,
        special.translate,
        special.sot,
        special.sot_prev,
        special.sot_lm,
        special.no_speech,
    ]);
    suppress.sort_unstable();
    suppress.dedup();

    let suppress_at_begin = if options.suppress_blank {
        let mut blank = blank;
        blank.push(special.eot);
        blank
    } else {
        Vec::new()
    };
    let timestamps = (!options.without_timestamps).then(|| TimestampRules {
        special,
        max_initial_timestamp_index: Some(
            (options.max_initial_timestamp as f64 / TIMESTAMP_SECONDS).round() as u32,
        ),
    });
    LogitRules {
        suppress,
        suppress_at_begin,
        timestamps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::scripted::{SPECIAL, ScriptedDecoder};

    /// A task for a model of 12 positions whose own suppressed list is token 3.
    fn window_task(options: &TranscribeOptions, text: PromptTokens) -> WindowTask {
        let model = ModelLimits {
            suppress_tokens: &[3],
            max_target_positions: 12,
        };
        WindowTask::new(SPECIAL, text, model, options)
    }

    fn text_of(tokens: &[u32]) -> Result<String> {
        Ok(tokens.iter().map(|t| format!("w{t} ")).collect())
    }

    #[test]
    fn prompt_keeps_the_last_previous_tokens_after_hotwords() {
        let options = TranscribeOptions {
            hotwords: Some("x".into()),
            ..Default::default()
        };
        let hotwords = PromptTokens {
            hotwords: vec![8, 9],
            ..Default::default()
        };
        let task = window_task(&options, hotwords);
        // Context 12: at most 5 previous tokens, the newest.
        let (prompt, sot_index) = task.prompt(&[1, 2, 3, 4, 5, 6, 7], &[SPECIAL.sot]);
        assert_eq!(prompt, vec![12, 8, 9, 3, 4, 5, 6, 7, 11]);
        assert_eq!(sot_index, 8);
        // No previous text and no hotwords: the start sequence alone.
        let plain = window_task(
            &TranscribeOptions {
                without_timestamps: true,
                ..Default::default()
            },
            PromptTokens::default(),
        );
        assert_eq!(plain.prompt(&[], &[11]), (vec![11, 16], 0));
    }

    #[test]
    fn the_initial_prompt_keeps_its_last_tokens_and_texts_are_cut_between_characters() {
        let text = PromptTokens {
            initial_prompt: (1..=9).collect(),
            ..Default::default()
        };
        let task = window_task(&TranscribeOptions::default(), text);
        assert_eq!(task.initial_prompt(), &[5, 6, 7, 8, 9]);
        let long = format!("{}end", "é".repeat(MAX_PROMPT_BYTES));
        assert!(prompt_tail(&long).ends_with("end"));
        assert!(prompt_tail(&long).len() <= MAX_PROMPT_BYTES);
        assert!(prompt_head(&long).len() <= MAX_PROMPT_BYTES);
        assert!(prompt_head(&long).starts_with('é'));
        assert_eq!(prompt_tail("short"), "short");
    }

    #[test]
    fn a_prefix_replaces_hotwords_and_is_forced_at_the_start_only() {
        let options = TranscribeOptions {
            prefix: Some("p".into()),
            hotwords: Some("h".into()),
            beam_size: 1,
            ..Default::default()
        };
        let text = PromptTokens {
            hotwords: vec![8],
            prefix: vec![5],
            ..Default::default()
        };
        let task = window_task(&options, text);
        assert_eq!(task.prompt(&[], &[11]), (vec![11], 0));
        let script = || ScriptedDecoder::new(40, |_| vec![(SPECIAL.eot, 30.0)]);
        let mut decoder = script();
        let first = task.decode(&mut decoder, &[], &[11], 0, &text_of).unwrap();
        // `<|0.00|>` and the prefix are part of the result.
        assert_eq!(first.decoding.tokens, vec![17, 5]);
        assert_eq!(decoder.calls[0], vec![vec![11, 17, 5]]);
        let mut decoder = script();
        let later = task
            .decode(&mut decoder, &[], &[11], 3000, &text_of)
            .unwrap();
        assert!(!later.decoding.tokens.contains(&5));
        assert_eq!(decoder.calls[0], vec![vec![11]]);
    }

    #[test]
    fn rules_suppress_the_model_list_and_the_special_tokens() {
        let options = TranscribeOptions {
            suppress_tokens: vec![-1, 7],
            ..Default::default()
        };
        let blank = PromptTokens {
            blank: vec![2],
            ..Default::default()
        };
        let task = window_task(&options, blank);
        assert_eq!(task.rules.suppress, vec![3, 7, 11, 12, 13, 14, 15]);
        assert_eq!(task.rules.suppress_at_begin, vec![2, 10]);
        let rules = task.rules.timestamps.expect("timestamps on by default");
        assert_eq!(rules.max_initial_timestamp_index, Some(50));
    }

    #[test]
    fn silence_needs_no_speech_and_unconfident_text() {
        let task = window_task(&TranscribeOptions::default(), PromptTokens::default());
        let decoding = |no_speech_prob, avg_logprob| WindowDecoding {
            tokens: vec![],
            sum_logprob: 0.0,
            avg_logprob,
            no_speech_prob,
            temperature: 0.0,
        };
        assert!(task.is_silence(&decoding(0.9, -1.5)));
        assert!(!task.is_silence(&decoding(0.9, -0.5)), "confident text");
        assert!(!task.is_silence(&decoding(0.3, -1.5)), "speech");
        let no_log_prob = window_task(
            &TranscribeOptions {
                log_prob_threshold: None,
                ..Default::default()
            },
            PromptTokens::default(),
        );
        assert!(no_log_prob.is_silence(&decoding(0.9, -0.5)));
    }

    #[test]
    fn the_window_budget_leaves_room_for_the_prompt() {
        let options = TranscribeOptions {
            beam_size: 1,
            max_new_tokens: Some(100),
            ..Default::default()
        };
        let task = window_task(&options, PromptTokens::default());
        // 12 positions: 6 for new tokens at most, fewer once the prompt is long.
        let mut decoder = ScriptedDecoder::new(40, |_| vec![(4, 30.0)]);
        let attempt = task.decode(&mut decoder, &[], &[11], 5, &text_of).unwrap();
        assert_eq!(attempt.decoding.tokens.len(), 6);
        let mut decoder = ScriptedDecoder::new(40, |_| vec![(4, 30.0)]);
        let attempt = task
            .decode(&mut decoder, &[1, 2, 3, 4, 5, 6], &[11], 5, &text_of)
            .unwrap();
        assert_eq!(attempt.decoding.tokens.len(), 5, "12 - 7 prompt tokens");
    }
}
