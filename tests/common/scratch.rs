//! Scratch folders for tests, shared by the end-to-end tests and the engine's (included by
//! path): each is removed with what it holds when dropped, at its test's end, so runs of the
//! suite leave nothing behind in the temporary folder.

use std::path::Path;

/// A fresh, empty folder for one test; a `Path` wherever one is asked for.
#[derive(Debug)]
pub struct Scratch(tempfile::TempDir);

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

/// A fresh, empty scratch folder for `test`, named after it (`crest-<test>-…`).
pub fn scratch(test: &str) -> Scratch {
    Scratch(
        tempfile::Builder::new()
            .prefix(&format!("crest-{test}-"))
            .tempdir()
            .expect("a scratch folder"),
    )
}
