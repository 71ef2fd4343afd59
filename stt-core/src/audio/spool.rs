//! Decoded samples written once, in order, then read by range: in memory up to a size, then in
//! an unnamed temporary file, so that hours of audio cost disk rather than memory.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use super::SampleSource;
use crate::{Error, Result};

/// Samples kept in memory before a spool moves to a file (10 minutes at 16 kHz, 38 MB).
pub const MEMORY_SAMPLES: usize = 10 * 60 * 16_000;

/// 16 kHz samples, in memory or in a temporary file (deleted when this is dropped).
#[derive(Debug)]
pub struct Samples {
    len: usize,
    store: Store,
}

#[derive(Debug)]
enum Store {
    Memory(Vec<f32>),
    File(Mutex<File>),
}

impl Samples {
    /// Whether the samples are on disk.
    pub fn is_spooled(&self) -> bool {
        matches!(self.store, Store::File(_))
    }

    /// All the samples in memory.
    pub fn into_vec(self) -> Result<Vec<f32>> {
        match self.store {
            Store::Memory(samples) => Ok(samples),
            Store::File(_) => self.read_range(0..self.len),
        }
    }
}

impl SampleSource for Samples {
    fn len(&self) -> usize {
        self.len
    }

    fn read(&self, start: usize, out: &mut [f32]) -> Result<()> {
        match &self.store {
            Store::Memory(samples) => samples.read(start, out),
            Store::File(file) => {
                let mut file = file.lock().unwrap_or_else(|e| e.into_inner());
                let mut bytes = vec![0u8; out.len() * 4];
                file.seek(SeekFrom::Start(start as u64 * 4))
                    .and_then(|_| file.read_exact(&mut bytes))
                    .map_err(|e| Error::io(spool_dir(), e))?;
                for (sample, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
                    *sample = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                }
                Ok(())
            }
        }
    }
}

/// Writes a [`Samples`].
pub(crate) struct SpoolWriter {
    memory: Vec<f32>,
    /// Past this many samples in memory, the rest goes to a file.
    memory_limit: usize,
    file: Option<BufWriter<File>>,
    len: usize,
}

impl SpoolWriter {
    pub(crate) fn new(memory_limit: usize) -> Self {
        Self {
            memory: Vec::new(),
            memory_limit,
            file: None,
            len: 0,
        }
    }

    pub(crate) fn push(&mut self, samples: &[f32]) -> Result<()> {
        self.len += samples.len();
        if self.file.is_none() && self.memory.len() + samples.len() <= self.memory_limit {
            self.memory.extend_from_slice(samples);
            return Ok(());
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let mut file = BufWriter::with_capacity(1 << 16, temporary_file()?);
                write_samples(&mut file, &std::mem::take(&mut self.memory))?;
                self.file.insert(file)
            }
        };
        write_samples(file, samples)
    }

    pub(crate) fn finish(self) -> Result<Samples> {
        let store = match self.file {
            None => Store::Memory(self.memory),
            Some(file) => {
                let file = file
                    .into_inner()
                    .map_err(|e| Error::io(spool_dir(), e.into_error()))?;
                Store::File(Mutex::new(file))
            }
        };
        Ok(Samples {
            len: self.len,
            store,
        })
    }
}

fn write_samples(file: &mut BufWriter<File>, samples: &[f32]) -> Result<()> {
    for sample in samples {
        file.write_all(&sample.to_le_bytes())
            .map_err(|e| Error::io(spool_dir(), e))?;
    }
    Ok(())
}

fn spool_dir() -> PathBuf {
    std::env::temp_dir()
}

/// A new file in the temporary directory, unlinked at once where the system allows it: it
/// lives as long as its handle, and nothing is left behind by a crash.
fn temporary_file() -> Result<File> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = spool_dir();
    for _ in 0..100 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("stt-samples-{}-{n}.f32", std::process::id()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => {
                let _ = std::fs::remove_file(&path);
                return Ok(file);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(&dir, e)),
        }
    }
    Err(Error::io(
        &dir,
        io::Error::new(io::ErrorKind::AlreadyExists, "no free temporary file name"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spooled_samples_read_back_by_range() {
        let samples: Vec<f32> = (0..10_000).map(|i| i as f32 * 0.25).collect();
        for limit in [usize::MAX, 0, 4_000] {
            let mut writer = SpoolWriter::new(limit);
            for piece in samples.chunks(777) {
                writer.push(piece).unwrap();
            }
            let spool = writer.finish().unwrap();
            assert_eq!(spool.is_spooled(), limit != usize::MAX);
            assert_eq!(spool.len(), samples.len());
            assert_eq!(
                spool.read_range(3_990..4_010).unwrap(),
                &samples[3_990..4_010]
            );
            assert_eq!(spool.read_range(9_990..20_000).unwrap(), &samples[9_990..]);
            assert_eq!(spool.into_vec().unwrap(), samples);
        }
    }
}
