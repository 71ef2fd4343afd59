//! Long audio spooled to disk: the same samples, the same transcript as in memory, and the
//! limits that refuse audio before it costs anything.

mod common;

use common::*;
use stt_core::audio::{self, AudioInput, DecodeOptions, SampleSource};
use stt_core::{ErrorKind, TranscribeOptions};

/// Everything past the first second goes to the temporary file.
fn spooled_early() -> DecodeOptions {
    DecodeOptions {
        memory_samples: 16_000,
        ..DecodeOptions::spooled()
    }
}

#[test]
fn spooled_samples_equal_the_samples_in_memory() {
    for name in [
        "jfk.flac",
        "en_librivox_sonnets_001_002_106s.mp3",
        "2spk_faster_whisper_stereo_diarization.wav",
    ] {
        let path = fixtures().join(name);
        let memory = audio::load_file_with_channels(&path, true).unwrap();
        let options = DecodeOptions {
            keep_channels: true,
            ..spooled_early()
        };
        let spooled = audio::spool_file(&path, &options).unwrap();
        assert!(spooled.samples.is_spooled(), "{name}");
        let n = memory.samples.len();
        assert_eq!(spooled.samples.len(), n, "{name}");
        assert_eq!(
            spooled.samples.read_range(0..n).unwrap(),
            memory.samples,
            "{name}"
        );
        assert_eq!(spooled.channels.len(), memory.channels.len(), "{name}");
        for (ours, theirs) in spooled.channels.iter().zip(&memory.channels) {
            assert_eq!(&ours.read_range(0..theirs.len()).unwrap(), theirs, "{name}");
        }
    }
}

#[test]
fn a_spooled_recording_transcribes_as_in_memory() {
    let path = fixtures().join("jfk.flac");
    let options = TranscribeOptions::default();
    let memory = audio::load_file(&path).unwrap();
    let spooled = audio::spool_file(&path, &spooled_early()).unwrap();
    let mut engine = base();
    let from_memory = engine.transcribe(&memory, &options).unwrap();
    let from_disk = engine.transcribe(&spooled, &options).unwrap();
    assert_eq!(from_disk.text, from_memory.text);
    assert_eq!(from_disk.segments, from_memory.segments);
    assert_eq!(spooled.duration(), memory.duration());
}

#[test]
fn declared_lengths_are_read_from_headers() {
    for name in ["jfk.flac", "en_librivox_sonnets_001_002_106s.mp3"] {
        let expected = fixture(name).duration;
        let declared = audio::declared_duration(&fixtures().join(name)).unwrap();
        assert!(
            (declared - expected).abs() < 0.1,
            "{name}: {declared} vs {expected}"
        );
    }
}

#[test]
fn too_long_audio_is_refused_from_the_header_or_where_decoding_reaches_the_limit() {
    let limited = |seconds| DecodeOptions {
        max_seconds: Some(seconds),
        ..DecodeOptions::spooled()
    };
    let path = fixtures().join("jfk.flac");
    let error = audio::spool_file(&path, &limited(5.0)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooLong, "{error}");
    assert!(error.to_string().contains("lasts 0:11"), "{error}");
    assert!(audio::spool_file(&path, &limited(12.0)).is_ok());
    // Raw PCM in a WAV whose header says nothing of the length (streamed: size 0xFFFFFFFF).
    let mut wav = b"RIFF\xff\xff\xff\xffWAVEfmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0data\xff\xff\xff\xff".to_vec();
    wav.extend(std::iter::repeat_n(0u8, 16_000 * 2 * 8));
    let error = audio::spool_bytes(wav, Some("wav"), &limited(5.0)).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::TooLong, "{error}");
}

#[test]
fn sample_rates_that_are_not_speech_are_refused() {
    let mut wav = b"RIFF\x2c\x3e\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x01\0\0\0\x02\0\0\0\x02\0\x10\0data\x00\x3e\0\0".to_vec();
    wav.extend(std::iter::repeat_n(7u8, 0x3e00));
    let error = audio::load_bytes(wav, Some("wav")).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnsupportedFormat, "{error}");
    assert!(error.to_string().contains("sample rate of 1 Hz"), "{error}");
}
