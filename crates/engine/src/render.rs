//! Offline render: the chain over a whole track, the limiter's latency compensated (output
//! aligned with input), the loudness-target solver, and the output stage (trims, fades).
//!
//! The solver works on the chain's output before the limiter, rendered once: each trial runs
//! only the limiter at a new input gain and measures the integrated loudness. The limiter's
//! peak reduction at a gain is the highest true peak's overshoot (`gain + peak − ceiling`), so
//! the first trial that limits tells the highest gain the reduction cap allows — and the true
//! peak arriving at the limiter, without a separate true-peak pass.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::audio::AudioBuffer;
use crate::chain::{
    Chain, ChainError, ChainSettings, FadeCurve, Limiter, LimiterSettings, LimiterStats,
    OutputSettings, ahead,
};
use crate::decode::DecodeControl;
use crate::loudness::{self, IntegratedMeter};
use crate::platform::Targets;

mod measured;
mod reduction;

pub use measured::{MeasuredMaster, RenderScratch, SolverStart, render_measured};
use reduction::ReductionTrace;
pub use reduction::{GainReductionHistory, REDUCTION_STEP_S};

/// Progress (0–1) and cancellation for long work: the same shape as decoding's.
pub type RenderControl<'a> = DecodeControl<'a>;

/// Frames per block of the offline render.
const BLOCK: usize = 4_096;
/// Peak reduction above which the report says plainly that the loudness is bought with
/// dynamics a platform will take back.
pub const HEAVY_LIMITING_DB: f64 = 4.0;
/// The platform whose normalisation the heavy-limiting note quotes.
const STREAMING_REFERENCE: &str = "spotify";
/// How close to the target the solver stops (well inside the ±0.1 LU promise).
const SOLVER_TOLERANCE_LU: f64 = 0.02;
const SOLVER_TRIALS: usize = 8;
/// The largest programme whose solver trials keep their output for the render to reuse (a
/// second buffer as large as the programme): 256 MB, 12.7 minutes of stereo at 44.1 kHz.
/// Longer programmes render the chosen gain again instead, in place.
const TRIAL_BUFFER_MAX_BYTES: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("render cancelled")]
    Cancelled,
    #[error(
        "the audio is silent (below the −70 LUFS gate): there is no loudness to bring to a target"
    )]
    Silent,
    /// Shorter than one gating block: BS.1770 gives such audio no integrated loudness.
    #[error(
        "the audio is {length_s:.2} s long: integrated loudness needs at least 0.4 s (one \
         gating block), so there is no loudness to bring to a target"
    )]
    TooShort { length_s: f64 },
    #[error(
        "the output trims ({start_s:.2} s + {end_s:.2} s) remove the whole {length_s:.2} s track"
    )]
    TrimmedAway {
        start_s: f64,
        end_s: f64,
        length_s: f64,
    },
}

/// What the limiter (and the loudness solver in front of it) did.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct LimiterReport {
    pub ceiling_dbtp: f64,
    pub target_lufs: Option<f64>,
    /// Gain into the limiter: as set, or as solved for the target.
    pub gain_db: f64,
    pub peak_reduction_db: f64,
    pub mean_reduction_db: f64,
    /// The signal arriving at the limiter (before its gain): loudness, true peak, PLR. The
    /// true peak is the limiter's own reading where it limited; where it did not, the output's
    /// true peak less the gain is the same thing, and `master` fills it in from the file.
    pub integrated_before_lufs: Option<f64>,
    pub true_peak_before_dbtp: Option<f64>,
    pub plr_before_db: Option<f64>,
    /// The rendered output's integrated loudness (before dither): measured by the solver, or
    /// for the heavy-limiting note; otherwise None, and `master` states the file's own.
    pub integrated_after_lufs: Option<f64>,
    /// With a target: whether it was reached within ±0.1 LU, and if not, how far short.
    pub target_reached: Option<bool>,
    pub shortfall_lu: Option<f64>,
    /// Plain sentences for the engineer: heavy limiting, an unreachable target.
    pub notes: Vec<String>,
}

/// A rendered track and what it took.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub audio: AudioBuffer,
    /// None when the limiter is bypassed.
    pub limiter: Option<LimiterReport>,
    /// Settings the audio cannot use (stereo tools on mono).
    pub disabled_for_mono: Vec<&'static str>,
}

fn check(cancel: &AtomicBool) -> Result<(), RenderError> {
    if cancel.load(Ordering::Relaxed) {
        Err(RenderError::Cancelled)
    } else {
        Ok(())
    }
}

/// [`render`] to the end, with no progress to report and no way to cancel: previews, tests
/// (the desk's re-render is [`render_measured`]).
pub fn render_whole(
    audio: &AudioBuffer,
    settings: &ChainSettings,
) -> Result<Rendered, RenderError> {
    let never = AtomicBool::new(false);
    render(
        Cow::Borrowed(audio),
        settings,
        0.0,
        RenderControl {
            progress: &mut |_| {},
            cancel: &never,
        },
    )
}

/// Renders `audio` through the chain built from `settings`. `margin_db` lowers the limiter's
/// working ceiling further below the stated one than its own working margin (the closed loop
/// of export uses it when a finished file measured over; a test of that loop raises it with a
/// negative margin); the report states the stated ceiling. Audio handed over owned is
/// rendered in place; borrowed audio is copied first.
pub fn render(
    audio: Cow<'_, AudioBuffer>,
    settings: &ChainSettings,
    margin_db: f64,
    control: RenderControl<'_>,
) -> Result<Rendered, RenderError> {
    render_with_trial_budget(audio, settings, margin_db, control, TRIAL_BUFFER_MAX_BYTES)
}

/// [`render`], with the largest programme (in decoded bytes) whose loudness-solver trials keep
/// their output for the render to reuse: up to it the master takes twice the programme's
/// memory and one limiter pass less; beyond it, the programme's memory alone.
pub fn render_with_trial_budget(
    audio: Cow<'_, AudioBuffer>,
    settings: &ChainSettings,
    margin_db: f64,
    control: RenderControl<'_>,
    trial_buffer_max_bytes: u64,
) -> Result<Rendered, RenderError> {
    let (audio, report) = render_to(
        audio,
        settings,
        margin_db,
        control,
        Destination::Own {
            trial_buffer_max_bytes,
        },
    )?;
    Ok(Rendered {
        audio: audio.expect("a render to a buffer of its own returns it"),
        limiter: report.limiter,
        disabled_for_mono: report.disabled_for_mono,
    })
}

/// What a render into the caller's planes reports; the audio is in the planes.
#[derive(Debug, Clone)]
pub struct RenderReport {
    /// None when the limiter is bypassed.
    pub limiter: Option<LimiterReport>,
    /// Settings the audio cannot use (stereo tools on mono).
    pub disabled_for_mono: Vec<&'static str>,
}

/// [`render`] into `out`, planes the caller holds (an album's stretch of its sequence), each
/// exactly [`rendered_frames`] long: the loudness solver's trials write the output stage's
/// frames there as they run, so the last trial, usually the chosen one, is the master already,
/// with no second buffer and no second limiter pass.
///
/// # Panics
/// When `out` does not have the audio's channels, each [`rendered_frames`] long.
pub fn render_into(
    audio: AudioBuffer,
    settings: &ChainSettings,
    margin_db: f64,
    control: RenderControl<'_>,
    out: &mut [&mut [f32]],
) -> Result<RenderReport, RenderError> {
    let frames = rendered_frames(audio.frames(), audio.sample_rate(), &settings.output);
    assert!(
        out.len() == audio.channel_count() && out.iter().all(|c| c.len() == frames),
        "render_into needs {} planes of {frames} frames",
        audio.channel_count()
    );
    let (_, report) = render_to(
        Cow::Owned(audio),
        settings,
        margin_db,
        control,
        Destination::Into(out),
    )?;
    Ok(report)
}

/// Where a render's master goes.
enum Destination<'o, 'p> {
    /// A buffer of its own, returned; the solver's trials keep their output for the render
    /// to reuse up to a programme of this many decoded bytes.
    Own { trial_buffer_max_bytes: u64 },
    /// The caller's planes, each the rendered length.
    Into(&'o mut [&'p mut [f32]]),
}

impl Destination<'_, '_> {
    /// Takes the master's channels after the output stage: back when the render has a buffer
    /// of its own, else copied into the caller's planes.
    fn deliver(&mut self, channels: Vec<Vec<f32>>) -> Option<Vec<Vec<f32>>> {
        match self {
            Self::Own { .. } => Some(channels),
            Self::Into(out) => {
                for (o, c) in out.iter_mut().zip(&channels) {
                    o.copy_from_slice(c);
                }
                None
            }
        }
    }
}

/// The render behind [`render_with_trial_budget`] and [`render_into`]: the master's audio
/// when it went to a buffer of its own.
fn render_to(
    audio: Cow<'_, AudioBuffer>,
    settings: &ChainSettings,
    margin_db: f64,
    control: RenderControl<'_>,
    destination: Destination<'_, '_>,
) -> Result<(Option<AudioBuffer>, RenderReport), RenderError> {
    let RenderControl { progress, cancel } = control;
    let rate = audio.sample_rate();
    let mut pre_settings = settings.clone();
    pre_settings.limiter.bypass = true;
    let mut chain = Chain::new(&pre_settings, rate, BLOCK, audio.channel_count())?;
    let disabled_for_mono = chain.disabled_for_mono();
    check_trims(&settings.output, &audio)?;
    let roles = audio.roles().to_vec();
    let frames = audio.frames();
    let rebuild = |channels| {
        AudioBuffer::with_roles(rate, roles.clone(), channels)
            .expect("same layout and rate as the input")
    };
    let mut destination = destination;
    // The master after the output stage, where it goes.
    let deliver = |destination: &mut Destination<'_, '_>, channels: Vec<Vec<f32>>| {
        destination.deliver(channels).map(rebuild)
    };

    // Input → EQ → dynamics → stereo, in place; read ahead of a linear-phase crossover's
    // delay, so each output frame lands where its input was.
    let mut pre: Vec<Vec<f32>> = audio.into_owned().into_channels();
    let latency = chain.latency_frames();
    ahead::prime(&mut chain, &pre);
    let mut block: Vec<Vec<f32>> = pre.iter().map(|_| Vec::with_capacity(BLOCK)).collect();
    let mut start = 0;
    while start < frames {
        check(cancel)?;
        let end = (start + BLOCK).min(frames);
        if latency == 0 {
            process_planar(&mut pre, start, end, |planes| chain.process(planes));
        } else {
            // Frames ahead of `start + latency` are read before this block's output
            // overwrites any of them, and never again.
            for (b, c) in block.iter_mut().zip(&pre) {
                b.clear();
                ahead::append(c, start, end, latency, b);
            }
            process_planar(&mut block, 0, end - start, |planes| chain.process(planes));
            for (c, b) in pre.iter_mut().zip(&block) {
                c[start..end].copy_from_slice(b);
            }
        }
        start = end;
        progress(0.4 * start as f64 / frames.max(1) as f64);
    }

    if settings.limiter.bypass {
        let audio = deliver(&mut destination, apply_output(pre, &settings.output, rate));
        progress(1.0);
        return Ok((
            audio,
            RenderReport {
                limiter: None,
                disabled_for_mono,
            },
        ));
    }

    let l = &settings.limiter;
    let pre_buffer = rebuild(pre);
    // The loudness arriving at the limiter (its true peak comes from the limiter itself).
    let integrated_before = loudness::integrated_lufs(&pre_buffer);
    let pre = pre_buffer.into_channels();
    check(cancel)?;
    progress(0.5);
    let working_ceiling = crate::chain::limiter::working_ceiling_dbtp(l.ceiling_dbtp) - margin_db;

    // Each trial writes the limiter's output and measures it through the output stage as it
    // goes; the last trial is usually the one chosen, and then its output is the render.
    // Into the caller's planes, it is written after the output stage. To a buffer of its own,
    // it is kept before the stage in one reusable buffer, for a programme up to the trial
    // budget; a longer one's trials are only measured (a second whole buffer would double the
    // memory a master takes), and the chosen gain is rendered once more, in place.
    let mut kept: Option<Vec<Vec<f32>>> = None;
    let mut trial_write = match &mut destination {
        Destination::Own {
            trial_buffer_max_bytes,
        } => {
            if crate::limits::decoded_bytes(frames as u64, pre.len()) <= *trial_buffer_max_bytes {
                TrialWrite::Kept(&mut kept)
            } else {
                TrialWrite::Nowhere
            }
        }
        Destination::Into(out) => TrialWrite::Shaped(out),
    };
    let mut last_trial: Option<(f64, LimiterStats)> = None;
    let solved = solve_gain(
        l,
        // As measured: after the output trims.
        rendered_frames(frames, rate, &settings.output) as f64 / f64::from(rate),
        integrated_before,
        None,
        &mut |gain_db| {
            let (lufs, stats) = trial_loudness(
                &pre,
                &mut trial_write,
                &roles,
                l,
                &settings.output,
                rate,
                gain_db,
                working_ceiling,
                cancel,
            )?;
            let reduction = stats.peak_reduction_db;
            last_trial = Some((gain_db, stats));
            Ok((lufs, reduction))
        },
        &mut |f| progress(0.5 + 0.4 * f),
    )?;
    // The trials' writes are over (the borrow of the destination ends here).
    let trial_written = !matches!(trial_write, TrialWrite::Nowhere);
    check(cancel)?;
    let chosen_stats = last_trial
        .filter(|(gain, _)| solved.searched && trial_written && *gain == solved.gain_db)
        .map(|(_, stats)| stats);
    let (audio, stats) = match (chosen_stats, kept) {
        // The chosen trial's output, before the output stage, in the kept buffer.
        (Some(stats), Some(out)) => {
            let out = apply_output(out, &settings.output, rate);
            (deliver(&mut destination, out), stats)
        }
        // The chosen trial's output is in the caller's planes already.
        (Some(stats), None) => (None, stats),
        _ => {
            let (out, stats) = limit(pre, l, rate, solved.gain_db, working_ceiling, cancel)?;
            let out = apply_output(out, &settings.output, rate);
            (deliver(&mut destination, out), stats)
        }
    };
    let report = limiter_report(
        l,
        solved,
        &stats,
        working_ceiling,
        integrated_before,
        || match (&audio, &destination) {
            (Some(audio), _) => loudness::integrated_lufs(audio),
            (None, Destination::Into(out)) => loudness::integrated_lufs_of(out, &roles, rate),
            (None, Destination::Own { .. }) => None,
        },
    );
    progress(1.0);
    Ok((
        audio,
        RenderReport {
            limiter: Some(report),
            disabled_for_mono,
        },
    ))
}

/// The limiter's gain as set, or as solved for the loudness target, and what came of it.
#[derive(Debug)]
struct SolvedGain {
    gain_db: f64,
    /// Whether trials searched for it (there is a target).
    searched: bool,
    /// The output's loudness per dB of limiter gain near the solution (see [`solve`]).
    lu_per_db: Option<f64>,
    /// The output's integrated loudness at the gain, as the solver measured it.
    integrated_after: Option<f64>,
    target_reached: Option<bool>,
    shortfall_lu: Option<f64>,
    notes: Vec<String>,
}

/// The limiter's gain for `settings`: as set without a target, else solved through `trial`
/// (the output's loudness and the peak reduction at a gain; progress 0–1 after each), from
/// `lu_per_db` where a nearby solve measured the loudness' slope.
fn solve_gain(
    settings: &LimiterSettings,
    length_s: f64,
    integrated_before: Option<f64>,
    lu_per_db: Option<f64>,
    trial: &mut dyn FnMut(f64) -> Result<(Option<f64>, f64), RenderError>,
    progress: &mut dyn FnMut(f64),
) -> Result<SolvedGain, RenderError> {
    let Some(target) = settings.target_lufs else {
        return Ok(SolvedGain {
            gain_db: settings.gain_db,
            searched: false,
            lu_per_db: None,
            integrated_after: None,
            target_reached: None,
            shortfall_lu: None,
            notes: Vec::new(),
        });
    };
    if length_s < loudness::GATING_BLOCK_S {
        return Err(RenderError::TooShort { length_s });
    }
    let lufs_before = integrated_before.ok_or(RenderError::Silent)?;
    let Solution {
        gain_db: gain,
        lufs,
        lu_per_db,
    } = solve(
        target,
        lufs_before,
        settings.max_reduction_db,
        lu_per_db,
        trial,
        progress,
    )?;
    let reached = (lufs - target).abs() <= 0.1;
    let shortfall = (!reached).then_some(target - lufs);
    let mut notes = Vec::new();
    if let Some(short) = shortfall.filter(|s| *s > 0.0) {
        notes.push(format!(
            "The target of {target:.1} LUFS needs more than the {:.0} dB of limiting \
             allowed: the master stops at {:.1} LUFS, {short:.1} LU short. Raise the \
             cap only if the extra loudness is worth the dynamics.",
            settings.max_reduction_db, lufs
        ));
    }
    Ok(SolvedGain {
        gain_db: gain,
        searched: true,
        lu_per_db,
        integrated_after: Some(lufs),
        target_reached: Some(reached),
        shortfall_lu: shortfall,
        notes,
    })
}

/// What the limiter did, from the solved gain and the final pass's statistics;
/// `integrated_after` measures the output when the heavy-limiting note needs its loudness and
/// the solver did not measure it.
fn limiter_report(
    settings: &LimiterSettings,
    solved: SolvedGain,
    stats: &LimiterStats,
    working_ceiling: f64,
    integrated_before: Option<f64>,
    integrated_after: impl FnOnce() -> Option<f64>,
) -> LimiterReport {
    let SolvedGain {
        gain_db,
        integrated_after: solved_after,
        target_reached,
        shortfall_lu,
        mut notes,
        ..
    } = solved;
    // Where the limiter worked, its reduction is the highest peak's overshoot at the gain.
    let true_peak_before = (stats.peak_reduction_db > 0.0)
        .then_some(stats.peak_reduction_db + working_ceiling - gain_db);
    let integrated_after = if stats.peak_reduction_db > HEAVY_LIMITING_DB {
        let integrated = solved_after.or_else(integrated_after);
        notes.push(heavy_limiting_note(stats.peak_reduction_db, integrated));
        integrated
    } else {
        solved_after
    };
    LimiterReport {
        ceiling_dbtp: settings.ceiling_dbtp,
        target_lufs: settings.target_lufs,
        gain_db,
        peak_reduction_db: stats.peak_reduction_db,
        mean_reduction_db: stats.mean_reduction_db,
        integrated_before_lufs: integrated_before,
        true_peak_before_dbtp: true_peak_before,
        plr_before_db: true_peak_before
            .zip(integrated_before)
            .map(|(peak, lufs)| peak - lufs),
        integrated_after_lufs: integrated_after,
        target_reached,
        shortfall_lu,
        notes,
    }
}

/// "Over-limiting buys nothing": what the reference streaming normalisation (Spotify's normal
/// mode, from the built-in platform table) takes back.
fn heavy_limiting_note(peak_reduction_db: f64, integrated: Option<f64>) -> String {
    let mut note = format!(
        "The limiter takes up to {peak_reduction_db:.1} dB off the peaks: that is heavy \
         limiting, audible as lost punch."
    );
    let reference = Targets::built_in()
        .ok()
        .and_then(|targets| targets.get(STREAMING_REFERENCE).cloned());
    if let Some(target) = reference {
        let normalization = target.preview(integrated, None);
        if normalization.loudness_penalty_db > 0.05 {
            note.push_str(&format!(
                " {}, so the extra loudness buys nothing and costs dynamics.",
                normalization.sentence(&target)
            ));
        }
    }
    note
}

/// The solver's answer: the gain, the loudness it gives, and the slope it ended on.
#[derive(Debug, Clone, Copy)]
struct Solution {
    gain_db: f64,
    lufs: f64,
    /// LU of output loudness per dB of gain between the last two trials (or as given, where
    /// one trial met the target): under a limiter below 1, as each dB more is partly taken
    /// off the peaks.
    lu_per_db: Option<f64>,
}

/// The slope the solver trusts: a limiter gives back at most the gain it receives and,
/// below a tenth, a measured slope is noise between two nearly equal trials.
const SOLVER_SLOPE_RANGE: (f64, f64) = (0.1, 1.0);

/// Finds the limiter gain whose output reaches `target` (secant steps on a bracket) without
/// taking more than `max_reduction_db` off the peaks: the gain and the loudness it gives.
/// Loudness rises monotonically with the gain, more slowly once the limiter works. `trial`
/// gives the loudness and the peak reduction at a gain; since the reduction is the highest
/// peak's overshoot, any trial that limits tells the largest gain the cap allows.
///
/// Until the target is bracketed, each step divides the error by the slope: the one between
/// the last two trials, else `lu_per_db` (a nearby solve's, such as the last render's before
/// an edit), else 1. A re-render whose first trial lands half a dB off then meets the target
/// on its second where a step of the error alone would fall short by the limiter's share.
fn solve(
    target: f64,
    lufs_before: f64,
    max_reduction_db: f64,
    lu_per_db: Option<f64>,
    trial: &mut dyn FnMut(f64) -> Result<(Option<f64>, f64), RenderError>,
    progress: &mut dyn FnMut(f64),
) -> Result<Solution, RenderError> {
    let (min_slope, max_slope) = SOLVER_SLOPE_RANGE;
    let mut slope = lu_per_db.map(|s| s.clamp(min_slope, max_slope));
    let mut max_gain = f64::INFINITY;
    let mut gain = target - lufs_before;
    let mut low: Option<(f64, f64)> = None; // (gain, lufs) below the target
    let mut high: Option<(f64, f64)> = None; // above it
    let mut previous: Option<(f64, f64)> = None; // the last candidate trial
    let mut best: Option<(f64, f64)> = None;
    for n in 0..SOLVER_TRIALS {
        let (lufs, reduction) = trial(gain)?;
        let lufs = lufs.ok_or(RenderError::Silent)?;
        progress((n + 1) as f64 / SOLVER_TRIALS as f64);
        if reduction > 0.0 {
            max_gain = max_gain.min(gain + max_reduction_db - reduction);
        }
        if gain > max_gain + 1e-6 {
            // Past the cap: not a candidate. Try the cap itself.
            gain = max_gain;
            continue;
        }
        if let Some((g0, l0)) = previous.filter(|(g0, _)| (gain - g0).abs() > 1e-9) {
            slope = Some(((lufs - l0) / (gain - g0)).clamp(min_slope, max_slope));
        }
        previous = Some((gain, lufs));
        let error = lufs - target;
        if best.is_none_or(|(_, b)| (b - target).abs() > error.abs()) {
            best = Some((gain, lufs));
        }
        if error.abs() <= SOLVER_TOLERANCE_LU {
            break;
        }
        if error < 0.0 {
            low = Some((gain, lufs));
            if gain >= max_gain - 1e-6 {
                break; // At the reduction cap and still short: the report says so.
            }
        } else {
            high = Some((gain, lufs));
        }
        gain = match (low, high) {
            (Some((g0, l0)), Some((g1, l1))) => {
                let secant = g0 + (target - l0) * (g1 - g0) / (l1 - l0);
                // Stay strictly inside the bracket; bisect when the secant would not.
                let (lo, hi) = (g0.min(g1), g0.max(g1));
                if secant > lo && secant < hi {
                    secant
                } else {
                    0.5 * (lo + hi)
                }
            }
            // One side only: step by the error over the slope.
            _ => gain - error / slope.unwrap_or(1.0),
        }
        .min(max_gain);
    }
    let (gain_db, lufs) = best.ok_or(RenderError::Silent)?;
    Ok(Solution {
        gain_db,
        lufs,
        lu_per_db: slope,
    })
}

/// Where the limiter's output goes, block by block.
trait LimiterIo {
    /// Fills `block` (planar, `end − start` frames) with input frames `start..end`.
    fn read(&mut self, start: usize, end: usize, block: &mut [Vec<f32>]);
    /// Takes output frames `to..to + count` from the start of `block`.
    fn write(&mut self, to: usize, count: usize, block: &[Vec<f32>]);
}

/// Runs the limiter over `frames` frames of `io`, latency compensated: output frame `k` is
/// the one for input frame `k`. The latency's worth of silence after the programme flushes
/// the last frames out.
fn drive_limiter(
    limiter: &mut Limiter,
    channels: usize,
    frames: usize,
    io: &mut impl LimiterIo,
    cancel: &AtomicBool,
) -> Result<(), RenderError> {
    let mut run = LimiterRun::new(limiter, channels, frames);
    loop {
        check(cancel)?;
        if !run.step(io) {
            return Ok(());
        }
    }
}

/// [`drive_limiter`] a block at a time, so a pass can stop after any block and go on later.
struct LimiterRun<'l> {
    limiter: &'l mut Limiter,
    frames: usize,
    latency: usize,
    /// The next input frame to read.
    start: usize,
    scratch: Vec<Vec<f32>>,
    /// The reduction per step of the master, when it is recorded (its origin includes the
    /// latency: the gain the limiter applies at input frame `f` is output frame `f − latency`'s).
    reduction: Option<ReductionTrace>,
}

impl<'l> LimiterRun<'l> {
    fn new(limiter: &'l mut Limiter, channels: usize, frames: usize) -> Self {
        Self {
            latency: limiter.latency_frames(),
            limiter,
            frames,
            start: 0,
            scratch: vec![vec![0.0f32; BLOCK]; channels],
            reduction: None,
        }
    }

    /// Records the reduction per step of a master that starts `head` frames into the
    /// programme and lasts `master_frames`.
    fn recording_reduction(mut self, rate: u32, head: usize, master_frames: usize) -> Self {
        self.reduction = Some(ReductionTrace::new(
            rate,
            self.latency + head,
            master_frames,
        ));
        self
    }

    /// Reads, limits and writes the next block; false once the programme and its flush are
    /// through.
    fn step(&mut self, io: &mut impl LimiterIo) -> bool {
        let (frames, latency, start) = (self.frames, self.latency, self.start);
        if start >= frames + latency {
            return false;
        }
        let end = (start + BLOCK).min(frames + latency);
        let len = end - start;
        // Past the programme's end the block is (partly) silence.
        let (from, to) = (start.min(frames), end.min(frames));
        io.read(from, to, &mut self.scratch);
        for block in &mut self.scratch {
            block[to - from..len].fill(0.0);
        }
        let (limiter, scratch) = (&mut *self.limiter, &mut self.scratch);
        match &mut self.reduction {
            Some(trace) => trace.run(start, end, |piece| {
                process_planar(scratch, piece.start, piece.end, |planes| {
                    limiter.process(planes);
                });
                limiter.take_meter_db()
            }),
            None => process_planar(scratch, 0, len, |planes| limiter.process(planes)),
        }
        // Output frame `start + k` belongs at input frame `start + k − latency`.
        let skip = latency.saturating_sub(start).min(len);
        if skip < len {
            for block in &mut self.scratch {
                block.copy_within(skip..len, 0);
            }
            let to = start + skip - latency;
            io.write(to, (len - skip).min(frames - to), &self.scratch);
        }
        self.start = end;
        true
    }
}

/// The limiter in place over whole channels: each block lands `latency` frames earlier than it
/// was read, where the input has already been consumed.
struct InPlace<'a>(&'a mut [Vec<f32>]);

impl LimiterIo for InPlace<'_> {
    fn read(&mut self, start: usize, end: usize, block: &mut [Vec<f32>]) {
        Self::read_from(self.0, start, end, block);
    }

    fn write(&mut self, to: usize, count: usize, block: &[Vec<f32>]) {
        for (b, c) in block.iter().zip(self.0.iter_mut()) {
            c[to..to + count].copy_from_slice(&b[..count]);
        }
    }
}

/// Where a solver trial writes the limiter's output.
enum TrialWrite<'t, 'p> {
    /// Nowhere: the trial is only measured.
    Nowhere,
    /// Whole, before the output stage, into a buffer made at the first trial and reused.
    Kept(&'t mut Option<Vec<Vec<f32>>>),
    /// After the output stage, into the caller's planes.
    Shaped(&'t mut [&'p mut [f32]]),
}

/// The limiter's output into a trial's destination, and into a loudness meter block by block
/// (through the output stage when it does something) when that is needed: the output stage
/// shapes it, or there is no whole output to measure. (With a neutral output stage and a whole
/// output, the output is measured once it is written, which runs faster.)
struct Measured<'a, 'p> {
    input: &'a [Vec<f32>],
    output: Output<'a, 'p>,
    shape: Option<OutputShape>,
    meter: Option<IntegratedMeter>,
    shaped: Vec<Vec<f32>>,
}

/// A trial's destination while it runs.
enum Output<'a, 'p> {
    Nowhere,
    /// Before the output stage, at the input's frames.
    Whole(&'a mut [Vec<f32>]),
    /// After the output stage, the next frame at `at`.
    Shaped {
        planes: &'a mut [&'p mut [f32]],
        at: usize,
    },
}

impl LimiterIo for Measured<'_, '_> {
    fn read(&mut self, start: usize, end: usize, block: &mut [Vec<f32>]) {
        InPlace::read_from(self.input, start, end, block);
    }

    fn write(&mut self, to: usize, count: usize, block: &[Vec<f32>]) {
        let Self {
            output,
            shape,
            meter,
            shaped,
            ..
        } = self;
        if let Output::Whole(output) = output {
            for (b, c) in block.iter().zip(output.iter_mut()) {
                c[to..to + count].copy_from_slice(&b[..count]);
            }
        }
        if meter.is_none() && !matches!(output, Output::Shaped { .. }) {
            return;
        }
        let planes = shaped_planes(shape.as_ref(), shaped, to, count, block);
        if let Output::Shaped { planes: out, at } = output {
            let written = planes.first().map_or(0, |p| p.len());
            for (o, p) in out.iter_mut().zip(&planes) {
                o[*at..*at + written].copy_from_slice(p);
            }
            *at += written;
        }
        if let Some(meter) = meter {
            meter.push(&planes);
        }
    }
}

/// Output frames `to..to + count` (the first `count` of each block) after the output stage:
/// the block itself when the stage is neutral, else its trimmed and faded frames in `shaped`.
fn shaped_planes<'b>(
    shape: Option<&OutputShape>,
    shaped: &'b mut [Vec<f32>],
    to: usize,
    count: usize,
    block: &'b [Vec<f32>],
) -> Vec<&'b [f32]> {
    match shape {
        Some(shape) => {
            for (shaped, b) in shaped.iter_mut().zip(block) {
                shaped.clear();
                shape.extend_shaped(shaped, to, &b[..count]);
            }
            shaped.iter().map(Vec::as_slice).collect()
        }
        None => block.iter().map(|b| &b[..count]).collect(),
    }
}

impl InPlace<'_> {
    fn read_from(input: &[Vec<f32>], start: usize, end: usize, block: &mut [Vec<f32>]) {
        for (b, c) in block.iter_mut().zip(input) {
            b[..end - start].copy_from_slice(&c[start..end]);
        }
    }
}

/// One solver trial: the limiter's output at `gain_db` into `write`'s destination; the
/// integrated loudness it has after the output stage, and the limiter's statistics.
#[allow(clippy::too_many_arguments)]
fn trial_loudness(
    input: &[Vec<f32>],
    write: &mut TrialWrite<'_, '_>,
    roles: &[crate::audio::ChannelRole],
    settings: &LimiterSettings,
    stage: &OutputSettings,
    rate: u32,
    gain_db: f64,
    ceiling_dbtp: f64,
    cancel: &AtomicBool,
) -> Result<(Option<f64>, LimiterStats), RenderError> {
    let mut limiter = Limiter::new(settings, rate, input.len());
    limiter.set_now(gain_db, ceiling_dbtp);
    let frames = input.first().map_or(0, Vec::len);
    let shape = OutputShape::new(stage, rate, frames);
    let output = match write {
        TrialWrite::Nowhere => Output::Nowhere,
        TrialWrite::Kept(kept) => {
            Output::Whole(kept.get_or_insert_with(|| vec![vec![0.0; frames]; input.len()]))
        }
        TrialWrite::Shaped(planes) => Output::Shaped { planes, at: 0 },
    };
    // A whole output with a neutral stage is measured once written, faster than block by block.
    let metered = shape.is_some() || !matches!(output, Output::Whole(_));
    let mut io = Measured {
        input,
        output,
        shape,
        meter: metered.then(|| IntegratedMeter::new(rate, roles)),
        shaped: vec![Vec::with_capacity(BLOCK); input.len()],
    };
    drive_limiter(&mut limiter, input.len(), frames, &mut io, cancel)?;
    let lufs = match (io.meter, io.output) {
        (Some(meter), _) => meter.finish(),
        (None, Output::Whole(buffer)) => loudness::integrated_lufs_of(buffer, roles, rate),
        (None, _) => None,
    };
    Ok((lufs, limiter.stats()))
}

/// Runs the limiter over whole channels at `gain_db`, in place, latency compensated.
fn limit(
    mut channels: Vec<Vec<f32>>,
    settings: &LimiterSettings,
    rate: u32,
    gain_db: f64,
    ceiling_dbtp: f64,
    cancel: &AtomicBool,
) -> Result<(Vec<Vec<f32>>, LimiterStats), RenderError> {
    let mut limiter = Limiter::new(settings, rate, channels.len());
    limiter.set_now(gain_db, ceiling_dbtp);
    let frames = channels.first().map_or(0, Vec::len);
    let count = channels.len();
    drive_limiter(
        &mut limiter,
        count,
        frames,
        &mut InPlace(&mut channels),
        cancel,
    )?;
    // The statistics also count the flushed tail (the latency's worth of silence after the
    // programme, where the limiter only releases): it lowers the mean reduction slightly.
    Ok((channels, limiter.stats()))
}

/// A true-peak limiter over `channels` (in place, latency compensated) at no gain, holding
/// them `margin_db` under `settings`' working ceiling: where two limited programmes are summed
/// (an album's crossfade). Returns the largest gain reduction it applied (dB).
pub fn limit_true_peak(
    channels: Vec<Vec<f32>>,
    settings: &LimiterSettings,
    rate: u32,
    margin_db: f64,
    cancel: &AtomicBool,
) -> Result<(Vec<Vec<f32>>, f64), RenderError> {
    let ceiling = crate::chain::limiter::working_ceiling_dbtp(settings.ceiling_dbtp) - margin_db;
    let (channels, stats) = limit(channels, settings, rate, 0.0, ceiling, cancel)?;
    Ok((channels, stats.peak_reduction_db))
}

/// How many frames render gives for `frames` of input at `rate` through `output`'s trims.
pub fn rendered_frames(frames: usize, rate: u32, output: &OutputSettings) -> usize {
    OutputShape::new(output, rate, frames).map_or(frames, |shape| shape.kept)
}

/// Calls `f` with planar sub-slices `start..end` of mono or stereo channels.
fn process_planar(
    channels: &mut [Vec<f32>],
    start: usize,
    end: usize,
    mut f: impl FnMut(&mut [&mut [f32]]),
) {
    match channels {
        [left, right] => f(&mut [&mut left[start..end], &mut right[start..end]]),
        [mono] => f(&mut [&mut mono[start..end]]),
        _ => {}
    }
}

fn check_trims(output: &OutputSettings, audio: &AudioBuffer) -> Result<(), RenderError> {
    if output.bypass {
        return Ok(());
    }
    let length_s = audio.duration_s();
    if output.trim_start_s + output.trim_end_s >= length_s {
        return Err(RenderError::TrimmedAway {
            start_s: output.trim_start_s,
            end_s: output.trim_end_s,
            length_s,
        });
    }
    Ok(())
}

/// Where the output stage trims and fades a track: the same arithmetic for the whole track
/// ([`apply_output`]) and for the solver's block-by-block trials.
#[derive(Debug, Clone, Copy)]
struct OutputShape {
    /// Frames trimmed from the start, and frames kept after both trims.
    head: usize,
    kept: usize,
    fade_in: usize,
    fade_out: usize,
    fade_in_curve: FadeCurve,
    fade_out_curve: FadeCurve,
}

impl OutputShape {
    /// None when the stage changes nothing.
    fn new(output: &OutputSettings, rate: u32, frames: usize) -> Option<Self> {
        if output.is_neutral() {
            return None;
        }
        let frames_of = |s: f64| (s * f64::from(rate)).round() as usize;
        let keep_end = frames.saturating_sub(frames_of(output.trim_end_s));
        let head = frames_of(output.trim_start_s).min(keep_end);
        let kept = keep_end - head;
        Some(Self {
            head,
            kept,
            fade_in: frames_of(output.fade_in_s).min(kept),
            fade_out: frames_of(output.fade_out_s).min(kept),
            fade_in_curve: output.fade_in_curve,
            fade_out_curve: output.fade_out_curve,
        })
    }

    /// Input frame `i` (value `x`) after the stage; None where it is trimmed away.
    #[inline]
    fn apply(&self, i: usize, x: f32) -> Option<f32> {
        let j = i.checked_sub(self.head).filter(|&j| j < self.kept)?;
        Some(self.faded(j, x))
    }

    /// Appends to `out` what the stage keeps of `samples`, input frames from `from` on.
    fn extend_shaped(&self, out: &mut Vec<f32>, from: usize, samples: &[f32]) {
        out.extend(
            samples
                .iter()
                .enumerate()
                .filter_map(|(k, &x)| self.apply(from + k, x)),
        );
    }

    /// Kept frame `j` after the fades.
    #[inline]
    fn faded(&self, j: usize, mut x: f32) -> f32 {
        if j < self.fade_in {
            let gain = self.fade_in_curve.gain(j as f64 / self.fade_in as f64);
            x = (f64::from(x) * gain) as f32;
        }
        let from = self.kept - self.fade_out;
        if j >= from {
            // Reaches silence on the last sample.
            let position = 1.0 - (j - from + 1) as f64 / self.fade_out as f64;
            x = (f64::from(x) * self.fade_out_curve.gain(position)) as f32;
        }
        x
    }
}

/// The output stage over whole channels: trim the head and tail, then fade in and out.
pub fn apply_output(
    mut channels: Vec<Vec<f32>>,
    output: &OutputSettings,
    rate: u32,
) -> Vec<Vec<f32>> {
    let frames = channels.first().map_or(0, Vec::len);
    let Some(shape) = OutputShape::new(output, rate, frames) else {
        return channels;
    };
    for c in &mut channels {
        c.truncate(shape.head + shape.kept);
        c.drain(..shape.head);
        let fade_out_from = shape.kept - shape.fade_out;
        for j in (0..shape.fade_in).chain(fade_out_from.max(shape.fade_in)..shape.kept) {
            c[j] = shape.faded(j, c[j]);
        }
    }
    channels
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A limiter's loudness curve: 1 LU per dB until it works at `knee` dB of gain, then
    /// `above` LU per dB (each dB more partly taken off the peaks), rising from −20 LUFS.
    fn limited_loudness(gain: f64, knee: f64, above: f64) -> f64 {
        -20.0 + gain.min(knee) + (gain - knee).max(0.0) * above
    }

    /// The trials `solve` makes for the curve, from `lufs_before` and `lu_per_db`.
    fn trials(lufs_before: f64, lu_per_db: Option<f64>) -> (Vec<f64>, Solution) {
        let mut gains = Vec::new();
        let solution = solve(
            -14.0,
            lufs_before,
            12.0,
            lu_per_db,
            &mut |gain| {
                gains.push(gain);
                Ok((Some(limited_loudness(gain, 2.0, 0.93)), gain - 2.0))
            },
            &mut |_| {},
        )
        .expect("solves");
        (gains, solution)
    }

    #[test]
    fn a_re_render_half_a_db_off_meets_the_target_on_its_second_trial_with_the_last_slope() {
        // The target needs 2 + 4 / 0.93 = 6.30 dB; the last render found 6.80 before an edit
        // took half a dB off the mix.
        let need = 2.0 + 4.0 / 0.93;
        let start = -14.0 - (need + 0.5);
        let (with_slope, solved) = trials(start, Some(0.93));
        assert_eq!(with_slope.len(), 2, "{with_slope:?}");
        assert!((solved.lufs + 14.0).abs() <= SOLVER_TOLERANCE_LU);
        assert!((solved.lu_per_db.expect("measured") - 0.93).abs() < 1e-9);
        // Stepping by the error alone falls short by the limiter's share (0.07 × 0.47 LU).
        let (without, solved) = trials(start, None);
        assert_eq!(without.len(), 3, "{without:?}");
        assert!((solved.lufs + 14.0).abs() <= SOLVER_TOLERANCE_LU);
    }

    #[test]
    fn two_trials_short_of_the_target_extrapolate_along_their_slope() {
        // A first render from the mix's loudness: the first trial falls short by what the
        // limiter takes (4 dB into it at 0.5 LU per dB), the second by less, and the third
        // steps along the slope the two measured, where the error alone would step short.
        let mut gains = Vec::new();
        let solved = solve(
            -14.0,
            -20.0,
            12.0,
            None,
            &mut |gain| {
                gains.push(gain);
                Ok((Some(limited_loudness(gain, 2.0, 0.5)), gain - 2.0))
            },
            &mut |_| {},
        )
        .expect("solves");
        assert_eq!(gains.len(), 3, "{gains:?}");
        assert!((solved.gain_db - 10.0).abs() < 1e-9, "{solved:?}");
        assert_eq!(solved.lu_per_db, Some(0.5));
    }
}
