//! Every continuous chain control as data: its name, unit, range, steps, default, and where it
//! lives in [`ChainSettings`]. The chain panel draws sliders and numeric entries from this
//! table, so a control cannot drift from the range the engine validates.

use crest_engine::chain::{BandDynamics, ChainSettings, HighPass, Slope};

/// A continuous value in the chain settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Param {
    InputTrim,
    HighPassHz,
    EqFreq(usize),
    EqGain(usize),
    EqQ(usize),
    Threshold,
    Ratio,
    Knee,
    Attack,
    Release,
    Makeup,
    Mix,
    SidechainHz,
    LowCrossover,
    HighCrossover,
    /// One of the three bands (0 low, 1 mid, 2 high) of the multiband compressor.
    Band(usize, BandParam),
    Width,
    MonoBassHz,
    Balance,
    LimiterGain,
    Ceiling,
    LimiterRelease,
    Lookahead,
    MaxReduction,
    FadeIn,
    FadeOut,
    TrimStart,
    TrimEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BandParam {
    Threshold,
    Ratio,
    Attack,
    Release,
    Makeup,
}

/// How a control moves and reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub label: &'static str,
    pub unit: &'static str,
    pub min: f64,
    pub max: f64,
    /// The value double-click (or Ctrl-click on the slider) returns to.
    pub default: f64,
    /// Decimal places shown.
    pub decimals: usize,
    /// Frequencies and times move on a logarithmic scale.
    pub log: bool,
}

const fn spec(
    label: &'static str,
    unit: &'static str,
    (min, max): (f64, f64),
    default: f64,
    decimals: usize,
    log: bool,
) -> Spec {
    Spec {
        label,
        unit,
        min,
        max,
        default,
        decimals,
        log,
    }
}

/// Slider positions run 0..=1; a normal drag moves in thousandths, Shift in ten-thousandths.
pub const STEP: f64 = 0.001;
pub const FINE_STEP: f64 = 0.0001;

impl Param {
    // The ranges are the engine's own (`ChainSettings::validate`), narrowed where the wider
    // range makes no sense for mastering (EQ gain ±12 dB instead of ±24).
    pub fn spec(self) -> Spec {
        match self {
            Param::InputTrim => spec("Trim", "dB", (-24.0, 24.0), 0.0, 1, false),
            Param::HighPassHz => spec("High-pass", "Hz", (5.0, 300.0), 20.0, 0, true),
            Param::EqFreq(_) => spec("Frequency", "Hz", (20.0, 20_000.0), 1_000.0, 0, true),
            Param::EqGain(_) => spec("Gain", "dB", (-12.0, 12.0), 0.0, 1, false),
            Param::EqQ(_) => spec("Q", "", (0.1, 10.0), 0.707, 2, true),
            Param::Threshold => spec("Threshold", "dB", (-60.0, 0.0), -18.0, 1, false),
            Param::Ratio => spec("Ratio", ":1", (1.0, 20.0), 2.0, 1, true),
            Param::Knee => spec("Knee", "dB", (0.0, 24.0), 6.0, 1, false),
            Param::Attack => spec("Attack", "ms", (0.1, 500.0), 10.0, 1, true),
            Param::Release => spec("Release", "ms", (5.0, 5_000.0), 150.0, 0, true),
            Param::Makeup => spec("Makeup", "dB", (-12.0, 24.0), 0.0, 1, false),
            Param::Mix => spec("Mix", "%", (0.0, 100.0), 100.0, 0, false),
            Param::SidechainHz => spec("Sidechain HP", "Hz", (20.0, 500.0), 100.0, 0, true),
            Param::LowCrossover => spec("Low / mid", "Hz", (40.0, 1_000.0), 120.0, 0, true),
            Param::HighCrossover => spec("Mid / high", "Hz", (500.0, 16_000.0), 4_000.0, 0, true),
            Param::Band(_, p) => match p {
                BandParam::Threshold => spec("Threshold", "dB", (-60.0, 0.0), -18.0, 1, false),
                BandParam::Ratio => spec("Ratio", ":1", (1.0, 20.0), 2.0, 1, true),
                BandParam::Attack => spec("Attack", "ms", (0.1, 500.0), 10.0, 1, true),
                BandParam::Release => spec("Release", "ms", (5.0, 5_000.0), 150.0, 0, true),
                BandParam::Makeup => spec("Makeup", "dB", (-12.0, 24.0), 0.0, 1, false),
            },
            Param::Width => spec("Width", "%", (0.0, 200.0), 100.0, 0, false),
            Param::MonoBassHz => spec("Mono below", "Hz", (20.0, 500.0), 120.0, 0, true),
            Param::Balance => spec("Balance", "", (-1.0, 1.0), 0.0, 2, false),
            Param::LimiterGain => spec("Gain in", "dB", (-12.0, 24.0), 0.0, 1, false),
            Param::Ceiling => spec("Ceiling", "dBTP", (-20.0, 0.0), -1.0, 1, false),
            Param::LimiterRelease => spec("Release", "ms", (1.0, 2_000.0), 100.0, 0, true),
            Param::Lookahead => spec("Lookahead", "ms", (0.5, 10.0), 3.0, 1, false),
            Param::MaxReduction => spec("Most GR", "dB", (1.0, 24.0), 12.0, 1, false),
            Param::FadeIn => spec("Fade in", "s", (0.0, 30.0), 0.0, 2, false),
            Param::FadeOut => spec("Fade out", "s", (0.0, 60.0), 0.0, 2, false),
            Param::TrimStart => spec("Cut start", "s", (0.0, 30.0), 0.0, 2, false),
            Param::TrimEnd => spec("Cut end", "s", (0.0, 30.0), 0.0, 2, false),
        }
    }

    /// The value in the settings, in the control's unit; None when the control's part of the
    /// chain is switched off (a high-pass that is off, a band that is not there).
    pub fn get(self, s: &ChainSettings) -> Option<f64> {
        let band = |n: usize| s.eq.bands.get(n);
        let multiband = s.dynamics.multiband.as_ref();
        Some(match self {
            Param::InputTrim => s.input.trim_db,
            Param::HighPassHz => s.input.high_pass?.freq_hz,
            Param::EqFreq(n) => band(n)?.freq_hz,
            Param::EqGain(n) => band(n)?.gain_db,
            Param::EqQ(n) => band(n)?.q,
            Param::Threshold => s.dynamics.threshold_db,
            Param::Ratio => s.dynamics.ratio,
            Param::Knee => s.dynamics.knee_db,
            Param::Attack => s.dynamics.attack_ms,
            Param::Release => s.dynamics.release_ms,
            Param::Makeup => s.dynamics.makeup_db,
            Param::Mix => s.dynamics.mix * 100.0,
            Param::SidechainHz => s.dynamics.sidechain_high_pass_hz?,
            Param::LowCrossover => multiband?.low_crossover_hz,
            Param::HighCrossover => multiband?.high_crossover_hz,
            Param::Band(n, p) => {
                let b = multiband?.bands()[n.min(2)];
                match p {
                    BandParam::Threshold => b.threshold_db,
                    BandParam::Ratio => b.ratio,
                    BandParam::Attack => b.attack_ms,
                    BandParam::Release => b.release_ms,
                    BandParam::Makeup => b.makeup_db,
                }
            }
            Param::Width => s.stereo.width * 100.0,
            Param::MonoBassHz => s.stereo.mono_bass_hz?,
            Param::Balance => s.stereo.balance,
            Param::LimiterGain => s.limiter.gain_db,
            Param::Ceiling => s.limiter.ceiling_dbtp,
            Param::LimiterRelease => s.limiter.release_ms,
            Param::Lookahead => s.limiter.lookahead_ms,
            Param::MaxReduction => s.limiter.max_reduction_db,
            Param::FadeIn => s.output.fade_in_s,
            Param::FadeOut => s.output.fade_out_s,
            Param::TrimStart => s.output.trim_start_s,
            Param::TrimEnd => s.output.trim_end_s,
        })
    }

    /// Sets the value (clamped to the control's range). Setting a control whose part is off
    /// switches it on (typing a high-pass frequency turns the high-pass on).
    pub fn set(self, s: &mut ChainSettings, value: f64) {
        let spec = self.spec();
        let v = value.clamp(spec.min, spec.max);
        let band = |s: &mut ChainSettings, n: usize, p: BandParam, v: f64| {
            let m = s.dynamics.multiband.get_or_insert_with(Default::default);
            let b: &mut BandDynamics = match n {
                0 => &mut m.low,
                1 => &mut m.mid,
                _ => &mut m.high,
            };
            match p {
                BandParam::Threshold => b.threshold_db = v,
                BandParam::Ratio => b.ratio = v,
                BandParam::Attack => b.attack_ms = v,
                BandParam::Release => b.release_ms = v,
                BandParam::Makeup => b.makeup_db = v,
            }
        };
        match self {
            Param::InputTrim => s.input.trim_db = v,
            Param::HighPassHz => {
                let slope = s.input.high_pass.map_or(Slope::Db12, |h| h.slope);
                s.input.high_pass = Some(HighPass { freq_hz: v, slope });
            }
            Param::EqFreq(n) => {
                if let Some(b) = s.eq.bands.get_mut(n) {
                    b.freq_hz = v;
                }
            }
            Param::EqGain(n) => {
                if let Some(b) = s.eq.bands.get_mut(n) {
                    b.gain_db = v;
                }
            }
            Param::EqQ(n) => {
                if let Some(b) = s.eq.bands.get_mut(n) {
                    b.q = v;
                }
            }
            Param::Threshold => s.dynamics.threshold_db = v,
            Param::Ratio => s.dynamics.ratio = v,
            Param::Knee => s.dynamics.knee_db = v,
            Param::Attack => s.dynamics.attack_ms = v,
            Param::Release => s.dynamics.release_ms = v,
            Param::Makeup => s.dynamics.makeup_db = v,
            Param::Mix => s.dynamics.mix = v / 100.0,
            Param::SidechainHz => s.dynamics.sidechain_high_pass_hz = Some(v),
            Param::LowCrossover => {
                s.dynamics
                    .multiband
                    .get_or_insert_with(Default::default)
                    .low_crossover_hz = v;
            }
            Param::HighCrossover => {
                s.dynamics
                    .multiband
                    .get_or_insert_with(Default::default)
                    .high_crossover_hz = v;
            }
            Param::Band(n, p) => band(s, n, p, v),
            Param::Width => s.stereo.width = v / 100.0,
            Param::MonoBassHz => s.stereo.mono_bass_hz = Some(v),
            Param::Balance => s.stereo.balance = v,
            Param::LimiterGain => s.limiter.gain_db = v,
            Param::Ceiling => s.limiter.ceiling_dbtp = v,
            Param::LimiterRelease => s.limiter.release_ms = v,
            Param::Lookahead => s.limiter.lookahead_ms = v,
            Param::MaxReduction => s.limiter.max_reduction_db = v,
            Param::FadeIn => s.output.fade_in_s = v,
            Param::FadeOut => s.output.fade_out_s = v,
            Param::TrimStart => s.output.trim_start_s = v,
            Param::TrimEnd => s.output.trim_end_s = v,
        }
    }
}

impl Spec {
    /// Slider position (0..=1) of a value.
    pub fn position(&self, value: f64) -> f64 {
        let v = value.clamp(self.min, self.max);
        if self.log {
            (v / self.min).ln() / (self.max / self.min).ln()
        } else {
            (v - self.min) / (self.max - self.min)
        }
    }

    /// The value at a slider position, rounded to the decimals shown.
    pub fn value_at(&self, position: f64) -> f64 {
        let p = position.clamp(0.0, 1.0);
        let v = if self.log {
            self.min * (self.max / self.min).powf(p)
        } else {
            self.min + p * (self.max - self.min)
        };
        let scale = 10f64.powi(self.decimals as i32);
        ((v * scale).round() / scale).clamp(self.min, self.max)
    }

    /// The value as shown: `-1.5 dB`, `120 Hz`, `1.2 kHz`.
    pub fn format(&self, value: f64) -> String {
        if self.unit == "Hz" && value >= 1_000.0 {
            return format!("{:.2} kHz", value / 1_000.0);
        }
        let number = format!("{value:.*}", self.decimals);
        match self.unit {
            "" => number,
            ":1" => format!("{number}:1"),
            unit => format!("{number} {unit}"),
        }
    }

    /// Reads what the engineer typed: a number with or without the unit (`-3`, `−3 dB`,
    /// `1.2k`, `1.2 kHz`, `4:1`). Out of range is an error that names the range.
    pub fn parse(&self, typed: &str) -> Result<f64, String> {
        let cleaned = typed.trim().replace('−', "-").replace(',', ".");
        let lower = cleaned.to_lowercase();
        let lower = lower.trim_end_matches(":1");
        let (number, scale) = if let Some(n) = lower.strip_suffix("khz") {
            (n, 1_000.0)
        } else if let Some(n) = lower.strip_suffix('k') {
            (n, 1_000.0)
        } else {
            let unit = self.unit.to_lowercase();
            (
                lower
                    .strip_suffix(unit.as_str())
                    .filter(|_| !unit.is_empty())
                    .unwrap_or(lower),
                1.0,
            )
        };
        let value = number
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{}: “{}” is not a number", self.label, typed.trim()))?
            * scale;
        if !(self.min..=self.max).contains(&value) {
            return Err(format!(
                "{} must be {} to {}",
                self.label,
                self.format(self.min),
                self.format(self.max)
            ));
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Param; 20] = [
        Param::InputTrim,
        Param::HighPassHz,
        Param::EqFreq(0),
        Param::EqGain(0),
        Param::EqQ(0),
        Param::Threshold,
        Param::Ratio,
        Param::Attack,
        Param::Release,
        Param::Mix,
        Param::LowCrossover,
        Param::HighCrossover,
        Param::Band(1, BandParam::Ratio),
        Param::Width,
        Param::MonoBassHz,
        Param::Ceiling,
        Param::LimiterRelease,
        Param::MaxReduction,
        Param::FadeIn,
        Param::TrimEnd,
    ];

    fn with_band() -> ChainSettings {
        let mut s = ChainSettings::gentle_master();
        s.eq.bands.push(crest_engine::chain::EqBand {
            enabled: true,
            kind: crest_engine::chain::BandKind::Bell,
            freq_hz: 1_000.0,
            gain_db: 0.0,
            q: 0.707,
            slope: Slope::Db12,
            placement: Default::default(),
        });
        s
    }

    #[test]
    fn every_control_at_its_limits_gives_settings_the_engine_accepts() {
        for param in ALL {
            let spec = param.spec();
            for value in [spec.min, spec.max, spec.default] {
                let mut s = with_band();
                param.set(&mut s, value);
                assert_eq!(param.get(&s), Some(value), "{param:?}");
                // The crossovers' octave rule is checked by the engine and reported; every
                // single value on its own must be valid.
                if !matches!(param, Param::LowCrossover | Param::HighCrossover) {
                    assert!(
                        s.validate().is_ok(),
                        "{param:?} = {value}: {:?}",
                        s.validate()
                    );
                }
            }
        }
    }

    #[test]
    fn slider_positions_map_back_to_the_same_values() {
        for param in ALL {
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

    #[test]
    fn typed_values_are_read_with_or_without_units_and_checked() {
        let gain = Param::EqGain(0).spec();
        assert_eq!(gain.parse("−1.5 dB"), Ok(-1.5));
        assert_eq!(gain.parse(" 2 "), Ok(2.0));
        assert_eq!(
            gain.parse("13"),
            Err("Gain must be -12.0 dB to 12.0 dB".to_owned())
        );
        assert!(gain.parse("loud").is_err());
        let freq = Param::EqFreq(0).spec();
        assert_eq!(freq.parse("1.2k"), Ok(1_200.0));
        assert_eq!(freq.parse("3.5 kHz"), Ok(3_500.0));
        assert_eq!(freq.parse("80hz"), Ok(80.0));
        assert_eq!(Param::Ratio.spec().parse("4:1"), Ok(4.0));
        assert_eq!(freq.format(3_500.0), "3.50 kHz");
        assert_eq!(Param::Ratio.spec().format(4.0), "4.0:1");
    }
}
