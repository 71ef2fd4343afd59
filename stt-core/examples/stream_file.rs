//! Replays a recording through a live session in chunks and prints every event with the
//! stream time it was sent at.
//!
//! cargo run --release -p stt-core --example stream_file -- FILE [--realtime | --simulated]
//!     [--model base] [--options JSON] [--json]
//!
//! Without a pace the audio goes in as fast as the engine goes. `--realtime` sleeps until each
//! 100 ms chunk is due. `--simulated` gives the same events as `--realtime` without the waits:
//! its clock jumps over the time the engine would be idle and advances by the time each step
//! really took, so a sweep over options costs only the engine's time. `--json` prints one
//! `{"at": seconds, "message": {...}}` per event, the message as the server sends it.

use std::time::{Duration, Instant};

use stt_core::{CancelToken, LoadOptions, StreamEvent, StreamOptions, StreamSession, Transcriber};

const CHUNK_SECONDS: f64 = 0.1;

#[derive(PartialEq)]
enum Pace {
    Unpaced,
    Realtime,
    Simulated,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let file = args.first().ok_or(
        "usage: stream_file FILE [--realtime | --simulated] [--model NAME] [--options JSON] [--json]",
    )?;
    let flag = |name: &str| args.iter().any(|a| a == name);
    let pace = match (flag("--realtime"), flag("--simulated")) {
        (true, true) => return Err("--realtime and --simulated exclude each other".into()),
        (true, false) => Pace::Realtime,
        (false, true) => Pace::Simulated,
        (false, false) => Pace::Unpaced,
    };
    let value = |name: &str| {
        let at = args.iter().position(|a| a == name)?;
        args.get(at + 1).map(String::as_str)
    };
    let model = value("--model").unwrap_or("base");
    let options = StreamOptions::from_json(value("--options").unwrap_or("{}"))?;
    let audio = stt_core::audio::load_file(std::path::Path::new(file))?;
    let mut transcriber = Transcriber::load(model, &LoadOptions::default())?;
    let mut session = StreamSession::new(options)?;
    let printer = Printer {
        json: flag("--json"),
    };
    let chunk = (CHUNK_SECONDS * 16_000.0) as usize;
    let started = Instant::now();
    // Seconds since the first chunk: the wall clock, or the simulated one.
    let mut clock = 0.0;
    let mut busy = Duration::ZERO;
    let mut pieces = audio.samples.chunks(chunk).peekable();
    while pieces.peek().is_some() {
        // Everything that has "arrived" while the engine was busy goes in at once.
        for piece in pieces.by_ref() {
            session.push(piece);
            let due = session.received_seconds();
            match pace {
                Pace::Unpaced => break,
                Pace::Realtime => {
                    clock = started.elapsed().as_secs_f64();
                    if due > clock {
                        std::thread::sleep(Duration::from_secs_f64(due - clock));
                        break;
                    }
                }
                Pace::Simulated if due >= clock => {
                    clock = due;
                    break;
                }
                Pace::Simulated => {}
            }
        }
        let step = Instant::now();
        let events = session.step(&mut transcriber, &CancelToken::new())?;
        busy += step.elapsed();
        clock = match pace {
            Pace::Simulated => clock + step.elapsed().as_secs_f64(),
            _ => started.elapsed().as_secs_f64(),
        };
        printer.print(&events, &session, clock)?;
    }
    let step = Instant::now();
    let events = session.finish(&mut transcriber, &CancelToken::new())?;
    busy += step.elapsed();
    clock = match pace {
        Pace::Simulated => clock.max(session.received_seconds()) + step.elapsed().as_secs_f64(),
        _ => started.elapsed().as_secs_f64(),
    };
    printer.print(&events, &session, clock)?;
    eprintln!(
        "audio {:.1} s, engine busy {:.1} s",
        audio.duration(),
        busy.as_secs_f64()
    );
    Ok(())
}

struct Printer {
    json: bool,
}

impl Printer {
    fn print(
        &self,
        events: &[StreamEvent],
        session: &StreamSession,
        at: f64,
    ) -> serde_json::Result<()> {
        for event in events {
            if self.json {
                let line = serde_json::json!({"at": at, "message": event});
                println!("{}", serde_json::to_string(&line)?);
                continue;
            }
            let sent = session.received_seconds();
            match event {
                StreamEvent::Partial { text } => println!("{at:6.2} [{sent:6.2}] partial {text}"),
                StreamEvent::Final {
                    text, start, end, ..
                } => println!("{at:6.2} [{sent:6.2}] FINAL {start:.2}-{end:.2} {text}"),
            }
        }
        Ok(())
    }
}
