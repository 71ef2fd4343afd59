//! Texts longer than the context: cut at sentence ends into pieces that fit, and the notes
//! that stand for a piece when a task must see the whole (the "map" of map-reduce).

use stt_core::Result;

use super::{SYSTEM, TaskContext, transcript_message};
use crate::runtime::Message;

/// Room kept for a task's instructions and chat template around the text.
const PROMPT_ALLOWANCE: usize = 400;

/// Tokens of text that fit in one call that may answer with `answer_tokens`.
pub(super) fn text_budget(context: &TaskContext, answer_tokens: u32) -> usize {
    (context.llm.context_tokens() as usize)
        .saturating_sub(answer_tokens as usize + PROMPT_ALLOWANCE)
        .max(64)
}

/// `text` cut into pieces of at most `budget` tokens, at sentence ends where possible (a
/// sentence longer than a piece is cut at words).
pub(super) fn split(context: &TaskContext, text: &str, budget: usize) -> Vec<String> {
    let count = |part: &str| context.llm.count_tokens(part);
    if count(text) <= budget {
        return vec![text.to_string()];
    }
    // Each part is tokenized once and pieces add up their parts' counts: merges across a
    // part's edge only shorten the joined text, so a piece never holds more than it counts.
    let mut parts = Vec::new();
    for sentence in sentences(text) {
        match count(sentence) {
            tokens if tokens <= budget => parts.push((sentence, tokens)),
            _ => parts.extend(
                sentence
                    .split_inclusive(char::is_whitespace)
                    .map(|word| (word, count(word))),
            ),
        }
    }
    let mut pieces = Vec::new();
    let (mut current, mut tokens) = (String::new(), 0);
    for (part, part_tokens) in parts {
        if tokens + part_tokens > budget && !current.trim().is_empty() {
            pieces.push(std::mem::take(&mut current).trim().to_string());
            tokens = 0;
        }
        current.push_str(part);
        tokens += part_tokens;
    }
    if !current.trim().is_empty() {
        pieces.push(current.trim().to_string());
    }
    pieces
}

/// Sentences with their trailing space, split after `.`, `!`, `?`, `。`, `！`, `？` or a line
/// break.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let ends = matches!(c, '.' | '!' | '?' | '。' | '！' | '？' | '\n');
        let next_is_space = chars.peek().is_none_or(|(_, n)| n.is_whitespace());
        if ends && (next_is_space || !c.is_ascii() || c == '\n') {
            let mut end = i + c.len_utf8();
            while let Some((j, n)) = chars.peek().copied() {
                if !n.is_whitespace() {
                    break;
                }
                end = j + n.len_utf8();
                chars.next();
            }
            out.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Most tokens a piece's notes may take.
const NOTES_TOKENS: u32 = 400;

/// The text reduced until it fits `budget`: each piece replaced by dense notes (names,
/// numbers, decisions, tasks and questions kept), and again over the notes if needed.
pub(super) fn condense(context: &mut TaskContext, text: &str, budget: usize) -> Result<String> {
    let mut text = text.to_string();
    loop {
        if context.llm.count_tokens(&text) <= budget {
            return Ok(text);
        }
        let pieces = split(context, &text, text_budget(context, NOTES_TOKENS));
        let mut notes = Vec::with_capacity(pieces.len());
        for (index, piece) in pieces.iter().enumerate() {
            let instruction = format!(
                "This is part {} of {} of a long transcript. Write dense notes of this part: \
                 every topic, decision, name, number, date, task and open question, in order.",
                index + 1,
                pieces.len()
            );
            let messages = [
                Message::system(SYSTEM),
                transcript_message(&instruction, piece),
            ];
            // At most a third of the piece, so that every round shrinks the text.
            let most = (context.llm.count_tokens(piece) / 3).clamp(48, NOTES_TOKENS as usize);
            notes.push(context.text(&messages, most as u32, false)?);
        }
        let condensed = notes.join("\n\n");
        // Notes that do not shrink the text would loop for ever: stop, and let the task's
        // own call report the text as too long.
        if condensed.len() >= text.len() {
            return Ok(condensed);
        }
        text = condensed;
    }
}

#[cfg(test)]
mod tests {
    use super::sentences;

    #[test]
    fn sentences_end_at_stops_and_keep_their_spaces() {
        assert_eq!(
            sentences("Hello there. It is 3.5 km! Why?  Fine\nNext 好。对"),
            vec![
                "Hello there. ",
                "It is 3.5 km! ",
                "Why?  ",
                "Fine\n",
                "Next 好。",
                "对"
            ]
        );
    }
}
