//! Audio input: decode a file (or bytes), mix down to mono and resample to 16 kHz.
//!
//! The built-in decoders (symphonia, plus libopus for Opus) read WAV, AIFF, FLAC, MP3, Ogg
//! (Vorbis, Opus), MP4/M4A/MOV (AAC), MKV/WebM and raw ADTS AAC, including the audio track of a
//! video file. Anything else is handed to the `ffmpeg` command-line tool when it is on `PATH`.
//!
//! Damage that still leaves audio to work with (a broken packet, a truncated file) is not an
//! error: what can be decoded is returned and the problem is described in [`Audio::warnings`].
//!
//! Decoding streams: packets are mixed down, resampled and written to a spool as they come, so
//! [`spool_file`] holds hours of audio on disk, not in memory, for the engine to read a window
//! at a time; [`load_file`] and [`load_bytes`] give the samples in memory.

mod decode;
mod encode;
mod ffmpeg;
mod ogg_opus;
mod resample;
mod sink;
mod sniff;
mod source;
mod spool;

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, Cursor, Read, Seek};
use std::path::Path;
use std::sync::Arc;

pub(crate) use encode::wav_header;
pub use encode::{AudioFormat, Encoder, mp3_available};
pub use resample::{resample, resample_to_16k};
pub use sink::SPEECH_SAMPLE_RATES;
pub use source::SampleSource;
pub use spool::Samples;
pub(crate) use spool::{MEMORY_SAMPLES, SpoolWriter};

use crate::{Error, Result};
use decode::{Decoded, Failure};
use ffmpeg::FfmpegError;

/// Sample rate of [`Audio::samples`], the rate Whisper expects.
pub const SAMPLE_RATE: u32 = 16_000;

/// Decoded audio, ready for feature extraction.
#[derive(Clone, PartialEq)]
pub struct Audio {
    /// Mono samples at [`SAMPLE_RATE`] (16 kHz; or [`DecodeOptions::sample_rate`]), in
    /// `[-1, 1]`. The channels of the source are averaged.
    pub samples: Vec<f32>,
    /// Sample rate of the source audio track, in Hz (0 if unknown: only when ffmpeg decoded the
    /// file and `ffprobe` was not available to tell).
    pub source_sample_rate: u32,
    /// Number of channels of the source audio track (0 if unknown, as above).
    pub source_channels: usize,
    /// Problems that did not prevent decoding, e.g. skipped damaged packets or a truncated file.
    pub warnings: Vec<String>,
    /// Each channel of a multi-channel source at 16 kHz, when decoding was asked to keep them
    /// ([`load_file_with_channels`]), for labelling speakers by channel. Empty otherwise.
    pub channels: Vec<Vec<f32>>,
}

/// How to decode: what to keep, what to refuse, where the samples go.
#[derive(Debug, Clone)]
pub struct DecodeOptions {
    /// Keep each channel of a multi-channel source apart too (for labelling speakers by
    /// channel; it costs one more copy of the audio per channel).
    pub keep_channels: bool,
    /// Refuse audio longer than this many seconds ([`Error::TooLong`]): before decoding when
    /// the container announces its length, else where decoding reaches it.
    pub max_seconds: Option<f64>,
    /// Samples kept in memory before the rest is spooled to a temporary file.
    pub memory_samples: usize,
    /// The fallback decoder's program, looked up on `PATH`.
    pub ffmpeg: &'static str,
    /// The rate of the decoded samples: [`SAMPLE_RATE`], what every model of transcription
    /// takes, unless a tool needs another (noise removal runs at 48 kHz). Durations of
    /// [`AudioInput`] assume [`SAMPLE_RATE`].
    pub sample_rate: u32,
}

impl Default for DecodeOptions {
    /// Everything in memory, no limit but the sample rates of speech.
    fn default() -> Self {
        Self {
            keep_channels: false,
            max_seconds: None,
            memory_samples: usize::MAX,
            ffmpeg: ffmpeg::FFMPEG,
            sample_rate: SAMPLE_RATE,
        }
    }
}

impl DecodeOptions {
    /// Long audio spooled to disk past [`spool::MEMORY_SAMPLES`] (10 minutes).
    pub fn spooled() -> Self {
        Self {
            memory_samples: spool::MEMORY_SAMPLES,
            ..Self::default()
        }
    }
}

/// Decoded audio that may be spooled to disk: what the engine reads a window at a time.
#[derive(Debug)]
pub struct SpooledAudio {
    /// Mono samples at [`SAMPLE_RATE`] (or [`DecodeOptions::sample_rate`]), the channels
    /// averaged.
    pub samples: Samples,
    /// As [`Audio::source_sample_rate`].
    pub source_sample_rate: u32,
    /// As [`Audio::source_channels`].
    pub source_channels: usize,
    /// As [`Audio::warnings`].
    pub warnings: Vec<String>,
    /// As [`Audio::channels`].
    pub channels: Vec<Samples>,
}

impl SpooledAudio {
    /// All of it in memory.
    pub fn into_audio(self) -> Result<Audio> {
        Ok(Audio {
            samples: self.samples.into_vec()?,
            source_sample_rate: self.source_sample_rate,
            source_channels: self.source_channels,
            warnings: self.warnings,
            channels: self
                .channels
                .into_iter()
                .map(Samples::into_vec)
                .collect::<Result<_>>()?,
        })
    }
}

/// What the engine transcribes: [`Audio`] in memory or [`SpooledAudio`].
pub trait AudioInput {
    /// The mono samples.
    fn samples(&self) -> &dyn SampleSource;
    /// Each channel apart, when decoding kept them.
    fn channels(&self) -> Vec<&dyn SampleSource>;
    fn warnings(&self) -> &[String];

    /// Length in seconds.
    fn duration(&self) -> f64 {
        self.samples().len() as f64 / f64::from(SAMPLE_RATE)
    }
}

impl AudioInput for Audio {
    fn samples(&self) -> &dyn SampleSource {
        &self.samples
    }

    fn channels(&self) -> Vec<&dyn SampleSource> {
        self.channels
            .iter()
            .map(|c| c as &dyn SampleSource)
            .collect()
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl AudioInput for SpooledAudio {
    fn samples(&self) -> &dyn SampleSource {
        &self.samples
    }

    fn channels(&self) -> Vec<&dyn SampleSource> {
        self.channels
            .iter()
            .map(|c| c as &dyn SampleSource)
            .collect()
    }

    fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl Audio {
    /// Samples that are already 16 kHz mono, taken as they are.
    pub fn from_samples(samples: Vec<f32>) -> Self {
        Self {
            samples,
            source_sample_rate: SAMPLE_RATE,
            source_channels: 1,
            warnings: Vec::new(),
            channels: Vec::new(),
        }
    }

    /// Length in seconds.
    pub fn duration(&self) -> f64 {
        self.samples.len() as f64 / f64::from(SAMPLE_RATE)
    }
}

impl fmt::Debug for Audio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Audio")
            .field("samples", &format_args!("[{} samples]", self.samples.len()))
            .field("duration", &self.duration())
            .field("source_sample_rate", &self.source_sample_rate)
            .field("source_channels", &self.source_channels)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Decodes an audio (or video) file to 16 kHz mono.
///
/// The file extension is used as a hint only; the content decides the format.
///
/// # Errors
/// - [`Error::Io`] if the file cannot be opened or read;
/// - [`Error::EmptyAudio`] if it is empty, has no audio track, or decodes to no samples;
/// - [`Error::UnsupportedFormat`] if neither the built-in decoders nor ffmpeg can read it (or it
///   would need ffmpeg and ffmpeg is not installed);
/// - [`Error::CorruptAudio`] if the format is recognised but nothing in it can be decoded.
pub fn load_file(path: &Path) -> Result<Audio> {
    load_file_with_channels(path, false)
}

/// [`load_file`], also keeping each channel of a multi-channel source in [`Audio::channels`]
/// when `keep_channels` is set (for labelling speakers by channel; it costs one more copy of
/// the audio per channel).
pub fn load_file_with_channels(path: &Path, keep_channels: bool) -> Result<Audio> {
    let options = DecodeOptions {
        keep_channels,
        ..DecodeOptions::default()
    };
    spool_file(path, &options)?.into_audio()
}

/// Decodes an audio (or video) file as [`load_file`] does, under `options`' limits, spooling
/// the samples to disk past `options.memory_samples` ([`DecodeOptions::spooled`]): memory
/// stays small whatever the length.
///
/// # Errors
/// As [`load_file`], and [`Error::TooLong`] past `options.max_seconds`.
pub fn spool_file(path: &Path, options: &DecodeOptions) -> Result<SpooledAudio> {
    let mut file = File::open(path).map_err(|err| Error::io(path, err))?;
    let meta = file.metadata().map_err(|err| Error::io(path, err))?;
    if meta.is_dir() {
        return Err(Error::io(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "is a directory, not a file"),
        ));
    }
    let name = path.display().to_string();
    if meta.len() == 0 {
        return Err(Error::EmptyAudio(format!(
            "{name}: the file is empty (0 bytes)"
        )));
    }
    let mut head = Vec::with_capacity(64);
    (&mut file)
        .take(64)
        .read_to_end(&mut head)
        .and_then(|_| file.rewind())
        .map_err(|err| Error::io(path, err))?;
    let extension = path
        .extension()
        .and_then(OsStr::to_str)
        .map(str::to_ascii_lowercase);
    load(
        Box::new(file),
        Input::File(path),
        &head,
        &name,
        extension.as_deref(),
        options,
    )
}

/// The length a file's container announces, in seconds, read from its header without
/// decoding (`None` when it announces none: raw streams, some MP3s, formats only ffmpeg reads).
pub fn declared_duration(path: &Path) -> Option<f64> {
    let file = File::open(path).ok()?;
    let extension = path
        .extension()
        .and_then(OsStr::to_str)
        .map(str::to_ascii_lowercase);
    decode::declared_seconds(Box::new(file), extension.as_deref())
}

/// Decodes audio (or video) held in memory, e.g. an upload, to 16 kHz mono.
///
/// `extension_hint` is the file extension the data came with (`"mp3"`, `".wav"`, ...), if any;
/// it only speeds up format detection. Errors are as for [`load_file`].
pub fn load_bytes(bytes: Vec<u8>, extension_hint: Option<&str>) -> Result<Audio> {
    load_bytes_with_channels(bytes, extension_hint, false)
}

/// [`load_bytes`], keeping the channels apart as [`load_file_with_channels`] does.
pub fn load_bytes_with_channels(
    bytes: Vec<u8>,
    extension_hint: Option<&str>,
    keep_channels: bool,
) -> Result<Audio> {
    let options = DecodeOptions {
        keep_channels,
        ..DecodeOptions::default()
    };
    spool_bytes(bytes, extension_hint, &options)?.into_audio()
}

/// [`load_bytes`] under `options`, as [`spool_file`].
pub fn spool_bytes(
    bytes: Vec<u8>,
    extension_hint: Option<&str>,
    options: &DecodeOptions,
) -> Result<SpooledAudio> {
    let extension = extension_hint
        .map(|ext| ext.trim_start_matches('.').to_ascii_lowercase())
        .filter(|ext| !ext.is_empty());
    let name = match &extension {
        Some(ext) => format!("audio data ({} bytes, .{ext})", bytes.len()),
        None => format!("audio data ({} bytes)", bytes.len()),
    };
    if bytes.is_empty() {
        return Err(Error::EmptyAudio(format!("{name}: no data")));
    }
    let bytes = Arc::new(bytes);
    let head = bytes[..bytes.len().min(64)].to_vec();
    let source = Box::new(Cursor::new(SharedBytes(Arc::clone(&bytes))));
    load(
        source,
        Input::Bytes(bytes),
        &head,
        &name,
        extension.as_deref(),
        options,
    )
}

/// Converts raw 16-bit little-endian PCM to samples in `[-1, 1)`. No resampling or mixing is
/// done: the input must already be 16 kHz mono. A trailing odd byte is ignored.
pub fn from_pcm_s16le(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
        .collect()
}

/// Where the input is: symphonia reads it first, ffmpeg again from the start if needed.
enum Input<'a> {
    File(&'a Path),
    Bytes(Arc<Vec<u8>>),
}

impl Input<'_> {
    /// The input from its start, for the ffmpeg fallback.
    fn reopen(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Input::File(path) => Box::new(File::open(path)?),
            Input::Bytes(bytes) => Box::new(Cursor::new(SharedBytes(Arc::clone(bytes)))),
        })
    }
}

/// Shares the bytes between the symphonia reader and a possible ffmpeg fallback.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// Decodes with symphonia, falling back to ffmpeg.
fn load(
    source: Box<dyn symphonia::core::io::MediaSource>,
    input: Input<'_>,
    head: &[u8],
    name: &str,
    extension: Option<&str>,
    options: &DecodeOptions,
) -> Result<SpooledAudio> {
    let named = |error: Error| prefix_name(error, name);
    let decoded = match decode::decode(source, extension, options) {
        Ok(decoded) => decoded,
        Err(Failure::Refused(error)) => return Err(named(error)),
        Err(failure) => match ffmpeg::decode(OsStr::new(options.ffmpeg), &input, options) {
            Ok(mut decoded) => {
                decoded.warnings.insert(
                    0,
                    format!("decoded with ffmpeg ({})", failure_summary(&failure)),
                );
                decoded
            }
            Err(FfmpegError::Refused(error)) => return Err(named(error)),
            Err(err) => return Err(explain(failure, err, name, head, extension)),
        },
    };
    finish(decoded, name)
}

/// `name: ` before the message of an audio error.
fn prefix_name(error: Error, name: &str) -> Error {
    match error {
        Error::UnsupportedFormat(msg) => Error::UnsupportedFormat(format!("{name}: {msg}")),
        Error::TooLong(msg) => Error::TooLong(format!("{name} {msg}")),
        other => other,
    }
}

fn finish(decoded: Decoded, name: &str) -> Result<SpooledAudio> {
    let Decoded {
        sink,
        source_sample_rate,
        source_channels,
        warnings,
    } = decoded;
    let Some(sink) = sink else {
        return Err(Error::EmptyAudio(format!(
            "{name}: the audio track contains no samples"
        )));
    };
    let (samples, channels) = sink.finish()?;
    if samples.is_empty() {
        return Err(Error::EmptyAudio(format!(
            "{name}: the audio track contains no samples"
        )));
    }
    Ok(SpooledAudio {
        samples,
        source_sample_rate,
        source_channels,
        warnings,
        channels,
    })
}

fn failure_summary(failure: &Failure) -> &str {
    match failure {
        Failure::Unrecognised => "format not supported by the built-in decoders",
        Failure::NoAudioTrack(_) => "the built-in decoders found no audio track",
        Failure::UnsupportedCodec(msg) | Failure::Corrupt(msg) => msg,
        Failure::Refused(_) => "refused",
    }
}

/// Builds the error for input that neither symphonia nor ffmpeg could decode.
fn explain(
    failure: Failure,
    ffmpeg: FfmpegError,
    name: &str,
    head: &[u8],
    extension: Option<&str>,
) -> Error {
    let looks_like = match (sniff::describe(head), extension) {
        (Some(what), _) => format!(" (it looks like {what})"),
        (None, Some(ext)) => format!(" (.{ext})"),
        (None, None) => String::new(),
    };
    let ffmpeg_note = match &ffmpeg {
        FfmpegError::NotInstalled => {
            "; decoding it needs ffmpeg, which was not found on PATH".to_string()
        }
        FfmpegError::NoAudioStream => "; ffmpeg finds no audio stream in it either".to_string(),
        FfmpegError::Failed(msg) => format!("; ffmpeg cannot decode it either: {msg}"),
        FfmpegError::Io(err) => format!("; running ffmpeg failed: {err}"),
        FfmpegError::Refused(error) => format!("; {error}"),
    };
    match failure {
        Failure::Unrecognised if matches!(ffmpeg, FfmpegError::NoAudioStream) => {
            Error::EmptyAudio(format!("{name}: no audio track{looks_like}"))
        }
        Failure::Unrecognised => Error::UnsupportedFormat(format!(
            "{name}: not a format the built-in decoders read (WAV, AIFF, FLAC, MP3, Ogg \
             Vorbis/Opus, MP4/M4A AAC, MKV/WebM, ADTS AAC){looks_like}{ffmpeg_note}"
        )),
        Failure::NoAudioTrack(msg) => Error::EmptyAudio(format!("{name}: {msg}")),
        Failure::UnsupportedCodec(msg) => {
            Error::UnsupportedFormat(format!("{name}: {msg}{ffmpeg_note}"))
        }
        Failure::Corrupt(msg) => Error::CorruptAudio(format!("{name}: {msg}{ffmpeg_note}")),
        Failure::Refused(error) => prefix_name(error, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn without_ffmpeg() -> DecodeOptions {
        DecodeOptions {
            ffmpeg: "stt-test-no-such-ffmpeg",
            ..DecodeOptions::default()
        }
    }

    /// A minimal AVI header: symphonia does not read AVI.
    fn avi_bytes() -> Vec<u8> {
        let mut bytes = b"RIFF\x24\0\0\0AVI LIST\x18\0\0\0hdrl".to_vec();
        bytes.resize(64, 0);
        bytes
    }

    #[test]
    fn unsupported_without_ffmpeg_names_format_and_ffmpeg() {
        let err = spool_bytes(avi_bytes(), Some("avi"), &without_ffmpeg()).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::UnsupportedFormat, "{err}");
        let msg = err.to_string();
        assert!(msg.contains("AVI"), "{msg}");
        assert!(msg.contains("ffmpeg"), "{msg}");
        assert!(msg.contains("not found"), "{msg}");
    }

    #[test]
    fn text_without_ffmpeg_says_text() {
        let err = spool_bytes(
            b"this is not audio at all\n".repeat(20),
            Some("mp3"),
            &without_ffmpeg(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::UnsupportedFormat, "{err}");
        assert!(err.to_string().contains("text"), "{err}");
    }

    #[test]
    fn pcm_s16le() {
        let bytes = [0x00, 0x80, 0x00, 0x00, 0xff, 0x7f, 0x01];
        assert_eq!(from_pcm_s16le(&bytes), vec![-1.0, 0.0, 32767.0 / 32768.0]);
    }
}
