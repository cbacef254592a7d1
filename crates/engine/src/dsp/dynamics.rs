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

/// Linear amplitude to dB without the general-purpose `log10` (hot loops).
#[inline]
pub fn fast_amp_to_db(amp: f64) -> f64 {
    DB_PER_NEPER * amp.max(1e-12).ln()
}

/// dB to linear amplitude via `exp` (hot loops).
#[inline]
pub fn fast_db_to_amp(db: f64) -> f64 {
    (db / DB_PER_NEPER).exp()
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
