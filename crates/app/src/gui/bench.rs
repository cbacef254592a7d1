//! The desk's own load and re-render, for `crest bench` to time: the same calls the desk makes,
//! with a job nobody cancels.

use std::path::Path;
use std::sync::Mutex;

use crest_engine::limits::DecodeLimits;
pub use crest_engine::render::RenderScratch;

use super::pipeline::{self, Loaded, Mastered};
use super::work::Job;

/// Loads a track as the desk opens it (decoded, measured, analysed).
pub fn load(path: &Path, limits: &DecodeLimits) -> Result<Loaded, String> {
    pipeline::load(Some(path.to_path_buf()), limits, &Job::default())
}

/// Renders and measures the master of `loaded` as the desk does after an edit, reusing the
/// track's render buffers and starting from the `last` render's solution, if any.
pub fn master(
    loaded: &Loaded,
    settings: &crest_engine::chain::ChainSettings,
    last: Option<&Mastered>,
    scratch: &Mutex<RenderScratch>,
) -> Result<Mastered, String> {
    let start = pipeline::solver_start(settings, loaded.mix.integrated_lufs, last);
    pipeline::master(&loaded.audio, settings, start, scratch, &Job::default())
}
