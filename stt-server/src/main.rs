//! `stt`: transcribe files and manage models from the command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use stt_core::formats::{self, Format};
use stt_core::{LoadOptions, Precision, TranscribeOptions, Transcriber, store};

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
    /// Transcribe an audio or video file.
    Transcribe {
        file: PathBuf,
        /// Installed model name or model directory.
        #[arg(long, default_value = "base")]
        model: String,
        /// Spoken language (ISO 639-1), or `auto` to detect it.
        #[arg(long, default_value = "auto")]
        language: String,
        /// `transcribe`, or `translate` to English.
        #[arg(long, default_value = "transcribe")]
        task: String,
        /// json, txt, srt or vtt.
        #[arg(long, default_value = "json")]
        format: String,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        /// float32, or int8 for the quantized graphs.
        #[arg(long, default_value = "float32")]
        precision: String,
        /// Decode text only, without timestamp tokens (one segment per 30 s window).
        #[arg(long)]
        without_timestamps: bool,
    },
    /// Install and list models.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Download, verify and convert models into $STT_HOME/models (does nothing if present).
    Pull {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Show installed models.
    List,
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
        Command::Transcribe {
            file,
            model,
            language,
            task,
            format,
            output,
            precision,
            without_timestamps,
        } => {
            let format: Format = format.parse().map_err(|e: stt_core::Error| e.to_string())?;
            let options = TranscribeOptions {
                language: Some(language),
                task: parse_choice(&task, "task")?,
                without_timestamps,
                ..TranscribeOptions::default()
            };
            let load = LoadOptions {
                precision: parse_choice::<Precision>(&precision, "precision")?,
                ..LoadOptions::default()
            };
            transcribe(&file, &model, &options, &load, format, output.as_deref())
        }
        Command::Models {
            command: ModelsCommand::Pull { names },
        } => {
            for name in names {
                let dir = store::pull_model(&name).map_err(|e| e.to_string())?;
                println!("{name}\t{}", dir.display());
            }
            Ok(())
        }
        Command::Models {
            command: ModelsCommand::List,
        } => {
            let installed = store::installed_models();
            if installed.is_empty() {
                eprintln!(
                    "no models installed in {}; try `stt models pull base`",
                    store::models_dir().display()
                );
            }
            for model in installed {
                println!(
                    "{}\t{}\t{}",
                    model.name,
                    model.dir.display(),
                    model.kind.as_str()
                );
            }
            Ok(())
        }
    }
}

/// Parses a lowercase enum name the way the server and bindings do (serde).
fn parse_choice<T: serde::de::DeserializeOwned>(value: &str, what: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(value.to_ascii_lowercase()))
        .map_err(|_| format!("invalid {what} {value:?}"))
}

fn transcribe(
    file: &Path,
    model: &str,
    options: &TranscribeOptions,
    load: &LoadOptions,
    format: Format,
    output: Option<&Path>,
) -> Result<(), String> {
    let audio = stt_core::audio::load_file(file).map_err(|e| e.to_string())?;
    let mut transcriber = Transcriber::load(model, load).map_err(|e| e.to_string())?;

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
        .transcribe(&audio, options, &mut |progress| {
            if let Some(bar) = &bar {
                bar.set_position((progress.processed_seconds * 1000.0) as u64);
            }
        })
        .map_err(|e| e.to_string())?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    for warning in &transcript.warnings {
        eprintln!("warning: {warning}");
    }

    let rendered = formats::render(&transcript, format);
    match output {
        Some(path) => std::fs::write(path, rendered)
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => std::io::stdout()
            .write_all(rendered.as_bytes())
            .map_err(|e| format!("cannot write to standard output: {e}")),
    }
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
}
