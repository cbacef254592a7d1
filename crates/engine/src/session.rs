//! Sessions and preferences on disk.
//!
//! A session is what an engineer would lose in a crash: the source, the chain, the four
//! snapshots, the reference, the export choices. It is versioned JSON, saved where the
//! engineer asks and autosaved to the user's data directory shortly after every change. A
//! marker file says a desk is running; when a desk starts and finds the marker of one that
//! never closed, it offers the autosave back.
//!
//! Preferences (output device, last folders, recent files) live in the config directory and
//! are read field by field: a damaged field falls back to its default without taking the
//! others with it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::chain::ChainSettings;
use crate::export::{Dither, Format};
use crate::files::{WriteError, write_atomically};

pub const SESSION_VERSION: u32 = 1;
/// How many recent files the preferences keep.
pub const RECENT_FILES: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot save: {0}")]
    Write(#[from] WriteError),
    #[error("{path} is not a Crest session: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("no user data directory (is HOME set?)")]
    NoHome,
}

/// Export choices kept with a session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExportChoices {
    pub folder: Option<PathBuf>,
    pub name: Option<String>,
    /// Export the master as set on the desk (with the format below).
    pub desk: bool,
    pub format: Format,
    pub sample_rate: Option<u32>,
    pub dither: Dither,
    /// Delivery presets to export too, by id.
    pub presets: Vec<String>,
}

impl Default for ExportChoices {
    fn default() -> Self {
        Self {
            folder: None,
            name: None,
            desk: true,
            format: Format::Wav24,
            sample_rate: None,
            dither: Dither::Tpdf,
            presets: Vec::new(),
        }
    }
}

/// Everything a session holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    pub version: u32,
    /// The track; none for the built-in demo mix.
    pub source: Option<PathBuf>,
    pub chain: ChainSettings,
    /// Snapshots A–D (the active one holds `chain`).
    pub snapshots: [Option<ChainSettings>; 4],
    pub active_snapshot: usize,
    pub reference: Option<PathBuf>,
    #[serde(default)]
    pub export: ExportChoices,
}

impl Session {
    pub fn new(source: Option<PathBuf>, chain: ChainSettings) -> Self {
        Self {
            version: SESSION_VERSION,
            source,
            chain,
            snapshots: Default::default(),
            active_snapshot: 0,
            reference: None,
            export: ExportChoices::default(),
        }
    }

    /// Reads and checks a session (`path` names it in errors).
    pub fn from_json(text: &str, path: &Path) -> Result<Self, SessionError> {
        let invalid = |reason: String| SessionError::Invalid {
            path: path.to_owned(),
            reason,
        };
        let session: Self = serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if session.version != SESSION_VERSION {
            return Err(invalid(format!(
                "version {} (this Crest reads version {SESSION_VERSION})",
                session.version
            )));
        }
        if session.active_snapshot > 3 {
            return Err(invalid("active_snapshot must be 0–3 (A–D)".into()));
        }
        session
            .chain
            .validate()
            .map_err(|e| invalid(e.to_string()))?;
        for (slot, snapshot) in session.snapshots.iter().enumerate() {
            if let Some(s) = snapshot {
                s.validate().map_err(|e| {
                    invalid(format!("snapshot {}: {e}", ["A", "B", "C", "D"][slot]))
                })?;
            }
        }
        Ok(session)
    }

    pub fn load(path: &Path) -> Result<Self, SessionError> {
        let text = std::fs::read_to_string(path).map_err(|source| SessionError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text, path)
    }

    /// Writes atomically: a crash mid-write leaves the previous file, never half of one.
    pub fn save(&self, path: &Path) -> Result<(), SessionError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| SessionError::Invalid {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(write_atomically(path, true, text.as_bytes())?)
    }
}

/// Where sessions, the autosave and preferences live.
#[derive(Debug, Clone, PartialEq)]
pub struct Storage {
    pub data_dir: PathBuf,
    pub config_dir: PathBuf,
}

impl Storage {
    /// The user's directories (`~/.local/share/crest`, `~/.config/crest` on Linux).
    pub fn user() -> Result<Self, SessionError> {
        let dirs = directories::ProjectDirs::from("", "", "crest").ok_or(SessionError::NoHome)?;
        Ok(Self {
            data_dir: dirs.data_dir().to_owned(),
            config_dir: dirs.config_dir().to_owned(),
        })
    }

    /// Both under one folder (tests, portable setups).
    pub fn at(folder: &Path) -> Self {
        Self {
            data_dir: folder.join("data"),
            config_dir: folder.join("config"),
        }
    }

    pub fn autosave_path(&self) -> PathBuf {
        self.data_dir.join("autosave.crest.json")
    }

    fn running_marker(&self) -> PathBuf {
        self.data_dir.join("running")
    }

    pub fn preferences_path(&self) -> PathBuf {
        self.config_dir.join("preferences.json")
    }

    /// Called as a desk starts: the autosave of a desk that did not close cleanly, if any.
    /// Marks this desk as running.
    pub fn start(&self) -> Result<Option<Session>, SessionError> {
        let crashed = self.running_marker().exists();
        let left_behind = if crashed {
            Session::load(&self.autosave_path()).ok()
        } else {
            None
        };
        write_atomically(
            &self.running_marker(),
            true,
            std::process::id().to_string().as_bytes(),
        )?;
        Ok(left_behind)
    }

    pub fn autosave(&self, session: &Session) -> Result<(), SessionError> {
        session.save(&self.autosave_path())
    }

    /// Called as a desk closes cleanly: nothing to restore next time.
    pub fn finish(&self) {
        let _ = std::fs::remove_file(self.running_marker());
        let _ = std::fs::remove_file(self.autosave_path());
    }

    /// The preferences, each field read on its own (a damaged one falls back to its default),
    /// with a note for each field that was not usable.
    pub fn preferences(&self) -> (Preferences, Vec<String>) {
        let path = self.preferences_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => Preferences::from_json_lenient(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Preferences::default(), vec![]),
            Err(e) => (
                Preferences::default(),
                vec![format!("cannot read {}: {e}", path.display())],
            ),
        }
    }

    pub fn save_preferences(&self, preferences: &Preferences) -> Result<(), SessionError> {
        let path = self.preferences_path();
        let text =
            serde_json::to_string_pretty(preferences).map_err(|e| SessionError::Invalid {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        Ok(write_atomically(&path, true, text.as_bytes())?)
    }
}

/// What the desk remembers between runs.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Preferences {
    /// Output device by name; none for the system default.
    pub device: Option<String>,
    pub last_open_folder: Option<PathBuf>,
    pub last_export_folder: Option<PathBuf>,
    /// Most recent first.
    pub recent: Vec<PathBuf>,
    /// The most memory one decoded file may take, in bytes (the command line's
    /// `--max-memory`); none for half of what is available.
    pub max_memory_bytes: Option<u64>,
}

impl Preferences {
    /// Reads what can be read: each field separately, so one bad value (or a file cut short
    /// inside one field) costs that field only.
    pub fn from_json_lenient(text: &str) -> (Self, Vec<String>) {
        let mut notes = Vec::new();
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => {
                notes.push(format!("preferences unreadable ({e}); using defaults"));
                return (Self::default(), notes);
            }
        };
        fn field<T: serde::de::DeserializeOwned + Default>(
            value: &serde_json::Value,
            name: &str,
            notes: &mut Vec<String>,
        ) -> T {
            match value.get(name) {
                None | Some(serde_json::Value::Null) => T::default(),
                Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|e| {
                    notes.push(format!("preference `{name}` ignored: {e}"));
                    T::default()
                }),
            }
        }
        let mut preferences = Self {
            device: field(&value, "device", &mut notes),
            last_open_folder: field(&value, "last_open_folder", &mut notes),
            last_export_folder: field(&value, "last_export_folder", &mut notes),
            recent: field(&value, "recent", &mut notes),
            max_memory_bytes: field(&value, "max_memory_bytes", &mut notes),
        };
        preferences.recent.truncate(RECENT_FILES);
        (preferences, notes)
    }

    /// `path` to the front of the recent files (once), the list kept short.
    pub fn opened(&mut self, path: &Path) {
        self.recent.retain(|p| p != path);
        self.recent.insert(0, path.to_owned());
        self.recent.truncate(RECENT_FILES);
        if let Some(folder) = path.parent() {
            self.last_open_folder = Some(folder.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("crest-session-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_session_round_trips_and_a_bad_one_says_why() {
        let dir = scratch("roundtrip");
        let mut chain = ChainSettings::gentle_master();
        chain.limiter.target_lufs = Some(-14.0);
        let mut session = Session::new(Some("/music/mix.wav".into()), chain.clone());
        chain.input.trim_db = -2.0;
        session.snapshots[1] = Some(chain);
        session.export.presets = vec!["cd".into()];
        let path = dir.join("mix.crest.json");
        session.save(&path).expect("saved");
        assert_eq!(Session::load(&path).expect("loaded"), session);

        let mut bad = session.clone();
        bad.chain.limiter.ceiling_dbtp = 3.0;
        let text = serde_json::to_string(&bad).expect("json");
        let error = Session::from_json(&text, &path).expect_err("refused");
        assert!(
            error.to_string().contains("limiter.ceiling_dbtp"),
            "{error}"
        );
        let error = Session::from_json("{\"version\": 9}", &path).expect_err("refused");
        assert!(error.to_string().contains("mix.crest.json"), "{error}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_desk_that_did_not_close_leaves_its_autosave_to_restore() {
        let storage = Storage::at(&scratch("crash"));
        assert_eq!(storage.start().expect("first start"), None);
        let session = Session::new(None, ChainSettings::gentle_master());
        storage.autosave(&session).expect("autosaved");
        // No finish(): the desk crashed. The next start offers the autosave.
        assert_eq!(
            storage.start().expect("second start"),
            Some(session.clone())
        );
        storage.finish();
        assert_eq!(storage.start().expect("after a clean close"), None);
        storage.finish();
        let _ = std::fs::remove_dir_all(storage.data_dir.parent().expect("folder"));
    }

    #[test]
    fn damaged_preferences_cost_only_the_damaged_field() {
        let text =
            r#"{"device": 42, "last_open_folder": "/music", "recent": ["/a.wav", "/b.wav"]}"#;
        let (preferences, notes) = Preferences::from_json_lenient(text);
        assert_eq!(preferences.device, None);
        assert_eq!(preferences.last_open_folder, Some("/music".into()));
        assert_eq!(preferences.recent.len(), 2);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("device"));
        let (defaults, notes) = Preferences::from_json_lenient("{\"recent\": [\"/a.wav\"");
        assert_eq!(defaults, Preferences::default());
        assert_eq!(notes.len(), 1);

        let mut p = Preferences::default();
        for n in 0..12 {
            p.opened(Path::new(&format!("/music/{n}.wav")));
        }
        p.opened(Path::new("/music/3.wav"));
        assert_eq!(p.recent.len(), RECENT_FILES);
        assert_eq!(p.recent[0], PathBuf::from("/music/3.wav"));
        assert_eq!(p.recent.iter().filter(|r| r.ends_with("3.wav")).count(), 1);
        assert_eq!(p.last_open_folder, Some("/music".into()));

        let storage = Storage::at(&scratch("prefs"));
        storage.save_preferences(&p).expect("saved");
        assert_eq!(storage.preferences(), (p, vec![]));
        let _ = std::fs::remove_dir_all(storage.data_dir.parent().expect("folder"));
    }
}
