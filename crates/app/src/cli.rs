//! The command-line interface: batch tools over the same engine the GUI uses.

mod album;
mod analyze;
mod bench;
mod codec_check;
mod compare;
mod devices;
mod eq_match;
mod master;
mod play;
mod preview;
mod profiles;
mod targets;
mod verify;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use crest_engine::limits::{DecodeLimits, parse_memory_size};

/// Crest — a mastering workstation. Without a subcommand it opens the desk (on FILE, or on
/// the built-in demo mix); subcommands do batch work.
#[derive(Debug, Parser)]
#[command(name = "crest", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Audio file to open in the desk.
    pub file: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure loudness (BS.1770 / EBU R 128), peaks and mix health of audio files.
    Analyze(analyze::AnalyzeArgs),
    /// List the streaming and broadcast loudness targets (ids for --platform flags).
    Targets(targets::TargetsArgs),
    /// List the playback-system emulations (ids for --profile flags).
    Profiles(profiles::ProfilesArgs),
    /// List the audio outputs playback can use.
    Devices(devices::DevicesArgs),
    /// Master a mix: chain, loudness target, true-peak limiter, dither; written atomically,
    /// verified, with a QC report beside it.
    Master(Box<master::MasterArgs>),
    /// Check any file against a loudness target and a true-peak ceiling (exit 1 on failure).
    Verify(verify::VerifyArgs),
    /// Encode a master with lossy codecs and decode it: decoded peaks, samples over full
    /// scale and where, loudness change, and the clip-safe ceiling (exit 1 if one clips).
    CodecCheck(codec_check::CodecCheckArgs),
    /// Render what a listener hears (platform normalization, playback system) to a float WAV.
    Preview(preview::PreviewArgs),
    /// Compare a mix's tonal balance, dynamics and stereo picture with references
    /// (loudness-matched), or with a range saved from them.
    Compare(compare::CompareArgs),
    /// Propose a broad EQ (a chain preset) that brings a mix's tonal balance toward
    /// references; differences beyond its limits are told as mix matters.
    Match(eq_match::MatchArgs),
    /// Play a file through the chain and the monitor path on an output device (a headless
    /// audition).
    Play(play::PlayArgs),
    /// Albums: a release of several tracks in order (`crest album init`).
    Album(album::AlbumArgs),
    /// Time and weigh the desk's work on a file: loading it, and re-rendering and measuring
    /// the master as after an edit (seconds, realtime factor, resident memory).
    Bench(bench::BenchArgs),
    /// Open the desk on a file (for a file whose name is also a subcommand's).
    Open {
        /// Audio file to open.
        file: std::path::PathBuf,
    },
}

/// `--true-peak`: the meter a ceiling is held (by the limiter) and checked (by QC) on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TruePeak {
    /// The BS.1770 meter (and libebur128's reading of it).
    Standard,
    /// A near-ideal reconstruction, as a good DAC makes it: the top few hundred hertz below
    /// Nyquist read in full.
    Strict,
}

impl From<TruePeak> for crest_engine::chain::TruePeakMode {
    fn from(meter: TruePeak) -> Self {
        match meter {
            TruePeak::Standard => Self::Standard,
            TruePeak::Strict => Self::Strict,
        }
    }
}

/// `--level` of the commands that play through a playback system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Level {
    /// At the loudness the track has through the reference system (compare tone).
    Matched,
    /// At the device's own calibration (hear what it costs in level).
    Device,
}

impl From<Level> for crest_engine::emulation::LevelMode {
    fn from(level: Level) -> Self {
        match level {
            Level::Matched => Self::Matched,
            Level::Device => Self::Device,
        }
    }
}

/// The flat reference system the matched level is measured against.
pub fn reference_profile() -> Result<crest_engine::emulation::Profile, String> {
    crest_engine::emulation::built_in_profiles()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|p| p.id == crest_engine::emulation::REFERENCE_PROFILE)
        .ok_or_else(|| "the reference profile is missing".to_owned())
}

/// A sentence with its first letter in capitals.
pub fn capitalised(sentence: &str) -> String {
    let mut chars = sentence.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Release metadata for a master's file (FLAC Vorbis comments, WAV INFO); FLAC also gets
/// ReplayGain tags from the file's own measurement.
#[derive(Debug, Clone, Default, Args)]
pub struct TagArgs {
    /// The track's title.
    #[arg(long)]
    pub title: Option<String>,
    /// The track's artist.
    #[arg(long)]
    pub artist: Option<String>,
    /// The album it is on.
    #[arg(long)]
    pub album: Option<String>,
    /// The album's artist, where it differs from the track's.
    #[arg(long)]
    pub album_artist: Option<String>,
    /// Its number on the album, `N` or `N/TOTAL`.
    #[arg(long, value_name = "N[/TOTAL]")]
    pub track: Option<String>,
    /// The release year.
    #[arg(long)]
    pub year: Option<u16>,
    #[arg(long)]
    pub genre: Option<String>,
    /// International Standard Recording Code (CC-XXX-YY-NNNNN; hyphens optional).
    #[arg(long)]
    pub isrc: Option<String>,
    /// The front cover, a JPEG or PNG embedded in every format that carries one (FLAC, MP3,
    /// Ogg Vorbis, Opus, M4A; WAV has no standard place for it).
    #[arg(long, value_name = "IMAGE")]
    pub cover: Option<std::path::PathBuf>,
}

impl TagArgs {
    /// The tags, with the track number and ISRC checked.
    pub fn tags(&self) -> Result<crest_engine::tags::Tags, String> {
        use crest_engine::tags::{checked_isrc, parse_track};
        let (track_number, track_total) = match self.track.as_deref() {
            None => (None, None),
            Some(text) => {
                let (n, total) = parse_track(text).map_err(|e| format!("--{e}"))?;
                (Some(n), total)
            }
        };
        let isrc = self
            .isrc
            .as_deref()
            .map(checked_isrc)
            .transpose()
            .map_err(|e| format!("--isrc: {e}"))?;
        crest_engine::tags::Tags {
            title: self.title.clone(),
            artist: self.artist.clone(),
            album: self.album.clone(),
            album_artist: self.album_artist.clone(),
            track_number,
            track_total,
            year: self.year,
            genre: self.genre.clone(),
            isrc,
            gain: None,
            cover: self.cover.clone(),
            cover_read: None,
        }
        // Refused now, not after the render; read once for the master and its report.
        .with_cover_read()
        .map_err(|e| format!("--cover: {e}"))
    }
}

/// The memory budget flag every command that decodes a whole file takes.
#[derive(Debug, Clone, Args)]
pub struct MemoryArgs {
    /// The most memory one decoded file may take (e.g. 4G, 512M). Default: half of the
    /// memory available to Crest (physical memory, or the process's limits where lower).
    #[arg(long, value_parser = parse_memory_size, value_name = "SIZE")]
    pub max_memory: Option<u64>,
}

impl MemoryArgs {
    pub fn analysis(&self) -> DecodeLimits {
        DecodeLimits::analysis().with_memory(self.max_memory)
    }

    pub fn mastering(&self) -> DecodeLimits {
        DecodeLimits::mastering().with_memory(self.max_memory)
    }
}

/// A chain preset file, read and parsed; the error names the file.
pub fn read_chain(path: &std::path::Path) -> Result<crest_engine::chain::ChainSettings, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    crest_engine::chain::ChainSettings::from_json(&text)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// What a listener is heard through: a platform's normalization (an id from `crest
/// targets`) and a playback system (an id from `crest profiles`), each when asked for.
#[derive(Debug)]
pub struct Listener {
    pub platform: Option<crest_engine::platform::Target>,
    pub profile: Option<crest_engine::emulation::Profile>,
}

impl Listener {
    /// Looks the ids up; an unknown one gets a message listing those there are.
    pub fn find(platform: Option<&str>, profile: Option<&str>) -> Result<Self, String> {
        let platform = match platform {
            Some(id) => {
                let targets =
                    crest_engine::platform::Targets::built_in().map_err(|e| e.to_string())?;
                let found = targets.get(id).cloned().ok_or_else(|| {
                    format!(
                        "unknown platform `{id}`; choose one of: {}",
                        targets.ids().join(", ")
                    )
                })?;
                Some(found)
            }
            None => None,
        };
        let profile = match profile {
            Some(id) => {
                let profiles =
                    crest_engine::emulation::built_in_profiles().map_err(|e| e.to_string())?;
                let ids: Vec<String> = profiles.iter().map(|p| p.id.clone()).collect();
                let found = profiles.into_iter().find(|p| p.id == id).ok_or_else(|| {
                    format!("unknown profile `{id}`; choose one of: {}", ids.join(", "))
                })?;
                Some(found)
            }
            None => None,
        };
        Ok(Self { platform, profile })
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let Some(command) = cli.command else {
        return crate::gui::run(cli.file);
    };
    match command {
        Command::Open { file } => crate::gui::run(Some(file)),
        Command::Analyze(args) => analyze::run(&args),
        Command::Targets(args) => targets::run(&args),
        Command::Profiles(args) => profiles::run(&args),
        Command::Preview(args) => preview::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Match(args) => eq_match::run(&args),
        Command::Play(args) => play::run(&args),
        Command::Album(args) => album::run(&args),
        Command::Devices(args) => devices::run(&args),
        Command::Master(args) => master::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::CodecCheck(args) => codec_check::run(&args),
        Command::Bench(args) => bench::run(&args),
    }
}
