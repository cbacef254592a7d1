//! Matching the stereo width and the level to the references, each on its own switch and each
//! proposed as a setting of the chain's own stages: the stereo stage's width, the limiter's
//! loudness target.

use serde::Serialize;

use super::MatchError;
use crate::balance::{Comparison, TargetRange, band_centres_hz};
use crate::chain::{Chain, ChainSettings};
use crate::platform::Targets;

/// The most a width match moves the side against the mid (dB): the stereo stage reaches
/// 0–200 %, and a larger difference is a matter for the mix.
pub const MAX_WIDTH_CHANGE_DB: f64 = 6.0;
/// Side this far under the mid is a mono mix: there is no side for the width to raise.
const MONO_BELOW_DB: f64 = -40.0;
/// The stereo stage's widest setting.
const WIDEST: f64 = 2.0;
/// The streaming services a loud level match is weighed against (their normal settings).
const STREAMING: [&str; 3] = ["spotify", "apple-music", "youtube"];

/// A width that brings the master's side-to-mid energy to the references'.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WidthMatch {
    /// The master's side against its mid over the whole band (dB), with the chain as given:
    /// its EQ, width and mono bass.
    pub mix_width_db: f64,
    /// The references' mean side against mid (dB).
    pub target_width_db: f64,
    /// The stereo stage's width to set (1 = as recorded, 2 = side 6 dB up).
    pub width: f64,
    /// What the new width changes side against mid by (dB), the amount applied.
    pub change_db: f64,
    /// The difference beyond [`MAX_WIDTH_CHANGE_DB`], told as a matter for the mix.
    pub mix_matter: Option<String>,
}

impl WidthMatch {
    /// Sets the stereo stage's width in `chain` (switching the stage on).
    pub fn apply(&self, chain: &mut ChainSettings) {
        chain.stereo.bypass = false;
        chain.stereo.width = self.width;
    }
}

/// What the master's level is matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelBasis {
    /// The references' integrated loudness.
    Loudness,
    /// The references' peak-to-loudness ratio at the chain's ceiling: as dense as they are,
    /// whatever level they were delivered at.
    Plr,
}

/// A loudness target for the limiter that matches the references' level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LevelMatch {
    pub basis: LevelBasis,
    /// The limiter's new target (LUFS).
    pub target_lufs: f64,
    pub references_lufs: f64,
    pub references_plr_db: Option<f64>,
    /// The master's PLR when the limiter holds its ceiling (at most this).
    pub master_plr_db: f64,
    /// What streaming services do with a master this loud, when they turn it down.
    pub streaming_note: Option<String>,
}

impl LevelMatch {
    /// Sets the limiter's loudness target in `chain` (switching the limiter on).
    pub fn apply(&self, chain: &mut ChainSettings) {
        chain.limiter.bypass = false;
        chain.limiter.target_lufs = Some(self.target_lufs);
    }
}

/// The width that brings the mix of `comparison`, mastered through `chain` at `rate`, to the
/// references' side-to-mid energy; `amount` (0–1) of the way.
pub fn match_width(
    comparison: &Comparison,
    chain: &ChainSettings,
    rate: u32,
    amount: f64,
) -> Result<WidthMatch, MatchError> {
    let (Some(pictures), Some(target_width_db)) = (
        comparison.mix.stereo.as_ref(),
        comparison.target.width_db.map(|w| w.mean),
    ) else {
        return Err(MatchError::Limits(
            "width is matched between stereo tracks: the mix or the references are mono".into(),
        ));
    };
    let shaping = Chain::new(chain, rate, 64, 2)?;
    // Each band's mid and side power from its level and side-to-mid ratio (mid + side is
    // half the channels' summed power), shaped as the chain shapes them.
    let (mut mid, mut side) = (0.0, 0.0);
    for ((centre, level_db), picture) in band_centres_hz()
        .into_iter()
        .zip(&comparison.mix.levels_db)
        .zip(pictures)
    {
        let ratio = 10f64.powf(picture.side_to_mid_db / 10.0);
        let band_mid = 0.5 * 10f64.powf(level_db / 10.0) / (1.0 + ratio);
        let (mid_db, side_db) = shaping.mid_side_response_db(centre);
        mid += band_mid * 10f64.powf(mid_db / 10.0);
        side += band_mid * ratio * 10f64.powf(side_db / 10.0);
    }
    let mix_width_db = 10.0 * (side / mid.max(1e-30)).max(1e-12).log10();
    let difference_db = target_width_db - mix_width_db;
    let wanted_db = amount * difference_db;
    let current = if chain.stereo.bypass {
        1.0
    } else {
        chain.stereo.width
    };
    let mono = mix_width_db < MONO_BELOW_DB && wanted_db > 0.0;
    let allowed_db = if mono {
        0.0
    } else {
        wanted_db.clamp(-MAX_WIDTH_CHANGE_DB, MAX_WIDTH_CHANGE_DB)
    };
    // As a user would set it: a whole percent, within the stage's range.
    let width = ((current * 10f64.powf(allowed_db / 20.0)).min(WIDEST) * 100.0).round() / 100.0;
    let change_db = 20.0 * (width / current.max(1e-6)).max(1e-6).log10();
    let mix_matter = if mono {
        Some(format!(
            "the master would be mono (its side {:.0} dB under the mid): a width control has no \
             side to raise; ask for a stereo mix",
            -mix_width_db
        ))
    } else {
        (wanted_db.abs() > MAX_WIDTH_CHANGE_DB + 1.0).then(|| {
            let direction = if difference_db > 0.0 {
                "wider"
            } else {
                "narrower"
            };
            format!(
                "the references are {:.1} dB {direction} (side against mid) than the master would \
             be; beyond the ±{MAX_WIDTH_CHANGE_DB:.0} dB a width control should move: ask for \
             a {direction} mix",
                difference_db.abs()
            )
        })
    };
    Ok(WidthMatch {
        mix_width_db,
        target_width_db,
        width,
        change_db,
        mix_matter,
    })
}

/// The loudness target that matches `target`'s level on `basis`, for a master through `chain`
/// (its ceiling).
pub fn match_level(
    target: &TargetRange,
    chain: &ChainSettings,
    basis: LevelBasis,
) -> Result<LevelMatch, MatchError> {
    let ceiling = chain.limiter.ceiling_dbtp;
    let references_lufs = target.integrated_lufs.mean;
    let references_plr_db = target.plr_db.map(|p| p.mean);
    let target_lufs = match basis {
        LevelBasis::Loudness => references_lufs,
        LevelBasis::Plr => {
            ceiling
                - references_plr_db.ok_or_else(|| {
                    MatchError::Limits("the references have no true peak to take a PLR from".into())
                })?
        }
    };
    // As a user would set it: a tenth of a LU.
    let target_lufs = (target_lufs * 10.0).round() / 10.0;
    Ok(LevelMatch {
        basis,
        target_lufs,
        references_lufs,
        references_plr_db,
        master_plr_db: ceiling - target_lufs,
        streaming_note: streaming_note(target_lufs),
    })
}

/// "Spotify turns it down 5.0 dB, …": how far the services play a master at `lufs` down.
fn streaming_note(lufs: f64) -> Option<String> {
    let targets = Targets::built_in().ok()?;
    let down: Vec<String> = STREAMING
        .iter()
        .filter_map(|id| targets.get(id))
        .filter(|t| t.turns_down && lufs > t.integrated_lufs + 0.5)
        .map(|t| format!("{} {:.1} dB", t.name, lufs - t.integrated_lufs))
        .collect();
    (!down.is_empty()).then(|| {
        format!(
            "at {lufs:.1} LUFS the services turn the master down ({}): the limiting it takes to \
             get there buys no level on them",
            down.join(", ")
        )
    })
}
