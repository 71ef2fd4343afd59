//! Export of a two-hour transcript in every format: a synthetic transcript of ~5 s segments
//! with two alternating speakers, its texts the fixtures' reference transcripts (English,
//! Russian, Japanese, Chinese, Korean...). Prints the median time and size of each format;
//! every one should take well under a second.
//!
//! `cargo bench -p stt-core --features documents --bench export`

use std::path::Path;
use std::time::{Duration, Instant};

use stt_core::formats::{DocumentInfo, Fonts, Format, render, to_docx, to_pdf};
use stt_core::{Segment, Transcript};

const LENGTH: f64 = 7200.0;
const RUNS: usize = 7;

/// The fixtures' reference texts cut into pieces of about five seconds of speech.
fn pieces() -> Vec<String> {
    let fixtures = std::env::var_os("STT_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/audio"),
        Into::into,
    );
    let manifest = std::fs::read_to_string(fixtures.join("MANIFEST.tsv"))
        .expect("fixtures' MANIFEST.tsv (set STT_FIXTURES)");
    let mut pieces = Vec::new();
    for line in manifest.lines().skip(1) {
        let reference = line.split('\t').nth(3).unwrap_or_default();
        let words: Vec<&str> = reference.split_whitespace().collect();
        if words.len() > 1 {
            pieces.extend(words.chunks(12).map(|chunk| chunk.join(" ")));
        } else {
            // Chinese and Japanese: no spaces.
            let chars: Vec<char> = reference.chars().collect();
            pieces.extend(chars.chunks(20).map(|chunk| chunk.iter().collect()));
        }
    }
    pieces.retain(|piece| !piece.is_empty());
    pieces
}

fn transcript() -> Transcript {
    let pieces = pieces();
    let mut segments = Vec::new();
    let mut start = 0.0;
    while start < LENGTH {
        let id = segments.len();
        // 4.5 to 5.5 s, varied without randomness.
        let end = (start + 4.5 + (id % 11) as f64 / 10.0).min(LENGTH);
        segments.push(Segment {
            id,
            seek: 0,
            start,
            end,
            text: format!(" {}", pieces[id % pieces.len()]),
            tokens: vec![],
            temperature: 0.0,
            avg_logprob: -0.2,
            compression_ratio: 1.3,
            no_speech_prob: 0.01,
            words: vec![],
            speaker: Some(format!("Speaker {}", id % 2 + 1)),
        });
        start = end;
    }
    let text = segments
        .iter()
        .map(|s| s.text.trim())
        .collect::<Vec<_>>()
        .join(" ");
    Transcript {
        text,
        language: "en".into(),
        language_probability: 0.9,
        duration: LENGTH,
        duration_after_vad: LENGTH,
        model: "large-v3-turbo".into(),
        segments,
        warnings: vec![],
        speakers: vec!["Speaker 1".into(), "Speaker 2".into()],
    }
}

/// Median time of `RUNS` renders, and the size of the output.
fn time(render: impl Fn() -> Vec<u8>) -> (Duration, usize) {
    let mut size = 0;
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            size = render().len();
            start.elapsed()
        })
        .collect();
    times.sort();
    (times[RUNS / 2], size)
}

fn main() {
    let transcript = transcript();
    let info = DocumentInfo {
        title: "two-hours.wav".into(),
        date: "5 December 2026, 14:03 UTC".into(),
    };
    let start = Instant::now();
    let fonts = Fonts::system().expect("fonts (scripts/setup.sh installs them)");
    println!(
        "{} segments over {LENGTH} s; loading the fonts took {:.0} ms (once per process)\n",
        transcript.segments.len(),
        start.elapsed().as_secs_f64() * 1000.0
    );
    println!(
        "{:<8} {:>10} {:>12}  under 1 s",
        "format", "median ms", "bytes"
    );
    let transcript = &transcript;
    let text = |format| move || render(transcript, format).into_bytes();
    let results = [
        ("txt", time(text(Format::Txt))),
        ("srt", time(text(Format::Srt))),
        ("vtt", time(text(Format::Vtt))),
        ("json", time(text(Format::Json))),
        ("csv", time(text(Format::Csv))),
        ("docx", time(|| to_docx(transcript, &info).unwrap())),
        ("pdf", time(|| to_pdf(transcript, &info, &fonts).unwrap())),
    ];
    for (name, (median, size)) in results {
        let ms = median.as_secs_f64() * 1000.0;
        let ok = if median < Duration::from_secs(1) {
            "yes"
        } else {
            "NO"
        };
        println!("{name:<8} {ms:>10.2} {size:>12}  {ok}");
    }
}
