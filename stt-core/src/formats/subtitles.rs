//! SRT and WebVTT subtitle files: numbered cues with `HH:MM:SS,mmm` (SRT) or a `WEBVTT` header
//! and `HH:MM:SS.mmm` (VTT).

use std::fmt::Write;

use crate::transcript::Transcript;

fn timestamp(seconds: f64, decimal_marker: char) -> String {
    let millis = (seconds.max(0.0) * 1000.0).round() as u64;
    let (hours, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (secs, millis) = (rest / 1000, rest % 1000);
    format!("{hours:02}:{minutes:02}:{secs:02}{decimal_marker}{millis:03}")
}

fn cues(transcript: &Transcript, decimal_marker: char, numbered: bool) -> String {
    let mut out = String::new();
    let texts = transcript
        .segments
        .iter()
        .map(|s| (s, s.text.trim()))
        .filter(|(_, text)| !text.is_empty());
    for (index, (segment, text)) in texts.enumerate() {
        if numbered {
            let _ = writeln!(out, "{}", index + 1);
        }
        let _ = writeln!(
            out,
            "{} --> {}\n{}\n",
            timestamp(segment.start, decimal_marker),
            timestamp(segment.end, decimal_marker),
            text
        );
    }
    out
}

pub fn to_srt(transcript: &Transcript) -> String {
    cues(transcript, ',', true)
}

pub fn to_vtt(transcript: &Transcript) -> String {
    format!("WEBVTT\n\n{}", cues(transcript, '.', false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::sample_transcript;

    #[test]
    fn srt_cues_are_numbered_with_comma_millis() {
        assert_eq!(
            to_srt(&sample_transcript()),
            "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n\
             2\n01:01:01,250 --> 01:01:02,000\nGeneral Kenobi!\n\n"
        );
    }

    #[test]
    fn vtt_has_a_header_and_dot_millis() {
        let vtt = to_vtt(&sample_transcript());
        assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n"));
        assert!(vtt.contains("01:01:01.250 --> 01:01:02.000\nGeneral Kenobi!\n"));
    }
}
