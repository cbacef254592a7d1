//! An album's files from its mastered sequence: one file per track (`NN Title.ext`, cut so
//! that playing them back to back gives the continuous album sample for sample), optionally
//! the continuous file and its CUE sheet, and the album QC report (JSON and text). Every audio
//! file is written beside its destination, read back and compared sample for sample, and the
//! whole set is renamed into place together, the report last: all of it or none.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde::Serialize;

use super::cue::cue_sheet;
use super::sequence::each_in_parallel;
use super::{Album, AlbumOverview, MasteredSequence, slice};
use crate::export::{self, Dither, ExportError, ExportRequest, Format, Prepared};
use crate::files::{self, PartialFile, WriteError};
use crate::master::with_gain;
use crate::parallel::Join;
use crate::tags::{Picture, Tags};

/// Where and how an album's files are written.
#[derive(Debug, Clone)]
pub struct ReleaseRequest<'a> {
    pub folder: &'a Path,
    pub format: Format,
    pub dither: Dither,
    /// Also the whole album as one file.
    pub continuous: bool,
    /// A CUE sheet for the continuous file (which it implies).
    pub cue: bool,
    /// Replace files that exist.
    pub force: bool,
    /// A CD delivery (the CUE sheet states the first track's 2 s pre-gap).
    pub cd: bool,
    /// The cover art (see [`Album::cover_path`]), embedded in every file.
    pub cover: Option<&'a ReleaseCover>,
}

/// An album's cover art as read from its file, before the work: an image that cannot be
/// embedded is refused first, and every file embeds these bytes, whatever happens to the
/// file meanwhile.
#[derive(Debug, Clone)]
pub struct ReleaseCover {
    pub path: PathBuf,
    pub picture: Arc<Picture>,
}

impl ReleaseCover {
    /// Reads the image at `path` (a JPEG or PNG; see [`Picture::read`]).
    pub fn read(path: &Path) -> Result<Self, String> {
        Ok(Self {
            path: path.to_owned(),
            picture: Arc::new(Picture::read(path)?),
        })
    }
}

/// The names an album's files get.
#[derive(Debug, Clone, PartialEq)]
pub struct ReleasePaths {
    pub tracks: Vec<PathBuf>,
    pub continuous: Option<PathBuf>,
    pub cue: Option<PathBuf>,
    /// The album QC report, JSON and text.
    pub reports: [PathBuf; 2],
}

impl ReleasePaths {
    pub fn new(album: &Album, request: &ReleaseRequest<'_>) -> Self {
        let extension = request.format.extension();
        let stem = match file_name_part(&album.metadata.title) {
            name if name.is_empty() => "Album".to_owned(),
            name => name,
        };
        let tracks = album
            .tracks
            .iter()
            .enumerate()
            .map(|(n, track)| {
                let title = file_name_part(&track.title);
                let name = if title.is_empty() {
                    format!("{:02}.{extension}", n + 1)
                } else {
                    format!("{:02} {title}.{extension}", n + 1)
                };
                request.folder.join(name)
            })
            .collect();
        let continuous = (request.continuous || request.cue)
            .then(|| request.folder.join(format!("{stem}.{extension}")));
        Self {
            tracks,
            continuous,
            cue: request
                .cue
                .then(|| request.folder.join(format!("{stem}.cue"))),
            reports: [
                request.folder.join(format!("{stem}.album-qc.json")),
                request.folder.join(format!("{stem}.album-qc.txt")),
            ],
        }
    }

    /// Every file, audio first, the reports last.
    pub fn all(&self) -> Vec<&Path> {
        self.tracks
            .iter()
            .chain(&self.continuous)
            .chain(&self.cue)
            .chain(&self.reports)
            .map(PathBuf::as_path)
            .collect()
    }

    /// Checks, before any work, that every file may be written: no source overwritten, each
    /// destination writable, no file there without `force`.
    pub fn check(&self, sources: &[PathBuf], force: bool) -> Result<(), ExportError> {
        for path in self.all() {
            for source in sources {
                export::refuse_overwriting_source(path, source)?;
            }
            // Once per file: the test creates (and drops) a partial file.
            files::check_writable(path, force)?;
        }
        Ok(())
    }
}

/// A title as part of a file name: characters file systems refuse or treat specially become
/// `_`, and surrounding spaces and dots go.
fn file_name_part(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    cleaned.trim().trim_matches('.').trim().to_owned()
}

/// One file of the release as written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseFile {
    pub path: String,
    /// `track`, `continuous` or `cue`.
    pub kind: &'static str,
    /// The track it holds (1-based), for a track file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<usize>,
    /// Where it starts on the album's timeline, and how long it is (frames; 0 for a CUE).
    pub start_frame: usize,
    pub frames: usize,
    pub duration_s: f64,
    /// Measured on the file's samples (None for a CUE).
    pub integrated_lufs: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub sample_peak_dbfs: Option<f64>,
    /// Read back and found sample for sample as meant (audio), or read back as written.
    pub verified: bool,
    /// A lossy file as it decodes (its measurement above is of the samples encoded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded: Option<crate::export::lossy::DecodedCheck>,
}

impl ReleaseFile {
    /// An audio file as written, read back and verified: where it starts on the timeline and
    /// its measurement.
    fn audio(
        written: &crate::export::Written,
        kind: &'static str,
        track: Option<usize>,
        start_frame: usize,
    ) -> Self {
        Self {
            path: written.path.display().to_string(),
            kind,
            track,
            start_frame,
            frames: written.frames,
            duration_s: written.frames as f64 / f64::from(written.sample_rate),
            integrated_lufs: written.measured.integrated_lufs,
            true_peak_dbtp: written.measured.true_peak_dbtp,
            sample_peak_dbfs: written.measured.sample_peak_dbfs,
            verified: true,
            decoded: written.decoded.clone(),
        }
    }
}

/// The album QC report: the overview and every file written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlbumReport {
    pub overview: AlbumOverview,
    pub files: Vec<ReleaseFile>,
    /// Whether every check passed (the overview's).
    pub passed: bool,
}

impl AlbumReport {
    pub fn text(&self) -> String {
        let mut out = self.overview.text();
        out.push_str("\nfiles:\n");
        for file in &self.files {
            let name = Path::new(&file.path)
                .file_name()
                .map_or_else(|| file.path.clone(), |n| n.to_string_lossy().into_owned());
            let measured = match (file.integrated_lufs, file.true_peak_dbtp) {
                (Some(lufs), Some(peak)) => format!(", {lufs:.2} LUFS, {peak:.2} dBTP"),
                (None, Some(peak)) => format!(", {peak:.2} dBTP"),
                _ => String::new(),
            };
            let timing = if file.frames > 0 {
                format!(
                    " {} from {}",
                    super::overview::clock(file.duration_s),
                    file.start_frame
                )
            } else {
                String::new()
            };
            let decoded = file.decoded.as_ref().map_or_else(String::new, |d| {
                format!(
                    "; decoded {}, {} samples over 0 dBFS",
                    d.true_peak_dbtp
                        .map_or_else(|| "—".to_owned(), |tp| format!("{tp:.2} dBTP")),
                    d.samples_over_0dbfs
                )
            });
            out.push_str(&format!(
                "  {name}{timing}{measured}{}{decoded}\n",
                if file.verified { ", verified" } else { "" }
            ));
        }
        out
    }
}

/// Writes the album's files from its mastered sequence (see the module's notes).
pub fn write_release(
    mastered: MasteredSequence,
    album: &Album,
    sources: &[PathBuf],
    request: &ReleaseRequest<'_>,
    join: &impl Join,
    cancel: &AtomicBool,
    progress: &(dyn Fn(f64) + Sync),
) -> Result<AlbumReport, ExportError> {
    let paths = ReleasePaths::new(album, request);
    // The folder may have gone during the render (another export into the same new folder
    // failed, and removed it as it found it: empty): made again, as it was asked for.
    std::fs::create_dir_all(request.folder).map_err(|source| WriteError::Folder {
        folder: request.folder.to_owned(),
        source,
    })?;
    paths.check(sources, request.force)?;
    // Unfinished files an interrupted export left in the folder (their writer gone).
    let removed = files::remove_stale_partials(request.folder);
    let MasteredSequence {
        layout,
        prepared: whole,
        mut overview,
        file_loudness,
        ..
    } = mastered;
    if let Some(removed) = files::describe_removed(&removed) {
        overview.notes.push(format!("Crest {removed}."));
    }
    // The files hold the sequence as it was quantised: its format, whatever was asked.
    let format = whole.format;
    // A WAV file holds at most 4 GB: said before any file is written.
    if let Some(bits) = format.bits().filter(|_| format.extension() == "wav") {
        let bytes = |frames: usize| frames as u64 * layout.channels as u64 * u64::from(bits / 8);
        let longest = paths
            .continuous
            .iter()
            .map(|p| (p, layout.total_frames))
            .chain(
                paths
                    .tracks
                    .iter()
                    .zip(&layout.tracks)
                    .map(|(p, t)| (p, t.file_end - t.file_start)),
            )
            .find(|(_, frames)| bytes(*frames) > u64::from(u32::MAX) - (1 << 16));
        if let Some((path, frames)) = longest {
            return Err(ExportError::Encode {
                path: path.clone(),
                reason: format!(
                    "{:.1} GB of samples is more than a WAV file can hold (4 GB); choose FLAC",
                    bytes(frames) as f64 / 1e9
                ),
            });
        }
    }
    let mut partials = Vec::new();
    let mut written_files = Vec::new();
    let count = layout.tracks.len() + usize::from(paths.continuous.is_some());
    let album_gain = overview
        .album_integrated_lufs
        .zip(overview.album_true_peak_dbtp);
    let write = |prepared: &Prepared, path: &Path, tags: &Tags| {
        let mut tags = with_gain(tags, &prepared.measured, album_gain);
        tags.cover = request.cover.map(|cover| cover.path.clone());
        tags.cover_read = request.cover.map(|cover| Arc::clone(&cover.picture));
        export::write_partial_of(
            prepared,
            &ExportRequest {
                path,
                format,
                dither: request.dither,
                force: request.force,
                source: None,
                tags: Some(&tags),
            },
            cancel,
            join,
        )
    };
    // The track files and the continuous file, two at a time, the longest first (the
    // continuous file, then the longest tracks); each is measured already (the sequence
    // measured its files).
    let tracks = layout.tracks.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let length = |n: usize| {
        if n < tracks {
            layout.tracks[n].file().len()
        } else {
            layout.total_frames
        }
    };
    let written = each_in_parallel(0..count, join, length, &|n| {
        let written = if n < tracks {
            let placed = &layout.tracks[n];
            // The samples are the sequence's as quantised: only cut, never dithered again.
            let measured = file_loudness[n].clone();
            let prepared = Prepared {
                format,
                exact: slice(&whole.exact, placed.file()),
                strict_true_peak_dbtp: measured.strict_true_peak_dbtp,
                measured,
                clamped: 0,
            };
            let (written, partial) = write(&prepared, &paths.tracks[n], &album.track_tags(n))?;
            (
                ReleaseFile::audio(&written, "track", Some(n + 1), placed.file_start),
                partial,
            )
        } else {
            let path = paths
                .continuous
                .as_ref()
                .expect("a continuous file was asked for");
            let (written, partial) = write(&whole, path, &album.album_tags())?;
            (ReleaseFile::audio(&written, "continuous", None, 0), partial)
        };
        let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        progress(finished as f64 / count as f64 * 0.95);
        Ok::<_, ExportError>(written)
    });
    for file in written {
        let (file, partial) = file?;
        written_files.push(file);
        partials.push(partial);
    }
    if let (Some(path), Some(cue)) = (&paths.continuous, &paths.cue) {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sheet = cue_sheet(album, &layout, &file_name, request.cd);
        partials.push(PartialFile::with_bytes(cue, sheet.as_bytes())?);
        written_files.push(ReleaseFile {
            path: cue.display().to_string(),
            kind: "cue",
            track: None,
            start_frame: 0,
            frames: 0,
            duration_s: 0.0,
            integrated_lufs: None,
            true_peak_dbtp: None,
            sample_peak_dbfs: None,
            verified: std::fs::read(partials.last().map_or(cue.as_path(), |p| p.path()))
                .is_ok_and(|back| back == sheet.as_bytes()),
            decoded: None,
        });
    }
    // A lossy file that decodes past full scale fails, as a single master's does.
    let decodes_clean = written_files
        .iter()
        .all(|f| f.decoded.as_ref().is_none_or(|d| d.samples_over_0dbfs == 0));
    let report = AlbumReport {
        passed: overview.passed && decodes_clean,
        overview,
        files: written_files,
    };
    let json = serde_json::to_string_pretty(&report).map_err(|e| WriteError::Io {
        path: paths.reports[0].clone(),
        source: std::io::Error::other(e),
    })? + "\n";
    partials.push(PartialFile::with_bytes(&paths.reports[0], json.as_bytes())?);
    partials.push(PartialFile::with_bytes(
        &paths.reports[1],
        report.text().as_bytes(),
    )?);
    files::commit_all(partials, request.force)?;
    progress(1.0);
    Ok(report)
}

impl Album {
    /// Track `n`'s release metadata (its gain tags are filled in from its file).
    pub fn track_tags(&self, n: usize) -> Tags {
        let track = &self.tracks[n];
        let meta = &self.metadata;
        let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Tags {
            title: text(&track.title),
            artist: track.artist.clone().or_else(|| text(&meta.artist)),
            album: text(&meta.title),
            album_artist: text(&meta.artist),
            track_number: Some(n as u32 + 1),
            track_total: Some(self.tracks.len() as u32),
            year: meta.year,
            genre: meta.genre.clone(),
            isrc: track.isrc.as_deref().map(super::normalized_isrc),
            ..Tags::default()
        }
    }

    /// The continuous album file's metadata: the album's title as its own.
    pub fn album_tags(&self) -> Tags {
        let meta = &self.metadata;
        let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Tags {
            title: text(&meta.title),
            artist: text(&meta.artist),
            album: text(&meta.title),
            album_artist: text(&meta.artist),
            year: meta.year,
            genre: meta.genre.clone(),
            ..Tags::default()
        }
    }
}
