//! Replays a recording through a live session in chunks, paced in real time or as fast as the
//! engine goes, and prints every event with the stream time it was sent at.
//!
//! cargo run --release -p stt-core --example stream_file -- FILE [--realtime] [--model base]
//!     [--options JSON]   (StreamOptions that differ from the defaults)

use std::time::{Duration, Instant};

use stt_core::{CancelToken, LoadOptions, StreamEvent, StreamOptions, StreamSession, Transcriber};

const CHUNK_SECONDS: f64 = 0.1;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = args
        .first()
        .ok_or("usage: stream_file FILE [--realtime] [--model NAME] [--options JSON]")?;
    let realtime = args.iter().any(|a| a == "--realtime");
    let value = |name: &str| {
        let at = args.iter().position(|a| a == name)?;
        args.get(at + 1).map(String::as_str)
    };
    let model = value("--model").unwrap_or("base");
    let options = StreamOptions::from_json(value("--options").unwrap_or("{}"))?;
    let audio = stt_core::audio::load_file(std::path::Path::new(file))?;
    let mut transcriber = Transcriber::load(model, &LoadOptions::default())?;
    let mut session = StreamSession::new(options)?;
    let chunk = (CHUNK_SECONDS * 16_000.0) as usize;
    let started = Instant::now();
    let mut busy = Duration::ZERO;
    let mut pieces = audio.samples.chunks(chunk).peekable();
    while pieces.peek().is_some() {
        // In real time, everything that has "arrived" while the engine was busy goes in at once.
        for piece in pieces.by_ref() {
            session.push(piece);
            if !realtime {
                break;
            }
            let due = Duration::from_secs_f64(session.received_seconds());
            if let Some(early) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(early);
                break;
            }
        }
        let step = Instant::now();
        let events = session.step(&mut transcriber, &CancelToken::new())?;
        busy += step.elapsed();
        print_events(&events, &session, started);
    }
    let step = Instant::now();
    let events = session.finish(&mut transcriber, &CancelToken::new())?;
    busy += step.elapsed();
    print_events(&events, &session, started);
    eprintln!(
        "audio {:.1} s, engine busy {:.1} s",
        audio.duration(),
        busy.as_secs_f64()
    );
    Ok(())
}

fn print_events(events: &[StreamEvent], session: &StreamSession, started: Instant) {
    for event in events {
        let at = started.elapsed().as_secs_f64();
        let sent = session.received_seconds();
        match event {
            StreamEvent::Partial { text } => println!("{at:6.2} [{sent:6.2}] partial {text}"),
            StreamEvent::Final {
                text, start, end, ..
            } => println!("{at:6.2} [{sent:6.2}] FINAL {start:.2}-{end:.2} {text}"),
        }
    }
}
