//! Noise removal: the core's DeepFilterNet3 `Enhancer`, then loudness normalisation. A call
//! decodes its input at the model's rate and enhances it on a libuv worker thread; the 16-bit
//! WAV comes back as a `Buffer`.

use std::path::PathBuf;
use std::sync::Arc;

use napi::Env;
use napi::bindgen_prelude::{AsyncTask, Buffer, Either, Uint8Array};
use napi_derive::napi;
use stt_core::audio::{self, DecodeOptions};
use stt_core::enhance::{EnhanceOptions, Enhancer};
use stt_core::{CancelToken, LoadOptions};

use crate::{Call, Cancellation, EngineWork, js_error};

/// A loaded noise remover; calls run one at a time.
#[napi(js_name = "Enhancer")]
pub struct SharedEnhancer {
    enhancer: Arc<Enhancer>,
}

pub struct LoadEnhancer {
    options: LoadOptions,
}

impl EngineWork for LoadEnhancer {
    type Output = SharedEnhancer;

    fn run(&mut self) -> stt_core::Result<SharedEnhancer> {
        Ok(SharedEnhancer {
            enhancer: Arc::new(Enhancer::load(None, &self.options)?),
        })
    }
}

/// What to enhance: a file, or an encoded file's bytes.
enum Input {
    File(PathBuf),
    Bytes(Vec<u8>),
}

pub struct Enhance {
    enhancer: Arc<Enhancer>,
    input: Input,
    options: EnhanceOptions,
    cancel: CancelToken,
}

impl EngineWork for Enhance {
    type Output = Buffer;

    fn run(&mut self) -> stt_core::Result<Buffer> {
        let decode = DecodeOptions {
            sample_rate: self.enhancer.sample_rate(),
            ..DecodeOptions::spooled()
        };
        let input = match &mut self.input {
            Input::File(path) => audio::spool_file(path, &decode)?,
            Input::Bytes(data) => audio::spool_bytes(std::mem::take(data), None, &decode)?,
        };
        let enhanced = self
            .enhancer
            .enhance(&input.samples, &self.options, &self.cancel)?;
        let mut wav = Vec::new();
        enhanced.write_wav(&mut wav)?;
        Ok(wav.into())
    }
}

#[napi]
impl SharedEnhancer {
    /// Loads the installed DeepFilterNet3 (`stt models pull deepfilternet3`). `device`: `auto`,
    /// `cpu`, `cuda` or `cuda:N`; `threads` 0 lets ONNX Runtime decide.
    #[napi(ts_return_type = "Promise<Enhancer>")]
    pub fn load(
        env: Env,
        device: String,
        threads: u32,
        ort_library: Option<String>,
    ) -> napi::Result<AsyncTask<Call<LoadEnhancer>>> {
        let options = LoadOptions {
            device: device.parse().map_err(|e| js_error(&env, &e))?,
            ort_library: ort_library.map(PathBuf::from),
            intra_threads: (threads > 0).then_some(threads as usize),
            ..LoadOptions::default()
        };
        Ok(AsyncTask::new(Call(LoadEnhancer { options })))
    }

    /// The rate of the output (48 kHz).
    #[napi(getter)]
    pub fn sample_rate(&self) -> u32 {
        self.enhancer.sample_rate()
    }

    /// `input` (a path, or the bytes of an encoded file) with the noise removed: a mono 16-bit
    /// WAV file of the same length. `attenuationLimit` (0 to 100 dB) caps how much the noise
    /// is lowered; `loudness` (-70 to 0 LUFS) is the output's, by default the engine's, unless
    /// `normalize` is false.
    #[napi(
        ts_args_type = "input: string | Uint8Array, attenuationLimit: number | undefined | null, loudness: number | undefined | null, normalize: boolean, cancel: CancelToken",
        ts_return_type = "Promise<Buffer>"
    )]
    pub fn enhance(
        &self,
        env: Env,
        input: Either<String, Uint8Array>,
        attenuation_limit: Option<f64>,
        loudness: Option<f64>,
        normalize: bool,
        cancel: &Cancellation,
    ) -> napi::Result<AsyncTask<Call<Enhance>>> {
        let options = EnhanceOptions::new(
            attenuation_limit.map(|db| db as f32),
            loudness.map(|lufs| lufs as f32),
            normalize,
        )
        .map_err(|e| js_error(&env, &e))?;
        let input = match input {
            Either::A(path) => Input::File(path.into()),
            Either::B(data) => Input::Bytes(data.to_vec()),
        };
        Ok(AsyncTask::new(Call(Enhance {
            enhancer: Arc::clone(&self.enhancer),
            input,
            options,
            cancel: cancel.token.clone(),
        })))
    }
}
