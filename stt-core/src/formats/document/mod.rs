//! Documents for people to read: DOCX and PDF with a heading, a line of facts (date, duration,
//! language, model, speakers) and one timestamped paragraph per segment. Both renderers take
//! their content from here, so they say the same thing.

mod docx;
mod fonts;
mod layout;
mod pdf;

pub use docx::to_docx;
pub use fonts::Fonts;
pub use pdf::to_pdf;

use crate::languages::language_name;
use crate::transcript::Transcript;

/// What the transcript itself does not know: the caller's title (e.g. the source file name)
/// and a date for people ("5 December 2026, 14:03 UTC").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DocumentInfo {
    pub title: String,
    pub date: String,
}

/// `[HH:MM:SS]`, the start of a paragraph.
fn clock(seconds: f64) -> String {
    let total = seconds.max(0.0) as u64;
    format!(
        "[{:02}:{:02}:{:02}]",
        total / 3600,
        total / 60 % 60,
        total % 60
    )
}

/// `H:MM:SS`, the length of the recording.
fn duration(seconds: f64) -> String {
    let total = seconds.max(0.0).round() as u64;
    format!("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60)
}

/// The facts under the title, as one line each: date, duration, language and model; then the
/// speakers when diarization found any.
fn facts(transcript: &Transcript, info: &DocumentInfo) -> Vec<String> {
    let mut line = Vec::new();
    if !info.date.is_empty() {
        line.push(info.date.clone());
    }
    line.push(format!("Duration {}", duration(transcript.duration)));
    if !transcript.language.is_empty() {
        let language = language_name(&transcript.language)
            .map_or_else(|| transcript.language.clone(), capitalized);
        line.push(format!("Language: {language}"));
    }
    if !transcript.model.is_empty() {
        line.push(format!("Model: {}", transcript.model));
    }
    let mut lines = vec![line.join(" · ")];
    if !transcript.speakers.is_empty() {
        lines.push(format!("Speakers: {}", transcript.speakers.join(", ")));
    }
    lines
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// One paragraph of the body.
struct Paragraph<'a> {
    clock: String,
    speaker: Option<&'a str>,
    text: &'a str,
}

/// The segments worth a paragraph (those with text), in order.
fn paragraphs(transcript: &Transcript) -> impl Iterator<Item = Paragraph<'_>> {
    transcript.segments.iter().filter_map(|segment| {
        let text = segment.text.trim();
        (!text.is_empty()).then(|| Paragraph {
            clock: clock(segment.start),
            speaker: segment.speaker.as_deref(),
            text,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::sample_transcript;

    #[test]
    fn facts_name_language_model_and_speakers() {
        let info = DocumentInfo {
            title: "call.wav".into(),
            date: "5 December 2026, 14:03 UTC".into(),
        };
        assert_eq!(
            facts(&sample_transcript(), &info),
            [
                "5 December 2026, 14:03 UTC · Duration 1:02:06 · Language: English · Model: base",
                "Speakers: Speaker 1, Speaker 2"
            ]
        );
    }

    #[test]
    fn clocks_and_durations() {
        assert_eq!(clock(3661.25), "[01:01:01]");
        assert_eq!(clock(-1.0), "[00:00:00]");
        assert_eq!(duration(59.6), "0:01:00");
        assert_eq!(duration(7200.0), "2:00:00");
    }
}
