//! `crest album init ALBUM.json TRACK... [--title T] [--artist A] [--chain C] [--force]
//! [--json]`: a new album document (`docs/cli.md`) of these tracks in this order, with the
//! defaults: track titles from the file names, a 2 s gap after each, album loudness at
//! −14 LUFS and a −1 dBTP ceiling, `crest master`'s gentle chain for every track.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;

use clap::{Args, Subcommand};
use crest_engine::album::{
    Album, AlbumControl, AlbumMetadata, AlbumTimings, MasteredSequence, ReleaseCover, ReleasePaths,
    ReleaseRequest, SequenceRequest, master_sequence, write_release,
};
use crest_engine::chain::ChainSettings;
use crest_engine::delivery::PresetLoudness;
use crest_engine::export::{Dither, Format};

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
    /// Master the album in memory and print its loudness overview (each track and the whole
    /// sequence), writing no files. Exit 0 when every check passes, 1 when one fails, 2 when
    /// the album could not be mastered.
    Check(CheckArgs),
    /// Master the album and write its files into a folder: one file per track (`NN
    /// Title.ext`, gapless back to back), optionally the continuous album and its CUE sheet,
    /// and the album QC report; each audio file read back and verified, all written together
    /// or none. Exit 0 when every check passes, 1 when the files were written but a check
    /// failed, 2 when nothing was written.
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The album file.
    pub album: PathBuf,
    /// The folder to write into (made when missing).
    #[arg(short, long)]
    pub output: PathBuf,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    /// Also write the whole album as one continuous file.
    #[arg(long)]
    pub continuous: bool,
    /// Also write a CUE sheet for the continuous file (implies --continuous; every track then
    /// starts on a whole 1/75 s).
    #[arg(long)]
    pub cue: bool,
    /// Replace files that exist.
    #[arg(long)]
    pub force: bool,
    /// Print the album QC report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Print where the time went (analyse, render, quantise, measure, write) and the
    /// realtime factor, on stderr.
    #[arg(long)]
    pub timings: bool,
}

/// How the album is rendered: the delivery preset and the flags over it.
#[derive(Debug, Args)]
pub struct DeliveryArgs {
    /// A delivery preset: its format, rate and dither; its ceiling, and its loudness where it
    /// mandates one, replace the album's.
    #[arg(long)]
    pub delivery: Option<String>,
    /// wav16, wav24, wav32f, flac16, flac24, or a lossy format id as `crest master` takes
    /// (mp3-320, ogg-320, opus-160, aac-256, …) (default: the preset's, else wav24). A rate
    /// the codec cannot carry is replaced (Opus: 48 kHz).
    #[arg(long)]
    pub format: Option<String>,
    /// Delivery sample rate (default: the preset's, else the first track's).
    #[arg(long)]
    pub rate: Option<u32>,
    /// none, tpdf, shaped or gentle (default: the preset's, else tpdf), over the whole
    /// sequence; the gaps stay exact digital silence.
    #[arg(long)]
    pub dither: Option<String>,
    #[command(flatten)]
    pub memory: super::MemoryArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The album file.
    pub album: PathBuf,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    /// Print the overview as one JSON object.
    #[arg(long)]
    pub json: bool,
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
    /// The front cover, a JPEG or PNG embedded in every file that carries one.
    #[arg(long, value_name = "IMAGE")]
    pub cover: Option<PathBuf>,
    /// Replace the album file when it exists.
    #[arg(long)]
    pub force: bool,
    /// Print the album written, as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &AlbumArgs) -> ExitCode {
    let done = match &args.command {
        AlbumCommand::Init(init) => self::init(init).map(|report| (report, true)),
        AlbumCommand::Check(check) => self::check(check),
        AlbumCommand::Export(export) => self::export(export),
    };
    match done {
        Ok((report, passed)) => {
            print!("{report}");
            if !report.ends_with('\n') {
                println!();
            }
            ExitCode::from(if passed { 0 } else { 1 })
        }
        Err(message) => {
            eprintln!("crest: {message}");
            ExitCode::from(2)
        }
    }
}

/// An album file, read, with its folder (where relative sources are).
fn read_album(path: &Path) -> Result<(Album, PathBuf), String> {
    let album = Album::load(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((album, folder_of(path)?))
}

/// The request's format, rate and dither, and the album with the preset's ceiling (and its
/// mandated loudness) applied.
fn delivery_of(
    args: &DeliveryArgs,
    album: &mut Album,
) -> Result<(Format, Option<u32>, Dither), String> {
    let preset = args
        .delivery
        .as_deref()
        .map(super::master::find_preset)
        .transpose()?;
    if let Some(preset) = &preset {
        album.loudness.ceiling_dbtp = preset.ceiling_dbtp;
        if let PresetLoudness::Mandated(lufs) = preset.target_lufs {
            album.loudness.target_lufs = lufs;
        }
        if let Some(meter) = preset.true_peak {
            album.chain.limiter.true_peak = meter;
        }
    }
    let format = super::master::format_of(args.format.as_deref(), preset.as_ref())?;
    let dither = super::master::dither_of(args.dither.as_deref(), preset.as_ref())?;
    let rate = args.rate.or(preset.as_ref().and_then(|p| p.sample_rate));
    Ok((format, rate, dither))
}

/// Masters the album as one sequence, with progress on a terminal.
fn master_album(
    album: &Album,
    folder: &Path,
    args: &DeliveryArgs,
    (format, rate, dither): (Format, Option<u32>, Dither),
    align_to_cue_frames: bool,
    quiet: bool,
) -> Result<MasteredSequence, String> {
    let show = !quiet && std::io::stderr().is_terminal();
    let progress = |fraction: f64| {
        if show {
            eprint!("\rmastering the album {:3.0} %", fraction * 100.0);
        }
    };
    let cancel = AtomicBool::new(false);
    let mastered = master_sequence(
        &SequenceRequest {
            album,
            folder,
            sample_rate: rate,
            format,
            dither,
            limits: &args.memory.mastering(),
            align_to_cue_frames,
            cd: args.delivery.as_deref() == Some("cd"),
        },
        &crate::RayonJoin,
        AlbumControl {
            progress: &progress,
            cancel: &cancel,
        },
    )
    .map_err(|e| e.to_string());
    if show {
        eprintln!();
    }
    mastered
}

fn check(args: &CheckArgs) -> Result<(String, bool), String> {
    let (mut album, folder) = read_album(&args.album)?;
    // What an export would refuse, a check refuses too.
    if let Some(cover) = album.cover_path(&folder) {
        crest_engine::tags::Picture::read(&cover).map_err(|e| format!("the album's {e}"))?;
    }
    let delivery = delivery_of(&args.delivery, &mut album)?;
    let mastered = master_album(&album, &folder, &args.delivery, delivery, false, args.json)?;
    let overview = &mastered.overview;
    let text = if args.json {
        serde_json::to_string(overview).map_err(|e| e.to_string())?
    } else {
        overview.text()
    };
    Ok((text, overview.passed))
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
    let cover = match &args.cover {
        Some(cover) => {
            crest_engine::tags::Picture::read(cover).map_err(|e| format!("--cover: {e}"))?;
            let absolute =
                std::path::absolute(cover).map_err(|e| format!("{}: {e}", cover.display()))?;
            // Inside the album's folder, relative to it (as the tracks are).
            Some(
                absolute
                    .strip_prefix(&folder)
                    .map_or_else(|_| absolute.clone(), Path::to_path_buf),
            )
        }
        None => None,
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
            cover,
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

fn export(args: &ExportArgs) -> Result<(String, bool), String> {
    let started = std::time::Instant::now();
    let (mut album, folder) = read_album(&args.album)?;
    let (format, rate, dither) = delivery_of(&args.delivery, &mut album)?;
    // Made now, so the files can be checked before the work; gone again if nothing is written.
    let _output_folder =
        crest_engine::files::MadeFolder::make(&args.output).map_err(|e| e.to_string())?;
    // A cover that cannot be embedded is refused before the work, not after it.
    let cover = album
        .cover_path(&folder)
        .map(|path| ReleaseCover::read(&path))
        .transpose()
        .map_err(|e| format!("the album's {e}"))?;
    let request = ReleaseRequest {
        folder: &args.output,
        format,
        dither,
        continuous: args.continuous,
        cue: args.cue,
        force: args.force,
        cd: args.delivery.delivery.as_deref() == Some("cd"),
        cover: cover.as_ref(),
    };
    let sources: Vec<PathBuf> = (0..album.tracks.len())
        .map(|n| album.source_path(n, &folder))
        .collect();
    // Refuse before the work, not after it.
    ReleasePaths::new(&album, &request)
        .check(&sources, args.force)
        .map_err(|e| e.to_string())?;
    let mastered = master_album(
        &album,
        &folder,
        &args.delivery,
        (format, rate, dither),
        args.cue,
        args.json,
    )?;
    let cancel = AtomicBool::new(false);
    let show = !args.json && std::io::stderr().is_terminal();
    let (timings, renders, seconds) = (
        mastered.timings,
        mastered.overview.renders,
        mastered.layout.seconds(mastered.layout.total_frames),
    );
    let writing = std::time::Instant::now();
    let report = write_release(
        mastered,
        &album,
        &sources,
        &request,
        &crate::RayonJoin,
        &cancel,
        &|fraction| {
            if show {
                eprint!("\rwriting the files {:3.0} %", fraction * 100.0);
            }
        },
    )
    .map_err(|e| e.to_string())?;
    if show {
        eprintln!();
    }
    if args.timings {
        let write_s = writing.elapsed().as_secs_f64();
        let total = started.elapsed().as_secs_f64();
        let AlbumTimings {
            analyse_s,
            render_s,
            quantise_s,
            measure_s,
        } = timings;
        eprintln!(
            "timings: analyse {analyse_s:.3} s, render {render_s:.3} s ({renders} pass{}), \
             quantise {quantise_s:.3} s, measure {measure_s:.3} s, write+verify {write_s:.3} s; \
             total {total:.3} s for {seconds:.1} s of audio ({:.0}x realtime)",
            if renders == 1 { "" } else { "es" },
            seconds / total,
        );
    }
    let text = if args.json {
        serde_json::to_string(&report).map_err(|e| e.to_string())?
    } else {
        report.text()
    };
    Ok((text, report.passed))
}
