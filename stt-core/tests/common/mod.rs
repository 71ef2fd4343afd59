//! Fixtures, the shared base model and error rates for the integration tests.
// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, OnceLock};

use stt_core::{LoadOptions, TranscribeOptions, Transcriber, Transcript};

pub fn fixtures() -> PathBuf {
    std::env::var_os("STT_FIXTURES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/audio"),
        PathBuf::from,
    )
}

pub struct Fixture {
    pub file: String,
    pub language: String,
    pub duration: f64,
    pub reference: String,
}

pub fn manifest() -> Vec<Fixture> {
    let path = fixtures().join("MANIFEST.tsv");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (set STT_FIXTURES)", path.display()));
    text.lines()
        .skip(1)
        .map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            Fixture {
                file: columns[0].into(),
                language: columns[1].into(),
                duration: columns[2].parse().unwrap(),
                reference: columns[3].into(),
            }
        })
        .collect()
}

pub fn fixture(name: &str) -> Fixture {
    manifest().into_iter().find(|f| f.file == name).unwrap()
}

/// One base model shared by the tests of this file (loading takes seconds).
pub fn base() -> MutexGuard<'static, Transcriber> {
    static MODEL: OnceLock<Mutex<Transcriber>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let model = Transcriber::load("base", &LoadOptions::default())
                .unwrap_or_else(|e| panic!("{e} (run scripts/setup.sh first)"));
            Mutex::new(model)
        })
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

pub fn transcribe(name: &str, options: &TranscribeOptions) -> Transcript {
    base()
        .transcribe_file(&fixtures().join(name), options)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Lower case, punctuation removed, split on whitespace (apostrophes kept inside words).
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '\'' {
                c
            } else {
                ' '
            }
        })
        .collect::<String>()
        .split_whitespace()
        .map(|w| w.trim_matches('\'').to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

pub fn word_error_rate(reference: &str, hypothesis: &str) -> f64 {
    edit_rate(&words(reference), &words(hypothesis))
}

/// For languages written without spaces (ja, zh): errors per character, punctuation ignored.
pub fn character_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let chars = |text: &str| -> Vec<String> {
        text.chars()
            .filter(|c| c.is_alphanumeric())
            .map(String::from)
            .collect()
    };
    edit_rate(&chars(reference), &chars(hypothesis))
}

pub fn edit_rate(r: &[String], h: &[String]) -> f64 {
    let mut previous: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut current = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let substitution = previous[j] + usize::from(rw != hw);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[h.len()] as f64 / r.len().max(1) as f64
}
