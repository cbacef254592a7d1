//! Sessions and preferences on disk.
//!
//! A session is what an engineer would lose in a crash: the source, the chain, the four
//! snapshots, the reference, the export choices and how they were listening (the undo history
//! is not kept: a restored session starts a new one). It is versioned JSON, saved where the
//! engineer asks and autosaved to the user's data directory shortly after every change, each
//! desk to its own file (the `autosave` module): a desk that starts offers back the autosaves of desks
//! that are gone, never those of desks still running.
//!
//! Preferences (output device, last folders, recent files) live in the config directory and
//! are read field by field: a damaged field falls back to its default without taking the
//! others with it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod autosave;

pub use autosave::{DeskLease, DeskStart, Orphan};

use crate::chain::ChainSettings;
use crate::export::{Dither, Format};
use crate::files::{WriteError, write_atomically};
use crate::monitor::MonitorChoices;
use crate::tags::Tags;

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
    /// Release metadata written into every file (absent in sessions saved before it was kept).
    #[serde(skip_serializing_if = "Tags::is_empty")]
    pub tags: Tags,
    /// Lower each file's ceiling until the channels' codecs decode it clean.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub codec_safe: bool,
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
            tags: Tags::default(),
            codec_safe: false,
        }
    }
}

/// How the desk's plots were viewed, kept with a session.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewChoices {
    /// The timeline shows momentary loudness (else short-term).
    pub momentary: bool,
    /// The spectrum's smoothing, 1/N octave (3, 6 or 12).
    pub smoothing: f64,
    /// The spectrum's slope in dB per octave about 1 kHz (0, 3 or 4.5).
    pub slope: f64,
    /// The plot under the timeline (sessions saved before it was kept show the spectrum).
    pub plot: Plot,
}

impl Default for ViewChoices {
    fn default() -> Self {
        Self {
            momentary: false,
            smoothing: 6.0,
            slope: 0.0,
            plot: Plot::Spectrum,
        }
    }
}

/// The plots that share the place under the desk's timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plot {
    /// Long-term spectra, the live analyzer and the EQ with its handles.
    #[default]
    Spectrum,
    /// The third-octave balance against a reference or a target range, and the match.
    Balance,
    /// The goniometer and the stereo picture per octave.
    Stereo,
    /// The spectrum over time, around the playhead.
    Spectrogram,
    /// What the channels' codecs do to the master.
    Codecs,
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
    /// How the session was being heard (absent in sessions saved before it was kept).
    #[serde(default)]
    pub monitor: MonitorChoices,
    /// How its plots were viewed (absent in sessions saved before it was kept).
    #[serde(default)]
    pub view: ViewChoices,
    /// The blind tests finished on it, oldest first (absent in sessions saved before they
    /// were kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blind_tests: Vec<crate::blind::BlindResult>,
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
            monitor: MonitorChoices::default(),
            view: ViewChoices::default(),
            blind_tests: Vec::new(),
        }
    }

    /// Reads what can be read of a session that [`Session::from_json`] refuses (saved by a
    /// newer Crest, or with a damaged field): the source and the chain must be readable, the
    /// rest falls back to defaults, each with a note. None when even that is not there.
    pub fn from_json_lenient(text: &str) -> Option<(Self, Vec<String>)> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let mut notes = Vec::new();
        if let Some(version) = value.get("version").and_then(serde_json::Value::as_u64)
            && version != u64::from(SESSION_VERSION)
        {
            notes.push(format!(
                "it was saved by a Crest that writes session version {version}; what this \
                 version does not know was left out"
            ));
        }
        let source: Option<PathBuf> = serde_json::from_value(value.get("source")?.clone()).ok()?;
        let chain = lenient_chain(value.get("chain")?)?;
        let mut session = Self::new(source, chain);
        let mut field = |name: &str, read: &mut dyn FnMut(serde_json::Value) -> bool| {
            if let Some(v) = value.get(name)
                && !read(v.clone())
            {
                notes.push(format!("`{name}` could not be read and was left out"));
            }
        };
        field("snapshots", &mut |v| {
            serde_json::from_value::<[Option<serde_json::Value>; 4]>(v)
                .map(|slots| {
                    session.snapshots = slots.map(|s| s.and_then(|s| lenient_chain(&s)));
                })
                .is_ok()
        });
        field("active_snapshot", &mut |v| {
            v.as_u64()
                .filter(|&n| n <= 3)
                .map(|n| session.active_snapshot = n as usize)
                .is_some()
        });
        field("reference", &mut |v| {
            serde_json::from_value(v)
                .map(|r| session.reference = r)
                .is_ok()
        });
        field("export", &mut |v| {
            serde_json::from_value(v)
                .map(|e| session.export = e)
                .is_ok()
        });
        field("monitor", &mut |v| {
            serde_json::from_value(v)
                .map(|m| session.monitor = m)
                .is_ok()
        });
        field("view", &mut |v| {
            serde_json::from_value(v)
                .map(|view| session.view = view)
                .is_ok()
        });
        field("blind_tests", &mut |v| {
            serde_json::from_value(v)
                .map(|tests| session.blind_tests = tests)
                .is_ok()
        });
        Some((session, notes))
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

    pub fn preferences_path(&self) -> PathBuf {
        self.config_dir.join("preferences.json")
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

/// A chain as far as it can be read: fields this version does not know (a newer Crest's)
/// left out, the version taken as this one's, then checked like any chain.
fn lenient_chain(value: &serde_json::Value) -> Option<ChainSettings> {
    if let Ok(chain) = ChainSettings::from_json(&value.to_string()) {
        return Some(chain);
    }
    let template = serde_json::to_value(ChainSettings::gentle_master()).ok()?;
    let mut pruned = value.clone();
    prune_to(&template, &mut pruned);
    if let Some(version) = pruned.get_mut("version") {
        *version = template["version"].clone();
    }
    ChainSettings::from_json(&pruned.to_string()).ok()
}

/// Removes from `value` the object keys `template` does not have, recursively (an array's
/// items against the template's first item; where the template holds null, anything goes).
fn prune_to(template: &serde_json::Value, value: &mut serde_json::Value) {
    use serde_json::Value;
    match (template, value) {
        (Value::Object(known), Value::Object(fields)) => {
            fields.retain(|key, _| known.contains_key(key));
            for (key, field) in fields.iter_mut() {
                prune_to(&known[key], field);
            }
        }
        (Value::Array(known), Value::Array(items)) => {
            if let Some(first) = known.first() {
                items.iter_mut().for_each(|item| prune_to(first, item));
            }
        }
        _ => {}
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
    /// Frames per output buffer playback asks the device for; none for playback's default.
    pub buffer_frames: Option<u32>,
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
            buffer_frames: field(&value, "buffer_frames", &mut notes),
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

    use crate::test_scratch::{Scratch, scratch};

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
    }

    #[test]
    fn a_desk_that_did_not_close_leaves_its_autosave_to_restore() {
        let dir = scratch("crash");
        let storage = Storage::at(&dir);
        let first = storage.start().expect("first start");
        assert!(first.orphans.is_empty() && first.notices.is_empty());
        let mut session = Session::new(None, ChainSettings::gentle_master());
        session.monitor.listen = crate::monitor::Listen::Mono;
        session.monitor.emulation = Some("phone".into());
        storage.autosave(&first.lease, &session).expect("autosaved");
        // No finish(): the desk crashed (its lock went with it). The next start offers it.
        drop(first);
        let second = storage.start().expect("second start");
        assert_eq!(second.orphans.len(), 1);
        assert_eq!(
            second.orphans[0].session, session,
            "monitor choices included"
        );
        storage.dismiss(&second.orphans[0]);
        storage.finish(second.lease);
        let third = storage.start().expect("after a clean close");
        assert!(third.orphans.is_empty());
        storage.finish(third.lease);
    }

    #[test]
    fn two_desks_never_offer_or_remove_each_others_autosave() {
        let dir = scratch("two-desks");
        let storage = Storage::at(&dir);
        let a = storage.start().expect("desk A");
        let session_a = Session::new(Some("/music/a.wav".into()), ChainSettings::gentle_master());
        storage.autosave(&a.lease, &session_a).expect("A autosaves");
        // B starts while A runs: A's live session is not a crash.
        let b = storage.start().expect("desk B");
        assert!(b.orphans.is_empty(), "{:?}", b.orphans);
        let session_b = Session::new(Some("/music/b.wav".into()), ChainSettings::gentle_master());
        storage.autosave(&b.lease, &session_b).expect("B autosaves");
        // B closes cleanly: A's protection stays.
        let a_file = a.lease.autosave_path();
        storage.finish(b.lease);
        assert_eq!(Session::load(&a_file).expect("A's autosave"), session_a);
        // A crashes: the next desk offers A's session, and only it.
        drop(a);
        let c = storage.start().expect("desk C");
        let offered: Vec<_> = c.orphans.iter().map(|o| o.session.source.clone()).collect();
        assert_eq!(offered, [Some(PathBuf::from("/music/a.wav"))]);
        storage.finish(c.lease);
    }

    /// A desk that crashed leaving `text` as its autosave; what the next desk makes of it.
    /// The scratch folder comes back too: it is removed when dropped.
    fn crashed_with(name: &str, text: &str) -> (Storage, DeskStart, Scratch) {
        let dir = scratch(name);
        let storage = Storage::at(&dir);
        let desk = storage.start().expect("start");
        std::fs::write(desk.lease.autosave_path(), text).expect("autosave");
        drop(desk);
        let next = storage.start().expect("next start");
        (storage, next, dir)
    }

    /// Files in the data folder named like an autosave kept aside.
    fn kept_aside(storage: &Storage) -> Vec<PathBuf> {
        std::fs::read_dir(&storage.data_dir)
            .expect("data folder")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().contains("unreadable-autosave-"))
            .collect()
    }

    #[test]
    fn a_truncated_autosave_is_kept_aside_and_reported_not_dropped() {
        let session = Session::new(
            Some("/music/mix.wav".into()),
            ChainSettings::gentle_master(),
        );
        let text = serde_json::to_string_pretty(&session).expect("json");
        let cut = &text[..text.len() / 2];
        let (storage, next, _dir) = crashed_with("truncated", cut);
        assert!(next.orphans.is_empty());
        let kept = kept_aside(&storage);
        assert_eq!(kept.len(), 1);
        assert_eq!(std::fs::read_to_string(&kept[0]).expect("kept"), cut);
        assert_eq!(next.notices.len(), 1);
        assert!(
            next.notices[0].contains("cannot be read (it is cut short")
                && next.notices[0].contains(&kept[0].display().to_string()),
            "{:?}",
            next.notices
        );
        // Not offered again, not lost: the next start says nothing, the file stays.
        storage.finish(next.lease);
        let after = storage.start().expect("again");
        assert!(after.orphans.is_empty() && after.notices.is_empty());
        assert_eq!(kept_aside(&storage), kept);
        storage.finish(after.lease);
    }

    #[test]
    fn a_newer_autosave_offers_what_can_be_read() {
        let mut chain = ChainSettings::gentle_master();
        chain.limiter.target_lufs = Some(-14.0);
        let mut value =
            serde_json::to_value(Session::new(Some("/music/mix.wav".into()), chain)).expect("json");
        value["version"] = 7.into();
        value["album"] = serde_json::json!({"title": "later"});
        value["chain"]["version"] = 3.into();
        value["chain"]["limiter"]["character"] = "warm".into();
        value["monitor"] = serde_json::json!({"listen": "side", "loudness_match": true});
        let (storage, next, _dir) = crashed_with("newer", &value.to_string());
        assert_eq!(next.orphans.len(), 1, "{:?}", next.notices);
        let orphan = &next.orphans[0];
        assert_eq!(orphan.session.source, Some(PathBuf::from("/music/mix.wav")));
        assert_eq!(orphan.session.chain.limiter.target_lufs, Some(-14.0));
        assert!(
            orphan.notes[0].contains("read only in part"),
            "{:?}",
            orphan.notes
        );
        assert!(orphan.notes.iter().any(|n| n.contains("version 7")));
        assert!(orphan.notes.iter().any(|n| n.contains("`monitor`")));
        assert_eq!(kept_aside(&storage), std::slice::from_ref(&orphan.path));
        // Restored or discarded, the kept file stays: it holds what this version left out.
        storage.dismiss(orphan);
        assert_eq!(kept_aside(&storage), std::slice::from_ref(&orphan.path));
        storage.finish(next.lease);
    }

    #[test]
    fn the_autosave_of_an_older_crest_is_still_offered() {
        let dir = scratch("legacy");
        let storage = Storage::at(&dir);
        std::fs::create_dir_all(&storage.data_dir).expect("folder");
        let mut value =
            serde_json::to_value(Session::new(None, ChainSettings::gentle_master())).expect("json");
        // Saved before monitor choices were kept.
        value.as_object_mut().expect("object").remove("monitor");
        std::fs::write(
            storage.data_dir.join("autosave.crest.json"),
            value.to_string(),
        )
        .expect("legacy autosave");
        std::fs::write(storage.data_dir.join("running"), "1234").expect("marker");
        let start = storage.start().expect("start");
        assert_eq!(start.orphans.len(), 1);
        assert_eq!(start.orphans[0].session.monitor, MonitorChoices::default());
        assert!(!storage.data_dir.join("running").exists());
        storage.finish(start.lease);
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

        let dir = scratch("prefs");
        let storage = Storage::at(&dir);
        storage.save_preferences(&p).expect("saved");
        assert_eq!(storage.preferences(), (p, vec![]));
    }
}
