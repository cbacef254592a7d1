//! Unit conversions, in one place.

/// Decibels (of amplitude) to a linear amplitude factor.
#[inline]
pub fn db_to_amp(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// A linear amplitude to decibels; 0 gives `-inf`.
#[inline]
pub fn amp_to_db(amp: f64) -> f64 {
    20.0 * amp.log10()
}

/// A mean-square energy to decibels (10·log10); 0 gives `-inf`.
#[inline]
pub fn power_to_db(power: f64) -> f64 {
    10.0 * power.log10()
}

/// `Some(value)` when finite, `None` for ±inf and NaN: "undefined" for reports.
#[inline]
pub fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// A short lowercase name usable as a command-line id: `spotify`, `apple-music`, `phone`.
pub fn is_short_id(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_round_trips() {
        for db in [-120.0, -6.0, 0.0, 3.0, 20.0] {
            assert!((amp_to_db(db_to_amp(db)) - db).abs() < 1e-12);
        }
        assert!((db_to_amp(-6.020_599_913) - 0.5).abs() < 1e-9);
        assert_eq!(amp_to_db(0.0), f64::NEG_INFINITY);
        assert_eq!(finite(f64::NEG_INFINITY), None);
        assert_eq!(finite(-3.0), Some(-3.0));
        assert!(is_short_id("spotify-loud") && is_short_id("ebu-r128"));
        assert!(!is_short_id("") && !is_short_id("Apple Music"));
    }
}
