//! `stt models`: pull the models this project provisions, import a Whisper model the user
//! already has, and list what is installed.

use std::path::Path;

use clap::Subcommand;
use stt_core::Precision;
use stt_core::model::ModelFiles;
use stt_core::store::{self, ModelKind};

#[derive(Subcommand)]
pub enum ModelsCommand {
    /// Download, verify and convert models into $STT_HOME/models (does nothing if present).
    Pull {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Install a Whisper model you already have: a CTranslate2 directory (faster-whisper's), a
    /// transformers checkpoint (safetensors or pytorch_model.bin), an ONNX export
    /// (optimum / onnx-community), or OWNER/NAME from the local Hugging Face cache (offline).
    Import {
        /// A directory, or a repository id such as Systran/faster-whisper-large-v3.
        source: String,
        /// Installed name (default: from the source, e.g. large-v3).
        #[arg(long)]
        name: Option<String>,
        /// Keep only this precision: float32, float16 or int8 (default: the checkpoint's own
        /// precision and int8).
        #[arg(long)]
        precision: Option<String>,
    },
    /// Show installed models: name, kind, size on disk, languages, precisions, directory.
    List,
}

pub fn run(command: ModelsCommand) -> Result<(), String> {
    match command {
        ModelsCommand::Pull { names } => {
            for name in names {
                let dir = stt_models::pull(&name, &store::python()).map_err(|e| e.to_string())?;
                println!("{name}\t{}", dir.display());
            }
        }
        ModelsCommand::Import {
            source,
            name,
            precision,
        } => {
            let precision = precision
                .map(|p| p.parse::<Precision>())
                .transpose()
                .map_err(|e| e.to_string())?;
            let dir = stt_models::import(&source, name.as_deref(), precision, &store::python())
                .map_err(|e| e.to_string())?;
            let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
            println!("{}\t{}", name.unwrap_or_default(), dir.display());
        }
        ModelsCommand::List => {
            let installed = store::installed_models();
            if installed.is_empty() {
                eprintln!(
                    "no models installed in {}; try `stt models pull base`",
                    store::models_dir().display()
                );
            }
            for model in installed {
                let (languages, precisions) = match model.kind {
                    ModelKind::Whisper => whisper_details(&model.dir),
                    _ => ("-".into(), "-".into()),
                };
                println!(
                    "{}\t{}\t{}\t{languages}\t{precisions}\t{}",
                    model.name,
                    model.kind.as_str(),
                    human_size(directory_bytes(&model.dir)),
                    model.dir.display()
                );
            }
        }
    }
    Ok(())
}

/// ("99 languages" or "English only", "float16+int8") of a Whisper model directory.
fn whisper_details(dir: &Path) -> (String, String) {
    let precisions: Vec<&str> = Precision::installed(dir)
        .into_iter()
        .map(Precision::as_str)
        .collect();
    let languages = match ModelFiles::open(dir, Precision::Float32) {
        Ok(files) if files.config.languages.is_empty() => "English only".to_string(),
        Ok(files) => format!("{} languages", files.config.languages.len()),
        Err(e) => format!("unreadable: {e}"),
    };
    (languages, precisions.join("+"))
}

fn directory_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => directory_bytes(&entry.path()),
            _ => entry.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

fn human_size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / 1e9),
        b => format!("{:.0} MB", b as f64 / 1e6),
    }
}
