//! A master from start to end: render through the chain, dither and quantise, check the true
//! peak of the very samples to be written (rendering again with a lower working ceiling if
//! they came out over: the closed loop), write atomically, verify, and report.

use std::path::Path;
use std::time::Instant;

use crate::audio::AudioBuffer;
use crate::chain::ChainSettings;
use crate::export::{self, Dither, ExportError, ExportRequest, Format, Written};
use crate::qc::{self, FileFacts, QcReport, Requirements};
use crate::render::{self, LimiterReport, RenderControl, RenderError, Rendered};
use crate::resample::{self, ResampleError};

/// Closed-loop attempts before giving up on the ceiling (the first normally suffices).
const ATTEMPTS: usize = 4;
/// The first render's working ceiling sits this far under the stated one: room for the
/// limiter's own worst overshoot on hard programme (+0.003 dB measured, see tests/limiter.rs)
/// and for the dither and rounding of 16-bit output, so the closed loop seldom renders twice.
const FIRST_MARGIN_DB: f64 = 0.005;
/// Extra margin added to a measured overshoot when rendering again.
const RETRY_MARGIN_DB: f64 = 0.01;

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Resample(#[from] ResampleError),
    #[error("the QC report could not be written beside the master: {0}")]
    Report(std::io::Error),
}

/// What to make.
#[derive(Debug, Clone)]
pub struct MasterRequest<'a> {
    pub audio: &'a AudioBuffer,
    pub source_path: Option<&'a Path>,
    /// The effective settings: chain file, then delivery preset, then flags already applied.
    pub settings: &'a ChainSettings,
    pub format: Format,
    pub dither: Dither,
    pub sample_rate: Option<u32>,
    pub output: &'a Path,
    pub force: bool,
}

/// A written master and its report.
#[derive(Debug, Clone)]
pub struct Mastered {
    pub written: Written,
    pub report: QcReport,
    /// Closed-loop renders it took (1 when the first met the ceiling).
    pub renders: usize,
    /// Where the time went.
    pub timings: Timings,
}

/// Seconds per phase of a master (the closed loop's renders summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Timings {
    /// Sample-rate conversion (0 when none was needed).
    pub resample_s: f64,
    /// The chain, the loudness solver and the limiter.
    pub render_s: f64,
    /// Dither, quantisation and the measurement of the samples to be written.
    pub quantise_and_measure_s: f64,
    pub encode_s: f64,
    /// Reading the written file back and comparing it sample for sample.
    pub verify_s: f64,
}

/// Makes the master. A file that is written but fails a QC check is kept; `report.passed`
/// says so.
pub fn master(
    request: &MasterRequest<'_>,
    control: RenderControl<'_>,
) -> Result<Mastered, MasterError> {
    let RenderControl { progress, cancel } = control;
    export::check_destination(request.output, request.source_path, request.force)?;
    // Resample first, so the limiter, the closed loop and the dither all work at the rate that
    // is delivered (conversion makes new inter-sample peaks).
    let mut timings = Timings::default();
    let started = Instant::now();
    let converted;
    let (audio, render_share) = match request.sample_rate {
        Some(rate) if rate != request.audio.sample_rate() => {
            converted = resample::resample(
                request.audio,
                rate,
                RenderControl {
                    progress: &mut |f| progress(0.15 * f),
                    cancel,
                },
            )?;
            (&converted, (0.15, 0.7))
        }
        _ => (request.audio, (0.0, 0.85)),
    };
    timings.resample_s = started.elapsed().as_secs_f64();
    let limiter_on = !request.settings.limiter.bypass;
    let ceiling = request.settings.limiter.ceiling_dbtp;
    let mut margin = FIRST_MARGIN_DB;
    let mut renders = 0;
    let (rendered, prepared) = loop {
        renders += 1;
        let started = Instant::now();
        let rendered = render::render(
            audio,
            request.settings,
            margin,
            RenderControl {
                progress: &mut |f| progress(render_share.0 + render_share.1 * f),
                cancel,
            },
        )?;
        let Rendered {
            audio: output,
            limiter,
            disabled_for_mono,
        } = rendered;
        timings.render_s += started.elapsed().as_secs_f64();
        let started = Instant::now();
        let prepared = export::prepare(output, request.format, request.dither);
        timings.quantise_and_measure_s += started.elapsed().as_secs_f64();
        let over = prepared
            .measured
            .true_peak_dbtp
            .map_or(0.0, |tp| tp - ceiling);
        if !limiter_on || over <= 0.0 || renders == ATTEMPTS {
            break ((limiter, disabled_for_mono), prepared);
        }
        margin += over + RETRY_MARGIN_DB;
    };
    progress(0.9);
    let written = export::write(
        prepared,
        &ExportRequest {
            path: request.output,
            format: request.format,
            dither: request.dither,
            force: request.force,
            source: request.source_path,
        },
        cancel,
    )?;
    timings.encode_s = written.encode_s;
    timings.verify_s = written.verify_s;
    let mut report = report_for(&written, rendered, request.settings);
    if audio.sample_rate() != request.audio.sample_rate() {
        report.notes.push(format!(
            "Converted from {} Hz to {} Hz before the chain, so the limiter and the dither worked at the delivered rate.",
            request.audio.sample_rate(),
            audio.sample_rate()
        ));
    }
    report
        .write_beside(request.output)
        .map_err(MasterError::Report)?;
    progress(1.0);
    Ok(Mastered {
        written,
        report,
        renders,
        timings,
    })
}

/// What render reported besides the audio: the limiter's report and the settings mono lacks.
type RenderNotes = (Option<LimiterReport>, Vec<&'static str>);

fn report_for(
    written: &Written,
    (limiter, disabled_for_mono): RenderNotes,
    settings: &ChainSettings,
) -> QcReport {
    let mut report = qc::evaluate(
        FileFacts {
            file: &written.path,
            format: written.format.describe(),
            sample_rate: written.sample_rate,
            channels: written.channels,
            duration_s: written.frames as f64 / f64::from(written.sample_rate),
            measured: &written.measured,
        },
        Requirements {
            target_lufs: limiter.as_ref().and_then(|l| l.target_lufs),
            ceiling_dbtp: Some(settings.limiter.ceiling_dbtp),
        },
    );
    let mut limiter = limiter;
    if let Some(l) = limiter.as_mut().filter(|l| {
        l.true_peak_before_dbtp.is_none()
            && l.peak_reduction_db == 0.0
            && settings.output.is_neutral()
    }) {
        // The limiter did not touch the audio: what arrived at it was the file's true peak
        // less the gain in front of it.
        l.true_peak_before_dbtp = written.measured.true_peak_dbtp.map(|peak| peak - l.gain_db);
        l.plr_before_db = l
            .true_peak_before_dbtp
            .zip(l.integrated_before_lufs)
            .map(|(peak, lufs)| peak - lufs);
    }
    report.limiter_peak_gr_db = limiter.as_ref().map(|l| l.peak_reduction_db);
    if let Some(l) = &limiter {
        report.notes.extend(l.notes.iter().cloned());
    }
    if settings.limiter.bypass {
        report
            .notes
            .push("The limiter is bypassed: nothing holds the true peak under the ceiling.".into());
    }
    if written.clamped > 0 {
        report.notes.push(format!(
            "{} samples were clamped at full scale when quantising.",
            written.clamped
        ));
    }
    for feature in &disabled_for_mono {
        report
            .notes
            .push(format!("Mono source: the {feature} had nothing to act on."));
    }
    report.limiter = limiter;
    report
}
