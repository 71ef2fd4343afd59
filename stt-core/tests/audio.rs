//! Integration tests of `stt_core::audio` against the real fixtures in `shared/fixtures/audio`.
//!
//! Tests that need the `ffmpeg` command (to build test videos, or as a reference resampler)
//! print a note and pass when it is not installed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use stt_core::ErrorKind;
use stt_core::audio::{self, Audio, SAMPLE_RATE};

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/audio"
    ))
}

fn fixture(name: &str) -> PathBuf {
    fixtures().join(name)
}

fn load(name: &str) -> Audio {
    audio::load_file(&fixture(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
}

/// (file, duration_s) rows of MANIFEST.tsv.
fn manifest() -> Vec<(String, f64)> {
    let text = fs::read_to_string(fixtures().join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let file_col = header
        .iter()
        .position(|c| *c == "file")
        .expect("file column");
    let dur_col = header
        .iter()
        .position(|c| *c == "duration_s")
        .expect("duration_s");
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (
                cols[file_col].to_string(),
                cols[dur_col].parse().expect("duration"),
            )
        })
        .collect()
}

fn rms(samples: &[f32]) -> f64 {
    let sum: f64 = samples.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

/// Normalised correlation of `a` and `b` (over their common length) with `b` shifted by `lag`.
fn correlation(a: &[f32], b: &[f32], lag: isize) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (i, &x) in a.iter().enumerate() {
        let j = i as isize + lag;
        if j < 0 || j as usize >= b.len() {
            continue;
        }
        let y = b[j as usize];
        ab += f64::from(x) * f64::from(y);
        aa += f64::from(x) * f64::from(x);
        bb += f64::from(y) * f64::from(y);
    }
    ab / (aa.sqrt() * bb.sqrt()).max(1e-12)
}

/// The lag in `-max..=max` at which `b` best matches `a`, and the correlation there. Uses two
/// seconds of `a` from 0.5 s on (speech in every fixture), to keep debug builds fast.
fn best_lag(a: &[f32], b: &[f32], max: isize) -> (isize, f64) {
    let start = 8000;
    let window = &a[start.min(a.len())..(start + 32000).min(a.len())];
    let (lag, _) = (-max..=max)
        .map(|lag| (lag, correlation(window, b, lag + start as isize)))
        .max_by(|x, y| x.1.total_cmp(&y.1))
        .expect("non-empty range");
    (lag, correlation(a, b, lag))
}

fn has_encoder(name: &str) -> bool {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-encoders"])
        .output()
        .is_ok_and(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.split_whitespace().nth(1) == Some(name))
        })
}

/// These tests need ffmpeg (installed by scripts/setup.sh): fail loudly rather than skip.
fn require_ffmpeg() {
    let ok = Command::new("ffmpeg")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ffmpeg not found on PATH (run scripts/setup.sh)");
}

/// Runs ffmpeg with `args`, panicking with its stderr on failure.
fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// ffmpeg's own decode + downmix (to the channel average) + resample to 16 kHz, as a reference.
fn ffmpeg_16k(path: &Path) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args([
            "-f",
            "f32le",
            "-rematrix_maxval",
            "1",
            "-ac",
            "1",
            "-ar",
            "16000",
            "-",
        ])
        .output()
        .expect("run ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// A scratch directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("stt-audio-test-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        fs::write(&path, bytes).expect("write temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn assert_sane(name: &str, audio: &Audio) {
    assert!(!audio.samples.is_empty(), "{name}: no samples");
    assert!(
        audio
            .samples
            .iter()
            .all(|x| x.is_finite() && x.abs() <= 1.0),
        "{name}: samples must be finite and within [-1, 1]"
    );
    let level = rms(&audio.samples);
    assert!(level > 0.01, "{name}: RMS {level} is too low for speech");
}

#[test]
fn every_fixture_decodes_with_the_manifest_duration() {
    let rows = manifest();
    assert_eq!(rows.len(), 36, "MANIFEST.tsv should list 36 audio files");
    for (name, expected) in rows {
        let audio = load(&name);
        assert_sane(&name, &audio);
        let got = audio.duration();
        let lossless = [".wav", ".flac", ".aiff"]
            .iter()
            .any(|ext| name.ends_with(ext))
            && !name.contains("badlastframe");
        let tolerance = if name.ends_with(".aac") {
            // ffprobe estimates a raw ADTS stream's duration from the bit rate (9.403 s); the
            // stream really holds the same ~9.0 s as the other copies of this excerpt.
            0.45
        } else if lossless {
            // Exact up to the manifest's 3 decimals (and resampling rounding).
            0.002
        } else {
            // MP3/AAC/Vorbis/Opus: encoder delay and padding (ffmpeg decodes the same lengths).
            0.1
        };
        assert!(
            (got - expected).abs() <= tolerance,
            "{name}: decoded {got:.4} s, manifest says {expected:.3} s (tolerance {tolerance})"
        );
        assert_eq!(
            audio.warnings.is_empty(),
            !name.contains("badlastframe"),
            "{name}: unexpected warnings {:?}",
            audio.warnings
        );
    }
}

#[test]
fn source_format_is_reported() {
    for (name, rate, channels) in [
        ("en_librispeech_1272-128104-0004_8khz.wav", 8000, 1),
        ("en_ljspeech_LJ001-0001.wav", 22050, 1),
        ("2spk_faster_whisper_stereo_diarization.wav", 16000, 2),
        ("jfk.flac", 44100, 2),
        ("es_mls_13697_11991_000000.opus", 48000, 1),
        ("en_librivox_sonnet001_first9s.m4a", 44100, 2),
        ("en_librivox_sonnet001_first9s.aiff", 44100, 2),
        ("es_librivox_capitan_veneno_dedication_70s.mp3", 44100, 1),
    ] {
        let audio = load(name);
        assert_eq!(
            (audio.source_sample_rate, audio.source_channels),
            (rate, channels),
            "{name}"
        );
    }
}

/// All copies of the sonnet excerpt decode to the same signal, time-aligned.
#[test]
fn container_variants_agree() {
    let reference = load("en_librivox_sonnet001_first9s.flac");
    for name in [
        "en_librivox_sonnet001_first9s.aiff",
        "en_librivox_sonnet001_first9s.ogg",
        "en_librivox_sonnet001_first9s.webm",
        "en_librivox_sonnet001_first9s.m4a",
        "en_librivox_sonnet001_first9s.aac",
    ] {
        let audio = load(name);
        let (lag, corr) = best_lag(&reference.samples, &audio.samples, 400);
        assert!(
            lag.abs() <= 1 && corr > 0.98,
            "{name}: best match at lag {lag} samples with correlation {corr:.4}"
        );
        assert!(
            (audio.duration() - reference.duration()).abs() < 0.05,
            "{name}: {:.3} s vs {:.3} s",
            audio.duration(),
            reference.duration()
        );
    }
    let aiff = load("en_librivox_sonnet001_first9s.aiff");
    assert_eq!(aiff.samples.len(), reference.samples.len());
    let max_diff = aiff
        .samples
        .iter()
        .zip(&reference.samples)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff < 1e-6, "AIFF and FLAC differ by up to {max_diff}");
}

#[test]
fn damaged_flac_keeps_the_readable_part_and_warns() {
    let damaged = load("en_librivox_sonnet001_first9s_badlastframe.flac");
    let duration = damaged.duration();
    assert!(
        (8.97..8.995).contains(&duration),
        "decoded {duration:.4} s, expected the readable ~8.986 s"
    );
    assert!(
        damaged.warnings.iter().any(|w| w.contains("undecodable")),
        "{:?}",
        damaged.warnings
    );
    // Up to the damage it is the same audio as the clean copy.
    let clean = load("en_librivox_sonnet001_first9s.flac");
    let n = (8.9 * f64::from(SAMPLE_RATE)) as usize;
    let max_diff = damaged.samples[..n]
        .iter()
        .zip(&clean.samples[..n])
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(max_diff < 1e-4, "differs from the clean copy by {max_diff}");
}

/// Parses a canonical PCM s16le WAV: (channels, interleaved samples).
fn read_wav_s16(path: &Path) -> (usize, Vec<i16>) {
    let bytes = fs::read(path).expect("read wav");
    assert_eq!(&bytes[..4], b"RIFF");
    let mut pos = 12;
    let mut channels = 0;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = &bytes[pos + 8..(pos + 8 + len).min(bytes.len())];
        if id == b"fmt " {
            channels = usize::from(u16::from_le_bytes([body[2], body[3]]));
        } else if id == b"data" {
            let samples = body
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect();
            return (channels, samples);
        }
        pos += 8 + len + (len & 1);
    }
    panic!("no data chunk in {}", path.display());
}

#[test]
fn stereo_is_mixed_down_to_the_channel_average() {
    let path = fixture("2spk_faster_whisper_stereo_diarization.wav");
    let (channels, pcm) = read_wav_s16(&path);
    assert_eq!(channels, 2);
    let expected: Vec<f32> = pcm
        .chunks_exact(2)
        .map(|f| (f32::from(f[0]) + f32::from(f[1])) / 2.0 / 32768.0)
        .collect();
    let audio = audio::load_file(&path).unwrap();
    assert_eq!(audio.samples.len(), expected.len());
    for (i, (got, want)) in audio.samples.iter().zip(&expected).enumerate() {
        assert!((got - want).abs() < 1e-6, "sample {i}: {got} != {want}");
    }
    // The two channels really differ (different speakers), so this is not a trivial check.
    let left: Vec<f32> = pcm.iter().step_by(2).map(|&s| f32::from(s)).collect();
    let right: Vec<f32> = pcm
        .iter()
        .skip(1)
        .step_by(2)
        .map(|&s| f32::from(s))
        .collect();
    assert!(correlation(&left, &right, 0) < 0.5);
    assert!(
        audio.channels.is_empty(),
        "channels are kept only when asked for"
    );

    let kept = audio::load_file_with_channels(&path, true).unwrap();
    assert_eq!(kept.samples, audio.samples);
    assert_eq!(kept.channels.len(), 2);
    for (channel, original) in kept.channels.iter().zip([&left, &right]) {
        assert_eq!(channel.len(), original.len());
        assert!(
            channel
                .iter()
                .zip(original.iter())
                .all(|(a, b)| (a - b / 32768.0).abs() < 1e-6)
        );
    }
    // A compressed 44.1 kHz stereo source: each channel resampled like the mix, which stays
    // their average.
    let m4a = fixture("en_librivox_sonnet001_first9s.m4a");
    let kept = audio::load_file_with_channels(&m4a, true).unwrap();
    assert_eq!((kept.source_channels, kept.channels.len()), (2, 2));
    for (i, mixed) in kept.samples.iter().enumerate().step_by(97) {
        let average = (kept.channels[0][i] + kept.channels[1][i]) / 2.0;
        assert!(
            (mixed - average).abs() < 1e-3,
            "sample {i}: {mixed} != {average}"
        );
    }
}

#[test]
fn mono_16k_wav_is_passed_through_exactly() {
    let path = fixture("en_librispeech_1995-1837-0001.wav");
    let (_, pcm) = read_wav_s16(&path);
    let audio = audio::load_file(&path).unwrap();
    let expected: Vec<f32> = pcm.iter().map(|&s| f32::from(s) / 32768.0).collect();
    assert_eq!(audio.samples, expected);
    // from_pcm_s16le reads the same bytes the same way.
    let bytes = fs::read(&path).unwrap();
    let data = &bytes[bytes.len() - pcm.len() * 2..];
    assert_eq!(audio::from_pcm_s16le(data), expected);
}

#[test]
fn resampled_fixtures_match_ffmpeg_and_are_time_aligned() {
    require_ffmpeg();
    for name in [
        "en_librispeech_1272-128104-0004_8khz.wav", // 8 kHz
        "en_ljspeech_LJ001-0001.wav",               // 22.05 kHz
        "jfk.flac",                                 // 44.1 kHz stereo
        "es_mls_13697_11991_000000.opus",           // 48 kHz Opus
        "en_librivox_sonnet001_first9s.m4a",        // AAC (priming removed like ffmpeg)
        "en_librivox_sonnets_001_002_106s.mp3",     // 44.1 kHz stereo MP3
    ] {
        let ours = load(name).samples;
        let reference = ffmpeg_16k(&fixture(name));
        let len_diff = ours.len().abs_diff(reference.len());
        assert!(
            len_diff <= 2,
            "{name}: {} samples, ffmpeg {} samples",
            ours.len(),
            reference.len()
        );
        let (lag, corr) = best_lag(&ours, &reference, 200);
        assert_eq!(lag, 0, "{name}: shifted by {lag} samples against ffmpeg");
        assert!(
            corr > 0.995,
            "{name}: correlation with ffmpeg only {corr:.5}"
        );
        let ratio = rms(&ours) / rms(&reference);
        assert!(
            (0.95..1.05).contains(&ratio),
            "{name}: level differs from ffmpeg's by a factor {ratio:.3}"
        );
    }
}

/// A sine through `resample_to_16k` must come out as the same sine at 16 kHz: right length, no
/// delay, no level change.
#[test]
fn resample_to_16k_keeps_length_phase_and_level() {
    let freq = 440.0f64;
    for rate in [8000u32, 11025, 22050, 44100, 48000, 96000, 16000] {
        let seconds = 3.3;
        let n = (seconds * f64::from(rate)) as usize;
        let input: Vec<f32> = (0..n)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect();
        let out = audio::resample_to_16k(&input, rate).unwrap();
        let expected_len = (n as f64 * 16000.0 / f64::from(rate)).ceil() as usize;
        assert!(
            out.len().abs_diff(expected_len) <= 1,
            "{rate} Hz: {} samples out, expected {expected_len}",
            out.len()
        );
        // Compare with the ideal sine away from the very edges (filter ramp-up).
        let margin = 200;
        let max_err = (margin..out.len() - margin)
            .map(|i| {
                let ideal = 0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / 16000.0).sin();
                (f64::from(out[i]) - ideal).abs()
            })
            .fold(0.0, f64::max);
        assert!(
            max_err < 1e-3,
            "{rate} Hz: max error {max_err} against the ideal sine"
        );
    }
    assert!(audio::resample_to_16k(&[], 44100).unwrap().is_empty());
    assert_eq!(
        audio::resample_to_16k(&[0.1, 0.2], 0).unwrap_err().kind(),
        ErrorKind::InvalidOption
    );
}

#[test]
fn load_bytes_matches_load_file() {
    for (name, hint) in [
        ("jfk.flac", Some("flac")),
        ("en_ljspeech_LJ001-0005.mp3", None),
        ("es_mls_13697_11991_000000.opus", Some(".opus")),
        ("en_librivox_sonnet001_first9s.m4a", Some("M4A")),
        ("en_librispeech_1272-128104-0004_8khz.wav", Some("wav")),
    ] {
        let from_file = load(name);
        let from_bytes = audio::load_bytes(fs::read(fixture(name)).unwrap(), hint).unwrap();
        assert_eq!(from_file, from_bytes, "{name}");
    }
}

#[test]
fn missing_empty_and_non_audio_inputs_give_clear_errors() {
    let dir = TempDir::new("bad-inputs");

    let missing = dir.path("does-not-exist.wav");
    let err = audio::load_file(&missing).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io);
    assert!(err.to_string().contains("does-not-exist.wav"), "{err}");

    let err = audio::load_file(&dir.0).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");

    let empty = dir.write("empty.wav", b"");
    let err = audio::load_file(&empty).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::EmptyAudio, "{err}");
    assert!(err.to_string().contains("empty.wav"), "{err}");

    let err = audio::load_bytes(Vec::new(), Some("mp3")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::EmptyAudio, "{err}");

    let text = dir.write(
        "notes.mp3",
        "These are meeting notes, not an MP3 file.\n"
            .repeat(50)
            .as_bytes(),
    );
    let err = audio::load_file(&text).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::UnsupportedFormat | ErrorKind::CorruptAudio
        ),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("notes.mp3") && msg.contains("text"), "{msg}");

    // Random bytes: an error, not a panic or a hang.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<u8> = (0..100_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    let err = audio::load_bytes(noise, Some("wav")).unwrap_err();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::UnsupportedFormat | ErrorKind::CorruptAudio
        ),
        "{err}"
    );

    // A WAV header with an empty data chunk decodes to nothing.
    let mut header = Vec::new();
    header.extend_from_slice(b"RIFF");
    header.extend_from_slice(&36u32.to_le_bytes());
    header.extend_from_slice(b"WAVEfmt ");
    header.extend_from_slice(&16u32.to_le_bytes());
    header.extend_from_slice(&1u16.to_le_bytes()); // PCM
    header.extend_from_slice(&1u16.to_le_bytes()); // mono
    header.extend_from_slice(&16000u32.to_le_bytes());
    header.extend_from_slice(&32000u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&16u16.to_le_bytes());
    header.extend_from_slice(b"data");
    header.extend_from_slice(&0u32.to_le_bytes());
    let err = audio::load_bytes(header, Some("wav")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::EmptyAudio, "{err}");
}

#[test]
fn truncated_files_decode_what_is_there() {
    for name in [
        "en_librispeech_1995-1837-0001.wav",
        "jfk.flac",
        "en_librispeech_1272-141231-0002.mp3",
        "en_librivox_sonnet001_first9s.ogg",
        "es_mls_13697_11991_000000.opus",
        "en_librivox_sonnet001_first9s.aac",
        "en_librivox_sonnet001_first9s.webm",
    ] {
        let full = load(name);
        let bytes = fs::read(fixture(name)).unwrap();
        let cut = bytes[..bytes.len() * 3 / 10].to_vec();
        let ext = name.rsplit('.').next();
        let part = audio::load_bytes(cut, ext).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_sane(name, &part);
        let fraction = part.duration() / full.duration();
        assert!(
            (0.2..0.4).contains(&fraction),
            "{name}: 30% of the bytes gave {:.2} s of {:.2} s",
            part.duration(),
            full.duration()
        );
        // The part that is there is the start of the same audio.
        let n = part.samples.len().min(full.samples.len()) - 2000;
        let corr = correlation(&part.samples[..n], &full.samples[..n], 0);
        assert!(
            corr > 0.99,
            "{name}: truncated decode differs (corr {corr:.4})"
        );
        // Formats whose header announces the length say that something is missing.
        if name.ends_with(".wav") || name.ends_with(".flac") {
            assert!(
                !part.warnings.is_empty(),
                "{name}: no warning about the truncation"
            );
        }
    }
}

#[test]
fn truncated_mp4_gives_a_clear_error_or_partial_audio() {
    let name = "en_librivox_sonnet001_first9s.m4a";
    let bytes = fs::read(fixture(name)).unwrap();
    let cut = bytes[..bytes.len() * 3 / 10].to_vec();
    match audio::load_bytes(cut, Some("m4a")) {
        Ok(part) => {
            assert_sane(name, &part);
            assert!(part.duration() < 8.0);
        }
        Err(err) => {
            assert!(
                matches!(
                    err.kind(),
                    ErrorKind::CorruptAudio | ErrorKind::UnsupportedFormat
                ),
                "{err}"
            );
        }
    }
}

/// Builds test videos with ffmpeg: a synthetic video track plus a fixture's audio.
fn make_video(dir: &TempDir, file: &str, audio_src: &str, extra: &[&str]) -> PathBuf {
    let out = dir.path(file);
    let src = fixture(audio_src);
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10",
        "-i",
        src.to_str().unwrap(),
        "-map",
        "0:v",
        "-map",
        "1:a",
        "-c:v",
        "mpeg4",
        "-shortest",
    ];
    args.extend_from_slice(extra);
    args.push(out.to_str().unwrap());
    ffmpeg(&args);
    out
}

#[test]
fn audio_track_of_video_files_is_decoded() {
    require_ffmpeg();
    let dir = TempDir::new("video");
    let source = "en_librispeech_61-70968-0000.flac";
    let reference = load(source);
    for (file, codec) in [
        ("clip.mp4", "aac"),
        ("clip.mov", "aac"),
        ("clip.mkv", "flac"),
        ("clip-aac.mkv", "aac"),
        ("clip-opus.mkv", "libopus"),
    ] {
        assert!(
            has_encoder(codec),
            "ffmpeg has no {codec} encoder for {file}"
        );
        let path = make_video(&dir, file, source, &["-c:a", codec]);
        let audio = audio::load_file(&path).unwrap_or_else(|err| panic!("{file}: {err}"));
        assert!(
            !audio.warnings.iter().any(|w| w.contains("ffmpeg")),
            "{file} should be read by the built-in decoders: {:?}",
            audio.warnings
        );
        assert_sane(file, &audio);
        assert!(
            (audio.duration() - reference.duration()).abs() < 0.15,
            "{file}: {:.3} s vs {:.3} s",
            audio.duration(),
            reference.duration()
        );
        let (lag, corr) = best_lag(&reference.samples, &audio.samples, 100);
        assert!(
            lag.abs() <= 1 && corr > 0.97,
            "{file}: lag {lag}, corr {corr:.4}"
        );
    }

    // Two audio tracks: the first one is used.
    let two = dir.path("two-tracks.mkv");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10",
        "-i",
        fixture(source).to_str().unwrap(),
        "-i",
        fixture("en_librispeech_1089-134691-0001.flac")
            .to_str()
            .unwrap(),
        "-map",
        "0:v",
        "-map",
        "2:a",
        "-map",
        "1:a",
        "-c:v",
        "mpeg4",
        "-c:a",
        "flac",
        "-t",
        "4",
        two.to_str().unwrap(),
    ]);
    let audio = audio::load_file(&two).unwrap();
    let first = load("en_librispeech_1089-134691-0001.flac");
    let n = audio.samples.len().min(first.samples.len()) - 100;
    assert!(correlation(&audio.samples[..n], &first.samples[..n], 0) > 0.99);

    // A video without audio.
    let silent = dir.path("no-audio.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10",
        "-t",
        "1",
        "-c:v",
        "mpeg4",
        silent.to_str().unwrap(),
    ]);
    let err = audio::load_file(&silent).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::EmptyAudio, "{err}");
    assert!(err.to_string().contains("no-audio.mp4"), "{err}");
}

#[test]
fn formats_without_a_builtin_decoder_go_through_ffmpeg() {
    require_ffmpeg();
    let dir = TempDir::new("ffmpeg-fallback");
    let source = "en_librispeech_61-70968-0000.flac";
    let reference = load(source);
    let avi = make_video(&dir, "clip.avi", source, &["-c:a", "pcm_s16le"]);
    let wma = dir.path("clip.wma");
    ffmpeg(&[
        "-i",
        fixture(source).to_str().unwrap(),
        "-c:a",
        "wmav2",
        wma.to_str().unwrap(),
    ]);
    let ac3 = dir.path("clip.ac3");
    ffmpeg(&[
        "-i",
        fixture(source).to_str().unwrap(),
        "-c:a",
        "ac3",
        ac3.to_str().unwrap(),
    ]);
    // A container symphonia reads, with a codec it does not.
    let mkv_ac3 = make_video(&dir, "clip-ac3.mkv", source, &["-c:a", "ac3"]);
    for path in [&avi, &wma, &ac3, &mkv_ac3] {
        let file = path.file_name().unwrap().to_string_lossy();
        let audio = audio::load_file(path).unwrap_or_else(|err| panic!("{file}: {err}"));
        assert!(
            audio.warnings.iter().any(|w| w.contains("ffmpeg")),
            "{file}: expected a note that ffmpeg decoded it: {:?}",
            audio.warnings
        );
        assert_sane(&file, &audio);
        assert!(
            (audio.duration() - reference.duration()).abs() < 0.15,
            "{file}: {:.3} s vs {:.3} s",
            audio.duration(),
            reference.duration()
        );
        let (lag, corr) = best_lag(&reference.samples, &audio.samples, 800);
        assert!(
            corr > 0.95,
            "{file}: best correlation {corr:.4} at lag {lag}"
        );
        // The same through load_bytes (ffmpeg reads it from a temporary file).
        let ext = path.extension().and_then(|e| e.to_str());
        let from_bytes = audio::load_bytes(fs::read(path).unwrap(), ext).unwrap();
        assert_eq!(from_bytes.samples, audio.samples, "{file}");
    }
    assert_eq!(audio::load_file(&avi).unwrap().source_sample_rate, 16000);
}
