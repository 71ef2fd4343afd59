//! Speech synthesis, `stt._native.Voice`: an installed Piper voice (the core's `PiperVoice`).
//! A call releases the GIL, stops on Ctrl-C between sentences, and hands the encoded audio
//! back as bytes or writes it into a file.

use std::path::PathBuf;
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use stt_core::audio::{AudioFormat, Encoder};
use stt_core::tts::{PiperVoice, SpeechOptions, Voice};
use stt_core::{CancelToken, LoadOptions};

use crate::output::{Output, returned};
use crate::{run_interruptibly, to_py_err};

/// A loaded voice. Calls may come from several threads; they run one sentence at a time.
#[pyclass(frozen, name = "Voice", module = "stt._native")]
pub(crate) struct SharedVoice {
    voice: Arc<PiperVoice>,
}

#[pymethods]
impl SharedVoice {
    /// The installed voice `name` (`None`: the default voice). Voices run on the CPU.
    #[new]
    #[pyo3(signature = (name=None, threads=None, ort_library=None))]
    fn new(
        py: Python<'_>,
        name: Option<String>,
        threads: Option<usize>,
        ort_library: Option<PathBuf>,
    ) -> PyResult<Self> {
        let options = LoadOptions {
            ort_library,
            intra_threads: threads.filter(|&n| n > 0),
            ..LoadOptions::default()
        };
        let voice = py
            .detach(|| PiperVoice::load(name.as_deref(), None, &options))
            .map_err(|e| to_py_err(py, &e))?;
        Ok(Self {
            voice: Arc::new(voice),
        })
    }

    #[getter]
    fn name(&self) -> &str {
        self.voice.name()
    }

    /// The rate of the speech (22050 Hz for the medium voices).
    #[getter]
    fn sample_rate(&self) -> u32 {
        self.voice.sample_rate()
    }

    /// The phonemes the voice reads for `text`, one string per sentence.
    fn phonemes(&self, py: Python<'_>, text: String) -> PyResult<Vec<String>> {
        py.detach(|| self.voice.phonemes(&text))
            .map_err(|e| to_py_err(py, &e))
    }

    /// `text` spoken in `format` (`wav`, `mp3`, `pcm` or `opus`; by default `output`'s extension, else
    /// `wav`), at the voice's rate: its bytes, or `None` once written to `output`.
    #[pyo3(signature = (text, speed=None, format=None, output=None))]
    fn speak(
        &self,
        py: Python<'_>,
        text: String,
        speed: Option<f32>,
        format: Option<String>,
        output: Option<PathBuf>,
    ) -> PyResult<Option<Py<PyBytes>>> {
        let extension = output
            .as_ref()
            .and_then(|path| path.extension())
            .map(|extension| extension.to_string_lossy().to_ascii_lowercase());
        let format = format.or(extension);
        let format = AudioFormat::parse(format.as_deref().unwrap_or("wav"))
            .map_err(|e| to_py_err(py, &e))?;
        let defaults = SpeechOptions::default();
        let options = SpeechOptions {
            speed: speed.unwrap_or(defaults.speed),
            ..defaults
        };
        options.validate().map_err(|e| to_py_err(py, &e))?;
        let cancel = CancelToken::new();
        let written = run_interruptibly(py, &cancel, || {
            let mut samples = Vec::new();
            self.voice.speak(&text, &options, &cancel, &mut |piece| {
                samples.extend_from_slice(piece);
                Ok(())
            })?;
            let rate = self.voice.sample_rate();
            let mut encoder = Encoder::new(format, rate, rate, Some(samples.len()))?;
            let mut bytes = encoder.push(&samples)?;
            bytes.extend(encoder.finish()?);
            Output::new(output)?.write(|out| {
                out.write_all(&bytes)
                    .map_err(|e| stt_core::Error::io("the speech output", e))
            })
        })?;
        returned(py, written)
    }
}
