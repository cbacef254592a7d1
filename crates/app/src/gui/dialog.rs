//! Native file dialogs (rfd: the desktop portal, zenity as fallback), run as tasks.
//!
//! Where neither exists the dialog returns at once with nothing chosen; a person cannot
//! cancel a dialog that fast, so that case is reported as a dialog that could not open, and
//! the desk asks for the same [`Ask`] in a typed path instead (`path_entry`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Extensions the decoder reads (its format readers say which).
pub fn audio() -> Vec<&'static str> {
    crest_engine::decode::audio_extensions()
}

/// What a dialog gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Picked {
    Path(PathBuf),
    /// The engineer closed the dialog.
    Cancelled,
    /// No dialog could be shown.
    Unavailable,
}

impl Picked {
    fn from(path: Option<PathBuf>, started: Instant) -> Self {
        match path {
            Some(path) => Picked::Path(path),
            None if started.elapsed() < Duration::from_millis(400) => Picked::Unavailable,
            None => Picked::Cancelled,
        }
    }
}

/// Said over the typed path that stands in for a dialog that could not open.
pub const UNAVAILABLE: &str =
    "No file dialog is available here (no desktop portal or zenity): type the path";

/// The same, where dropping the file on the window would do too (opening a track or session).
pub const UNAVAILABLE_OR_DROP: &str = "No file dialog is available here (no desktop portal or \
     zenity): type the path, or drop the file on the window";

/// What a file dialog asks for, and what the typed path that stands in for it asks for too.
#[derive(Debug, Clone, PartialEq)]
pub struct Ask {
    /// What is asked, in the dialog's title: "Load a chain preset".
    pub title: &'static str,
    /// What the offered files are called in the dialog's filter: "Chain presets".
    pub kind: &'static str,
    /// The files offered, by extension.
    pub extensions: Vec<&'static str>,
    pub goal: Goal,
}

/// A file to open or where to save.
#[derive(Debug, Clone, PartialEq)]
pub enum Goal {
    /// A file that exists, looked for in `folder`.
    Open { folder: PathBuf },
    /// A new (or replaced) file, proposed as `suggested`.
    Save { suggested: PathBuf },
}

impl Ask {
    pub fn open(
        title: &'static str,
        kind: &'static str,
        extensions: Vec<&'static str>,
        folder: PathBuf,
    ) -> Self {
        Self {
            title,
            kind,
            extensions,
            goal: Goal::Open { folder },
        }
    }

    pub fn save(
        title: &'static str,
        kind: &'static str,
        extensions: Vec<&'static str>,
        suggested: PathBuf,
    ) -> Self {
        Self {
            title,
            kind,
            extensions,
            goal: Goal::Save { suggested },
        }
    }
}

/// Where a dialog starts when nothing better is known: the track's folder, else the home
/// folder (else the working folder).
pub fn beside(source: Option<&Path>) -> PathBuf {
    source
        .and_then(Path::parent)
        .filter(|folder| !folder.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .or_else(std::env::home_dir)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// What the desk opens: audio, and sessions (`*.crest.json`).
pub fn openable() -> Vec<&'static str> {
    let mut extensions = audio();
    extensions.push("json");
    extensions
}

/// Shows the dialog for `ask`: a file to open, or where to save.
pub async fn pick(ask: Ask) -> Picked {
    let started = Instant::now();
    let dialog = rfd::AsyncFileDialog::new()
        .set_title(ask.title)
        .add_filter(ask.kind, &ask.extensions)
        .add_filter("All files", &["*"]);
    let file = match ask.goal {
        Goal::Open { folder } => dialog.set_directory(folder).pick_file().await,
        Goal::Save { suggested } => {
            let mut dialog = dialog;
            if let Some(folder) = suggested.parent() {
                dialog = dialog.set_directory(folder);
            }
            if let Some(name) = suggested.file_name() {
                dialog = dialog.set_file_name(name.to_string_lossy());
            }
            dialog.save_file().await
        }
    };
    Picked::from(file.map(|f| f.path().to_path_buf()), started)
}
