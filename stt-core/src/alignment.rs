//! Word-level timestamps from the decoder's cross-attention, as openai-whisper's
//! `whisper/timing.py` computes them and faster-whisper (CTranslate2) repeats them.
//!
//! [`find_alignment`] takes the attention of the alignment heads for a window's text, forced
//! through the decoder once, and places each word on the 20 ms grid of encoder frames: the
//! weights are standardised per frame across tokens, median-filtered along time, averaged over
//! heads, and a monotone path through them (dynamic time warping, [`dtw`]) gives the frame where
//! each token starts. [`assign_words`] then hands the words to the window's segments and applies
//! the references' fixes for words stretched over pauses. Model-free, so every step is testable
//! on small hand-made inputs.

use ndarray::{Array2, ArrayView1, ArrayView2, ArrayView3, Axis, s};

use crate::transcript::Word;
use crate::{Error, Result};

/// Encoder frames (one per two mel frames) per second.
pub const TOKENS_PER_SECOND: f64 = 50.0;
/// Marks that join the word after them (openai-whisper's and faster-whisper's default).
pub const DEFAULT_PREPEND_PUNCTUATIONS: &str = "\"'“¿([{-";
/// Marks that join the word before them (openai-whisper's and faster-whisper's default).
pub const DEFAULT_APPEND_PUNCTUATIONS: &str = "\"'.。,，!！?？:：”)]}、";

const MEDIAN_FILTER_WIDTH: usize = 7;
const SENTENCE_END_MARKS: &str = ".。!！?？";
/// Python's `string.punctuation`.
const ASCII_PUNCTUATION: &str = r##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##;
/// Languages written without spaces between words.
const UNICODE_SPLIT_LANGUAGES: [&str; 6] = ["zh", "ja", "th", "lo", "my", "yue"];
const REPLACEMENT_CHARACTER: char = '\u{FFFD}';

/// A word as aligned within its window, before it is assigned to a segment.
#[derive(Debug, Clone, PartialEq)]
pub struct WordTiming {
    pub word: String,
    pub tokens: Vec<u32>,
    /// Seconds from the start of the window.
    pub start: f64,
    pub end: f64,
    pub probability: f32,
}

/// What [`assign_words`] needs of a segment: its times (seconds from the start of the audio),
/// which it adjusts to the words, and how many text tokens (ids below `<|endoftext|>`) it has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegmentSpan {
    pub start: f64,
    pub end: f64,
    pub text_tokens: usize,
}

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

/// Word timings of one window (openai's `find_alignment`).
///
/// `attention`: weights of the alignment heads, softmaxed over all encoder frames, shape
/// `[heads, tokens, frames]` for the decoder input `[start sequence (sot_len tokens),
/// <|notimestamps|>, text_tokens.., <|endoftext|>]`. Only the first `num_frames / 2` frames
/// (`num_frames`: mel frames of the window's audio) are used, each row renormalised over them,
/// which equals openai's softmax of the raw scores over those frames.
/// `text_token_probs`: probability of each text token given the ones before it.
///
/// Empty when there is no text, no word, or no frame (`num_frames` < 2, where both references
/// would fail).
pub fn find_alignment(
    attention: ArrayView3<f32>,
    sot_len: usize,
    text_tokens: &[u32],
    text_token_probs: &[f32],
    num_frames: usize,
    splitter: &WordSplitter,
) -> Result<Vec<WordTiming>> {
    let (heads, n_tokens, total_frames) = attention.dim();
    if heads == 0 || n_tokens != sot_len + text_tokens.len() + 2 {
        return Err(Error::Inference(format!(
            "alignment attention has shape {:?}; expected [heads > 0, {}, frames]",
            attention.dim(),
            sot_len + text_tokens.len() + 2
        )));
    }
    if text_token_probs.len() != text_tokens.len() {
        return Err(Error::Inference(format!(
            "{} token probabilities for {} text tokens",
            text_token_probs.len(),
            text_tokens.len()
        )));
    }
    let frames = (num_frames / 2).min(total_frames);
    if text_tokens.is_empty() || frames == 0 {
        return Ok(Vec::new());
    }

    let matrix = alignment_matrix(attention.slice(s![.., .., ..frames]));
    // Decoder positions from <|notimestamps|> to the last text token: row k is the one whose
    // output is text token k (the last row's is <|endoftext|>).
    let cost = matrix.slice(s![sot_len..n_tokens - 1, ..]).mapv(|x| -x);
    let (text_indices, time_indices) = dtw(cost.view());
    // Time of the first frame of each row along the path, which visits every row.
    let jump_times: Vec<f64> = (0..text_indices.len())
        .filter(|&k| k == 0 || text_indices[k] != text_indices[k - 1])
        .map(|k| time_indices[k] as f64 / TOKENS_PER_SECOND)
        .collect();

    let tokens_with_eot = [text_tokens, &[splitter.eot]].concat();
    let mut words = splitter.split_to_word_tokens(&tokens_with_eot)?;
    if words.len() <= 1 {
        return Ok(Vec::new());
    }
    // The last word is <|endoftext|>: openai's zip with one boundary fewer drops it.
    words.pop();

    let mut alignment = Vec::with_capacity(words.len());
    let mut first_token = 0;
    for (word, tokens) in words {
        let end_token = first_token + tokens.len();
        let (Some(&start), Some(&end), Some(probs)) = (
            jump_times.get(first_token),
            jump_times.get(end_token),
            text_token_probs.get(first_token..end_token),
        ) else {
            return Err(Error::Inference(format!(
                "no alignment for the tokens of {word:?} (non-finite attention?)"
            )));
        };
        let probability = probs.iter().map(|&p| f64::from(p)).sum::<f64>() / probs.len() as f64;
        alignment.push(WordTiming {
            word,
            tokens,
            start,
            end,
            probability: probability as f32,
        });
        first_token = end_token;
    }
    Ok(alignment)
}

/// `[tokens, frames]` matrix of how strongly each token attends to each frame, from
/// `[heads, tokens, frames]` weights.
fn alignment_matrix(weights: ArrayView3<f32>) -> Array2<f32> {
    let mut weights = weights.to_owned();
    // Renormalised over the kept frames: openai's softmax over them, given the probabilities.
    for mut row in weights.lanes_mut(Axis(2)) {
        let sum: f64 = row.iter().map(|&w| f64::from(w)).sum();
        row.mapv_inplace(|w| (f64::from(w) / sum) as f32);
    }
    // Standardise each frame across tokens: population std, as torch.std_mean(unbiased=False).
    // A frame all tokens attend to alike (often all zero on short audio) says nothing: 0 there,
    // where the references get NaN and then fail to find a path through every token.
    for mut column in weights.lanes_mut(Axis(1)) {
        let n = column.len() as f64;
        let mean = column.iter().map(|&w| f64::from(w)).sum::<f64>() / n;
        let variance = column
            .iter()
            .map(|&w| (f64::from(w) - mean).powi(2))
            .sum::<f64>()
            / n;
        let std = variance.sqrt();
        match std > 0.0 {
            true => column.mapv_inplace(|w| ((f64::from(w) - mean) / std) as f32),
            false => column.fill(0.0),
        }
    }
    for mut row in weights.lanes_mut(Axis(2)) {
        let filtered = median_filter(&row.to_vec());
        row.assign(&ArrayView1::from(&filtered));
    }
    let heads = weights.len_of(Axis(0)) as f32;
    weights.sum_axis(Axis(0)) / heads
}

/// Median of each window of [`MEDIAN_FILTER_WIDTH`] values, the ends padded by reflection
/// (`d c b | a b c d | c b a`), as openai's `median_filter`. Rows no longer than the padding
/// come back unchanged, as there.
fn median_filter(row: &[f32]) -> Vec<f32> {
    let half = MEDIAN_FILTER_WIDTH / 2;
    let n = row.len();
    if n <= half {
        return row.to_vec();
    }
    // Position `padded` of the padded row is `padded - half` of the row, mirrored at its ends.
    let reflect = |padded: usize| {
        let index = padded.abs_diff(half);
        if index < n {
            index
        } else {
            2 * (n - 1) - index
        }
    };
    (0..n)
        .map(|center| {
            let mut window = [0.0f32; MEDIAN_FILTER_WIDTH];
            for (k, value) in window.iter_mut().enumerate() {
                *value = row[reflect(center + k)];
            }
            // torch sorts NaN above every number.
            let (_, median, _) = window.select_nth_unstable_by(half, |a, b| {
                a.partial_cmp(b)
                    .unwrap_or_else(|| a.is_nan().cmp(&b.is_nan()))
            });
            *median
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Diagonal,
    Up,
    Left,
}

/// Low-cost monotone path through `cost` (rows × columns) from its first cell to its last,
/// moving one row, one column or both at each step: the row and column indices of every cell
/// on it. As in openai's `dtw_cpu` and CTranslate2's `negative_dtw`, costs accumulate in f32
/// and each cell comes from its diagonal or upper neighbour only if that is strictly the
/// cheapest, else from the left: a tie between diagonal and up goes left even where left
/// costs more.
pub fn dtw(cost: ArrayView2<f32>) -> (Vec<usize>, Vec<usize>) {
    let (rows, columns) = cost.dim();
    let width = columns + 1;
    // total[i * width + j]: cheapest cost to reach cell (i - 1, j - 1); row and column 0 are
    // the start, reachable only at (0, 0).
    let mut total = vec![f32::INFINITY; (rows + 1) * width];
    let mut trace = vec![Step::Left; (rows + 1) * width];
    total[0] = 0.0;
    for i in 1..=rows {
        for j in 1..=columns {
            let diagonal = total[(i - 1) * width + j - 1];
            let up = total[(i - 1) * width + j];
            let left = total[i * width + j - 1];
            // Strict comparisons: a tie (or NaN) falls through to the later choice.
            let (best, step) = if diagonal < up && diagonal < left {
                (diagonal, Step::Diagonal)
            } else if up < diagonal && up < left {
                (up, Step::Up)
            } else {
                (left, Step::Left)
            };
            total[i * width + j] = cost[[i - 1, j - 1]] + best;
            trace[i * width + j] = step;
        }
    }

    let mut path = Vec::new();
    let (mut i, mut j) = (rows, columns);
    // Finite costs always lead back through (1, 1). Otherwise openai walks on along row or
    // column 0, emitting index -1; CTranslate2 stops, as here.
    while i > 0 && j > 0 {
        path.push((i - 1, j - 1));
        match trace[i * width + j] {
            Step::Diagonal => (i, j) = (i - 1, j - 1),
            Step::Up => i -= 1,
            Step::Left => j -= 1,
        }
    }
    path.into_iter().rev().unzip()
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

/// The words of each segment of one window, from the window's alignment (faster-whisper's
/// `add_word_timestamps`, one window at a time).
///
/// Words longer than twice the median word duration (median capped at 0.7 s) are cut back at
/// sentence ends and after pauses, punctuation is merged ([`merge_punctuations`]), words are
/// handed to segments in order by token count, and each segment's start and end move to its
/// first and last word unless that word overhangs the segment by more than 0.5 s, in which case
/// the word is cut instead. Word times are rounded to 0.01 s when handed to segments, before
/// those last cuts, as in both references.
///
/// `time_offset`: where the window starts, in seconds. `last_speech_timestamp`: end of the
/// speech before this window; on return, the end of the last segment that got words. openai's
/// function is the same for one window but returns nothing; faster-whisper's returns this so
/// that its batched pipeline can chain windows, hence the `&mut`. Both sequential loops instead
/// carry on the end of the last word, once their hallucination checks are done.
pub fn assign_words(
    mut alignment: Vec<WordTiming>,
    segments: &mut [SegmentSpan],
    time_offset: f64,
    last_speech_timestamp: &mut f64,
    prepend_punctuations: &str,
    append_punctuations: &str,
) -> Vec<Vec<Word>> {
    if segments.is_empty() {
        return Vec::new();
    }
    let mut durations: Vec<f64> = alignment
        .iter()
        .map(|timing| timing.end - timing.start)
        .filter(|&duration| duration != 0.0)
        .collect();
    let median = median_of(&mut durations);
    // Python's min(0.7, median): 0.7 unless the median is smaller.
    let median_duration = if median < 0.7 { median } else { 0.7 };
    let max_duration = median_duration * 2.0;

    if !durations.is_empty() {
        for i in 1..alignment.len() {
            let (before, current) = alignment.split_at_mut(i);
            let (previous, timing) = (&before[i - 1], &mut current[0]);
            if timing.end - timing.start > max_duration {
                // Substring tests, as Python's `in`.
                if SENTENCE_END_MARKS.contains(timing.word.as_str()) {
                    timing.end = timing.start + max_duration;
                } else if SENTENCE_END_MARKS.contains(previous.word.as_str()) {
                    timing.start = timing.end - max_duration;
                }
            }
        }
    }

    merge_punctuations(&mut alignment, prepend_punctuations, append_punctuations);

    let mut timings = alignment.into_iter();
    let mut words_per_segment = Vec::with_capacity(segments.len());
    for segment in segments.iter_mut() {
        let mut words = Vec::new();
        let mut saved_tokens = 0;
        while saved_tokens < segment.text_tokens {
            let Some(timing) = timings.next() else { break };
            saved_tokens += timing.tokens.len();
            if !timing.word.is_empty() {
                words.push(Word {
                    word: timing.word,
                    start: round_to_hundredths(time_offset + timing.start),
                    end: round_to_hundredths(time_offset + timing.end),
                    probability: timing.probability,
                    speaker: None,
                });
            }
        }
        fit_segment(segment, &mut words, median_duration, last_speech_timestamp);
        words_per_segment.push(words);
    }
    words_per_segment
}

/// The segment-boundary fixes of `add_word_timestamps` for one segment and its words.
fn fit_segment(
    segment: &mut SegmentSpan,
    words: &mut [Word],
    median_duration: f64,
    last_speech_timestamp: &mut f64,
) {
    let max_duration = median_duration * 2.0;
    let Some(first) = words.first() else { return };
    // The first word after a pause, or the first two, must not last more than twice the median.
    let too_long = first.end - first.start > max_duration
        || words
            .get(1)
            .is_some_and(|second| second.end - first.start > max_duration * 2.0);
    if first.end - *last_speech_timestamp > median_duration * 4.0 && too_long {
        if let [first, second, ..] = words
            && second.end - second.start > max_duration
        {
            let boundary = (second.end / 2.0).max(second.end - max_duration);
            first.end = boundary;
            second.start = boundary;
        }
        words[0].start = (words[0].end - max_duration).max(0.0);
    }

    // Prefer the segment's start if the first word begins well before it.
    let first = &mut words[0];
    if segment.start < first.end && segment.start - 0.5 > first.start {
        first.start = (first.end - median_duration).min(segment.start).max(0.0);
    } else {
        segment.start = first.start;
    }

    // Likewise its end if the last word runs on well after it.
    let last = &mut words[words.len() - 1];
    if segment.end > last.start && segment.end + 0.5 < last.end {
        last.end = (last.start + median_duration).max(segment.end);
    } else {
        segment.end = last.end;
    }
    *last_speech_timestamp = segment.end;
}

/// numpy's median (the mean of the middle two of an even count); 0 for no values.
fn median_of(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.is_empty() {
        0.0
    } else if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// Python's `round(x, 2)`: the exact binary value rounded to two decimals, ties to even, which
/// is also how Rust formats with a precision.
fn round_to_hundredths(x: f64) -> f64 {
    format!("{x:.2}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use ndarray::{Array3, array};

    use super::*;

    const EOT: u32 = 20;

    /// Toy vocabulary of `tests/alignment_reference.py`.
    fn toy_bytes(token: u32) -> Vec<u8> {
        let text: &[u8] = match token {
            0 => b" The",
            1 => b" qu",
            2 => b"ick",
            3 => b" \"",
            4 => b"fox",
            5 => b"\"",
            6 => b",",
            7 => b" jumps",
            8 => b".",
            9 => b"\xe4\xbd", // the first two bytes of U+4F60
            10 => b"\xa0",    // its last byte
            11 => b" ok",
            special => return format!("<|{special}|>").into_bytes(),
        };
        text.to_vec()
    }

    /// Like tiktoken: all bytes joined, invalid UTF-8 replaced.
    fn toy_decode(tokens: &[u32]) -> Result<String> {
        let bytes: Vec<u8> = tokens.iter().flat_map(|&t| toy_bytes(t)).collect();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn splitter(unicode_only: bool) -> WordSplitter<'static> {
        WordSplitter {
            eot: EOT,
            unicode_only,
            decode: &toy_decode,
        }
    }

    /// The 64-bit LCG of `tests/alignment_reference.py`.
    fn pseudo_random(seed: u64, count: usize) -> Vec<u64> {
        let mut state = seed;
        (0..count)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                state >> 33
            })
            .collect()
    }

    fn timing(word: &str, tokens: &[u32], start: f64, end: f64) -> WordTiming {
        WordTiming {
            word: word.to_string(),
            tokens: tokens.to_vec(),
            start,
            end,
            probability: 0.5,
        }
    }

    fn word(word: &str, start: f64, end: f64) -> Word {
        Word {
            word: word.to_string(),
            start,
            end,
            probability: 0.5,
            speaker: None,
        }
    }

    fn assert_words(actual: &[Word], expected: &[Word]) {
        assert_eq!(actual.len(), expected.len(), "{actual:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert_eq!(a.word, e.word);
            assert!((a.start - e.start).abs() < 1e-9, "{a:?} vs {e:?}");
            assert!((a.end - e.end).abs() < 1e-9, "{a:?} vs {e:?}");
            assert_eq!(a.probability, e.probability);
        }
    }

    #[test]
    fn dtw_follows_the_cheap_diagonal() {
        let cost = array![[0.0f32, 1.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 0.0]];
        assert_eq!(dtw(cost.view()), (vec![0, 1, 2], vec![0, 1, 2]));
    }

    #[test]
    fn dtw_breaks_ties_like_openai() {
        // All equal: every tie goes left, so the path drops to the last row as soon as the
        // first column allows (hand-computed).
        let flat = Array2::<f32>::zeros((2, 3));
        assert_eq!(dtw(flat.view()), (vec![0, 1, 1, 1], vec![0, 0, 1, 2]));
        // At (1, 1) the diagonal and up tie below left; strict comparisons pick left, the
        // costlier step, where a true minimum would take the diagonal.
        let cost = array![[0.0f32, 0.0], [1.0, 0.0]];
        assert_eq!(dtw(cost.view()), (vec![0, 1, 1], vec![0, 0, 1]));
    }

    #[test]
    fn dtw_matches_openai_on_pseudo_random_costs() {
        // Expected paths printed by tests/alignment_reference.py from openai's own dtw_cpu.
        // Costs of 0, 1 or 2 tie often; this matrix's path changes if ties went to the diagonal.
        let ties: Vec<f32> = pseudo_random(2, 35)
            .iter()
            .map(|r| (r % 3) as f32)
            .collect();
        let ties = Array2::from_shape_vec((5, 7), ties).unwrap();
        assert_eq!(
            dtw(ties.view()),
            (
                vec![0, 1, 2, 2, 2, 3, 3, 4, 4],
                vec![0, 0, 0, 1, 2, 3, 4, 5, 6]
            )
        );
        let noisy: Vec<f32> = pseudo_random(7, 96)
            .iter()
            .map(|r| ((r % 1000) as f64 / 1000.0 - 0.5) as f32)
            .collect();
        let noisy = Array2::from_shape_vec((8, 12), noisy).unwrap();
        assert_eq!(
            dtw(noisy.view()),
            (
                vec![0, 0, 1, 2, 3, 3, 3, 3, 4, 5, 6, 7, 7, 7, 7, 7],
                vec![0, 1, 1, 2, 3, 4, 5, 6, 6, 6, 6, 7, 8, 9, 10, 11]
            )
        );
    }

    #[test]
    fn dtw_of_an_empty_matrix_is_an_empty_path() {
        assert_eq!(dtw(Array2::<f32>::zeros((0, 4)).view()), (vec![], vec![]));
        assert_eq!(dtw(Array2::<f32>::zeros((3, 0)).view()), (vec![], vec![]));
    }

    #[test]
    fn median_filter_reflects_at_the_edges() {
        // Padded: 2 9 1 | 5 1 9 2 8 3 7 4 | 7 3 8 (hand-computed, checked with numpy).
        let row = [5.0, 1.0, 9.0, 2.0, 8.0, 3.0, 7.0, 4.0];
        assert_eq!(
            median_filter(&row),
            [2.0, 5.0, 3.0, 5.0, 4.0, 7.0, 4.0, 7.0]
        );
        // Three values cannot be padded by three: unchanged, as in openai.
        assert_eq!(median_filter(&[3.0, 1.0, 2.0]), [3.0, 1.0, 2.0]);
        assert_eq!(median_filter(&[]), Vec::<f32>::new());
    }

    #[test]
    fn median_filter_matches_openai() {
        // Expected values printed by tests/alignment_reference.py.
        let row: Vec<f32> = pseudo_random(3, 11)
            .iter()
            .map(|r| ((r % 100) as f64 / 10.0) as f32)
            .collect();
        assert_eq!(
            median_filter(&row),
            [3.8, 3.8, 3.8, 3.8, 1.5, 1.5, 0.9, 0.9, 0.9, 6.3, 0.9]
        );
        let short: Vec<f32> = pseudo_random(4, 4)
            .iter()
            .map(|r| ((r % 100) as f64 / 10.0) as f32)
            .collect();
        assert_eq!(short, [2.6, 9.2, 7.4, 7.1]);
        assert_eq!(median_filter(&short), [7.4; 4]);
    }

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

    /// One head whose <|notimestamps|> and text positions each attend to their own block of
    /// `block` frames, in order; the other rows attend everywhere alike.
    fn block_attention(
        sot_len: usize,
        text_len: usize,
        block: usize,
        frames: usize,
    ) -> Array3<f32> {
        let n_tokens = sot_len + text_len + 2;
        Array3::from_shape_fn((1, n_tokens, frames), |(_, t, f)| {
            let position = t.wrapping_sub(sot_len);
            if position <= text_len && f / block == position {
                1.0
            } else {
                0.01
            }
        })
    }

    #[test]
    fn find_alignment_places_words_along_the_diagonal() {
        // " a", " b" + "c" and " d" over blocks of 10 frames (0.2 s), the position of " d"
        // (whose output is <|endoftext|>) on frames 40..50; the window has 100 mel frames =
        // 50 encoder frames, and the frames past those are ignored.
        let text = [0u32, 1, 2, 3];
        let vocabulary = |t: u32| match t {
            0 => " a",
            1 => " b",
            2 => "c",
            3 => " d",
            _ => "<|special|>",
        };
        let decode = |tokens: &[u32]| Ok(tokens.iter().map(|&t| vocabulary(t)).collect());
        let splitter = WordSplitter {
            eot: EOT,
            unicode_only: false,
            decode: &decode,
        };
        let attention = block_attention(3, text.len(), 10, 1500);
        let probs = [0.9, 0.6, 0.2, 0.4];
        let alignment = find_alignment(attention.view(), 3, &text, &probs, 100, &splitter).unwrap();
        let expected = [
            (" a", vec![0], 0.0, 0.2, 0.9),
            (" bc", vec![1, 2], 0.2, 0.6, 0.4),
            (" d", vec![3], 0.6, 0.8, 0.4),
        ];
        assert_eq!(alignment.len(), expected.len(), "{alignment:?}");
        for (timing, (word, tokens, start, end, probability)) in alignment.iter().zip(expected) {
            assert_eq!(timing.word, word);
            assert_eq!(timing.tokens, tokens);
            assert!((timing.start - start).abs() < 1e-9, "{timing:?}");
            assert!((timing.end - end).abs() < 1e-9, "{timing:?}");
            assert!(
                (timing.probability - probability).abs() < 1e-6,
                "{timing:?}"
            );
        }
    }

    #[test]
    fn find_alignment_matches_openai_on_toy_attention() {
        // Expected words printed by tests/alignment_reference.py: openai's steps after the
        // model in numpy, its dtw_cpu, faster-whisper's word split.
        let (sot_len, text) = (3, [0u32, 1, 2, 3, 4, 5, 6, 7, 8]);
        let (heads, n_tokens, frames) = (2, sot_len + text.len() + 2, 40);
        let noise = pseudo_random(5, heads * n_tokens * frames);
        let attention = Array3::from_shape_fn((heads, n_tokens, frames), |(h, t, f)| {
            let noise = ((noise[(h * n_tokens + t) * frames + f] % 1000 + 1) as f64) / 1000.0;
            let band = (f as i64 - 3 * (t as i64 - sot_len as i64)).abs() <= 1;
            (noise + if band { 2.0 } else { 0.0 }) as f32
        });
        let probs: Vec<f32> = pseudo_random(6, text.len())
            .iter()
            .map(|r| ((r % 1000) as f64 / 1000.0) as f32)
            .collect();
        let alignment = find_alignment(
            attention.view(),
            sot_len,
            &text,
            &probs,
            61,
            &splitter(false),
        )
        .unwrap();
        let expected = [
            (" The", 0.0, 0.0, 0.3109999895095825),
            (" quick", 0.0, 0.14, 0.4974999874830246),
            (" \"fox", 0.14, 0.26, 0.16150000505149364),
            ("\"", 0.26, 0.36, 0.3149999976158142),
            (",", 0.36, 0.38, 0.5659999847412109),
            (" jumps", 0.38, 0.48, 0.8360000252723694),
            (".", 0.48, 0.52, 0.9139999747276306),
        ];
        assert_eq!(alignment.len(), expected.len(), "{alignment:?}");
        for (timing, (word, start, end, probability)) in alignment.iter().zip(expected) {
            assert_eq!(timing.word, word);
            assert!((timing.start - start).abs() < 1e-9, "{timing:?}");
            assert!((timing.end - end).abs() < 1e-9, "{timing:?}");
            assert_eq!(timing.probability, probability as f32, "{timing:?}");
        }
    }

    #[test]
    fn find_alignment_handles_odd_input() {
        let splitter = splitter(false);
        let empty = block_attention(3, 0, 10, 1500);
        assert!(
            find_alignment(empty.view(), 3, &[], &[], 3000, &splitter)
                .unwrap()
                .is_empty()
        );
        // One word, and no frames at all.
        let one = block_attention(3, 1, 10, 1500);
        assert_eq!(
            find_alignment(one.view(), 3, &[11], &[0.5], 3000, &splitter)
                .unwrap()
                .len(),
            1
        );
        for num_frames in [0, 1] {
            assert!(
                find_alignment(one.view(), 3, &[11], &[0.5], num_frames, &splitter)
                    .unwrap()
                    .is_empty()
            );
        }
        // Fewer frames than the median filter pads by.
        let short = block_attention(3, 1, 1, 3);
        assert_eq!(
            find_alignment(short.view(), 3, &[11], &[0.5], 6, &splitter)
                .unwrap()
                .len(),
            1
        );
        // Rows that do not match the tokens, or probabilities that do not.
        for (sot_len, probs) in [(2, &[0.5][..]), (3, &[]), (3, &[0.5, 0.5])] {
            let error =
                find_alignment(one.view(), sot_len, &[11], probs, 3000, &splitter).unwrap_err();
            assert!(matches!(error, Error::Inference(_)), "{error}");
        }
        let no_heads = Array3::<f32>::zeros((0, 5, 1500));
        assert!(find_alignment(no_heads.view(), 3, &[11], &[0.5], 3000, &splitter).is_err());
        // Identical rows: every frame's standard deviation is 0, which says nothing about
        // where the words are, but still times every word (the references fail here).
        let uniform = Array3::<f32>::ones((2, 7, 1500));
        let words =
            find_alignment(uniform.view(), 3, &[11, 0], &[0.5, 0.5], 3000, &splitter).unwrap();
        assert!(!words.is_empty());
        assert!(
            words
                .iter()
                .all(|w| w.start.is_finite() && w.end >= w.start)
        );
    }

    #[test]
    fn assign_words_matches_faster_whisper() {
        // Two windows through faster-whisper's add_word_timestamps, printed by
        // tests/alignment_reference.py. Window 1 (median 0.3 s, so at most 0.6 s): "." is cut
        // to 0.6 s and " Next" after it starts 0.6 s before its end; " Hello" after the pause
        // is cut to 0.6 s; " (" and ")" join "yes", "." joins " world"; the second segment
        // starts with the emptied " (", whose token went to " (yes)".
        let alignment = vec![
            timing(" Hello", &[1], 0.0, 1.6),
            timing(" world", &[2], 1.6, 1.9),
            timing(".", &[8], 1.9, 4.0),
            timing(" Next", &[3], 4.0, 6.5),
            timing(" one", &[4], 6.5, 6.8),
            timing(" (", &[5], 6.8, 6.8),
            timing("yes", &[6], 6.8, 7.1),
            timing(")", &[7], 7.1, 7.3),
        ];
        let mut segments = [
            SegmentSpan {
                start: 10.2,
                end: 16.9,
                text_tokens: 5,
            },
            SegmentSpan {
                start: 16.8,
                end: 17.3,
                text_tokens: 3,
            },
        ];
        let mut last_speech = 0.0;
        let words = assign_words(
            alignment,
            &mut segments,
            10.0,
            &mut last_speech,
            DEFAULT_PREPEND_PUNCTUATIONS,
            DEFAULT_APPEND_PUNCTUATIONS,
        );
        assert_words(
            &words[0],
            &[
                word(" Hello", 11.0, 11.6),
                word(" world.", 11.6, 11.9),
                word(" Next", 15.9, 16.5),
                word(" one", 16.5, 16.8),
            ],
        );
        assert_words(&words[1], &[word(" (yes)", 16.8, 17.1)]);
        assert_eq!((segments[0].start, segments[0].end), (11.0, 16.8));
        assert_eq!((segments[1].start, segments[1].end), (16.8, 17.1));
        assert_eq!(last_speech, 17.1);

        // Window 2 (median capped at 0.7 s): after the pause " So" and " then" meet at
        // max(33.5 / 2, 33.5 - 1.4) and " So" starts 0.7 s before that, later than the segment
        // start (31.5) allows; " now" overruns the segment end and is cut back to it.
        let alignment = vec![
            timing(" So", &[1], 0.0, 2.0),
            timing(" then", &[2], 2.0, 3.5),
            timing(" we", &[3], 3.5, 3.8),
            timing(" left", &[4], 3.8, 4.1),
            timing(" home", &[5], 4.1, 4.4),
            timing(" now", &[6], 4.4, 9.0),
        ];
        let mut segments = [SegmentSpan {
            start: 31.5,
            end: 36.0,
            text_tokens: 6,
        }];
        let words = assign_words(
            alignment,
            &mut segments,
            30.0,
            &mut last_speech,
            DEFAULT_PREPEND_PUNCTUATIONS,
            DEFAULT_APPEND_PUNCTUATIONS,
        );
        assert_words(
            &words[0],
            &[
                word(" So", 31.400000000000002, 32.1),
                word(" then", 32.1, 33.5),
                word(" we", 33.5, 33.8),
                word(" left", 33.8, 34.1),
                word(" home", 34.1, 34.4),
                word(" now", 34.4, 36.0),
            ],
        );
        assert_eq!((segments[0].start, segments[0].end), (31.5, 36.0));
        assert_eq!(last_speech, 36.0);
    }

    #[test]
    fn assign_words_handles_missing_words() {
        let mut last_speech = 3.0;
        let mut none: [SegmentSpan; 0] = [];
        let alignment = vec![timing(" a", &[1], 0.0, 1.0)];
        assert!(assign_words(alignment, &mut none, 0.0, &mut last_speech, "", "").is_empty());

        // More segments than words: the later ones get none and keep their times.
        let mut segments = [
            SegmentSpan {
                start: 0.5,
                end: 1.5,
                text_tokens: 1,
            },
            SegmentSpan {
                start: 2.0,
                end: 3.0,
                text_tokens: 2,
            },
        ];
        let alignment = vec![timing(" a", &[1], 0.52, 1.48)];
        let words = assign_words(alignment, &mut segments, 0.0, &mut last_speech, "", "");
        assert_words(&words[0], &[word(" a", 0.52, 1.48)]);
        assert!(words[1].is_empty());
        assert_eq!(segments[0].start, 0.52);
        assert_eq!(segments[1].start, 2.0);
        assert_eq!(last_speech, 1.48);

        let words = assign_words(Vec::new(), &mut segments, 0.0, &mut last_speech, "", "");
        assert_eq!(words, [Vec::new(), Vec::new()]);
    }

    #[test]
    fn times_round_like_python() {
        // Python's round(x, 2) of each.
        for (x, rounded) in [
            (0.125, 0.12),
            (0.375, 0.38),
            (2.675, 2.67),
            (1.005, 1.0),
            (0.015, 0.01),
            (0.025, 0.03),
            (29.995, 30.0),
            (-0.001, -0.0),
        ] {
            assert_eq!(round_to_hundredths(x), rounded, "{x}");
        }
    }
}
