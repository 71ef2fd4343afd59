//! Word timings of one window: a decoder pass over the window's text reads the cross-attention
//! of the alignment heads, and [`alignment`] turns it into timed words.

use super::Transcriber;
use crate::decode::log_softmax;
use crate::mel::FRAME_SECONDS;
use crate::model::AudioFeatures;
use crate::options::TranscribeOptions;
use crate::transcript::Segment;
use crate::{Result, alignment};

/// A decoded window, as the word-timing pass needs it.
pub(super) struct DecodedWindow<'a> {
    pub features: &'a AudioFeatures,
    pub start_sequence: &'a [u32],
    /// Mel frames of audio in the window.
    pub frames: usize,
    pub language: &'a str,
}

impl Transcriber {
    /// Times the words of one window's segments and moves segment bounds to the first and last
    /// word; `last_speech_timestamp` is where the words before them ended.
    pub(super) fn time_words(
        &mut self,
        window: &DecodedWindow<'_>,
        segments: &mut [Segment],
        options: &TranscribeOptions,
        last_speech_timestamp: f64,
    ) -> Result<()> {
        let special = self.tokenizer.special;
        let text_per_segment: Vec<Vec<u32>> = segments
            .iter()
            .map(|s| {
                s.tokens
                    .iter()
                    .copied()
                    .filter(|&t| t < special.eot)
                    .collect()
            })
            .collect();
        let text_tokens: Vec<u32> = text_per_segment.concat();
        if text_tokens.is_empty() {
            return Ok(());
        }
        let tokens = [
            window.start_sequence,
            &[special.no_timestamps],
            &text_tokens,
            &[special.eot],
        ]
        .concat();
        let (logits, attention) = self.model.cross_attention(window.features, &tokens)?;
        let sot_len = window.start_sequence.len();
        // Probability of each text token, over text tokens only, as the reference computes it.
        let text_token_probs: Vec<f32> = text_tokens
            .iter()
            .enumerate()
            .map(|(i, &token)| {
                let row = logits.row(sot_len + i).to_vec();
                log_softmax(&row[..special.eot as usize])[token as usize].exp()
            })
            .collect();
        let tokenizer = &self.tokenizer;
        let timings = alignment::find_alignment(
            attention.view(),
            sot_len,
            &text_tokens,
            &text_token_probs,
            window.frames,
            &alignment::WordSplitter {
                eot: special.eot,
                unicode_only: alignment::uses_unicode_split(window.language),
                decode: &|tokens| tokenizer.decode(tokens),
            },
        )?;
        let mut spans: Vec<alignment::SegmentSpan> = segments
            .iter()
            .zip(&text_per_segment)
            .map(|(segment, text)| alignment::SegmentSpan {
                start: segment.start,
                end: segment.end,
                text_tokens: text.len(),
            })
            .collect();
        let time_offset = segments
            .first()
            .map_or(0.0, |s| s.seek as f64 * FRAME_SECONDS);
        let mut last_speech = last_speech_timestamp;
        let words = alignment::assign_words(
            timings,
            &mut spans,
            time_offset,
            &mut last_speech,
            &options.prepend_punctuations,
            &options.append_punctuations,
        );
        for ((segment, span), words) in segments.iter_mut().zip(spans).zip(words) {
            segment.start = span.start;
            segment.end = span.end;
            segment.words = words;
        }
        Ok(())
    }
}
