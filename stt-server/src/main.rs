//! `stt`: transcribe files, manage models, accounts and keys, and run the HTTP server.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use stt_core::audio::AudioInput;
use stt_core::formats::{self, Format};
use stt_core::{CancelToken, Device, LoadOptions, Precision, TranscribeOptions, Transcriber};
use stt_server::server;

mod admin;
mod models;
mod tools;

#[derive(Parser)]
#[command(
    name = "stt",
    version,
    about = "Speech to text with Whisper on ONNX Runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Transcribe audio or video files.
    Transcribe(Box<TranscribeArgs>),
    /// Remove noise from a recording (DeepFilterNet3) and normalise its loudness.
    Enhance(tools::EnhanceArgs),
    /// Speak text with an installed voice (Piper VITS, espeak-ng phonemes) into an audio file.
    Say(tools::SayArgs),
    /// Install, import and list models.
    Models {
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
    /// Run the HTTP service (shared/spec/API.md).
    Serve(Box<server::config::ServeConfig>),
    /// Run only the engine: take jobs from the shared queue (--database, --storage); the
    /// port serves health and metrics only.
    Worker(Box<server::config::ServeConfig>),
    /// Create, list and revoke API keys.
    Keys {
        #[command(subcommand)]
        command: admin::KeysCommand,
        #[command(flatten)]
        store: admin::StoreArgs,
    },
    /// Create, list and change accounts (plan, limits); each key belongs to one.
    Accounts {
        #[command(subcommand)]
        command: admin::AccountsCommand,
        #[command(flatten)]
        store: admin::StoreArgs,
    },
}

#[derive(clap::Args)]
struct TranscribeArgs {
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Installed model name or model directory.
    #[arg(long, default_value = "base")]
    model: String,
    /// Spoken language (ISO 639-1), or `auto` to detect it.
    #[arg(long, default_value = "auto")]
    language: String,
    /// `transcribe`, or `translate` to English.
    #[arg(long, default_value = "transcribe")]
    task: String,
    /// json, full_json, txt, srt, vtt or csv.
    #[arg(long, default_value = "json")]
    format: String,
    /// Write here instead of standard output (one input file only).
    #[arg(long, conflicts_with = "output_dir")]
    output: Option<PathBuf>,
    /// Write one file per input here, named after the input with the format's extension.
    #[arg(long)]
    output_dir: Option<PathBuf>,
    /// float32, or int8 for the quantized graphs.
    #[arg(long, default_value = "float32")]
    precision: String,
    /// Where the model runs: auto (the GPU when the ONNX Runtime library is onnxruntime-gpu's
    /// and a GPU is there, else the CPU), cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Decode text only, without timestamp tokens (one segment per 30 s window).
    #[arg(long)]
    without_timestamps: bool,
    /// Beams searched at temperature 0 (1 is greedy decoding).
    #[arg(long)]
    beam_size: Option<usize>,
    /// Skip word timings.
    #[arg(long)]
    no_word_timestamps: bool,
    /// Decode silence too (no voice activity detection).
    #[arg(long)]
    no_vad: bool,
    /// Label speakers ("Speaker 1"...) on segments and words.
    #[arg(long)]
    diarize: bool,
    /// With --diarize: the number of speakers, when known (0 estimates it).
    #[arg(long, default_value_t = 0)]
    speakers: usize,
    /// With --diarize: one speaker per channel (stereo call recordings).
    #[arg(long)]
    by_channel: bool,
    /// Any transcription option as NAME=VALUE, VALUE in JSON (`--set patience=2`,
    /// `--set 'clip_timestamps=[10, 20]'`); plain words are taken as strings.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    settings: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Transcribe(args) => {
            let TranscribeArgs {
                files,
                model,
                language,
                task,
                format,
                output,
                output_dir,
                precision,
                device,
                without_timestamps,
                beam_size,
                no_word_timestamps,
                no_vad,
                diarize,
                speakers,
                by_channel,
                settings,
            } = *args;
            let format: Format = format.parse().map_err(|e: stt_core::Error| e.to_string())?;
            let mut options = TranscribeOptions {
                language: Some(language),
                task: parse_choice(&task, "task")?,
                without_timestamps,
                word_timestamps: !no_word_timestamps,
                vad_filter: !no_vad,
                diarize,
                speakers,
                diarize_by_channel: by_channel,
                ..TranscribeOptions::default()
            };
            if let Some(beam_size) = beam_size {
                options.beam_size = beam_size;
            }
            let options = apply_settings(options, &settings)?;
            let load = LoadOptions {
                precision: parse_choice::<Precision>(&precision, "precision")?,
                device: device.parse::<Device>().map_err(|e| e.to_string())?,
                ..LoadOptions::default()
            };
            let destination = match (output, output_dir) {
                (Some(_), _) if files.len() > 1 => {
                    return Err("--output takes one input file; use --output-dir".into());
                }
                (Some(path), _) => Destination::File(path),
                (None, Some(dir)) => Destination::Dir(dir),
                (None, None) if files.len() > 1 => {
                    return Err("several input files need --output-dir".into());
                }
                (None, None) => Destination::Stdout,
            };
            transcribe_all(&files, &model, &options, &load, format, &destination)
        }
        Command::Models { command } => models::run(command),
        Command::Enhance(args) => tools::enhance(args),
        Command::Say(args) => tools::say(args),
        Command::Serve(config) => tokio::runtime::Runtime::new()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?
            .block_on(server::serve(*config)),
        Command::Worker(mut config) => {
            config.role = server::config::Role::Worker;
            tokio::runtime::Runtime::new()
                .map_err(|e| format!("cannot start the async runtime: {e}"))?
                .block_on(server::serve(*config))
        }
        Command::Keys { command, store } => store.run(|db| admin::keys(db, command)),
        Command::Accounts { command, store } => store.run(|db| admin::accounts(db, command)),
    }
}

/// Parses a lowercase enum name the way the server and bindings do (serde).
fn parse_choice<T: serde::de::DeserializeOwned>(value: &str, what: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(value.to_ascii_lowercase()))
        .map_err(|_| format!("invalid {what} {value:?}"))
}

/// Overrides options with `NAME=VALUE` pairs the core's way, so every option and its checks
/// are the ones the server and the bindings use.
fn apply_settings(
    options: TranscribeOptions,
    settings: &[String],
) -> Result<TranscribeOptions, String> {
    let mut overrides = serde_json::Map::new();
    for setting in settings {
        let (name, raw) = setting
            .split_once('=')
            .ok_or_else(|| format!("--set {setting:?}: expected NAME=VALUE"))?;
        let parsed = serde_json::from_str(raw)
            .unwrap_or_else(|_| serde_json::Value::String(raw.to_string()));
        overrides.insert(name.trim().to_string(), parsed);
    }
    options
        .with_overrides(overrides.into())
        .map_err(|e| format!("invalid --set: {e}"))
}

enum Destination {
    Stdout,
    File(PathBuf),
    Dir(PathBuf),
}

/// Transcribes every file with one loaded model; a file that fails is reported and the rest
/// go on.
fn transcribe_all(
    files: &[PathBuf],
    model: &str,
    options: &TranscribeOptions,
    load: &LoadOptions,
    format: Format,
    destination: &Destination,
) -> Result<(), String> {
    let mut transcriber = Transcriber::load(model, load).map_err(|e| e.to_string())?;
    if let Destination::Dir(dir) = destination {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let mut failed = 0;
    for file in files {
        let rendered = match transcribe(&mut transcriber, file, options, format) {
            Ok(rendered) => rendered,
            Err(message) if files.len() > 1 => {
                eprintln!("error: {}: {message}", file.display());
                failed += 1;
                continue;
            }
            Err(message) => return Err(message),
        };
        let written = match destination {
            Destination::Stdout => std::io::stdout()
                .write_all(rendered.as_bytes())
                .map_err(|e| format!("cannot write to standard output: {e}")),
            Destination::File(path) => std::fs::write(path, rendered)
                .map_err(|e| format!("cannot write {}: {e}", path.display())),
            Destination::Dir(dir) => {
                let name = file.file_name().unwrap_or(file.as_os_str());
                let path = dir.join(format!("{}.{}", name.to_string_lossy(), format.extension()));
                std::fs::write(&path, rendered)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))
            }
        };
        written?;
    }
    match failed {
        0 => Ok(()),
        n => Err(format!("{n} of {} files failed", files.len())),
    }
}

fn transcribe(
    transcriber: &mut Transcriber,
    file: &Path,
    options: &TranscribeOptions,
    format: Format,
) -> Result<String, String> {
    // Long files are spooled to disk and read a window at a time.
    let decoding = stt_core::audio::DecodeOptions {
        keep_channels: options.needs_channels(),
        ..stt_core::audio::DecodeOptions::spooled()
    };
    let audio = stt_core::audio::spool_file(file, &decoding).map_err(|e| e.to_string())?;

    // A bar only for audio longer than one window; indicatif hides it when stderr is no terminal.
    let bar = (audio.duration() > 30.0).then(|| {
        let bar = ProgressBar::new((audio.duration() * 1000.0) as u64);
        bar.set_style(
            ProgressStyle::with_template("{bar:40} {percent:>3}% {elapsed} elapsed, {eta} left")
                .expect("static template"),
        );
        bar
    });
    let transcript = transcriber
        .transcribe_with_progress(&audio, options, &CancelToken::new(), &mut |progress| {
            // With VAD the total is the speech left to decode, not the file's length.
            if let Some(bar) = &bar {
                bar.set_length((progress.total_seconds * 1000.0) as u64);
                bar.set_position((progress.processed_seconds * 1000.0) as u64);
            }
            ControlFlow::Continue(())
        })
        .map_err(|e| e.to_string())?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    for warning in &transcript.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(formats::render(&transcript, format))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stt_core::Task;

    #[test]
    fn choices_parse_like_the_server() {
        assert_eq!(
            parse_choice::<Task>("Translate", "task").unwrap(),
            Task::Translate
        );
        assert!(
            parse_choice::<Task>("summarize", "task")
                .unwrap_err()
                .contains("summarize")
        );
        assert_eq!(
            parse_choice::<Precision>("int8", "precision").unwrap(),
            Precision::Int8
        );
    }

    #[test]
    fn settings_override_options_through_serde() {
        let options = apply_settings(
            TranscribeOptions::default(),
            &[
                "patience=2".into(),
                "initial_prompt=Kenobi".into(),
                "clip_timestamps=[1.5, 3]".into(),
            ],
        )
        .unwrap();
        assert_eq!(options.patience, 2.0);
        assert_eq!(options.initial_prompt.as_deref(), Some("Kenobi"));
        assert_eq!(options.clip_timestamps, vec![1.5, 3.0]);
        let error = apply_settings(TranscribeOptions::default(), &["beam=3".into()]).unwrap_err();
        assert!(error.contains("beam"), "{error}");
        let error =
            apply_settings(TranscribeOptions::default(), &["beam_size=0".into()]).unwrap_err();
        assert!(error.contains("beam_size"), "{error}");
    }
}
