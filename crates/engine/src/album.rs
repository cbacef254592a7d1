//! The album document (`*.crest-album.json`): a release's metadata, the album chain (every
//! track's chain unless it has its own), how loudness is held across the tracks, and the
//! tracks in order, each with its source, its own metadata, trims and fades, and the
//! transition to the next (a gap of digital silence or a crossfade).
//!
//! Versioned JSON like a session. Relative sources are read against the album file's folder,
//! so an album moved with its audio keeps working; a source that is gone leaves its track
//! marked missing (nothing else is lost) until it is relinked.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::chain::{ChainSettings, FadeCurve};
use crate::files::{WriteError, write_atomically};

pub mod cd;
pub mod cue;
mod overview;
mod release;
mod sequence;

pub use overview::{AlbumOverview, TrackOverview, TransitionOverview, clock};
pub use release::{
    AlbumReport, ReleaseCover, ReleaseFile, ReleasePaths, ReleaseRequest, write_release,
};
pub use sequence::{
    ALBUM_TOLERANCE_LU, AlbumControl, AlbumTimings, LoudnessPlan, MasteredSequence, MixFacts,
    Placement, PlannedTrack, SequenceError, SequenceLayout, SequenceRequest, master_sequence,
    slice,
};

pub const ALBUM_VERSION: u32 = 1;
/// Silence between tracks unless set otherwise (s).
pub const DEFAULT_GAP_S: f64 = 2.0;
/// The longest gap between tracks (s).
pub const MAX_GAP_S: f64 = 600.0;
/// The longest crossfade (s).
pub const MAX_CROSSFADE_S: f64 = 60.0;
/// A CD holds at most this many tracks (and an album here too).
pub const MAX_TRACKS: usize = 99;

/// A release of several tracks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Album {
    pub version: u32,
    pub metadata: AlbumMetadata,
    /// Every track's chain unless it has its own.
    pub chain: ChainSettings,
    pub loudness: AlbumLoudness,
    /// Which track file a gap between tracks is stored in.
    #[serde(default)]
    pub gap_placement: GapPlacement,
    pub tracks: Vec<AlbumTrack>,
}

/// Which track file holds the silence between two tracks (the continuous album is the same
/// either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapPlacement {
    /// At the end of the track before it (what most players and stores expect).
    #[default]
    EndOfPrevious,
    /// As the next track's pre-gap (a CD's index 00): its file starts with the silence.
    PregapOfNext,
}

/// What a release is called and catalogued as.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlbumMetadata {
    pub title: String,
    pub artist: String,
    pub year: Option<u16>,
    pub genre: Option<String>,
    /// UPC-A (12 digits) or EAN-13 (13 digits), check digit included.
    pub upc: Option<String>,
    pub catalogue_number: Option<String>,
    /// The front cover (JPEG or PNG), embedded in every file that carries one: absolute, or
    /// relative to the album file's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover: Option<PathBuf>,
}

/// How the tracks' loudness is decided.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlbumLoudness {
    pub mode: LoudnessMode,
    /// Integrated loudness (LUFS): each track's, or the whole sequence's in album mode.
    pub target_lufs: f64,
    /// Every track's true-peak ceiling (dBTP).
    pub ceiling_dbtp: f64,
}

impl Default for AlbumLoudness {
    fn default() -> Self {
        Self {
            mode: LoudnessMode::Album,
            target_lufs: -14.0,
            ceiling_dbtp: -1.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoudnessMode {
    /// Each track meets the target on its own.
    PerTrack,
    /// The tracks keep their levels relative to each other (their offsets) and the album as
    /// a whole meets the target, as services' album normalization plays it.
    Album,
}

/// One track of the album.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlbumTrack {
    /// The mix: absolute, or relative to the album file's folder.
    pub source: PathBuf,
    pub title: String,
    /// None: the album's artist.
    #[serde(default)]
    pub artist: Option<String>,
    /// International Standard Recording Code (12 characters; hyphens are dropped).
    #[serde(default)]
    pub isrc: Option<String>,
    /// Its own chain; none: the album chain.
    #[serde(default)]
    pub chain: Option<ChainSettings>,
    /// Album mode: its level against the album (LU); none: the mix's own relative loudness.
    #[serde(default)]
    pub offset_lu: Option<f64>,
    #[serde(default)]
    pub edit: TrackEdit,
    /// To the next track (the last track's is ignored).
    #[serde(default)]
    pub transition: Transition,
}

/// Trims and fades of a track (seconds; fades after trimming).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackEdit {
    pub trim_start_s: f64,
    pub trim_end_s: f64,
    pub fade_in_s: f64,
    pub fade_out_s: f64,
    pub fade_in_curve: FadeCurve,
    pub fade_out_curve: FadeCurve,
}

/// What joins a track to the next.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Transition {
    /// Digital silence.
    Gap { seconds: f64 },
    /// The next track starts this long before this one ends (continuous albums).
    Crossfade { seconds: f64, curve: FadeCurve },
}

impl Default for Transition {
    fn default() -> Self {
        Self::Gap {
            seconds: DEFAULT_GAP_S,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AlbumError {
    #[error("not an album file: {0}")]
    Format(String),
    #[error("album format version {0} (this build reads {ALBUM_VERSION})")]
    Version(u32),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl Album {
    /// A new album of `sources` in order, with the defaults: titles from the file names, a
    /// 2 s gap after each, album loudness at −14 LUFS and a −1 dBTP ceiling, `chain` for all.
    pub fn new(metadata: AlbumMetadata, chain: ChainSettings, sources: &[PathBuf]) -> Self {
        Self {
            version: ALBUM_VERSION,
            metadata,
            chain,
            loudness: AlbumLoudness::default(),
            gap_placement: GapPlacement::default(),
            tracks: sources
                .iter()
                .map(|source| AlbumTrack {
                    title: source
                        .file_stem()
                        .map_or_else(String::new, |s| s.to_string_lossy().into_owned()),
                    source: source.clone(),
                    artist: None,
                    isrc: None,
                    chain: None,
                    offset_lu: None,
                    edit: TrackEdit::default(),
                    transition: Transition::default(),
                })
                .collect(),
        }
    }

    /// Reads an album file's text: the version this build writes, and nothing
    /// [`check`](Self::check) refuses.
    pub fn from_json(text: &str) -> Result<Self, AlbumError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| AlbumError::Format(e.to_string()))?;
        if let Some(version) = value.get("version").and_then(serde_json::Value::as_u64)
            && version != u64::from(ALBUM_VERSION)
        {
            return Err(AlbumError::Version(version as u32));
        }
        let mut album: Self =
            serde_json::from_value(value).map_err(|e| AlbumError::Format(e.to_string()))?;
        for track in &mut album.tracks {
            track.isrc = track.isrc.as_deref().map(normalized_isrc);
        }
        album.check().map_err(AlbumError::Invalid)?;
        Ok(album)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an album serializes")
    }

    /// Reads an album file.
    pub fn load(path: &Path) -> Result<Self, AlbumError> {
        Self::from_json(&std::fs::read_to_string(path)?)
    }

    /// Writes the album atomically (a crash leaves the old file or the new, never half).
    pub fn save(&self, path: &Path) -> Result<(), AlbumError> {
        self.check().map_err(AlbumError::Invalid)?;
        write_atomically(path, true, self.to_json().as_bytes())?;
        Ok(())
    }

    /// What makes the album unusable, in words naming the track; all of it at once.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if self.tracks.is_empty() {
            problems.push("an album needs at least one track".to_owned());
        }
        if self.tracks.len() > MAX_TRACKS {
            problems.push(format!(
                "{} tracks: an album holds at most {MAX_TRACKS}",
                self.tracks.len()
            ));
        }
        if let Some(upc) = &self.metadata.upc
            && !valid_upc(upc)
        {
            problems.push(format!(
                "UPC/EAN {upc}: 12 or 13 digits with a correct check digit"
            ));
        }
        for (n, track) in self.tracks.iter().enumerate() {
            let name = format!("track {} ({})", n + 1, track.title);
            if let Some(isrc) = &track.isrc
                && !valid_isrc(isrc)
            {
                problems.push(format!(
                    "{name}: ISRC {isrc} is not CC-XXX-YY-NNNNN (country, registrant, year, \
                     designation)"
                ));
            }
            let e = &track.edit;
            if [e.trim_start_s, e.trim_end_s, e.fade_in_s, e.fade_out_s]
                .iter()
                .any(|v| !v.is_finite() || *v < 0.0)
            {
                problems.push(format!("{name}: trims and fades are seconds, 0 or more"));
            }
            match track.transition {
                Transition::Gap { seconds }
                    if !seconds.is_finite() || !(0.0..=MAX_GAP_S).contains(&seconds) =>
                {
                    problems.push(format!("{name}: a gap is 0 to {MAX_GAP_S:.0} seconds"));
                }
                Transition::Crossfade { seconds, .. }
                    if !seconds.is_finite() || seconds <= 0.0 || seconds > MAX_CROSSFADE_S =>
                {
                    problems.push(format!(
                        "{name}: a crossfade is longer than 0 and at most {MAX_CROSSFADE_S:.0} \
                         seconds"
                    ));
                }
                _ => {}
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }

    /// Where track `n`'s source is: as written when absolute, else in `folder` (the album
    /// file's).
    pub fn source_path(&self, n: usize, folder: &Path) -> PathBuf {
        let source = &self.tracks[n].source;
        if source.is_absolute() {
            source.clone()
        } else {
            folder.join(source)
        }
    }

    /// The cover's file, for the album file in `folder`.
    pub fn cover_path(&self, folder: &Path) -> Option<PathBuf> {
        let cover = self.metadata.cover.as_ref()?;
        Some(if cover.is_absolute() {
            cover.clone()
        } else {
            folder.join(cover)
        })
    }

    /// The tracks whose source is not there (by index), for the album file in `folder`.
    pub fn missing(&self, folder: &Path) -> Vec<usize> {
        (0..self.tracks.len())
            .filter(|&n| !self.source_path(n, folder).is_file())
            .collect()
    }

    /// Points track `n` at `source` (a file moved or renamed), written relative to `folder`
    /// when it lies inside it.
    pub fn relink(&mut self, n: usize, source: &Path, folder: &Path) {
        self.tracks[n].source = source
            .strip_prefix(folder)
            .map_or_else(|_| source.to_path_buf(), Path::to_path_buf);
    }
}

/// An ISRC as written in files: upper case, without hyphens or spaces.
pub fn normalized_isrc(isrc: &str) -> String {
    isrc.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .collect::<String>()
        .to_uppercase()
}

/// Two letters (country), three letters or digits (registrant), two digits (year), five
/// digits (designation).
pub fn valid_isrc(isrc: &str) -> bool {
    let code: Vec<char> = normalized_isrc(isrc).chars().collect();
    code.len() == 12
        && code[..2].iter().all(char::is_ascii_uppercase)
        && code[2..5]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && code[5..].iter().all(char::is_ascii_digit)
}

/// A UPC-A or EAN-13 with its GS1 check digit (weights 3 and 1 alternating from the right
/// of the digits before it).
pub fn valid_upc(code: &str) -> bool {
    let digits: Vec<u32> = code.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != code.chars().count() || !(digits.len() == 12 || digits.len() == 13) {
        return false;
    }
    let (body, check) = digits.split_at(digits.len() - 1);
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| d * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    (10 - sum % 10) % 10 == check[0]
}
