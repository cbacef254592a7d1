//! The desk's work off the UI thread: decode and analyse a track (or the demo), load a
//! reference at the track's rate, render and measure the master. Each runs in a task and
//! reports progress and honours cancellation through a [`Job`].

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use crest_engine::analysis::{AnalysisOptions, analyze_with};
use crest_engine::balance::{Balance, BandStereo, balance};
use crest_engine::chain::ChainSettings;
use crest_engine::decode::{DecodeControl, DecodeError, decode_file_limited};
use crest_engine::health::Finding;
use crest_engine::limits::DecodeLimits;
use crest_engine::loudness::Loudness;
use crest_engine::render::{RenderControl, RenderScratch, SolverStart, render_measured};
use crest_engine::spectrum::{
    BandSpectrum, Spectrogram, long_term_spectrum_and_octaves, spectrogram,
};
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
    /// Third-octave balance and stereo picture (what the balance view holds against a
    /// reference), or why the track has none (a rate under 44.1 kHz, silence, surround).
    pub balance: Result<Balance, String>,
    /// The stereo picture per octave over the whole track (stereo tracks).
    pub octaves: Option<[Option<BandStereo>; 10]>,
    /// The spectrum over time.
    pub spectrogram: Spectrogram,
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
    let ((analysis, (spectrum, octaves)), (balance, spectrogram)) = rayon::join(
        || {
            rayon::join(
                || {
                    analyze_with(
                        &decoded,
                        AnalysisOptions { spectrum: false },
                        &crate::RayonJoin,
                    )
                },
                // The octaves from the long-term spectrum's frames, as the master's are read
                // while it renders: the Stereo tab compares the two like for like.
                || long_term_spectrum_and_octaves(&decoded.audio),
            )
        },
        || {
            rayon::join(
                || balance(&name, &decoded.audio).map_err(|why| why.to_string()),
                || spectrogram(&decoded.audio),
            )
        },
    );
    job.set_progress(1.0);
    Ok(Loaded {
        spectrum,
        name,
        path,
        warnings: decoded.warnings,
        audio: Arc::new(decoded.audio),
        mix: analysis.loudness,
        findings: analysis.findings,
        balance,
        octaves,
        spectrogram,
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

/// Where the loudness solver starts a re-render for `settings`: from the gain the last render
/// of the track found, moved by any change of target (an edit seldom moves it far), and the
/// loudness' slope it measured there; or before any render with a target, from the mix's own
/// loudness.
pub fn solver_start(
    settings: &ChainSettings,
    mix_lufs: Option<f64>,
    last: Option<&Mastered>,
) -> SolverStart {
    let last_solved = last.and_then(|m| {
        let limiter = m.limiter.as_ref()?;
        Some(LastSolution {
            target_lufs: limiter.target_lufs?,
            gain_db: limiter.gain_db,
            lu_per_db: m.solver_lu_per_db,
        })
    });
    start_from(settings.limiter.target_lufs, last_solved, mix_lufs)
}

/// What the last render's solver found.
#[derive(Debug, Clone, Copy)]
struct LastSolution {
    target_lufs: f64,
    gain_db: f64,
    lu_per_db: Option<f64>,
}

/// [`solver_start`] for a target, the last render's solution and the mix's loudness.
fn start_from(
    target: Option<f64>,
    last: Option<LastSolution>,
    mix_lufs: Option<f64>,
) -> SolverStart {
    match (target, last, mix_lufs) {
        (Some(target), Some(last), _) => SolverStart::GainDb {
            gain_db: last.gain_db + target - last.target_lufs,
            lu_per_db: last.lu_per_db,
        },
        (_, _, Some(mix)) => SolverStart::BeforeLufs(mix),
        _ => SolverStart::Measured,
    }
}

/// Renders the master for `settings` and measures it, reporting progress to `job`; a job
/// cancelled (a newer edit superseded it) stops the render where it is. The loudness solver
/// starts at `start` (see [`solver_start`]).
pub fn master(
    audio: &AudioBuffer,
    settings: &ChainSettings,
    start: SolverStart,
    scratch: &Mutex<RenderScratch>,
    job: &Job,
) -> Result<Mastered, String> {
    // A superseded render still holding the buffers is cancelled: it lets go within a chunk.
    let mut scratch = scratch.lock().unwrap_or_else(PoisonError::into_inner);
    render_measured(
        audio,
        settings,
        start,
        &mut scratch,
        RenderControl {
            progress: &mut |f| job.set_progress(f),
            cancel: job.cancel_flag(),
        },
        &crate::RayonJoin,
    )
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_re_render_starts_from_the_last_solution_moved_by_the_target() {
        // −14 took 6 dB, at 0.9 LU per dB; −16 will take about 4.
        let last = LastSolution {
            target_lufs: -14.0,
            gain_db: 6.0,
            lu_per_db: Some(0.9),
        };
        let start = start_from(Some(-16.0), Some(last), Some(-20.0));
        assert_eq!(
            start,
            SolverStart::GainDb {
                gain_db: 4.0,
                lu_per_db: Some(0.9)
            }
        );
        // No solution yet (or the last render had no target): the mix's loudness.
        assert_eq!(
            start_from(Some(-14.0), None, Some(-20.0)),
            SolverStart::BeforeLufs(-20.0)
        );
        assert_eq!(start_from(Some(-14.0), None, None), SolverStart::Measured);
    }
}

/// What a playback system does to a source's level, at the gain the monitor plays it with:
/// the master as playback makes it (the mix through the live chain, `settings`), or the mix
/// or reference as they are.
#[derive(Debug, Clone)]
pub struct TranslationRequest {
    pub audio: Arc<AudioBuffer>,
    pub settings: Option<ChainSettings>,
    pub profile: crest_engine::emulation::Profile,
    pub reference: crest_engine::emulation::Profile,
    pub gain_db: f64,
}

/// Measures a [`TranslationRequest`], stopping when `job` is cancelled.
pub fn translate(
    request: &TranslationRequest,
    job: &Job,
) -> Result<crest_engine::emulation::translation::Translation, String> {
    use crest_engine::emulation::translation::{translation, translation_through_chain};
    let (profile, reference) = (&request.profile, &request.reference);
    match &request.settings {
        Some(settings) => translation_through_chain(
            profile,
            reference,
            &request.audio,
            settings,
            request.gain_db,
            job.cancel_flag(),
        ),
        None => translation(
            profile,
            reference,
            &request.audio,
            request.gain_db,
            job.cancel_flag(),
        ),
    }
    .map_err(|e| e.to_string())
}
