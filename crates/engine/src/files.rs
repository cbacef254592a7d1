//! Writing files so that nothing Crest writes is ever half there or in the wrong place.
//!
//! Every file Crest writes (masters, QC reports, sessions, presets, preferences) is first
//! written to a [`PartialFile`] beside its destination: created exclusively (`O_EXCL`, so a
//! symlink or any other file planted at its name is never followed or reused) under an
//! unpredictable name, and locked (`flock`) for as long as it is being written. Only a
//! complete, flushed file is renamed into place; a failure removes it. A crash (or `kill -9`)
//! can leave a partial file behind, but never under the final name, and its lock dies with the
//! process: [`remove_stale_partials`] clears exactly those, never one another process is still
//! writing.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Every partial file's name holds this marker: `.NAME.crest-partial-RANDOM.EXT`.
const PARTIAL_MARKER: &str = ".crest-partial-";

/// The most of the destination's name a partial file's name repeats.
const PARTIAL_NAME_BYTES: usize = 100;

/// A partial file younger than this is left alone even when its lock is free: its writer may
/// have created it and not yet taken the lock.
const STALE_AFTER: Duration = Duration::from_secs(10);

/// Why a file could not be written into place.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    // Said for the command line and the desk alike: both ways to replace it.
    #[error(
        "{path} already exists: to replace it, use --force (in the desk: tick \"replace files \
         that already exist\")"
    )]
    Exists { path: PathBuf },
    #[error("{path} is a folder, not a file name")]
    IsFolder { path: PathBuf },
    #[error("the folder {folder} does not exist")]
    NoFolder { folder: PathBuf },
    #[error("cannot write into the folder {folder}: {source}")]
    Folder { folder: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// A file being written beside its destination; renamed into place by [`PartialFile::commit`]
/// (or [`commit_all`]), removed if dropped before that.
#[derive(Debug)]
pub struct PartialFile {
    file: tempfile::NamedTempFile,
    destination: PathBuf,
}

impl PartialFile {
    /// Creates the partial file for `destination` in the destination's folder, exclusively,
    /// under an unpredictable name that keeps the destination's extension (so the file's type
    /// is still recognised when it is read back), and locks it.
    pub fn create(destination: &Path) -> Result<Self, WriteError> {
        let folder = folder_of(destination);
        let name = destination
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A long name is shortened (on a character boundary) so that the partial file's name
        // stays within the 255 bytes file systems allow.
        let mut cut = name.len().min(PARTIAL_NAME_BYTES);
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        let name = &name[..cut];
        let extension = destination
            .extension()
            .map(|e| format!(".{}", e.to_string_lossy()))
            .unwrap_or_default();
        let prefix = format!(".{name}{PARTIAL_MARKER}");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(&extension).rand_bytes(10);
        // Masters and sessions are ordinary files (readable by others as the umask allows),
        // not owner-only as temporary files usually are.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let file = builder
            .tempfile_in(&folder)
            .map_err(|source| folder_error(&folder, source))?;
        // Held until the file is closed (renamed into place, removed, or the process ends).
        file.as_file().lock().map_err(|source| WriteError::Io {
            path: file.path().to_owned(),
            source,
        })?;
        Ok(Self {
            file,
            destination: destination.to_owned(),
        })
    }

    /// A partial file for `destination` holding `bytes`, flushed to the disk.
    pub fn with_bytes(destination: &Path, bytes: &[u8]) -> Result<Self, WriteError> {
        let mut partial = Self::create(destination)?;
        partial
            .file()
            .write_all(bytes)
            .map_err(|source| WriteError::Io {
                path: destination.to_owned(),
                source,
            })?;
        partial.sync()?;
        Ok(partial)
    }

    /// Where the partial file is (to read it back before it is committed).
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    pub fn destination(&self) -> &Path {
        &self.destination
    }

    pub fn file(&mut self) -> &mut File {
        self.file.as_file_mut()
    }

    /// Flushes the file's data to the disk.
    pub fn sync(&self) -> Result<(), WriteError> {
        self.file
            .as_file()
            .sync_all()
            .map_err(|source| WriteError::Io {
                path: self.path().to_owned(),
                source,
            })
    }

    /// Renames the (flushed) file into place. Without `overwrite`, an existing file at the
    /// destination is kept and the partial file removed.
    pub fn commit(self, overwrite: bool) -> Result<(), WriteError> {
        commit_all(vec![self], overwrite)
    }
}

/// Renames a set of flushed partial files into place, in order: all or none of them. Every
/// destination is checked first (none may exist without `overwrite`, none may be a folder);
/// should a rename still fail, the files already renamed by this call are taken back (the
/// files they replaced, kept as second links meanwhile, put back), so a set is never left
/// half there. Callers put the file whose presence means "done" last.
pub fn commit_all(partials: Vec<PartialFile>, overwrite: bool) -> Result<(), WriteError> {
    for partial in &partials {
        check_destination_name(&partial.destination, overwrite)?;
    }
    // (destination, the file it replaced, kept as a second link until the set is in place)
    let mut placed: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    let undo = |placed: &[(PathBuf, Option<PathBuf>)]| {
        for (path, previous) in placed.iter().rev() {
            match previous {
                Some(previous) => {
                    let _ = fs::rename(previous, path);
                }
                None => {
                    let _ = fs::remove_file(path);
                }
            }
        }
    };
    for partial in partials {
        let destination = partial.destination.clone();
        let previous = if overwrite && fs::symlink_metadata(&destination).is_ok() {
            let mut name = partial.path().as_os_str().to_owned();
            name.push(".previous");
            let previous = PathBuf::from(name);
            fs::hard_link(&destination, &previous)
                .ok()
                .map(|()| previous)
        } else {
            None
        };
        let renamed = if overwrite {
            partial.file.persist(&destination)
        } else {
            partial.file.persist_noclobber(&destination)
        };
        if let Err(e) = renamed {
            if let Some(previous) = &previous {
                let _ = fs::remove_file(previous);
            }
            undo(&placed);
            let exists = e.error.kind() == io::ErrorKind::AlreadyExists;
            // Dropping the returned file removes the partial.
            drop(e.file);
            return Err(if exists {
                WriteError::Exists { path: destination }
            } else {
                WriteError::Io {
                    path: destination,
                    source: e.error,
                }
            });
        }
        placed.push((destination, previous));
    }
    for (_, previous) in placed {
        if let Some(previous) = previous {
            let _ = fs::remove_file(previous);
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a partial file, flushed before it is renamed into place.
/// Creates the destination's folder when it is missing (sessions, preferences and presets go
/// to folders Crest owns).
pub fn write_atomically(path: &Path, overwrite: bool, bytes: &[u8]) -> Result<(), WriteError> {
    let folder = folder_of(path);
    fs::create_dir_all(&folder).map_err(|source| folder_error(&folder, source))?;
    PartialFile::with_bytes(path, bytes)?.commit(overwrite)
}

/// An export's destination folder, made (with its parents) when missing. The folders it made
/// are removed again when dropped if they are still empty, so an export refused or failed
/// after making them leaves nothing behind; a folder that holds anything stays.
#[derive(Debug)]
pub struct MadeFolder {
    /// The folders this call created itself, innermost first: never one that something else
    /// (another export into the same new folder) made in the meantime.
    made: Vec<PathBuf>,
}

impl MadeFolder {
    pub fn make(folder: &Path) -> Result<Self, WriteError> {
        let missing: Vec<&Path> = folder
            .ancestors()
            .take_while(|at| !at.as_os_str().is_empty() && fs::symlink_metadata(at).is_err())
            .collect();
        let mut made = Self { made: Vec::new() };
        // Outermost first, each by its own `create_dir`: one that exists by now is not ours.
        for at in missing.into_iter().rev() {
            match fs::create_dir(at) {
                Ok(()) => made.made.insert(0, at.to_owned()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && at.is_dir() => {}
                // Dropping `made` removes what was made before the failure.
                Err(source) => return Err(folder_error(at, source)),
            }
        }
        // Whatever is there now must be a folder (a `..` or a symlink among the parts).
        fs::create_dir_all(folder).map_err(|source| folder_error(folder, source))?;
        Ok(made)
    }
}

impl Drop for MadeFolder {
    fn drop(&mut self) {
        // `remove_dir` removes only an empty folder: a written export is never touched.
        for folder in &self.made {
            if fs::remove_dir(folder).is_err() {
                break;
            }
        }
    }
}

/// Checks, before any long work, that `path` can be written: its folder exists and takes a
/// new file, the path is not a folder, and (without `overwrite`) nothing is there yet.
pub fn check_writable(path: &Path, overwrite: bool) -> Result<(), WriteError> {
    let folder = folder_of(path);
    let meta = fs::metadata(&folder).map_err(|source| folder_error(&folder, source))?;
    if !meta.is_dir() {
        return Err(WriteError::Folder {
            source: io::Error::new(io::ErrorKind::NotADirectory, "not a folder"),
            folder,
        });
    }
    check_destination_name(path, overwrite)?;
    // The one sure test of "can a file be created here": create (and drop) a partial file.
    PartialFile::create(path).map(drop)
}

fn check_destination_name(path: &Path, overwrite: bool) -> Result<(), WriteError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => Err(WriteError::IsFolder {
            path: path.to_owned(),
        }),
        // A symlink to a folder: renaming over the link would be allowed, but it is surely
        // not what was meant.
        Ok(_) if path.is_dir() => Err(WriteError::IsFolder {
            path: path.to_owned(),
        }),
        Ok(_) if !overwrite => Err(WriteError::Exists {
            path: path.to_owned(),
        }),
        _ => Ok(()),
    }
}

/// A partial file left behind by a writer that is gone.
#[derive(Debug, Clone, PartialEq)]
pub struct RemovedPartial {
    pub path: PathBuf,
    pub bytes: u64,
}

/// Removes Crest's partial files in `folder` whose writer is gone (their lock can be taken, and
/// they are older than a few seconds); files another process is still writing keep their lock
/// and are never touched. Returns what was removed.
pub fn remove_stale_partials(folder: &Path) -> Vec<RemovedPartial> {
    let Ok(entries) = fs::read_dir(folder) else {
        return Vec::new();
    };
    let now = SystemTime::now();
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with('.') || !name.contains(PARTIAL_MARKER) {
            continue;
        }
        // Regular files only: a symlink with a partial's name is not Crest's to follow.
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.file_type().is_file() {
            continue;
        }
        let young = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .is_none_or(|age| age < STALE_AFTER);
        if young {
            continue;
        }
        let path = entry.path();
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if file.try_lock().is_err() {
            continue; // Still being written.
        }
        if fs::remove_file(&path).is_ok() {
            removed.push(RemovedPartial {
                path,
                bytes: meta.len(),
            });
        }
    }
    removed.sort_by(|a, b| a.path.cmp(&b.path));
    removed
}

/// A sentence for the user about removed partial files, if there were any.
pub fn describe_removed(removed: &[RemovedPartial]) -> Option<String> {
    if removed.is_empty() {
        return None;
    }
    let bytes: u64 = removed.iter().map(|r| r.bytes).sum();
    Some(format!(
        "removed {} unfinished file(s) ({:.1} MB) that an interrupted export had left in the \
         output folder",
        removed.len(),
        bytes as f64 / 1e6
    ))
}

/// The folder a path is in; the current folder for a bare name.
pub fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn folder_error(folder: &Path, source: io::Error) -> WriteError {
    if source.kind() == io::ErrorKind::NotFound {
        WriteError::NoFolder {
            folder: folder.to_owned(),
        }
    } else {
        WriteError::Folder {
            folder: folder.to_owned(),
            source,
        }
    }
}
