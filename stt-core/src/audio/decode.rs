//! Demuxing and decoding with symphonia (plus libopus for Opus), mixing down to mono as we go.

use std::any::Any;
use std::io::ErrorKind as IoErrorKind;
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;

use symphonia::core::audio::GenericAudioBufferRef;
use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known as codec_ids;
use symphonia::core::codecs::audio::{AudioCodecId, AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymphoniaError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, Track};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;
use symphonia_adapter_libopus::OpusDecoder;

use super::DecodeOptions;
use super::sink::{Sink, check_declared};
use crate::Error;

/// What decoding produced: the sink holding the audio (none when the track was empty), and
/// what is known of the source.
pub(super) struct Decoded {
    pub sink: Option<Sink>,
    /// Sample rate of the audio track in the file (0 if unknown).
    pub source_sample_rate: u32,
    /// Channel count of the audio track in the file (0 if unknown).
    pub source_channels: usize,
    /// Problems that did not stop decoding.
    pub warnings: Vec<String>,
}

/// Why symphonia could not produce any audio. Each case may still be readable by ffmpeg.
#[derive(Debug)]
pub(super) enum Failure {
    /// No demuxer recognises the data.
    Unrecognised,
    /// The container was read but holds no audio track.
    NoAudioTrack(String),
    /// The audio track uses a codec without a built-in decoder.
    UnsupportedCodec(String),
    /// The data is recognised but damaged: nothing could be decoded.
    Corrupt(String),
    /// The audio is readable but refused (sample rate, length): no other decoder is tried.
    Refused(Error),
}

/// Symphonia's codecs plus the libopus adapter.
fn codecs() -> &'static CodecRegistry {
    static REGISTRY: OnceLock<CodecRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_audio_decoder::<OpusDecoder>();
        registry
    })
}

/// Decodes the first decodable audio track of `source`. `extension` (without the dot) helps the
/// probe pick a demuxer; it is only a hint.
///
/// A panic inside a decoder (a bug triggered by malformed data) is caught and reported as
/// [`Failure::Corrupt`].
pub(super) fn decode(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
    options: &DecodeOptions,
) -> Result<Decoded, Failure> {
    panic::catch_unwind(AssertUnwindSafe(|| {
        decode_unguarded(source, extension, options)
    }))
    .unwrap_or_else(|payload| {
        Err(Failure::Corrupt(format!(
            "the decoder crashed on this data ({})",
            panic_message(payload.as_ref())
        )))
    })
}

/// The length the container announces for its first audio track, in seconds, without
/// decoding anything (`None` when it announces none or cannot be read).
pub(super) fn declared_seconds(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
) -> Option<f64> {
    panic::catch_unwind(AssertUnwindSafe(|| {
        let mut hint = Hint::new();
        if let Some(ext) = extension {
            hint.with_extension(ext);
        }
        let stream = MediaSourceStream::new(source, Default::default());
        let format = symphonia::default::get_probe()
            .probe(
                &hint,
                stream,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .ok()?;
        format
            .tracks()
            .iter()
            .find_map(|track| match &track.codec_params {
                Some(CodecParameters::Audio(params)) => {
                    let rate = params.sample_rate.filter(|&rate| rate > 0)?;
                    Some(track.num_frames? as f64 / f64::from(rate))
                }
                _ => None,
            })
    }))
    .ok()
    .flatten()
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

fn decode_unguarded(
    source: Box<dyn MediaSource>,
    extension: Option<&str>,
    options: &DecodeOptions,
) -> Result<Decoded, Failure> {
    let mut hint = Hint::new();
    if let Some(ext) = extension {
        hint.with_extension(ext);
    }
    let stream = MediaSourceStream::new(source, Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &hint,
            stream,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(|err| match err {
            // The probe itself only fails like this; a demuxer that recognised the data and
            // then failed to open it reports its own error.
            SymphoniaError::Unsupported(msg) if msg.starts_with("core (probe)") => {
                Failure::Unrecognised
            }
            SymphoniaError::IoError(ref io) if io.kind() == IoErrorKind::UnexpectedEof => {
                Failure::Corrupt("the file ends inside the container header (truncated?)".into())
            }
            _ => Failure::Corrupt(format!(
                "cannot open the container ({err}); the file may be truncated or damaged"
            )),
        })?;

    let mut warnings = Vec::new();
    let opened = open_audio_track(&*format, &mut warnings)?;
    let (mut track_id, mut decoder, expected_frames) =
        (opened.id, opened.decoder, opened.expected_frames);

    if let Some(rate) = opened.rate {
        check_declared(rate, expected_frames, options).map_err(Failure::Refused)?;
    }
    let mut out = BufferSink {
        sink: None,
        options,
        skip: opened.priming,
        scratch: Vec::new(),
    };
    let mut bad_packets = 0usize;
    let mut first_bad: Option<String> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            Err(SymphoniaError::ResetRequired) => {
                // A new logical stream starts (chained Ogg): the track list changed.
                match open_audio_track(&*format, &mut Vec::new()) {
                    Ok(next) => {
                        track_id = next.id;
                        decoder = next.decoder;
                        continue;
                    }
                    Err(_) => {
                        warnings.push(format!(
                            "stopped at {:.2} s: the stream changes to a part that cannot be decoded",
                            out.seconds()
                        ));
                        break;
                    }
                }
            }
            Err(SymphoniaError::IoError(err)) if err.kind() == IoErrorKind::UnexpectedEof => {
                warnings.push(format!(
                    "the file ends unexpectedly after {:.2} s of audio (truncated?)",
                    out.seconds()
                ));
                break;
            }
            Err(err) => {
                warnings.push(format!(
                    "stopped reading after {:.2} s of audio: {err}",
                    out.seconds()
                ));
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => match out.push(&buf) {
                Ok(()) => {}
                Err(Stop::Warning(msg)) => {
                    warnings.push(msg);
                    break;
                }
                Err(Stop::Refused(error)) => return Err(Failure::Refused(error)),
            },
            Err(err @ (SymphoniaError::DecodeError(_) | SymphoniaError::IoError(_))) => {
                bad_packets += 1;
                first_bad.get_or_insert_with(|| format!("at {:.2} s: {err}", out.seconds()));
            }
            Err(SymphoniaError::ResetRequired) => decoder.reset(),
            Err(err) => {
                warnings.push(format!(
                    "stopped decoding after {:.2} s of audio: {err}",
                    out.seconds()
                ));
                break;
            }
        }
    }

    if let Some(first) = &first_bad {
        warnings.insert(
            0,
            format!("skipped {bad_packets} undecodable packet(s) (first {first})"),
        );
    }
    let Some(sink) = out.sink else {
        let why = first_bad
            .or_else(|| warnings.first().cloned())
            .map(|w| format!("no packet of the audio track could be decoded ({w})"));
        return match why {
            Some(why) => Err(Failure::Corrupt(why)),
            // Nothing failed: the track is simply empty.
            None => Ok(Decoded {
                sink: None,
                source_sample_rate: 0,
                source_channels: 0,
                warnings,
            }),
        };
    };

    let sample_rate = sink.rate();
    if let Some(expected) = expected_frames {
        let decoded = sink.frames() + opened.priming as u64;
        // Allow for codec frame granularity (a few ms); report real losses.
        if decoded + u64::from(sample_rate / 20) < expected {
            warnings.push(format!(
                "decoded {:.2} s of the {:.2} s the file announces; the rest is missing or damaged",
                decoded as f64 / f64::from(sample_rate),
                expected as f64 / f64::from(sample_rate),
            ));
        }
    }

    Ok(Decoded {
        source_sample_rate: sample_rate,
        source_channels: sink.channels(),
        sink: Some(sink),
        warnings,
    })
}

/// An audio track ready to decode.
struct OpenTrack {
    id: u32,
    decoder: Box<dyn AudioDecoder>,
    /// Number of frames the container announces, if it does.
    expected_frames: Option<u64>,
    /// Encoder priming frames to drop from the start of the decoded audio.
    priming: usize,
    /// Sample rate the codec parameters announce.
    rate: Option<u32>,
}

/// Frames of encoder delay at the start of an AAC-LC stream. symphonia's AAC decoder does not
/// remove them, and the MP4 demuxer does not read the edit list that announces them; ffmpeg
/// drops the same 1024 frames.
const AAC_PRIMING_FRAMES: usize = 1024;

/// Picks the first audio track that has a decoder and opens the decoder.
fn open_audio_track(
    format: &dyn FormatReader,
    warnings: &mut Vec<String>,
) -> Result<OpenTrack, Failure> {
    let audio_tracks: Vec<&Track> = format
        .tracks()
        .iter()
        .filter(|track| matches!(track.codec_params, Some(CodecParameters::Audio(_))))
        .collect();
    let container = format.format_info().long_name;
    let Some(first) = audio_tracks.first() else {
        return Err(Failure::NoAudioTrack(format!(
            "the {container} container has no audio track"
        )));
    };

    let registry = codecs();
    let chosen = audio_tracks
        .iter()
        .find_map(|track| match &track.codec_params {
            Some(CodecParameters::Audio(params))
                if registry.get_audio_decoder(params.codec).is_some() =>
            {
                Some((track, params))
            }
            _ => None,
        });
    let Some((track, params)) = chosen else {
        let codec = match &first.codec_params {
            Some(CodecParameters::Audio(params)) => codec_name(params.codec),
            _ => "unknown".to_string(),
        };
        return Err(Failure::UnsupportedCodec(format!(
            "the audio track ({container}) uses the {codec} codec, which has no built-in decoder"
        )));
    };
    if track.id != first.id {
        warnings.push(format!(
            "the first audio track cannot be decoded; using audio track {} instead",
            track.id
        ));
    }

    let decoder = registry
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|err| match err {
            SymphoniaError::Unsupported(_) => Failure::UnsupportedCodec(format!(
                "the {} audio track is not supported: {err}",
                codec_name(params.codec)
            )),
            _ => Failure::Corrupt(format!(
                "cannot set up the {} decoder: {err}",
                codec_name(params.codec)
            )),
        })?;
    // Trim AAC priming ourselves unless the demuxer already accounts for it.
    let priming = if params.codec == codec_ids::CODEC_ID_AAC && track.delay.is_none() {
        AAC_PRIMING_FRAMES
    } else {
        0
    };
    Ok(OpenTrack {
        id: track.id,
        decoder,
        expected_frames: track.num_frames,
        priming,
        rate: params.sample_rate,
    })
}

/// Human name of a codec for messages.
fn codec_name(id: AudioCodecId) -> String {
    if let Some(registered) = codecs().get_audio_decoder(id) {
        return registered.codec.info.long_name.to_string();
    }
    let name = match id {
        codec_ids::CODEC_ID_AC3 => "AC-3",
        codec_ids::CODEC_ID_EAC3 => "E-AC-3",
        codec_ids::CODEC_ID_AC4 => "AC-4",
        codec_ids::CODEC_ID_DCA => "DTS",
        codec_ids::CODEC_ID_WMA => "WMA",
        codec_ids::CODEC_ID_SPEEX => "Speex",
        codec_ids::CODEC_ID_MUSEPACK => "Musepack",
        codec_ids::CODEC_ID_WAVPACK => "WavPack",
        codec_ids::CODEC_ID_MONKEYS_AUDIO => "Monkey's Audio",
        codec_ids::CODEC_ID_TTA => "TTA",
        codec_ids::CODEC_ID_COOK => "RealAudio Cook",
        codec_ids::CODEC_ID_ATRAC3 | codec_ids::CODEC_ID_ATRAC3PLUS => "ATRAC",
        codec_ids::CODEC_ID_ADPCM_G722 => "G.722",
        _ => return format!("unrecognised (id {id})"),
    };
    name.to_string()
}

/// Hands decoded buffers to the [`Sink`], made at the first buffer (whose rate and channels
/// are the track's), after the encoder priming.
struct BufferSink<'a> {
    sink: Option<Sink>,
    options: &'a DecodeOptions,
    /// Frames still to drop from the start (encoder priming).
    skip: usize,
    scratch: Vec<f32>,
}

/// Why decoding stops early: damage to report (keeping what was decoded), or a refusal.
enum Stop {
    Warning(String),
    Refused(Error),
}

impl BufferSink<'_> {
    fn seconds(&self) -> f64 {
        self.sink.as_ref().map_or(0.0, Sink::seconds)
    }

    fn push(&mut self, buf: &GenericAudioBufferRef<'_>) -> Result<(), Stop> {
        let channels = buf.num_planes();
        if buf.frames() == 0 || channels == 0 {
            return Ok(());
        }
        let rate = buf.spec().rate();
        let sink = match &mut self.sink {
            None if rate == 0 => {
                return Err(Stop::Warning(
                    "the audio track declares a sample rate of 0 Hz".into(),
                ));
            }
            None => self
                .sink
                .insert(Sink::new(rate, channels, self.options).map_err(Stop::Refused)?),
            Some(sink) if sink.rate() != rate || sink.channels() != channels => {
                return Err(Stop::Warning(format!(
                    "stopped after {:.2} s: the stream changes from {} Hz, {} channels to \
                     {rate} Hz, {channels} channels",
                    sink.seconds(),
                    sink.rate(),
                    sink.channels()
                )));
            }
            Some(sink) => sink,
        };
        buf.copy_to_vec_interleaved::<f32>(&mut self.scratch);
        let skipped = self.skip.min(buf.frames());
        self.skip -= skipped;
        let interleaved = self.scratch.get(skipped * channels..).unwrap_or_default();
        sink.push(interleaved).map_err(Stop::Refused)
    }
}
