//! DOCX (Word, LibreOffice), written by docx-rs: a title, the facts, then a paragraph per
//! segment with a hanging indent, so the start times form a column of their own.

use std::io::Cursor;

use docx_rs::{Docx, LineSpacing, Paragraph, Run, RunFonts, SpecialIndentType, Style, StyleType};
use printpdf::OffsetDateTime;
use zip::result::ZipResult;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::{DocumentInfo, facts, paragraphs};
use crate::transcript::Transcript;
use crate::{Error, Result};

/// Grey of the facts and the start times.
const GREY: &str = "666666";
/// Width of the start-time column, in twentieths of a point.
const CLOCK_COLUMN: i32 = 1300;

/// Fonts that have the characters and the regional shapes of Chinese, Japanese and Korean;
/// Word and LibreOffice substitute their own where these are not installed.
fn fonts(language: &str) -> RunFonts {
    let east_asian = match language {
        "zh" => "Noto Sans CJK SC",
        "ko" => "Noto Sans CJK KR",
        "yue" => "Noto Sans CJK HK",
        _ => "Noto Sans CJK JP",
    };
    RunFonts::new()
        .ascii("DejaVu Sans")
        .hi_ansi("DejaVu Sans")
        .cs("DejaVu Sans")
        .east_asia(east_asian)
}

/// The transcript as a Word document.
pub fn to_docx(transcript: &Transcript, info: &DocumentInfo) -> Result<Vec<u8>> {
    // Sizes are in half-points.
    let title = Style::new("Title", StyleType::Paragraph)
        .name("Title")
        .size(36)
        .bold()
        .outline_lvl(0);
    // For the document's properties, which would otherwise say 1970.
    let now = OffsetDateTime::now_utc();
    let now = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let mut docx = Docx::new()
        .created_at(&now)
        .updated_at(&now)
        .default_fonts(fonts(&transcript.language))
        .default_size(21)
        .add_style(title)
        .add_paragraph(
            Paragraph::new()
                .style("Title")
                .add_run(Run::new().add_text(&info.title)),
        );
    let mut lines = facts(transcript, info).into_iter().peekable();
    while let Some(line) = lines.next() {
        let after = if lines.peek().is_some() { 0 } else { 240 };
        docx = docx.add_paragraph(
            Paragraph::new()
                .line_spacing(LineSpacing::new().after(after))
                .add_run(Run::new().add_text(line).color(GREY).size(18)),
        );
    }
    for paragraph in paragraphs(transcript) {
        let mut runs = Paragraph::new()
            .indent(
                Some(CLOCK_COLUMN),
                Some(SpecialIndentType::Hanging(CLOCK_COLUMN)),
                None,
                None,
            )
            .line_spacing(LineSpacing::new().after(80))
            .add_run(Run::new().add_text(paragraph.clock).color(GREY).add_tab());
        if let Some(speaker) = paragraph.speaker {
            runs = runs.add_run(Run::new().add_text(format!("{speaker}  ")).bold());
        }
        docx = docx.add_paragraph(runs.add_run(Run::new().add_text(paragraph.text)));
    }
    let mut stored = Cursor::new(Vec::new());
    docx.build()
        .pack(&mut stored)
        .and_then(|()| deflated(stored.into_inner()))
        .map_err(|e| Error::io(format!("{}.docx", info.title), std::io::Error::other(e)))
}

/// The archive with its parts deflated: docx-rs stores them, and a long transcript's XML
/// shrinks to a seventh.
fn deflated(stored: Vec<u8>) -> ZipResult<Vec<u8>> {
    let mut archive = ZipArchive::new(Cursor::new(stored))?;
    let mut out = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    for index in 0..archive.len() {
        let mut part = archive.by_index(index)?;
        if part.is_dir() {
            out.add_directory(part.name(), options)?;
        } else {
            out.start_file(part.name(), options)?;
            std::io::copy(&mut part, &mut out)?;
        }
    }
    Ok(out.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::formats::sample_transcript;

    /// A part of the DOCX package, as text.
    fn part(docx: &[u8], name: &str) -> String {
        let mut archive = zip::ZipArchive::new(Cursor::new(docx)).expect("a zip archive");
        let mut xml = String::new();
        archive
            .by_name(name)
            .expect(name)
            .read_to_string(&mut xml)
            .unwrap();
        xml
    }

    #[test]
    fn paragraphs_have_times_speakers_and_text() {
        let mut transcript = sample_transcript();
        transcript.segments[1].text = " Мы <скоро> & 「すぐに」".into();
        let info = DocumentInfo {
            title: "call.wav".into(),
            date: "5 December 2026, 14:03 UTC".into(),
        };
        let docx = to_docx(&transcript, &info).unwrap();
        let document = part(&docx, "word/document.xml");
        for expected in [
            ">call.wav<",
            "Duration 1:02:06 · Language: English · Model: base",
            ">[00:00:00]<",
            "<w:b />",
            ">Speaker 1  <",
            ">Hello there.<",
            ">[01:01:01]<",
            ">Speaker 2  <",
            ">Мы &lt;скоро&gt; &amp; 「すぐに」<",
        ] {
            assert!(
                document.contains(expected),
                "{expected:?} not in {document}"
            );
        }
        let styles = part(&docx, "word/styles.xml");
        assert!(styles.contains("Noto Sans CJK JP"), "{styles}");
    }
}
