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

    /// A bell or shelf whose magnitude follows its analog prototype up to Nyquist. The
    /// cookbook's bilinear transform squeezes the whole analog frequency axis into the band
    /// below Nyquist (ω² = 4·t/(1 − t) with t = sin²(w/2)), so a bell at 15 kHz comes out
    /// narrower and lower above its centre than the analog EQ it models ("cramping").
    ///
    /// Here the map is a Möbius function of the same variable, ω² ≈ α·t/(1 − β·t), with α and
    /// β chosen so it is exact at the centre and at 0.8 × Nyquist, and finite at Nyquist.
    /// Under any such map the squared magnitude of each analog quadratic factor becomes a
    /// quadratic in t over the same (1 − β·t)², which cancels between numerator and
    /// denominator; each quadratic is a non-negative trigonometric polynomial and factors
    /// (Fejér–Riesz) into the minimum-phase digital section. DC is exact; elsewhere the
    /// magnitude errs only by the map's frequency error, zero at the centre and small up to
    /// Nyquist.
    pub fn matched(prototype: &AnalogPrototype, freq_hz: f64, sample_rate: f64) -> Self {
        let w0 = TAU * freq_hz.max(1.0) / sample_rate;
        let (alpha, beta) = frequency_map(w0);
        let numerator = matched_quadratic(prototype.num, alpha / (w0 * w0), beta);
        let denominator = matched_quadratic(prototype.den, alpha / (w0 * w0), beta);
        let scale = 1.0 / denominator[0];
        Self {
            b0: numerator[0] * scale,
            b1: numerator[1] * scale,
            b2: numerator[2] * scale,
            a1: denominator[1] * scale,
            a2: denominator[2] * scale,
        }
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

/// Where [`Coefficients::matched`]'s frequency map is exact besides the centre (radians per
/// sample): 0.8 × Nyquist, chosen by measuring the worst error against the analog curves up
/// to 20 kHz at 44.1 and 48 kHz (0.75 and 0.85 do worse).
const MAP_UPPER: f64 = 0.8 * PI;

/// α and β of the map ω² ≈ α·t/(1 − β·t), t = sin²(w/2), exact at `centre` (radians per
/// sample; held a little under [`MAP_UPPER`]) and at [`MAP_UPPER`]. For a low centre it is
/// exact at DC in the limit (α → 4, the bilinear map's slope there).
fn frequency_map(centre: f64) -> (f64, f64) {
    let (low, high) = (centre.min(0.9 * MAP_UPPER), MAP_UPPER);
    let (t_low, t_high) = ((low / 2.0).sin().powi(2), (high / 2.0).sin().powi(2));
    // α·t + β·t·ω² = ω² at both frequencies.
    let det = t_low * t_high * (high * high - low * low);
    let alpha = (low * low * t_high * high * high - high * high * t_low * low * low) / det;
    let beta = (t_low * high * high - t_high * low * low) / det;
    (alpha, beta)
}

/// The digital quadratic `[c0, c1, c2]` (z⁻¹ powers) whose squared magnitude is that of the
/// analog factor `f0 + f1·s + f2·s²` under ω²/ω0² = k·t/(1 − β·t), times (1 − β·t)².
fn matched_quadratic(factor: [f64; 3], k: f64, beta: f64) -> [f64; 3] {
    let [f0, f1, f2] = factor;
    // |F(jx)|² = f0² + m·x² + f2²·x⁴ with x² = k·t/(1 − β·t); times (1 − β·t)²:
    let m = f1 * f1 - 2.0 * f0 * f2;
    let p0 = f0 * f0;
    let p1 = m * k - 2.0 * beta * p0;
    let p2 = beta * beta * p0 - m * k * beta + f2 * f2 * k * k;
    // The same polynomial as C0·(1 − t) + C1·t + C2·4t(1 − t), the squared magnitude of
    // c0 + c1·z⁻¹ + c2·z⁻² with C0 = (c0 + c1 + c2)², C1 = (c0 − c1 + c2)², C2 = −4·c0·c2.
    let big_c2 = -p2 / 4.0;
    let big_c0 = p0;
    let big_c1 = (p0 + p1 + p2).max(0.0);
    let (at_dc, at_nyquist) = (big_c0.sqrt(), big_c1.sqrt());
    let mean = 0.5 * (at_dc + at_nyquist);
    // The larger root keeps the zeros inside the unit circle (minimum phase).
    let c0 = 0.5 * (mean + (mean * mean + big_c2).max(0.0).sqrt());
    [c0, 0.5 * (at_dc - at_nyquist), -big_c2 / (4.0 * c0)]
}

/// A second-order analog transfer function, `gain · (n2·s² + n1·s + n0) / (d2·s² + d1·s + d0)`,
/// with `s` normalised to the centre frequency. The cookbook's bells and shelves are
/// bilinear transforms of these.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalogPrototype {
    /// Numerator, `[n0, n1, n2]` (gain included).
    pub num: [f64; 3],
    /// Denominator, `[d0, d1, d2]`.
    pub den: [f64; 3],
}

impl AnalogPrototype {
    /// The cookbook bell: `(s² + s·A/Q + 1) / (s² + s/(A·Q) + 1)`, A = 10^(gain/40).
    pub fn peaking(gain_db: f64, q: f64) -> Self {
        let a = 10f64.powf(gain_db / 40.0);
        Self {
            num: [1.0, a / q, 1.0],
            den: [1.0, 1.0 / (a * q), 1.0],
        }
    }

    /// The cookbook low shelf: `A·(s² + s·√A/Q + A) / (A·s² + s·√A/Q + 1)`.
    pub fn low_shelf(gain_db: f64, q: f64) -> Self {
        let a = 10f64.powf(gain_db / 40.0);
        let k = a.sqrt() / q;
        Self {
            num: [a * a, a * k, a],
            den: [1.0, k, a],
        }
    }

    /// The cookbook high shelf: `A·(A·s² + s·√A/Q + 1) / (s² + s·√A/Q + A)`.
    pub fn high_shelf(gain_db: f64, q: f64) -> Self {
        let a = 10f64.powf(gain_db / 40.0);
        let k = a.sqrt() / q;
        Self {
            num: [a, a * k, a * a],
            den: [a, k, 1.0],
        }
    }

    /// |H(jx)|² at `x` times the centre frequency.
    pub fn power(&self, x: f64) -> f64 {
        let squared = |c: [f64; 3]| (c[0] - c[2] * x * x).powi(2) + (c[1] * x).powi(2);
        squared(self.num) / squared(self.den)
    }

    /// Magnitude in dB at `freq_hz` for a prototype centred on `centre_hz`.
    pub fn response_db(&self, freq_hz: f64, centre_hz: f64) -> f64 {
        10.0 * self.power(freq_hz / centre_hz).log10()
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
            Coefficients::matched(&AnalogPrototype::peaking(3.0, 1.5), 10_000.0, rate),
            Coefficients::matched(&AnalogPrototype::low_shelf(-2.0, 0.707), 150.0, rate),
            Coefficients::matched(&AnalogPrototype::high_shelf(2.0, 0.5), 12_000.0, rate),
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

    /// The worst |digital − analog| in dB, 10 Hz–20 kHz, over gains ±1…6 dB, the given Qs
    /// and centres from 20 Hz up to `max_centre_hz`.
    fn worst_matched_error(
        prototype: fn(f64, f64) -> AnalogPrototype,
        qs: &[f64],
        rate: f64,
        max_centre_hz: f64,
    ) -> (f64, String) {
        let mut worst = (0.0, String::new());
        for &gain in &[-6.0, -3.0, -1.0, 1.0, 3.0, 6.0] {
            for &q in qs {
                // 20 Hz up in 5 % steps, and the highest centre itself.
                let centres = (0..)
                    .map(|k| 20.0 * 1.05f64.powi(k))
                    .take_while(|&c| c < max_centre_hz)
                    .chain([max_centre_hz]);
                for centre in centres {
                    let analog = prototype(gain, q);
                    let digital = Coefficients::matched(&analog, centre, rate);
                    let mut f = 10.0;
                    while f <= 20_000.0 {
                        let error =
                            (digital.response_db(f, rate) - analog.response_db(f, centre)).abs();
                        if error > worst.0 {
                            worst = (
                                error,
                                format!("{gain} dB, Q {q}, {centre:.0} Hz at {f:.0} Hz"),
                            );
                        }
                        f *= 1.02;
                    }
                }
            }
        }
        worst
    }

    const MATCHED_QS: [f64; 8] = [0.3, 0.5, 0.707, 1.0, 1.5, 2.0, 3.0, 4.0];

    #[test]
    fn matched_bells_follow_the_analog_prototype_to_20_khz() {
        for rate in [44_100.0, 48_000.0] {
            // The bounds are 0.5 dB (centres to 12 kHz) and 1 dB (to 16 kHz); measured
            // 0.24 and 0.38 dB.
            let (error, at) =
                worst_matched_error(AnalogPrototype::peaking, &MATCHED_QS, rate, 12_000.0);
            assert!(error <= 0.3, "{rate} Hz: {error:.3} dB off ({at})");
            let (error, at) =
                worst_matched_error(AnalogPrototype::peaking, &MATCHED_QS, rate, 16_000.0);
            assert!(error <= 0.45, "{rate} Hz: {error:.3} dB off ({at})");
        }
    }

    #[test]
    fn matched_shelves_follow_the_analog_prototype_to_20_khz() {
        for rate in [44_100.0, 48_000.0] {
            for shelf in [AnalogPrototype::low_shelf, AnalogPrototype::high_shelf] {
                // Measured 0.46 and 0.66 dB (resonant Q 4 shelves) against 0.5 and 1 dB.
                let (error, at) = worst_matched_error(shelf, &MATCHED_QS, rate, 12_000.0);
                assert!(error <= 0.5, "{rate} Hz: {error:.3} dB off ({at})");
                let (error, at) = worst_matched_error(shelf, &MATCHED_QS, rate, 16_000.0);
                assert!(error <= 0.7, "{rate} Hz: {error:.3} dB off ({at})");
            }
        }
    }

    #[test]
    fn matched_design_undoes_the_cookbook_cramping() {
        // The bell that showed it: 15 kHz, +4 dB, Q 1.5, read at 18 kHz at 44.1 kHz.
        let rate = 44_100.0;
        let analog = AnalogPrototype::peaking(4.0, 1.5).response_db(18_000.0, 15_000.0);
        let cookbook = Coefficients::peaking(15_000.0, 4.0, 1.5, rate).response_db(18_000.0, rate);
        let matched = Coefficients::matched(&AnalogPrototype::peaking(4.0, 1.5), 15_000.0, rate)
            .response_db(18_000.0, rate);
        assert!((analog - 3.06).abs() < 0.01, "analog {analog}");
        assert!((cookbook - 0.84).abs() < 0.01, "cookbook {cookbook}");
        assert!(
            (matched - analog).abs() < 0.3,
            "matched {matched} vs {analog}"
        );
    }

    #[test]
    fn matched_design_is_exact_where_cramping_does_not_reach() {
        // Low centres at high rates: the map's precision, not its shape, is what is tested.
        for rate in [96_000.0, 192_000.0] {
            for centre in [20.0, 60.0, 250.0] {
                let analog = AnalogPrototype::low_shelf(3.0, 0.707);
                let digital = Coefficients::matched(&analog, centre, rate);
                for f in [5.0, 20.0, 60.0, 250.0, 1_000.0] {
                    let error = digital.response_db(f, rate) - analog.response_db(f, centre);
                    assert!(
                        error.abs() < 0.01,
                        "{rate} Hz, {centre} Hz at {f} Hz: {error}"
                    );
                }
            }
        }
    }
}
