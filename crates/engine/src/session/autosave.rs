//! Crash protection for every desk that runs, without one desk touching another's.
//!
//! Each desk holds a lease: a lock file (`desks/ID.lock`) kept open with an advisory lock for
//! as long as the desk runs, and its own autosave beside it (`desks/ID.crest.json`). The lock
//! dies with the process, however it ends, so a desk starting up can tell a live desk (its
//! lock is held) from one that is gone (its lock can be taken, or its lock file is missing):
//! only the autosaves of desks that are gone are offered back. A clean close removes the
//! desk's own two files and nothing else.
//!
//! An autosave that cannot be read (cut short by a crash mid-write on an older Crest, written
//! by a newer one) is never dropped: it is moved aside with a timestamp, the engineer is told
//! where, and whatever can be read of it is offered.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{Session, SessionError, Storage};
use crate::files::WriteError;

/// This desk's claim on its autosave; dropped (or [`Storage::finish`]ed) when the desk closes.
#[derive(Debug)]
pub struct DeskLease {
    id: String,
    folder: PathBuf,
    /// Open and locked while the desk runs.
    _lock: File,
}

impl DeskLease {
    /// Where this desk autosaves.
    pub fn autosave_path(&self) -> PathBuf {
        self.folder.join(format!("{}.crest.json", self.id))
    }

    fn lock_path(&self) -> PathBuf {
        self.folder.join(format!("{}.lock", self.id))
    }
}

/// The autosave of a desk that is gone, offered back.
#[derive(Debug, Clone, PartialEq)]
pub struct Orphan {
    pub session: Session,
    /// The file it was read from.
    pub path: PathBuf,
    /// Whether that file goes once the session is restored or discarded: an autosave read
    /// whole does; one read only in part was kept aside for good (it holds what this
    /// version could not read) and stays.
    pub remove_when_done: bool,
    /// When it was last written (for the offer's wording).
    pub saved: Option<SystemTime>,
    /// What could not be read of it, when it was read only in part.
    pub notes: Vec<String>,
}

/// What a desk finds as it starts.
#[derive(Debug)]
pub struct DeskStart {
    pub lease: DeskLease,
    /// Autosaves of desks that did not close, newest first.
    pub orphans: Vec<Orphan>,
    /// Things to tell the engineer (an unreadable autosave moved aside).
    pub notices: Vec<String>,
}

impl Storage {
    fn desks_folder(&self) -> PathBuf {
        self.data_dir.join("desks")
    }

    /// Called as a desk starts: takes a lease for it and finds the autosaves of desks that
    /// are gone (never those of desks still running).
    pub fn start(&self) -> Result<DeskStart, SessionError> {
        let folder = self.desks_folder();
        let write_error = |source| {
            SessionError::Write(WriteError::Folder {
                folder: folder.clone(),
                source,
            })
        };
        fs::create_dir_all(&folder).map_err(write_error)?;
        let lease = take_lease(&folder).map_err(write_error)?;
        let mut orphans = Vec::new();
        let mut notices = Vec::new();
        let mut autosaves = Vec::new();
        for entry in fs::read_dir(&folder).map_err(write_error)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue; // A partial file of an autosave being written.
            }
            if let Some(id) = name.strip_suffix(".lock") {
                if id != lease.id && !is_held(&entry.path()) {
                    // The lock of a desk that is gone: its autosave (if any) is an orphan now.
                    let _ = fs::remove_file(entry.path());
                }
            } else if let Some(id) = name.strip_suffix(".crest.json")
                && id != lease.id
            {
                autosaves.push((id.to_owned(), entry.path()));
            }
        }
        for (id, path) in autosaves {
            if is_held(&folder.join(format!("{id}.lock"))) {
                continue; // A desk that is running.
            }
            self.adopt(&path, &mut orphans, &mut notices);
        }
        // Crest before per-desk leases: one autosave, one "running" marker.
        let legacy = self.data_dir.join("autosave.crest.json");
        let marker = self.data_dir.join("running");
        if marker.exists() {
            if legacy.exists() {
                self.adopt(&legacy, &mut orphans, &mut notices);
            }
            let _ = fs::remove_file(&marker);
        }
        orphans.sort_by_key(|o| std::cmp::Reverse(o.saved));
        Ok(DeskStart {
            lease,
            orphans,
            notices,
        })
    }

    /// Reads an orphaned autosave: whole, or in part (the file then moved aside and kept).
    fn adopt(&self, path: &Path, orphans: &mut Vec<Orphan>, notices: &mut Vec<String>) {
        let saved = fs::metadata(path).and_then(|m| m.modified()).ok();
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                notices.push(format!(
                    "an autosave could not be read ({}: {e})",
                    path.display()
                ));
                return;
            }
        };
        match Session::from_json(&text, path) {
            Ok(session) => orphans.push(Orphan {
                session,
                path: path.to_owned(),
                remove_when_done: true,
                saved,
                notes: Vec::new(),
            }),
            Err(error) => {
                let kept = self.move_aside(path);
                let kept_at = kept.as_deref().unwrap_or(path);
                let reason = why_unreadable(&text, &error);
                match Session::from_json_lenient(&text) {
                    Some((session, mut notes)) => {
                        notes.insert(
                            0,
                            format!(
                                "the autosave was read only in part; the whole file is kept as \
                                 {}",
                                kept_at.display()
                            ),
                        );
                        orphans.push(Orphan {
                            session,
                            path: kept_at.to_owned(),
                            remove_when_done: false,
                            saved,
                            notes,
                        });
                    }
                    None => notices.push(format!(
                        "The autosave of a desk that did not close properly cannot be read \
                         ({reason}); it is kept as {}",
                        kept_at.display()
                    )),
                }
            }
        }
    }

    /// Moves an unreadable autosave out of the way, keeping it: `unreadable-autosave-TIME.json`
    /// in the data folder.
    fn move_aside(&self, path: &Path) -> Option<PathBuf> {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for n in 0..100 {
            let suffix = if n == 0 {
                String::new()
            } else {
                format!("-{n}")
            };
            let kept = self
                .data_dir
                .join(format!("unreadable-autosave-{seconds}{suffix}.crest.json"));
            // Never over another kept file.
            if fs::hard_link(path, &kept).is_ok() {
                let _ = fs::remove_file(path);
                return Some(kept);
            }
        }
        None
    }

    /// Writes this desk's autosave.
    pub fn autosave(&self, lease: &DeskLease, session: &Session) -> Result<(), SessionError> {
        session.save(&lease.autosave_path())
    }

    /// An orphan was restored (and autosaved under this desk) or discarded: its file goes,
    /// unless it is an unreadable autosave kept aside.
    pub fn dismiss(&self, orphan: &Orphan) {
        if orphan.remove_when_done {
            let _ = fs::remove_file(&orphan.path);
        }
    }

    /// Called as a desk closes cleanly: its autosave and lock go; other desks' stay.
    pub fn finish(&self, lease: DeskLease) {
        let _ = fs::remove_file(lease.autosave_path());
        let _ = fs::remove_file(lease.lock_path());
    }
}

/// Why an autosave did not read, in a user's words: cut short, not a session at all, or
/// one this version cannot take whole (the parser's own detail only in the last case).
fn why_unreadable(text: &str, error: &SessionError) -> String {
    match serde_json::from_str::<serde_json::Value>(text) {
        Err(e) if e.is_eof() => "it is cut short: the desk stopped while writing it".to_owned(),
        Err(_) => "it is damaged: not a session file any more".to_owned(),
        Ok(value) => {
            let version = value.get("version").and_then(serde_json::Value::as_u64);
            match version {
                Some(v) if v > u64::from(super::SESSION_VERSION) => {
                    format!("it was written by a newer Crest (session version {v})")
                }
                _ => match error {
                    SessionError::Invalid { reason, .. } => {
                        format!("a value is not valid: {reason}")
                    }
                    other => other.to_string(),
                },
            }
        }
    }
}

/// A new lock file for this desk, locked before it gets its name (so no other desk ever sees
/// it unlocked).
fn take_lease(folder: &Path) -> std::io::Result<DeskLease> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = format!("desk-{}-{nanos}", std::process::id());
    let temporary = tempfile::Builder::new()
        .prefix(".lease-")
        .tempfile_in(folder)?;
    temporary.as_file().lock()?;
    let lock = temporary
        .persist_noclobber(folder.join(format!("{id}.lock")))
        .map_err(|e| e.error)?;
    Ok(DeskLease {
        id,
        folder: folder.to_owned(),
        _lock: lock,
    })
}

/// Whether a running desk holds the lock file at `path`.
/// Only a lock file that is missing, or whose lock can be taken, belongs to no desk: one that
/// cannot be opened (permissions, too many open files) is taken as held, never as a crash.
fn is_held(path: &Path) -> bool {
    match File::open(path) {
        Ok(file) => file.try_lock().is_err(),
        Err(e) => e.kind() != std::io::ErrorKind::NotFound,
    }
}
