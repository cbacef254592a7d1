//! Loudness and peaks per ITU-R BS.1770-4 / EBU R 128: integrated loudness, loudness range
//! (EBU Tech 3342), momentary and short-term histories, sample and true peaks.
//!
//! One pass per channel: K-weighted energy is summed per 10 ms segment; every window
//! (400 ms momentary and gating blocks, 3 s short-term) is then a sum of whole segments. This
//! gives the 10 ms momentary history at no extra cost, where querying a streaming meter every
//! 10 ms would re-sum 400 ms of audio each time.

pub mod kweight;
pub mod live;
mod stream;
pub mod true_peak;

use serde::Serialize;

use crate::audio::AudioBuffer;
use crate::parallel::{Join, Sequential};
use crate::units::{amp_to_db, finite};
use kweight::{
    Biquad, KState, k_weighting, weighted_segment_energy, weighted_segment_energy_from,
    weighted_segment_energy_pair,
};
pub use stream::ProgrammeMeter;
use true_peak::TruePeakMeter;

/// Segments per second: the resolution of every window and of the momentary history.
pub const SEGMENTS_PER_S: u32 = 100;
const MOMENTARY_SEGMENTS: usize = 40; // 400 ms
/// One gating block's length (s): audio shorter than it has no integrated loudness.
pub const GATING_BLOCK_S: f64 = MOMENTARY_SEGMENTS as f64 / SEGMENTS_PER_S as f64;
const SHORT_TERM_SEGMENTS: usize = 300; // 3 s
const GATING_STEP_SEGMENTS: usize = 10; // 100 ms: 75 % overlap of 400 ms blocks
const ABSOLUTE_GATE_LUFS: f64 = -70.0;
const RELATIVE_GATE_LU: f64 = -10.0;
const LRA_RELATIVE_GATE_LU: f64 = -20.0;

/// Peaks of one channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChannelPeaks {
    pub sample_peak_dbfs: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
}

/// Everything BS.1770 / R 128 says about a programme. `None` means undefined (silence, or too
/// short for the window), never NaN.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Loudness {
    pub integrated_lufs: Option<f64>,
    pub lra_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    /// The strict meter's reading (`true_peak::StrictTruePeakMeter`), where it was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strict_true_peak_dbtp: Option<f64>,
    pub sample_peak_dbfs: Option<f64>,
    pub momentary_max_lufs: Option<f64>,
    pub short_term_max_lufs: Option<f64>,
    pub channels: Vec<ChannelPeaks>,
    /// Momentary loudness every 10 ms; entry `i` is the window ending at `(i + 40) × 10 ms`.
    pub momentary: Vec<f32>,
    /// Short-term loudness every 100 ms; entry `i` is the window ending at `3 s + i × 100 ms`.
    pub short_term: Vec<f32>,
    /// Largest true peak (linear) of all channels in each 10 ms segment: where overs happen.
    pub true_peak_segments: Vec<f32>,
}

impl Loudness {
    /// Peak-to-loudness ratio: true peak minus integrated loudness.
    pub fn plr_db(&self) -> Option<f64> {
        Some(self.true_peak_dbtp? - self.integrated_lufs?)
    }

    /// `(seconds, lufs)` points of the momentary history, seconds being the window's end.
    pub fn momentary_series(&self) -> Vec<(f64, Option<f64>)> {
        series(&self.momentary, MOMENTARY_SEGMENTS, 1)
    }

    /// `(seconds, lufs)` points of the short-term history, seconds being the window's end.
    pub fn short_term_series(&self) -> Vec<(f64, Option<f64>)> {
        series(&self.short_term, SHORT_TERM_SEGMENTS, GATING_STEP_SEGMENTS)
    }
}

fn series(values: &[f32], first_segments: usize, step: usize) -> Vec<(f64, Option<f64>)> {
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let end_s = (first_segments + i * step) as f64 / f64::from(SEGMENTS_PER_S);
            (end_s, finite(f64::from(v)))
        })
        .collect()
}

/// Where each 10 ms segment ends (exclusive frame index); the last one may be shorter.
pub fn segment_ends(frames: usize, sample_rate: u32) -> Vec<usize> {
    let rate = u64::from(sample_rate);
    let per = u64::from(SEGMENTS_PER_S);
    let count = (frames as u64 * per).div_ceil(rate) as usize;
    (1..=count)
        .map(|k| ((k as u64 * rate + per / 2) / per).min(frames as u64) as usize)
        .collect()
}

/// How many 10 ms segments are whole: a final segment cut short by the end of the audio does
/// not complete a window (399.98 ms of audio has no 400 ms momentary value).
fn complete_segments(frames: usize, sample_rate: u32) -> usize {
    (frames as u64 * u64::from(SEGMENTS_PER_S) / u64::from(sample_rate)) as usize
}

/// Measures a whole programme on the calling thread.
pub fn measure(audio: &AudioBuffer) -> Loudness {
    measure_with(audio, &Sequential)
}

/// Measures a whole programme, running the K-weighted loudness and each channel's true peak
/// as independent pieces of work through `join`.
pub fn measure_with(audio: &AudioBuffer, join: &impl Join) -> Loudness {
    measure_channels(audio.channels(), audio.roles(), audio.sample_rate(), join)
}

/// [`measure_with`] of planar channels held elsewhere (a stretch of a longer programme, measured
/// where it lies instead of copied out).
pub fn measure_channels<C: AsRef<[f32]> + Sync>(
    channels: &[C],
    roles: &[crate::audio::ChannelRole],
    rate: u32,
    join: &impl Join,
) -> Loudness {
    let frames = channels.first().map_or(0, |c| c.as_ref().len());
    let ends = segment_ends(frames, rate);
    let (energy, peaks) = join.join(
        || weighted_energy_of(channels, roles, rate, &ends),
        || channel_peaks(channels, rate, &ends, join),
    );
    assemble(frames, rate, &ends, &energy, peaks)
}

/// The K-weighted energy of a whole programme, per 10 ms segment: its loudness, before its
/// peaks are known ([`measure_joined`]).
#[derive(Debug, Clone)]
pub struct ProgrammeEnergy {
    frames: usize,
    rate: u32,
    ends: Vec<usize>,
    energy: Vec<f64>,
}

impl ProgrammeEnergy {
    pub fn measure<C: AsRef<[f32]>>(
        channels: &[C],
        roles: &[crate::audio::ChannelRole],
        rate: u32,
    ) -> Self {
        let frames = channels.first().map_or(0, |c| c.as_ref().len());
        let ends = segment_ends(frames, rate);
        let energy = weighted_energy_of(channels, roles, rate, &ends);
        Self {
            frames,
            rate,
            ends,
            energy,
        }
    }
}

/// [`measure_channels`] of a programme whose parts, stretches that follow one another and
/// together hold every frame, were measured already (an album's sequence and its track files):
/// `parts` gives each one's first frame and its measurement, in order, and `energy` is the
/// whole's ([`ProgrammeEnergy::measure`], which can run beside the parts' measurement). The
/// loudness is the whole's, whose gating blocks lie across the joins; the peaks are the parts'
/// and, where a true-peak window spans a join, the whole's around it. The figures are those of
/// measuring the whole, without a second true-peak pass over it: to the bit in the tests; the
/// true peak can differ, within the meter's accuracy, only where the highest point falls
/// exactly where one of the two readings cut its pieces (the meter refines a point there
/// without one of its neighbours). The true peaks per 10 ms
/// segment are the parts' laid onto the whole's segments (a segment a part's segment
/// straddles takes its value, and one by a join the join's).
///
/// # Panics
/// When the parts do not start at frame 0 and follow one another in order, or `energy` is not
/// of `channels`.
pub fn measure_joined<C: AsRef<[f32]> + Sync>(
    energy: &ProgrammeEnergy,
    channels: &[C],
    parts: &[(usize, &Loudness)],
) -> Loudness {
    let ProgrammeEnergy {
        frames,
        rate,
        ref ends,
        ref energy,
    } = *energy;
    assert_eq!(
        channels.first().map_or(0, |c| c.as_ref().len()),
        frames,
        "the energy is of these channels"
    );
    assert!(
        parts.first().is_none_or(|(start, _)| *start == 0)
            && parts
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[1].0 <= frames),
        "the parts start at frame 0 and follow one another"
    );
    let joins: Vec<usize> = parts
        .iter()
        .map(|(start, _)| *start)
        .filter(|&start| start > 0 && start < frames)
        .collect();
    let join_peaks: Vec<Vec<f32>> = channels
        .iter()
        .map(|c| {
            joins
                .iter()
                .map(|&at| true_peak_across(c.as_ref(), at, rate))
                .collect()
        })
        .collect();
    let segment_of = |frame: usize| ends.partition_point(|&end| end <= frame);
    let mut segments = vec![0.0f32; ends.len()];
    let mut lay = |from: usize, to: usize, peak: f32| {
        if from < to {
            let last = segment_of(to - 1).min(segments.len().saturating_sub(1));
            for segment in &mut segments[segment_of(from).min(last)..=last] {
                *segment = segment.max(peak);
            }
        }
    };
    for (n, (start, measured)) in parts.iter().enumerate() {
        let end = parts.get(n + 1).map_or(frames, |(next, _)| *next);
        let part_ends = segment_ends(end - start, rate);
        let mut from = *start;
        for (&part_end, &peak) in part_ends.iter().zip(&measured.true_peak_segments) {
            lay(from, start + part_end, peak);
            from = start + part_end;
        }
    }
    for (j, &at) in joins.iter().enumerate() {
        let peak = join_peaks.iter().map(|c| c[j]).fold(0.0f32, f32::max);
        lay(
            at.saturating_sub(ACROSS_JOIN),
            (at + ACROSS_JOIN).min(frames),
            peak,
        );
    }
    let larger = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let peaks = (0..channels.len())
        .map(|c| {
            let mut peaks = ChannelPeaks {
                sample_peak_dbfs: None,
                true_peak_dbtp: None,
            };
            for (_, measured) in parts {
                if let Some(part) = measured.channels.get(c) {
                    peaks.sample_peak_dbfs = larger(peaks.sample_peak_dbfs, part.sample_peak_dbfs);
                    peaks.true_peak_dbtp = larger(peaks.true_peak_dbtp, part.true_peak_dbtp);
                }
            }
            for &peak in &join_peaks[c] {
                peaks.true_peak_dbtp =
                    larger(peaks.true_peak_dbtp, finite(amp_to_db(f64::from(peak))));
            }
            (peaks, segments.clone())
        })
        .collect();
    assemble(frames, rate, ends, energy, peaks)
}

/// Frames each side of a join whose true peak [`measure_joined`] reads from the whole: every
/// interpolation window that spans the join, with room for the refinement's neighbours.
const ACROSS_JOIN: usize = 4 * true_peak::PRECISE_TAPS;

/// The true peak (linear) of the points around frame `at` of `samples`, read as a meter that
/// has run from well before it reads them: the stretch before is only the meter's history.
fn true_peak_across(samples: &[f32], at: usize, rate: u32) -> f32 {
    let from = at.saturating_sub(ACROSS_JOIN);
    let to = (at + ACROSS_JOIN).min(samples.len());
    let mut meter = TruePeakMeter::new(rate);
    let (history, _) = meter.chunk_peaks(&samples[from.saturating_sub(ACROSS_JOIN)..from], 0.0);
    meter.chunk_peaks(&samples[from..to], history).0
}

/// Makes and measures a programme in one go: `make(channel, samples)` turns each 10 ms
/// segment of each channel into what is measured (the export's dither and rounding), and the
/// segment's peaks are read at once, while it is still in cache, instead of in another pass
/// over the whole programme. The result is [`measure`] of the made samples.
pub fn make_and_measure(
    channels: &mut [Vec<f32>],
    roles: &[crate::audio::ChannelRole],
    rate: u32,
    mut make: impl FnMut(usize, &mut [f32]),
) -> Loudness {
    let frames = channels.first().map_or(0, Vec::len);
    let ends = segment_ends(frames, rate);
    let peaks = channels
        .iter_mut()
        .enumerate()
        .map(|(c, samples)| {
            let mut track = PeakTrack::new(rate, ends.len());
            let mut start = 0;
            for &end in &ends {
                let segment = &mut samples[start..end];
                make(c, segment);
                track.push_segment(segment);
                start = end;
            }
            track.finish()
        })
        .collect();
    let energy = weighted_energy_of(channels, roles, rate, &ends);
    assemble(frames, rate, &ends, &energy, peaks)
}

/// The whole programme's figures from its segments' energies and each channel's peaks.
fn assemble(
    frames: usize,
    rate: u32,
    ends: &[usize],
    energy: &[f64],
    peaks: Vec<(ChannelPeaks, Vec<f32>)>,
) -> Loudness {
    let (channels, segment_peaks): (Vec<ChannelPeaks>, Vec<Vec<f32>>) = peaks.into_iter().unzip();
    let mut true_peak_segments = vec![0.0f32; ends.len()];
    for channel in &segment_peaks {
        for (all, &p) in true_peak_segments.iter_mut().zip(channel) {
            *all = all.max(p);
        }
    }
    let max_of = |f: fn(&ChannelPeaks) -> Option<f64>| {
        channels
            .iter()
            .filter_map(f)
            .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
    };

    let windows = Windows::new(energy, ends, complete_segments(frames, rate));
    let momentary = windows.history(MOMENTARY_SEGMENTS, 1);
    let short_term = windows.history(SHORT_TERM_SEGMENTS, GATING_STEP_SEGMENTS);
    let gating_blocks = windows.mean_powers(MOMENTARY_SEGMENTS, GATING_STEP_SEGMENTS);
    let short_term_powers = windows.mean_powers(SHORT_TERM_SEGMENTS, GATING_STEP_SEGMENTS);
    let max_lufs = |h: &[f32]| {
        h.iter()
            .map(|&v| f64::from(v))
            .filter(|v| v.is_finite())
            .reduce(f64::max)
    };

    Loudness {
        integrated_lufs: integrated(&gating_blocks),
        lra_lu: loudness_range(&short_term_powers),
        true_peak_dbtp: max_of(|c| c.true_peak_dbtp),
        strict_true_peak_dbtp: None,
        sample_peak_dbfs: max_of(|c| c.sample_peak_dbfs),
        momentary_max_lufs: max_lufs(&momentary),
        short_term_max_lufs: max_lufs(&short_term),
        channels,
        momentary,
        short_term,
        true_peak_segments,
    }
}

/// Integrated loudness only (no peaks, no history): what the loudness-target solver needs on
/// each of its trials.
pub fn integrated_lufs(audio: &AudioBuffer) -> Option<f64> {
    integrated_lufs_of(audio.channels(), audio.roles(), audio.sample_rate())
}

/// [`integrated_lufs`] of planar channels held elsewhere (a render's working buffers).
pub fn integrated_lufs_of(
    channels: &[impl AsRef<[f32]>],
    roles: &[crate::audio::ChannelRole],
    rate: u32,
) -> Option<f64> {
    let frames = channels.first().map_or(0, |c| c.as_ref().len());
    let ends = segment_ends(frames, rate);
    let energy = weighted_energy_of(channels, roles, rate, &ends);
    let windows = Windows::new(&energy, &ends, complete_segments(frames, rate));
    integrated(&windows.mean_powers(MOMENTARY_SEGMENTS, GATING_STEP_SEGMENTS))
}

/// The BS.1770 gating blocks' mean powers (400 ms every 100 ms, K-weighted, channel
/// weights applied): what an album's loudness is integrated over when tracks are joined.
pub fn gating_block_powers(audio: &AudioBuffer) -> Vec<f64> {
    let rate = audio.sample_rate();
    let frames = audio.frames();
    let ends = segment_ends(frames, rate);
    let energy = weighted_energy_of(audio.channels(), audio.roles(), rate, &ends);
    let windows = Windows::new(&energy, &ends, complete_segments(frames, rate));
    windows.mean_powers(MOMENTARY_SEGMENTS, GATING_STEP_SEGMENTS)
}

/// BS.1770 gated integrated loudness of gating blocks' powers (from several programmes
/// joined, for one): None below the absolute gate.
pub fn gated_lufs(block_powers: &[f64]) -> Option<f64> {
    integrated(block_powers)
}

/// Integrated loudness of mono or stereo audio that arrives in blocks, without holding it:
/// what the loudness-target solver measures each trial with. Gives what [`integrated_lufs`]
/// gives for the same audio (up to rounding where a block splits a 10 ms segment).
#[derive(Debug, Clone)]
pub struct IntegratedMeter {
    rate: u32,
    filters: [Biquad; 2],
    weights: [f64; 2],
    state: [KState; 2],
    /// Energy of every finished segment, and of the one in progress (last).
    energy: Vec<f64>,
    frames: usize,
    /// Where the segment in progress ends (absolute frame index).
    segment_end: usize,
}

impl IntegratedMeter {
    /// For `roles.len()` (1 or 2) channels at `rate`.
    pub fn new(rate: u32, roles: &[crate::audio::ChannelRole]) -> Self {
        let weight = |i: usize| roles.get(i).map_or(0.0, |r| r.loudness_weight());
        Self {
            rate,
            filters: k_weighting(rate),
            weights: [weight(0), weight(1)],
            state: [KState::default(); 2],
            energy: vec![0.0],
            frames: 0,
            segment_end: segment_end(1, rate),
        }
    }

    /// Takes the next block (planar, one or two channels).
    pub fn push(&mut self, block: &[&[f32]]) {
        let len = block.first().map_or(0, |c| c.len());
        let mut at = 0;
        while at < len {
            let take = (self.segment_end - self.frames).min(len - at);
            let Some(energy) = weigh_span(
                &mut self.state,
                self.weights,
                &self.filters,
                block,
                at..at + take,
            ) else {
                return;
            };
            if let Some(current) = self.energy.last_mut() {
                *current += energy;
            }
            self.frames += take;
            at += take;
            if self.frames == self.segment_end {
                self.energy.push(0.0);
                self.segment_end = segment_end(self.energy.len(), self.rate);
            }
        }
    }

    /// The integrated loudness of everything pushed (None below the −70 LUFS gate).
    pub fn finish(self) -> Option<f64> {
        let rate = self.rate;
        let (frames, ends, energy) = self.into_segments();
        let windows = Windows::new(&energy, &ends, complete_segments(frames, rate));
        integrated(&windows.mean_powers(MOMENTARY_SEGMENTS, GATING_STEP_SEGMENTS))
    }

    /// Frames pushed, where each 10 ms segment ends, and each segment's weighted energy.
    fn into_segments(mut self) -> (usize, Vec<usize>, Vec<f64>) {
        let ends = segment_ends(self.frames, self.rate);
        self.energy.truncate(ends.len());
        (self.frames, ends, self.energy)
    }
}

/// The weighted K-filtered energy of frames `range` of a mono or stereo block, continuing
/// each channel's filter state: the block-by-block step of [`IntegratedMeter`]. None for a
/// block without channels.
fn weigh_span(
    state: &mut [KState; 2],
    weights: [f64; 2],
    filters: &[Biquad; 2],
    block: &[&[f32]],
    range: std::ops::Range<usize>,
) -> Option<f64> {
    let span = [range.len()];
    let mut energy = [0.0];
    match block {
        [a, b, ..] => weighted_segment_energy_from(
            state,
            [&a[range.clone()], &b[range]],
            weights,
            filters,
            &span,
            &mut energy,
        ),
        [a] => {
            let mut one = [state[0]];
            weighted_segment_energy_from(
                &mut one,
                [&a[range]],
                [weights[0]],
                filters,
                &span,
                &mut energy,
            );
            state[0] = one[0];
        }
        [] => return None,
    }
    Some(energy[0])
}

/// The exclusive end of 10 ms segment `k` (counted from 1), as [`segment_ends`] places it.
fn segment_end(k: usize, sample_rate: u32) -> usize {
    let (rate, per) = (u64::from(sample_rate), u64::from(SEGMENTS_PER_S));
    ((k as u64 * rate + per / 2) / per) as usize
}

/// K-weighted energy per 10 ms segment, channels in pairs so their filters run side by side.
fn weighted_energy_of(
    channels: &[impl AsRef<[f32]>],
    roles: &[crate::audio::ChannelRole],
    rate: u32,
    ends: &[usize],
) -> Vec<f64> {
    let filters = k_weighting(rate);
    let mut energy = vec![0.0f64; ends.len()];
    let weighted: Vec<(usize, f64)> = (0..channels.len())
        .map(|i| (i, roles[i].loudness_weight()))
        .filter(|&(_, w)| w > 0.0)
        .collect();
    for pair in weighted.chunks(2) {
        match *pair {
            [(a, wa), (b, wb)] => weighted_segment_energy_pair(
                [channels[a].as_ref(), channels[b].as_ref()],
                [wa, wb],
                &filters,
                ends,
                rate as usize,
                &mut energy,
            ),
            [(a, wa)] => {
                weighted_segment_energy([channels[a].as_ref()], [wa], &filters, ends, &mut energy)
            }
            _ => {}
        }
    }
    energy
}

/// Sample and true peak of the given channels, with each one's true peak per segment; the
/// channels are split in halves through `join`.
fn channel_peaks<C: AsRef<[f32]> + Sync>(
    channels: &[C],
    rate: u32,
    ends: &[usize],
    join: &impl Join,
) -> Vec<(ChannelPeaks, Vec<f32>)> {
    match channels {
        [] => Vec::new(),
        [one] => vec![one_channel_peaks(one.as_ref(), rate, ends)],
        _ => {
            let (first, second) = channels.split_at(channels.len() / 2);
            let (mut a, b) = join.join(
                || channel_peaks(first, rate, ends, join),
                || channel_peaks(second, rate, ends, join),
            );
            a.extend(b);
            a
        }
    }
}

fn one_channel_peaks(samples: &[f32], rate: u32, ends: &[usize]) -> (ChannelPeaks, Vec<f32>) {
    let mut track = PeakTrack::new(rate, ends.len());
    let mut start = 0;
    for &end in ends {
        track.push_segment(&samples[start..end]);
        start = end;
    }
    track.finish()
}

/// One channel's sample and true peak, and its true peak per 10 ms segment, as the segments
/// arrive in order.
#[derive(Debug, Clone)]
struct PeakTrack {
    meter: TruePeakMeter,
    sample_peak: f32,
    true_peak: f32,
    segments: Vec<f32>,
}

impl PeakTrack {
    fn new(rate: u32, segments: usize) -> Self {
        Self {
            meter: TruePeakMeter::new(rate),
            sample_peak: 0.0,
            true_peak: 0.0,
            segments: Vec::with_capacity(segments),
        }
    }

    /// Takes the next whole segment.
    fn push_segment(&mut self, samples: &[f32]) {
        let (peak, sample_peak) = self.meter.chunk_peaks(samples, self.true_peak);
        self.true_peak = self.true_peak.max(peak);
        self.sample_peak = self.sample_peak.max(sample_peak);
        self.segments.push(peak);
    }

    fn finish(self) -> (ChannelPeaks, Vec<f32>) {
        let peaks = ChannelPeaks {
            sample_peak_dbfs: finite(amp_to_db(f64::from(self.sample_peak))),
            true_peak_dbtp: finite(amp_to_db(f64::from(self.true_peak.max(self.sample_peak)))),
        };
        (peaks, self.segments)
    }
}

/// Mean-square power → LUFS (BS.1770's −0.691 dB offset makes 1 kHz read as its level).
pub fn power_to_lufs(power: f64) -> f64 {
    -0.691 + 10.0 * power.log10()
}

fn lufs_to_power(lufs: f64) -> f64 {
    10f64.powf((lufs + 0.691) / 10.0)
}

/// Sliding windows over segment energies, via prefix sums.
struct Windows {
    energy_prefix: Vec<f64>,
    frame_ends: Vec<usize>,
    complete_segments: usize,
}

impl Windows {
    fn new(energy: &[f64], ends: &[usize], complete_segments: usize) -> Self {
        let mut energy_prefix = Vec::with_capacity(energy.len() + 1);
        energy_prefix.push(0.0);
        let mut sum = 0.0;
        for &e in energy {
            sum += e;
            energy_prefix.push(sum);
        }
        let mut frame_ends = Vec::with_capacity(ends.len() + 1);
        frame_ends.push(0);
        frame_ends.extend_from_slice(ends);
        Self {
            energy_prefix,
            frame_ends,
            complete_segments,
        }
    }

    /// Mean power of every complete window of `length` segments, one every `step` segments.
    /// A final segment shorter than 10 ms does not complete a window.
    fn mean_powers(&self, length: usize, step: usize) -> Vec<f64> {
        let full_segments = self.complete_segments;
        if full_segments < length {
            return Vec::new();
        }
        (length..=full_segments)
            .step_by(step)
            .map(|end| {
                let start = end - length;
                let energy = (self.energy_prefix[end] - self.energy_prefix[start]).max(0.0);
                energy / (self.frame_ends[end] - self.frame_ends[start]) as f64
            })
            .collect()
    }

    fn history(&self, length: usize, step: usize) -> Vec<f32> {
        self.mean_powers(length, step)
            .into_iter()
            .map(|p| power_to_lufs(p) as f32)
            .collect()
    }
}

/// BS.1770-4 gated integrated loudness.
fn integrated(blocks: &[f64]) -> Option<f64> {
    let absolute = lufs_to_power(ABSOLUTE_GATE_LUFS);
    let above_absolute: Vec<f64> = blocks.iter().copied().filter(|&p| p > absolute).collect();
    if above_absolute.is_empty() {
        return None;
    }
    let mean = above_absolute.iter().sum::<f64>() / above_absolute.len() as f64;
    let relative = lufs_to_power(power_to_lufs(mean) + RELATIVE_GATE_LU);
    let gated: Vec<f64> = above_absolute
        .into_iter()
        .filter(|&p| p > relative)
        .collect();
    finite(power_to_lufs(
        gated.iter().sum::<f64>() / gated.len() as f64,
    ))
}

/// EBU Tech 3342 loudness range from short-term powers taken every 100 ms.
fn loudness_range(short_term: &[f64]) -> Option<f64> {
    let absolute = lufs_to_power(ABSOLUTE_GATE_LUFS);
    let above_absolute: Vec<f64> = short_term
        .iter()
        .copied()
        .filter(|&p| p > absolute)
        .collect();
    if above_absolute.is_empty() {
        return None;
    }
    let mean = above_absolute.iter().sum::<f64>() / above_absolute.len() as f64;
    let relative = lufs_to_power(power_to_lufs(mean) + LRA_RELATIVE_GATE_LU);
    let mut gated: Vec<f64> = above_absolute
        .into_iter()
        .filter(|&p| p > relative)
        .map(power_to_lufs)
        .collect();
    if gated.is_empty() {
        return None;
    }
    gated.sort_by(f64::total_cmp);
    let percentile = |q: f64| gated[((gated.len() - 1) as f64 * q).round() as usize];
    Some(percentile(0.95) - percentile(0.10))
}
