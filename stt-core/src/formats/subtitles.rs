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

/// How a cue names its speaker: SRT has no markup for it, WebVTT has the voice span.
#[derive(Clone, Copy)]
enum SpeakerStyle {
    Prefix,
    VoiceSpan,
}

fn cues(
    transcript: &Transcript,
    decimal_marker: char,
    numbered: bool,
    style: SpeakerStyle,
) -> String {
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
        let text = match (&segment.speaker, style) {
            (None, _) => text.to_string(),
            (Some(speaker), SpeakerStyle::Prefix) => format!("{speaker}: {text}"),
            (Some(speaker), SpeakerStyle::VoiceSpan) => format!("<v {speaker}>{text}"),
        };
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
    cues(transcript, ',', true, SpeakerStyle::Prefix)
}

pub fn to_vtt(transcript: &Transcript) -> String {
    format!(
        "WEBVTT\n\n{}",
        cues(transcript, '.', false, SpeakerStyle::VoiceSpan)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::sample_transcript;

    fn without_speakers() -> Transcript {
        let mut transcript = sample_transcript();
        transcript
            .segments
            .iter_mut()
            .for_each(|s| s.speaker = None);
        transcript
    }

    #[test]
    fn cues_name_their_speaker() {
        let srt = to_srt(&sample_transcript());
        assert!(
            srt.contains("00:00:02,500\nSpeaker 1: Hello there.\n"),
            "{srt}"
        );
        let vtt = to_vtt(&sample_transcript());
        assert!(
            vtt.contains("01:01:02.000\n<v Speaker 2>General Kenobi!\n"),
            "{vtt}"
        );
    }

    #[test]
    fn srt_cues_are_numbered_with_comma_millis() {
        assert_eq!(
            to_srt(&without_speakers()),
            "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n\
             2\n01:01:01,250 --> 01:01:02,000\nGeneral Kenobi!\n\n"
        );
    }

    #[test]
    fn vtt_has_a_header_and_dot_millis() {
        let vtt = to_vtt(&without_speakers());
        assert!(vtt.starts_with("WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n"));
        assert!(vtt.contains("01:01:01.250 --> 01:01:02.000\nGeneral Kenobi!\n"));
    }
}
