//! Integrated loudness of mono 48 kHz audio as ITU-R BS.1770-4 (EBU R 128) measures it:
//! K-weighting, 400 ms blocks every 100 ms, the absolute gate at -70 LUFS and the relative gate
//! 10 LU below the loudness of the blocks above it. Fed as the audio is made, so that hours of
//! it cost a number per 100 ms.

/// The K-weighting filters' coefficients at 48 kHz (BS.1770-4, table 1 and 2): a high shelf,
/// then a high pass. `([b0, b1, b2], [a1, a2])`.
const SHELF: ([f64; 3], [f64; 2]) = (
    [
        1.535_124_859_586_97,
        -2.691_696_189_406_38,
        1.198_392_810_852_85,
    ],
    [-1.690_659_293_182_41, 0.732_480_774_215_85],
);
const HIGH_PASS: ([f64; 3], [f64; 2]) = (
    [1.0, -2.0, 1.0],
    [-1.990_047_454_833_98, 0.990_072_250_366_21],
);

/// The rate the coefficients are for.
pub(super) const RATE: usize = 48_000;
/// 100 ms: blocks are four of these.
const STEP: usize = RATE / 10;

struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    z: [f64; 2],
}

impl Biquad {
    fn new((b, a): ([f64; 3], [f64; 2])) -> Self {
        Self { b, a, z: [0.0; 2] }
    }

    fn apply(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.z[0];
        self.z[0] = self.b[1] * x - self.a[0] * y + self.z[1];
        self.z[1] = self.b[2] * x - self.a[1] * y;
        y
    }
}

pub(super) struct LoudnessMeter {
    shelf: Biquad,
    high_pass: Biquad,
    /// The mean square of each whole 100 ms step so far.
    steps: Vec<f64>,
    sum: f64,
    count: usize,
    peak: f32,
}

impl LoudnessMeter {
    pub(super) fn new() -> Self {
        Self {
            shelf: Biquad::new(SHELF),
            high_pass: Biquad::new(HIGH_PASS),
            steps: Vec::new(),
            sum: 0.0,
            count: 0,
            peak: 0.0,
        }
    }

    pub(super) fn push(&mut self, samples: &[f32]) {
        for &x in samples {
            self.peak = self.peak.max(x.abs());
            let y = self.high_pass.apply(self.shelf.apply(f64::from(x)));
            self.sum += y * y;
            self.count += 1;
            if self.count == STEP {
                self.steps.push(self.sum / STEP as f64);
                (self.sum, self.count) = (0.0, 0);
            }
        }
    }

    /// The highest absolute sample value.
    pub(super) fn peak(&self) -> f32 {
        self.peak
    }

    /// Integrated loudness in LUFS; `None` for audio shorter than a block or gated away
    /// entirely (silence).
    pub(super) fn integrated(&self) -> Option<f64> {
        let loudness = |mean_square: f64| -0.691 + 10.0 * mean_square.log10();
        let blocks: Vec<f64> = self
            .steps
            .windows(4)
            .map(|w| w.iter().sum::<f64>() / 4.0)
            .filter(|&ms| ms > 0.0 && loudness(ms) > -70.0)
            .collect();
        if blocks.is_empty() {
            return None;
        }
        let relative = loudness(blocks.iter().sum::<f64>() / blocks.len() as f64) - 10.0;
        let kept: Vec<f64> = blocks
            .into_iter()
            .filter(|&ms| loudness(ms) > relative)
            .collect();
        Some(loudness(kept.iter().sum::<f64>() / kept.len() as f64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_at_minus_20_dbfs_measures_minus_23_lufs() {
        // BS.1770's reference: a 997 Hz sine at full scale in one channel reads -3.01 LUFS.
        let mut meter = LoudnessMeter::new();
        let sine: Vec<f32> = (0..RATE * 5)
            .map(|i| 0.1 * (2.0 * std::f32::consts::PI * 997.0 * i as f32 / RATE as f32).sin())
            .collect();
        meter.push(&sine);
        let lufs = meter.integrated().unwrap();
        assert!((lufs + 23.01).abs() < 0.05, "{lufs}");
        assert!((meter.peak() - 0.1).abs() < 1e-3);
    }

    #[test]
    fn silence_has_no_loudness() {
        let mut meter = LoudnessMeter::new();
        meter.push(&vec![0.0; RATE * 2]);
        assert_eq!(meter.integrated(), None);
    }
}
