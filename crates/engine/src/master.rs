//! A master from start to end: render through the chain, dither and quantise, check the true
//! peak of the very samples to be written (rendering again with a lower working ceiling if
//! they came out over: the closed loop), write atomically, verify, and report.

use std::borrow::Cow;
use std::path::Path;
use std::time::Instant;

use crate::audio::AudioBuffer;
use crate::chain::{ChainSettings, TruePeakMode};
use crate::codec_check;
use crate::decode::DecodeError;
use crate::export::{self, Dither, ExportError, ExportRequest, Format, Written};
use crate::files::{self, WriteError};
use crate::loudness::Loudness;
use crate::loudness::true_peak::strict_true_peak_dbtp;
use crate::parallel::{Join, Sequential};
use crate::qc::{self, FileFacts, QcReport, Requirements};
use crate::render::{self, LimiterReport, RenderControl, RenderError, Rendered};
use crate::resample::{self, ResampleError};
use crate::tags::{GainTags, Tags};

/// Closed-loop attempts before giving up on the ceiling (the first normally suffices).
const ATTEMPTS: usize = 4;
/// The first render adds nothing to the limiter's own working margin
/// ([`crate::chain::limiter::WORKING_MARGIN_DB`], which playback uses too).
const FIRST_MARGIN_DB: f64 = 0.0;
/// Extra margin added to a measured overshoot when rendering again.
const RETRY_MARGIN_DB: f64 = 0.01;
/// Codec checks (and renders at a lowered ceiling between them) before a master that a codec
/// still clips is written as it is, its QC report failing.
const CODEC_SAFE_ROUNDS: usize = 5;
/// Taken off the ceiling beyond the codecs' measured excess, so the next render lands under.
const CODEC_SAFE_STEP_DB: f64 = 0.05;

#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error(transparent)]
    Resample(#[from] ResampleError),
    /// Reading the source again for a second render failed.
    #[error(transparent)]
    Reload(#[from] DecodeError),
    #[error(
        "the source changed while it was being mastered (read again for a second render, it \
         is no longer the audio the first render used); nothing was written"
    )]
    SourceChanged,
    #[error("the QC report could not be written beside the master (nothing was written): {0}")]
    Report(WriteError),
    #[error("the codec check could not run (nothing was written): {0}")]
    CodecCheck(String),
}

/// The audio to master.
#[derive(Clone)]
pub enum MasterSource<'a> {
    /// Audio the caller keeps (the desk's track, several masters from one buffer): every
    /// render works on a copy.
    Borrowed(&'a AudioBuffer),
    /// Audio the master may consume: the first render works on it in place, without a copy of
    /// the whole track. Should the closed loop need another render, `reload` gives the audio
    /// again (the command line decodes the file once more).
    Owned {
        audio: AudioBuffer,
        reload: &'a dyn Fn() -> Result<AudioBuffer, DecodeError>,
    },
}

impl MasterSource<'_> {
    fn audio(&self) -> &AudioBuffer {
        match self {
            Self::Borrowed(audio) => audio,
            Self::Owned { audio, .. } => audio,
        }
    }
}

impl std::fmt::Debug for MasterSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Self::Borrowed(_) => "Borrowed",
            Self::Owned { .. } => "Owned",
        };
        f.debug_tuple(kind).field(self.audio()).finish()
    }
}

/// What to make.
#[derive(Debug, Clone)]
pub struct MasterRequest<'a> {
    pub audio: MasterSource<'a>,
    pub source_path: Option<&'a Path>,
    /// The effective settings: chain file, then delivery preset, then flags already applied.
    pub settings: &'a ChainSettings,
    pub format: Format,
    pub dither: Dither,
    pub sample_rate: Option<u32>,
    pub output: &'a Path,
    pub force: bool,
    /// The integrated loudness the master was judged at (the desk's measured master), when
    /// this file must keep it: the QC report checks it.
    pub judged_lufs: Option<f64>,
    /// Release metadata for the file; its gain tags are filled from the file's measurement.
    pub tags: Option<&'a Tags>,
    /// Lower the ceiling until these codecs decode the file under a peak (none: the ceiling
    /// as set).
    pub codec_safe: Option<&'a CodecSafe>,
}

/// Codecs a master must survive: the limiter's ceiling is lowered until each decodes the
/// file with every sample at or under `decoded_peak_dbfs`.
#[derive(Debug, Clone, PartialEq)]
pub struct CodecSafe {
    pub codecs: Vec<crate::export::Lossy>,
    pub decoded_peak_dbfs: f64,
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
    /// Unfinished files of interrupted exports found in the output folder and removed.
    pub removed_partials: Vec<files::RemovedPartial>,
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
    /// Encoding and decoding the master with the codecs it must survive.
    pub codec_check_s: f64,
}

/// Checks, before any work, that the master and its two QC reports may be written at
/// `output` (see [`export::check_destination`]).
pub fn check_destinations(
    output: &Path,
    source: Option<&Path>,
    force: bool,
) -> Result<(), ExportError> {
    export::check_destination(output, source, force)?;
    for report in QcReport::paths_beside(output) {
        files::check_writable(&report, force)?;
    }
    Ok(())
}

/// Makes the master. A file that is written but fails a QC check is kept; `report.passed`
/// says so.
pub fn master(
    request: MasterRequest<'_>,
    control: RenderControl<'_>,
) -> Result<Mastered, MasterError> {
    master_with(request, control, &Sequential)
}

/// [`master`], with `join` to split the work that splits (FLAC encoding) between threads.
pub fn master_with(
    request: MasterRequest<'_>,
    control: RenderControl<'_>,
    join: &impl Join,
) -> Result<Mastered, MasterError> {
    master_with_margin(request, control, FIRST_MARGIN_DB, join)
}

/// [`master_with`] with the first render's working ceiling `first_margin_db` under the stated
/// one.
fn master_with_margin(
    request: MasterRequest<'_>,
    control: RenderControl<'_>,
    first_margin_db: f64,
    join: &impl Join,
) -> Result<Mastered, MasterError> {
    let RenderControl { progress, cancel } = control;
    check_destinations(request.output, request.source_path, request.force)?;
    // Cover art that cannot be embedded is refused before the render, not after it; read
    // once, it is the same picture in the file and in the report's note.
    let tags = request
        .tags
        .map(|tags| tags.clone().with_cover_read())
        .transpose()
        .map_err(|reason| {
            MasterError::Export(ExportError::Encode {
                path: request.output.to_owned(),
                reason,
            })
        })?;
    let removed_partials = files::remove_stale_partials(&files::folder_of(request.output));
    let source = request.audio.audio();
    if let Some(reason) = request.format.refuses_channels(source.channel_count()) {
        return Err(MasterError::Export(ExportError::Encode {
            path: request.output.to_owned(),
            reason,
        }));
    }
    let source_rate = source.sample_rate();
    let asked_rate = request.sample_rate.unwrap_or(source_rate);
    // A codec that cannot carry the rate asked for is mastered at one it does carry (Opus at
    // 48 kHz), so the limiter still runs at the delivered rate.
    let rate = request.format.delivered_rate(asked_rate);
    let render_share = if rate == source_rate {
        (0.0, 0.85)
    } else {
        (0.15, 0.7)
    };
    // Resample first, so the limiter, the closed loop and the dither all work at the rate that
    // is delivered (conversion makes new inter-sample peaks).
    let mut timings = Timings::default();
    let mut convert = |audio, progress: &mut dyn FnMut(f64)| {
        to_rate(audio, rate, progress, cancel, &mut timings.resample_s)
    };
    // The first render's input; a later one gets the source again (borrowed, or reloaded).
    let layout = Layout::of(request.audio.audio());
    let (first, again) = match request.audio {
        MasterSource::Borrowed(audio) => (Cow::Borrowed(audio), Again::Lend(audio)),
        MasterSource::Owned { audio, reload } => (Cow::Owned(audio), Again::Reload(reload)),
    };
    let mut next_input = Some(convert(first, &mut *progress)?);
    let limiter_on = !request.settings.limiter.bypass;
    let mut settings = Cow::Borrowed(request.settings);
    let mut renders = 0;
    let mut codec_rounds = 0;
    let mut codec_results = None;
    let (rendered, prepared) = loop {
        let ceiling = settings.limiter.ceiling_dbtp;
        let mut margin = first_margin_db;
        let mut attempts = 0;
        let (rendered, prepared) = loop {
            renders += 1;
            attempts += 1;
            let input = match next_input.take() {
                Some(input) => input,
                None => convert(again.source(layout)?, &mut |_| {})?,
            };
            let started = Instant::now();
            let rendered = render::render(
                input,
                &settings,
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
            let mut prepared = export::prepare(output, request.format, request.dither);
            // A ceiling held on the strict meter is checked on it.
            let file_peak = match settings.limiter.true_peak {
                TruePeakMode::Standard => prepared.measured.true_peak_dbtp,
                TruePeakMode::Strict => {
                    prepared.strict_true_peak_dbtp = strict_true_peak_dbtp(
                        prepared.exact.channels(),
                        prepared.exact.sample_rate(),
                        join,
                    );
                    prepared.strict_true_peak_dbtp
                }
            };
            timings.quantise_and_measure_s += started.elapsed().as_secs_f64();
            let over = file_peak.map_or(0.0, |tp| tp - ceiling);
            if !limiter_on || over <= 0.0 || attempts == ATTEMPTS {
                break ((limiter, disabled_for_mono), prepared);
            }
            margin += over + RETRY_MARGIN_DB;
        };
        let Some(safe) = request.codec_safe.filter(|_| limiter_on) else {
            break (rendered, prepared);
        };
        // The samples to be delivered, through each codec: a ceiling the codecs push past the
        // peak is lowered to the lowest clip-safe one and the master rendered again.
        let started = Instant::now();
        let results = codec_check::codec_check(
            &prepared.exact,
            &safe.codecs,
            safe.decoded_peak_dbfs,
            join,
            cancel,
        )
        .map_err(|e| match e {
            codec_check::CodecCheckError::Cancelled => MasterError::Export(ExportError::Cancelled),
            other => MasterError::CodecCheck(other.to_string()),
        })?;
        timings.codec_check_s += started.elapsed().as_secs_f64();
        codec_rounds += 1;
        let clean = results.iter().all(|r| {
            r.decoded_sample_peak_dbfs
                .is_none_or(|peak| peak <= safe.decoded_peak_dbfs)
        });
        // The worst codec's excess over the peak, measured on this master: harder limiting can
        // give a codec more to overshoot, so the step is what the codecs did, not a prediction.
        let excess = results
            .iter()
            .filter_map(|r| r.decoded_sample_peak_dbfs)
            .fold(f64::NEG_INFINITY, f64::max)
            - safe.decoded_peak_dbfs;
        codec_results = Some(results);
        if clean || codec_rounds == CODEC_SAFE_ROUNDS || !excess.is_finite() {
            break (rendered, prepared);
        }
        settings.to_mut().limiter.ceiling_dbtp = ceiling - excess - CODEC_SAFE_STEP_DB;
    };
    progress(0.9);
    let gain_tags = tags
        .as_ref()
        .map(|tags| with_gain(tags, &prepared.measured, None));
    let (written, master_partial) = export::write_partial(
        prepared,
        &ExportRequest {
            path: request.output,
            format: request.format,
            dither: request.dither,
            force: request.force,
            source: request.source_path,
            tags: gain_tags.as_ref(),
        },
        cancel,
        join,
    )?;
    timings.encode_s = written.encode_s;
    timings.verify_s = written.verify_s;
    let mut report = report_for(&written, rendered, &settings, request.judged_lufs);
    if let (Some(safe), Some(results)) = (request.codec_safe, codec_results) {
        report.add_codec_safety(
            results,
            safe.decoded_peak_dbfs,
            request.settings.limiter.ceiling_dbtp,
        );
    }
    if let Some(decoded) = written.decoded.clone() {
        report.add_decoded(decoded);
    }
    if rate != asked_rate {
        report.notes.push(format!(
            "{} does not carry {asked_rate} Hz: the master was made at {rate} Hz.",
            request.format.describe()
        ));
    }
    if rate != source_rate {
        report.notes.push(format!(
            "Converted from {source_rate} Hz to {rate} Hz before the chain, so the limiter and the dither worked at the delivered rate."
        ));
    }
    if request.format.bits().is_some()
        && let Some(note) = request.dither.rate_note(rate)
    {
        report.notes.push(note);
    }
    if let Some(note) = tags.as_ref().and_then(|t| cover_note(t, request.format)) {
        report.notes.push(note);
    }
    if let Some(removed) = files::describe_removed(&removed_partials) {
        report.notes.push(format!("Crest {removed}."));
    }
    // The reports first, the master last: a master under its name always has its complete
    // reports beside it, and a failure anywhere leaves nothing new at the destination.
    let [json, text] = report
        .write_partials(request.output)
        .map_err(MasterError::Report)?;
    files::commit_all(vec![json, text, master_partial], request.force)
        .map_err(|e| MasterError::Export(e.into()))?;
    progress(1.0);
    Ok(Mastered {
        written,
        report,
        renders,
        timings,
        removed_partials,
    })
}

/// What became of the cover art `tags` name, in a file of `format` (written by then, so the
/// picture was read).
pub fn cover_note(tags: &Tags, format: Format) -> Option<String> {
    let picture = tags.picture().ok().flatten()?;
    Some(if format.extension() == "wav" {
        "WAV has no standard place for cover art: the cover is not in this file.".to_owned()
    } else {
        format!(
            "Cover art embedded as the front cover: {}.",
            picture.describe()
        )
    })
}

/// `tags` with the gain tags of a file measured as `measured` (and its album's loudness and
/// true peak, for an album's track).
pub fn with_gain(tags: &Tags, measured: &Loudness, album: Option<(f64, f64)>) -> Tags {
    let mut tags = tags.clone();
    tags.gain = measured
        .integrated_lufs
        .zip(measured.true_peak_dbtp)
        .map(|(lufs, peak)| GainTags::measured(lufs, peak, album));
    tags
}

/// Where a render after the first gets the source from.
enum Again<'a> {
    Lend(&'a AudioBuffer),
    Reload(&'a dyn Fn() -> Result<AudioBuffer, DecodeError>),
}

impl<'a> Again<'a> {
    /// The source again, checked against the first one's `layout`.
    fn source(&self, layout: Layout) -> Result<Cow<'a, AudioBuffer>, MasterError> {
        match self {
            Self::Lend(audio) => Ok(Cow::Borrowed(*audio)),
            Self::Reload(reload) => {
                let audio = reload()?;
                if Layout::of(&audio) != layout {
                    return Err(MasterError::SourceChanged);
                }
                Ok(Cow::Owned(audio))
            }
        }
    }
}

/// Rate, channels and length: what a reloaded source must share with the first.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Layout {
    sample_rate: u32,
    channels: usize,
    frames: usize,
}

impl Layout {
    fn of(audio: &AudioBuffer) -> Self {
        Self {
            sample_rate: audio.sample_rate(),
            channels: audio.channel_count(),
            frames: audio.frames(),
        }
    }
}

/// `audio` at `rate`: as it is, or converted (adding the time it took to `resample_s`).
fn to_rate<'s>(
    audio: Cow<'s, AudioBuffer>,
    rate: u32,
    progress: &mut dyn FnMut(f64),
    cancel: &std::sync::atomic::AtomicBool,
    resample_s: &mut f64,
) -> Result<Cow<'s, AudioBuffer>, MasterError> {
    if rate == audio.sample_rate() {
        return Ok(audio);
    }
    let started = Instant::now();
    let converted = resample::resample(
        &audio,
        rate,
        RenderControl {
            progress: &mut |f| progress(0.15 * f),
            cancel,
        },
    )?;
    *resample_s += started.elapsed().as_secs_f64();
    Ok(Cow::Owned(converted))
}

/// What render reported besides the audio: the limiter's report and the settings mono lacks.
type RenderNotes = (Option<LimiterReport>, Vec<&'static str>);

fn report_for(
    written: &Written,
    (limiter, disabled_for_mono): RenderNotes,
    settings: &ChainSettings,
    judged_lufs: Option<f64>,
) -> QcReport {
    let mut report = qc::evaluate(
        FileFacts {
            file: &written.path,
            format: &written.format.describe(),
            sample_rate: written.sample_rate,
            channels: written.channels,
            duration_s: written.frames as f64 / f64::from(written.sample_rate),
            measured: &written.measured,
            strict_true_peak_dbtp: written.strict_true_peak_dbtp,
        },
        Requirements {
            target_lufs: limiter.as_ref().and_then(|l| l.target_lufs),
            ceiling_dbtp: Some(settings.limiter.ceiling_dbtp),
            judged_lufs,
            true_peak: settings.limiter.true_peak,
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
    if settings.dynamics.is_inactive() {
        report.notes.push(
            "The compressor is on but set to change nothing (every ratio 1:1, no makeup): it \
             was left out of the signal path."
                .into(),
        );
    }
    for feature in &disabled_for_mono {
        report
            .notes
            .push(format!("Mono source: the {feature} had nothing to act on."));
    }
    report.limiter = limiter;
    report
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::emulation::noise::White;

    /// One second of loud stereo noise at `rate`.
    fn loud_noise(rate: u32) -> AudioBuffer {
        let mut white = White::new(17);
        let channels = (0..2)
            .map(|_| {
                (0..rate as usize)
                    .map(|_| (white.sample() * 0.7).clamp(-1.0, 1.0) as f32)
                    .collect()
            })
            .collect();
        AudioBuffer::new(rate, channels).expect("audio")
    }

    use crate::test_scratch::scratch;

    /// A 24-bit master whose first render aims 0.5 dB over the stated ceiling, so the closed
    /// loop must render again.
    fn over_first(
        audio: MasterSource<'_>,
        settings: &ChainSettings,
        sample_rate: Option<u32>,
        output: &Path,
    ) -> Result<Mastered, MasterError> {
        master_with_margin(
            MasterRequest {
                audio,
                source_path: None,
                settings,
                format: Format::Wav24,
                dither: Dither::Tpdf,
                sample_rate,
                output,
                force: false,
                judged_lufs: None,
                tags: None,
                codec_safe: None,
            },
            RenderControl {
                progress: &mut |_| {},
                cancel: &AtomicBool::new(false),
            },
            -0.5,
            &Sequential,
        )
    }

    /// The closed loop's second render, forced by a first working ceiling 0.5 dB over the
    /// stated one: owned audio is reloaded for it exactly once (and converted again when the
    /// delivery rate differs), and the master is the same file a borrowed source gives.
    #[test]
    fn the_closed_loop_renders_again_from_reloaded_audio_when_the_first_render_is_over() {
        let mut settings = ChainSettings::default();
        settings.limiter.gain_db = 6.0;
        settings.limiter.ceiling_dbtp = -1.0;
        let dir = scratch("closed-loop");
        for delivery_rate in [None, Some(48_000)] {
            let source = loud_noise(44_100);
            let make = |audio: MasterSource<'_>, name: &str| {
                let output = dir.join(format!("{name}-{delivery_rate:?}.wav"));
                let made = over_first(audio, &settings, delivery_rate, &output).expect("mastered");
                (made, std::fs::read(&output).expect("written"))
            };
            let reloads = Cell::new(0);
            let reload = || {
                reloads.set(reloads.get() + 1);
                Ok(loud_noise(44_100))
            };
            let (owned, owned_file) = make(
                MasterSource::Owned {
                    audio: source.clone(),
                    reload: &reload,
                },
                "owned",
            );
            let (borrowed, borrowed_file) = make(MasterSource::Borrowed(&source), "borrowed");
            assert_eq!(owned.renders, 2, "{delivery_rate:?}");
            assert_eq!(reloads.get(), 1, "{delivery_rate:?}");
            assert_eq!(borrowed.renders, 2, "{delivery_rate:?}");
            let peak = owned.report.true_peak_dbtp.expect("a peak");
            assert!(
                (-1.02..=-1.0).contains(&peak),
                "{delivery_rate:?}: {peak:.3} dBTP"
            );
            assert!(owned.report.passed);
            assert_eq!(owned.written.sample_rate, delivery_rate.unwrap_or(44_100));
            assert!(owned_file == borrowed_file, "{delivery_rate:?}");
        }
    }

    /// A source that reads back different for the second render (the file changed on disk)
    /// stops the master with a clear error, and nothing is written.
    #[test]
    fn a_source_that_changed_before_the_second_render_stops_the_master() {
        let mut settings = ChainSettings::default();
        settings.limiter.gain_db = 6.0;
        let dir = scratch("changed");
        let output = dir.join("master.wav");
        let reload = || {
            let mut shorter = loud_noise(44_100).into_channels();
            shorter.iter_mut().for_each(|c| c.truncate(40_000));
            Ok(AudioBuffer::new(44_100, shorter).expect("audio"))
        };
        let result = over_first(
            MasterSource::Owned {
                audio: loud_noise(44_100),
                reload: &reload,
            },
            &settings,
            None,
            &output,
        );
        assert!(
            matches!(result, Err(MasterError::SourceChanged)),
            "{result:?}"
        );
        assert!(!output.exists());
        assert_eq!(
            std::fs::read_dir(&dir).expect("dir").count(),
            0,
            "no stray files"
        );
    }
}
