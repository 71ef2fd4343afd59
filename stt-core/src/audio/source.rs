//! Reading 16 kHz samples by range, whether they are in memory or spooled to disk: the engine
//! reads long audio a window at a time through this, so its memory does not grow with length.

use std::ops::Range;

use crate::Result;

/// 16 kHz mono samples, read by range.
pub trait SampleSource: Sync {
    /// Number of samples.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies the samples `start..start + out.len()` into `out`; the range lies within
    /// `0..self.len()`.
    fn read(&self, start: usize, out: &mut [f32]) -> Result<()>;

    /// The samples of `range` (clamped to the length) in a new vector.
    fn read_range(&self, range: Range<usize>) -> Result<Vec<f32>> {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        let mut out = vec![0.0; end - start];
        self.read(start, &mut out)?;
        Ok(out)
    }
}

impl SampleSource for [f32] {
    fn len(&self) -> usize {
        <[f32]>::len(self)
    }

    fn read(&self, start: usize, out: &mut [f32]) -> Result<()> {
        out.copy_from_slice(&self[start..start + out.len()]);
        Ok(())
    }
}

impl SampleSource for Vec<f32> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn read(&self, start: usize, out: &mut [f32]) -> Result<()> {
        self.as_slice().read(start, out)
    }
}
