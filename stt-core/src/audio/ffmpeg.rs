//! Fallback decoder: the `ffmpeg` command-line tool, for formats symphonia cannot read (AVI,
//! WMA, AC-3, ...). ffmpeg mixes down and resamples to 16 kHz itself.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use super::SAMPLE_RATE;
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

/// Decodes `input` with `program` (normally [`FFMPEG`]) to 16 kHz mono.
pub(super) fn decode(program: &OsStr, input: &Path) -> Result<Decoded, FfmpegError> {
    // "file:" keeps ffmpeg from reading a name like "a:b.wav" or "-x.wav" as a protocol/option.
    let mut url = OsString::from("file:");
    url.push(input.as_os_str());
    let mut child = match Command::new(program)
        .args(["-nostdin", "-hide_banner", "-v", "error", "-i"])
        .arg(&url)
        .args(["-map", "0:a:0", "-vn", "-sn", "-dn", "-f", "f32le", "-ac", "1"])
        .args(["-ar", &SAMPLE_RATE.to_string(), "-"])
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
    let stderr_thread = child.stderr.take().map(|stderr| thread::spawn(move || drain(stderr)));
    let mut pcm = Vec::new();
    let read_result = match child.stdout.take() {
        Some(mut stdout) => stdout.read_to_end(&mut pcm).map(drop),
        None => Ok(()),
    };
    if read_result.is_err() {
        // Stop ffmpeg rather than wait for it to fill a pipe nobody reads.
        let _ = child.kill();
    }
    let status = child.wait().map_err(FfmpegError::Io)?;
    let stderr = stderr_thread
        .and_then(|handle| handle.join().ok())
        .unwrap_or_default();
    read_result.map_err(FfmpegError::Io)?;

    let samples: Vec<f32> = pcm
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let error_lines: Vec<&str> = stderr.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    if samples.is_empty() && !status.success() {
        if error_lines.iter().any(|l| l.contains("matches no streams")) {
            return Err(FfmpegError::NoAudioStream);
        }
        let last = error_lines
            .last()
            .map_or_else(|| format!("ffmpeg exited with {status}"), |l| l.to_string());
        return Err(FfmpegError::Failed(last));
    }

    let mut warnings = Vec::new();
    if !error_lines.is_empty() {
        let shown: Vec<&str> = error_lines.iter().take(3).copied().collect();
        let more = error_lines.len().saturating_sub(shown.len());
        let mut msg = format!("ffmpeg reported: {}", shown.join("; "));
        if more > 0 {
            msg.push_str(&format!(" (and {more} more)"));
        }
        warnings.push(msg);
    }
    if !status.success() {
        warnings.push(format!("ffmpeg stopped early ({status}); the audio may be incomplete"));
    }
    let (source_sample_rate, source_channels) = probe_stream(program, &url).unwrap_or((0, 0));
    Ok(Decoded {
        samples,
        sample_rate: SAMPLE_RATE,
        source_sample_rate,
        source_channels,
        warnings,
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

/// Sample rate and channel count of the first audio stream, from `ffprobe` next to `ffmpeg`.
/// Best effort: `None` if ffprobe is missing or says nothing useful.
fn probe_stream(ffmpeg: &OsStr, url: &OsStr) -> Option<(u32, usize)> {
    let ffmpeg = Path::new(ffmpeg);
    let ffprobe = match ffmpeg.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("ffprobe"),
        _ => PathBuf::from("ffprobe"),
    };
    let output = Command::new(ffprobe)
        .args(["-v", "error", "-select_streams", "a:0"])
        .args(["-show_entries", "stream=sample_rate,channels", "-of", "default=nw=1"])
        .arg(url)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let mut rate = None;
    let mut channels = None;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("sample_rate=") {
            rate = v.trim().parse().ok();
        } else if let Some(v) = line.strip_prefix("channels=") {
            channels = v.trim().parse().ok();
        }
    }
    Some((rate?, channels?))
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
