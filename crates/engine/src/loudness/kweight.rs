//! The BS.1770 K-weighting filter (high shelf + RLB high-pass) for any sample rate.
//!
//! Coefficients come from the analog prototypes by the bilinear transform, as libebur128
//! derives them, so every rate (not only 48 kHz) is weighted the same way.

/// One biquad's normalised coefficients (a0 = 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Biquad {
    pub b: [f64; 3],
    pub a: [f64; 2],
}

/// The two stages of K-weighting for `sample_rate`.
pub fn k_weighting(sample_rate: u32) -> [Biquad; 2] {
    let rate = f64::from(sample_rate);
    // Stage 1: the head's acoustic effect, a +4 dB high shelf around 1.7 kHz.
    let f0 = 1_681.974_450_955_533;
    let gain_db = 3.999_843_853_973_347;
    let q = 0.707_175_236_955_419_6;
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let vh = 10f64.powf(gain_db / 20.0);
    let vb = vh.powf(0.499_666_774_154_541_6);
    let a0 = 1.0 + k / q + k * k;
    let shelf = Biquad {
        b: [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    // Stage 2: the RLB high-pass at 38 Hz.
    let f0 = 38.135_470_876_024_44;
    let q = 0.500_327_037_323_877_3;
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let a0 = 1.0 + k / q + k * k;
    let high_pass = Biquad {
        b: [1.0, -2.0, 1.0],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
    };
    [shelf, high_pass]
}

impl Biquad {
    /// Magnitude response in dB at `freq_hz`.
    pub fn response_db(&self, freq_hz: f64, sample_rate: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * freq_hz / sample_rate;
        let (c1, s1, c2, s2) = (w.cos(), w.sin(), (2.0 * w).cos(), (2.0 * w).sin());
        let num_re = self.b[0] + self.b[1] * c1 + self.b[2] * c2;
        let num_im = -(self.b[1] * s1 + self.b[2] * s2);
        let den_re = 1.0 + self.a[0] * c1 + self.a[1] * c2;
        let den_im = -(self.a[0] * s1 + self.a[1] * s2);
        10.0 * ((num_re * num_re + num_im * num_im) / (den_re * den_re + den_im * den_im)).log10()
    }
}

/// Runs K-weighting over `LANES` channels at once and adds each 10 ms segment's squared
/// output to `segment_energy`, scaled by each lane's channel weight.
///
/// Processing channels side by side in one loop lets the CPU overlap their (serial) filter
/// recursions; the state is `f64` so quiet passages keep their precision.
pub fn weighted_segment_energy<const LANES: usize>(
    channels: [&[f32]; LANES],
    weights: [f64; LANES],
    filters: &[Biquad; 2],
    segment_ends: &[usize],
    segment_energy: &mut [f64],
) {
    let mut state = [KState::default(); LANES];
    weighted_segment_energy_from(
        &mut state,
        channels,
        weights,
        filters,
        segment_ends,
        segment_energy,
    );
}

/// The two K-weighting sections' state of one channel.
#[derive(Debug, Clone, Copy, Default)]
pub struct KState {
    s1: [f64; 2],
    s2: [f64; 2],
}

/// [`weighted_segment_energy`] continuing from (and updating) each lane's filter state: for
/// audio that arrives in blocks.
pub fn weighted_segment_energy_from<const LANES: usize>(
    state: &mut [KState; LANES],
    channels: [&[f32]; LANES],
    weights: [f64; LANES],
    filters: &[Biquad; 2],
    segment_ends: &[usize],
    segment_energy: &mut [f64],
) {
    let [f1, f2] = filters;
    let mut s1 = state.map(|s| s.s1);
    let mut s2 = state.map(|s| s.s2);
    let mut start = 0usize;
    for (energy, &end) in segment_energy.iter_mut().zip(segment_ends) {
        let mut sum = [0.0f64; LANES];
        #[allow(clippy::needless_range_loop)] // `n` indexes every lane's channel
        for n in start..end {
            for lane in 0..LANES {
                let x = f64::from(channels[lane][n]);
                // Transposed direct form II, twice.
                let y1 = f1.b[0] * x + s1[lane][0];
                s1[lane][0] = f1.b[1] * x - f1.a[0] * y1 + s1[lane][1];
                s1[lane][1] = f1.b[2] * x - f1.a[1] * y1;
                let y2 = f2.b[0] * y1 + s2[lane][0];
                s2[lane][0] = f2.b[1] * y1 - f2.a[0] * y2 + s2[lane][1];
                s2[lane][1] = f2.b[2] * y1 - f2.a[1] * y2;
                sum[lane] += y2 * y2;
            }
        }
        *energy += (0..LANES)
            .map(|lane| sum[lane] * weights[lane])
            .sum::<f64>();
        start = end;
    }
    for (lane, kept) in state.iter_mut().enumerate() {
        *kept = KState {
            s1: s1[lane],
            s2: s2[lane],
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BS.1770-4 Table 1 and 2 give the 48 kHz coefficients; the derivation must reproduce them.
    #[test]
    fn matches_bs1770_coefficients_at_48k() {
        let [shelf, hp] = k_weighting(48_000);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-8;
        assert!(close(shelf.b[0], 1.535_124_859_586_97));
        assert!(close(shelf.b[1], -2.691_696_189_406_38));
        assert!(close(shelf.b[2], 1.198_392_810_852_85));
        assert!(close(shelf.a[0], -1.690_659_293_182_41));
        assert!(close(shelf.a[1], 0.732_480_774_215_85));
        assert!(close(hp.a[0], -1.990_047_454_833_98));
        assert!(close(hp.a[1], 0.990_072_250_366_21));
    }

    #[test]
    fn response_has_the_k_shape() {
        for rate in [44_100.0, 48_000.0, 96_000.0] {
            let [shelf, hp] = k_weighting(rate as u32);
            let total = |f: f64| shelf.response_db(f, rate) + hp.response_db(f, rate);
            // +0.69 dB at 1 kHz is why BS.1770 subtracts 0.691 dB.
            assert!(
                (total(1_000.0) - 0.691).abs() < 0.03,
                "got {}",
                total(1_000.0)
            );
            assert!((total(10_000.0) - 4.0).abs() < 0.3, "+4 dB shelf at 10 kHz");
            assert!(total(20.0) < -10.0, "high-pass below 38 Hz");
        }
    }
}
