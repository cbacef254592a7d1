//! The monitor path's stages: what the engineer hears and never exports.
//!
//! [`MonitorPath`] is the path whole, the one playback, the desk and `crest preview` use.
//! Order (fixed in the design notes): source select (master / bypass at matched gain /
//! reference at matched gain / the master as a codec decodes it, or what it loses / another
//! version of the master rendered offline, at matched gain) → platform normalization gain and
//! limiter → playback-system emulation (and its environment noise) → mono / mid / side → dim →
//! safety ceiling. Playback runs it on the audio thread, so every stage allocates only when it
//! is built.

use serde::{Deserialize, Serialize};

/// What the monitor lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Listen {
    #[default]
    Stereo,
    Mono,
    Mid,
    Side,
}

/// Which source is heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The chain's output.
    #[default]
    Master,
    /// The untouched mix at its matched gain (A/B).
    Mix,
    /// The reference track at its matched gain.
    Reference,
    /// The master as a lossy codec decodes it, at its matched gain (or its platform's, as a
    /// service plays the encoded file).
    Codec,
    /// What the codec takes away: the master minus its decoded copy, heard at the codec's
    /// gain (never level-matched: a residue raised to the master's loudness would lie).
    CodecLoss,
    /// Another version of the master, rendered offline from other settings (a snapshot the
    /// blind test compares), at its matched gain. Two slots, so that two snapshots can be
    /// compared with each other.
    Version(VersionSlot),
}

/// One of the two slots for offline-rendered versions of the master.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionSlot {
    First,
    Second,
}

impl VersionSlot {
    pub const ALL: [Self; 2] = [Self::First, Self::Second];

    pub fn index(self) -> usize {
        match self {
            Self::First => 0,
            Self::Second => 1,
        }
    }
}

impl Source {
    /// The slot of the source's gain: the codec's loss shares the codec's.
    pub(crate) fn slot(self) -> usize {
        match self {
            Self::Master => 0,
            Self::Mix => 1,
            Self::Reference => 2,
            Self::Codec | Self::CodecLoss => 3,
            Self::Version(slot) => 4 + slot.index(),
        }
    }

    /// The source's own place (the order of [`path`]'s limiter shares).
    pub(crate) fn index(self) -> usize {
        match self {
            Self::Master => 0,
            Self::Mix => 1,
            Self::Reference => 2,
            Self::Codec => 3,
            Self::CodecLoss => 4,
            Self::Version(slot) => 5 + slot.index(),
        }
    }
}

/// How the engineer was listening: kept with a session so that a restored or reopened
/// session sounds as it did.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MonitorChoices {
    pub source: Source,
    pub listen: Listen,
    pub dim: bool,
    /// A playback-system emulation by profile id.
    pub emulation: Option<String>,
    /// The emulation's level: matched to the reference system per track, or the device's.
    pub level: crate::emulation::LevelMode,
    pub environment_noise: bool,
    pub solo_lost: bool,
    /// A platform's normalization by target id.
    pub platform: Option<String>,
    /// The codec whose decoded copy the codec slot holds, by lossy format id (`mp3-320`).
    pub codec: Option<String>,
}

/// One stage of the monitor path.
pub trait MonitorStage: Send + std::fmt::Debug {
    /// Processes planar audio in place: any number of frames, the channel count the stage was
    /// built for. Never allocates, locks or blocks.
    fn process(&mut self, channels: &mut [&mut [f32]]);

    /// Delay the stage adds, in frames (bypass paths and playheads compensate it).
    fn latency_frames(&self) -> usize;

    /// Clears all state (filters, envelopes, noise phase) after a seek or a stop.
    fn reset(&mut self);
}

mod path;

pub use path::{
    DIM_GAIN, MONITOR_RAMP_MS, Measured, MonitorPath, PlatformLimit, Ramp, SAFETY_CEILING,
    SourceGains, Sources, render_heard,
};
