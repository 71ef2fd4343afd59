//! Words from tokens: split at spaces or at character boundaries, punctuation joined to its
//! word, as openai-whisper's tokenizer and `merge_punctuations` do.

use super::WordTiming;
use crate::Result;

/// Python's `string.punctuation`.
const ASCII_PUNCTUATION: &str = r##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##;
/// Languages written without spaces between words.
const UNICODE_SPLIT_LANGUAGES: [&str; 6] = ["zh", "ja", "th", "lo", "my", "yue"];
const REPLACEMENT_CHARACTER: char = '\u{FFFD}';

/// Whether words of `language` are split at character boundaries rather than at spaces.
pub fn uses_unicode_split(language: &str) -> bool {
    UNICODE_SPLIT_LANGUAGES.contains(&language)
}

/// Groups tokens into words, like openai-whisper's `Tokenizer.split_to_word_tokens`.
pub struct WordSplitter<'a> {
    /// `<|endoftext|>`; this id and all above it are special tokens, each a word of its own.
    pub eot: u32,
    /// Split wherever the text is whole characters instead of at spaces ([`uses_unicode_split`]).
    pub unicode_only: bool,
    /// Text of tokens like openai's `decode_with_timestamps`: special tokens as any non-empty
    /// text, and bytes that do not form whole UTF-8 characters as U+FFFD.
    pub decode: &'a dyn Fn(&[u32]) -> Result<String>,
}

impl WordSplitter<'_> {
    /// Words with their tokens, in order. Tokens still pending at the end (text with a U+FFFD
    /// the full text lacks) are dropped, as in both references.
    pub fn split_to_word_tokens(&self, tokens: &[u32]) -> Result<Vec<(String, Vec<u32>)>> {
        if self.unicode_only {
            self.split_on_unicode(tokens)
        } else {
            self.split_on_spaces(tokens)
        }
    }

    fn split_on_unicode(&self, tokens: &[u32]) -> Result<Vec<(String, Vec<u32>)>> {
        let full_text: Vec<char> = (self.decode)(tokens)?.chars().collect();
        let mut words = Vec::new();
        let mut current = Vec::new();
        // Position in `full_text`, in characters as Python counts them.
        let mut offset = 0;
        for &token in tokens {
            current.push(token);
            let decoded = (self.decode)(&current)?;
            // A U+FFFD the full text lacks at the same place is a character still incomplete;
            // one the full text has too stays in the text (an invalid byte, or a character cut
            // short at the end). The bounds check is faster-whisper's; openai would raise
            // IndexError there.
            let complete = match decoded.chars().position(|c| c == REPLACEMENT_CHARACTER) {
                None => true,
                Some(index) => full_text.get(offset + index) == Some(&REPLACEMENT_CHARACTER),
            };
            if complete {
                offset += decoded.chars().count();
                words.push((decoded, std::mem::take(&mut current)));
            }
        }
        Ok(words)
    }

    fn split_on_spaces(&self, tokens: &[u32]) -> Result<Vec<(String, Vec<u32>)>> {
        let mut words: Vec<(String, Vec<u32>)> = Vec::new();
        for (subword, subword_tokens) in self.split_on_unicode(tokens)? {
            let special = subword_tokens.first().is_some_and(|&t| t >= self.eot);
            // `in string.punctuation` is a substring test in Python: "" and "()" pass too.
            let starts_word = special
                || subword.starts_with(' ')
                || ASCII_PUNCTUATION.contains(python_strip(&subword));
            match words.last_mut() {
                Some((word, word_tokens)) if !starts_word => {
                    word.push_str(&subword);
                    word_tokens.extend(subword_tokens);
                }
                _ => words.push((subword, subword_tokens)),
            }
        }
        Ok(words)
    }
}

/// Python's `str.strip()`: Unicode white space plus the separators U+001C..U+001F.
fn python_strip(text: &str) -> &str {
    text.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Joins punctuation to its word, as openai's `merge_punctuations`: a word made of a prepended
/// mark after a space (` "`) moves into the word after it, and a word that is exactly an
/// appended mark moves into the word before it unless that ends with a space. Emptied words
/// stay in place, with no text and no tokens.
pub fn merge_punctuations(alignment: &mut [WordTiming], prepended: &str, appended: &str) {
    if alignment.len() < 2 {
        return;
    }
    let mut following = alignment.len() - 1;
    for previous in (0..alignment.len() - 1).rev() {
        let word = &alignment[previous].word;
        // Substring tests, as Python's `in` on strings: an empty word passes.
        if word.starts_with(' ') && prepended.contains(python_strip(word)) {
            let word = std::mem::take(&mut alignment[previous].word);
            let tokens = std::mem::take(&mut alignment[previous].tokens);
            let target = &mut alignment[following];
            target.word.insert_str(0, &word);
            target.tokens.splice(0..0, tokens);
        } else {
            following = previous;
        }
    }

    let mut previous = 0;
    for following in 1..alignment.len() {
        if !alignment[previous].word.ends_with(' ')
            && appended.contains(alignment[following].word.as_str())
        {
            let word = std::mem::take(&mut alignment[following].word);
            let tokens = std::mem::take(&mut alignment[following].tokens);
            let target = &mut alignment[previous];
            target.word.push_str(&word);
            target.tokens.extend(tokens);
        } else {
            previous = following;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alignment::toy::*;
    use crate::alignment::{DEFAULT_APPEND_PUNCTUATIONS, DEFAULT_PREPEND_PUNCTUATIONS};

    fn split(unicode_only: bool, tokens: &[u32]) -> Vec<(String, Vec<u32>)> {
        splitter(unicode_only).split_to_word_tokens(tokens).unwrap()
    }

    fn words(pairs: &[(&str, &[u32])]) -> Vec<(String, Vec<u32>)> {
        pairs
            .iter()
            .map(|(word, tokens)| (word.to_string(), tokens.to_vec()))
            .collect()
    }

    #[test]
    fn split_on_spaces_matches_faster_whisper() {
        // Expected splits printed by tests/alignment_reference.py (faster-whisper's Tokenizer).
        assert_eq!(
            split(false, &[0, 1, 2, 3, 4, 5, 6, 7, 8, EOT]),
            words(&[
                (" The", &[0]),
                (" quick", &[1, 2]),
                (" \"fox", &[3, 4]),
                ("\"", &[5]),
                (",", &[6]),
                (" jumps", &[7]),
                (".", &[8]),
                ("<|20|>", &[EOT]),
            ])
        );
        // A character of two tokens joins the word before it, having no space.
        assert_eq!(
            split(false, &[11, 9, 10, EOT]),
            words(&[(" ok你", &[11, 9, 10]), ("<|20|>", &[EOT])])
        );
    }

    #[test]
    fn split_on_unicode_matches_faster_whisper() {
        // Expected splits printed by tests/alignment_reference.py.
        assert_eq!(
            split(true, &[11, 9, 10, 8, EOT]),
            words(&[
                (" ok", &[11]),
                ("你", &[9, 10]),
                (".", &[8]),
                ("<|20|>", &[EOT])
            ])
        );
        // A stray byte is U+FFFD in the full text too, so a word of its own; so is a
        // character cut short before <|endoftext|>. The second U+FFFD is at character 4 but
        // byte 6 of the full text: indices must count characters.
        assert_eq!(
            split(true, &[10, 11, 9, EOT]),
            words(&[
                ("\u{FFFD}", &[10]),
                (" ok", &[11]),
                ("\u{FFFD}", &[9]),
                ("<|20|>", &[EOT])
            ])
        );
        // A character cut short by the end of the tokens is U+FFFD in the full text too.
        assert_eq!(
            split(true, &[11, 9]),
            words(&[(" ok", &[11]), ("\u{FFFD}", &[9])])
        );
    }

    #[test]
    fn language_selects_the_split() {
        assert!(uses_unicode_split("ja"));
        assert!(uses_unicode_split("yue"));
        assert!(!uses_unicode_split("en"));
        assert!(!uses_unicode_split("ko"));
    }

    fn merged(words: &[&str]) -> Vec<(String, Vec<u32>)> {
        let mut alignment: Vec<WordTiming> = (0u32..)
            .zip(words)
            .map(|(token, word)| timing(word, &[token], 0.0, 0.0))
            .collect();
        merge_punctuations(
            &mut alignment,
            DEFAULT_PREPEND_PUNCTUATIONS,
            DEFAULT_APPEND_PUNCTUATIONS,
        );
        alignment.into_iter().map(|t| (t.word, t.tokens)).collect()
    }

    #[test]
    fn merge_punctuations_joins_marks_to_their_words() {
        assert_eq!(
            merged(&[" \"", "Hi", ",", " there", "."]),
            words(&[
                ("", &[]),
                (" \"Hi,", &[0, 1, 2]),
                ("", &[]),
                (" there.", &[3, 4]),
                ("", &[])
            ])
        );
        // Two opening marks both reach the word; an opening quote with no space before it
        // closes the word before instead.
        assert_eq!(
            merged(&[" (", " \"", "x", "\""]),
            words(&[("", &[]), ("", &[]), (" ( \"x\"", &[0, 1, 2, 3]), ("", &[])])
        );
        // After a word ending in a space nothing is appended; "(" without a space stays.
        assert_eq!(
            merged(&["Hi ", ",", "(", "x"]),
            words(&[("Hi ", &[0]), (",", &[1]), ("(", &[2]), ("x", &[3])])
        );
        // Marks must match whole (appended) or after stripping (prepended).
        assert_eq!(
            merged(&[" a", "..", " b", " ((", "c"]),
            words(&[
                (" a", &[0]),
                ("..", &[1]),
                (" b", &[2]),
                (" ((", &[3]),
                ("c", &[4])
            ])
        );
        assert!(merged(&[]).is_empty());
        assert_eq!(merged(&[" ("]), words(&[(" (", &[0])]));
    }
}
