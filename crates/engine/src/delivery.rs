//! Delivery presets: what a file must meet (format, rate, dither, loudness, ceiling), as
//! opposed to a chain preset, which is how it sounds. Shipped in `assets/delivery/`.
//!
//! Schema version 2 (`"version": 2`) says what a preset does with loudness in `target_lufs`:
//! a number mandates that loudness (broadcast −23), `"none"` renders without any loudness
//! target (the chain's own gain), and leaving it out keeps the target the master was judged
//! at (the desk's, or the chain's and the flags' on the command line). Version 1 presets (no
//! `version`) still read: their `null` meant "no loudness standard" and now keeps the target,
//! as it was always meant to.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chain::TruePeakMode;
use crate::export::{Dither, Format};

/// The preset schema this build writes and reads.
pub const DELIVERY_SCHEMA_VERSION: u32 = 2;

/// The presets built into the program, one JSON file each.
const BUILT_IN: [&str; 9] = [
    include_str!("../../../assets/delivery/streaming.json"),
    include_str!("../../../assets/delivery/apple-music.json"),
    include_str!("../../../assets/delivery/cd.json"),
    include_str!("../../../assets/delivery/broadcast-r128.json"),
    include_str!("../../../assets/delivery/hires-archive.json"),
    include_str!("../../../assets/delivery/mp3-320.json"),
    include_str!("../../../assets/delivery/ogg-320.json"),
    include_str!("../../../assets/delivery/opus-160.json"),
    include_str!("../../../assets/delivery/aac-256.json"),
];

/// What a delivery preset does with the master's loudness.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum PresetLoudness {
    /// The target the master was judged at stays (no target stays no target).
    #[default]
    Keep,
    /// No loudness target at all: the chain's own gain into the limiter.
    NoTarget,
    /// This integrated loudness (LUFS), whatever the master was judged at.
    Mandated(f64),
}

impl PresetLoudness {
    /// The loudness target a master has after this rule, from the one it was judged at.
    pub fn target_from(self, judged: Option<f64>) -> Option<f64> {
        match self {
            Self::Keep => judged,
            Self::NoTarget => None,
            Self::Mandated(lufs) => Some(lufs),
        }
    }
}

impl Serialize for PresetLoudness {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // Skipped by the field's `skip_serializing_if`; written as "keep" if asked.
            Self::Keep => serializer.serialize_str("keep"),
            Self::NoTarget => serializer.serialize_str("none"),
            Self::Mandated(lufs) => serializer.serialize_f64(*lufs),
        }
    }
}

/// `target_lufs` as written: a number, a word, `null` (version 1), or absent (None).
#[derive(Deserialize)]
#[serde(untagged)]
enum WrittenLoudness {
    Lufs(f64),
    Word(String),
}

/// Keeps `null` apart from an absent field: `Some(None)` is an explicit `null`.
fn present_or_null<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<WrittenLoudness>>, D::Error> {
    Option::<WrittenLoudness>::deserialize(deserializer).map(Some)
}

/// A preset as its file says it (before the loudness rule is read for its version).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WrittenPreset {
    #[serde(default = "first_version")]
    version: u32,
    id: String,
    name: String,
    format: Format,
    sample_rate: Option<u32>,
    dither: Dither,
    #[serde(default, deserialize_with = "present_or_null")]
    target_lufs: Option<Option<WrittenLoudness>>,
    ceiling_dbtp: f64,
    /// The meter the ceiling is held on; absent: the chain's own choice.
    #[serde(default)]
    true_peak: Option<TruePeakMode>,
    source: String,
    #[serde(default)]
    notes: String,
}

fn first_version() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryPreset {
    /// [`DELIVERY_SCHEMA_VERSION`] when written.
    pub version: u32,
    /// Short lowercase name used by `--delivery`.
    pub id: String,
    pub name: String,
    pub format: Format,
    /// Delivery rate; none keeps the source's.
    pub sample_rate: Option<u32>,
    pub dither: Dither,
    /// Keep the judged target, no target, or a mandated one (absent in the file: keep).
    #[serde(skip_serializing_if = "is_keep")]
    pub target_lufs: PresetLoudness,
    pub ceiling_dbtp: f64,
    /// The meter the ceiling is held and checked on; none keeps the chain's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub true_peak: Option<TruePeakMode>,
    /// Where the numbers come from.
    pub source: String,
    pub notes: String,
}

fn is_keep(loudness: &PresetLoudness) -> bool {
    *loudness == PresetLoudness::Keep
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("delivery preset {preset}: {reason}")]
pub struct DeliveryError {
    pub preset: String,
    pub reason: String,
}

impl DeliveryPreset {
    /// The preset's loudness rule and ceiling put into chain settings (the limiter on). The
    /// settings' own target is the one the master was judged at.
    pub fn apply_to(&self, settings: &mut crate::chain::ChainSettings) {
        self.apply_judged(settings, None);
    }

    /// As [`apply_to`](Self::apply_to), for a master that was measured at `measured_lufs`
    /// (the desk's): a preset that keeps the loudness keeps that one when the settings have
    /// no target, so a different ceiling or rate does not move it.
    pub fn apply_judged(
        &self,
        settings: &mut crate::chain::ChainSettings,
        measured_lufs: Option<f64>,
    ) {
        let judged = settings.limiter.target_lufs.or(measured_lufs);
        settings.limiter.bypass = false;
        settings.limiter.target_lufs = self.target_lufs.target_from(judged);
        settings.limiter.ceiling_dbtp = self.ceiling_dbtp;
        if let Some(meter) = self.true_peak {
            settings.limiter.true_peak = meter;
        }
    }

    /// Whether a file for this preset is meant to sound as loud as the master was judged.
    pub fn keeps_loudness(&self) -> bool {
        self.target_lufs == PresetLoudness::Keep
    }

    /// Reads and checks one preset (schema version 1 or 2).
    pub fn from_json(text: &str) -> Result<Self, DeliveryError> {
        let written: WrittenPreset = serde_json::from_str(text).map_err(|e| DeliveryError {
            preset: "(file)".into(),
            reason: e.to_string(),
        })?;
        let fail = |reason: &str| DeliveryError {
            preset: written.id.clone(),
            reason: reason.to_owned(),
        };
        if !(1..=DELIVERY_SCHEMA_VERSION).contains(&written.version) {
            return Err(fail(&format!(
                "schema version {} is newer than this Crest reads (up to {DELIVERY_SCHEMA_VERSION})",
                written.version
            )));
        }
        let target_lufs = match (&written.target_lufs, written.version) {
            (None, _) => PresetLoudness::Keep,
            // Version 1's null: "no loudness standard", which always meant keep the master's.
            (Some(None), 1) => PresetLoudness::Keep,
            (Some(None), _) => {
                return Err(fail(
                    "`target_lufs` is a number, \"none\" (no loudness target) or left out \
                     (keep the master's target); null is not one of them",
                ));
            }
            (Some(Some(WrittenLoudness::Word(word))), _) if word == "none" => {
                PresetLoudness::NoTarget
            }
            (Some(Some(WrittenLoudness::Word(word))), _) => {
                return Err(fail(&format!(
                    "`target_lufs` \"{word}\": a number, \"none\" or left out"
                )));
            }
            (Some(Some(WrittenLoudness::Lufs(t))), _) => {
                if !(-40.0..=-3.0).contains(t) {
                    return Err(fail("`target_lufs` must be −40 to −3 LUFS"));
                }
                PresetLoudness::Mandated(*t)
            }
        };
        let preset = Self {
            version: DELIVERY_SCHEMA_VERSION,
            id: written.id.clone(),
            name: written.name,
            format: written.format,
            sample_rate: written.sample_rate,
            dither: written.dither,
            target_lufs,
            ceiling_dbtp: written.ceiling_dbtp,
            true_peak: written.true_peak,
            source: written.source,
            notes: written.notes,
        };
        if !crate::units::is_short_id(&preset.id) {
            return Err(fail("`id` must be a short lowercase name"));
        }
        if !(-20.0..=0.0).contains(&preset.ceiling_dbtp) {
            return Err(fail("`ceiling_dbtp` must be −20 to 0 dBTP"));
        }
        if let Some(rate) = preset.sample_rate
            && !crate::limits::DELIVERY_RATES.contains(&rate)
        {
            return Err(fail("`sample_rate` must be 8 000–384 000 Hz"));
        }
        if preset.source.trim().is_empty() {
            return Err(fail("`source` must say where the numbers come from"));
        }
        Ok(preset)
    }
}

/// The built-in presets, checked.
pub fn built_in() -> Result<Vec<DeliveryPreset>, DeliveryError> {
    BUILT_IN
        .iter()
        .map(|t| DeliveryPreset::from_json(t))
        .collect()
}

/// A built-in preset by id.
pub fn find(id: &str) -> Result<Option<DeliveryPreset>, DeliveryError> {
    Ok(built_in()?.into_iter().find(|p| p.id == id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::ChainSettings;

    fn preset(version: Option<u32>, target: Option<&str>) -> Result<DeliveryPreset, DeliveryError> {
        let version = version.map_or(String::new(), |v| format!("\"version\": {v},"));
        let target = target.map_or(String::new(), |t| format!("\"target_lufs\": {t},"));
        DeliveryPreset::from_json(&format!(
            r#"{{ {version} "id": "x", "name": "X", "format": "wav16", "sample_rate": null,
               "dither": "tpdf", {target} "ceiling_dbtp": -0.3, "source": "test" }}"#
        ))
    }

    fn judged_at(target: Option<f64>, preset: &DeliveryPreset) -> Option<f64> {
        let mut settings = ChainSettings::gentle_master();
        settings.limiter.target_lufs = target;
        preset.apply_to(&mut settings);
        assert_eq!(settings.limiter.ceiling_dbtp, -0.3);
        settings.limiter.target_lufs
    }

    #[test]
    fn the_three_loudness_rules_read_and_apply() {
        let keep = preset(Some(2), None).expect("reads");
        assert_eq!(keep.target_lufs, PresetLoudness::Keep);
        assert_eq!(judged_at(Some(-14.0), &keep), Some(-14.0));
        assert_eq!(judged_at(None, &keep), None);
        let mut desk = ChainSettings::gentle_master();
        keep.apply_judged(&mut desk, Some(-11.3));
        assert_eq!(
            desk.limiter.target_lufs,
            Some(-11.3),
            "the measured master's loudness"
        );
        let none = preset(Some(2), Some("\"none\"")).expect("reads");
        assert_eq!(judged_at(Some(-14.0), &none), None);
        let mandated = preset(Some(2), Some("-23.0")).expect("reads");
        assert_eq!(judged_at(Some(-14.0), &mandated), Some(-23.0));
        assert_eq!(judged_at(None, &mandated), Some(-23.0));
    }

    #[test]
    fn version_one_null_keeps_the_target_and_version_two_refuses_it() {
        let old = preset(None, Some("null")).expect("reads");
        assert_eq!(old.target_lufs, PresetLoudness::Keep);
        assert_eq!(
            old.version, DELIVERY_SCHEMA_VERSION,
            "read into the current schema"
        );
        assert_eq!(judged_at(Some(-14.0), &old), Some(-14.0));
        let old_number = preset(Some(1), Some("-16.0")).expect("reads");
        assert_eq!(old_number.target_lufs, PresetLoudness::Mandated(-16.0));
        let error = preset(Some(2), Some("null")).expect_err("refused");
        assert!(error.reason.contains("\"none\""), "{error}");
        assert!(preset(Some(2), Some("\"loud\"")).is_err());
        assert!(preset(Some(2), Some("-2.0")).is_err());
        assert!(
            preset(Some(3), None)
                .expect_err("refused")
                .reason
                .contains("newer")
        );
    }

    #[test]
    fn a_preset_may_hold_its_ceiling_on_the_strict_meter() {
        use crate::chain::TruePeakMode;
        let strict = DeliveryPreset::from_json(
            r#"{ "version": 2, "id": "x", "name": "X", "format": "wav24", "sample_rate": null,
               "dither": "tpdf", "ceiling_dbtp": -1.0, "true_peak": "strict", "source": "test" }"#,
        )
        .expect("reads");
        assert_eq!(strict.true_peak, Some(TruePeakMode::Strict));
        let mut settings = ChainSettings::gentle_master();
        strict.apply_to(&mut settings);
        assert_eq!(settings.limiter.true_peak, TruePeakMode::Strict);
        // Without the field the chain's own choice stands.
        let silent = preset(Some(2), None).expect("reads");
        assert_eq!(silent.true_peak, None);
        silent.apply_to(&mut settings);
        assert_eq!(settings.limiter.true_peak, TruePeakMode::Strict);
        let text = serde_json::to_string(&strict).expect("writes");
        assert_eq!(DeliveryPreset::from_json(&text).expect("reads"), strict);
    }

    #[test]
    fn a_preset_written_out_reads_back_the_same() {
        for preset in built_in().expect("reads") {
            let text = serde_json::to_string_pretty(&preset).expect("reads");
            assert_eq!(
                DeliveryPreset::from_json(&text).expect("reads"),
                preset,
                "{text}"
            );
        }
    }

    #[test]
    fn the_cd_preset_keeps_the_loudness_and_the_archive_has_none() {
        let cd = find("cd").expect("reads").expect("cd");
        assert!(cd.keeps_loudness());
        assert_eq!(judged_at(Some(-14.0), &cd), Some(-14.0));
        let archive = find("hires-archive").expect("reads").expect("archive");
        assert_eq!(archive.target_lufs, PresetLoudness::NoTarget);
        let broadcast = find("broadcast-r128").expect("reads").expect("broadcast");
        assert_eq!(broadcast.target_lufs, PresetLoudness::Mandated(-23.0));
    }
}
