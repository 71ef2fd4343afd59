//! CSV for spreadsheets: one row per segment, RFC 4180 quoting.

use std::fmt::Write;

use crate::transcript::Transcript;

/// Quotes a field only when it has to (comma, quote or line break), doubling its quotes.
fn field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// Header `start,end,speaker,text`; times in seconds with 3 decimals, speaker empty without
/// diarization. Lines end in CRLF, as RFC 4180 has them (spreadsheets read both).
pub fn to_csv(transcript: &Transcript) -> String {
    let mut out = String::from("start,end,speaker,text\r\n");
    for segment in &transcript.segments {
        let text = segment.text.trim();
        if text.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "{:.3},{:.3},{},{}\r\n",
            segment.start,
            segment.end,
            field(segment.speaker.as_deref().unwrap_or("")),
            field(text)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::sample_transcript;

    #[test]
    fn rows_have_times_speakers_and_text() {
        assert_eq!(
            to_csv(&sample_transcript()),
            "start,end,speaker,text\r\n\
             0.000,2.500,Speaker 1,Hello there.\r\n\
             3661.250,3662.000,Speaker 2,General Kenobi!\r\n"
        );
    }

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut transcript = sample_transcript();
        transcript.segments[0].text = " Well, she said \"no\"\nthen left.".into();
        transcript.segments[1].speaker = None;
        transcript.segments.push(transcript.segments[1].clone());
        transcript.segments[2].text = "   ".into();
        assert_eq!(
            to_csv(&transcript),
            "start,end,speaker,text\r\n\
             0.000,2.500,Speaker 1,\"Well, she said \"\"no\"\"\nthen left.\"\r\n\
             3661.250,3662.000,,General Kenobi!\r\n"
        );
    }
}
