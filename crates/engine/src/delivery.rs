//! Delivery presets: what a file must meet (format, rate, dither, loudness target, ceiling),
//! as opposed to a chain preset, which is how it sounds. Shipped in `assets/delivery/`.

use serde::{Deserialize, Serialize};

use crate::export::{Dither, Format};

/// The presets built into the program, one JSON file each.
const BUILT_IN: [&str; 5] = [
    include_str!("../../../assets/delivery/streaming.json"),
    include_str!("../../../assets/delivery/apple-music.json"),
    include_str!("../../../assets/delivery/cd.json"),
    include_str!("../../../assets/delivery/broadcast-r128.json"),
    include_str!("../../../assets/delivery/hires-archive.json"),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryPreset {
    /// Short lowercase name used by `--delivery`.
    pub id: String,
    pub name: String,
    pub format: Format,
    /// Delivery rate; none keeps the source's.
    pub sample_rate: Option<u32>,
    pub dither: Dither,
    pub target_lufs: Option<f64>,
    pub ceiling_dbtp: f64,
    /// Where the numbers come from.
    pub source: String,
    #[serde(default)]
    pub notes: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("delivery preset {preset}: {reason}")]
pub struct DeliveryError {
    pub preset: String,
    pub reason: String,
}

impl DeliveryPreset {
    /// The preset's loudness target and ceiling put into chain settings (the limiter on).
    pub fn apply_to(&self, settings: &mut crate::chain::ChainSettings) {
        settings.limiter.bypass = false;
        settings.limiter.target_lufs = self.target_lufs;
        settings.limiter.ceiling_dbtp = self.ceiling_dbtp;
    }

    /// Reads and checks one preset.
    pub fn from_json(text: &str) -> Result<Self, DeliveryError> {
        let preset: Self = serde_json::from_str(text).map_err(|e| DeliveryError {
            preset: "(file)".into(),
            reason: e.to_string(),
        })?;
        let fail = |reason: &str| DeliveryError {
            preset: preset.id.clone(),
            reason: reason.to_owned(),
        };
        if !crate::units::is_short_id(&preset.id) {
            return Err(fail("`id` must be a short lowercase name"));
        }
        if !(-20.0..=0.0).contains(&preset.ceiling_dbtp) {
            return Err(fail("`ceiling_dbtp` must be −20 to 0 dBTP"));
        }
        if let Some(t) = preset.target_lufs
            && !(-40.0..=-3.0).contains(&t)
        {
            return Err(fail("`target_lufs` must be −40 to −3 LUFS"));
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
