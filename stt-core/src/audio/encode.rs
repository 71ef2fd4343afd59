//! Audio output, encoded as it is made: 16-bit WAV, raw 16-bit PCM, Ogg Opus (`ogg_opus.rs`),
//! and MP3 through the system's LAME library (`libmp3lame.so.0`, loaded at run time; Debian's
//! `libmp3lame0`, which ffmpeg brings), so the engine builds without it.

use std::ffi::{c_int, c_short, c_uchar, c_void};
use std::sync::OnceLock;

use super::ogg_opus::{OPUS_RATE, OpusWriter};
use super::resample::StreamResampler;
use crate::{Error, Result};

/// The formats audio can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    /// 16-bit mono PCM in a WAV file.
    Wav,
    /// 16-bit little-endian mono samples, no header.
    Pcm,
    /// MPEG-1/2 layer III, mono.
    Mp3,
    /// Opus in Ogg, mono at 48 kHz.
    Opus,
}

impl AudioFormat {
    pub const NAMES: [&str; 4] = ["wav", "pcm", "mp3", "opus"];

    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "wav" => Ok(Self::Wav),
            "pcm" => Ok(Self::Pcm),
            "mp3" => Ok(Self::Mp3),
            "opus" => Ok(Self::Opus),
            other => Err(Error::InvalidOption(format!(
                "unsupported audio format {other:?}; expected {}",
                Self::NAMES.join(", ")
            ))),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Wav => "audio/wav",
            Self::Pcm => "audio/pcm",
            Self::Mp3 => "audio/mpeg",
            Self::Opus => "audio/ogg",
        }
    }
}

/// Turns samples into the bytes of a format, a piece at a time.
pub struct Encoder {
    resampler: Option<StreamResampler>,
    kind: Kind,
}

enum Kind {
    /// A WAV header is written before the first samples.
    Wav {
        header: Option<Vec<u8>>,
    },
    Pcm,
    Mp3(Lame),
    Opus(OpusWriter),
}

impl Encoder {
    /// An encoder of mono samples at `rate` into `format` at `output_rate` (Opus: always
    /// 48 kHz, the rate it codes at). A WAV header
    /// gives `samples` (at `output_rate`) as the length when it is known, else the largest
    /// size, which players read as "to the end of the stream".
    pub fn new(
        format: AudioFormat,
        rate: u32,
        output_rate: u32,
        samples: Option<usize>,
    ) -> Result<Self> {
        let output_rate = match format {
            AudioFormat::Opus => OPUS_RATE,
            _ => output_rate,
        };
        let resampler = match rate == output_rate {
            true => None,
            false => Some(StreamResampler::new(rate, output_rate).map_err(Error::InvalidOption)?),
        };
        let kind = match format {
            AudioFormat::Wav => {
                let bytes = samples.and_then(|n| u32::try_from(n * 2).ok());
                Kind::Wav {
                    header: Some(wav_header(output_rate, bytes.unwrap_or(u32::MAX - 36))),
                }
            }
            AudioFormat::Pcm => Kind::Pcm,
            AudioFormat::Mp3 => Kind::Mp3(Lame::new(output_rate)?),
            AudioFormat::Opus => Kind::Opus(OpusWriter::new(rate)?),
        };
        Ok(Self { resampler, kind })
    }

    /// The bytes that `samples` complete.
    pub fn push(&mut self, samples: &[f32]) -> Result<Vec<u8>> {
        match self.resampler.as_mut() {
            Some(resampler) => {
                let mut resampled = Vec::new();
                resampler
                    .push(&super::resample::clean(samples), &mut |piece| {
                        resampled.extend_from_slice(piece)
                    })
                    .map_err(Error::Inference)?;
                self.encode(&resampled)
            }
            None => self.encode(samples),
        }
    }

    /// The last bytes.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        let mut tail = Vec::new();
        if let Some(resampler) = self.resampler.take() {
            resampler
                .finish(&mut |piece| tail.extend_from_slice(piece))
                .map_err(Error::Inference)?;
        }
        let mut out = self.encode(&tail)?;
        match &mut self.kind {
            Kind::Mp3(lame) => out.extend(lame.flush()?),
            Kind::Opus(opus) => out.extend(opus.finish()?),
            Kind::Wav { header } => {
                if let Some(header) = header.take() {
                    out.splice(0..0, header);
                }
            }
            Kind::Pcm => {}
        }
        Ok(out)
    }

    fn encode(&mut self, samples: &[f32]) -> Result<Vec<u8>> {
        let pcm = || samples.iter().map(|&x| to_i16(x));
        match &mut self.kind {
            Kind::Wav { header } => {
                let mut out = header.take().unwrap_or_default();
                out.extend(pcm().flat_map(i16::to_le_bytes));
                Ok(out)
            }
            Kind::Pcm => Ok(pcm().flat_map(i16::to_le_bytes).collect()),
            Kind::Mp3(lame) => lame.encode(&pcm().collect::<Vec<_>>()),
            Kind::Opus(opus) => opus.encode(samples),
        }
    }
}

fn to_i16(x: f32) -> i16 {
    let x = if x.is_finite() {
        x.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    (x * 32767.0).round() as i16
}

/// The 44-byte header of a 16-bit mono PCM WAV file with `bytes` of data.
pub(crate) fn wav_header(rate: u32, bytes: u32) -> Vec<u8> {
    let mut header = Vec::with_capacity(44);
    header.extend_from_slice(b"RIFF");
    header.extend_from_slice(&bytes.saturating_add(36).to_le_bytes());
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes()); // PCM
    header.extend_from_slice(&1u16.to_le_bytes()); // mono
    header.extend_from_slice(&rate.to_le_bytes());
    header.extend_from_slice(&(rate * 2).to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&16u16.to_le_bytes());
    header.extend_from_slice(b"data");
    header.extend_from_slice(&bytes.to_le_bytes());
    header
}

type LameInit = unsafe extern "C" fn() -> *mut c_void;
type LameSet = unsafe extern "C" fn(*mut c_void, c_int) -> c_int;
type LameInitParams = unsafe extern "C" fn(*mut c_void) -> c_int;
type LameEncode = unsafe extern "C" fn(
    *mut c_void,
    *const c_short,
    *const c_short,
    c_int,
    *mut c_uchar,
    c_int,
) -> c_int;
type LameFlush = unsafe extern "C" fn(*mut c_void, *mut c_uchar, c_int) -> c_int;
type LameClose = unsafe extern "C" fn(*mut c_void) -> c_int;

struct LameLibrary {
    init: LameInit,
    set_in_samplerate: LameSet,
    set_num_channels: LameSet,
    set_mode: LameSet,
    set_brate: LameSet,
    set_quality: LameSet,
    init_params: LameInitParams,
    encode: LameEncode,
    flush: LameFlush,
    close: LameClose,
    _library: libloading::Library,
}

static LAME: OnceLock<std::result::Result<LameLibrary, String>> = OnceLock::new();

/// Whether MP3 can be written here (the LAME library is installed).
pub fn mp3_available() -> bool {
    lame().is_ok()
}

fn lame() -> Result<&'static LameLibrary> {
    LAME.get_or_init(load_lame)
        .as_ref()
        .map_err(|e| Error::UnsupportedFormat(e.clone()))
}

fn load_lame() -> std::result::Result<LameLibrary, String> {
    let missing = |e: libloading::Error| {
        format!("mp3 output needs the LAME library (Debian: apt install libmp3lame0): {e}")
    };
    // SAFETY: LAME runs no code on load; the symbols have the signatures of `lame.h` (3.100).
    unsafe {
        let library = libloading::Library::new("libmp3lame.so.0").map_err(missing)?;
        macro_rules! symbol {
            ($name:literal) => {
                *library
                    .get(concat!($name, "\0").as_bytes())
                    .map_err(missing)?
            };
        }
        Ok(LameLibrary {
            init: symbol!("lame_init"),
            set_in_samplerate: symbol!("lame_set_in_samplerate"),
            set_num_channels: symbol!("lame_set_num_channels"),
            set_mode: symbol!("lame_set_mode"),
            set_brate: symbol!("lame_set_brate"),
            set_quality: symbol!("lame_set_quality"),
            init_params: symbol!("lame_init_params"),
            encode: symbol!("lame_encode_buffer"),
            flush: symbol!("lame_encode_flush"),
            close: symbol!("lame_close"),
            _library: library,
        })
    }
}

/// One LAME encoder (mono, constant bit rate).
struct Lame {
    library: &'static LameLibrary,
    flags: *mut c_void,
}

// The encoder's state is used by one thread at a time (`&mut self`).
unsafe impl Send for Lame {}

/// Mono speech at 64 kbit/s, as speech services send it.
const MP3_KBPS: c_int = 64;
const MONO: c_int = 3;

impl Lame {
    fn new(rate: u32) -> Result<Self> {
        let library = lame()?;
        // SAFETY: the flags pointer comes from lame_init and is closed once, in Drop.
        unsafe {
            let flags = (library.init)();
            if flags.is_null() {
                return Err(Error::Inference("LAME could not start".into()));
            }
            let lame = Self { library, flags };
            (library.set_in_samplerate)(flags, rate as c_int);
            (library.set_num_channels)(flags, 1);
            (library.set_mode)(flags, MONO);
            (library.set_brate)(flags, MP3_KBPS);
            (library.set_quality)(flags, 5);
            if (library.init_params)(flags) < 0 {
                return Err(Error::InvalidOption(format!(
                    "LAME cannot encode mono audio at {rate} Hz"
                )));
            }
            Ok(lame)
        }
    }

    fn encode(&mut self, pcm: &[i16]) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        // LAME's bound for its output buffer: 1.25 × samples + 7200 bytes.
        for block in pcm.chunks(1 << 16) {
            let mut buffer = vec![0u8; block.len() * 5 / 4 + 7200];
            // SAFETY: `block` and `buffer` are valid for the lengths given; mono ignores
            // the right channel, which is given the same samples.
            let written = unsafe {
                (self.library.encode)(
                    self.flags,
                    block.as_ptr(),
                    block.as_ptr(),
                    block.len() as c_int,
                    buffer.as_mut_ptr(),
                    buffer.len() as c_int,
                )
            };
            out.extend_from_slice(&buffer[..self.written(written)?]);
        }
        Ok(out)
    }

    fn flush(&mut self) -> Result<Vec<u8>> {
        let mut buffer = vec![0u8; 7200];
        // SAFETY: as in `encode`.
        let written =
            unsafe { (self.library.flush)(self.flags, buffer.as_mut_ptr(), buffer.len() as c_int) };
        buffer.truncate(self.written(written)?);
        Ok(buffer)
    }

    fn written(&self, code: c_int) -> Result<usize> {
        usize::try_from(code)
            .map_err(|_| Error::Inference(format!("LAME failed to encode (code {code})")))
    }
}

impl Drop for Lame {
    fn drop(&mut self) {
        // SAFETY: the pointer came from lame_init and is not used after this.
        unsafe {
            (self.library.close)(self.flags);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, seconds: f32) -> Vec<f32> {
        (0..(rate as f32 * seconds) as usize)
            .map(|i| 0.5 * (i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin())
            .collect()
    }

    #[test]
    fn wav_in_pieces_equals_wav_at_once() {
        let samples = tone(22_050, 0.5);
        let mut whole =
            Encoder::new(AudioFormat::Wav, 22_050, 22_050, Some(samples.len())).unwrap();
        let mut bytes = whole.push(&samples).unwrap();
        bytes.extend(whole.finish().unwrap());
        assert_eq!(bytes.len(), 44 + samples.len() * 2);
        assert_eq!(&bytes[40..44], &(samples.len() as u32 * 2).to_le_bytes());
        let mut streamed = Encoder::new(AudioFormat::Wav, 22_050, 22_050, None).unwrap();
        let mut pieces = Vec::new();
        for piece in samples.chunks(1000) {
            pieces.extend(streamed.push(piece).unwrap());
        }
        pieces.extend(streamed.finish().unwrap());
        assert_eq!(pieces[44..], bytes[44..]);
        assert_eq!(&pieces[40..44], &(u32::MAX - 36).to_le_bytes());
    }

    #[test]
    fn pcm_is_resampled_to_the_output_rate() {
        let samples = tone(22_050, 1.0);
        let mut encoder = Encoder::new(AudioFormat::Pcm, 22_050, 24_000, None).unwrap();
        let mut bytes = Vec::new();
        for piece in samples.chunks(4096) {
            bytes.extend(encoder.push(piece).unwrap());
        }
        bytes.extend(encoder.finish().unwrap());
        assert_eq!(bytes.len(), 24_000 * 2);
    }

    #[test]
    fn mp3_decodes_back_to_the_tone() {
        let samples = tone(22_050, 1.0);
        let mut encoder = Encoder::new(AudioFormat::Mp3, 22_050, 22_050, None).unwrap();
        let mut bytes = encoder.push(&samples).unwrap();
        bytes.extend(encoder.finish().unwrap());
        assert!(bytes.len() < samples.len(), "{} bytes", bytes.len());
        let audio = crate::audio::load_bytes(bytes, Some("mp3")).unwrap();
        let seconds = audio.samples.len() as f32 / 16_000.0;
        assert!((seconds - 1.0).abs() < 0.1, "{seconds} s");
        let rms =
            (audio.samples.iter().map(|x| x * x).sum::<f32>() / audio.samples.len() as f32).sqrt();
        assert!((rms - 0.5 / 2f32.sqrt()).abs() < 0.05, "rms {rms}");
    }

    #[test]
    fn opus_decodes_back_to_the_tone_at_its_length() {
        for seconds in [1.0, 0.01, 2.345] {
            let samples = tone(22_050, seconds);
            let mut encoder = Encoder::new(AudioFormat::Opus, 22_050, 22_050, None).unwrap();
            let mut bytes = Vec::new();
            for piece in samples.chunks(5000) {
                bytes.extend(encoder.push(piece).unwrap());
            }
            bytes.extend(encoder.finish().unwrap());
            assert_eq!(&bytes[..4], b"OggS");
            let audio = crate::audio::load_bytes(bytes, Some("opus")).unwrap();
            let decoded = audio.samples.len() as f32 / 16_000.0;
            assert!(
                (decoded - seconds).abs() < 0.002,
                "{decoded} s for {seconds} s"
            );
            let rms = (audio.samples.iter().map(|x| x * x).sum::<f32>()
                / audio.samples.len() as f32)
                .sqrt();
            assert!(
                seconds < 0.1 || (rms - 0.5 / 2f32.sqrt()).abs() < 0.05,
                "rms {rms}"
            );
        }
    }

    #[test]
    fn formats_are_named() {
        assert_eq!(AudioFormat::parse("mp3").unwrap(), AudioFormat::Mp3);
        let error = AudioFormat::parse("aac").unwrap_err().to_string();
        assert!(
            error.contains("\"aac\"") && error.contains("wav, pcm, mp3, opus"),
            "{error}"
        );
    }
}
