//! Streaming and broadcast loudness targets, and what each platform does to a master: the gain
//! it applies, where that leaves the loudness and the peaks, and how much a loud master is
//! turned down (the "loudness penalty").
//!
//! The table ships as `assets/targets.json` (built into the binary); every entry says where its
//! numbers come from, when they were checked, and whether they are an approximation.

use std::collections::HashSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The table built into Crest.
pub const BUILT_IN_TARGETS: &str = include_str!("../../../assets/targets.json");
/// The table format this build reads.
pub const TARGETS_VERSION: u32 = 1;

/// What a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// A service that normalizes playback loudness.
    Streaming,
    /// A delivery specification for broadcast.
    Broadcast,
    /// A published recommendation.
    Recommendation,
}

/// A limiter the platform runs when it raises quiet tracks (Spotify's loud mode).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformLimiter {
    pub ceiling_dbtp: f64,
    pub attack_ms: f64,
    pub release_ms: f64,
}

/// One platform or specification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Short lowercase id used by every flag (`spotify`, `apple-music`, `ebu-r128`, …).
    pub id: String,
    pub name: String,
    pub kind: TargetKind,
    pub integrated_lufs: f64,
    /// Loud masters are turned down to the target.
    pub turns_down: bool,
    /// Quiet masters are turned up towards the target.
    pub turns_up: bool,
    /// Positive gain stops where the true peak would pass this level.
    pub positive_gain_peak_limit_dbtp: Option<f64>,
    /// Positive gain goes through this limiter instead (peaks above its ceiling are limited).
    pub limiter: Option<PlatformLimiter>,
    /// A delivery specification's maximum true peak after normalization.
    pub true_peak_max_dbtp: Option<f64>,
    /// How the platform treats albums (data for album work; previews are per track).
    pub album_mode: Option<String>,
    pub source: String,
    /// When the numbers were last checked (YYYY-MM-DD).
    pub checked: String,
    /// The numbers approximate an unpublished or loosely specified behaviour.
    pub approximation: bool,
    pub notes: String,
    /// Offered as a loudness target on the desk, under this short label ("Spotify"); the
    /// desk shows "−14 Spotify".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desk_label: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    version: u32,
    targets: Vec<Target>,
}

/// Why a targets table was refused.
#[derive(Debug, thiserror::Error)]
pub enum TargetsError {
    #[error("cannot read the targets file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the targets table is not valid: {0}")]
    Parse(String),
    #[error("the targets table has version {found}; this Crest reads version {expected}")]
    Version { found: u32, expected: u32 },
    #[error("target {entry}: field `{field}` {reason}")]
    Invalid {
        entry: String,
        field: &'static str,
        reason: String,
    },
}

/// The loaded, validated table.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    targets: Vec<Target>,
}

impl Targets {
    /// The table built into Crest.
    pub fn built_in() -> Result<Self, TargetsError> {
        Self::parse(BUILT_IN_TARGETS)
    }

    pub fn load(path: &Path) -> Result<Self, TargetsError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses and validates a table; the error names the entry and the field.
    pub fn parse(text: &str) -> Result<Self, TargetsError> {
        // serde_json's messages name the missing, unknown or mistyped field and its line.
        let file: TargetsFile =
            serde_json::from_str(text).map_err(|e| TargetsError::Parse(e.to_string()))?;
        if file.version != TARGETS_VERSION {
            return Err(TargetsError::Version {
                found: file.version,
                expected: TARGETS_VERSION,
            });
        }
        let mut seen = HashSet::new();
        for (index, target) in file.targets.iter().enumerate() {
            target.validate(index)?;
            if !seen.insert(target.id.as_str()) {
                return Err(invalid(target.id.clone(), "id", "is used twice".into()));
            }
        }
        Ok(Self {
            targets: file.targets,
        })
    }

    pub fn all(&self) -> &[Target] {
        &self.targets
    }

    pub fn get(&self, id: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.id == id)
    }

    /// The ids, for error messages that list the choices.
    pub fn ids(&self) -> Vec<&str> {
        self.targets.iter().map(|t| t.id.as_str()).collect()
    }
}

fn invalid(entry: String, field: &'static str, reason: String) -> TargetsError {
    TargetsError::Invalid {
        entry,
        field,
        reason,
    }
}

impl Target {
    fn validate(&self, index: usize) -> Result<(), TargetsError> {
        let entry = if self.id.is_empty() {
            format!("#{}", index + 1)
        } else {
            self.id.clone()
        };
        let fail = |field, reason: &str| Err(invalid(entry.clone(), field, reason.to_owned()));
        if !crate::units::is_short_id(&self.id) {
            return fail("id", "must be a short lowercase name (a-z, 0-9, -)");
        }
        if self.name.trim().is_empty() {
            return fail("name", "is empty");
        }
        if self
            .desk_label
            .as_ref()
            .is_some_and(|l| l.trim().is_empty() || l.chars().count() > 16)
        {
            return fail("desk_label", "must be 1 to 16 characters");
        }
        if !(-40.0..=0.0).contains(&self.integrated_lufs) {
            return fail("integrated_lufs", "must be between -40 and 0 LUFS");
        }
        for (field, value) in [
            (
                "positive_gain_peak_limit_dbtp",
                self.positive_gain_peak_limit_dbtp,
            ),
            ("true_peak_max_dbtp", self.true_peak_max_dbtp),
            ("limiter.ceiling_dbtp", self.limiter.map(|l| l.ceiling_dbtp)),
        ] {
            if value.is_some_and(|v| !(-20.0..=0.0).contains(&v)) {
                return fail(field, "must be between -20 and 0 dBTP");
            }
        }
        if let Some(limiter) = self.limiter {
            if !(limiter.attack_ms > 0.0 && limiter.attack_ms <= 100.0) {
                return fail("limiter.attack_ms", "must be above 0 and at most 100 ms");
            }
            if !(limiter.release_ms > 0.0 && limiter.release_ms <= 5_000.0) {
                return fail("limiter.release_ms", "must be above 0 and at most 5000 ms");
            }
            if self.positive_gain_peak_limit_dbtp.is_some() {
                return fail(
                    "limiter",
                    "and positive_gain_peak_limit_dbtp exclude each other",
                );
            }
        }
        if !self.turns_up && !self.turns_down {
            return fail(
                "turns_up",
                "and turns_down are both false: the target would do nothing",
            );
        }
        if self.source.trim().is_empty() {
            return fail("source", "is empty: every number needs its source");
        }
        if !is_iso_date(&self.checked) {
            return fail("checked", "must be a date as YYYY-MM-DD");
        }
        Ok(())
    }

    /// What this platform does to a master of the given loudness and true peak.
    pub fn preview(
        &self,
        integrated_lufs: Option<f64>,
        true_peak_dbtp: Option<f64>,
    ) -> Normalization {
        let Some(loudness) = integrated_lufs else {
            // Silence or too short to measure: platforms leave it alone.
            return Normalization {
                target_id: self.id.clone(),
                gain_db: 0.0,
                resulting_lufs: None,
                true_peak_after_dbtp: true_peak_dbtp,
                loudness_penalty_db: 0.0,
                gain_withheld_db: 0.0,
                limiter_reduction_db: 0.0,
                exceeds_true_peak_max: false,
            };
        };
        let wanted = self.integrated_lufs - loudness;
        let mut gain = wanted;
        let mut withheld = 0.0;
        let mut limiter_reduction = 0.0;
        if wanted < 0.0 && !self.turns_down || wanted > 0.0 && !self.turns_up {
            gain = 0.0;
        } else if wanted > 0.0 {
            if let (Some(limit), Some(peak)) = (self.positive_gain_peak_limit_dbtp, true_peak_dbtp)
            {
                gain = wanted.min((limit - peak).max(0.0));
                withheld = wanted - gain;
            }
            if let (Some(limiter), Some(peak)) = (self.limiter, true_peak_dbtp) {
                limiter_reduction = (peak + gain - limiter.ceiling_dbtp).max(0.0);
            }
        }
        let peak_after = true_peak_dbtp.map(|p| p + gain - limiter_reduction);
        Normalization {
            target_id: self.id.clone(),
            gain_db: gain,
            // A limiter only touches the peaks; the loudness moves by the gain (to within the
            // small loss of the limited peaks, not modelled here).
            resulting_lufs: Some(loudness + gain),
            true_peak_after_dbtp: peak_after,
            loudness_penalty_db: (-gain).max(0.0),
            gain_withheld_db: withheld,
            limiter_reduction_db: limiter_reduction,
            exceeds_true_peak_max: match (self.true_peak_max_dbtp, peak_after) {
                (Some(max), Some(after)) => after > max,
                _ => false,
            },
        }
    }
}

fn is_iso_date(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => {
            let number = |s: &str, len: usize| {
                let digits = s.len() == len && s.chars().all(|c| c.is_ascii_digit());
                digits.then(|| s.parse::<u32>().ok()).flatten()
            };
            matches!(
                (number(y, 4), number(m, 2), number(d, 2)),
                (Some(_), Some(1..=12), Some(1..=31))
            )
        }
        _ => false,
    }
}

/// What one platform does to one master.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Normalization {
    pub target_id: String,
    /// The gain the platform applies (negative: turned down).
    pub gain_db: f64,
    pub resulting_lufs: Option<f64>,
    pub true_peak_after_dbtp: Option<f64>,
    /// How much a loud master is turned down: the loudness it bought and lost.
    pub loudness_penalty_db: f64,
    /// Positive gain the platform would have applied but held back for peak headroom.
    pub gain_withheld_db: f64,
    /// How hard the platform's own limiter works on the raised master's peaks.
    pub limiter_reduction_db: f64,
    /// For delivery specifications: the normalized master's true peak is above the maximum.
    pub exceeds_true_peak_max: bool,
}

impl Normalization {
    /// One plain sentence, e.g. "Spotify (normal) plays this 6.0 dB quieter (−14.0 LUFS)".
    pub fn sentence(&self, target: &Target) -> String {
        let result = self
            .resulting_lufs
            .map(|l| format!(" ({l:.1} LUFS)"))
            .unwrap_or_default();
        let mut text = if self.gain_db < -0.05 {
            format!(
                "{} plays this {:.1} dB quieter{result}",
                target.name, -self.gain_db
            )
        } else if self.gain_db > 0.05 {
            format!(
                "{} plays this {:.1} dB louder{result}",
                target.name, self.gain_db
            )
        } else {
            format!("{} plays this unchanged{result}", target.name)
        };
        if self.gain_withheld_db > 0.05 {
            text.push_str(&format!(
                "; {:.1} dB of gain held back for peak headroom",
                self.gain_withheld_db
            ));
        }
        if self.limiter_reduction_db > 0.05 {
            text.push_str(&format!(
                "; its limiter takes {:.1} dB off the peaks",
                self.limiter_reduction_db
            ));
        }
        if self.exceeds_true_peak_max {
            text.push_str(&format!(
                "; true peak {:.1} dBTP is above the {:.1} dBTP maximum",
                self.true_peak_after_dbtp.unwrap_or(0.0),
                target.true_peak_max_dbtp.unwrap_or(0.0)
            ));
        }
        text
    }
}
