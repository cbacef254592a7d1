//! The desk's own load and re-render, for `crest bench` to time: the same calls the desk makes,
//! with a job nobody cancels.

use std::path::Path;

use crest_engine::limits::DecodeLimits;

use super::pipeline::{self, Loaded, Mastered};
use super::work::Job;

/// Loads a track as the desk opens it (decoded, measured, analysed).
pub fn load(path: &Path, limits: &DecodeLimits) -> Result<Loaded, String> {
    pipeline::load(Some(path.to_path_buf()), limits, &Job::default())
}

/// Renders and measures the master as the desk does after an edit.
pub fn master(
    audio: &crest_engine::AudioBuffer,
    settings: &crest_engine::chain::ChainSettings,
) -> Result<Mastered, String> {
    pipeline::master(audio, settings, &Job::default())
}
