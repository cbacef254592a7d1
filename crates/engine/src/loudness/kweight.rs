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
    let mut start = 0usize;
    for (energy, &end) in segment_energy.iter_mut().zip(segment_ends) {
        let sums = filter_lanes(state, channels.map(|c| &c[start..end]), filters);
        *energy += (0..LANES)
            .map(|lane| sums[lane] * weights[lane])
            .sum::<f64>();
        start = end;
    }
}

/// K-weights `LANES` equally long inputs side by side, continuing from each lane's state;
/// the sum of each lane's squared output. The inner loop of every K-weighting here.
#[inline(always)]
fn filter_lanes<const LANES: usize>(
    state: &mut [KState; LANES],
    inputs: [&[f32]; LANES],
    filters: &[Biquad; 2],
) -> [f64; LANES] {
    let [f1, f2] = filters;
    let mut s1 = state.map(|s| s.s1);
    let mut s2 = state.map(|s| s.s2);
    let mut sum = [0.0f64; LANES];
    let len = inputs.iter().map(|i| i.len()).min().unwrap_or(0);
    #[allow(clippy::needless_range_loop)] // `n` indexes every lane's input
    for n in 0..len {
        for lane in 0..LANES {
            let x = f64::from(inputs[lane][n]);
            // Transposed direct form II, twice; the input terms first, so only the last
            // subtraction waits on the output (a shorter recursion).
            let y1 = f1.b[0] * x + s1[lane][0];
            s1[lane][0] = (f1.b[1] * x + s1[lane][1]) - f1.a[0] * y1;
            s1[lane][1] = f1.b[2] * x - f1.a[1] * y1;
            let y2 = f2.b[0] * y1 + s2[lane][0];
            s2[lane][0] = (f2.b[1] * y1 + s2[lane][1]) - f2.a[0] * y2;
            s2[lane][1] = f2.b[2] * y1 - f2.a[1] * y2;
            sum[lane] += y2 * y2;
        }
    }
    for (lane, kept) in state.iter_mut().enumerate() {
        *kept = KState {
            s1: s1[lane],
            s2: s2[lane],
        };
    }
    sum
}

/// [`weighted_segment_energy`] for a pair of channels, faster on long programmes: each
/// channel is cut in two halves filtered side by side, so four filter recursions are in
/// flight instead of two. The second half's filters start one second early (`warm_up`
/// samples, the rate): the K filters forget their start within a few thousand samples
/// (their slowest pole decays by e in about 200 samples at 48 kHz), so after a second their
/// state is the one the first half hands over, to rounding.
pub fn weighted_segment_energy_pair(
    channels: [&[f32]; 2],
    weights: [f64; 2],
    filters: &[Biquad; 2],
    segment_ends: &[usize],
    warm_up: usize,
    segment_energy: &mut [f64],
) {
    let segments = segment_ends.len();
    let half = segments / 2;
    let start_of = |k: usize| if k == 0 { 0 } else { segment_ends[k - 1] };
    let mid = start_of(half);
    // Too short to be worth it: one pass.
    if half == 0 || mid < 4 * warm_up {
        weighted_segment_energy(channels, weights, filters, segment_ends, segment_energy);
        return;
    }
    let [left, right] = channels;
    let mut first = [KState::default(); 2];
    let mut second = [KState::default(); 2];
    let warm = mid - warm_up..mid;
    filter_lanes(&mut second, [&left[warm.clone()], &right[warm]], filters);
    for k in 0..half {
        let (a, b) = (
            start_of(k)..segment_ends[k],
            start_of(half + k)..segment_ends[half + k],
        );
        let len = a.len().min(b.len());
        let mut state = [first[0], first[1], second[0], second[1]];
        let sums = filter_lanes(
            &mut state,
            [
                &left[a.start..a.start + len],
                &right[a.start..a.start + len],
                &left[b.start..b.start + len],
                &right[b.start..b.start + len],
            ],
            filters,
        );
        first = [state[0], state[1]];
        second = [state[2], state[3]];
        let mut energy_a = sums[0] * weights[0] + sums[1] * weights[1];
        let mut energy_b = sums[2] * weights[0] + sums[3] * weights[1];
        // Segments of a rate that is not a multiple of 100 Hz differ by a sample.
        for (range, state, energy) in [
            (a.start + len..a.end, &mut first, &mut energy_a),
            (b.start + len..b.end, &mut second, &mut energy_b),
        ] {
            if !range.is_empty() {
                let rest = filter_lanes(state, [&left[range.clone()], &right[range]], filters);
                *energy += rest[0] * weights[0] + rest[1] * weights[1];
            }
        }
        segment_energy[k] += energy_a;
        segment_energy[half + k] += energy_b;
    }
    // An odd count leaves the last segment to the second half.
    if segments % 2 == 1 {
        let last = start_of(segments - 1)..segment_ends[segments - 1];
        let rest = filter_lanes(&mut second, [&left[last.clone()], &right[last]], filters);
        segment_energy[segments - 1] += rest[0] * weights[0] + rest[1] * weights[1];
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

    #[test]
    fn two_halves_side_by_side_give_the_one_pass_energies() {
        for rate in [44_100u32, 48_000, 22_050, 96_000] {
            let frames = rate as usize * 9 + 1_234;
            let left: Vec<f32> = (0..frames)
                .map(|n| (n as f32 * 0.013).sin() * 0.5 + (n as f32 * 0.0007).cos() * 0.3)
                .collect();
            let right: Vec<f32> = left.iter().map(|x| -0.7 * x + 0.01).collect();
            let ends = crate::loudness::segment_ends(frames, rate);
            let filters = k_weighting(rate);
            let mut one = vec![0.0; ends.len()];
            weighted_segment_energy([&left, &right], [1.0, 1.0], &filters, &ends, &mut one);
            let mut sliced = vec![0.0; ends.len()];
            weighted_segment_energy_pair(
                [&left, &right],
                [1.0, 1.0],
                &filters,
                &ends,
                rate as usize,
                &mut sliced,
            );
            for (k, (a, b)) in one.iter().zip(&sliced).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-9 * a.abs().max(1e-12),
                    "{rate} Hz segment {k}: {a} vs {b}"
                );
            }
        }
    }
}
