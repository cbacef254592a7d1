//! The album's loudness overview: every track and the whole sequence as stored, the joins
//! between them, and what the engineer must hear about (a level not reached, a peak over, one
//! track limited much harder than the rest), as data and as text.

use serde::Serialize;

use super::LoudnessMode;
use super::sequence::{
    ALBUM_TOLERANCE_LU, HIGHEST_LEVEL_LUFS, LOWEST_LEVEL_LUFS, LoudnessPlan, MixFacts,
    RenderedTrack, SequenceLayout, SequenceRequest,
};
use crate::export::Prepared;
use crate::loudness::Loudness;
use crate::render::HEAVY_LIMITING_DB;

/// Peak limiting this much above the album's median is named: the track pays for its level.
const UNEVEN_LIMITING_DB: f64 = 3.0;

/// What became of one track in the sequence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrackOverview {
    pub number: usize,
    pub title: String,
    /// Where its audio starts on the album's timeline, and how long it is (s).
    pub start_s: f64,
    /// Where it starts for a player (its CUE INDEX 01; its audio's start but after a join
    /// without a gap on an aligned album).
    pub index_s: f64,
    pub duration_s: f64,
    /// Its file's stretch of the timeline (s).
    pub file_start_s: f64,
    pub file_duration_s: f64,
    pub mix_lufs: Option<f64>,
    pub offset_lu: f64,
    pub offset_from_mix: bool,
    pub target_lufs: f64,
    /// Measured on its file as stored (a short track followed by a gap reads a little lower
    /// than on its own: the gating blocks that reach into the silence).
    pub integrated_lufs: Option<f64>,
    /// Its level as rendered, on its own (after its limiter and fades, before a crossfade
    /// blends it with a neighbour): what its level and offset are judged on.
    pub rendered_lufs: Option<f64>,
    pub lra_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub sample_peak_dbfs: Option<f64>,
    /// Its level as rendered against the album's integrated loudness.
    pub relative_to_album_lu: Option<f64>,
    /// The most gain reduction its limiter applied (dB).
    pub peak_reduction_db: Option<f64>,
    /// Its level reached within [`ALBUM_TOLERANCE_LU`], and its peak under the ceiling.
    pub passed: bool,
    pub notes: Vec<String>,
}

/// A join between two tracks as rendered.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransitionOverview {
    /// The track it follows (1-based).
    pub after_track: usize,
    #[serde(rename = "kind")]
    pub kind: &'static str,
    pub seconds: f64,
    pub frames: usize,
    /// A crossfade's true-peak limiting (dB).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limiter_reduction_db: Option<f64>,
}

/// The album's loudness overview: every track and the whole sequence, measured on the samples
/// as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlbumOverview {
    pub title: String,
    pub artist: String,
    pub mode: LoudnessMode,
    pub target_lufs: f64,
    pub ceiling_dbtp: f64,
    pub true_peak_meter: &'static str,
    pub sample_rate: u32,
    pub channels: usize,
    pub format: String,
    pub total_s: f64,
    /// Over the whole sequence (the gaps' silence falls under the gate).
    pub album_integrated_lufs: Option<f64>,
    pub album_lra_lu: Option<f64>,
    pub album_true_peak_dbtp: Option<f64>,
    pub mixes_album_lufs: Option<f64>,
    pub album_shift_lu: f64,
    pub tracks: Vec<TrackOverview>,
    pub transitions: Vec<TransitionOverview>,
    pub warnings: Vec<String>,
    pub notes: Vec<String>,
    /// Renders of the sequence it took (1 when the first met the loudness and the ceiling).
    pub renders: usize,
    pub passed: bool,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn overview(
    request: &SequenceRequest<'_>,
    layout: &SequenceLayout,
    plan: &LoudnessPlan,
    mixes: &[MixFacts],
    rendered: &[RenderedTrack],
    crossfade_reduction_db: &[Option<f64>],
    prepared: &Prepared,
    file_loudness: &[Loudness],
    peaks: &[Option<f64>],
    renders: usize,
    notes: Vec<String>,
) -> AlbumOverview {
    let album = request.album;
    let ceiling = album.loudness.ceiling_dbtp;
    let meter = album.chain.limiter.true_peak;
    let album_lufs = prepared.measured.integrated_lufs;
    let mut warnings = Vec::new();
    let reductions: Vec<f64> = rendered
        .iter()
        .filter_map(|r| r.limiter.as_ref().map(|l| l.peak_reduction_db))
        .collect();
    let median = median(&reductions);
    let tracks: Vec<TrackOverview> = (0..album.tracks.len())
        .map(|n| {
            let placed = &layout.tracks[n];
            let measured = &file_loudness[n];
            let planned = &plan.tracks[n];
            let limiter = rendered[n].limiter.as_ref();
            let title = album.tracks[n].title.clone();
            let mut notes: Vec<String> = mixes[n].warnings.clone();
            notes.extend(
                rendered[n]
                    .disabled_for_mono
                    .iter()
                    .map(|f| format!("Mono source: the {f} had nothing to act on.")),
            );
            let peak = peaks[n];
            let rendered_lufs = limiter
                .and_then(|l| l.integrated_after_lufs)
                .or(measured.integrated_lufs);
            let level_miss = rendered_lufs.map(|lufs| lufs - planned.target_lufs);
            let level_kept = level_miss.is_some_and(|miss| miss.abs() <= ALBUM_TOLERANCE_LU);
            let under_ceiling = peak.is_none_or(|p| p <= ceiling);
            if !level_kept {
                let reason = limiter
                    .and_then(|l| l.shortfall_lu)
                    .filter(|s| *s > 0.0)
                    .map_or_else(String::new, |short| {
                        format!(
                            ": the limiter would need more than its {:.1} dB of reduction (short \
                             by {short:.1} LU)",
                            album.chain.limiter.max_reduction_db
                        )
                    });
                warnings.push(format!(
                    "Track {} ({title}) measures {} against its level of {:.1} LUFS{reason}.",
                    n + 1,
                    level_miss.map_or("silent".to_owned(), |m| format!("{m:+.2} LU")),
                    planned.target_lufs
                ));
            }
            let planned_target = planned.target_lufs;
            if !(LOWEST_LEVEL_LUFS..=HIGHEST_LEVEL_LUFS).contains(&planned_target) {
                warnings.push(format!(
                    "Track {} ({title})'s level, {planned_target:.1} LUFS, is outside the {:.0} to \
                     {:.0} LUFS the limiter works to: set its offset, or the album's target.",
                    n + 1,
                    LOWEST_LEVEL_LUFS,
                    HIGHEST_LEVEL_LUFS
                ));
            }
            if !under_ceiling {
                warnings.push(format!(
                    "Track {} ({title}) peaks at {:.2} dBTP, over the {ceiling:.1} dBTP ceiling.",
                    n + 1,
                    peak.unwrap_or(f64::NAN)
                ));
            }
            if let (Some(l), Some(median)) = (limiter, median)
                && reductions.len() > 1
                && l.peak_reduction_db >= HEAVY_LIMITING_DB
                && l.peak_reduction_db - median >= UNEVEN_LIMITING_DB
            {
                warnings.push(format!(
                    "Track {} ({title}) takes {:.1} dB of peak limiting to sit at its level, \
                     {:.1} dB more than the album's median ({median:.1} dB): lower its offset \
                     or revisit its mix; an album's normalization keeps what the limiter took.",
                    n + 1,
                    l.peak_reduction_db,
                    l.peak_reduction_db - median
                ));
            }
            TrackOverview {
                number: n + 1,
                title,
                start_s: layout.seconds(placed.start),
                index_s: layout.seconds(placed.index),
                duration_s: layout.seconds(placed.frames),
                file_start_s: layout.seconds(placed.file_start),
                file_duration_s: layout.seconds(placed.file_end - placed.file_start),
                mix_lufs: mixes[n].integrated_lufs,
                offset_lu: planned.offset_lu,
                offset_from_mix: planned.offset_from_mix,
                target_lufs: planned.target_lufs,
                integrated_lufs: measured.integrated_lufs,
                rendered_lufs,
                lra_lu: measured.lra_lu,
                true_peak_dbtp: peak,
                sample_peak_dbfs: measured.sample_peak_dbfs,
                relative_to_album_lu: rendered_lufs.zip(album_lufs).map(|(t, a)| t - a),
                peak_reduction_db: limiter.map(|l| l.peak_reduction_db),
                passed: level_kept && under_ceiling,
                notes,
            }
        })
        .collect();
    let album_met = match album.loudness.mode {
        LoudnessMode::PerTrack => true,
        LoudnessMode::Album => album_lufs
            .is_some_and(|lufs| (lufs - album.loudness.target_lufs).abs() <= ALBUM_TOLERANCE_LU),
    };
    if !album_met {
        warnings.push(format!(
            "The album measures {} against its {:.1} LUFS target.",
            album_lufs.map_or("silent".to_owned(), |l| format!("{l:.2} LUFS")),
            album.loudness.target_lufs
        ));
    }
    let transitions = layout
        .tracks
        .iter()
        .enumerate()
        .take(layout.tracks.len().saturating_sub(1))
        .map(|(n, placed)| {
            let (kind, frames) = if placed.crossfade_after > 0 {
                ("crossfade", placed.crossfade_after)
            } else {
                ("gap", placed.gap_after)
            };
            TransitionOverview {
                after_track: n + 1,
                kind,
                seconds: layout.seconds(frames),
                frames,
                limiter_reduction_db: crossfade_reduction_db[n],
            }
        })
        .collect();
    AlbumOverview {
        title: album.metadata.title.clone(),
        artist: album.metadata.artist.clone(),
        mode: album.loudness.mode,
        target_lufs: album.loudness.target_lufs,
        ceiling_dbtp: ceiling,
        true_peak_meter: meter.meter(),
        sample_rate: layout.sample_rate,
        channels: layout.channels,
        format: request.format.describe(),
        total_s: layout.seconds(layout.total_frames),
        album_integrated_lufs: album_lufs,
        album_lra_lu: prepared.measured.lra_lu,
        album_true_peak_dbtp: prepared.measured.true_peak_dbtp,
        mixes_album_lufs: plan.mixes_album_lufs,
        album_shift_lu: plan.album_shift_lu,
        passed: album_met && tracks.iter().all(|t| t.passed),
        tracks,
        transitions,
        warnings,
        notes,
        renders,
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some(0.5 * (sorted[n / 2 - 1] + sorted[n / 2])),
    }
}

/// `m:ss.ss` (or `h:mm:ss.ss`).
pub fn clock(seconds: f64) -> String {
    let hundredths = (seconds.max(0.0) * 100.0).round() as u64;
    let (h, rest) = (hundredths / 360_000, hundredths % 360_000);
    let (m, rest) = (rest / 6_000, rest % 6_000);
    let (s, cs) = (rest / 100, rest % 100);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}.{cs:02}")
    } else {
        format!("{m}:{s:02}.{cs:02}")
    }
}

fn number(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.decimals$}"))
}

fn signed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:+.decimals$}"))
}

impl AlbumOverview {
    /// The overview for a terminal: a line per track, the joins, the album, what to hear
    /// about, and the verdict.
    pub fn text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let mode = match self.mode {
            LoudnessMode::Album => format!(
                "album loudness {:.1} LUFS over the whole sequence, tracks at their offsets",
                self.target_lufs
            ),
            LoudnessMode::PerTrack => format!("each track at {:.1} LUFS", self.target_lufs),
        };
        let by = if self.artist.is_empty() {
            String::new()
        } else {
            format!(" — {}", self.artist)
        };
        let _ = writeln!(out, "{}{by}", self.title);
        let _ = writeln!(
            out,
            "{mode}; ceiling {:.1} dBTP ({}); {}, {} Hz, {}",
            self.ceiling_dbtp,
            self.true_peak_meter,
            self.format,
            self.sample_rate,
            if self.channels == 1 { "mono" } else { "stereo" }
        );
        let _ = writeln!(
            out,
            "\n {:>2}  {:<24} {:>9} {:>9}  {:>6} {:>7} {:>7} {:>7} {:>8} {:>5} {:>7} {:>6}",
            "#",
            "title",
            "start",
            "length",
            "mix",
            "offset",
            "target",
            "LUFS",
            "vs album",
            "LRA",
            "dBTP",
            "limit"
        );
        for t in &self.tracks {
            let title: String = t.title.chars().take(24).collect();
            let _ = writeln!(
                out,
                " {:>2}  {:<24} {:>9} {:>9}  {:>6} {:>6}{} {:>7.1} {:>7} {:>8} {:>5} {:>7} {:>6}{}",
                t.number,
                title,
                clock(t.start_s),
                clock(t.duration_s),
                number(t.mix_lufs, 1),
                format!("{:+.1}", t.offset_lu),
                if t.offset_from_mix { "m" } else { " " },
                t.target_lufs,
                number(t.rendered_lufs, 2),
                signed(t.relative_to_album_lu, 2),
                number(t.lra_lu, 1),
                number(t.true_peak_dbtp, 2),
                number(t.peak_reduction_db, 1),
                if t.passed { "" } else { "  ✗" }
            );
        }
        if self.tracks.iter().any(|t| t.offset_from_mix) {
            let _ = writeln!(
                out,
                "   (m: the mix's own loudness against the mixes' album, {} LUFS)",
                number(self.mixes_album_lufs, 1)
            );
        }
        if !self.transitions.is_empty() {
            let joins: Vec<String> = self
                .transitions
                .iter()
                .map(|j| {
                    let limited = j
                        .limiter_reduction_db
                        .map_or_else(String::new, |db| format!(", limited {db:.1} dB"));
                    format!(
                        "{}→{} {} {:.2} s{limited}",
                        j.after_track,
                        j.after_track + 1,
                        j.kind,
                        j.seconds
                    )
                })
                .collect();
            let _ = writeln!(out, "\njoins: {}", joins.join("; "));
        }
        let shift = match self.mode {
            LoudnessMode::Album => format!(
                "; every track moved {:+.2} LU to meet it",
                self.album_shift_lu
            ),
            LoudnessMode::PerTrack => String::new(),
        };
        let _ = writeln!(
            out,
            "album: {} LUFS over {}, LRA {} LU, true peak {} dBTP{shift}",
            number(self.album_integrated_lufs, 2),
            clock(self.total_s),
            number(self.album_lra_lu, 1),
            number(self.album_true_peak_dbtp, 2),
        );
        if self.renders > 1 {
            let _ = writeln!(
                out,
                "rendered {} times to meet the loudness and the ceiling",
                self.renders
            );
        }
        for note in self.tracks.iter().flat_map(|t| {
            t.notes
                .iter()
                .map(move |n| format!("track {}: {n}", t.number))
        }) {
            let _ = writeln!(out, "note: {note}");
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        let _ = writeln!(out, "{}", if self.passed { "PASS" } else { "FAIL" });
        out
    }
}
