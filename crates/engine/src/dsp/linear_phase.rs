//! The linear-phase three-band split: two windowed-sinc low-passes that share one centre, the
//! low band the lower low-pass, the mid band the difference of the two, the high band the
//! input delayed to that centre less the upper low-pass. The three bands add up to the input
//! delayed, exactly but for rounding, so a three-band compressor that does nothing nulls with
//! its latency-compensated input (the Linkwitz-Riley split sums only to an all-pass).
//!
//! Each low-pass falls across an octave centred on its crossover (−6 dB there, where the two
//! bands meet in phase), so its kernel is long for a low crossover and short for a high one:
//! the ringing before and after a transient lasts about as many cycles at every crossover.
//! Every kernel is padded to the length the lowest crossover needs at the rate, so the split's
//! latency depends on the rate only and moving a crossover never moves the audio in time.

use fft_convolver::FFTConvolver;

/// The lowest crossover the kernels are sized for: the low crossover's range starts here.
pub const LOWEST_CROSSOVER_HZ: f64 = 40.0;
/// What each low-pass leaves of the band it stops (dB).
const STOPBAND_DB: f64 = 60.0;
/// The transition band of each low-pass: from f/√2 to f·√2.
const TRANSITION_OCTAVES: f64 = 1.0;
/// Partitions the kernel is convolved in (its length over the partition size, rounded): fewer
/// cost latency, more cost time per sample.
const PARTITIONS: usize = 8;
const MIN_PARTITION: usize = 64;

/// The length (odd) of a low-pass at `crossover_hz`: Kaiser's estimate for the stopband and
/// the transition width.
fn taps_for(crossover_hz: f64, rate: f64) -> usize {
    let half = 2f64.powf(TRANSITION_OCTAVES / 2.0);
    let width = 2.0 * std::f64::consts::PI * crossover_hz * (half - 1.0 / half) / rate;
    let taps = ((STOPBAND_DB - 7.95) / (2.285 * width)).ceil() as usize + 1;
    taps | 1
}

/// The length (odd) of every kernel at `rate`: the lowest crossover's.
fn kernel_len(rate: f64) -> usize {
    taps_for(LOWEST_CROSSOVER_HZ, rate)
}

/// The partition size of the convolution at `rate`.
fn partition(rate: f64) -> usize {
    (kernel_len(rate) / PARTITIONS)
        .next_power_of_two()
        .max(MIN_PARTITION)
}

/// The split's delay is a whole number of these frames: the chain's control steps and the
/// limiter's detection groups then fall on the same frames of the programme whether the
/// limiter runs behind the split (playback) or on its output read ahead (offline render), so
/// the two stay identical to the bit.
pub const LATENCY_STEP: usize = 32;
const _: () = assert!(
    LATENCY_STEP.is_multiple_of(crate::chain::CONTROL_FRAMES)
        && LATENCY_STEP.is_multiple_of(crate::loudness::true_peak::GROUP)
);

/// The split's delay at `rate` (frames): the kernels' centre plus one partition, which the
/// convolution gathers before it can work on it, rounded up to a [`LATENCY_STEP`].
pub fn latency_frames(rate: f64) -> usize {
    ((kernel_len(rate) - 1) / 2 + partition(rate)).next_multiple_of(LATENCY_STEP)
}

/// The silence ahead of every kernel's first tap that rounds the delay up.
fn padding(rate: f64) -> usize {
    latency_frames(rate) - (kernel_len(rate) - 1) / 2 - partition(rate)
}

/// A linear-phase low-pass at `crossover_hz` (−6 dB there), `len` taps (odd) centred on
/// `(len − 1) / 2`: a Kaiser-windowed sinc as long as the crossover needs, zero beyond, its
/// gain at DC exactly 1.
pub fn low_pass_kernel(crossover_hz: f64, rate: f64, len: usize) -> Vec<f64> {
    debug_assert!(len % 2 == 1);
    let centre = (len - 1) / 2;
    let half = (taps_for(crossover_hz, rate).min(len) - 1) / 2;
    let beta = 0.1102 * (STOPBAND_DB - 8.7);
    let cutoff = crossover_hz / rate;
    let norm = super::bessel_i0(beta);
    let mut kernel = vec![0.0; len];
    for (n, tap) in kernel.iter_mut().enumerate() {
        let offset = n as f64 - centre as f64;
        if offset.abs() > half as f64 {
            continue;
        }
        let ratio = if half == 0 { 0.0 } else { offset / half as f64 };
        let window = super::bessel_i0(beta * (1.0 - ratio * ratio).max(0.0).sqrt()) / norm;
        let x = 2.0 * cutoff * offset;
        let sinc = if offset == 0.0 {
            1.0
        } else {
            (std::f64::consts::PI * x).sin() / (std::f64::consts::PI * x)
        };
        *tap = 2.0 * cutoff * sinc * window;
    }
    let dc: f64 = kernel.iter().sum();
    kernel.iter_mut().for_each(|tap| *tap /= dc);
    kernel
}

/// One frame out of the split: the bands, and the input they sum to, delayed alike.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SplitFrame {
    pub bands: [f64; 3],
    pub delayed: f64,
}

/// One channel's linear-phase split. Made off the audio thread (it allocates); `tick` and
/// `reset` never allocate.
#[derive(Debug, Clone)]
pub struct LinearPhaseSplit {
    /// The low-passes at the low and at the high crossover; none for a split that only
    /// delays (its bands are never used).
    low_passes: Option<[FFTConvolver<f64>; 2]>,
    /// The input gathered for the next partition.
    input: Vec<f64>,
    /// The input delayed to the kernels' centre, for the high band (a ring).
    delay: Vec<f64>,
    delay_at: usize,
    /// The last partition's bands and delayed input, read out while the next is gathered.
    bands: [Vec<f64>; 3],
    delayed: Vec<f64>,
    /// The low-passes' outputs over a partition.
    passed: [Vec<f64>; 2],
    fill: usize,
}

impl LinearPhaseSplit {
    pub fn new(low_hz: f64, high_hz: f64, rate: f64) -> Self {
        let (len, block, padding) = (kernel_len(rate), partition(rate), padding(rate));
        let convolver = |hz| {
            let mut kernel = vec![0.0; padding];
            kernel.extend(low_pass_kernel(hz, rate, len));
            let mut c = FFTConvolver::default();
            c.init(block, &kernel)
                .expect("the partition is never empty");
            c
        };
        Self {
            low_passes: Some([convolver(low_hz), convolver(high_hz)]),
            ..Self::delay_only(rate)
        }
    }

    /// A split whose bands are never read: its delayed input, to the bit what
    /// [`new`](Self::new)'s gives, without the convolution (a three-band compressor set to
    /// change nothing keeps the latency and does no more work than that).
    pub fn delay_only(rate: f64) -> Self {
        let (len, block, padding) = (kernel_len(rate), partition(rate), padding(rate));
        Self {
            low_passes: None,
            input: vec![0.0; block],
            delay: vec![0.0; (len - 1) / 2 + padding],
            delay_at: 0,
            bands: [(); 3].map(|_| vec![0.0; block]),
            delayed: vec![0.0; block],
            passed: [(); 2].map(|_| vec![0.0; block]),
            fill: 0,
        }
    }

    /// (low, mid, high) of the input [`latency_frames`] ago, and that input.
    #[inline]
    pub fn tick(&mut self, x: f64) -> SplitFrame {
        let at = self.fill;
        let out = SplitFrame {
            bands: [self.bands[0][at], self.bands[1][at], self.bands[2][at]],
            delayed: self.delayed[at],
        };
        self.input[at] = x;
        self.fill += 1;
        if self.fill == self.input.len() {
            self.split_partition();
            self.fill = 0;
        }
        out
    }

    /// The bands of a gathered partition.
    fn split_partition(&mut self) {
        for (delayed, &x) in self.delayed.iter_mut().zip(&self.input) {
            *delayed = std::mem::replace(&mut self.delay[self.delay_at], x);
            self.delay_at = (self.delay_at + 1) % self.delay.len();
        }
        let Some([low_pass, high_pass]) = &mut self.low_passes else {
            return;
        };
        let [passed_low, passed_high] = &mut self.passed;
        // Only a length mismatch fails, and every buffer here is one partition long.
        let _ = low_pass.process(&self.input, passed_low);
        let _ = high_pass.process(&self.input, passed_high);
        let [low, mid, high] = &mut self.bands;
        for i in 0..self.input.len() {
            low[i] = passed_low[i];
            mid[i] = passed_high[i] - passed_low[i];
            high[i] = self.delayed[i] - passed_high[i];
        }
    }

    /// Silence in every state, the kernels kept.
    pub fn reset(&mut self) {
        self.low_passes
            .iter_mut()
            .flatten()
            .for_each(FFTConvolver::reset);
        self.input.fill(0.0);
        self.delay.fill(0.0);
        self.delay_at = 0;
        self.bands.iter_mut().for_each(|b| b.fill(0.0));
        self.delayed.fill(0.0);
        self.fill = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The magnitude (dB) of `kernel` at `freq_hz`.
    fn response_db(kernel: &[f64], freq_hz: f64, rate: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq_hz / rate;
        let (re, im) = kernel
            .iter()
            .enumerate()
            .fold((0.0, 0.0), |(re, im), (n, &h)| {
                (re + h * (w * n as f64).cos(), im - h * (w * n as f64).sin())
            });
        10.0 * (re * re + im * im).log10()
    }

    #[test]
    fn each_low_pass_crosses_at_minus_6_db_and_stops_an_octave_on() {
        for rate in [44_100.0, 48_000.0, 96_000.0] {
            let len = kernel_len(rate);
            for hz in [LOWEST_CROSSOVER_HZ, 120.0, 1_000.0, 4_000.0] {
                let kernel = low_pass_kernel(hz, rate, len);
                let at = |f| response_db(&kernel, f, rate);
                assert!((at(hz) + 6.02).abs() < 0.1, "{hz} Hz at {rate}: {}", at(hz));
                assert!(at(hz / 4.0).abs() < 0.01, "{hz} Hz passband at {rate}");
                assert!(
                    at(hz * 2.0) < -STOPBAND_DB + 1.0,
                    "{hz} Hz stopband at {rate}"
                );
                // Symmetric about its centre: linear phase.
                assert!(kernel.iter().zip(kernel.iter().rev()).all(|(a, b)| a == b));
            }
        }
    }

    #[test]
    fn the_bands_add_up_to_the_input_delayed() {
        let rate = 48_000.0;
        let mut split = LinearPhaseSplit::new(120.0, 4_000.0, rate);
        let latency = latency_frames(rate);
        let mut seed = 1u32;
        let input: Vec<f64> = (0..3 * latency + 1_000)
            .map(|_| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                f64::from(seed) / f64::from(u32::MAX) - 0.5
            })
            .collect();
        let mut residual: f64 = 0.0;
        let mut energy: f64 = 0.0;
        for (n, &x) in input.iter().enumerate() {
            let frame = split.tick(x);
            let sum: f64 = frame.bands.iter().sum();
            let expected = n.checked_sub(latency).map_or(0.0, |k| input[k]);
            assert_eq!(frame.delayed, expected);
            residual = residual.max((sum - expected).abs());
            energy = energy.max(expected.abs());
        }
        assert!(energy > 0.4);
        assert!(
            20.0 * (residual / energy).log10() < -200.0,
            "residual {residual:e}"
        );
    }

    #[test]
    fn a_split_that_only_delays_delays_alike() {
        let rate = 48_000.0;
        let mut full = LinearPhaseSplit::new(120.0, 4_000.0, rate);
        let mut delay = LinearPhaseSplit::delay_only(rate);
        for n in 0..3 * latency_frames(rate) {
            let x = (n as f64 * 0.37).sin();
            let (a, b) = (full.tick(x), delay.tick(x));
            assert_eq!(a.delayed, b.delayed);
            assert_eq!(b.bands, [0.0; 3]);
        }
    }

    #[test]
    fn a_reset_split_starts_from_silence() {
        let rate = 44_100.0;
        let mut split = LinearPhaseSplit::new(200.0, 2_000.0, rate);
        let first: Vec<SplitFrame> = (0..5_000).map(|n| split.tick((n as f64).sin())).collect();
        split.reset();
        let again: Vec<SplitFrame> = (0..5_000).map(|n| split.tick((n as f64).sin())).collect();
        assert_eq!(first, again);
    }
}
