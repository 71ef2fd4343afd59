//! Where the result of an audio tool goes: back to Python as `bytes`, or into a file created
//! once the result is made, with the file's errors raised as Python's own `OSError`s.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use pyo3::exceptions::PyOSError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::to_py_err;

/// Where an audio tool's result goes: back to Python as bytes, or into a file.
pub(crate) enum Output {
    Memory(Vec<u8>),
    File(PathBuf, BufWriter<File>),
}

/// Why an audio tool failed: the engine, or the file its result was going to.
pub(crate) enum ToolError {
    Engine(stt_core::Error),
    Output(PathBuf, std::io::Error),
}

impl From<stt_core::Error> for ToolError {
    fn from(error: stt_core::Error) -> Self {
        Self::Engine(error)
    }
}

impl Output {
    /// Memory, or the file `path`, created (or truncated) now.
    pub(crate) fn new(path: Option<PathBuf>) -> Result<Self, ToolError> {
        let Some(path) = path else {
            return Ok(Self::Memory(Vec::new()));
        };
        match File::create(&path) {
            Ok(file) => Ok(Self::File(path, BufWriter::new(file))),
            Err(error) => Err(ToolError::Output(path, error)),
        }
    }

    /// Writes the result with `write`; its bytes, or `None` once in the file.
    pub(crate) fn write(
        self,
        write: impl FnOnce(&mut dyn Write) -> stt_core::Result<()>,
    ) -> Result<Option<Vec<u8>>, ToolError> {
        match self {
            Self::Memory(mut bytes) => {
                write(&mut bytes)?;
                Ok(Some(bytes))
            }
            Self::File(path, mut file) => {
                write(&mut file)?;
                file.flush().map_err(|e| ToolError::Output(path, e))?;
                Ok(None)
            }
        }
    }
}

/// An audio tool's result for Python: `bytes`, `None` (written to a file), an `stt.errors`
/// class for the engine's errors, or the `OSError` subclass (`PermissionError`...) of the
/// output file's, naming it.
pub(crate) fn returned(
    py: Python<'_>,
    result: Result<Option<Vec<u8>>, ToolError>,
) -> PyResult<Option<Py<PyBytes>>> {
    match result {
        Ok(bytes) => Ok(bytes.map(|bytes| PyBytes::new(py, &bytes).unbind())),
        Err(ToolError::Engine(error)) => Err(to_py_err(py, &error)),
        Err(ToolError::Output(path, error)) => Err(match error.raw_os_error() {
            // OSError(errno, strerror, filename) is built as the subclass of its errno.
            Some(code) => {
                let message = error.to_string();
                let strerror = message.split(" (os error").next().unwrap_or_default();
                PyOSError::new_err((code, strerror.to_string(), path.into_os_string()))
            }
            None => error.into(),
        }),
    }
}
