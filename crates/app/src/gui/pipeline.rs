//! The desk's work off the UI thread: decode and analyse a track (or the demo), load a
//! reference at the track's rate, render and measure the master. Each runs in a task and
//! reports progress and honours cancellation through a [`Job`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use crest_engine::analysis::{AnalysisOptions, analyze_with};
use crest_engine::chain::ChainSettings;
use crest_engine::decode::{DecodeControl, DecodeError, decode_file_limited};
use crest_engine::health::Finding;
use crest_engine::limits::DecodeLimits;
use crest_engine::loudness::Loudness;
use crest_engine::render::{RenderControl, RenderScratch, render_measured};
use crest_engine::spectrum::{BandSpectrum, long_term_spectrum};
use crest_engine::{AudioBuffer, demo};

use super::work::Job;

/// A decoded and measured track.
#[derive(Debug)]
pub struct Loaded {
    pub name: String,
    pub path: Option<PathBuf>,
    pub audio: Arc<AudioBuffer>,
    pub mix: Loudness,
    /// Long-term spectrum (tonal balance).
    pub spectrum: BandSpectrum,
    /// Mix health: what mastering cannot fix, worst first.
    pub findings: Vec<Finding>,
    /// What the decoder had to say (repairs, truncation).
    pub warnings: Vec<String>,
}

/// The master as rendered for some settings: its loudness, the limiter's report, its
/// spectrum.
pub type Mastered = crest_engine::render::MeasuredMaster;

/// Decodes (or makes the demo mix) and measures it, reporting progress to `job` and
/// stopping when it is cancelled.
pub fn load(path: Option<PathBuf>, limits: &DecodeLimits, job: &Job) -> Result<Loaded, String> {
    let (name, decoded) = match &path {
        Some(path) => {
            let decoded = decode_file_limited(
                path,
                limits,
                DecodeControl {
                    progress: &mut |f| job.set_progress(0.8 * f),
                    cancel: job.cancel_flag(),
                },
            )
            .map_err(|e| match e {
                DecodeError::Cancelled { .. } => "Loading was cancelled".to_owned(),
                e => e.to_string(),
            })?;
            let name = path.file_name().map_or_else(
                || path.display().to_string(),
                |n| n.to_string_lossy().into(),
            );
            (name, decoded)
        }
        None => ("Demo mix (built in)".to_owned(), demo::demo_decoded()),
    };
    job.set_progress(0.8);
    let analysis = analyze_with(
        &decoded,
        AnalysisOptions { spectrum: true },
        &crate::RayonJoin,
    );
    job.set_progress(1.0);
    // Asked for above, so always there.
    let spectrum = analysis
        .spectrum
        .unwrap_or_else(|| long_term_spectrum(&decoded.audio));
    Ok(Loaded {
        spectrum,
        name,
        path,
        warnings: decoded.warnings,
        audio: Arc::new(decoded.audio),
        mix: analysis.loudness,
        findings: analysis.findings,
    })
}

/// Loads a reference track and converts it to the track's rate.
pub fn load_reference(path: PathBuf, rate: u32, limits: &DecodeLimits) -> Result<Loaded, String> {
    let mut loaded = load(Some(path), limits, &Job::default())?;
    if loaded.audio.sample_rate() != rate {
        let cancel = std::sync::atomic::AtomicBool::new(false);
        let converted = crest_engine::resample::resample(
            &loaded.audio,
            rate,
            DecodeControl {
                progress: &mut |_| {},
                cancel: &cancel,
            },
        )
        .map_err(|e| e.to_string())?;
        loaded.audio = Arc::new(converted);
    }
    Ok(loaded)
}

/// Renders the master for `settings` and measures it, reporting progress to `job`; a job
/// cancelled (a newer edit superseded it) stops the render where it is. The loudness solver
/// starts from `mix_lufs`, the mix's integrated loudness (a chain seldom moves it far).
pub fn master(
    audio: &AudioBuffer,
    settings: &ChainSettings,
    mix_lufs: Option<f64>,
    scratch: &Mutex<RenderScratch>,
    job: &Job,
) -> Result<Mastered, String> {
    // A superseded render still holding the buffers is cancelled: it lets go within a chunk.
    let mut scratch = scratch.lock().unwrap_or_else(PoisonError::into_inner);
    render_measured(
        audio,
        settings,
        mix_lufs,
        &mut scratch,
        RenderControl {
            progress: &mut |f| job.set_progress(f),
            cancel: job.cancel_flag(),
        },
        &crate::RayonJoin,
    )
    .map_err(|e| e.to_string())
}
