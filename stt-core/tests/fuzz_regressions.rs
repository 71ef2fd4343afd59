//! Inputs the fuzzer (`benches/fuzz.sh`) found crashing the decoders: each must now give a
//! result or a clear error. The first byte chose the extension hint; the rest is the file.

use stt_core::audio;

fn decode(name: &str) -> stt_core::Result<audio::Audio> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/regressions/audio_bytes")
        .join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    audio::load_bytes(bytes[1..].to_vec(), Some("wav"))
}

#[test]
fn nan_samples_are_silence_not_a_resampler_panic() {
    // A stereo float WAV at 11025 Hz whose samples are NaN and infinities.
    let audio = decode("nan-float-wav-resampler-panic").unwrap();
    assert!(
        audio
            .samples
            .iter()
            .all(|s| s.is_finite() && s.abs() <= 1.0)
    );
}

#[test]
fn a_panicking_adpcm_decoder_falls_back_to_ffmpeg() {
    // symphonia's MS ADPCM decoder overflows on this block; its panic is caught and ffmpeg
    // decodes what it can.
    match decode("adpcm-ms-mul-overflow-caught") {
        Ok(audio) => assert!(audio.warnings[0].contains("ffmpeg"), "{audio:?}"),
        Err(error) => assert_eq!(error.kind(), stt_core::ErrorKind::CorruptAudio, "{error}"),
    }
}

#[test]
fn a_channel_mask_too_short_for_its_channels_is_a_clear_answer() {
    // 4,394 channels described by a 2-bit mask: symphonia's shift overflows (with debug
    // assertions; the panic is caught), and the answer is audio or a clear error.
    if let Err(error) = decode("wav-channel-mask-shift-overflow-caught") {
        assert!(!error.to_string().is_empty());
    }
}
