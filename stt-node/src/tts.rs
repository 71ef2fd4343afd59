//! Speech synthesis: an installed Piper voice (the core's `PiperVoice`), run on a libuv worker
//! thread; the speech comes back encoded, as a `Buffer`.

use std::path::PathBuf;
use std::sync::Arc;

use napi::Env;
use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi_derive::napi;
use stt_core::audio::{AudioFormat, Encoder};
use stt_core::tts::{PiperVoice, SpeechOptions, Voice};
use stt_core::{CancelToken, LoadOptions};

use crate::{Call, Cancellation, EngineWork, js_error};

/// A loaded voice; calls run one sentence at a time.
#[napi(js_name = "Voice")]
pub struct SharedVoice {
    voice: Arc<PiperVoice>,
}

pub struct LoadVoice {
    name: Option<String>,
    options: LoadOptions,
}

impl EngineWork for LoadVoice {
    type Output = SharedVoice;

    fn run(&mut self) -> stt_core::Result<SharedVoice> {
        let voice = PiperVoice::load(self.name.as_deref(), None, &self.options)?;
        Ok(SharedVoice {
            voice: Arc::new(voice),
        })
    }
}

pub struct Speak {
    voice: Arc<PiperVoice>,
    text: String,
    options: SpeechOptions,
    format: AudioFormat,
    cancel: CancelToken,
}

impl EngineWork for Speak {
    type Output = Buffer;

    fn run(&mut self) -> stt_core::Result<Buffer> {
        let mut samples = Vec::new();
        self.voice
            .speak(&self.text, &self.options, &self.cancel, &mut |piece| {
                samples.extend_from_slice(piece);
                Ok(())
            })?;
        let rate = self.voice.sample_rate();
        let mut encoder = Encoder::new(self.format, rate, rate, Some(samples.len()))?;
        let mut bytes = encoder.push(&samples)?;
        bytes.extend(encoder.finish()?);
        Ok(bytes.into())
    }
}

pub struct Phonemes {
    voice: Arc<PiperVoice>,
    text: String,
}

impl EngineWork for Phonemes {
    type Output = Vec<String>;

    fn run(&mut self) -> stt_core::Result<Vec<String>> {
        self.voice.phonemes(&self.text)
    }
}

#[napi]
impl SharedVoice {
    /// Loads the installed voice `name` (null: the default voice); voices run on the CPU with
    /// `threads` per operator (0: ONNX Runtime decides).
    #[napi(ts_return_type = "Promise<Voice>")]
    pub fn load(
        name: Option<String>,
        threads: u32,
        ort_library: Option<String>,
    ) -> AsyncTask<Call<LoadVoice>> {
        let options = LoadOptions {
            ort_library: ort_library.map(PathBuf::from),
            intra_threads: (threads > 0).then_some(threads as usize),
            ..LoadOptions::default()
        };
        AsyncTask::new(Call(LoadVoice { name, options }))
    }

    #[napi(getter)]
    pub fn name(&self) -> String {
        self.voice.name().to_string()
    }

    /// The rate of the speech (22050 Hz for the medium voices).
    #[napi(getter)]
    pub fn sample_rate(&self) -> u32 {
        self.voice.sample_rate()
    }

    /// `text` spoken in `format` (`wav`, `mp3`, `pcm` or `opus`; null: `wav`) at `speed` (0.25 to 4;
    /// null: the engine's default), mono at the voice's rate.
    #[napi(
        ts_args_type = "text: string, speed: number | undefined | null, format: string | undefined | null, cancel: CancelToken",
        ts_return_type = "Promise<Buffer>"
    )]
    pub fn speak(
        &self,
        env: Env,
        text: String,
        speed: Option<f64>,
        format: Option<String>,
        cancel: &Cancellation,
    ) -> napi::Result<AsyncTask<Call<Speak>>> {
        let format = AudioFormat::parse(format.as_deref().unwrap_or("wav"))
            .map_err(|e| js_error(&env, &e))?;
        let defaults = SpeechOptions::default();
        let options = SpeechOptions {
            speed: speed.map_or(defaults.speed, |speed| speed as f32),
            ..defaults
        };
        options.validate().map_err(|e| js_error(&env, &e))?;
        Ok(AsyncTask::new(Call(Speak {
            voice: Arc::clone(&self.voice),
            text,
            options,
            format,
            cancel: cancel.token.clone(),
        })))
    }

    /// The phonemes the voice reads for `text`, one string per sentence.
    #[napi(ts_return_type = "Promise<Array<string>>")]
    pub fn phonemes(&self, text: String) -> AsyncTask<Call<Phonemes>> {
        AsyncTask::new(Call(Phonemes {
            voice: Arc::clone(&self.voice),
            text,
        }))
    }
}
