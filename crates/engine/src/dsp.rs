//! DSP building blocks shared by the chain, the monitor path and the analysers.

pub mod biquad;
pub mod dynamics;
pub mod flush;
pub mod linear_phase;

/// The zeroth-order modified Bessel function of the first kind (its power series), for
/// Kaiser windows.
pub fn bessel_i0(x: f64) -> f64 {
    let quarter = 0.25 * x * x;
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-17 * sum {
        term *= quarter / (k * k);
        sum += term;
        k += 1.0;
    }
    sum
}

/// The largest absolute sample, in independent lanes so it vectorises (a plain `fold` with
/// `f32::max` is one long dependency chain with NaN handling at every step, four times
/// slower over a whole programme). A NaN is passed over. Never inlined: folded into the
/// limiter's frame loop it lost its vector form (the limiter ran 11 % slower).
#[inline(never)]
pub fn abs_peak(samples: &[f32]) -> f32 {
    const LANES: usize = 16;
    let larger = |m: f32, x: f32| {
        let a = x.abs();
        if a > m { a } else { m }
    };
    let mut lanes = [0.0f32; LANES];
    let (chunks, tail) = samples.as_chunks::<LANES>();
    for chunk in chunks {
        for (m, &x) in lanes.iter_mut().zip(chunk) {
            *m = larger(*m, x);
        }
    }
    tail.iter().chain(&lanes).fold(0.0, |m, &x| larger(m, x))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bessel_series_meets_known_values() {
        // Abramowitz and Stegun, table 9.8.
        for (x, i0) in [
            (0.0, 1.0),
            (1.0, 1.266_065_877_752),
            (5.0, 27.239_871_823_6),
        ] {
            assert!((super::bessel_i0(x) - i0).abs() < 1e-9 * i0, "I0({x})");
        }
    }

    #[test]
    fn abs_peak_finds_the_largest_magnitude_anywhere() {
        let mut samples = vec![0.25f32; 1_003];
        assert_eq!(super::abs_peak(&samples), 0.25);
        for at in [0, 15, 16, 500, 1_000, 1_002] {
            samples[at] = -0.75;
            assert_eq!(super::abs_peak(&samples), 0.75, "at {at}");
            samples[at] = 0.25;
        }
        samples[7] = f32::NAN;
        assert_eq!(super::abs_peak(&samples), 0.25);
        assert_eq!(super::abs_peak(&[]), 0.0);
    }
}
