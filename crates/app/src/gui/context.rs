//! What the desk keeps whatever track is open: the output backend, the preferences, this
//! desk's autosave and the ones crashed desks left, the session file being written.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crest_engine::limits::DecodeLimits;
use crest_engine::session::{DeskLease, Orphan, Preferences, Session as SessionFile, Storage};
use crest_playback::CpalBackend;

use super::session::Output;

/// What the desk keeps whatever track is open.
#[derive(Debug)]
pub struct Context {
    /// Where playback goes: the sound card, or in tests a device the test drives.
    pub(super) output: Output,
    /// Where the autosave and preferences live (none: nothing is written, as in tests).
    pub(super) storage: Option<Storage>,
    /// This desk's own autosave, held while it runs (none without storage).
    pub(super) lease: Option<DeskLease>,
    pub(super) preferences: Preferences,
    /// Autosaves of desks that did not close cleanly, offered back one at a time, newest
    /// first.
    pub(super) restore_offers: Vec<Orphan>,
    /// A session being opened: applied once its track has loaded.
    pub(super) pending: Option<SessionFile>,
    /// The session file Ctrl+S writes (chosen on the first save).
    pub(super) session_path: Option<PathBuf>,
    /// Something to tell the engineer before a track is open (damaged preferences).
    pub(super) notice: Option<String>,
    /// The window asked to close while an export was running.
    pub(super) quitting: bool,
}

impl Context {
    /// The user's own: the cpal backend, the user's data and config folders.
    pub(super) fn user() -> Self {
        let mut context = Self::new(Output(Arc::new(CpalBackend)), Storage::user().ok());
        if context.storage.is_none() {
            context.notice =
                Some("No user data folder (HOME is not set): sessions are not autosaved".into());
        }
        context
    }

    /// With `storage`, marks a desk as running and picks up what a crashed one left.
    pub fn new(output: Output, storage: Option<Storage>) -> Self {
        let mut notes = Vec::new();
        let (preferences, lease, restore_offers) = match &storage {
            Some(storage) => {
                let (preferences, bad) = storage.preferences();
                notes.extend(bad);
                match storage.start() {
                    Ok(start) => {
                        notes.extend(start.notices);
                        (preferences, Some(start.lease), start.orphans)
                    }
                    Err(e) => {
                        notes.push(format!("autosave is off: {e}"));
                        (preferences, None, Vec::new())
                    }
                }
            }
            None => (Preferences::default(), None, Vec::new()),
        };
        Self {
            output,
            storage,
            lease,
            preferences,
            restore_offers,
            pending: None,
            session_path: None,
            notice: (!notes.is_empty()).then(|| notes.join("; ")),
            quitting: false,
        }
    }

    pub(super) fn remember_opened(&mut self, path: &Path) {
        self.preferences.opened(path);
        self.save_preferences();
    }

    /// What the desk decodes: mono or stereo, within the preferences' memory budget.
    pub(super) fn decode_limits(&self) -> DecodeLimits {
        DecodeLimits::mastering().with_memory(self.preferences.max_memory_bytes)
    }

    pub(super) fn save_preferences(&mut self) {
        if let Some(storage) = &self.storage
            && let Err(e) = storage.save_preferences(&self.preferences)
        {
            self.notice = Some(format!("Preferences not saved: {e}"));
        }
    }
}
