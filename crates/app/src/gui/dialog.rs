//! Native file dialogs (rfd: the desktop portal, zenity as fallback), run as tasks.
//!
//! Where neither exists the dialog returns at once with nothing chosen; a person cannot
//! cancel a dialog that fast, so that case is reported as a dialog that could not open, and
//! the desk points to drag and drop instead.

use std::path::PathBuf;
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

/// The notice for a dialog that could not open.
pub const UNAVAILABLE: &str = "No file dialog is available here (no desktop portal or zenity): \
     drop the file on the window instead";

/// What the desk opens: audio, and sessions (`*.crest.json`).
pub fn openable() -> Vec<&'static str> {
    let mut extensions = audio();
    extensions.push("json");
    extensions
}

/// Asks for a file to open, starting in `folder` when given.
pub async fn open(
    title: &str,
    kind: &str,
    extensions: Vec<&'static str>,
    folder: Option<PathBuf>,
) -> Picked {
    let started = Instant::now();
    let mut dialog = rfd::AsyncFileDialog::new()
        .set_title(title)
        .add_filter(kind, &extensions)
        .add_filter("All files", &["*"]);
    if let Some(folder) = folder {
        dialog = dialog.set_directory(folder);
    }
    let file = dialog.pick_file().await;
    Picked::from(file.map(|f| f.path().to_path_buf()), started)
}

/// Asks where to save, starting at `suggested`.
pub async fn save(title: &str, suggested: PathBuf) -> Picked {
    let started = Instant::now();
    let mut dialog = rfd::AsyncFileDialog::new().set_title(title);
    if let Some(folder) = suggested.parent() {
        dialog = dialog.set_directory(folder);
    }
    if let Some(name) = suggested.file_name() {
        dialog = dialog.set_file_name(name.to_string_lossy());
    }
    let file = dialog.save_file().await;
    Picked::from(file.map(|f| f.path().to_path_buf()), started)
}
