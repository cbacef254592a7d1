//! Every continuous chain setting as data: its name, unit, the range the engine accepts, the
//! range a control offers, its default, and where it lives in [`ChainSettings`].
//!
//! [`ChainSettings::validate`] checks each value against this table and the desk's sliders and
//! numeric entries are drawn from it, so a control cannot drift from what the engine accepts.
//! Values are in the unit shown ([`Spec::unit`]): mix and width in percent, the rest as
//! stored.

use super::settings::{BandDynamics, ChainSettings, HighPass, SettingsError, Slope};

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

/// How a setting reads and what it may be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub label: &'static str,
    /// The unit shown (and typed).
    pub unit: &'static str,
    /// What the engine accepts, in the unit shown.
    pub valid: (f64, f64),
    /// What a control offers: within `valid`, narrowed where the wider range makes no sense
    /// for mastering (EQ gain ±12 dB of the engine's ±24).
    pub min: f64,
    pub max: f64,
    /// The value double-click (or Ctrl-click on the slider) returns to.
    pub default: f64,
    /// Decimal places shown.
    pub decimals: usize,
    /// Frequencies and times move on a logarithmic scale.
    pub log: bool,
    /// The stored value is the shown one divided by this (percent stored as 0–1).
    pub per_stored: f64,
}

/// A spec whose control offers the whole valid range.
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
        valid: (min, max),
        min,
        max,
        default,
        decimals,
        log,
        per_stored: 1.0,
    }
}

impl Spec {
    /// The engine accepts a wider range than the control offers.
    const fn accepting(self, valid: (f64, f64)) -> Self {
        Self { valid, ..self }
    }

    /// Stored as a fraction of the shown value (percent as 0–1).
    const fn stored_over(self, per_stored: f64) -> Self {
        Self { per_stored, ..self }
    }

    /// Whether the engine accepts `value` (shown unit; NaN never).
    pub fn accepts(&self, value: f64) -> bool {
        (self.valid.0..=self.valid.1).contains(&value)
    }

    /// Why a value is refused, in the stored unit a settings file uses.
    fn reason(&self) -> String {
        let (min, max) = self.valid;
        if self.per_stored == 1.0 {
            format!(
                "must be {} to {}",
                self.format_number(min),
                self.format(max)
            )
        } else {
            format!(
                "must be {} to {} ({} to {})",
                min / self.per_stored,
                max / self.per_stored,
                self.format(min),
                self.format(max)
            )
        }
    }

    fn format_number(&self, value: f64) -> String {
        format!("{value:.*}", self.decimals)
    }

    /// The value as shown: `-1.5 dB`, `120 Hz`, `1.20 kHz`, `4.0:1`.
    pub fn format(&self, value: f64) -> String {
        if self.unit == "Hz" && value >= 1_000.0 {
            return format!("{:.2} kHz", value / 1_000.0);
        }
        let number = self.format_number(value);
        match self.unit {
            "" => number,
            ":1" => format!("{number}:1"),
            unit => format!("{number} {unit}"),
        }
    }

    /// Reads what the engineer typed: a number with or without the unit (`-3`, `−3 dB`,
    /// `1.2k`, `1.2 kHz`, `4:1`). Outside what the control offers is an error that names the
    /// range.
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

const BAND_NAMES: [&str; 3] = ["low", "mid", "high"];

impl Param {
    /// The table.
    pub fn spec(self) -> Spec {
        match self {
            Param::InputTrim => spec("Trim", "dB", (-24.0, 24.0), 0.0, 1, false),
            Param::HighPassHz => spec("High-pass", "Hz", (5.0, 300.0), 20.0, 0, true),
            Param::EqFreq(_) => spec("Frequency", "Hz", (20.0, 20_000.0), 1_000.0, 0, true)
                .accepting((10.0, 24_000.0)),
            Param::EqGain(_) => {
                spec("Gain", "dB", (-12.0, 12.0), 0.0, 1, false).accepting((-24.0, 24.0))
            }
            Param::EqQ(_) => spec("Q", "", (0.1, 10.0), 0.707, 2, true).accepting((0.1, 20.0)),
            Param::Threshold | Param::Band(_, BandParam::Threshold) => {
                spec("Threshold", "dB", (-60.0, 0.0), -18.0, 1, false)
            }
            Param::Ratio | Param::Band(_, BandParam::Ratio) => {
                spec("Ratio", ":1", (1.0, 20.0), 2.0, 1, true)
            }
            Param::Knee => spec("Knee", "dB", (0.0, 24.0), 6.0, 1, false),
            Param::Attack | Param::Band(_, BandParam::Attack) => {
                spec("Attack", "ms", (0.1, 500.0), 10.0, 1, true)
            }
            Param::Release | Param::Band(_, BandParam::Release) => {
                spec("Release", "ms", (5.0, 5_000.0), 150.0, 0, true)
            }
            Param::Makeup | Param::Band(_, BandParam::Makeup) => {
                spec("Makeup", "dB", (-12.0, 24.0), 0.0, 1, false)
            }
            Param::Mix => spec("Mix", "%", (0.0, 100.0), 100.0, 0, false).stored_over(100.0),
            Param::SidechainHz => spec("Sidechain HP", "Hz", (20.0, 500.0), 100.0, 0, true),
            Param::LowCrossover => spec("Low / mid", "Hz", (40.0, 1_000.0), 120.0, 0, true),
            Param::HighCrossover => spec("Mid / high", "Hz", (500.0, 16_000.0), 4_000.0, 0, true),
            Param::Width => spec("Width", "%", (0.0, 200.0), 100.0, 0, false).stored_over(100.0),
            Param::MonoBassHz => spec("Mono below", "Hz", (20.0, 500.0), 120.0, 0, true),
            Param::Balance => spec("Balance", "", (-1.0, 1.0), 0.0, 2, false),
            Param::LimiterGain => spec("Gain in", "dB", (-12.0, 24.0), 0.0, 1, false),
            Param::Ceiling => spec("Ceiling", "dBTP", (-20.0, 0.0), -1.0, 1, false),
            Param::LimiterRelease => spec("Release", "ms", (1.0, 2_000.0), 100.0, 0, true),
            Param::Lookahead => spec("Lookahead", "ms", (0.5, 10.0), 3.0, 1, false),
            Param::MaxReduction => spec("Most GR", "dB", (1.0, 24.0), 12.0, 1, false),
            // The control offers up to a minute; a settings file may hold ten.
            Param::FadeIn => {
                spec("Fade in", "s", (0.0, 30.0), 0.0, 2, false).accepting((0.0, 600.0))
            }
            Param::FadeOut => {
                spec("Fade out", "s", (0.0, 60.0), 0.0, 2, false).accepting((0.0, 600.0))
            }
            Param::TrimStart => {
                spec("Cut start", "s", (0.0, 30.0), 0.0, 2, false).accepting((0.0, 600.0))
            }
            Param::TrimEnd => {
                spec("Cut end", "s", (0.0, 30.0), 0.0, 2, false).accepting((0.0, 600.0))
            }
        }
    }

    /// The setting's path in a settings file (`eq.bands[2].gain_db`). Allocates: call it
    /// only to report.
    pub fn field(self) -> String {
        let band = |n: usize, p: BandParam| {
            let name = match p {
                BandParam::Threshold => "threshold_db",
                BandParam::Ratio => "ratio",
                BandParam::Attack => "attack_ms",
                BandParam::Release => "release_ms",
                BandParam::Makeup => "makeup_db",
            };
            format!("dynamics.multiband.{}.{name}", BAND_NAMES[n.min(2)])
        };
        match self {
            Param::InputTrim => "input.trim_db".into(),
            Param::HighPassHz => "input.high_pass.freq_hz".into(),
            Param::EqFreq(n) => format!("eq.bands[{n}].freq_hz"),
            Param::EqGain(n) => format!("eq.bands[{n}].gain_db"),
            Param::EqQ(n) => format!("eq.bands[{n}].q"),
            Param::Threshold => "dynamics.threshold_db".into(),
            Param::Ratio => "dynamics.ratio".into(),
            Param::Knee => "dynamics.knee_db".into(),
            Param::Attack => "dynamics.attack_ms".into(),
            Param::Release => "dynamics.release_ms".into(),
            Param::Makeup => "dynamics.makeup_db".into(),
            Param::Mix => "dynamics.mix".into(),
            Param::SidechainHz => "dynamics.sidechain_high_pass_hz".into(),
            Param::LowCrossover => "dynamics.multiband.low_crossover_hz".into(),
            Param::HighCrossover => "dynamics.multiband.high_crossover_hz".into(),
            Param::Band(n, p) => band(n, p),
            Param::Width => "stereo.width".into(),
            Param::MonoBassHz => "stereo.mono_bass_hz".into(),
            Param::Balance => "stereo.balance".into(),
            Param::LimiterGain => "limiter.gain_db".into(),
            Param::Ceiling => "limiter.ceiling_dbtp".into(),
            Param::LimiterRelease => "limiter.release_ms".into(),
            Param::Lookahead => "limiter.lookahead_ms".into(),
            Param::MaxReduction => "limiter.max_reduction_db".into(),
            Param::FadeIn => "output.fade_in_s".into(),
            Param::FadeOut => "output.fade_out_s".into(),
            Param::TrimStart => "output.trim_start_s".into(),
            Param::TrimEnd => "output.trim_end_s".into(),
        }
    }

    /// The value in the settings, in the unit shown; None when the setting's part of the
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

    /// Sets the value (clamped to what the control offers). Setting a value whose part is
    /// off switches it on (typing a high-pass frequency turns the high-pass on).
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

    /// Checks the value in `settings` against the table (allocation-free unless it fails;
    /// a part that is switched off has nothing to check).
    pub fn check(self, settings: &ChainSettings) -> Result<(), SettingsError> {
        match self.get(settings) {
            Some(value) if !self.spec().accepts(value) => Err(SettingsError {
                field: self.field(),
                reason: self.spec().reason(),
            }),
            _ => Ok(()),
        }
    }
}

/// The dynamics settings of one compressor (the single band, or one of three).
pub(super) const BAND_PARAMS: [BandParam; 5] = [
    BandParam::Threshold,
    BandParam::Ratio,
    BandParam::Attack,
    BandParam::Release,
    BandParam::Makeup,
];

impl Param {
    /// Every setting of a chain with `eq_bands` EQ bands, in the order the chain runs
    /// (the multiband compressor's included, whether or not it is on).
    pub fn every(eq_bands: usize) -> impl Iterator<Item = Param> {
        let eq = (0..eq_bands).flat_map(|n| [Param::EqFreq(n), Param::EqGain(n), Param::EqQ(n)]);
        let multiband = [Param::LowCrossover, Param::HighCrossover]
            .into_iter()
            .chain((0..3).flat_map(|band| BAND_PARAMS.map(|p| Param::Band(band, p))));
        INPUT
            .into_iter()
            .chain(eq)
            .chain(DYNAMICS)
            .chain(multiband)
            .chain(AFTER_DYNAMICS)
    }
}

/// The input stage's settings.
pub(super) const INPUT: [Param; 2] = [Param::InputTrim, Param::HighPassHz];

/// The single-band compressor's settings.
pub(super) const DYNAMICS: [Param; 8] = [
    Param::Threshold,
    Param::Ratio,
    Param::Attack,
    Param::Release,
    Param::Makeup,
    Param::Knee,
    Param::Mix,
    Param::SidechainHz,
];

/// The stages after dynamics: stereo, limiter, output.
pub(super) const AFTER_DYNAMICS: [Param; 12] = [
    Param::Width,
    Param::MonoBassHz,
    Param::Balance,
    Param::LimiterGain,
    Param::Ceiling,
    Param::LimiterRelease,
    Param::Lookahead,
    Param::MaxReduction,
    Param::FadeIn,
    Param::FadeOut,
    Param::TrimStart,
    Param::TrimEnd,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::settings::Slope;

    fn with_band() -> ChainSettings {
        let mut s = ChainSettings::gentle_master();
        s.eq.bands.push(crate::chain::EqBand {
            enabled: true,
            kind: crate::chain::BandKind::Bell,
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
        for param in Param::every(1) {
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

    #[test]
    fn every_control_offers_only_what_the_engine_accepts() {
        assert_eq!(
            Param::every(2).count(),
            2 + 6 + 8 + 17 + 12,
            "every setting, once"
        );
        for param in Param::every(1) {
            let spec = param.spec();
            assert!(
                spec.accepts(spec.min) && spec.accepts(spec.max),
                "{param:?}"
            );
            assert!(spec.accepts(spec.default), "{param:?}");
        }
        // A settings file may hold more than a control offers: ±24 dB of EQ, not ±12.
        let mut s = with_band();
        s.eq.bands[0].gain_db = 20.0;
        assert!(s.validate().is_ok());
        s.eq.bands[0].gain_db = 30.0;
        let error = s.validate().expect_err("refused");
        assert_eq!(error.field, "eq.bands[0].gain_db");
        assert_eq!(error.reason, "must be -24.0 to 24.0 dB");
        // Percent is stored as a fraction: the reason says both.
        let mut s = with_band();
        s.dynamics.mix = 1.5;
        let error = s.validate().expect_err("refused");
        assert_eq!(error.field, "dynamics.mix");
        assert_eq!(error.reason, "must be 0 to 1 (0 % to 100 %)");
        let mut s = with_band();
        s.limiter.ceiling_dbtp = f64::NAN;
        assert_eq!(s.validate().expect_err("NaN").field, "limiter.ceiling_dbtp");
    }
}
