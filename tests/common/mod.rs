//! Helpers shared by the end-to-end tests over the `crest` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the built `crest` with `args` in `dir`.
pub fn crest(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crest"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("crest runs")
}

/// An empty scratch folder for one test of this process.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crest-e2e-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}
