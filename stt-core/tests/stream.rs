//! Live sessions with the real base model on real recordings: audio pushed in small pieces
//! gives final segments that match the reference and never go back in time.

mod common;

use common::{base, fixture, word_error_rate};
use stt_core::{CancelToken, StreamEvent, StreamOptions, StreamSession};

/// Pushes `name` in pieces of `chunk` samples, stepping after each; every event in order.
fn replay(name: &str, chunk: usize, options: StreamOptions) -> Vec<StreamEvent> {
    let audio = stt_core::audio::load_file(&common::fixtures().join(name)).unwrap();
    let mut transcriber = base();
    let mut session = StreamSession::new(options).unwrap();
    let mut events = Vec::new();
    for piece in audio.samples.chunks(chunk) {
        session.push(piece);
        events.extend(session.step(&mut transcriber, &CancelToken::new()).unwrap());
    }
    events.extend(
        session
            .finish(&mut transcriber, &CancelToken::new())
            .unwrap(),
    );
    events
}

fn final_text(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|event| match event {
            StreamEvent::Final { text, .. } => Some(text.as_str()),
            StreamEvent::Partial { .. } => None,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn finals_match_the_reference_and_move_forward() {
    for name in ["jfk.flac", "en_librispeech_1089-134686-0000.flac"] {
        let events = replay(name, 1_600, StreamOptions::default());
        let text = final_text(&events);
        let wer = word_error_rate(&fixture(name).reference, &text);
        assert!(wer < 0.1, "{name}: WER {wer:.3}: {text}");
        let mut last_end = 0.0;
        for event in &events {
            if let StreamEvent::Final {
                start, end, words, ..
            } = event
            {
                assert!(
                    *start >= last_end - 0.2 && start <= end,
                    "{name}: {event:?}"
                );
                assert!(words.windows(2).all(|w| w[0].start <= w[1].start));
                last_end = *end;
            }
        }
        assert!(
            events
                .iter()
                .any(|e| matches!(e, StreamEvent::Partial { text } if !text.is_empty())),
            "{name}: no partial text"
        );
    }
}

#[test]
fn without_voice_detection_the_agreement_alone_commits() {
    let options = StreamOptions::from_json(r#"{"transcribe": {"vad_filter": false}}"#).unwrap();
    let text = final_text(&replay("jfk.flac", 4_000, options));
    let wer = word_error_rate(&fixture("jfk.flac").reference, &text);
    assert!(wer < 0.1, "WER {wer:.3}: {text}");
}

#[test]
fn silence_gives_no_text() {
    let mut transcriber = base();
    let mut session = StreamSession::new(StreamOptions::default()).unwrap();
    let mut events = Vec::new();
    for _ in 0..50 {
        session.push(&[0.0; 1_600]);
        events.extend(session.step(&mut transcriber, &CancelToken::new()).unwrap());
    }
    events.extend(
        session
            .finish(&mut transcriber, &CancelToken::new())
            .unwrap(),
    );
    assert!(events.is_empty(), "{events:?}");
}
