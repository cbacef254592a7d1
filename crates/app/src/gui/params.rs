//! The chain's continuous settings as the desk's controls move them. The table itself (name,
//! unit, what the engine accepts, what a control offers, default) is the engine's
//! [`crest_engine::chain::params`], which `ChainSettings::validate` reads too; this adds where
//! a value sits on a slider.

pub use crest_engine::chain::{BandParam, Param, Spec};

/// Slider positions run 0..=1; a normal drag moves in thousandths, Shift in ten-thousandths.
pub const STEP: f64 = 0.001;
pub const FINE_STEP: f64 = 0.0001;

/// Where a value sits on a control's slider (logarithmic for frequencies and times).
pub trait Slider {
    /// Slider position (0..=1) of a value.
    fn position(&self, value: f64) -> f64;
    /// The value at a slider position, rounded to the decimals shown.
    fn value_at(&self, position: f64) -> f64;
}

impl Slider for Spec {
    fn position(&self, value: f64) -> f64 {
        let v = value.clamp(self.min, self.max);
        if self.log {
            (v / self.min).ln() / (self.max / self.min).ln()
        } else {
            (v - self.min) / (self.max - self.min)
        }
    }

    fn value_at(&self, position: f64) -> f64 {
        let p = position.clamp(0.0, 1.0);
        let v = if self.log {
            self.min * (self.max / self.min).powf(p)
        } else {
            self.min + p * (self.max - self.min)
        };
        let scale = 10f64.powi(self.decimals as i32);
        ((v * scale).round() / scale).clamp(self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slider_positions_map_back_to_the_same_values() {
        for param in Param::every(1) {
            let spec = param.spec();
            for p in [0.0, 0.25, 0.5, 0.75, 1.0] {
                let value = spec.value_at(p);
                let back = spec.value_at(spec.position(value));
                assert!(
                    (back - value).abs() < 1e-9,
                    "{param:?} {p}: {value} → {back}"
                );
            }
        }
        // Log scale: the middle of 20 Hz–20 kHz is 632 Hz, not 10 kHz.
        assert_eq!(Param::EqFreq(0).spec().value_at(0.5), 632.0);
    }
}
