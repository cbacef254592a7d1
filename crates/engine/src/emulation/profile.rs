//! Playback-system profiles: data files under `assets/profiles/`, each with its provenance.

use serde::{Deserialize, Serialize};

use super::noise::NoiseKind;

/// The profile format this build reads.
pub const PROFILE_VERSION: u32 = 1;

/// The profiles built into Crest (one file each in `assets/profiles/`).
pub const BUILT_IN_PROFILES: &[&str] = &[
    include_str!("../../../../assets/profiles/phone.json"),
    include_str!("../../../../assets/profiles/laptop.json"),
    include_str!("../../../../assets/profiles/earbuds.json"),
    include_str!("../../../../assets/profiles/headphones.json"),
    include_str!("../../../../assets/profiles/bluetooth-speaker.json"),
    include_str!("../../../../assets/profiles/car.json"),
    include_str!("../../../../assets/profiles/club.json"),
    include_str!("../../../../assets/profiles/tv.json"),
    include_str!("../../../../assets/profiles/smart-speaker.json"),
    include_str!("../../../../assets/profiles/kitchen-radio.json"),
    include_str!("../../../../assets/profiles/vinyl.json"),
    include_str!("../../../../assets/profiles/reference.json"),
];

/// A steep roll-off at a band edge (Butterworth).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cut {
    pub freq_hz: f64,
    /// 2, 4, 6 or 8 (12 to 48 dB per octave).
    pub order: usize,
}

/// What the device does with two channels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelHandling {
    /// Left and right reach the listener separately (headphones, good stereo speakers).
    Stereo,
    /// One speaker: (L + R) / 2 on both outputs.
    MonoSum,
    /// Speakers close together: each side hears the other `amount_db` down.
    Crossfeed { amount_db: f64 },
    /// Low end summed to mono below `freq_hz` (a record's elliptical EQ).
    MonoBelow { freq_hz: f64 },
}

/// A broadband compressor as devices run to sound loud and protect their drivers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompressorSpec {
    pub threshold_db: f64,
    pub ratio: f64,
    pub knee_db: f64,
    pub attack_ms: f64,
    pub release_ms: f64,
}

/// Which side of the crossover a band limiter works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Low,
    High,
}

/// A compressor on one band (bass limiting on small speakers; a lathe's top-end limit).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BandLimiterSpec {
    pub band: Band,
    pub crossover_hz: f64,
    pub threshold_db: f64,
    pub ratio: f64,
    pub attack_ms: f64,
    pub release_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceDsp {
    pub compressor: Option<CompressorSpec>,
    #[serde(default)]
    pub band_limiters: Vec<BandLimiterSpec>,
}

/// The listening environment's noise, at an absolute loudness: a programme normalized to
/// −14 LUFS plays 18 LU above noise at −32 LUFS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseSpec {
    pub kind: NoiseKind,
    pub level_lufs: f64,
    pub description: String,
}

/// One playback system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    pub version: u32,
    /// Short lowercase id used by every flag (`phone`, `earbuds`, `car`, …).
    pub id: String,
    pub name: String,
    pub description: String,
    /// Magnitude response points (Hz, dB), relative; interpolated on a log-frequency axis.
    pub response: Vec<[f64; 2]>,
    /// Where the device reproduces sound usefully; the emulation matches `response` within
    /// ±1 dB here.
    pub passband_hz: [f64; 2],
    pub low_cut: Option<Cut>,
    pub high_cut: Option<Cut>,
    pub channels: ChannelHandling,
    pub device_dsp: Option<DeviceDsp>,
    pub noise: Option<NoiseSpec>,
    /// The measurements or specifications the curve approximates.
    pub provenance: String,
    pub approximation: bool,
}

/// Why a profile was refused.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("profile {file}: not valid: {reason}")]
    Parse { file: String, reason: String },
    #[error("profile {id}: field `{field}` {reason}")]
    Invalid {
        id: String,
        field: &'static str,
        reason: String,
    },
}

impl Profile {
    /// Parses and validates one profile; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, ProfileError> {
        let profile: Profile = serde_json::from_str(text).map_err(|e| ProfileError::Parse {
            file: file.to_owned(),
            reason: e.to_string(),
        })?;
        profile.validate()?;
        Ok(profile)
    }

    fn validate(&self) -> Result<(), ProfileError> {
        let fail = |field, reason: &str| {
            Err(ProfileError::Invalid {
                id: self.id.clone(),
                field,
                reason: reason.to_owned(),
            })
        };
        if self.version != PROFILE_VERSION {
            return fail("version", "is not 1");
        }
        if !crate::units::is_short_id(&self.id) {
            return fail("id", "must be a short lowercase name (a-z, 0-9, -)");
        }
        if self.response.len() < 2 {
            return fail("response", "needs at least two points");
        }
        let rising = self.response.windows(2).all(|w| w[1][0] > w[0][0]);
        let sane = self
            .response
            .iter()
            .all(|[f, db]| (10.0..=24_000.0).contains(f) && db.abs() <= 40.0);
        if !rising || !sane {
            return fail(
                "response",
                "needs frequencies rising within 10 Hz–24 kHz and levels within ±40 dB",
            );
        }
        let [low, high] = self.passband_hz;
        if !(low >= 10.0 && high > low * 2.0 && high <= 24_000.0) {
            return fail(
                "passband_hz",
                "must span at least an octave within 10 Hz–24 kHz",
            );
        }
        for (field, cut) in [("low_cut", self.low_cut), ("high_cut", self.high_cut)] {
            let bad = |cut: Cut| {
                ![2, 4, 6, 8].contains(&cut.order) || !(10.0..=24_000.0).contains(&cut.freq_hz)
            };
            if cut.is_some_and(bad) {
                return fail(
                    field,
                    "needs order 2, 4, 6 or 8 and a frequency within 10 Hz–24 kHz",
                );
            }
        }
        match self.channels {
            ChannelHandling::Crossfeed { amount_db } if !(-40.0..=0.0).contains(&amount_db) => {
                return fail("channels.amount_db", "must be between −40 and 0 dB");
            }
            ChannelHandling::MonoBelow { freq_hz } if !(20.0..=1_000.0).contains(&freq_hz) => {
                return fail("channels.freq_hz", "must be between 20 Hz and 1 kHz");
            }
            _ => {}
        }
        if let Some(dsp) = &self.device_dsp {
            let compressors = dsp
                .compressor
                .iter()
                .map(|c| (c.threshold_db, c.ratio, c.attack_ms, c.release_ms))
                .chain(
                    dsp.band_limiters
                        .iter()
                        .map(|b| (b.threshold_db, b.ratio, b.attack_ms, b.release_ms)),
                );
            for (threshold, ratio, attack, release) in compressors {
                if !(-60.0..=0.0).contains(&threshold)
                    || !(1.0..=100.0).contains(&ratio)
                    || attack < 0.0
                    || release <= 0.0
                {
                    return fail(
                        "device_dsp",
                        "needs thresholds −60…0 dB, ratios 1…100 and positive times",
                    );
                }
            }
        }
        if self
            .noise
            .as_ref()
            .is_some_and(|n| !(-90.0..=-10.0).contains(&n.level_lufs))
        {
            return fail("noise.level_lufs", "must be between −90 and −10 LUFS");
        }
        if self.provenance.trim().is_empty() {
            return fail("provenance", "is empty: say what the curve approximates");
        }
        Ok(())
    }

    /// The target response in dB at `freq_hz`, interpolated linearly on log frequency and held
    /// flat beyond the first and last points.
    pub fn target_db(&self, freq_hz: f64) -> f64 {
        let points = &self.response;
        let first = points[0];
        let last = points[points.len() - 1];
        if freq_hz <= first[0] {
            return first[1];
        }
        if freq_hz >= last[0] {
            return last[1];
        }
        let i = points
            .iter()
            .position(|p| p[0] >= freq_hz)
            .unwrap_or(points.len() - 1)
            .max(1);
        let ([f0, d0], [f1, d1]) = (points[i - 1], points[i]);
        let t = (freq_hz / f0).ln() / (f1 / f0).ln();
        d0 + t * (d1 - d0)
    }
}

/// Every built-in profile, validated.
pub fn built_in_profiles() -> Result<Vec<Profile>, ProfileError> {
    BUILT_IN_PROFILES
        .iter()
        .enumerate()
        .map(|(i, text)| Profile::parse(text, &format!("built-in #{}", i + 1)))
        .collect()
}
