//! `crest album init ALBUM.json TRACK... [--title T] [--artist A] [--chain C] [--force]
//! [--json]`: a new album document (`docs/cli.md`) of these tracks in this order, with the
//! defaults: track titles from the file names, a 2 s gap after each, album loudness at
//! −14 LUFS and a −1 dBTP ceiling, `crest master`'s gentle chain for every track.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};
use crest_engine::album::{Album, AlbumMetadata};
use crest_engine::chain::ChainSettings;

#[derive(Debug, Args)]
pub struct AlbumArgs {
    #[command(subcommand)]
    pub command: AlbumCommand,
}

#[derive(Debug, Subcommand)]
pub enum AlbumCommand {
    /// Write a new album of these tracks with the defaults (titles from the file names, 2 s
    /// gaps, album loudness at −14 LUFS, −1 dBTP).
    Init(InitArgs),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The album file to write (`NAME.crest-album.json`).
    pub album: PathBuf,
    /// The tracks, in order.
    #[arg(required = true)]
    pub tracks: Vec<PathBuf>,
    /// The album's title (default: the album file's folder's name).
    #[arg(long)]
    pub title: Option<String>,
    /// The album's artist.
    #[arg(long, default_value = "")]
    pub artist: String,
    /// The album chain (a chain preset; default: `crest master`'s gentle chain).
    #[arg(long)]
    pub chain: Option<PathBuf>,
    /// Replace the album file when it exists.
    #[arg(long)]
    pub force: bool,
    /// Print the album written, as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &AlbumArgs) -> ExitCode {
    let done = match &args.command {
        AlbumCommand::Init(init) => self::init(init),
    };
    match done {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("crest: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The folder a file is in (the current one for a bare name), as an absolute path.
fn folder_of(path: &Path) -> Result<PathBuf, String> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::path::absolute(&folder).map_err(|e| format!("{}: {e}", folder.display()))
}

fn init(args: &InitArgs) -> Result<String, String> {
    if args.album.exists() && !args.force {
        return Err(format!(
            "{} exists; --force replaces it",
            args.album.display()
        ));
    }
    let folder = folder_of(&args.album)?;
    let mut sources = Vec::with_capacity(args.tracks.len());
    for track in &args.tracks {
        if !track.is_file() {
            return Err(format!("{}: no such file", track.display()));
        }
        let absolute =
            std::path::absolute(track).map_err(|e| format!("{}: {e}", track.display()))?;
        // Inside the album's folder a track is written relative to it, so the album moves
        // with its audio.
        sources.push(
            absolute
                .strip_prefix(&folder)
                .map_or_else(|_| absolute.clone(), Path::to_path_buf),
        );
    }
    let chain = match &args.chain {
        Some(path) => super::read_chain(path)?,
        None => ChainSettings::gentle_master(),
    };
    let title = args.title.clone().unwrap_or_else(|| {
        folder
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    });
    let album = Album::new(
        AlbumMetadata {
            title,
            artist: args.artist.clone(),
            ..AlbumMetadata::default()
        },
        chain,
        &sources,
    );
    album
        .save(&args.album)
        .map_err(|e| format!("{}: {e}", args.album.display()))?;
    if args.json {
        return Ok(album.to_json());
    }
    Ok(format!(
        "Wrote {}: \"{}\", {} track{}, album loudness at {:.1} LUFS, ceiling {:.1} dBTP, {} s \
         gaps.",
        args.album.display(),
        album.metadata.title,
        album.tracks.len(),
        if album.tracks.len() == 1 { "" } else { "s" },
        album.loudness.target_lufs,
        album.loudness.ceiling_dbtp,
        crest_engine::album::DEFAULT_GAP_S
    ))
}
