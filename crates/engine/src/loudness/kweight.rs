//! The BS.1770 K-weighting filter (high shelf + RLB high-pass) for any sample rate.
//!
//! Coefficients come from the analog prototypes by the bilinear transform, as libebur128
//! derives them, so every rate (not only 48 kHz) is weighted the same way.

use crate::dsp::flush::flush_all;

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

impl KState {
    /// Sets states that silence has decayed below the floor to zero (see
    /// [`crate::dsp::flush`]).
    fn flush(&mut self) {
        flush_all(&mut self.s1);
        flush_all(&mut self.s2);
    }
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
/// the sum of each lane's squared output. The inner loop of every K-weighting here: with
/// AVX2 and FMA (checked at run time) four lanes share a vector and each step of the
/// recursion is one fused multiply-add. Its inputs are at most a 10 ms segment long, so the
/// states are flushed out of the subnormal range after each (a programme's digital silence
/// measured twice as slowly as music without it).
fn filter_lanes<const LANES: usize>(
    state: &mut [KState; LANES],
    inputs: [&[f32]; LANES],
    filters: &[Biquad; 2],
) -> [f64; LANES] {
    let sums = filter_lanes_unflushed(state, inputs, filters);
    state.iter_mut().for_each(KState::flush);
    sums
}

fn filter_lanes_unflushed<const LANES: usize>(
    state: &mut [KState; LANES],
    inputs: [&[f32]; LANES],
    filters: &[Biquad; 2],
) -> [f64; LANES] {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        if let (Ok(eight), Ok(inputs)) = (
            <&mut [KState; 8]>::try_from(&mut state[..]),
            <[&[f32]; 8]>::try_from(&inputs[..]),
        ) {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            #[allow(unsafe_code)]
            let sums = unsafe { filter_eight_lanes_avx2(eight, inputs, filters) };
            return std::array::from_fn(|lane| sums[lane]);
        }
        // SAFETY: as above.
        #[allow(unsafe_code)]
        return unsafe { filter_lanes_fma(state, inputs, filters) };
    }
    filter_lanes_with::<LANES, false>(state, inputs, filters)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn filter_lanes_fma<const LANES: usize>(
    state: &mut [KState; LANES],
    inputs: [&[f32]; LANES],
    filters: &[Biquad; 2],
) -> [f64; LANES] {
    filter_lanes_with::<LANES, true>(state, inputs, filters)
}

/// [`filter_lanes_with`] (fused) for eight lanes as two vectors of four: the same operations
/// in the same order, so each lane's result is bit for bit the one it gets alone.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn filter_eight_lanes_avx2(
    state: &mut [KState; 8],
    inputs: [&[f32]; 8],
    filters: &[Biquad; 2],
) -> [f64; 8] {
    use std::arch::x86_64::{
        __m256d, _mm_set_ps, _mm256_cvtps_pd, _mm256_fmadd_pd, _mm256_mul_pd, _mm256_set_pd,
        _mm256_set1_pd, _mm256_setzero_pd, _mm256_storeu_pd,
    };
    let len = inputs.iter().map(|i| i.len()).min().unwrap_or(0);
    let inputs = inputs.map(|i| &i[..len]);
    // Each coefficient in all four lanes, the feedback ones negated: b0, b1, b2, −a1, −a2.
    let splat = |f: &Biquad| [f.b[0], f.b[1], f.b[2], -f.a[0], -f.a[1]].map(|c| _mm256_set1_pd(c));
    let [b10, b11, b12, na10, na11] = splat(&filters[0]);
    let [b20, b21, b22, na20, na21] = splat(&filters[1]);
    // Lanes 0–3 and 4–7: each state variable of four lanes in one vector.
    let gather = |g: usize, value: fn(&KState) -> f64| {
        let s = &state[4 * g..4 * g + 4];
        _mm256_set_pd(value(&s[3]), value(&s[2]), value(&s[1]), value(&s[0]))
    };
    let mut shelf0 = [gather(0, |s| s.s1[0]), gather(1, |s| s.s1[0])];
    let mut shelf1 = [gather(0, |s| s.s1[1]), gather(1, |s| s.s1[1])];
    let mut hp0 = [gather(0, |s| s.s2[0]), gather(1, |s| s.s2[0])];
    let mut hp1 = [gather(0, |s| s.s2[1]), gather(1, |s| s.s2[1])];
    let mut sum = [_mm256_setzero_pd(); 2];
    for n in 0..len {
        for g in 0..2 {
            let i = &inputs[4 * g..4 * g + 4];
            let x = _mm256_cvtps_pd(_mm_set_ps(i[3][n], i[2][n], i[1][n], i[0][n]));
            let y1 = _mm256_fmadd_pd(b10, x, shelf0[g]);
            shelf0[g] = _mm256_fmadd_pd(na10, y1, _mm256_fmadd_pd(b11, x, shelf1[g]));
            shelf1[g] = _mm256_fmadd_pd(na11, y1, _mm256_mul_pd(b12, x));
            let y2 = _mm256_fmadd_pd(b20, y1, hp0[g]);
            hp0[g] = _mm256_fmadd_pd(na20, y2, _mm256_fmadd_pd(b21, y1, hp1[g]));
            hp1[g] = _mm256_fmadd_pd(na21, y2, _mm256_mul_pd(b22, y1));
            sum[g] = _mm256_fmadd_pd(y2, y2, sum[g]);
        }
    }
    let lanes = |v: [__m256d; 2]| {
        let mut out = [0.0f64; 8];
        for (g, v) in v.into_iter().enumerate() {
            // SAFETY: `out[4 * g..]` holds at least four f64 (g is 0 or 1).
            #[allow(unsafe_code)]
            unsafe {
                _mm256_storeu_pd(out[4 * g..].as_mut_ptr(), v);
            }
        }
        out
    };
    let (s10, s11, s20, s21) = (lanes(shelf0), lanes(shelf1), lanes(hp0), lanes(hp1));
    for (lane, kept) in state.iter_mut().enumerate() {
        *kept = KState {
            s1: [s10[lane], s11[lane]],
            s2: [s20[lane], s21[lane]],
        };
    }
    lanes(sum)
}

#[inline(always)]
fn filter_lanes_with<const LANES: usize, const FMA: bool>(
    state: &mut [KState; LANES],
    inputs: [&[f32]; LANES],
    filters: &[Biquad; 2],
) -> [f64; LANES] {
    // a × b + c, fused where the CPU has it (a fused multiply-add without FMA hardware is a
    // slow library call).
    #[inline(always)]
    fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
        if FMA { a.mul_add(b, c) } else { a * b + c }
    }
    let [f1, f2] = filters;
    let mut sum = [0.0f64; LANES];
    let len = inputs.iter().map(|i| i.len()).min().unwrap_or(0);
    #[allow(clippy::needless_range_loop)] // `n` indexes every lane's input
    for n in 0..len {
        for (lane, (KState { s1, s2 }, total)) in state.iter_mut().zip(&mut sum).enumerate() {
            let x = f64::from(inputs[lane][n]);
            // Transposed direct form II, twice; the input terms first, so only the last step
            // waits on the output (a shorter recursion).
            let y1 = madd::<FMA>(f1.b[0], x, s1[0]);
            s1[0] = madd::<FMA>(-f1.a[0], y1, madd::<FMA>(f1.b[1], x, s1[1]));
            s1[1] = madd::<FMA>(-f1.a[1], y1, f1.b[2] * x);
            let y2 = madd::<FMA>(f2.b[0], y1, s2[0]);
            s2[0] = madd::<FMA>(-f2.a[0], y2, madd::<FMA>(f2.b[1], y1, s2[1]));
            s2[1] = madd::<FMA>(-f2.a[1], y2, f2.b[2] * y1);
            *total = madd::<FMA>(y2, y2, *total);
        }
    }
    sum
}

/// Stretches of a long programme filtered side by side by [`weighted_segment_energy_pair`].
const PARTS: usize = 4;

/// [`weighted_segment_energy`] for a pair of channels, faster on long programmes: the
/// segments are cut into `PARTS` runs filtered side by side, so eight filter recursions are
/// in flight instead of two. Each run after the first starts its filters one second early
/// (`warm_up` samples, the rate): the K filters forget their start within a few thousand
/// samples (their slowest pole decays by e in about 200 samples at 48 kHz), so after a second
/// their state is the one the run before hands over, to rounding.
pub fn weighted_segment_energy_pair(
    channels: [&[f32]; 2],
    weights: [f64; 2],
    filters: &[Biquad; 2],
    segment_ends: &[usize],
    warm_up: usize,
    segment_energy: &mut [f64],
) {
    let segments = segment_ends.len();
    let per_part = segments / PARTS;
    let start_of = |k: usize| if k == 0 { 0 } else { segment_ends[k - 1] };
    // Too short to be worth it: one pass.
    if per_part == 0 || start_of(per_part) < 4 * warm_up {
        weighted_segment_energy(channels, weights, filters, segment_ends, segment_energy);
        return;
    }
    let [left, right] = channels;
    let pair = |range: std::ops::Range<usize>| [&left[range.clone()], &right[range]];
    let weighted = |sums: [f64; 2]| sums[0] * weights[0] + sums[1] * weights[1];
    let mut states = [[KState::default(); 2]; PARTS];
    for (part, state) in states.iter_mut().enumerate().skip(1) {
        let from = start_of(part * per_part);
        filter_lanes(state, pair(from - warm_up..from), filters);
    }
    for k in 0..per_part {
        let ranges: [std::ops::Range<usize>; PARTS] = std::array::from_fn(|part| {
            let segment = part * per_part + k;
            start_of(segment)..segment_ends[segment]
        });
        // Segments of a rate that is not a multiple of 100 Hz differ by a sample.
        let len = ranges.iter().map(|r| r.len()).min().unwrap_or(0);
        let mut lanes: [KState; 2 * PARTS] = std::array::from_fn(|i| states[i / 2][i % 2]);
        let inputs: [&[f32]; 2 * PARTS] = std::array::from_fn(|i| {
            let channel = if i % 2 == 0 { left } else { right };
            let start = ranges[i / 2].start;
            &channel[start..start + len]
        });
        let sums = filter_lanes(&mut lanes, inputs, filters);
        for (part, range) in ranges.into_iter().enumerate() {
            let state = &mut states[part];
            *state = [lanes[2 * part], lanes[2 * part + 1]];
            let mut energy = weighted([sums[2 * part], sums[2 * part + 1]]);
            if range.len() > len {
                energy += weighted(filter_lanes(
                    state,
                    pair(range.start + len..range.end),
                    filters,
                ));
            }
            segment_energy[part * per_part + k] += energy;
        }
    }
    // The segments past the last run's share continue its filters.
    let last = &mut states[PARTS - 1];
    for segment in PARTS * per_part..segments {
        let range = start_of(segment)..segment_ends[segment];
        segment_energy[segment] += weighted(filter_lanes(last, pair(range), filters));
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

    /// Eight lanes at once (the vector kernel where the CPU has one) give each lane exactly
    /// what it gets filtered alone, its state included.
    #[test]
    fn eight_lanes_side_by_side_match_each_lane_alone() {
        let filters = k_weighting(44_100);
        let signals: Vec<Vec<f32>> = (0..8)
            .map(|lane| {
                (0..5_000)
                    .map(|n| ((n * (lane + 3)) as f32 * 0.011).sin() * (0.1 + 0.1 * lane as f32))
                    .collect()
            })
            .collect();
        let mut together = [KState::default(); 8];
        let sums = filter_lanes(
            &mut together,
            std::array::from_fn(|lane| &signals[lane][..]),
            &filters,
        );
        for lane in 0..8 {
            let mut alone = [KState::default()];
            let sum = filter_lanes(&mut alone, [&signals[lane][..]], &filters);
            assert_eq!(sums[lane].to_bits(), sum[0].to_bits(), "lane {lane}");
            assert_eq!(format!("{:?}", together[lane]), format!("{:?}", alone[0]));
            assert!(sum[0] > 1.0, "lane {lane} carries signal");
        }
    }

    #[test]
    fn runs_side_by_side_give_the_one_pass_energies() {
        for rate in [44_100u32, 48_000, 22_050, 96_000] {
            let frames = rate as usize * 20 + 1_234;
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
