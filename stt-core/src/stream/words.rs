//! Words of successive decodes of one buffer: which are new, which agree, which are settled.

use crate::transcript::Word;

/// Longest run of committed words looked for in a new decode.
const MAX_REPEATED_WORDS: usize = 5;
/// How far the end of a committed word decoded again may move, in seconds.
const REPEAT_TOLERANCE_SECONDS: f64 = 1.0;

/// The words of `decoded` after those already `committed`. The buffer still holds the audio of
/// recent commits, so a decode hears them again: the decoded word that ends the longest repeat
/// of the committed tail, nearest to where that tail ended, marks the cut, and what follows is
/// new even when its timing overlaps. Without such a repeat, words centred before the last
/// commit go.
pub(super) fn fresh_words(committed: &[Word], decoded: Vec<Word>) -> Vec<Word> {
    let Some(last) = committed.last() else {
        return decoded;
    };
    let distance = |i: usize| (decoded[i].end - last.end).abs();
    let repeat = (0..decoded.len())
        .filter(|&i| distance(i) < REPEAT_TOLERANCE_SECONDS)
        .map(|i| (repeated_words(committed, &decoded[..=i]), i))
        .filter(|&(n, _)| n > 0)
        .max_by(|a, b| a.0.cmp(&b.0).then(distance(b.1).total_cmp(&distance(a.1))));
    match repeat {
        Some((_, i)) => decoded.into_iter().skip(i + 1).collect(),
        None => decoded
            .into_iter()
            .filter(|w| (w.start + w.end) / 2.0 > last.end)
            .collect(),
    }
}

/// How many of the last committed words (up to [`MAX_REPEATED_WORDS`]) `words` ends with.
fn repeated_words(committed: &[Word], words: &[Word]) -> usize {
    let longest = MAX_REPEATED_WORDS.min(words.len()).min(committed.len());
    (1..=longest)
        .rev()
        .find(|&n| {
            committed[committed.len() - n..]
                .iter()
                .zip(&words[words.len() - n..])
                .all(|(a, b)| same_word(a, b))
        })
        .unwrap_or(0)
}

/// How many leading words two hypotheses share (LocalAgreement).
pub(super) fn common_prefix(previous: &[Word], current: &[Word]) -> usize {
    previous
        .iter()
        .zip(current)
        .take_while(|(a, b)| same_word(a, b))
        .count()
}

/// Longest run of words looked for as a loop.
const MAX_LOOP_WORDS: usize = 8;

/// `words` up to the first pass of a loop: a run of 2 or more words said again at once and
/// begun a third time, which speech does not do and a decode caught in a loop (over silence
/// after the prefix, mostly) does until its token budget ends.
pub(super) fn without_loop(mut words: Vec<Word>) -> Vec<Word> {
    let same = |a: &[Word], b: &[Word]| a.iter().zip(b).all(|(a, b)| same_word(a, b));
    let looped = (0..words.len()).find_map(|i| {
        (2..=MAX_LOOP_WORDS)
            .find(|&n| {
                i + 2 * n < words.len()
                    && same(&words[i..i + n], &words[i + n..i + 2 * n])
                    && same_word(&words[i], &words[i + 2 * n])
            })
            .map(|n| i + n)
    });
    if let Some(end) = looped {
        words.truncate(end);
    }
    words
}

/// Whether `words` begins with `prefix`, word for word.
pub(super) fn starts_with(words: &[Word], prefix: &[Word]) -> bool {
    prefix.len() <= words.len() && common_prefix(prefix, words) == prefix.len()
}

/// How many leading words end by `limit` (AlignAtt).
pub(super) fn settled_prefix(words: &[Word], limit: f64) -> usize {
    words.iter().take_while(|w| w.end <= limit).count()
}

/// The same word, whatever its case, punctuation or spacing.
fn same_word(a: &Word, b: &Word) -> bool {
    let letters = |w: &Word| {
        w.word
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect::<String>()
    };
    letters(a) == letters(b)
}

pub(super) fn join(words: &[Word]) -> String {
    words.iter().map(|w| w.word.as_str()).collect()
}

#[cfg(test)]
pub(super) fn word(text: &str, start: f64, end: f64) -> Word {
    Word {
        word: text.into(),
        start,
        end,
        probability: 0.9,
        speaker: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreement_ignores_case_and_punctuation() {
        let before = [
            word(" ask", 0.0, 0.3),
            word(" not,", 0.3, 0.6),
            word(" what", 0.6, 0.9),
        ];
        let after = [
            word(" Ask", 0.0, 0.3),
            word(" not.", 0.3, 0.6),
            word(" why", 0.6, 0.9),
        ];
        assert_eq!(common_prefix(&before, &after), 2);
        assert_eq!(common_prefix(&before, &[]), 0);
        assert_eq!(settled_prefix(&after, 0.6), 2);
        assert_eq!(settled_prefix(&after, 0.1), 0);
    }

    #[test]
    fn a_loop_is_cut_after_its_first_pass() {
        let text = |words: &[&str]| -> Vec<Word> {
            let at = |i: usize| i as f64 * 0.2;
            words
                .iter()
                .enumerate()
                .map(|(i, w)| word(w, at(i), at(i + 1)))
                .collect()
        };
        let looped = text(&[
            " do",
            " for",
            " your",
            " country.",
            " You",
            " can",
            " do",
            " for",
            " your",
            " country.",
            " You",
            " can",
            " do",
            " for",
        ]);
        assert_eq!(join(&without_loop(looped)), " do for your country. You can");
        // Said twice is speech.
        let twice = text(&[" New", " York,", " New", " York."]);
        assert_eq!(without_loop(twice.clone()), twice);
        let jfk = text(&[
            " ask",
            " not",
            " what",
            " your",
            " country",
            " can",
            " do",
            " for",
            " you,",
            " ask",
            " what",
            " you",
            " can",
            " do",
            " for",
            " your",
            " country.",
        ]);
        assert_eq!(without_loop(jfk.clone()), jfk);
    }

    #[test]
    fn committed_words_decoded_again_are_dropped() {
        let committed = [word(" for", 5.0, 5.2), word(" your", 5.2, 5.5)];
        let decoded = vec![
            word(" for", 4.9, 5.2),
            word(" your", 5.45, 5.6),
            word(" country", 5.6, 6.1),
        ];
        assert_eq!(
            fresh_words(&committed, decoded),
            vec![word(" country", 5.6, 6.1)]
        );
    }

    #[test]
    fn a_new_word_timed_over_the_last_commit_is_kept() {
        // jfk: "Americans," committed; the next decode times "ask" from before its end.
        let committed = [word(" fellow", 2.0, 2.4), word(" Americans,", 2.4, 3.2)];
        let decoded = vec![
            word(" fellow", 2.0, 2.4),
            word(" Americans,", 2.4, 3.0),
            word(" ask", 2.9, 3.4),
            word(" not", 3.4, 3.9),
        ];
        let fresh = fresh_words(&committed, decoded);
        assert_eq!(join(&fresh), " ask not");
        // "as" heard again, then "as" once more: the longer repeat nearer in time is the cut.
        let earlier = [word(" are", 7.2, 7.4), word(" as", 7.42, 7.74)];
        let decoded = vec![
            word(" are", 7.2, 7.4),
            word(" as", 7.42, 7.7),
            word(" national", 7.7, 8.2),
            word(" as", 8.2, 8.4),
        ];
        assert_eq!(join(&fresh_words(&earlier, decoded)), " national as");
        // Without the committed words heard again, time decides.
        let decoded = vec![word(" cans,", 2.9, 3.1), word(" ask", 3.1, 3.6)];
        assert_eq!(join(&fresh_words(&committed, decoded)), " ask");
    }
}
