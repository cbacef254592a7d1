//! Second-order sections (RBJ audio-EQ cookbook designs) and their analytic response.

use std::f64::consts::{PI, TAU};

use super::flush;

/// Normalised coefficients (a0 = 1): y = b0·x + b1·x₋₁ + b2·x₋₂ − a1·y₋₁ − a2·y₋₂.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficients {
    pub b0: f64,
    pub b1: f64,
    pub b2: f64,
    pub a1: f64,
    pub a2: f64,
}

impl Coefficients {
    /// Passes everything unchanged.
    pub const IDENTITY: Self = Self {
        b0: 1.0,
        b1: 0.0,
        b2: 0.0,
        a1: 0.0,
        a2: 0.0,
    };

    fn normalised(b: [f64; 3], a: [f64; 3]) -> Self {
        Self {
            b0: b[0] / a[0],
            b1: b[1] / a[0],
            b2: b[2] / a[0],
            a1: a[1] / a[0],
            a2: a[2] / a[0],
        }
    }

    fn omega(freq_hz: f64, sample_rate: f64) -> (f64, f64) {
        let w = TAU * freq_hz.clamp(1.0, sample_rate * 0.499) / sample_rate;
        (w.cos(), w.sin())
    }

    pub fn low_pass(freq_hz: f64, q: f64, sample_rate: f64) -> Self {
        let (cos, sin) = Self::omega(freq_hz, sample_rate);
        let alpha = sin / (2.0 * q);
        let b1 = 1.0 - cos;
        Self::normalised(
            [b1 / 2.0, b1, b1 / 2.0],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        )
    }

    pub fn high_pass(freq_hz: f64, q: f64, sample_rate: f64) -> Self {
        let (cos, sin) = Self::omega(freq_hz, sample_rate);
        let alpha = sin / (2.0 * q);
        let b1 = 1.0 + cos;
        Self::normalised(
            [b1 / 2.0, -b1, b1 / 2.0],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        )
    }

    /// Unity magnitude, phase turning through −180° at `freq_hz`. With q = 1/√2 it is the sum of
    /// the fourth-order Linkwitz-Riley low- and high-pass at `freq_hz`.
    pub fn all_pass(freq_hz: f64, q: f64, sample_rate: f64) -> Self {
        let (cos, sin) = Self::omega(freq_hz, sample_rate);
        let alpha = sin / (2.0 * q);
        Self::normalised(
            [1.0 - alpha, -2.0 * cos, 1.0 + alpha],
            [1.0 + alpha, -2.0 * cos, 1.0 - alpha],
        )
    }

    /// A bell: `gain_db` at `freq_hz`, bandwidth set by `q`.
    pub fn peaking(freq_hz: f64, gain_db: f64, q: f64, sample_rate: f64) -> Self {
        let (cos, sin) = Self::omega(freq_hz, sample_rate);
        let a = 10f64.powf(gain_db / 40.0);
        let alpha = sin / (2.0 * q);
        Self::normalised(
            [1.0 + alpha * a, -2.0 * cos, 1.0 - alpha * a],
            [1.0 + alpha / a, -2.0 * cos, 1.0 - alpha / a],
        )
    }

    pub fn low_shelf(freq_hz: f64, gain_db: f64, q: f64, sample_rate: f64) -> Self {
        let (cos, sin) = Self::omega(freq_hz, sample_rate);
        let a = 10f64.powf(gain_db / 40.0);
        let alpha = sin / (2.0 * q);
        let k = 2.0 * a.sqrt() * alpha;
        Self::normalised(
            [
                a * ((a + 1.0) - (a - 1.0) * cos + k),
                2.0 * a * ((a - 1.0) - (a + 1.0) * cos),
                a * ((a + 1.0) - (a - 1.0) * cos - k),
            ],
            [
                (a + 1.0) + (a - 1.0) * cos + k,
                -2.0 * ((a - 1.0) + (a + 1.0) * cos),
                (a + 1.0) + (a - 1.0) * cos - k,
            ],
        )
    }

    pub fn high_shelf(freq_hz: f64, gain_db: f64, q: f64, sample_rate: f64) -> Self {
        let (cos, sin) = Self::omega(freq_hz, sample_rate);
        let a = 10f64.powf(gain_db / 40.0);
        let alpha = sin / (2.0 * q);
        let k = 2.0 * a.sqrt() * alpha;
        Self::normalised(
            [
                a * ((a + 1.0) + (a - 1.0) * cos + k),
                -2.0 * a * ((a - 1.0) + (a + 1.0) * cos),
                a * ((a + 1.0) + (a - 1.0) * cos - k),
            ],
            [
                (a + 1.0) - (a - 1.0) * cos + k,
                2.0 * ((a - 1.0) - (a + 1.0) * cos),
                (a + 1.0) - (a - 1.0) * cos - k,
            ],
        )
    }

    /// Magnitude response in dB at `freq_hz`, from the transfer function.
    pub fn response_db(&self, freq_hz: f64, sample_rate: f64) -> f64 {
        let w = 2.0 * PI * freq_hz / sample_rate;
        let (c1, s1, c2, s2) = (w.cos(), w.sin(), (2.0 * w).cos(), (2.0 * w).sin());
        let num_re = self.b0 + self.b1 * c1 + self.b2 * c2;
        let num_im = -(self.b1 * s1 + self.b2 * s2);
        let den_re = 1.0 + self.a1 * c1 + self.a2 * c2;
        let den_im = -(self.a1 * s1 + self.a2 * s2);
        10.0 * ((num_re * num_re + num_im * num_im) / (den_re * den_re + den_im * den_im)).log10()
    }
}

/// Butterworth Q values for the sections of an even-order filter: order 2 → [0.707],
/// order 4 → [0.541, 1.307], order 8 → four sections.
pub fn butterworth_qs(order: usize) -> Vec<f64> {
    (0..order / 2).map(|k| butterworth_q(order, k)).collect()
}

/// The Q of section `k` of an even-order Butterworth filter (allocation-free).
pub fn butterworth_q(order: usize, k: usize) -> f64 {
    let angle = PI * (2 * k + 1) as f64 / (2 * order) as f64;
    1.0 / (2.0 * angle.sin())
}

/// One section's state (transposed direct form II, in f64 for low-frequency precision).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct State {
    s1: f64,
    s2: f64,
}

impl State {
    #[inline]
    pub fn tick(&mut self, c: &Coefficients, x: f64) -> f64 {
        let y = c.b0 * x + self.s1;
        // The input terms first: only the last subtraction waits on y, which keeps the
        // recursion (s1 → y → s1) three operations long instead of four.
        self.s1 = (c.b1 * x + self.s2) - c.a1 * y;
        self.s2 = c.b2 * x - c.a2 * y;
        y
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// Sets the state to zero where it has decayed below [`flush::STATE_FLOOR`].
    pub fn flush(&mut self) {
        self.s1 = flush::flushed(self.s1);
        self.s2 = flush::flushed(self.s2);
    }
}

/// A cascade of sections applied to one channel. Whoever runs it over audio that can fall
/// silent calls [`flush`](Self::flush) on the grid of a [`FlushClock`](super::flush::FlushClock).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cascade {
    pub sections: Vec<Coefficients>,
    states: Vec<State>,
}

impl Cascade {
    pub fn new(sections: Vec<Coefficients>) -> Self {
        let states = vec![State::default(); sections.len()];
        Self { sections, states }
    }

    #[inline]
    pub fn tick(&mut self, x: f64) -> f64 {
        self.sections
            .iter()
            .zip(self.states.iter_mut())
            .fold(x, |y, (c, s)| s.tick(c, y))
    }

    pub fn process(&mut self, samples: &mut [f32]) {
        for x in samples {
            *x = self.tick(f64::from(*x)) as f32;
        }
    }

    /// Sets the states that have decayed below [`flush::STATE_FLOOR`] to zero.
    pub fn flush(&mut self) {
        self.states.iter_mut().for_each(State::flush);
    }

    pub fn reset(&mut self) {
        self.states.iter_mut().for_each(State::reset);
    }

    pub fn response_db(&self, freq_hz: f64, sample_rate: f64) -> f64 {
        self.sections
            .iter()
            .map(|c| c.response_db(freq_hz, sample_rate))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a sine through the cascade and compares the measured gain with the formula.
    fn measured_db(cascade: &mut Cascade, freq_hz: f64, rate: f64) -> f64 {
        cascade.reset();
        let n = (rate * 2.0) as usize;
        let (mut sum_in, mut sum_out) = (0.0, 0.0);
        for i in 0..n {
            let x = (TAU * freq_hz * i as f64 / rate).sin();
            let y = cascade.tick(x);
            if i > n / 2 {
                sum_in += x * x;
                sum_out += y * y;
            }
        }
        10.0 * (sum_out / sum_in).log10()
    }

    #[test]
    fn measured_response_matches_the_transfer_function() {
        let rate = 48_000.0;
        let designs = [
            Coefficients::peaking(1_000.0, 2.0, 0.7, rate),
            Coefficients::peaking(3_000.0, -1.5, 2.0, rate),
            Coefficients::low_shelf(120.0, 1.5, 0.707, rate),
            Coefficients::high_shelf(8_000.0, -2.0, 0.707, rate),
            Coefficients::high_pass(40.0, 0.707, rate),
            Coefficients::low_pass(12_000.0, 0.707, rate),
        ];
        for c in designs {
            let mut cascade = Cascade::new(vec![c]);
            for f in [50.0, 200.0, 1_000.0, 3_000.0, 10_000.0] {
                let formula = c.response_db(f, rate);
                let measured = measured_db(&mut cascade, f, rate);
                assert!(
                    (formula - measured).abs() < 0.02,
                    "{c:?} at {f} Hz: {formula} vs {measured}"
                );
            }
        }
    }

    #[test]
    fn designs_hit_their_specified_points() {
        let rate = 44_100.0;
        assert!(
            (Coefficients::peaking(1_000.0, 2.0, 1.0, rate).response_db(1_000.0, rate) - 2.0).abs()
                < 1e-9
        );
        assert!(
            (Coefficients::low_shelf(100.0, 3.0, 0.707, rate).response_db(10.0, rate) - 3.0).abs()
                < 0.05
        );
        assert!(
            (Coefficients::high_shelf(5_000.0, -4.0, 0.707, rate).response_db(20_000.0, rate)
                + 4.0)
                .abs()
                < 0.1
        );
        let hp = Cascade::new(
            butterworth_qs(4)
                .iter()
                .map(|&q| Coefficients::high_pass(100.0, q, rate))
                .collect(),
        );
        assert!(
            (hp.response_db(100.0, rate) + 3.01).abs() < 0.02,
            "Butterworth −3 dB at the corner"
        );
        assert!(
            (hp.response_db(50.0, rate) + 24.1).abs() < 0.3,
            "24 dB/octave below"
        );
        assert_eq!(butterworth_qs(2).len(), 1);
        assert!((butterworth_qs(2)[0] - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-12);
    }
}
