//! Gain computers and envelope followers for compressors and limiters.

#[cfg(test)]
use crate::units::amp_to_db;
use crate::units::db_to_amp;

/// One-pole smoothing coefficient for a time constant in milliseconds.
pub fn time_coefficient(time_ms: f64, sample_rate: f64) -> f64 {
    if time_ms <= 0.0 {
        0.0
    } else {
        (-1.0 / (time_ms * 0.001 * sample_rate)).exp()
    }
}

/// A compressor's static curve: gain reduction in dB (≥ 0) for an input level in dB, with a
/// quadratic soft knee `knee_db` wide centred on the threshold.
pub fn static_reduction_db(level_db: f64, threshold_db: f64, ratio: f64, knee_db: f64) -> f64 {
    let over = level_db - threshold_db;
    let slope = 1.0 - 1.0 / ratio.max(1.0);
    if knee_db > 0.0 && over.abs() <= knee_db / 2.0 {
        slope * (over + knee_db / 2.0).powi(2) / (2.0 * knee_db)
    } else if over > 0.0 {
        slope * over
    } else {
        0.0
    }
}

/// Linear amplitude to dB for hot loops (a compressor's detector, every frame): the
/// exponent read from the bits and a short series for the mantissa, within 2e-9 dB of
/// `20 log10` for any amplitude from 1e-12 up (tested). libm's `ln` cost more than the rest of
/// the compressor.
#[inline]
pub fn fast_amp_to_db(amp: f64) -> f64 {
    DB_PER_NEPER * fast_ln(amp.max(1e-12))
}

/// dB to linear amplitude for hot loops (a compressor's gain, every frame): within 1e-9
/// relative of `10^(dB/20)` over ±300 dB (tested), and exactly 1 at 0 dB, so a compressor
/// that is not reducing stays bit-transparent.
#[inline]
pub fn fast_db_to_amp(db: f64) -> f64 {
    fast_exp2(db * LOG2_10_OVER_20)
}

/// log2(10) / 20: dB to the exponent of 2.
const LOG2_10_OVER_20: f64 = 0.166_096_404_744_368_12;

/// 2^x for |x| up to about 1000: x = n + f with n whole and |f| ≤ ½; 2^f by its Taylor series
/// to the 9th power (remainder below 3e-12 relative), 2^n put straight into the exponent bits.
#[inline]
fn fast_exp2(x: f64) -> f64 {
    // Adding 1.5·2^52 rounds to a whole number in the low mantissa bits (no libm `round`,
    // which is a call on baseline x86-64).
    const ROUNDER: f64 = 6_755_399_441_055_744.0;
    let x = x.clamp(-1000.0, 1000.0);
    let shifted = x + ROUNDER;
    let n = shifted - ROUNDER;
    let t = (x - n) * std::f64::consts::LN_2;
    // e^t, Horner form, coefficients 1/k!.
    let mut p = 1.0 / 362_880.0;
    for inverse_factorial in [
        1.0 / 40_320.0,
        1.0 / 5_040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        p = p * t + inverse_factorial;
    }
    let whole = (shifted.to_bits() as i64).wrapping_sub(ROUNDER.to_bits() as i64);
    let scale = f64::from_bits(((whole + 1023) as u64) << 52);
    p * scale
}

/// ln x for finite x > 0 (normal numbers): x = m·2^e with m in [√½, √2), and
/// ln m = 2·atanh((m − 1)/(m + 1)) by its series to the 13th power (|t| ≤ 0.172, remainder
/// below 1e-12).
#[inline]
fn fast_ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7FF) as i64 - 1023;
    let mut mantissa = f64::from_bits((bits & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000);
    if mantissa > std::f64::consts::SQRT_2 {
        mantissa *= 0.5;
        exponent += 1;
    }
    let t = (mantissa - 1.0) / (mantissa + 1.0);
    let t2 = t * t;
    let mut series = 1.0 / 13.0;
    for odd in [11.0, 9.0, 7.0, 5.0, 3.0, 1.0] {
        series = series * t2 + 1.0 / odd;
    }
    2.0 * t * series + exponent as f64 * std::f64::consts::LN_2
}

/// [`fast_amp_to_db`] in single precision, for a compressor's gain computer (within 2e-5 dB
/// from 1e-12 up, tested): four frames to a vector on any x86-64, where the f64 version does
/// two.
#[inline]
pub fn fast_amp_to_db_f32(amp: f32) -> f32 {
    let x = amp.max(1e-12);
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xFF) as i32 - 127;
    let mantissa = f32::from_bits((bits & 0x007F_FFFF) | 0x3F80_0000);
    // m in [√½, √2): halve the mantissa and count one more in the exponent above √2.
    let above = mantissa > std::f32::consts::SQRT_2;
    let mantissa = if above { mantissa * 0.5 } else { mantissa };
    let exponent = exponent + i32::from(above);
    let t = (mantissa - 1.0) / (mantissa + 1.0);
    let t2 = t * t;
    // 2·atanh(t) to the 9th power: |t| ≤ 0.172 leaves less than 1e-9.
    let series = (((t2 / 9.0 + 1.0 / 7.0) * t2 + 1.0 / 5.0) * t2 + 1.0 / 3.0) * t2 + 1.0;
    let ln = 2.0 * t * series + exponent as f32 * std::f32::consts::LN_2;
    DB_PER_NEPER as f32 * ln
}

/// [`fast_db_to_amp`] in single precision (within 5e-7 relative, −126 dB, over ±60 dB, a gain
/// computer's range, tested; exactly 1 at 0 dB).
#[inline]
pub fn fast_db_to_amp_f32(db: f32) -> f32 {
    let x = (db * LOG2_10_OVER_20 as f32).clamp(-126.0, 126.0);
    // 1.5·2^23 rounds to a whole number in the low mantissa bits.
    const ROUNDER: f32 = 12_582_912.0;
    let shifted = x + ROUNDER;
    let n = shifted - ROUNDER;
    let t = (x - n) * std::f32::consts::LN_2;
    // e^t to the 7th power for |t| ≤ 0.347: below 1e-8.
    let p = ((((((t / 5_040.0 + 1.0 / 720.0) * t + 1.0 / 120.0) * t + 1.0 / 24.0) * t
        + 1.0 / 6.0)
        * t
        + 0.5)
        * t
        + 1.0)
        * t
        + 1.0;
    let whole = (shifted.to_bits() as i32).wrapping_sub(ROUNDER.to_bits() as i32);
    p * f32::from_bits(((whole + 127) as u32) << 23)
}

/// A feed-forward peak compressor with a soft knee, attack and release, stereo-linked: one
/// gain for all channels of a frame. Allocation-free; state is one envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Compressor {
    threshold_db: f64,
    ratio: f64,
    knee_db: f64,
    attack: f64,
    release: f64,
    /// Smoothed gain reduction in dB (≥ 0).
    reduction_db: f64,
    /// Below this linear level the static curve gives no reduction.
    knee_start_amp: f64,
}

/// dB per neper of amplitude: 20 / ln 10 (dB = this × ln(amplitude)).
const DB_PER_NEPER: f64 = 8.685_889_638_065_035;

impl Compressor {
    pub fn new(
        threshold_db: f64,
        ratio: f64,
        knee_db: f64,
        attack_ms: f64,
        release_ms: f64,
        sample_rate: f64,
    ) -> Self {
        Self {
            threshold_db,
            ratio: ratio.max(1.0),
            knee_db: knee_db.max(0.0),
            attack: time_coefficient(attack_ms, sample_rate),
            release: time_coefficient(release_ms, sample_rate),
            reduction_db: 0.0,
            knee_start_amp: db_to_amp(threshold_db - knee_db.max(0.0) / 2.0),
        }
    }

    /// Static curve: gain reduction in dB for an input level in dB.
    pub fn static_reduction_db(&self, level_db: f64) -> f64 {
        static_reduction_db(level_db, self.threshold_db, self.ratio, self.knee_db)
    }

    /// The linear gain for a frame whose (linked) detector level is `peak` (linear).
    #[inline]
    pub fn gain_for(&mut self, peak: f64) -> f64 {
        // Below the knee with nothing left to release: unity, without logarithms.
        if peak < self.knee_start_amp && self.reduction_db < 1e-9 {
            self.reduction_db = 0.0;
            return 1.0;
        }
        let target = self.static_reduction_db(fast_amp_to_db(peak));
        let coefficient = if target > self.reduction_db {
            self.attack
        } else {
            self.release
        };
        self.reduction_db = target + coefficient * (self.reduction_db - target);
        fast_db_to_amp(-self.reduction_db)
    }

    /// Current gain reduction in dB, for meters.
    pub fn reduction_db(&self) -> f64 {
        self.reduction_db
    }

    pub fn reset(&mut self) {
        self.reduction_db = 0.0;
    }

    /// Sets a reduction that has decayed below the floor to zero (see [`super::flush`]).
    pub fn flush(&mut self) {
        self.reduction_db = super::flush::flushed(self.reduction_db);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_db_conversions_match_the_exact_ones() {
        assert_eq!(fast_db_to_amp(0.0), 1.0);
        assert_eq!(fast_db_to_amp(-0.0), 1.0);
        let mut worst_amp = 0.0f64;
        let mut worst_db = 0.0f64;
        for i in -30_000..=30_000 {
            // Uneven steps, so the points do not all fall on whole exponents of 2.
            let db = f64::from(i) * 0.010_037;
            let exact = 10f64.powf(db / 20.0);
            worst_amp = worst_amp.max((fast_db_to_amp(db) / exact - 1.0).abs());
            if db >= -240.0 {
                worst_db = worst_db.max((fast_amp_to_db(exact) - db).abs());
            }
        }
        assert!(
            worst_amp < 1e-9,
            "dB → amplitude off by {worst_amp:e} relative"
        );
        assert!(worst_db < 2e-9, "amplitude → dB off by {worst_db:e} dB");
        assert!((fast_amp_to_db(0.0) - (-240.0)).abs() < 1e-6);
        // Single precision, for the compressor's gain computer.
        assert_eq!(fast_db_to_amp_f32(0.0), 1.0);
        let (mut worst_amp, mut worst_db) = (0.0f64, 0.0f64);
        for i in -6_000..=6_000 {
            // The input as the f32 it is given as.
            let db = f64::from((f64::from(i) * 0.010_037) as f32);
            let exact = 10f64.powf(db / 20.0);
            let amp = f64::from(fast_db_to_amp_f32(db as f32));
            worst_amp = worst_amp.max((amp / exact - 1.0).abs());
            let back = f64::from(fast_amp_to_db_f32(exact as f32));
            worst_db = worst_db.max((back - db).abs());
        }
        assert!(worst_amp < 5e-7, "f32 dB → amplitude off by {worst_amp:e}");
        assert!(worst_db < 2e-5, "f32 amplitude → dB off by {worst_db:e} dB");
        assert!((fast_amp_to_db(1.0)).abs() < 1e-15);
    }

    #[test]
    fn a_step_settles_to_the_static_curve_with_its_time_constants() {
        let rate = 48_000.0;
        let mut c = Compressor::new(-20.0, 4.0, 0.0, 5.0, 100.0, rate);
        assert!(
            (c.static_reduction_db(-8.0) - 9.0).abs() < 1e-12,
            "12 dB over at 4:1 → 9 dB"
        );
        // −12 dBFS steady: 8 dB over → 6 dB reduction.
        let mut gain = 1.0;
        for _ in 0..(rate * 0.005) as usize {
            gain = c.gain_for(db_to_amp(-12.0));
        }
        // After one attack time constant: 63 % of the way.
        assert!(
            (c.reduction_db() - 6.0 * (1.0 - (-1.0f64).exp())).abs() < 0.05,
            "{}",
            c.reduction_db()
        );
        for _ in 0..(rate * 0.1) as usize {
            gain = c.gain_for(db_to_amp(-12.0));
        }
        assert!((amp_to_db(gain) + 6.0).abs() < 0.01);
        // Release: after 100 ms of silence, 37 % of the reduction remains.
        for _ in 0..(rate * 0.1) as usize {
            c.gain_for(0.0);
        }
        assert!(
            (c.reduction_db() - 6.0 * (-1.0f64).exp()).abs() < 0.05,
            "{}",
            c.reduction_db()
        );
        let mut soft = Compressor::new(-20.0, 4.0, 6.0, 1.0, 50.0, rate);
        assert!(soft.static_reduction_db(-20.0) > 0.0 && soft.static_reduction_db(-24.0) < 1e-12);
        soft.reset();
        assert_eq!(soft.reduction_db(), 0.0);
    }
}
