//! Offline render: the chain over a whole track, the limiter's latency compensated (output
//! aligned with input), the loudness-target solver, and the output stage (trims, fades).
//!
//! The solver works on the chain's output before the limiter, rendered once: each trial runs
//! only the limiter at a new input gain and measures the integrated loudness. The limiter's
//! peak reduction at a gain is the highest true peak's overshoot (`gain + peak − ceiling`), so
//! the gain-reduction cap bounds the gain before any trial.

use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;

use crate::audio::AudioBuffer;
use crate::chain::{
    Chain, ChainError, ChainSettings, Limiter, LimiterSettings, LimiterStats, OutputSettings,
};
use crate::decode::DecodeControl;
use crate::loudness;
use crate::platform::Targets;

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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimiterReport {
    pub ceiling_dbtp: f64,
    pub target_lufs: Option<f64>,
    /// Gain into the limiter: as set, or as solved for the target.
    pub gain_db: f64,
    pub peak_reduction_db: f64,
    pub mean_reduction_db: f64,
    /// The signal arriving at the limiter (before its gain): loudness, true peak, PLR.
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

/// Renders `audio` through the chain built from `settings`. `margin_db` lowers the limiter's
/// working ceiling below the stated one (the closed loop of export uses it when a finished
/// file measured over); the report states the stated ceiling.
pub fn render(
    audio: &AudioBuffer,
    settings: &ChainSettings,
    margin_db: f64,
    control: RenderControl<'_>,
) -> Result<Rendered, RenderError> {
    let RenderControl { progress, cancel } = control;
    let rate = audio.sample_rate();
    let mut pre_settings = settings.clone();
    pre_settings.limiter.bypass = true;
    let mut chain = Chain::new(&pre_settings, rate, BLOCK, audio.channel_count())?;
    let disabled_for_mono = chain.disabled_for_mono();
    check_trims(&settings.output, audio)?;

    // Input → EQ → dynamics → stereo, in place on a copy.
    let mut pre: Vec<Vec<f32>> = audio.channels().to_vec();
    let frames = audio.frames();
    let mut start = 0;
    while start < frames {
        check(cancel)?;
        let end = (start + BLOCK).min(frames);
        process_planar(&mut pre, start, end, |planes| chain.process(planes));
        start = end;
        progress(0.4 * start as f64 / frames.max(1) as f64);
    }

    if settings.limiter.bypass {
        let channels = apply_output(pre, &settings.output, rate);
        progress(1.0);
        return Ok(Rendered {
            audio: rebuild(audio, channels),
            limiter: None,
            disabled_for_mono,
        });
    }

    let l = &settings.limiter;
    let pre_buffer = rebuild(audio, pre);
    let before = loudness::measure(&pre_buffer);
    let pre = pre_buffer.into_channels();
    check(cancel)?;
    progress(0.5);
    let working_ceiling = l.ceiling_dbtp - margin_db.max(0.0);
    // One limiter run at a gain; `measure` asks for the output's integrated loudness (the
    // solver needs it; without a target the caller measures the final file anyway).
    let trial =
        |gain_db: f64, channels: Vec<Vec<f32>>, measure: bool| -> Result<Trial, RenderError> {
            let (out, stats) = limit(channels, l, rate, gain_db, working_ceiling, cancel)?;
            let out = apply_output(out, &settings.output, rate);
            let buffer = rebuild(audio, out);
            let lufs = if measure {
                loudness::integrated_lufs(&buffer)
            } else {
                None
            };
            Ok(Trial {
                out: buffer.into_channels(),
                stats,
                lufs,
            })
        };

    let mut notes = Vec::new();
    let (result, gain_db, target_reached, shortfall_lu) = match l.target_lufs {
        // No trials to compare: the limiter works in place on the chain's output.
        None => (trial(l.gain_db, pre, false)?, l.gain_db, None, None),
        Some(target) => {
            let (Some(lufs_before), Some(peak_before)) =
                (before.integrated_lufs, before.true_peak_dbtp)
            else {
                return Err(RenderError::Silent);
            };
            // The gain at which the highest peak needs exactly the capped reduction.
            let max_gain = l.max_reduction_db + working_ceiling - peak_before;
            let solved = solve(
                target,
                lufs_before,
                max_gain,
                &|gain_db| trial(gain_db, pre.clone(), true),
                &mut *progress,
            )?;
            let lufs = solved.trial.lufs.unwrap_or(f64::NEG_INFINITY);
            let reached = (lufs - target).abs() <= 0.1;
            let shortfall = (!reached).then_some(target - lufs);
            if let Some(short) = shortfall.filter(|s| *s > 0.0) {
                notes.push(format!(
                    "The target of {target:.1} LUFS needs more than the {:.0} dB of limiting \
                     allowed: the master stops at {:.1} LUFS, {short:.1} LU short. Raise the \
                     cap only if the extra loudness is worth the dynamics.",
                    l.max_reduction_db, lufs
                ));
            }
            (solved.trial, solved.gain_db, Some(reached), shortfall)
        }
    };
    let Trial {
        out,
        stats,
        lufs: integrated_after,
    } = result;
    let integrated_after = if stats.peak_reduction_db > HEAVY_LIMITING_DB {
        let integrated = integrated_after.or_else(|| {
            let buffer = rebuild(audio, out.clone());
            loudness::integrated_lufs(&buffer)
        });
        notes.push(heavy_limiting_note(stats.peak_reduction_db, integrated));
        integrated
    } else {
        integrated_after
    };
    progress(1.0);
    Ok(Rendered {
        audio: rebuild(audio, out),
        limiter: Some(LimiterReport {
            ceiling_dbtp: l.ceiling_dbtp,
            target_lufs: l.target_lufs,
            gain_db,
            peak_reduction_db: stats.peak_reduction_db,
            mean_reduction_db: stats.mean_reduction_db,
            integrated_before_lufs: before.integrated_lufs,
            true_peak_before_dbtp: before.true_peak_dbtp,
            plr_before_db: before.plr_db(),
            integrated_after_lufs: integrated_after,
            target_reached,
            shortfall_lu,
            notes,
        }),
        disabled_for_mono,
    })
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

/// One limiter run: its output (after the output stage), statistics and loudness.
struct Trial {
    out: Vec<Vec<f32>>,
    stats: LimiterStats,
    lufs: Option<f64>,
}

struct Solved {
    trial: Trial,
    gain_db: f64,
}

/// Finds the limiter gain whose output reaches `target` (secant steps on a bracket, never
/// beyond `max_gain`). Loudness rises monotonically with the gain, more slowly once the
/// limiter works.
fn solve(
    target: f64,
    lufs_before: f64,
    max_gain: f64,
    trial: &dyn Fn(f64) -> Result<Trial, RenderError>,
    progress: &mut dyn FnMut(f64),
) -> Result<Solved, RenderError> {
    let mut gain = (target - lufs_before).min(max_gain);
    let mut low: Option<(f64, f64)> = None; // (gain, lufs) below the target
    let mut high: Option<(f64, f64)> = None; // above it
    let mut best: Option<Solved> = None;
    for n in 0..SOLVER_TRIALS {
        let result = trial(gain)?;
        let lufs = result.lufs.ok_or(RenderError::Silent)?;
        progress(0.5 + 0.45 * (n + 1) as f64 / SOLVER_TRIALS as f64);
        let error = lufs - target;
        let closer = best.as_ref().is_none_or(|b| {
            (b.trial.lufs.unwrap_or(f64::NEG_INFINITY) - target).abs() > error.abs()
        });
        if closer {
            best = Some(Solved {
                trial: result,
                gain_db: gain,
            });
        }
        if error.abs() <= SOLVER_TOLERANCE_LU {
            break;
        }
        if error < 0.0 {
            low = Some((gain, lufs));
            if gain >= max_gain - 1e-9 {
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
            // One side only: step by the error (limiting makes each dB of gain worth less,
            // so this approaches from below).
            _ => gain - error,
        }
        .min(max_gain);
    }
    best.ok_or(RenderError::Silent)
}

/// Runs the limiter over whole channels at `gain_db`, in place, latency compensated: each
/// block goes through a scratch copy and lands `latency` frames earlier, where the input has
/// already been read.
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
    let latency = limiter.latency_frames();
    let frames = channels.first().map_or(0, Vec::len);
    let mut scratch = vec![vec![0.0f32; BLOCK]; channels.len()];
    let mut start = 0;
    // The latency's worth of silence after the programme flushes the last frames out.
    while start < frames + latency {
        check(cancel)?;
        let end = (start + BLOCK).min(frames + latency);
        let len = end - start;
        for (block, channel) in scratch.iter_mut().zip(&channels) {
            let input = channel.get(start..end.min(frames)).unwrap_or_default();
            block[..input.len()].copy_from_slice(input);
            block[input.len()..len].fill(0.0);
        }
        process_planar(&mut scratch, 0, len, |planes| limiter.process(planes));
        // Output frame `start + k` belongs at input frame `start + k − latency`.
        let skip = latency.saturating_sub(start).min(len);
        let to = start + skip - latency;
        for (block, channel) in scratch.iter().zip(&mut channels) {
            let count = (len - skip).min(frames - to);
            channel[to..to + count].copy_from_slice(&block[skip..skip + count]);
        }
        start = end;
    }
    // The statistics also count the flushed tail (the latency's worth of silence after the
    // programme, where the limiter only releases): it lowers the mean reduction slightly.
    Ok((channels, limiter.stats()))
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

fn rebuild(like: &AudioBuffer, channels: Vec<Vec<f32>>) -> AudioBuffer {
    AudioBuffer::with_roles(like.sample_rate(), like.roles().to_vec(), channels)
        .expect("same layout and rate as an existing buffer")
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

/// The output stage over whole channels: trim the head and tail, then fade in and out.
pub fn apply_output(
    mut channels: Vec<Vec<f32>>,
    output: &OutputSettings,
    rate: u32,
) -> Vec<Vec<f32>> {
    if output.is_neutral() {
        return channels;
    }
    let frames_of = |s: f64| (s * f64::from(rate)).round() as usize;
    let (head, tail) = (frames_of(output.trim_start_s), frames_of(output.trim_end_s));
    for c in &mut channels {
        let keep_end = c.len().saturating_sub(tail);
        c.truncate(keep_end);
        c.drain(..head.min(c.len()));
    }
    let frames = channels.first().map_or(0, Vec::len);
    let fade_in = frames_of(output.fade_in_s).min(frames);
    let fade_out = frames_of(output.fade_out_s).min(frames);
    for c in &mut channels {
        for (n, x) in c.iter_mut().take(fade_in).enumerate() {
            *x = (f64::from(*x) * output.fade_in_curve.gain(n as f64 / fade_in as f64)) as f32;
        }
        let from = frames - fade_out;
        for (n, x) in c[from..].iter_mut().enumerate() {
            // Reaches silence on the last sample.
            let position = 1.0 - (n + 1) as f64 / fade_out as f64;
            *x = (f64::from(*x) * output.fade_out_curve.gain(position)) as f32;
        }
    }
    channels
}
