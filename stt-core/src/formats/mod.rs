//! Output formats: pure functions from a [`Transcript`] to text, or to DOCX and PDF documents
//! with the `documents` feature.

mod csv;
mod deepgram;
#[cfg(feature = "documents")]
mod document;
mod json;
mod openai;
mod subtitles;

use std::str::FromStr;

use crate::transcript::Transcript;
use crate::{Error, Result};

pub use csv::to_csv;
pub use deepgram::{DeepgramMetadata, to_deepgram};
#[cfg(feature = "documents")]
pub use document::{DocumentInfo, Fonts, to_docx, to_pdf};
pub use json::to_api_json;
pub use openai::to_openai_verbose_json;
pub use subtitles::{to_srt, to_vtt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The JSON body of `POST /v1/transcribe`.
    #[default]
    Json,
    /// Every field of the [`Transcript`], segments with their decoding details and words
    /// (OpenAI's smaller `verbose_json` is [`to_openai_verbose_json`], for its API).
    FullJson,
    Txt,
    Srt,
    Vtt,
    Csv,
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "full_json" => Ok(Format::FullJson),
            "txt" | "text" => Ok(Format::Txt),
            "srt" => Ok(Format::Srt),
            "vtt" => Ok(Format::Vtt),
            "csv" => Ok(Format::Csv),
            other => Err(Error::InvalidOption(format!(
                "unknown format {other:?}; expected json, full_json, txt, srt, vtt or csv"
            ))),
        }
    }
}

impl Format {
    /// File name extension of rendered output.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json | Format::FullJson => "json",
            Format::Txt => "txt",
            Format::Srt => "srt",
            Format::Vtt => "vtt",
            Format::Csv => "csv",
        }
    }
}

pub fn render(transcript: &Transcript, format: Format) -> String {
    match format {
        Format::Json => {
            let mut json = to_api_json(transcript).to_string();
            json.push('\n');
            json
        }
        Format::FullJson => {
            let mut json = serde_json::to_string(transcript).unwrap_or_default();
            json.push('\n');
            json
        }
        Format::Txt => format!("{}\n", transcript.text),
        Format::Srt => to_srt(transcript),
        Format::Vtt => to_vtt(transcript),
        Format::Csv => to_csv(transcript),
    }
}

#[cfg(test)]
pub(crate) fn sample_transcript() -> Transcript {
    use crate::transcript::Segment;
    let segment = |id, start, end, text: &str| Segment {
        id,
        seek: 0,
        start,
        end,
        text: text.into(),
        tokens: vec![],
        temperature: 0.0,
        avg_logprob: -0.1,
        compression_ratio: 1.2,
        no_speech_prob: 0.01,
        words: vec![],
        speaker: None,
    };
    let mut first = segment(0, 0.0, 2.5, " Hello there.");
    first.speaker = Some("Speaker 1".into());
    first.words = vec![crate::transcript::Word {
        word: " Hello".into(),
        start: 0.0,
        end: 0.4,
        probability: 0.9,
        speaker: Some("Speaker 1".into()),
    }];
    let mut second = segment(1, 3661.25, 3662.0004, " General Kenobi!");
    second.speaker = Some("Speaker 2".into());
    Transcript {
        text: "Hello there. General Kenobi!".into(),
        language: "en".into(),
        language_probability: 0.99,
        duration: 3725.5,
        duration_after_vad: 3000.0,
        model: "base".into(),
        segments: vec![first, second],
        warnings: vec![],
        speakers: vec!["Speaker 1".into(), "Speaker 2".into()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names() {
        assert_eq!("SRT".parse::<Format>().unwrap(), Format::Srt);
        assert_eq!("text".parse::<Format>().unwrap(), Format::Txt);
        assert_eq!("csv".parse::<Format>().unwrap().extension(), "csv");
        assert!(
            "docx"
                .parse::<Format>()
                .unwrap_err()
                .to_string()
                .contains("docx")
        );
    }

    #[test]
    fn full_json_round_trips() {
        let transcript = sample_transcript();
        let rendered = render(&transcript, Format::FullJson);
        let back: Transcript = serde_json::from_str(&rendered).unwrap();
        assert_eq!(back, transcript);
    }

    #[test]
    fn txt_is_the_plain_text() {
        assert_eq!(
            render(&sample_transcript(), Format::Txt),
            "Hello there. General Kenobi!\n"
        );
    }
}
