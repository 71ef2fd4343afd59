//! `stt_core::audio::load_bytes` on arbitrary bytes, as an upload reaches it. The first byte
//! picks the extension hint; the rest is the file. An `Err` is fine; a panic out of
//! `load_bytes`, an abort, a timeout or running out of memory is a finding. Run without `ffmpeg`
//! on `PATH` (benches/fuzz.sh does), so that the built-in decoders are what is measured.
//!
//! stt-core runs the decoders under `catch_unwind` and turns their panics into
//! `Error::CorruptAudio`, so those are not crashes of the server: they are logged (once per
//! place) and, with `STT_FUZZ_CAUGHT_DIR` set, the first input of each is saved there. With
//! `STT_FUZZ_CAUGHT_PANICS=abort` they are findings like any other panic.
//!
//! To fuzz on past a reported bug until it is fixed, `STT_FUZZ_KNOWN_PANICS` holds `|`-separated
//! pieces of panic messages: a panic out of `load_bytes` whose message contains one is logged
//! and saved like a caught one instead of stopping the run.
#![no_main]

use std::backtrace::Backtrace;
use std::cell::RefCell;
use std::collections::HashSet;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, Once};

use libfuzzer_sys::fuzz_target;

const HINTS: [Option<&str>; 7] = [
    None,
    Some("wav"),
    Some("mp3"),
    Some("flac"),
    Some("ogg"),
    Some("m4a"),
    Some("webm"),
];

thread_local! {
    /// Where and why the last panic happened, with its stack (resolved only when shown).
    static LAST_PANIC: RefCell<Option<(String, String, Backtrace)>> = const { RefCell::new(None) };
}

static CAUGHT: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Unless caught panics are to abort, records each panic instead of aborting at once.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("STT_FUZZ_CAUGHT_PANICS").is_some_and(|v| v == "abort") {
            return; // libfuzzer-sys's hook: print and abort.
        }
        panic::set_hook(Box::new(|info| {
            let place = info
                .location()
                .map_or_else(|| "unknown".to_string(), ToString::to_string);
            let trace = Backtrace::force_capture();
            LAST_PANIC.with(|last| *last.borrow_mut() = Some((place, info.to_string(), trace)));
        }));
    });
}

fn note_caught_panic(input: &[u8]) {
    if let Some(panic) = LAST_PANIC.with(|last| last.borrow_mut().take()) {
        note_panic(
            input,
            panic,
            "caught decoder panic (stt-core returned CorruptAudio)",
        );
    }
}

/// Whether a panic's message contains one of `STT_FUZZ_KNOWN_PANICS`'s pieces.
fn is_known(message: &str) -> bool {
    std::env::var("STT_FUZZ_KNOWN_PANICS").is_ok_and(|known| {
        known
            .split('|')
            .any(|piece| !piece.is_empty() && message.contains(piece))
    })
}

/// Logs a tolerated panic the first time its place is seen, and saves its input.
fn note_panic(input: &[u8], (place, message, trace): (String, String, Backtrace), what: &str) {
    let mut caught = CAUGHT.lock().unwrap();
    if !caught
        .get_or_insert_with(HashSet::new)
        .insert(place.clone())
    {
        return;
    }
    eprintln!("==== {what} ====\n{message}\n{trace}");
    if let Some(dir) = std::env::var_os("STT_FUZZ_CAUGHT_DIR") {
        let name: String = place
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let path = std::path::Path::new(&dir).join(format!("panic-{name}"));
        if !path.exists() {
            let _ = std::fs::write(path, input);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    install_panic_hook();
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let hint = HINTS[usize::from(selector) % HINTS.len()];
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        stt_core::audio::load_bytes(bytes.to_vec(), hint)
    }));
    match result {
        Ok(Ok(audio)) => {
            note_caught_panic(data);
            if let Some(bad) = audio.samples.iter().find(|s| !(-1.0..=1.0).contains(*s)) {
                eprintln!("==== load_bytes returned a sample outside [-1, 1]: {bad} ====");
                std::process::abort();
            }
        }
        Ok(Err(_)) => note_caught_panic(data),
        Err(_) => {
            // A panic out of load_bytes: a finding. Show it, then abort for libFuzzer.
            let panic = LAST_PANIC.with(|last| last.borrow_mut().take());
            if let Some(panic) = panic {
                if is_known(&panic.1) {
                    note_panic(
                        data,
                        panic,
                        "known panic out of load_bytes (STT_FUZZ_KNOWN_PANICS)",
                    );
                    return;
                }
                let (_, message, trace) = panic;
                eprintln!("==== panic out of stt_core::audio::load_bytes ====\n{message}\n{trace}");
            }
            std::process::abort();
        }
    }
});
