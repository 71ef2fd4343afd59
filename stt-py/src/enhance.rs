//! Noise removal, `stt._native.Enhancer`: the core's DeepFilterNet3 `Enhancer`, then loudness
//! normalisation. A call decodes its input at the model's rate, releases the GIL, stops on
//! Ctrl-C, and hands the 16-bit WAV back as bytes or writes it straight into a file (so a long
//! recording is never held in memory twice).

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use stt_core::audio::{self, DecodeOptions};
use stt_core::enhance::{EnhanceOptions, Enhancer};
use stt_core::{CancelToken, LoadOptions};

use crate::output::{Output, returned};
use crate::{run_interruptibly, to_py_err};

/// What to enhance: a file, or an encoded file's bytes (with its extension as a hint).
#[derive(FromPyObject)]
enum Input {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// A loaded noise remover. Calls may come from several threads; they run one at a time.
#[pyclass(frozen, name = "Enhancer", module = "stt._native")]
pub(crate) struct SharedEnhancer {
    enhancer: Arc<Enhancer>,
}

#[pymethods]
impl SharedEnhancer {
    /// The installed DeepFilterNet3 (`stt models pull deepfilternet3`).
    #[new]
    #[pyo3(signature = (device="auto", threads=None, ort_library=None))]
    fn new(
        py: Python<'_>,
        device: &str,
        threads: Option<usize>,
        ort_library: Option<PathBuf>,
    ) -> PyResult<Self> {
        let options = LoadOptions {
            device: device.parse().map_err(|e| to_py_err(py, &e))?,
            ort_library,
            intra_threads: threads.filter(|&n| n > 0),
            ..LoadOptions::default()
        };
        let enhancer = py
            .detach(|| Enhancer::load(None, &options))
            .map_err(|e| to_py_err(py, &e))?;
        Ok(Self {
            enhancer: Arc::new(enhancer),
        })
    }

    /// The rate of the output (48 kHz).
    #[getter]
    fn sample_rate(&self) -> u32 {
        self.enhancer.sample_rate()
    }

    /// `source` (a path, or the bytes of an encoded file) with the noise removed, as a mono
    /// 16-bit WAV file: its bytes, or `None` once written to `output`.
    #[pyo3(signature = (source, extension=None, attenuation_limit=None, loudness=None, normalize=true, output=None))]
    #[allow(clippy::too_many_arguments)]
    fn enhance(
        &self,
        py: Python<'_>,
        source: Input,
        extension: Option<String>,
        attenuation_limit: Option<f32>,
        loudness: Option<f32>,
        normalize: bool,
        output: Option<PathBuf>,
    ) -> PyResult<Option<Py<PyBytes>>> {
        let options = EnhanceOptions::new(attenuation_limit, loudness, normalize)
            .map_err(|e| to_py_err(py, &e))?;
        let cancel = CancelToken::new();
        let written = run_interruptibly(py, &cancel, || {
            let decode = DecodeOptions {
                sample_rate: self.enhancer.sample_rate(),
                ..DecodeOptions::spooled()
            };
            let input = match source {
                Input::File(path) => audio::spool_file(&path, &decode),
                Input::Bytes(data) => audio::spool_bytes(data, extension.as_deref(), &decode),
            }?;
            let enhanced = self.enhancer.enhance(&input.samples, &options, &cancel)?;
            Output::new(output)?.write(|out| enhanced.write_wav(out))
        })?;
        returned(py, written)
    }
}
