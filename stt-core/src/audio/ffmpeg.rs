//! Fallback decoder: the `ffmpeg` command-line tool, for formats symphonia cannot read (AVI,
//! WMA, AC-3, ...).
//!
//! The input goes to ffmpeg through its standard input, and ffmpeg may open nothing else: only
//! the `pipe` protocol and a list of single-file demuxers are allowed, so a playlist, a concat
//! list or a session description naming other files or addresses is refused. It runs under a
//! memory limit and a deadline. It writes 32-bit float WAV to a pipe at the source's own rate
//! and channel count, which goes into the same [`Sink`] as the built-in decoders' output.

use std::ffi::OsStr;
use std::io::{self, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::decode::Decoded;
use super::sink::{Sink, check_declared};
use super::{DecodeOptions, Input};
use crate::Error;

/// The ffmpeg program looked up on `PATH`.
pub(super) const FFMPEG: &str = "ffmpeg";

/// At most this much of ffmpeg's stderr is kept for messages (the rest is drained and dropped).
const MAX_STDERR: usize = 16 * 1024;

/// Demuxers ffmpeg may use: containers of one audio (or video) stream that never name another
/// file or address. Everything symphonia reads is here too, for files it fails on.
const DEMUXERS: &str = "aac,ac3,aiff,amr,amrnb,amrwb,ape,asf,au,avi,caf,dts,eac3,flac,flv,\
g722,g723_1,g726,g726le,g729,gsm,ircam,matroska,mlp,mov,mp3,mpc,mpc8,mpeg,mpegts,nut,ogg,\
rm,shorten,sox,tak,truehd,tta,voc,w64,wav,wsaud,wv,xwma";

/// Address space ffmpeg may use (data segment): decoding audio needs a small part of it.
const MEMORY_LIMIT: u64 = 1 << 30;

/// How long ffmpeg may run; every real file decodes far sooner.
const DEADLINE: Duration = Duration::from_secs(600);

#[derive(Debug)]
pub(super) enum FfmpegError {
    /// The program could not be started (not installed / not on `PATH`).
    NotInstalled,
    /// ffmpeg found no audio stream in the input.
    NoAudioStream,
    /// ffmpeg ran but produced no audio; the message is its last error line.
    Failed(String),
    /// Talking to the process failed.
    Io(io::Error),
    /// The audio is refused (sample rate, length).
    Refused(Error),
}

/// Decodes the first audio stream of `input` with `program` (normally [`FFMPEG`]).
pub(super) fn decode(
    program: &OsStr,
    input: &Input<'_>,
    options: &DecodeOptions,
) -> Result<Decoded, FfmpegError> {
    let mut command = Command::new(program);
    command
        .args(["-hide_banner", "-v", "error"])
        .args(["-protocol_whitelist", "pipe", "-format_whitelist", DEMUXERS])
        // One decoding thread: audio needs no more, and thread stacks count against the limit.
        .args(["-threads", "1"])
        .args(["-i", "pipe:0"])
        .args(["-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1"])
        .args(["-c:a", "pcm_f32le", "-f", "wav", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    limit_memory(&mut command);
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Err(FfmpegError::NotInstalled),
        Err(err) => return Err(FfmpegError::Io(err)),
    };

    // Feed stdin and drain stderr on their own threads so that no pipe can block ffmpeg.
    let feeder = child.stdin.take().map(|stdin| {
        let source = input.reopen();
        thread::spawn(move || feed(source, stdin))
    });
    let stderr_thread = child
        .stderr
        .take()
        .map(|stderr| thread::spawn(move || drain(stderr)));
    let watchdog = Watchdog::start(child.id());
    let parsed = match child.stdout.take() {
        Some(stdout) => read_wav(BufReader::with_capacity(1 << 16, stdout), options),
        None => Err(WavError::Invalid("no output pipe".into())),
    };
    if parsed.is_err() {
        // Stop ffmpeg rather than wait for it to fill a pipe nobody reads.
        let _ = child.kill();
    }
    let status = child.wait().map_err(FfmpegError::Io)?;
    let timed_out = watchdog.stop();
    if let Some(feeder) = feeder {
        let _ = feeder.join();
    }
    let stderr = stderr_thread
        .and_then(|handle| handle.join().ok())
        .unwrap_or_default();
    let error_lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if timed_out {
        return Err(FfmpegError::Failed(format!(
            "decoding took longer than {} s",
            DEADLINE.as_secs()
        )));
    }

    let sink = match parsed {
        Err(WavError::Refused(error)) => return Err(FfmpegError::Refused(error)),
        Ok(sink) if sink.frames() > 0 || status.success() => sink,
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
                (None, _) => FfmpegError::Failed(format!("ffmpeg exited with {status}")),
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
        source_sample_rate: sink.rate(),
        source_channels: sink.channels(),
        sink: (sink.frames() > 0).then_some(sink),
        warnings,
    })
}

/// Copies the input to ffmpeg's standard input; ffmpeg closing it early is not an error.
fn feed(source: io::Result<Box<dyn Read + Send>>, mut stdin: impl Write) {
    if let Ok(mut source) = source {
        let _ = io::copy(&mut source, &mut stdin);
    }
}

/// Caps ffmpeg's data segment (its heap), so that hostile input cannot exhaust memory.
#[cfg(unix)]
fn limit_memory(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec only setrlimit runs, which is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: MEMORY_LIMIT as libc::rlim_t,
                rlim_max: MEMORY_LIMIT as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn limit_memory(_command: &mut Command) {}

/// Kills ffmpeg at the [`DEADLINE`] unless stopped first.
struct Watchdog {
    stop: mpsc::Sender<()>,
    fired: thread::JoinHandle<bool>,
}

impl Watchdog {
    fn start(pid: u32) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let fired = thread::spawn(move || {
            if stopped.recv_timeout(DEADLINE) != Err(mpsc::RecvTimeoutError::Timeout) {
                return false;
            }
            kill(pid);
            true
        });
        Self { stop, fired }
    }

    /// Whether the deadline killed ffmpeg.
    fn stop(self) -> bool {
        let _ = self.stop.send(());
        self.fired.join().unwrap_or(false)
    }
}

#[cfg(unix)]
fn kill(pid: u32) {
    // SAFETY: only sends a signal. It goes to ffmpeg: the watchdog fires at the deadline while
    // ffmpeg runs and is stopped right after `wait` reaps it (only that instant could see a
    // reused pid).
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill(_pid: u32) {}

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

#[derive(Debug)]
enum WavError {
    Invalid(String),
    Io(io::Error),
    Refused(Error),
}

impl From<io::Error> for WavError {
    fn from(err: io::Error) -> Self {
        WavError::Io(err)
    }
}

/// Parses a 32-bit float WAV stream as ffmpeg writes it to a pipe (chunk sizes of the RIFF and
/// data chunks unknown, i.e. 0xFFFFFFFF: the data runs to the end of the stream) into a sink.
fn read_wav(mut reader: impl Read, options: &DecodeOptions) -> Result<Sink, WavError> {
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
            check_declared(sample_rate, None, options).map_err(WavError::Refused)?;
            let mut sink = Sink::new(sample_rate, channels, options).map_err(WavError::Refused)?;
            read_frames(&mut reader, channels, &mut sink)?;
            return Ok(sink);
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

/// Reads interleaved f32 frames to the end of the stream into the sink.
fn read_frames(reader: &mut impl Read, channels: usize, sink: &mut Sink) -> Result<(), WavError> {
    let frame_bytes = channels * 4;
    let mut buf = vec![0u8; frame_bytes * 4096];
    let mut interleaved: Vec<f32> = Vec::with_capacity(channels * 4096);
    let mut filled = 0;
    loop {
        let n = match reader.read(&mut buf[filled..]) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(WavError::Io(err)),
        };
        filled += n;
        let whole = filled - filled % frame_bytes;
        interleaved.clear();
        interleaved.extend(
            buf[..whole]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        sink.push(&interleaved).map_err(WavError::Refused)?;
        buf.copy_within(whole..filled, 0);
        filled -= whole;
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
        out.extend_from_slice(&16000u32.to_le_bytes());
        out.extend_from_slice(&(16000 * 4 * u32::from(channels)).to_le_bytes());
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

    fn mono(bytes: impl Read) -> Vec<f32> {
        let (mono, _) = read_wav(bytes, &DecodeOptions::default())
            .unwrap()
            .finish()
            .unwrap();
        mono.into_vec().unwrap()
    }

    #[test]
    fn reads_ffmpeg_style_wav_and_averages_channels() {
        // Three stereo frames and a cut-off fourth one.
        let bytes = wav(3, 2, &[0.5, 0.25, -1.0, 1.0, 0.1, 0.3, 0.9]);
        assert_eq!(mono(&bytes[..]), vec![0.375, 0.0, 0.2]);
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
        assert_eq!(mono(Slow(&bytes)), vec![0.375, 0.0, 0.2]);
    }

    #[test]
    fn rejects_other_sample_formats_and_garbage() {
        let options = DecodeOptions::default();
        assert!(read_wav(&wav(1, 1, &[0.0])[..], &options).is_err());
        assert!(read_wav(&b"RIFF"[..], &options).is_err());
        assert!(read_wav(&b"hello world, not a wav file"[..], &options).is_err());
    }
}
