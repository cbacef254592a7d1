//! `ChainSettings`: what a chain preset or snapshot stores. Plain serde data, versioned,
//! validated at the boundary; the runtime DSP is built from it by [`super::Chain`].

use serde::{Deserialize, Serialize};

use super::params::{self, Param};

/// The settings format this build writes and reads.
pub const CHAIN_VERSION: u32 = 1;
/// EQ bands at most.
pub const MAX_EQ_BANDS: usize = 8;

/// The whole chain, in its fixed order: input → EQ → dynamics → stereo → limiter → output.
/// Defaults are neutral: a default chain changes nothing on material that stays under the
/// limiter's −1 dBTP ceiling (the limiter is on by default: a master must meet its ceiling).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChainSettings {
    pub version: u32,
    pub input: InputSettings,
    pub eq: EqSettings,
    pub dynamics: DynamicsSettings,
    pub stereo: StereoSettings,
    pub limiter: LimiterSettings,
    pub output: OutputSettings,
}

impl Default for ChainSettings {
    fn default() -> Self {
        Self {
            version: CHAIN_VERSION,
            input: InputSettings::default(),
            eq: EqSettings::default(),
            dynamics: DynamicsSettings::default(),
            stereo: StereoSettings::default(),
            limiter: LimiterSettings::default(),
            output: OutputSettings::default(),
        }
    }
}

impl ChainSettings {
    /// Every stage off: what goes in comes out sample for sample (to play audio that is
    /// already mastered, such as an album's transitions as exported).
    pub fn bypassed() -> Self {
        let mut settings = Self::default();
        settings.input.bypass = true;
        settings.eq.bypass = true;
        settings.dynamics.bypass = true;
        settings.stereo.bypass = true;
        settings.limiter.bypass = true;
        settings.output.bypass = true;
        settings
    }
}

/// Filter steepness for high- and low-pass filters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Slope {
    #[serde(rename = "12")]
    Db12,
    #[serde(rename = "24")]
    Db24,
    #[serde(rename = "48")]
    Db48,
}

impl Slope {
    /// The Butterworth order: 12 dB/octave per two poles.
    pub fn order(self) -> usize {
        match self {
            Slope::Db12 => 2,
            Slope::Db24 => 4,
            Slope::Db48 => 8,
        }
    }
}

/// Input stage: trim, and an optional subsonic high-pass (which also removes DC).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InputSettings {
    pub bypass: bool,
    pub trim_db: f64,
    pub high_pass: Option<HighPass>,
}

impl Default for InputSettings {
    fn default() -> Self {
        Self {
            bypass: false,
            trim_db: 0.0,
            high_pass: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HighPass {
    pub freq_hz: f64,
    pub slope: Slope,
}

/// What an EQ band does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BandKind {
    Bell,
    LowShelf,
    HighShelf,
    HighPass,
    LowPass,
}

impl BandKind {
    /// Bells and shelves have a gain and a Q (and a design: [`EqDesign`]); passes do not.
    pub fn is_bell_or_shelf(self) -> bool {
        matches!(self, Self::Bell | Self::LowShelf | Self::HighShelf)
    }
}

/// Where an EQ band acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// Both channels alike.
    #[default]
    Stereo,
    /// The mid (L + R) / 2 only.
    Mid,
    /// The side (L − R) / 2 only.
    Side,
    Left,
    Right,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EqBand {
    pub enabled: bool,
    pub kind: BandKind,
    pub freq_hz: f64,
    /// Bells and shelves; ignored by passes.
    #[serde(default)]
    pub gain_db: f64,
    /// Bells and shelves (shelves: slope, 0.707 is the classic); ignored by passes.
    #[serde(default = "default_q")]
    pub q: f64,
    /// Passes only.
    #[serde(default = "default_slope")]
    pub slope: Slope,
    #[serde(default)]
    pub placement: Placement,
}

fn default_q() -> f64 {
    std::f64::consts::FRAC_1_SQRT_2
}

fn default_slope() -> Slope {
    Slope::Db12
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct EqSettings {
    pub bypass: bool,
    pub bands: Vec<EqBand>,
    /// How bells and shelves are made digital; absent in files written before it existed,
    /// which keep the cookbook design they were made with.
    pub design: EqDesign,
}

/// How the EQ's bells and shelves are made digital. Passes are Butterworth either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EqDesign {
    /// The RBJ cookbook (bilinear transform): exact below a few kHz, narrower and lower than
    /// the analog curve towards Nyquist ("cramping").
    #[default]
    Cookbook,
    /// The analog curve kept up to Nyquist (`Coefficients::matched`): a 15 kHz bell keeps its
    /// width and its upper side.
    AnalogMatched,
}

/// How the compressor's detector sees a stereo signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Link {
    /// One gain for both channels, from the louder (glue).
    #[default]
    Stereo,
    /// Mid and side compressed independently.
    MidSide,
}

/// The glue compressor. Off (bypassed) by default; its default values are a gentle starting
/// point for when it is switched on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DynamicsSettings {
    pub bypass: bool,
    pub threshold_db: f64,
    pub ratio: f64,
    pub knee_db: f64,
    pub attack_ms: f64,
    pub release_ms: f64,
    /// Program-dependent release: quick after short peaks, slower under sustained
    /// compression (around `release_ms`).
    pub auto_release: bool,
    pub makeup_db: f64,
    /// Keeps the low end from driving the compressor (12 dB/octave on the detector only).
    pub sidechain_high_pass_hz: Option<f64>,
    pub link: Link,
    /// 0 = dry only, 1 = compressed only (parallel compression in between).
    pub mix: f64,
    /// Three-band mode: when set, the signal is split by Linkwitz-Riley crossovers and each
    /// band has its own threshold, ratio, times and makeup (knee, program-dependent release,
    /// link and mix stay shared; the side-chain high-pass is for the single-band mode only,
    /// since the low band's own detector already keeps the bass from driving the others).
    pub multiband: Option<MultibandSettings>,
}

/// Crossovers and per-band values of the three-band compressor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MultibandSettings {
    /// Between the low and the mid band (Hz).
    pub low_crossover_hz: f64,
    /// Between the mid and the high band (Hz); at least an octave above the low crossover.
    pub high_crossover_hz: f64,
    pub low: BandDynamics,
    pub mid: BandDynamics,
    pub high: BandDynamics,
    /// How the bands are split; absent in files written before it existed, which keep the
    /// Linkwitz-Riley crossovers they were made with.
    pub crossover: Crossover,
}

impl Default for MultibandSettings {
    fn default() -> Self {
        Self {
            low_crossover_hz: 120.0,
            high_crossover_hz: 4_000.0,
            low: BandDynamics::default(),
            mid: BandDynamics::default(),
            high: BandDynamics::default(),
            crossover: Crossover::default(),
        }
    }
}

/// How the three-band compressor splits the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Crossover {
    /// Fourth-order Linkwitz-Riley: no latency; the bands sum to an all-pass, flat in
    /// magnitude but with the crossovers' phase (4.4 ms of delay at 50 Hz with a 120 Hz low
    /// crossover), so a compressor that does nothing still changes the waveform.
    #[default]
    LinkwitzRiley,
    /// Linear-phase (`dsp::linear_phase`): the bands sum to the input delayed, to rounding;
    /// the delay (about 85 ms at 48 kHz) is the chain's latency, compensated like the
    /// limiter's. Moving a crossover crossfades to new filters instead of gliding.
    LinearPhase,
}

/// One band of the three-band compressor.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BandDynamics {
    pub threshold_db: f64,
    pub ratio: f64,
    pub attack_ms: f64,
    pub release_ms: f64,
    pub makeup_db: f64,
}

impl Default for BandDynamics {
    fn default() -> Self {
        Self {
            threshold_db: -18.0,
            ratio: 2.0,
            attack_ms: 10.0,
            release_ms: 150.0,
            makeup_db: 0.0,
        }
    }
}

impl MultibandSettings {
    pub fn bands(&self) -> [&BandDynamics; 3] {
        [&self.low, &self.mid, &self.high]
    }
}

impl DynamicsSettings {
    /// Bypassed, or set so that it cannot change the sound: every ratio 1:1 and no makeup
    /// (decided from the settings, never from the signal). The chain then leaves the stage out
    /// of the signal path, so its output is bit for bit the stage switched off — the
    /// three-band mode's crossovers, which pass the sum only as an all-pass, included.
    pub fn is_neutral(&self) -> bool {
        let neutral = |ratio: f64, makeup_db: f64| ratio == 1.0 && makeup_db == 0.0;
        self.bypass
            || match &self.multiband {
                None => neutral(self.ratio, self.makeup_db),
                Some(m) => m.bands().iter().all(|b| neutral(b.ratio, b.makeup_db)),
            }
    }

    /// Set but neutral ([`is_neutral`](Self::is_neutral)) without being bypassed: what the
    /// desk and the QC report say about it.
    pub fn is_inactive(&self) -> bool {
        !self.bypass && self.is_neutral()
    }
}

impl Default for DynamicsSettings {
    fn default() -> Self {
        Self {
            bypass: true,
            threshold_db: -18.0,
            ratio: 2.0,
            knee_db: 6.0,
            attack_ms: 10.0,
            release_ms: 150.0,
            auto_release: false,
            makeup_db: 0.0,
            sidechain_high_pass_hz: None,
            link: Link::Stereo,
            mix: 1.0,
            multiband: None,
        }
    }
}

/// Stereo stage: width (side gain), mono bass below a frequency, balance. Stereo sources only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StereoSettings {
    pub bypass: bool,
    /// Side level relative to mid: 0 = mono, 1 = unchanged, 2 = twice as wide.
    pub width: f64,
    /// Side content below this frequency is removed (24 dB/octave).
    pub mono_bass_hz: Option<f64>,
    /// −1 = left only … 0 = centre … +1 = right only (constant-power at the centre: unity).
    pub balance: f64,
}

impl Default for StereoSettings {
    fn default() -> Self {
        Self {
            bypass: false,
            width: 1.0,
            mono_bass_hz: None,
            balance: 0.0,
        }
    }
}

impl StereoSettings {
    pub fn is_neutral(&self) -> bool {
        self.bypass || (self.width == 1.0 && self.mono_bass_hz.is_none() && self.balance == 0.0)
    }
}

/// The true-peak limiter, with the loudness-target gain in front of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimiterSettings {
    pub bypass: bool,
    /// Gain into the limiter (dB). With a loudness target, render solves for it.
    pub gain_db: f64,
    /// The highest true peak the output may reach (dBTP).
    pub ceiling_dbtp: f64,
    /// How far ahead the limiter sees a peak coming: its attack time (ms).
    pub lookahead_ms: f64,
    pub release_ms: f64,
    /// Program-dependent release: 4× quicker after an isolated peak than under sustained
    /// limiting, which recovers at `release_ms`.
    pub auto_release: bool,
    /// Integrated loudness the rendered master should reach (LUFS); none leaves the gain as set.
    pub target_lufs: Option<f64>,
    /// The most gain reduction the loudness solver may ask of the limiter (dB): a target that
    /// needs more is not reached, and the report says by how much it fell short.
    pub max_reduction_db: f64,
    /// The meter the ceiling is held on; absent in files written before it existed, which
    /// keep the standard one.
    pub true_peak: TruePeakMode,
}

/// Which reconstruction a true-peak ceiling is held and checked on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TruePeakMode {
    /// The BS.1770 meter (Crest's, within 0.05 dB of an 8× reference, and libebur128's,
    /// which most loudness tools use): its filters fall from about 0.9 × Nyquist, so content
    /// in the top few hundred hertz reads low.
    #[default]
    Standard,
    /// A near-ideal band-limited reconstruction (`true_peak::strict_channel_peak`: within
    /// 0.02 dB of the ideal up to 0.975 × Nyquist), as a good DAC makes it; libebur128's
    /// reading is held too.
    Strict,
}

impl TruePeakMode {
    /// The meter's name, for reports.
    pub fn meter(self) -> &'static str {
        match self {
            Self::Standard => "BS.1770 true-peak meter",
            Self::Strict => "strict true-peak meter (near-ideal reconstruction)",
        }
    }
}

impl Default for LimiterSettings {
    fn default() -> Self {
        Self {
            bypass: false,
            gain_db: 0.0,
            ceiling_dbtp: -1.0,
            lookahead_ms: 3.0,
            release_ms: 100.0,
            auto_release: true,
            target_lufs: None,
            max_reduction_db: 12.0,
            true_peak: TruePeakMode::Standard,
        }
    }
}

/// How a fade's gain moves from silence to full level (a fade-out runs the same curve backwards).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FadeCurve {
    Linear,
    /// Quarter sine: constant power when crossfading; a natural-sounding default.
    #[default]
    EqualPower,
    /// Raised cosine: gentle at both ends.
    SCurve,
    /// Cubic: most of the change at the quiet end, so a fade-out holds level then drops
    /// (the shape an engineer draws by ear for a tail).
    Exponential,
}

impl FadeCurve {
    /// The gain at `x` (0 = start of the fade-in, 1 = full level).
    pub fn gain(self, x: f64) -> f64 {
        let x = x.clamp(0.0, 1.0);
        match self {
            FadeCurve::Linear => x,
            FadeCurve::EqualPower => (x * std::f64::consts::FRAC_PI_2).sin(),
            FadeCurve::SCurve => 0.5 - 0.5 * (x * std::f64::consts::PI).cos(),
            FadeCurve::Exponential => x * x * x,
        }
    }
}

/// Output: trims of the head and tail, then fades. Applied over the whole track by render
/// (after the limiter's latency is compensated); playback applies it by play position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutputSettings {
    pub bypass: bool,
    /// Seconds removed from the start and from the end.
    pub trim_start_s: f64,
    pub trim_end_s: f64,
    /// Fade lengths (seconds, after trimming); 0 = none.
    pub fade_in_s: f64,
    pub fade_out_s: f64,
    pub fade_in_curve: FadeCurve,
    pub fade_out_curve: FadeCurve,
}

impl Default for OutputSettings {
    fn default() -> Self {
        Self {
            bypass: false,
            trim_start_s: 0.0,
            trim_end_s: 0.0,
            fade_in_s: 0.0,
            fade_out_s: 0.0,
            fade_in_curve: FadeCurve::EqualPower,
            fade_out_curve: FadeCurve::EqualPower,
        }
    }
}

impl OutputSettings {
    pub fn is_neutral(&self) -> bool {
        self.bypass
            || (self.trim_start_s == 0.0
                && self.trim_end_s == 0.0
                && self.fade_in_s == 0.0
                && self.fade_out_s == 0.0)
    }
}

/// A setting outside what the chain accepts; names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("chain setting `{field}` {reason}")]
pub struct SettingsError {
    pub field: String,
    pub reason: String,
}

fn check(ok: bool, field: &str, reason: &str) -> Result<(), SettingsError> {
    if ok {
        Ok(())
    } else {
        Err(SettingsError {
            field: field.to_owned(),
            reason: reason.to_owned(),
        })
    }
}

impl ChainSettings {
    /// The chain `crest master` uses without `--chain`: a 20 Hz subsonic high-pass (12 dB/oct,
    /// removes DC and rumble nobody hears) and the true-peak limiter at −1 dBTP (3 ms
    /// lookahead, 100 ms program-dependent release). No EQ, no compression: the mix is
    /// assumed to be right; the limiter and the loudness target do the delivery work.
    pub fn gentle_master() -> Self {
        let mut s = Self::default();
        s.input.high_pass = Some(HighPass {
            freq_hz: 20.0,
            slope: Slope::Db12,
        });
        s
    }

    /// Reads settings from JSON (a chain preset), validated.
    pub fn from_json(text: &str) -> Result<Self, SettingsError> {
        let settings: Self = serde_json::from_str(text).map_err(|e| SettingsError {
            field: "(file)".into(),
            reason: e.to_string(),
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every value against its range in the parameter table ([`Param::spec`]), and
    /// what the table cannot say (the version, how many bands, the crossovers' octave).
    /// Allocation-free unless it fails: it runs on the audio thread ([`Chain::apply`]).
    ///
    /// [`Chain::apply`]: super::Chain::apply
    pub fn validate(&self) -> Result<(), SettingsError> {
        check(self.version == CHAIN_VERSION, "version", "is not 1")?;
        for param in params::INPUT {
            param.check(self)?;
        }
        check(
            self.eq.bands.len() <= MAX_EQ_BANDS,
            "eq.bands",
            "holds at most 8 bands",
        )?;
        for n in 0..self.eq.bands.len() {
            for param in [Param::EqFreq(n), Param::EqGain(n), Param::EqQ(n)] {
                param.check(self)?;
            }
        }
        for param in params::DYNAMICS {
            param.check(self)?;
        }
        if let Some(m) = &self.dynamics.multiband {
            Param::LowCrossover.check(self)?;
            Param::HighCrossover.check(self)?;
            check(
                m.high_crossover_hz >= 2.0 * m.low_crossover_hz,
                "dynamics.multiband.high_crossover_hz",
                "must be at least an octave above the low crossover",
            )?;
            for band in 0..3 {
                for param in params::BAND_PARAMS {
                    Param::Band(band, param).check(self)?;
                }
            }
        }
        for param in params::AFTER_DYNAMICS {
            param.check(self)?;
        }
        if let Some(target) = self.limiter.target_lufs {
            check(
                (-40.0..=-3.0).contains(&target),
                "limiter.target_lufs",
                "must be −40 to −3 LUFS",
            )?;
        }
        Ok(())
    }

    /// True when `other` can be reached from `self` by moving values only (smoothed, no
    /// allocation); false when a new chain must be built: bands added, removed or changed in
    /// kind, placement or slope, filters switched in or out, stages bypassed. Allocation-free.
    pub fn same_structure(&self, other: &Self) -> bool {
        let (a, b) = (self, other);
        a.input.bypass == b.input.bypass
            && a.input.high_pass.map(|h| h.slope) == b.input.high_pass.map(|h| h.slope)
            && a.eq.bypass == b.eq.bypass
            // A different design is a different filter: crossfaded, not glided.
            && a.eq.design == b.eq.design
            && a.eq.bands.len() == b.eq.bands.len()
            && a.eq.bands.iter().zip(&b.eq.bands).all(|(x, y)| {
                x.enabled == y.enabled
                    && x.kind == y.kind
                    && x.placement == y.placement
                    && x.slope == y.slope
            })
            && a.dynamics.bypass == b.dynamics.bypass
            // In or out of the signal path: crossfaded as a new chain, never switched in place.
            && a.dynamics.is_neutral() == b.dynamics.is_neutral()
            && a.dynamics.link == b.dynamics.link
            && a.dynamics.sidechain_high_pass_hz.is_some()
                == b.dynamics.sidechain_high_pass_hz.is_some()
            && a.dynamics.multiband.is_some() == b.dynamics.multiband.is_some()
            && same_split(a.dynamics.multiband.as_ref(), b.dynamics.multiband.as_ref())
            && a.stereo.bypass == b.stereo.bypass
            && a.stereo.mono_bass_hz.is_some() == b.stereo.mono_bass_hz.is_some()
            && a.limiter.bypass == b.limiter.bypass
            && a.limiter.lookahead_ms == b.limiter.lookahead_ms
            && a.limiter.true_peak == b.limiter.true_peak
    }
}

/// Whether two three-band modes split alike: the same kind of crossover and, for the
/// linear-phase one (whose kernels are made when the chain is), the same frequencies.
fn same_split(a: Option<&MultibandSettings>, b: Option<&MultibandSettings>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => {
            a.crossover == b.crossover
                && (a.crossover == Crossover::LinkwitzRiley
                    || (a.low_crossover_hz == b.low_crossover_hz
                        && a.high_crossover_hz == b.high_crossover_hz))
        }
        _ => true,
    }
}
