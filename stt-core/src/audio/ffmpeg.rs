//! Fallback decoder: the `ffmpeg` command-line tool, for formats symphonia cannot read (AVI,
//! WMA, AC-3, ...).
//!
//! ffmpeg writes 32-bit float WAV to a pipe at the source's own rate and channel count, which
//! tells us both; the channels are averaged here as they come in and resampled afterwards like
//! the built-in path.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use super::decode::Decoded;

/// The ffmpeg program looked up on `PATH`.
pub(super) const FFMPEG: &str = "ffmpeg";

/// At most this much of ffmpeg's stderr is kept for messages (the rest is drained and dropped).
const MAX_STDERR: usize = 16 * 1024;

#[derive(Debug)]
pub(super) enum FfmpegError {
    /// The program could not be started (not installed / not on `PATH`).
    NotInstalled,
    /// ffmpeg found no audio stream in the input.
    NoAudioStream,
    /// ffmpeg ran but produced no audio; the message is its last error line.
    Failed(String),
    /// Writing the temporary input file or talking to the process failed.
    Io(io::Error),
}

/// Decodes the first audio stream of `input` with `program` (normally [`FFMPEG`]) to mono at
/// the stream's own sample rate.
pub(super) fn decode(
    program: &OsStr,
    input: &Path,
    keep_channels: bool,
) -> Result<Decoded, FfmpegError> {
    // "file:" keeps ffmpeg from reading a name like "a:b.wav" or "-x.wav" as a protocol/option.
    let mut url = OsString::from("file:");
    url.push(input.as_os_str());
    let mut child = match Command::new(program)
        .args(["-nostdin", "-hide_banner", "-v", "error", "-i"])
        .arg(&url)
        .args(["-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1"])
        .args(["-c:a", "pcm_f32le", "-f", "wav", "-"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(FfmpegError::NotInstalled),
        Err(err) => return Err(FfmpegError::Io(err)),
    };

    // Drain stderr on its own thread so that neither pipe can fill up and block ffmpeg.
    let stderr_thread = child
        .stderr
        .take()
        .map(|stderr| thread::spawn(move || drain(stderr)));
    let parsed = match child.stdout.take() {
        Some(stdout) => read_wav_f32_mono(BufReader::with_capacity(1 << 16, stdout), keep_channels),
        None => Err(WavError::Invalid("no output pipe".into())),
    };
    if parsed.is_err() {
        // Stop ffmpeg rather than wait for it to fill a pipe nobody reads.
        let _ = child.kill();
    }
    let status = child.wait().map_err(FfmpegError::Io)?;
    let stderr = stderr_thread
        .and_then(|handle| handle.join().ok())
        .unwrap_or_default();
    let error_lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();

    let wav = match parsed {
        Ok(wav) if !wav.samples.is_empty() || status.success() => wav,
        result => {
            if error_lines.iter().any(|l| l.contains("matches no streams")) {
                return Err(FfmpegError::NoAudioStream);
            }
            return Err(match (error_lines.last(), result) {
                (Some(line), _) => FfmpegError::Failed(line.to_string()),
                (None, Err(WavError::Io(err))) => FfmpegError::Io(err),
                (None, Err(WavError::Invalid(msg))) => {
                    FfmpegError::Failed(format!("unexpected output from ffmpeg: {msg}"))
                }
                (None, Ok(_)) => FfmpegError::Failed(format!("ffmpeg exited with {status}")),
            });
        }
    };

    let mut warnings = Vec::new();
    if !error_lines.is_empty() {
        let shown: Vec<&str> = error_lines.iter().take(3).copied().collect();
        let more = error_lines.len() - shown.len();
        let mut msg = format!("ffmpeg reported: {}", shown.join("; "));
        if more > 0 {
            msg.push_str(&format!(" (and {more} more)"));
        }
        warnings.push(msg);
    }
    if !status.success() {
        warnings.push(format!(
            "ffmpeg stopped early ({status}); the audio may be incomplete"
        ));
    }
    Ok(Decoded {
        samples: wav.samples,
        sample_rate: wav.sample_rate,
        source_sample_rate: wav.sample_rate,
        source_channels: wav.channels,
        warnings,
        channels: wav.channel_samples,
    })
}

/// Reads a pipe to its end, keeping the first [`MAX_STDERR`] bytes as text.
fn drain(mut pipe: impl Read) -> String {
    let mut kept = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match pipe.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_STDERR.saturating_sub(kept.len());
                kept.extend_from_slice(&chunk[..n.min(room)]);
            }
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Audio read from ffmpeg's WAV output, mixed down to mono.
#[derive(Debug)]
struct MonoWav {
    samples: Vec<f32>,
    sample_rate: u32,
    channels: usize,
    channel_samples: Vec<Vec<f32>>,
}

#[derive(Debug)]
enum WavError {
    Io(io::Error),
    Invalid(String),
}

impl From<io::Error> for WavError {
    fn from(err: io::Error) -> Self {
        WavError::Io(err)
    }
}

/// Parses a 32-bit float WAV stream as ffmpeg writes it to a pipe (chunk sizes of the RIFF and
/// data chunks unknown, i.e. 0xFFFFFFFF: the data runs to the end of the stream) and averages
/// its channels.
fn read_wav_f32_mono(mut reader: impl Read, keep_channels: bool) -> Result<MonoWav, WavError> {
    let invalid = |msg: &str| WavError::Invalid(msg.to_string());
    let truncated = |err: io::Error| match err.kind() {
        io::ErrorKind::UnexpectedEof => WavError::Invalid("the WAV header is incomplete".into()),
        _ => WavError::Io(err),
    };
    let mut riff = [0u8; 12];
    reader.read_exact(&mut riff).map_err(truncated)?;
    if &riff[..4] != b"RIFF" || &riff[8..] != b"WAVE" {
        return Err(invalid("not a WAV stream"));
    }
    let mut format: Option<(u32, usize)> = None;
    loop {
        let mut header = [0u8; 8];
        reader.read_exact(&mut header).map_err(truncated)?;
        let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
        if &header[..4] == b"data" {
            let Some((sample_rate, channels)) = format else {
                return Err(invalid("data chunk before the format chunk"));
            };
            let mut split = super::ChannelSplit::new(keep_channels);
            let samples = read_frames_mono(&mut reader, channels, |frames| {
                split.add(frames, channels);
            })?;
            return Ok(MonoWav {
                samples,
                sample_rate,
                channels,
                channel_samples: split.finish(),
            });
        }
        // Any other chunk is small (format, metadata); refuse absurd sizes.
        if size > 1 << 20 {
            return Err(invalid("oversized header chunk"));
        }
        let mut body = vec![0u8; size as usize + (size as usize & 1)];
        reader.read_exact(&mut body).map_err(truncated)?;
        if &header[..4] == b"fmt " {
            format = Some(parse_fmt(&body).ok_or_else(|| invalid("unexpected sample format"))?);
        }
    }
}

/// (sample rate, channels) of a `fmt ` chunk describing 32-bit IEEE float samples.
fn parse_fmt(body: &[u8]) -> Option<(u32, usize)> {
    let u16_at = |i: usize| Some(u16::from_le_bytes([*body.get(i)?, *body.get(i + 1)?]));
    let tag = u16_at(0)?;
    let channels = usize::from(u16_at(2)?);
    let rate = u32::from_le_bytes(body.get(4..8)?.try_into().ok()?);
    let bits = u16_at(14)?;
    // WAVE_FORMAT_IEEE_FLOAT, or WAVE_FORMAT_EXTENSIBLE with the float sub-format.
    let float = tag == 3 || (tag == 0xFFFE && u16_at(24)? == 3);
    (float && bits == 32 && channels > 0 && rate > 0).then_some((rate, channels))
}

/// Reads interleaved f32 frames to the end of the stream, averaging the channels; `on_frames`
/// sees the interleaved frames first.
fn read_frames_mono(
    reader: &mut impl Read,
    channels: usize,
    mut on_frames: impl FnMut(&[f32]),
) -> io::Result<Vec<f32>> {
    let frame_bytes = channels * 4;
    let mut samples = Vec::new();
    let mut buf = vec![0u8; frame_bytes * 4096];
    let mut interleaved: Vec<f32> = Vec::with_capacity(channels * 4096);
    let mut filled = 0;
    loop {
        let n = match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(err),
        };
        filled += n;
        let whole = filled - filled % frame_bytes;
        interleaved.clear();
        interleaved.extend(
            buf[..whole]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        on_frames(&interleaved);
        let scale = 1.0 / channels as f32;
        samples.extend(
            interleaved
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() * scale),
        );
        buf.copy_within(whole..filled, 0);
        filled -= whole;
    }
    Ok(samples)
}

/// A file in the temporary directory holding in-memory input for ffmpeg; removed on drop.
pub(super) struct TempInput {
    path: PathBuf,
}

impl TempInput {
    /// Writes `bytes` to a new, uniquely named file. `extension` helps ffmpeg guess the format.
    pub(super) fn create(bytes: &[u8], extension: Option<&str>) -> io::Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let ext: String = extension
            .unwrap_or("bin")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(10)
            .collect();
        let dir = std::env::temp_dir();
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("stt-audio-{}-{n}.{ext}", std::process::id()));
            let mut file: File = match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => file,
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(err) => return Err(err),
            };
            let temp = TempInput { path };
            file.write_all(bytes)?;
            file.flush()?;
            return Ok(temp);
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "could not find a free temporary file name",
        ))
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempInput {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(tag: u16, channels: u16, frames: &[f32]) -> Vec<u8> {
        let mut out = b"RIFF\xff\xff\xff\xffWAVE".to_vec();
        out.extend_from_slice(b"fmt \x12\0\0\0");
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&channels.to_le_bytes());
        out.extend_from_slice(&8000u32.to_le_bytes());
        out.extend_from_slice(&(8000 * 4 * u32::from(channels)).to_le_bytes());
        out.extend_from_slice(&(4 * channels).to_le_bytes());
        out.extend_from_slice(&32u16.to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(b"LIST\x03\0\0\0abc\0");
        out.extend_from_slice(b"data\xff\xff\xff\xff");
        for x in frames {
            out.extend_from_slice(&x.to_le_bytes());
        }
        out
    }

    #[test]
    fn reads_ffmpeg_style_wav_and_averages_channels() {
        // Three stereo frames and a cut-off fourth one.
        let bytes = wav(3, 2, &[0.5, 0.25, -1.0, 1.0, 0.1, 0.3, 0.9]);
        let out = read_wav_f32_mono(&bytes[..], false).unwrap();
        assert_eq!((out.sample_rate, out.channels), (8000, 2));
        assert_eq!(out.samples, vec![0.375, 0.0, 0.2]);
        // One byte at a time, to exercise frames split across reads.
        struct Slow<'a>(&'a [u8]);
        impl Read for Slow<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let slow = read_wav_f32_mono(Slow(&bytes), false).unwrap();
        assert_eq!(slow.samples, out.samples);
    }

    #[test]
    fn rejects_other_sample_formats_and_garbage() {
        assert!(read_wav_f32_mono(&wav(1, 1, &[0.0])[..], false).is_err());
        assert!(read_wav_f32_mono(&b"RIFF"[..], false).is_err());
        assert!(read_wav_f32_mono(&b"hello world, not a wav file"[..], false).is_err());
    }
}
