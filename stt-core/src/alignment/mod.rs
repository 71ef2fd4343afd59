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

mod assign;
mod dtw;
mod words;

use ndarray::{Array2, ArrayView1, ArrayView3, Axis, s};

pub use assign::assign_words;
pub use dtw::dtw;
use dtw::median_filter;
pub use words::{WordSplitter, merge_punctuations, uses_unicode_split};

use crate::{Error, Result};

/// Encoder frames (one per two mel frames) per second.
pub const TOKENS_PER_SECOND: f64 = 50.0;
/// Marks that join the word after them (openai-whisper's and faster-whisper's default).
pub const DEFAULT_PREPEND_PUNCTUATIONS: &str = "\"'“¿([{-";
/// Marks that join the word before them (openai-whisper's and faster-whisper's default).
pub const DEFAULT_APPEND_PUNCTUATIONS: &str = "\"'.。,，!！?？:：”)]}、";

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

/// Small hand-made inputs shared by the tests of every step, mirrored by
/// `tests/alignment_reference.py`.
#[cfg(test)]
pub(crate) mod toy {
    use super::*;
    use crate::transcript::Word;

    pub const EOT: u32 = 20;

    /// Toy vocabulary of `tests/alignment_reference.py`.
    pub fn toy_bytes(token: u32) -> Vec<u8> {
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
    pub fn toy_decode(tokens: &[u32]) -> Result<String> {
        let bytes: Vec<u8> = tokens.iter().flat_map(|&t| toy_bytes(t)).collect();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    pub fn splitter(unicode_only: bool) -> WordSplitter<'static> {
        WordSplitter {
            eot: EOT,
            unicode_only,
            decode: &toy_decode,
        }
    }

    /// The 64-bit LCG of `tests/alignment_reference.py`.
    pub fn pseudo_random(seed: u64, count: usize) -> Vec<u64> {
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

    pub fn timing(word: &str, tokens: &[u32], start: f64, end: f64) -> WordTiming {
        WordTiming {
            word: word.to_string(),
            tokens: tokens.to_vec(),
            start,
            end,
            probability: 0.5,
        }
    }

    pub fn word(word: &str, start: f64, end: f64) -> Word {
        Word {
            word: word.to_string(),
            start,
            end,
            probability: 0.5,
            speaker: None,
        }
    }

    pub fn assert_words(actual: &[Word], expected: &[Word]) {
        assert_eq!(actual.len(), expected.len(), "{actual:?}");
        for (a, e) in actual.iter().zip(expected) {
            assert_eq!(a.word, e.word);
            assert!((a.start - e.start).abs() < 1e-9, "{a:?} vs {e:?}");
            assert!((a.end - e.end).abs() < 1e-9, "{a:?} vs {e:?}");
            assert_eq!(a.probability, e.probability);
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::Array3;

    use super::toy::*;
    use super::*;

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
}
