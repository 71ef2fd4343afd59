//! PDF: A4 pages laid out here (see `layout`), fonts subset to the glyphs used, written by
//! printpdf. Each glyph carries its character, so text can be searched, copied and extracted.

use std::collections::{BTreeSet, HashMap};

use printpdf::{
    Codepoint, Color, FontId, Greyscale, OffsetDateTime, Op, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Pt, TextItem, TextMatrix,
};

use super::fonts::{Fonts, Weight};
use super::layout::{Layout, MARGIN, PAGE_HEIGHT, PAGE_WIDTH, Run, Style};
use super::{DocumentInfo, facts, paragraphs};
use crate::Result;
use crate::transcript::Transcript;

const TITLE: Style = Style {
    weight: Weight::Bold,
    size: 18.0,
    grey: false,
};
const FACTS: Style = Style {
    weight: Weight::Regular,
    size: 9.0,
    grey: true,
};
const TEXT: Style = Style {
    weight: Weight::Regular,
    size: 10.0,
    grey: false,
};
const SPEAKER: Style = Style {
    weight: Weight::Bold,
    ..TEXT
};
const CLOCK: Style = Style { grey: true, ..TEXT };

/// The transcript as a PDF document: title, facts, then a paragraph per segment with its
/// start time in the margin column and the speaker in bold. Characters no font has are drawn
/// as the main font's missing-glyph box.
pub fn to_pdf(transcript: &Transcript, info: &DocumentInfo, fonts: &Fonts) -> Result<Vec<u8>> {
    let mut layout = Layout::new(fonts, &transcript.language);
    layout.paragraph(None, &[(&info.title, TITLE)], MARGIN);
    layout.space(4.0);
    for line in facts(transcript, info) {
        layout.paragraph(None, &[(&line, FACTS)], MARGIN);
    }
    layout.space(10.0);
    let text_left = MARGIN + layout.width("[00:00:00]   ", CLOCK);
    for paragraph in paragraphs(transcript) {
        let mut spans = Vec::with_capacity(3);
        if let Some(speaker) = paragraph.speaker {
            spans.extend([(speaker, SPEAKER), ("  ", TEXT)]);
        }
        spans.push((paragraph.text, TEXT));
        layout.paragraph(Some((&paragraph.clock, CLOCK)), &spans, text_left);
        layout.space(3.0);
    }
    let count = layout.pages.len();
    for page in 0..count {
        layout.footer(page, &format!("{} / {count}", page + 1), FACTS);
    }
    write(&info.title, &layout.pages, fonts)
}

/// Subsets the faces the runs use, then draws the runs.
fn write(title: &str, pages: &[Vec<Run>], fonts: &Fonts) -> Result<Vec<u8>> {
    let mut used = vec![BTreeSet::new(); fonts.len()];
    for run in pages.iter().flatten() {
        used[run.face].extend(run.glyphs.iter().map(|(gid, _)| *gid));
    }
    let mut document = PdfDocument::new(title);
    // printpdf would date the document 1970.
    let now = OffsetDateTime::now_utc();
    let metadata = &mut document.metadata.info;
    metadata.creation_date = now;
    metadata.modification_date = now;
    metadata.metadata_date = now;
    metadata.producer = "stt".into();
    // Per face: its id in the document and its glyph ids in the subset.
    let mut embedded: Vec<Option<(FontId, HashMap<u16, u16>)>> = Vec::new();
    for (face, gids) in used.iter().enumerate() {
        if gids.is_empty() {
            embedded.push(None);
            continue;
        }
        let (parsed, renumbered) = fonts.face(face).subset(gids)?;
        embedded.push(Some((document.add_font(&parsed), renumbered)));
    }
    let pages = pages
        .iter()
        .map(|runs| {
            let ops = page_ops(runs, &embedded);
            PdfPage::new(Pt(PAGE_WIDTH).into(), Pt(PAGE_HEIGHT).into(), ops)
        })
        .collect();
    document.with_pages(pages);
    let options = PdfSaveOptions {
        image_optimization: None,
        ..PdfSaveOptions::default()
    };
    Ok(document.save(&options, &mut Vec::new()))
}

fn page_ops(runs: &[Run], embedded: &[Option<(FontId, HashMap<u16, u16>)>]) -> Vec<Op> {
    let mut ops = vec![Op::StartTextSection];
    let mut font = None;
    let mut grey = None;
    for run in runs {
        let Some((id, renumbered)) = &embedded[run.face] else {
            continue;
        };
        if font != Some((run.face, run.style.size)) {
            ops.push(Op::SetFont {
                font: PdfFontHandle::External(id.clone()),
                size: Pt(run.style.size),
            });
            font = Some((run.face, run.style.size));
        }
        if grey != Some(run.style.grey) {
            let level = if run.style.grey { 0.4 } else { 0.0 };
            ops.push(Op::SetFillColor {
                col: Color::Greyscale(Greyscale::new(level, None)),
            });
            grey = Some(run.style.grey);
        }
        ops.push(Op::SetTextMatrix {
            matrix: TextMatrix::Translate(Pt(run.x), Pt(run.y)),
        });
        let glyphs = run
            .glyphs
            .iter()
            .map(|(gid, c)| Codepoint {
                gid: renumbered.get(gid).copied().unwrap_or(0),
                offset: 0.0,
                cid: Some(c.to_string()),
            })
            .collect();
        ops.push(Op::ShowText {
            items: vec![TextItem::GlyphIds(glyphs)],
        });
    }
    ops.push(Op::EndTextSection);
    ops
}

#[cfg(test)]
mod tests {
    use printpdf::PdfParseOptions;

    use super::*;
    use crate::formats::document::fonts::system_fonts;
    use crate::formats::sample_transcript;

    fn info(title: &str) -> DocumentInfo {
        DocumentInfo {
            title: title.into(),
            date: "5 December 2026, 14:03 UTC".into(),
        }
    }

    /// The document read back by printpdf's parser, and all its text.
    fn read_back(pdf: &[u8]) -> (PdfDocument, String) {
        assert!(pdf.starts_with(b"%PDF-"));
        let document = PdfDocument::parse(pdf, &PdfParseOptions::default(), &mut Vec::new())
            .expect("a readable PDF");
        let text = document.extract_text().concat().concat();
        (document, text)
    }

    /// How many font programs are embedded (the parser does not read CFF ones back).
    fn embedded_fonts(pdf: &[u8]) -> usize {
        pdf.windows(9).filter(|name| name == b"/FontFile").count()
    }

    #[test]
    fn a_short_transcript_is_one_page() {
        let pdf = to_pdf(&sample_transcript(), &info("call.wav"), system_fonts()).unwrap();
        let (document, text) = read_back(&pdf);
        assert_eq!(document.pages.len(), 1);
        // DejaVu Sans and DejaVu Sans Bold, subset to a few kilobytes each.
        assert_eq!(embedded_fonts(&pdf), 2);
        assert!(pdf.len() < 40_000, "{} bytes", pdf.len());
        for expected in [
            "call.wav",
            "Language: English",
            "Speakers: Speaker 1, Speaker 2",
            "[00:00:00]",
            "Speaker 1",
            "Hello there.",
            "[01:01:01]",
            "General Kenobi!",
            "1 / 1",
        ] {
            assert!(text.contains(expected), "{expected:?} not in {text:?}");
        }
    }

    #[test]
    fn russian_and_japanese_come_back_intact() {
        let mut transcript = sample_transcript();
        transcript.language = "ja".into();
        transcript.segments[0].text = " бедняга ребят на его месте должен был быть я".into();
        transcript.segments[1].text = " 客観的実在の判断的知識が成立するのである。".into();
        transcript.segments[1].speaker = Some("話者 2".into());
        let pdf = to_pdf(&transcript, &info("会議.wav"), system_fonts()).unwrap();
        let (document, text) = read_back(&pdf);
        // Regular, bold and the Japanese face, the last subset from a 19 MB collection.
        assert_eq!(embedded_fonts(&pdf), 3);
        assert_eq!(document.pages.len(), 1);
        assert!(pdf.len() < 80_000, "{} bytes", pdf.len());
        for expected in [
            "会議",
            "Language: Japanese",
            "бедняга ребят на его месте должен был быть я",
            "客観的実在の判断的知識が成立するのである。",
            "話者",
        ] {
            assert!(text.contains(expected), "{expected:?} not in {text:?}");
        }
    }

    #[test]
    fn long_transcripts_get_numbered_pages() {
        let mut transcript = sample_transcript();
        let segment = transcript.segments[0].clone();
        transcript.segments = (0..400)
            .map(|i| {
                let mut segment = segment.clone();
                segment.start = f64::from(i) * 5.0;
                segment.text = format!(" Sentence number {i} of a long meeting.");
                segment
            })
            .collect();
        let pdf = to_pdf(&transcript, &info("long.wav"), system_fonts()).unwrap();
        let (document, text) = read_back(&pdf);
        let pages = document.pages.len();
        assert!(pages > 5, "{pages} pages");
        assert!(text.contains(&format!("2 / {pages}")), "{text}");
        assert!(text.contains("Sentence number 399 of a long meeting."));
    }

    #[test]
    fn characters_no_font_has_are_boxes() {
        let mut transcript = sample_transcript();
        transcript.segments[0].text = " private \u{E000}\u{F8FF} use,\ttab and \u{10FFFD}".into();
        let pdf = to_pdf(&transcript, &info(""), system_fonts()).unwrap();
        let (document, text) = read_back(&pdf);
        assert_eq!(document.pages.len(), 1);
        assert!(text.contains("tab and"), "{text}");
    }
}
