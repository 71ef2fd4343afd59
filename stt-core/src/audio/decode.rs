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

/// Audio decoded at its own sample rate, already mixed down to mono.
#[derive(Debug)]
pub(super) struct Decoded {
    /// Mono samples at `sample_rate`.
    pub samples: Vec<f32>,
    /// Sample rate of `samples`.
    pub sample_rate: u32,
    /// Sample rate of the audio track in the file (0 if unknown).
    pub source_sample_rate: u32,
    /// Channel count of the audio track in the file (0 if unknown).
    pub source_channels: usize,
    /// Problems that did not stop decoding.
    pub warnings: Vec<String>,
    /// Each channel apart at `sample_rate`, when asked for (see [`super::Audio::channels`]).
    pub channels: Vec<Vec<f32>>,
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
    keep_channels: bool,
) -> Result<Decoded, Failure> {
    panic::catch_unwind(AssertUnwindSafe(|| {
        decode_unguarded(source, extension, keep_channels)
    }))
    .unwrap_or_else(|payload| {
        Err(Failure::Corrupt(format!(
            "the decoder crashed on this data ({})",
            panic_message(payload.as_ref())
        )))
    })
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
    keep_channels: bool,
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

    let mut out = MonoSink {
        skip: opened.priming,
        split: super::ChannelSplit::new(keep_channels),
        ..MonoSink::default()
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
            Ok(buf) => {
                if let Err(msg) = out.push(&buf) {
                    warnings.push(msg);
                    break;
                }
            }
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
    let Some(sample_rate) = out.rate else {
        let why = first_bad
            .or_else(|| warnings.first().cloned())
            .map(|w| format!("no packet of the audio track could be decoded ({w})"));
        return match why {
            Some(why) => Err(Failure::Corrupt(why)),
            // Nothing failed: the track is simply empty.
            None => Ok(Decoded {
                samples: Vec::new(),
                sample_rate: 0,
                source_sample_rate: 0,
                source_channels: 0,
                warnings,
                channels: Vec::new(),
            }),
        };
    };

    if let Some(expected) = expected_frames {
        let decoded = (out.samples.len() + opened.priming) as u64;
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
        samples: out.samples,
        sample_rate,
        source_sample_rate: sample_rate,
        source_channels: out.channels,
        warnings,
        channels: out.split.finish(),
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

/// Collects decoded buffers as mono samples (the average of all channels).
#[derive(Default)]
struct MonoSink {
    samples: Vec<f32>,
    rate: Option<u32>,
    channels: usize,
    /// Frames still to drop from the start (encoder priming).
    skip: usize,
    scratch: Vec<f32>,
    split: super::ChannelSplit,
}

impl MonoSink {
    fn seconds(&self) -> f64 {
        match self.rate {
            Some(rate) if rate > 0 => self.samples.len() as f64 / f64::from(rate),
            _ => 0.0,
        }
    }

    /// Appends one decoded buffer. Fails (with a warning to report) if the sample rate changes
    /// or is zero, since the rest can then not be appended to the same signal.
    fn push(&mut self, buf: &GenericAudioBufferRef<'_>) -> Result<(), String> {
        let channels = buf.num_planes();
        if buf.frames() == 0 || channels == 0 {
            return Ok(());
        }
        let rate = buf.spec().rate();
        match self.rate {
            None if rate == 0 => {
                return Err("the audio track declares a sample rate of 0 Hz".into());
            }
            None => {
                self.rate = Some(rate);
                self.channels = channels;
            }
            Some(first) if first != rate => {
                return Err(format!(
                    "stopped after {:.2} s: the sample rate changes from {first} Hz to {rate} Hz",
                    self.seconds()
                ));
            }
            Some(_) => {}
        }

        buf.copy_to_vec_interleaved::<f32>(&mut self.scratch);
        let skipped = self.skip.min(buf.frames());
        self.skip -= skipped;
        let interleaved = self.scratch.get(skipped * channels..).unwrap_or_default();
        if channels == 1 {
            self.samples.extend_from_slice(interleaved);
        } else {
            self.split.add(interleaved, channels);
            let scale = 1.0 / channels as f32;
            self.samples.extend(
                interleaved
                    .chunks_exact(channels)
                    .map(|frame| frame.iter().sum::<f32>() * scale),
            );
        }
        Ok(())
    }
}
