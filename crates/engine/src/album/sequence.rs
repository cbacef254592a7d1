//! An album mastered as one sequence: each track through its chain and the true-peak limiter
//! at the delivery rate, at the level the album's loudness decision gives it, then laid on
//! one timeline (exact digital silence in the gaps, crossfades summed and passed through a
//! true-peak limiter), and dithered and quantised over the whole sequence at once, so the
//! track files cut from it play back to back as the continuous album, sample for sample.
//!
//! Loudness in album mode: track `i` is rendered to `T + oᵢ + c`. The offsets `oᵢ` are the
//! engineer's, or the mixes' own loudness against the mixes' album (their gating blocks
//! joined), so a ballad mixed 3 LU under the single stays 3 LU under. `c` is predicted from
//! the mixes' gating blocks moved to their targets, and after a render the album is measured
//! over the whole sequence (silence in the gaps falls under the gate): a miss of more than
//! [`ALBUM_TOLERANCE_LU`] moves `c` by the miss and renders again. Each track keeps its own
//! limiter at the ceiling; nothing adds gain after the limiters.

use std::borrow::Cow;
use std::ops::Range;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::overview::AlbumOverview;
use super::{Album, GapPlacement, LoudnessMode, Transition};
use crate::audio::{AudioBuffer, ChannelRole};
use crate::chain::{ChainSettings, FadeCurve, OutputSettings, TruePeakMode};
use crate::decode::{DecodeControl, decode_file_limited};
use crate::export::{self, Dither, Format, Prepared};
use crate::limits::DecodeLimits;
use crate::loudness::true_peak::strict_true_peak_dbtp;
use crate::loudness::{self, Loudness};
use crate::parallel::{Join, Sequential};
use crate::render::{self, LimiterReport, RenderControl};
use crate::resample;

/// How close the album's integrated loudness comes to the target (LU), and how close each
/// track comes to its own level, before the sequence is accepted.
pub const ALBUM_TOLERANCE_LU: f64 = 0.1;
/// Renders of the whole sequence before giving up on the loudness or the ceiling (the first
/// normally suffices).
const ATTEMPTS: usize = 4;
/// Extra margin added to a measured true-peak overshoot when rendering again (dB).
const RETRY_MARGIN_DB: f64 = 0.01;
/// The crossfade's limiter starts this long before the overlap (it looks ahead) and runs this
/// long after it (so its release settles on audio already under the ceiling).
const CROSSFADE_LEAD_S: f64 = 0.05;
const CROSSFADE_TAIL_S: f64 = 1.0;
/// Over its last this long, the crossfade's limited stretch blends back into the audio.
const CROSSFADE_BLEND_S: f64 = 0.005;
/// The levels the limiter's loudness solver works between (LUFS): a track planned outside
/// them is rendered at the nearer one, and the overview says so.
pub const LOWEST_LEVEL_LUFS: f64 = -40.0;
pub const HIGHEST_LEVEL_LUFS: f64 = -3.0;
/// Why a silent mix cannot be placed.
const SILENT: &str =
    "is silent (below the −70 LUFS gate): it has no loudness to place in the album";

#[derive(Debug, thiserror::Error)]
pub enum SequenceError {
    #[error("track {number} ({title}): {message}")]
    Track {
        number: usize,
        title: String,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("not a CD: {0}")]
    NotForCd(String),
    #[error("album cancelled")]
    Cancelled,
}

/// What the sequence is rendered from and to.
#[derive(Debug, Clone)]
pub struct SequenceRequest<'a> {
    pub album: &'a Album,
    /// The album file's folder (relative sources are read from it).
    pub folder: &'a Path,
    /// The delivery rate; none: the first track's.
    pub sample_rate: Option<u32>,
    pub format: Format,
    pub dither: Dither,
    pub limits: &'a DecodeLimits,
    /// Start every track on a whole 1/75 s (a CUE sheet's frames, a CD's sectors): see
    /// [`SequenceLayout::new`].
    pub align_to_cue_frames: bool,
    /// A CD delivery: checked against what a CD allows before rendering (see
    /// [`super::cd`]); every track starts on a sector.
    pub cd: bool,
}

/// Progress (0–1, from any thread) and cancellation for an album's work.
#[derive(Clone, Copy)]
pub struct AlbumControl<'a> {
    pub progress: &'a (dyn Fn(f64) + Sync),
    pub cancel: &'a AtomicBool,
}

impl std::fmt::Debug for AlbumControl<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlbumControl")
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

/// A track's mix as the album needs it before rendering.
#[derive(Debug, Clone)]
pub struct MixFacts {
    pub sample_rate: u32,
    pub channels: usize,
    pub frames: usize,
    /// Measured as the album plays it (a mono mix on a stereo album on both sides).
    pub integrated_lufs: Option<f64>,
    /// The gating blocks' powers (as the album plays it): the mixes' album loudness is
    /// integrated over all tracks' blocks joined.
    block_powers: Vec<f64>,
    /// What decoding had to say (truncation, repairs).
    pub warnings: Vec<String>,
}

/// The level each track is rendered to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoudnessPlan {
    pub mode: LoudnessMode,
    pub target_lufs: f64,
    /// The mixes' integrated loudness over the whole album (their gating blocks joined).
    pub mixes_album_lufs: Option<f64>,
    /// Added to every track's level so the album meets the target (album mode; 0 per track).
    pub album_shift_lu: f64,
    pub tracks: Vec<PlannedTrack>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedTrack {
    /// Its level against the other tracks (LU).
    pub offset_lu: f64,
    /// Whether the offset is the mix's own (none set in the album).
    pub offset_from_mix: bool,
    /// The integrated loudness it is rendered to (LUFS).
    pub target_lufs: f64,
}

impl LoudnessPlan {
    /// The levels for `album` from its mixes (`stereo`: the album is stereo, so a mono mix's
    /// blocks count on both sides).
    pub fn new(album: &Album, mixes: &[MixFacts]) -> Result<Self, SequenceError> {
        let target = album.loudness.target_lufs;
        let mut mix_lufs = Vec::with_capacity(mixes.len());
        for (n, mix) in mixes.iter().enumerate() {
            mix_lufs.push(
                mix.integrated_lufs
                    .ok_or_else(|| track_error(album, n, SILENT))?,
            );
        }
        let all_blocks: Vec<f64> = mixes
            .iter()
            .flat_map(|m| m.block_powers.iter().copied())
            .collect();
        let mixes_album_lufs = loudness::gated_lufs(&all_blocks);
        let per_track = album.loudness.mode == LoudnessMode::PerTrack;
        let tracks: Vec<PlannedTrack> = album
            .tracks
            .iter()
            .zip(&mix_lufs)
            .map(|(track, &lufs)| match (per_track, track.offset_lu) {
                (true, _) => PlannedTrack {
                    offset_lu: 0.0,
                    offset_from_mix: false,
                    target_lufs: target,
                },
                (false, Some(offset)) => PlannedTrack {
                    offset_lu: offset,
                    offset_from_mix: false,
                    target_lufs: target + offset,
                },
                (false, None) => {
                    let offset = lufs - mixes_album_lufs.unwrap_or(lufs);
                    PlannedTrack {
                        offset_lu: offset,
                        offset_from_mix: true,
                        target_lufs: target + offset,
                    }
                }
            })
            .collect();
        let mut plan = Self {
            mode: album.loudness.mode,
            target_lufs: target,
            mixes_album_lufs,
            album_shift_lu: 0.0,
            tracks,
        };
        if !per_track {
            // Each mix's blocks moved to its level: the album they make, and how far off.
            let moved: Vec<f64> = mixes
                .iter()
                .zip(mix_lufs.iter().zip(&plan.tracks))
                .flat_map(|(mix, (&lufs, planned))| {
                    let gain = 10f64.powf((planned.target_lufs - lufs) / 10.0);
                    mix.block_powers.iter().map(move |p| p * gain)
                })
                .collect();
            if let Some(predicted) = loudness::gated_lufs(&moved) {
                plan.shift(target - predicted);
            }
        }
        Ok(plan)
    }

    /// Moves every track's level by `lu` (album mode's `c`).
    fn shift(&mut self, lu: f64) {
        self.album_shift_lu += lu;
        for track in &mut self.tracks {
            track.target_lufs += lu;
        }
    }
}

/// Where each track lies on the album's timeline, and which stretch each track file holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequenceLayout {
    pub sample_rate: u32,
    pub channels: usize,
    pub total_frames: usize,
    pub tracks: Vec<Placement>,
}

/// One track on the timeline (frames).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    /// Where its audio starts.
    pub start: usize,
    /// Where it starts for a player (a CUE sheet's INDEX 01): its audio's start, except where
    /// it follows the previous track without a gap on an aligned album, and the index falls
    /// on the nearest whole 1/75 s while the audio runs on unbroken.
    pub index: usize,
    pub frames: usize,
    /// Silence after it (0 for the last track and a crossfade).
    pub gap_after: usize,
    /// Frames it overlaps the next track by (a crossfade).
    pub crossfade_after: usize,
    /// The stretch of the timeline its file holds: the files cover it end to end.
    pub file_start: usize,
    pub file_end: usize,
}

impl Placement {
    pub fn span(&self) -> Range<usize> {
        self.start..self.start + self.frames
    }

    pub fn file(&self) -> Range<usize> {
        self.file_start..self.file_end
    }

    /// Its file's stretch before its index (a pre-gap; an INDEX 00).
    pub fn pregap(&self) -> usize {
        self.index - self.file_start
    }
}

impl SequenceLayout {
    /// The tracks of `album`, `frames` long each as rendered at `sample_rate`. With `align`,
    /// every track's index falls on a multiple of that many frames (a CUE sheet's 1/75 s, a
    /// CD's 588-sample sectors): a gap or a crossfade is nudged by less than half of one (a
    /// crossfade stays at least a sample long), a track that follows without a gap keeps its
    /// audio unbroken and only its index moves, and the album ends with silence up to the
    /// next multiple.
    pub fn new(
        album: &Album,
        frames: &[usize],
        sample_rate: u32,
        channels: usize,
        align: Option<usize>,
    ) -> Result<Self, SequenceError> {
        let to_frames = |s: f64| (s * f64::from(sample_rate)).round() as usize;
        let unit = align.unwrap_or(1).max(1);
        let nearest = |at: usize| (at + unit / 2) / unit * unit;
        let up = |at: usize| at.div_ceil(unit) * unit;
        let last = frames.len().saturating_sub(1);
        let mut tracks: Vec<Placement> = Vec::with_capacity(frames.len());
        let (mut start, mut index) = (0, 0);
        for (n, (&length, track)) in frames.iter().zip(&album.tracks).enumerate() {
            let end = start + length;
            // Where the next track's audio and index start.
            let (next, next_index) = match track.transition {
                _ if n == last => (end, end),
                Transition::Gap { seconds } if to_frames(seconds) == 0 => (end, nearest(end)),
                Transition::Gap { seconds } => {
                    let next = nearest(end + to_frames(seconds));
                    let next = if next <= end { next + unit } else { next };
                    (next, next)
                }
                Transition::Crossfade { seconds, .. } => {
                    let shorter = length.min(frames[n + 1]);
                    let too_long = || {
                        track_error(
                            album,
                            n,
                            &format!(
                                "its {seconds:.2} s crossfade is as long as it or the next \
                                 track ({:.2} s): a crossfade is shorter than both",
                                shorter as f64 / f64::from(sample_rate)
                            ),
                        )
                    };
                    let wanted = to_frames(seconds);
                    if wanted >= shorter {
                        return Err(too_long());
                    }
                    let mut next = nearest(end - wanted);
                    if next >= end {
                        // Rounded away: the last whole unit before the end.
                        next = (end - 1) / unit * unit;
                    }
                    if end - next >= shorter {
                        next += unit;
                    }
                    if next >= end || end - next >= shorter {
                        return Err(too_long());
                    }
                    (next, next)
                }
            };
            let (gap_after, crossfade_after) = if next >= end {
                (next - end, 0)
            } else {
                (0, end - next)
            };
            if let Some(previous) = tracks.last()
                && previous.crossfade_after + crossfade_after >= length
            {
                return Err(track_error(
                    album,
                    n,
                    "the crossfades into it and out of it overlap each other",
                ));
            }
            tracks.push(Placement {
                start,
                index,
                frames: length,
                gap_after,
                crossfade_after,
                file_start: 0,
                file_end: 0,
            });
            (start, index) = (next, next_index);
        }
        let total_frames = up(tracks.last().map_or(0, |t| t.start + t.frames));
        // Files meet where the next track's file starts: at its index, or where its pre-gap
        // starts (the previous track's end, on the alignment).
        let starts: Vec<usize> = tracks
            .iter()
            .enumerate()
            .map(|(n, t)| match (n, album.gap_placement) {
                (0, _) => 0,
                (_, GapPlacement::PregapOfNext) if tracks[n - 1].gap_after > 0 => {
                    let previous = &tracks[n - 1];
                    up(previous.start + previous.frames).min(t.index)
                }
                _ => t.index,
            })
            .collect();
        for (n, track) in tracks.iter_mut().enumerate() {
            track.file_start = starts[n];
            track.file_end = starts.get(n + 1).copied().unwrap_or(total_frames);
        }
        Ok(Self {
            sample_rate,
            channels,
            total_frames,
            tracks,
        })
    }

    pub fn seconds(&self, frames: usize) -> f64 {
        frames as f64 / f64::from(self.sample_rate)
    }

    /// The stretch of the sequence that plays the join after track `n` (None for the last
    /// track): up to `around` frames of its audio before the gap or crossfade, the join
    /// itself, and up to `around` frames of the next track's audio after it — never past
    /// either track's audio.
    pub fn transition(&self, n: usize, around: usize) -> Option<Range<usize>> {
        let (this, next) = (self.tracks.get(n)?, self.tracks.get(n + 1)?);
        // A gap runs from this track's end to the next one's start; a crossfade the other way.
        let (ends, starts) = (this.span().end, next.start);
        let from = ends.min(starts).saturating_sub(around).max(this.start);
        let to = (ends.max(starts) + around).min(next.span().end);
        Some(from..to)
    }
}

/// The album rendered and quantised as one sequence, measured, ready to be cut into files.
#[derive(Debug, Clone)]
pub struct MasteredSequence {
    pub layout: SequenceLayout,
    pub plan: LoudnessPlan,
    /// The whole sequence as stored, with its measurement.
    pub prepared: Prepared,
    /// Each track file's stretch of the sequence, measured as stored.
    pub file_loudness: Vec<Loudness>,
    pub overview: AlbumOverview,
    pub timings: AlbumTimings,
}

/// Seconds of wall time per phase of an album's mastering (the closed loop's renders summed);
/// the phases run their pieces on every thread of the join.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct AlbumTimings {
    /// Every mix decoded and measured, for the album's levels.
    pub analyse_s: f64,
    /// Every track decoded again, through its chain and limiter into the sequence, and the
    /// crossfades limited.
    pub render_s: f64,
    /// Dither and quantisation of the whole sequence.
    pub quantise_s: f64,
    /// Each track file's measurement and the whole's.
    pub measure_s: f64,
}

/// Masters the album as one sequence (see the module's notes): the mixes measured, the levels
/// planned, the tracks rendered in parallel through `join`, the sequence laid out, limited
/// across crossfades, dithered and quantised as a whole, and measured per track and whole.
pub fn master_sequence(
    request: &SequenceRequest<'_>,
    join: &impl Join,
    control: AlbumControl<'_>,
) -> Result<MasteredSequence, SequenceError> {
    let album = request.album;
    album.check().map_err(SequenceError::Invalid)?;
    if request.cd {
        let problems = super::cd::format_problems(album, request.format, request.sample_rate);
        if !problems.is_empty() {
            return Err(SequenceError::NotForCd(problems.join("; ")));
        }
    }
    let missing = album.missing(request.folder);
    if let Some(&n) = missing.first() {
        return Err(track_error(
            album,
            n,
            &format!(
                "its source {} is missing (relink it)",
                album.source_path(n, request.folder).display()
            ),
        ));
    }
    let mut timings = AlbumTimings::default();
    let started = Instant::now();
    let mixes = analyse(request, join, control)?;
    timings.analyse_s = started.elapsed().as_secs_f64();
    let channels = mixes.iter().map(|m| m.channels).max().unwrap_or(1);
    // As a single master: a rate the format cannot carry is replaced before the chains, so
    // the limiters and the dither work at the rate delivered.
    let asked_rate = request.sample_rate.unwrap_or(mixes[0].sample_rate);
    let rate = request.format.delivered_rate(asked_rate);
    crate::limits::check_delivery_rate(rate).map_err(|e| SequenceError::Invalid(e.to_string()))?;
    let mut notes = Vec::new();
    if rate != asked_rate {
        notes.push(format!(
            "{} does not carry {asked_rate} Hz: the album was made at {rate} Hz.",
            request.format.describe()
        ));
    }
    if mixes.iter().any(|m| m.sample_rate != rate) {
        notes.push(format!(
            "Tracks at another rate were converted to {rate} Hz before their chains, so the \
             limiters and the dither worked at the delivered rate."
        ));
    }
    if channels == 2 && mixes.iter().any(|m| m.channels == 1) {
        notes.push("Mono tracks play on both sides of the stereo album.".into());
    }
    let frames: Vec<usize> = mixes
        .iter()
        .enumerate()
        .map(|(n, mix)| {
            let at_rate = resample::resampled_frames(mix.frames, mix.sample_rate, rate);
            match render::rendered_frames(at_rate, rate, &album.output_of(n)) {
                0 => Err(track_error(album, n, "its trims remove the whole track")),
                kept => Ok(kept),
            }
        })
        .collect::<Result<_, _>>()?;
    let align = match (
        request.align_to_cue_frames || request.cd,
        super::cue::cue_frame(rate),
    ) {
        (false, _) => None,
        (true, Some(frame)) => Some(frame),
        (true, None) => {
            return Err(SequenceError::Invalid(format!(
                "a CUE sheet counts 1/75 s, which is no whole number of frames at {rate} Hz"
            )));
        }
    };
    let layout = SequenceLayout::new(album, &frames, rate, channels, align)?;
    if request.cd {
        let problems = super::cd::layout_problems(album, &layout);
        if !problems.is_empty() {
            return Err(SequenceError::NotForCd(problems.join("; ")));
        }
    }
    // The whole sequence is held once, as its samples are stored: within the memory budget a
    // decoded file has.
    let sequence_bytes = crate::limits::decoded_bytes(layout.total_frames as u64, channels);
    let budget = &request.limits.memory;
    if sequence_bytes > budget.bytes {
        return Err(SequenceError::Invalid(format!(
            "the album's sequence takes {:.1} GB as samples, more than the {:.1} GB budget ({})",
            sequence_bytes as f64 / 1e9,
            budget.bytes as f64 / 1e9,
            budget.origin
        )));
    }
    let mut plan = LoudnessPlan::new(album, &mixes)?;
    let mut margins = vec![0.0; album.tracks.len()];
    // Each crossfade's limiter: as low as the lower of the tracks it joins.
    let mut crossfade_margins = vec![0.0; album.tracks.len()];
    let mut renders = 0;
    loop {
        renders += 1;
        // The first render is most of the work; a rare second one fills the rest slowly.
        let (from, width) = if renders == 1 {
            (0.1, 0.7)
        } else {
            (0.8, 0.04)
        };
        let progress = |f: f64| (control.progress)(from + width * f);
        let started = Instant::now();
        let rendered = render_sequence(
            request,
            &layout,
            &plan,
            &margins,
            &crossfade_margins,
            join,
            AlbumControl {
                progress: &progress,
                cancel: control.cancel,
            },
        )?;
        timings.render_s += started.elapsed().as_secs_f64();
        check_cancel(control.cancel)?;
        let started = Instant::now();
        let (exact, clamped) =
            export::quantize_in_place(rendered.audio, request.format, request.dither, join);
        timings.quantise_s += started.elapsed().as_secs_f64();
        (control.progress)(0.85);
        let started = Instant::now();
        let meter = album.chain.limiter.true_peak;
        // Each file's stretch is measured beside the whole's loudness, then the whole's peaks
        // from the files' and across each join.
        let (energy, file_loudness) = join.join(
            || loudness::ProgrammeEnergy::measure(exact.channels(), exact.roles(), rate),
            || measure_files(&exact, &layout, meter, join, control.cancel),
        );
        let file_loudness = file_loudness?;
        let parts: Vec<(usize, &Loudness)> = layout
            .tracks
            .iter()
            .map(|t| t.file_start)
            .zip(&file_loudness)
            .collect();
        let measured = loudness::measure_joined(&energy, exact.channels(), &parts);
        timings.measure_s += started.elapsed().as_secs_f64();
        let prepared = export::Prepared {
            format: request.format,
            exact,
            measured,
            strict_true_peak_dbtp: None,
            clamped,
        };
        let peaks: Vec<Option<f64>> = file_loudness.iter().map(|l| peak_on(l, meter)).collect();
        let overs: Vec<f64> = peaks
            .iter()
            .map(|p| p.map_or(0.0, |p| p - album.loudness.ceiling_dbtp))
            .collect();
        let album_lufs = prepared.measured.integrated_lufs;
        let album_miss = match (album.loudness.mode, album_lufs) {
            (LoudnessMode::Album, Some(lufs)) => album.loudness.target_lufs - lufs,
            _ => 0.0,
        };
        let settled = album_miss.abs() <= ALBUM_TOLERANCE_LU && overs.iter().all(|&o| o <= 0.0);
        if settled || renders == ATTEMPTS {
            let overview = super::overview::overview(
                request,
                &layout,
                &plan,
                &mixes,
                &rendered.tracks,
                &rendered.crossfade_reduction_db,
                &prepared,
                &file_loudness,
                &peaks,
                renders,
                notes,
            );
            (control.progress)(1.0);
            return Ok(MasteredSequence {
                layout,
                plan,
                prepared,
                file_loudness,
                overview,
                timings,
            });
        }
        if album_miss.abs() > ALBUM_TOLERANCE_LU {
            plan.shift(album_miss);
        }
        for (n, over) in overs.iter().enumerate() {
            if *over > 0.0 {
                // A file over the ceiling: its track's limiter, or the crossfade into or out
                // of it, works that much lower next time.
                margins[n] += over + RETRY_MARGIN_DB;
                if layout.tracks[n].crossfade_after > 0 {
                    crossfade_margins[n] = f64::max(crossfade_margins[n], margins[n]);
                }
                if n > 0 && layout.tracks[n - 1].crossfade_after > 0 {
                    crossfade_margins[n - 1] = f64::max(crossfade_margins[n - 1], margins[n]);
                }
            }
        }
    }
}

/// The true peak a file is held to: on the meter the ceiling is held on (the strict one
/// holds the standard reading too).
pub(super) fn peak_on(loudness: &Loudness, meter: TruePeakMode) -> Option<f64> {
    match meter {
        TruePeakMode::Standard => loudness.true_peak_dbtp,
        TruePeakMode::Strict => match (loudness.strict_true_peak_dbtp, loudness.true_peak_dbtp) {
            (Some(strict), Some(standard)) => Some(strict.max(standard)),
            (strict, standard) => strict.or(standard),
        },
    }
}

fn check_cancel(cancel: &AtomicBool) -> Result<(), SequenceError> {
    if cancel.load(Ordering::Relaxed) {
        Err(SequenceError::Cancelled)
    } else {
        Ok(())
    }
}

fn track_error(album: &Album, n: usize, message: &str) -> SequenceError {
    SequenceError::Track {
        number: n + 1,
        title: album.tracks[n].title.clone(),
        message: message.to_owned(),
    }
}

/// Runs `each` for every index of `range` on up to `join.threads()` workers that each take
/// the next index as soon as they are free (two threads: two tracks in flight at a time), the
/// heaviest first by `weight` so no worker is left with a long one at the end. The results
/// come back in index order.
pub(super) fn each_in_parallel<T: Send>(
    range: Range<usize>,
    join: &impl Join,
    weight: impl Fn(usize) -> usize,
    each: &(impl Fn(usize) -> T + Sync),
) -> Vec<T> {
    let mut order: Vec<usize> = range.clone().collect();
    // Stable: equal weights keep their order.
    order.sort_by_key(|&n| std::cmp::Reverse(weight(n)));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new(range.clone().map(|_| None).collect());
    let work = || {
        while let Some(&n) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
            let result = each(n);
            results.lock().unwrap_or_else(|e| e.into_inner())[n - range.start] = Some(result);
        }
    };
    workers(join.threads().clamp(1, order.len().max(1)), join, &work);
    results
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every index was taken by a worker"))
        .collect()
}

/// Runs `work` on `count` workers at once through `join`.
fn workers(count: usize, join: &impl Join, work: &(impl Fn() + Sync)) {
    if count <= 1 {
        work();
    } else {
        join.join(
            || workers(count / 2, join, work),
            || workers(count - count / 2, join, work),
        );
    }
}

/// Decodes a track for the album: mono or stereo only, `channels` wide (a mono mix on a
/// stereo album on both sides).
fn decode_track(
    request: &SequenceRequest<'_>,
    n: usize,
    channels: Option<usize>,
    cancel: &AtomicBool,
) -> Result<(AudioBuffer, Vec<String>), SequenceError> {
    let album = request.album;
    let decoded = decode_file_limited(
        &album.source_path(n, request.folder),
        request.limits,
        DecodeControl {
            progress: &mut |_| {},
            cancel,
        },
    )
    .map_err(|e| {
        if cancel.load(Ordering::Relaxed) {
            SequenceError::Cancelled
        } else {
            track_error(album, n, &e.to_string())
        }
    })?;
    let audio = decoded.audio;
    let count = audio.channel_count();
    if count > 2 {
        return Err(track_error(
            album,
            n,
            &format!("it has {count} channels: an album's tracks are mono or stereo"),
        ));
    }
    let audio = match channels {
        Some(2) if count == 1 => {
            let rate = audio.sample_rate();
            let mono = audio.into_channels().remove(0);
            AudioBuffer::new(rate, vec![mono.clone(), mono]).expect("two equal channels")
        }
        _ => audio,
    };
    Ok((audio, decoded.warnings))
}

/// Every mix decoded and measured, in parallel.
fn analyse(
    request: &SequenceRequest<'_>,
    join: &impl Join,
    control: AlbumControl<'_>,
) -> Result<Vec<MixFacts>, SequenceError> {
    let count = request.album.tracks.len();
    let done = Mutex::new(0usize);
    // The largest files first (their size stands for their length before they are decoded).
    let size = |n: usize| {
        std::fs::metadata(request.album.source_path(n, request.folder))
            .map_or(0, |m| usize::try_from(m.len()).unwrap_or(usize::MAX))
    };
    let mut mixes = each_in_parallel(0..count, join, size, &|n| {
        check_cancel(control.cancel)?;
        let (audio, warnings) = decode_track(request, n, None, control.cancel)?;
        let facts = MixFacts {
            sample_rate: audio.sample_rate(),
            channels: audio.channel_count(),
            frames: audio.frames(),
            integrated_lufs: None,
            block_powers: loudness::gating_block_powers(&audio),
            warnings,
        };
        let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
        *done += 1;
        (control.progress)(0.1 * *done as f64 / count as f64);
        Ok(facts)
    })
    .into_iter()
    .collect::<Result<Vec<_>, SequenceError>>()?;
    // A mono mix on a stereo album is heard on both sides: twice the power.
    let stereo = mixes.iter().any(|m| m.channels == 2);
    for mix in &mut mixes {
        if stereo && mix.channels == 1 {
            mix.block_powers.iter_mut().for_each(|p| *p *= 2.0);
        }
        mix.integrated_lufs = loudness::gated_lufs(&mix.block_powers);
    }
    Ok(mixes)
}

/// A rendered sequence before quantising.
struct RenderedSequence {
    audio: AudioBuffer,
    tracks: Vec<RenderedTrack>,
    /// Each crossfade's limiting (dB), by the track it follows; None after a gap.
    crossfade_reduction_db: Vec<Option<f64>>,
}

/// What a track's render reported.
#[derive(Debug, Clone)]
pub(super) struct RenderedTrack {
    pub(super) limiter: Option<LimiterReport>,
    pub(super) disabled_for_mono: Vec<&'static str>,
}

/// Renders every track at its planned level into one timeline, two at a time, and limits
/// the crossfades.
fn render_sequence(
    request: &SequenceRequest<'_>,
    layout: &SequenceLayout,
    plan: &LoudnessPlan,
    margins: &[f64],
    crossfade_margins: &[f64],
    join: &impl Join,
    control: AlbumControl<'_>,
) -> Result<RenderedSequence, SequenceError> {
    let album = request.album;
    let rate = layout.sample_rate;
    let count = album.tracks.len();
    // Each channel zeroed on its own (not one cloned into the others, which writes every
    // page of the album before a track is rendered): pages are touched as tracks land.
    let mut timeline: Vec<Vec<f32>> = (0..layout.channels)
        .map(|_| vec![0f32; layout.total_frames])
        .collect();
    // Tracks that share samples (a crossfade) share a region of the timeline; a track alone
    // in its region is rendered straight into it.
    let (regions, region_of) = shared_regions(layout);
    let done = Mutex::new(0usize);
    let tracks = {
        let planes = split_regions(&mut timeline, &regions);
        each_in_parallel(0..count, join, |n| layout.tracks[n].frames, &|n| {
            check_cancel(control.cancel)?;
            let placed = &layout.tracks[n];
            let (audio, _) = decode_track(request, n, Some(layout.channels), control.cancel)?;
            let audio = if audio.sample_rate() == rate {
                audio
            } else {
                resample::resample(
                    &audio,
                    rate,
                    RenderControl {
                        progress: &mut |_| {},
                        cancel: control.cancel,
                    },
                )
                .map_err(|e| track_error(album, n, &e.to_string()))?
            };
            let settings = album.track_chain(n, plan.tracks[n].target_lufs);
            let rendered_frames = render::rendered_frames(audio.frames(), rate, &settings.output);
            if rendered_frames != placed.frames {
                return Err(track_error(
                    album,
                    n,
                    &format!(
                        "it renders {rendered_frames} frames where {} were laid out (the source \
                         changed while the album was rendered?)",
                        placed.frames
                    ),
                ));
            }
            let region = regions[region_of[n]].clone();
            let render_error = |e| match e {
                render::RenderError::Cancelled => SequenceError::Cancelled,
                other => track_error(album, n, &other.to_string()),
            };
            let report = if region == placed.span() {
                // Its own stretch of the timeline: the solver's trials write there, and the
                // chosen one is the master, with no buffer of its own.
                let mut planes = planes[region_of[n]]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                render::render_into(
                    audio,
                    &settings,
                    margins[n],
                    RenderControl {
                        progress: &mut |_| {},
                        cancel: control.cancel,
                    },
                    &mut planes,
                )
                .map_err(render_error)?
            } else {
                // No second buffer for the solver's trials: two tracks in flight take their
                // own size each, not twice it.
                let rendered = render::render_with_trial_budget(
                    Cow::Owned(audio),
                    &settings,
                    margins[n],
                    RenderControl {
                        progress: &mut |_| {},
                        cancel: control.cancel,
                    },
                    0,
                )
                .map_err(render_error)?;
                let fade_in = match n
                    .checked_sub(1)
                    .map(|p| (&album.tracks[p], &layout.tracks[p]))
                {
                    Some((previous, placed)) if placed.crossfade_after > 0 => {
                        Some((placed.crossfade_after, crossfade_curve(previous.transition)))
                    }
                    _ => None,
                };
                let fade_out = (placed.crossfade_after > 0).then(|| {
                    (
                        placed.crossfade_after,
                        crossfade_curve(album.tracks[n].transition),
                    )
                });
                let mut channels = rendered.audio.into_channels();
                for channel in &mut channels {
                    crossfade_shape(channel, fade_in, fade_out);
                }
                let within =
                    placed.start - region.start..placed.start - region.start + placed.frames;
                let mut planes = planes[region_of[n]]
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                for (into, from) in planes.iter_mut().zip(&channels) {
                    // Only a crossfade's two tracks share samples, and 0 + a + b is the same
                    // sum in either order: the timeline does not depend on which finished
                    // first.
                    for (sum, x) in into[within.clone()].iter_mut().zip(from) {
                        *sum += x;
                    }
                }
                render::RenderReport {
                    limiter: rendered.limiter,
                    disabled_for_mono: rendered.disabled_for_mono,
                }
            };
            let mut done = done.lock().unwrap_or_else(|e| e.into_inner());
            *done += 1;
            (control.progress)(*done as f64 / count as f64);
            Ok(RenderedTrack {
                limiter: report.limiter,
                disabled_for_mono: report.disabled_for_mono,
            })
        })
    }
    .into_iter()
    .collect::<Result<Vec<_>, SequenceError>>()?;
    // Two limited tracks summed can pass the ceiling: the overlap goes through a true-peak
    // limiter at the album's ceiling.
    let mut limiter = album.chain.limiter.clone();
    limiter.ceiling_dbtp = album.loudness.ceiling_dbtp;
    let lead = (CROSSFADE_LEAD_S * f64::from(rate)).round() as usize;
    // Long enough for the limiter to come back to rest: five of its release times.
    let tail_s = CROSSFADE_TAIL_S.max(5.0 * limiter.release_ms / 1000.0);
    let tail = (tail_s * f64::from(rate)).round() as usize;
    let blend = (CROSSFADE_BLEND_S * f64::from(rate)).round() as usize;
    let mut crossfade_reduction_db = Vec::with_capacity(count);
    for (n, placed) in layout.tracks.iter().enumerate() {
        if placed.crossfade_after == 0 {
            crossfade_reduction_db.push(None);
            continue;
        }
        let overlap_start = layout.tracks[n + 1].start;
        let region = overlap_start.saturating_sub(lead)
            ..(overlap_start + placed.crossfade_after + tail).min(layout.total_frames);
        let stretch: Vec<Vec<f32>> = timeline
            .iter()
            .map(|c| c[region.clone()].to_vec())
            .collect();
        let (limited, reduction) = render::limit_true_peak(
            stretch,
            &limiter,
            rate,
            crossfade_margins[n],
            control.cancel,
        )
        .map_err(|e| match e {
            render::RenderError::Cancelled => SequenceError::Cancelled,
            other => track_error(album, n, &format!("its crossfade: {other}")),
        })?;
        for (into, from) in timeline.iter_mut().zip(limited) {
            // The last few milliseconds blend back into the audio as it was, so no gain step
            // is left where the limiter's stretch ends (it has come back to rest by then).
            let length = from.len();
            let blended = blend.min(length);
            for (j, (x, &limited)) in into[region.clone()].iter_mut().zip(&from).enumerate() {
                let back = (j + blended).saturating_sub(length);
                *x = if back == 0 {
                    limited
                } else {
                    let w = back as f32 / blended as f32;
                    limited + (*x - limited) * w
                };
            }
        }
        crossfade_reduction_db.push(Some(reduction));
    }
    let roles = ChannelRole::conventional_layout(layout.channels);
    Ok(RenderedSequence {
        audio: AudioBuffer::with_roles(rate, roles, timeline).expect("equal channels"),
        tracks,
        crossfade_reduction_db,
    })
}

/// The stretches of the timeline tracks lie in, in order: a track's own span, or the spans
/// of tracks that overlap (a crossfade) joined into one; and each track's region.
fn shared_regions(layout: &SequenceLayout) -> (Vec<Range<usize>>, Vec<usize>) {
    let mut regions: Vec<Range<usize>> = Vec::new();
    let mut region_of = Vec::with_capacity(layout.tracks.len());
    for span in layout.tracks.iter().map(Placement::span) {
        match regions.last_mut() {
            Some(last) if span.start < last.end => last.end = last.end.max(span.end),
            _ => regions.push(span),
        }
        region_of.push(regions.len() - 1);
    }
    (regions, region_of)
}

/// Each of `regions` (in order, apart) of every channel of `timeline`, as planes a track's
/// thread can lock.
fn split_regions<'t>(
    timeline: &'t mut [Vec<f32>],
    regions: &[Range<usize>],
) -> Vec<Mutex<Vec<&'t mut [f32]>>> {
    let mut planes: Vec<Vec<&'t mut [f32]>> = regions.iter().map(|_| Vec::new()).collect();
    for channel in timeline.iter_mut() {
        let mut rest: &'t mut [f32] = channel;
        let mut consumed = 0;
        for (region, planes) in regions.iter().zip(&mut planes) {
            let (_, from) = rest.split_at_mut(region.start - consumed);
            let (piece, after) = from.split_at_mut(region.len());
            planes.push(piece);
            rest = after;
            consumed = region.end;
        }
    }
    planes.into_iter().map(Mutex::new).collect()
}

/// The curve of a crossfade transition.
fn crossfade_curve(transition: Transition) -> FadeCurve {
    match transition {
        Transition::Crossfade { curve, .. } => curve,
        Transition::Gap { .. } => FadeCurve::Linear,
    }
}

/// Fades a track's head in over the crossfade into it and its tail out over the one out of
/// it: the two tracks' gains at each shared sample are the curve at x and at 1 − x.
fn crossfade_shape(
    samples: &mut [f32],
    fade_in: Option<(usize, FadeCurve)>,
    fade_out: Option<(usize, FadeCurve)>,
) {
    if let Some((frames, curve)) = fade_in {
        for (j, x) in samples[..frames].iter_mut().enumerate() {
            *x = (f64::from(*x) * curve.gain(j as f64 / frames as f64)) as f32;
        }
    }
    if let Some((frames, curve)) = fade_out {
        let from = samples.len() - frames;
        for (j, x) in samples[from..].iter_mut().enumerate() {
            *x = (f64::from(*x) * curve.gain(1.0 - j as f64 / frames as f64)) as f32;
        }
    }
}

/// Each track file's stretch of the stored sequence, measured (on the strict true-peak
/// meter too where the ceiling is held on it), two files at a time: the numbers its QC states
/// and the peaks held to the ceiling (a trim's hard edge rings against the silence beside it,
/// and the files together hold every sample of the sequence).
fn measure_files(
    exact: &AudioBuffer,
    layout: &SequenceLayout,
    meter: TruePeakMode,
    join: &impl Join,
    cancel: &AtomicBool,
) -> Result<Vec<Loudness>, SequenceError> {
    let frames = |n: usize| layout.tracks[n].file().len();
    each_in_parallel(0..layout.tracks.len(), join, frames, &|n| {
        check_cancel(cancel)?;
        // Measured where it lies in the sequence, not copied out.
        let file: Vec<&[f32]> = exact
            .channels()
            .iter()
            .map(|c| &c[layout.tracks[n].file()])
            .collect();
        let rate = exact.sample_rate();
        let mut measured = loudness::measure_channels(&file, exact.roles(), rate, &Sequential);
        if meter == TruePeakMode::Strict {
            measured.strict_true_peak_dbtp = strict_true_peak_dbtp(&file, rate, &Sequential);
        }
        Ok(measured)
    })
    .into_iter()
    .collect()
}

/// A copy of `frames` of `audio`.
pub fn slice(audio: &AudioBuffer, frames: Range<usize>) -> AudioBuffer {
    AudioBuffer::with_roles(
        audio.sample_rate(),
        audio.roles().to_vec(),
        audio
            .channels()
            .iter()
            .map(|c| c[frames.clone()].to_vec())
            .collect(),
    )
    .expect("a stretch of a valid buffer")
}

impl Album {
    /// Track `n`'s chain at `target_lufs`: its own or the album's, the limiter on at the
    /// album's ceiling, its trims and fades in the output stage.
    pub fn track_chain(&self, n: usize, target_lufs: f64) -> ChainSettings {
        let track = &self.tracks[n];
        let mut settings = track.chain.clone().unwrap_or_else(|| self.chain.clone());
        settings.limiter.bypass = false;
        settings.limiter.target_lufs =
            Some(target_lufs.clamp(LOWEST_LEVEL_LUFS, HIGHEST_LEVEL_LUFS));
        settings.limiter.ceiling_dbtp = self.loudness.ceiling_dbtp;
        settings.output = self.output_of(n);
        settings
    }

    /// Track `n`'s trims and fades as the chain's output stage.
    pub fn output_of(&self, n: usize) -> OutputSettings {
        let edit = &self.tracks[n].edit;
        OutputSettings {
            bypass: false,
            trim_start_s: edit.trim_start_s,
            trim_end_s: edit.trim_end_s,
            fade_in_s: edit.fade_in_s,
            fade_out_s: edit.fade_out_s,
            fade_in_curve: edit.fade_in_curve,
            fade_out_curve: edit.fade_out_curve,
        }
    }
}

impl super::TrackEdit {
    /// The trims and fades of a chain's output stage (the other way from
    /// [`Album::output_of`]).
    pub fn of_output(output: &OutputSettings) -> Self {
        Self {
            trim_start_s: output.trim_start_s,
            trim_end_s: output.trim_end_s,
            fade_in_s: output.fade_in_s,
            fade_out_s: output.fade_out_s,
            fade_in_curve: output.fade_in_curve,
            fade_out_curve: output.fade_out_curve,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::parallel::ScopedThreads;

    #[test]
    fn every_index_runs_once_heaviest_first_and_comes_back_in_order() {
        let weights = [3, 9, 1, 9, 5, 0, 7];
        let taken = Mutex::new(Vec::new());
        let results = each_in_parallel(2..9, &ScopedThreads, |n| weights[n - 2], &|n| {
            taken.lock().expect("not poisoned").push(n);
            n * 10
        });
        assert_eq!(results, (2..9).map(|n| n * 10).collect::<Vec<_>>());
        let mut taken = taken.into_inner().expect("not poisoned");
        taken.sort_unstable();
        assert_eq!(taken, (2..9).collect::<Vec<_>>());
        // One worker takes them in its order: heaviest first, ties in index order.
        let order = Mutex::new(Vec::new());
        each_in_parallel(2..9, &Sequential, |n| weights[n - 2], &|n| {
            order.lock().expect("not poisoned").push(n);
        });
        assert_eq!(
            order.into_inner().expect("not poisoned"),
            [3, 5, 8, 6, 2, 4, 7]
        );
    }

    #[test]
    fn tracks_that_overlap_share_a_region_and_the_others_have_their_own() {
        let placed = |start: usize, frames: usize, crossfade_after: usize| Placement {
            start,
            index: start,
            frames,
            gap_after: 0,
            crossfade_after,
            file_start: start,
            file_end: start + frames,
        };
        let layout = SequenceLayout {
            sample_rate: 44_100,
            channels: 2,
            total_frames: 1_000,
            // A gap, a crossfade, then back to back.
            tracks: vec![
                placed(0, 100, 0),
                placed(150, 200, 50),
                placed(300, 300, 0),
                placed(600, 400, 0),
            ],
        };
        let (regions, region_of) = shared_regions(&layout);
        assert_eq!(regions, [0..100, 150..600, 600..1_000]);
        assert_eq!(region_of, [0, 1, 1, 2]);
        let mut timeline = vec![vec![0.0f32; 1_000]; 2];
        let planes = split_regions(&mut timeline, &regions);
        for (plane, region) in planes.iter().zip(&regions) {
            let mut plane = plane.lock().expect("not poisoned");
            assert_eq!(plane.len(), 2);
            for channel in plane.iter_mut() {
                assert_eq!(channel.len(), region.len());
                channel.fill(1.0);
            }
        }
        drop(planes);
        let ones: Vec<usize> = (0..1_000).filter(|&i| timeline[1][i] == 1.0).collect();
        assert_eq!(ones, (0..100).chain(150..1_000).collect::<Vec<_>>());
    }
}
