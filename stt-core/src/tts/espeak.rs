//! Text to IPA phonemes with espeak-ng, clause by clause, as Piper's phonemizer does it.
//!
//! espeak-ng is loaded at run time (`libespeak-ng.so.1`, Debian's `libespeak-ng1`), so the
//! engine builds and runs without it and says what is missing when speech is asked for. It
//! is global and not thread-safe: every call holds one process-wide lock.
//!
//! Piper's phonemizer (piper-phonemize, which the voices were trained with) reads each
//! clause's terminator from a function Debian's espeak-ng 1.51 lacks. The same terminator is
//! found here from the text the clause consumed: espeak reads one character past the clause,
//! and the punctuation before it says how the clause ended. This gives piper-phonemize's
//! phonemes on every text it was checked on (`docs/research/audio-tools.md`, B.3).

use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::sync::{Mutex, OnceLock};

use unicode_normalization::UnicodeNormalization;

use crate::{Error, Result};

const LIBRARY: &str = "libespeak-ng.so.1";
/// `AUDIO_OUTPUT_SYNCHRONOUS`: no sound device.
const OUTPUT_SYNCHRONOUS: c_int = 2;
/// `espeakCHARS_AUTO`: UTF-8, as piper-phonemize passes it.
const CHARS_AUTO: c_int = 0;
/// `espeakPHONEMES_IPA`.
const PHONEMES_IPA: c_int = 0x02;

type Initialize = unsafe extern "C" fn(c_int, c_int, *const c_char, c_int) -> c_int;
type SetVoiceByName = unsafe extern "C" fn(*const c_char) -> c_int;
type TextToPhonemes = unsafe extern "C" fn(*mut *const c_void, c_int, c_int) -> *const c_char;

struct Espeak {
    set_voice: SetVoiceByName,
    text_to_phonemes: TextToPhonemes,
    /// The voice set last, so that it is set once per change.
    voice: Option<String>,
    _library: libloading::Library,
}

// The function pointers are only called with the lock held.
unsafe impl Send for Espeak {}

static ESPEAK: OnceLock<std::result::Result<Mutex<Espeak>, String>> = OnceLock::new();

fn espeak() -> Result<&'static Mutex<Espeak>> {
    ESPEAK
        .get_or_init(|| load().map(Mutex::new))
        .as_ref()
        .map_err(|e| Error::RuntimeNotFound(e.clone()))
}

fn load() -> std::result::Result<Espeak, String> {
    let missing = |e: libloading::Error| {
        format!("{LIBRARY}: {e}; speech needs espeak-ng (Debian: apt install libespeak-ng1)")
    };
    // SAFETY: espeak-ng's library runs no code on load beyond its C runtime set-up; the
    // symbols have the C signatures of espeak-ng 1.51's `speak_lib.h`.
    unsafe {
        let library = libloading::Library::new(LIBRARY).map_err(missing)?;
        let initialize = *library
            .get::<Initialize>(b"espeak_Initialize\0")
            .map_err(missing)?;
        let set_voice = *library
            .get::<SetVoiceByName>(b"espeak_SetVoiceByName\0")
            .map_err(missing)?;
        let text_to_phonemes = *library
            .get::<TextToPhonemes>(b"espeak_TextToPhonemes\0")
            .map_err(missing)?;
        // A null path: the data the library was built with (or $ESPEAK_DATA_PATH).
        if initialize(OUTPUT_SYNCHRONOUS, 0, std::ptr::null(), 0) < 0 {
            return Err(format!(
                "espeak-ng found no data (Debian: apt install espeak-ng-data{})",
                std::env::var("ESPEAK_DATA_PATH")
                    .map(|p| format!("; ESPEAK_DATA_PATH is {p}"))
                    .unwrap_or_default()
            ));
        }
        Ok(Espeak {
            set_voice,
            text_to_phonemes,
            voice: None,
            _library: library,
        })
    }
}

/// `text` as espeak-ng phonemes in `voice` (e.g. `en-us`), one string per sentence, its
/// clauses' punctuation included (`ˈɛvɹi klˈɔz, ɪnˈɛnd.`).
pub fn phonemize(text: &str, voice: &str) -> Result<Vec<String>> {
    // espeak stops at a NUL; the text is the caller's, so drop them rather than fail.
    let text = CString::new(text.replace('\0', " "))
        .map_err(|_| Error::InvalidOption("text holds a NUL character".into()))?;
    let mut espeak = espeak()?.lock().unwrap_or_else(|e| e.into_inner());
    if espeak.voice.as_deref() != Some(voice) {
        let name =
            CString::new(voice).map_err(|_| Error::InvalidOption(format!("voice {voice:?}")))?;
        // SAFETY: a NUL-terminated name, the lock held.
        if unsafe { (espeak.set_voice)(name.as_ptr()) } != 0 {
            return Err(Error::InvalidOption(format!(
                "espeak-ng has no voice {voice:?}"
            )));
        }
        espeak.voice = Some(voice.to_string());
    }
    let start = text.as_ptr();
    let bytes = text.as_bytes();
    let mut position: *const c_void = start.cast();
    let mut sentences = Vec::new();
    let mut current = String::new();
    while !position.is_null() {
        let from = position as usize - start as usize;
        // SAFETY: `position` points into `text`, which outlives the loop; espeak moves it
        // forward through the text or sets it to null at its end.
        let phonemes = unsafe {
            let out = (espeak.text_to_phonemes)(&mut position, CHARS_AUTO, PHONEMES_IPA);
            match out.is_null() {
                true => String::new(),
                false => CStr::from_ptr(out).to_string_lossy().into_owned(),
            }
        };
        let to = match position.is_null() {
            true => None,
            false => Some((position as usize - start as usize).min(bytes.len())),
        };
        let consumed = String::from_utf8_lossy(&bytes[from..to.unwrap_or(bytes.len())]);
        let ending = clause_ending(&consumed, to.is_none());
        current.push_str(&clean(&phonemes));
        current.push_str(ending.punctuation);
        if ending.ends_sentence {
            let sentence = std::mem::take(&mut current);
            if !sentence.trim().is_empty() {
                sentences.push(sentence);
            }
        }
    }
    if !current.trim().is_empty() {
        sentences.push(current);
    }
    Ok(sentences)
}

/// The phonemes without espeak's language-switch marks (`(fr)…(en)`), decomposed (NFD) as
/// the voices' phoneme tables expect.
fn clean(phonemes: &str) -> String {
    let mut out = String::with_capacity(phonemes.len());
    let mut in_flag = false;
    for c in phonemes.chars() {
        match c {
            '(' => in_flag = true,
            ')' if in_flag => in_flag = false,
            _ if !in_flag => out.push(c),
            _ => {}
        }
    }
    out.nfd().collect()
}

#[derive(Debug, PartialEq)]
struct ClauseEnding {
    punctuation: &'static str,
    ends_sentence: bool,
}

/// How a clause ended, from the text espeak consumed for it: that text runs one character
/// past the clause unless the text ended (`at_end`).
fn clause_ending(consumed: &str, at_end: bool) -> ClauseEnding {
    let mut clause = consumed;
    if !at_end && let Some((last, _)) = clause.char_indices().next_back() {
        clause = &clause[..last];
    }
    let body = clause.trim_end();
    let whitespace = &clause[body.len()..];
    let ending = |punctuation, ends_sentence| ClauseEnding {
        punctuation,
        ends_sentence,
    };
    if whitespace.matches('\n').count() >= 2 {
        return ending("", true); // a paragraph
    }
    // Closing quotes and brackets may follow the punctuation.
    let body = body.trim_end_matches(['"', '\'', '”', '’', '»', ')', ']', '}']);
    let run_start = body
        .char_indices()
        .rev()
        .take_while(|(_, c)| ".?!,:;…—–".contains(*c))
        .last()
        .map(|(i, _)| i);
    let Some(run_start) = run_start else {
        return ending("", at_end);
    };
    let run = &body[run_start..];
    if run.contains("..") || run.contains('…') {
        return ending("", at_end); // an ellipsis: the sentence goes on
    }
    match run.chars().next() {
        Some('.') => ending(".", true),
        Some('?') => ending("?", true),
        Some('!') => ending("!", true),
        Some(',') => ending(", ", at_end),
        Some(':') => ending(": ", at_end),
        Some(';') => ending("; ", at_end),
        // espeak-ng reads a dash as a semicolon.
        Some('—' | '–') => ending("; ", at_end),
        _ => ending("", at_end),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clause_endings_follow_the_consumed_text() {
        let end = |p, s| ClauseEnding {
            punctuation: p,
            ends_sentence: s,
        };
        assert_eq!(clause_ending("Hello, w", false), end(", ", false));
        assert_eq!(clause_ending("Is it? Y", false), end("?", true));
        assert_eq!(clause_ending("He said \"stop.\" T", false), end(".", true));
        assert_eq!(clause_ending("Wait... t", false), end("", false));
        assert_eq!(clause_ending("A title\n\nT", false), end("", true));
        assert_eq!(clause_ending("no stop at all", true), end("", true));
        assert_eq!(clause_ending("The end.", true), end(".", true));
        assert_eq!(clause_ending("What?! N", false), end("?", true));
    }

    #[test]
    fn language_marks_are_dropped_and_phonemes_decomposed() {
        assert_eq!(
            clean("(fr)bɔ̃ʒuʁ(en) hɛlˈoʊ"),
            "bɔ̃ʒuʁ hɛlˈoʊ".nfd().collect::<String>()
        );
        assert_eq!(clean("ç").chars().count(), 2);
    }
}
