//! The folder a typed path is in, as read for completion: bounded, filtered to the files
//! asked for, and the small rules of reading a typed path (`~`, extensions, shared starts).

use std::path::{Path, PathBuf};

/// Entries read from one folder: a huge folder cannot hold up the window.
pub const READ_AT_MOST: usize = 2_000;

/// A folder as read, with the entries that fit the ask.
#[derive(Debug, Default)]
pub struct Folder {
    pub path: PathBuf,
    pub entries: Vec<Found>,
    /// More entries than were read.
    pub cut_short: bool,
    pub unreadable: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub name: String,
    pub is_folder: bool,
}

impl Folder {
    /// Reads at most [`READ_AT_MOST`] entries of `path`: its folders and the files with one of
    /// `extensions`, folders first, each group by name.
    pub fn read(path: PathBuf, extensions: &[&str]) -> Self {
        let listing = match std::fs::read_dir(&path) {
            Ok(listing) => listing,
            Err(error) => {
                let unreadable = match error.kind() {
                    std::io::ErrorKind::NotFound => {
                        format!("The folder {} does not exist", path.display())
                    }
                    _ => format!("The folder {} cannot be read: {error}", path.display()),
                };
                return Self {
                    path,
                    unreadable: Some(unreadable),
                    ..Self::default()
                };
            }
        };
        let mut read = 0;
        let mut entries = Vec::new();
        for entry in listing.flatten() {
            read += 1;
            if read > READ_AT_MOST {
                break;
            }
            // Names that are not UTF-8 cannot be typed back into the field.
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            // Through symbolic links: a link to a folder is a folder to go into.
            let is_folder = entry.path().is_dir();
            if is_folder || offered(&name, extensions) {
                entries.push(Found { name, is_folder });
            }
        }
        entries.sort_by(|a, b| b.is_folder.cmp(&a.is_folder).then(a.name.cmp(&b.name)));
        Self {
            path,
            entries,
            cut_short: read > READ_AT_MOST,
            unreadable: None,
        }
    }
}

/// `~` or `~/…` from the home folder; anything else as typed.
pub fn expand(typed: &str, home: Option<&Path>) -> PathBuf {
    match (typed.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home.to_path_buf(),
        (Some(rest), Some(home)) if rest.starts_with('/') => home.join(&rest[1..]),
        _ => PathBuf::from(typed),
    }
}

/// A file of one of `extensions` (`json` also takes `mix.crest.json`), in any case.
pub fn offered(name: &str, extensions: &[&str]) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| x.eq_ignore_ascii_case(e)))
}

/// The longest start `a` and `b` share, whole characters only.
pub fn common_prefix<'a>(a: &'a str, b: &str) -> &'a str {
    let shared = a
        .char_indices()
        .zip(b.chars())
        .find(|((_, x), y)| x != y)
        .map_or(a.len().min(b.len()), |((at, _), _)| at);
    &a[..shared]
}
