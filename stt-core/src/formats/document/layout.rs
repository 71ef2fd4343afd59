//! Lines and pages for the PDF: each character takes the first face that has it, lines break
//! at spaces and between CJK characters (which have no spaces), pages break at the margin.

use super::fonts::{Fonts, Weight};

/// A4 in points, with 20 mm margins.
pub(super) const PAGE_WIDTH: f32 = 595.28;
pub(super) const PAGE_HEIGHT: f32 = 841.89;
pub(super) const MARGIN: f32 = 56.69;
/// Line height over font size.
const LEADING: f32 = 1.4;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Style {
    pub weight: Weight,
    pub size: f32,
    pub grey: bool,
}

/// Glyphs of one face and style, drawn from `x` on the baseline `y` (points from the bottom
/// left of the page). Each glyph keeps its character, for the PDF's text extraction.
#[derive(Debug)]
pub(super) struct Run {
    pub x: f32,
    pub y: f32,
    pub face: usize,
    pub style: Style,
    pub glyphs: Vec<(u16, char)>,
}

/// A character with the glyph that draws it and its width in points.
struct Item {
    face: usize,
    gid: u16,
    c: char,
    width: f32,
    style: Style,
}

/// Characters that may not start a line (closing punctuation, small kana) or end one.
const NO_BREAK_BEFORE: &str = ")]}.,:;!?%、。，．・：；？！ー～ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ」』）］｝〕〉》】〙〗";
const NO_BREAK_AFTER: &str = "([{「『（［｛〔〈《【〘〖";

/// Scripts written without spaces between words, where a line may break between any two
/// characters: CJK ideographs, kana, Hangul syllables and their punctuation.
fn is_wide(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x11FF | 0x2E80..=0x303F | 0x3040..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA960..=0xA97F | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFE30..=0xFE4F
        | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

fn may_break_between(before: char, after: char) -> bool {
    (is_wide(before) || is_wide(after))
        && !NO_BREAK_BEFORE.contains(after)
        && !NO_BREAK_AFTER.contains(before)
}

/// Lays out paragraphs top to bottom onto as many pages as they need.
pub(super) struct Layout<'a> {
    fonts: &'a Fonts,
    language: &'a str,
    pub pages: Vec<Vec<Run>>,
    /// Top of the next line, in points from the bottom of the page.
    top: f32,
}

impl<'a> Layout<'a> {
    /// `language` picks the regional shapes of CJK characters.
    pub fn new(fonts: &'a Fonts, language: &'a str) -> Self {
        Layout {
            fonts,
            language,
            pages: vec![Vec::new()],
            top: PAGE_HEIGHT - MARGIN,
        }
    }

    pub fn space(&mut self, points: f32) {
        self.top -= points;
    }

    fn items(&self, text: &str, style: Style) -> Vec<Item> {
        let order = self.fonts.order(style.weight, self.language);
        text.chars()
            .map(|c| {
                let c = if c.is_whitespace() { ' ' } else { c };
                let (face, gid) = self.fonts.glyph(&order, c);
                let width = self.fonts.face(face).advance(gid) * style.size;
                Item {
                    face,
                    gid,
                    c,
                    width,
                    style,
                }
            })
            .collect()
    }

    /// One paragraph of `spans` between `left` and the right margin, wrapped; `marker` (a
    /// timestamp) goes at the left margin on its first line.
    pub fn paragraph(&mut self, marker: Option<(&str, Style)>, spans: &[(&str, Style)], left: f32) {
        let items: Vec<Item> = spans
            .iter()
            .flat_map(|(text, style)| self.items(text, *style))
            .collect();
        let size = spans
            .iter()
            .chain(&marker)
            .map(|(_, style)| style.size)
            .fold(0.0, f32::max);
        let lines = wrap(&items, PAGE_WIDTH - MARGIN - left);
        for (number, line) in lines.iter().enumerate() {
            let height = size * LEADING;
            if self.top - height < MARGIN {
                self.pages.push(Vec::new());
                self.top = PAGE_HEIGHT - MARGIN;
            }
            // Room above the baseline for capitals and CJK (ascents are about 0.9 em).
            let baseline = self.top - size * 1.1;
            let page = self.pages.len() - 1;
            if let (0, Some((text, style))) = (number, marker) {
                let marker = self.items(text, style);
                self.place(page, &marker, MARGIN, baseline);
            }
            self.place(page, &items[line.clone()], left, baseline);
            self.top -= height;
        }
    }

    /// Width of `text` on one line, in points.
    pub fn width(&self, text: &str, style: Style) -> f32 {
        self.items(text, style).iter().map(|item| item.width).sum()
    }

    /// `text` centred in the bottom margin of a page.
    pub fn footer(&mut self, page: usize, text: &str, style: Style) {
        let items = self.items(text, style);
        let width: f32 = items.iter().map(|item| item.width).sum();
        self.place(page, &items, (PAGE_WIDTH - width) / 2.0, MARGIN / 2.0);
    }

    /// Adds `items` to a page as runs of one face and style.
    fn place(&mut self, page: usize, items: &[Item], mut x: f32, y: f32) {
        let page = &mut self.pages[page];
        let mut previous: Option<(usize, Style)> = None;
        for item in items {
            if previous != Some((item.face, item.style)) {
                page.push(Run {
                    x,
                    y,
                    face: item.face,
                    style: item.style,
                    glyphs: Vec::new(),
                });
                previous = Some((item.face, item.style));
            }
            if let Some(run) = page.last_mut() {
                run.glyphs.push((item.gid, item.c));
            }
            x += item.width;
        }
    }
}

/// Splits `items` into lines no wider than `width`: greedily, at the last break opportunity
/// that fits, or anywhere in a word longer than a line. Spaces that end a line are dropped.
fn wrap(items: &[Item], width: f32) -> Vec<std::ops::Range<usize>> {
    let mut lines = Vec::new();
    // The line being filled starts at `start`; it fits up to `end` (spaces excluded).
    let (mut start, mut end, mut line_width) = (0, 0, 0.0);
    let mut i = 0;
    while i < items.len() {
        // The next unbreakable piece: [i, word_end) without spaces, then spaces to `next`.
        let mut word_end = i + 1;
        while word_end < items.len()
            && items[word_end].c != ' '
            && !may_break_between(items[word_end - 1].c, items[word_end].c)
        {
            word_end += 1;
        }
        if items[i].c == ' ' {
            word_end = i;
        }
        let mut next = word_end;
        while next < items.len() && items[next].c == ' ' {
            next += 1;
        }
        let word: f32 = items[i..word_end].iter().map(|item| item.width).sum();
        let spaces: f32 = items[word_end..next].iter().map(|item| item.width).sum();
        if line_width + word <= width || (end == start && word <= width) {
            line_width += word + spaces;
            end = word_end;
            i = next;
        } else if end > start {
            lines.push(start..end);
            (start, end, line_width) = (i, i, 0.0);
        } else {
            // A word wider than the line: as many characters as fit, at least one.
            let mut fit = i + 1;
            let mut used = items[i].width;
            while fit < word_end && used + items[fit].width <= width {
                used += items[fit].width;
                fit += 1;
            }
            lines.push(start..fit);
            (start, end, line_width) = (fit, fit, 0.0);
            i = fit;
        }
    }
    if end > start || lines.is_empty() {
        lines.push(start..end);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::document::fonts::system_fonts;

    const TEXT: Style = Style {
        weight: Weight::Regular,
        size: 10.0,
        grey: false,
    };

    /// The lines of `text` wrapped to `width`, and the width each one takes.
    fn lines(text: &str, width: f32) -> Vec<(String, f32)> {
        let layout = Layout::new(system_fonts(), "ja");
        let items = layout.items(text, TEXT);
        wrap(&items, width)
            .into_iter()
            .map(|line| {
                let items = &items[line];
                let text = items.iter().map(|item| item.c).collect();
                (text, items.iter().map(|item| item.width).sum())
            })
            .collect()
    }

    #[test]
    fn lines_break_at_spaces() {
        let text = "Oh, I'm originally from Chicago also. I'm in New Jersey now though.";
        let lines = lines(text, 150.0);
        assert!(lines.len() > 2, "{lines:?}");
        for (line, width) in &lines {
            assert!(*width <= 150.0, "{line:?} is {width} wide");
        }
        let joined: Vec<&str> = lines.iter().map(|(line, _)| line.as_str()).collect();
        assert_eq!(joined.join(" "), text);
    }

    #[test]
    fn cjk_breaks_between_characters_but_not_before_closing_marks() {
        let text = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。";
        let lines = lines(text, 75.0);
        assert!(lines.len() > 3, "{lines:?}");
        for (line, width) in &lines {
            assert!(*width <= 75.0, "{line:?} is {width} wide");
            assert!(!line.starts_with('。'), "{line:?}");
        }
        let joined: String = lines.into_iter().map(|(line, _)| line).collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn words_wider_than_a_line_are_cut() {
        let word = "x".repeat(100);
        let lines = lines(&format!("a {word} b"), 100.0);
        assert!(lines.len() > 3, "{lines:?}");
        assert!(lines.iter().all(|(_, width)| *width <= 100.0));
        assert_eq!(lines.first().map(|(line, _)| line.as_str()), Some("a"));
        assert!(lines.iter().all(|(line, _)| !line.is_empty()));
    }

    #[test]
    fn paragraphs_flow_onto_new_pages() {
        let mut layout = Layout::new(system_fonts(), "en");
        for _ in 0..100 {
            layout.paragraph(Some(("[00:00:00]", TEXT)), &[("Some words.", TEXT)], 120.0);
        }
        assert!(layout.pages.len() > 1);
        let lowest = layout
            .pages
            .iter()
            .flatten()
            .map(|run| run.y)
            .fold(f32::MAX, f32::min);
        assert!(lowest >= MARGIN, "{lowest}");
    }
}
