//! True-peak measurement: polyphase oversampling interpolation (BS.1770 Annex 2 style) in two
//! tiers, with the peaks between interpolated points refined by a sinusoid fit.
//!
//! A short filter (32 taps per branch) scans everything; a long one (96 taps per branch,
//! within 0.05 dB of an 8× reference even on full-band noise) re-measures only the stretches
//! of 16 samples whose scan comes within 1.5 dB of the running maximum.

use crate::parallel::Join;
use crate::units::{amp_to_db, finite};

/// Taps per branch of the scanning filter.
pub const FAST_TAPS: usize = 32;
/// Taps per branch of the filter that re-measures candidate chunks.
pub const PRECISE_TAPS: usize = 96;
/// Output samples computed per inner-loop pass (a SIMD-friendly width).
const LANES: usize = 16;
/// How far the scanning filter may read below the precise one (up to about 0.8 dB on clipped,
/// full-band content, whose overshoots sit close to Nyquist): stretches within this of the
/// running maximum are re-measured.
const CANDIDATE_MARGIN: f32 = 1.188_502_2; // +1.5 dB

/// The oversampling factor that reaches at least 176.4 kHz: 4× at 44.1/48 kHz, 2× at
/// 88.2/96 kHz, none at 176.4 kHz and above.
pub fn oversampling_factor(sample_rate: u32) -> usize {
    (176_400usize.div_ceil(sample_rate.max(1) as usize)).clamp(1, 32)
}

/// One polyphase interpolator: the between-sample branches of a Nyquist low-pass.
#[derive(Debug, Clone)]
struct Interpolator<const T: usize> {
    factor: usize,
    /// Branches 1 … factor − 1 (branch 0 is the input sample itself, the filter being a
    /// Nyquist filter), each reversed for a forward dot product.
    phases: Vec<[f32; T]>,
    /// The same coefficients tap-major (`taps[k * branches + p]`) for the SIMD kernel, which
    /// shares each loaded input window across all branches.
    taps: Vec<f32>,
}

impl<const T: usize> Interpolator<T> {
    fn new(factor: usize) -> Self {
        Self::from_phases(factor, design_phases::<T>(factor))
    }

    fn from_phases(factor: usize, phases: Vec<[f32; T]>) -> Self {
        let taps = (0..T)
            .flat_map(|k| phases.iter().map(move |b| b[k]))
            .collect();
        Self {
            factor,
            phases,
            taps,
        }
    }

    /// The most any branch can give for input no larger than 1: its largest sum of |taps|
    /// (at least 1, the samples themselves).
    fn reach(&self) -> f32 {
        self.phases
            .iter()
            .map(|branch| branch.iter().map(|c| c.abs()).sum::<f32>())
            .fold(1.0f32, f32::max)
    }

    /// max |y| over `len` output positions; `x` starts `T − 1` samples before the first one
    /// and is padded to whole passes.
    fn abs_max(&self, x: &[f32], len: usize, passes: &mut [f32]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            #[allow(unsafe_code)]
            return unsafe { self.abs_max_avx2(x, len, passes) };
        }
        self.abs_max_with::<false>(x, len, passes)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn abs_max_avx2(&self, x: &[f32], len: usize, passes: &mut [f32]) -> f32 {
        self.abs_max_with::<true>(x, len, passes)
    }

    /// Picks the kernel for the number of between-sample branches (3 at 44.1/48 kHz, 1 at
    /// 88.2/96 kHz, 7 at 22.05/24 kHz); other factors run branch by branch.
    #[inline(always)]
    fn abs_max_with<const FUSED: bool>(&self, x: &[f32], len: usize, passes: &mut [f32]) -> f32 {
        match self.phases.len() {
            0 => 0.0,
            1 => branches_abs_max::<T, 1, FUSED>(&self.taps, x, len, passes),
            3 => branches_abs_max::<T, 3, FUSED>(&self.taps, x, len, passes),
            7 => branches_abs_max::<T, 7, FUSED>(&self.taps, x, len, passes),
            _ => {
                // Branch by branch, keeping the per-pass maximum over all branches.
                let count = len.div_ceil(LANES);
                let mut overall = 0.0f32;
                let mut merged = vec![0.0f32; count];
                for branch in &self.phases {
                    overall = overall.max(branches_abs_max::<T, 1, FUSED>(branch, x, len, passes));
                    for (m, &p) in merged.iter_mut().zip(passes.iter()) {
                        *m = m.max(p);
                    }
                }
                passes[..count].copy_from_slice(&merged);
                overall
            }
        }
    }
}

/// How far the true peak can rise above an oversampled local maximum (between grid points):
/// 0.62 dB for a 21 kHz sine on the 4× grid at 44.1 kHz. Local maxima within this of the
/// largest point are refined.
const REFINE_REACH: f32 = 1.122_018_5; // +1 dB

/// The largest true peak of the oversampled `points` (consecutive, at equal spacing): the
/// largest point, or more where a local maximum near it refines higher between points.
fn refined_max(points: &[f32]) -> f32 {
    let grid_max = points.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let floor = grid_max / REFINE_REACH;
    let mut peak = grid_max;
    for w in points.windows(3) {
        let centre = w[1].abs();
        if centre >= floor && centre >= w[0].abs() && centre >= w[2].abs() {
            peak = peak.max(sinusoid_peak([w[0], w[1], w[2]]));
        }
    }
    peak
}

/// The peak between oversampled points: the amplitude of the sinusoid through the local
/// maximum `y[1]` and its neighbours. Exact for a sine at any frequency below the grid's
/// Nyquist (a parabola under-reads a 20 kHz sine by up to 0.05 dB on the 4× grid at 44.1 kHz),
/// and close on programme, whose peaks are locally sinusoidal. Never below `|y[1]|`, and never
/// more than [`REFINE_REACH`] above it.
fn sinusoid_peak(y: [f32; 3]) -> f32 {
    let sign = if y[1] < 0.0 { -1.0 } else { 1.0 };
    let [y0, y1, y2] = y.map(|v| f64::from(v) * sign);
    if y1 <= 0.0 {
        return 0.0;
    }
    // y(t) = A cos(ω (t − τ)) through (−h, y0), (0, y1), (h, y2):
    // y0 + y2 = 2 y1 cos(ωh) and y2 − y0 = 2 A sin(ωh) sin(ωτ), with A cos(ωτ) = y1.
    let cos_wh = (y0 + y2) / (2.0 * y1);
    if !(-1.0..1.0).contains(&cos_wh) {
        return y1 as f32;
    }
    let sin_wh = (1.0 - cos_wh * cos_wh).sqrt();
    let quadrature = (y2 - y0) / (2.0 * sin_wh);
    let amplitude = (y1 * y1 + quadrature * quadrature).sqrt();
    (amplitude.min(y1 * f64::from(REFINE_REACH))) as f32
}

/// A true-peak meter for one sample rate; reused across channels (call [`reset`](Self::reset) between).
#[derive(Debug, Clone)]
pub struct TruePeakMeter {
    factor: usize,
    fast: Interpolator<FAST_TAPS>,
    precise: Interpolator<PRECISE_TAPS>,
    /// Input history (the last `PRECISE_TAPS - 1` samples) followed by the current chunk.
    scratch: Vec<f32>,
    /// How many history samples are real audio (not the zeros before the start).
    filled: usize,
    /// Per-pass maxima of the scan.
    fast_passes: Vec<f32>,
    /// Every oversampled point of a range re-measured precisely.
    points: Vec<f32>,
    /// Position ranges (in the current chunk) to re-measure precisely.
    ranges: Vec<(usize, usize)>,
    /// Positions at the start of the next chunk still to re-measure: the precise filter's
    /// outputs lag the scan's by `LAG` samples, so a peak seen at the end of one chunk is
    /// measured precisely at the start of the next.
    carry: usize,
}

/// How many samples the precise filter's outputs lag the scanning filter's.
const LAG: usize = (PRECISE_TAPS - FAST_TAPS) / 2;

impl TruePeakMeter {
    pub fn new(sample_rate: u32) -> Self {
        let factor = oversampling_factor(sample_rate);
        Self {
            factor,
            fast: Interpolator::new(factor),
            precise: Interpolator::new(factor),
            scratch: vec![0.0; PRECISE_TAPS - 1],
            filled: 0,
            fast_passes: Vec::new(),
            points: Vec::new(),
            ranges: Vec::new(),
            carry: 0,
        }
    }

    pub fn factor(&self) -> usize {
        self.factor
    }

    /// Clears the filter history (start of a new channel).
    pub fn reset(&mut self) {
        self.scratch.clear();
        self.scratch.resize(PRECISE_TAPS - 1, 0.0);
        self.filled = 0;
        self.carry = 0;
    }

    /// The true peak (linear, absolute) of `chunk`, continuing from the previous chunk.
    /// `running_max`: the largest peak so far; chunks that may exceed it are re-measured with
    /// the precise filter, and a new maximum is refined between oversampled points.
    pub fn chunk_peak(&mut self, chunk: &[f32], running_max: f32) -> f32 {
        self.chunk_peaks(chunk, running_max).0
    }

    /// [`chunk_peak`](Self::chunk_peak) and the chunk's sample peak, which it finds on the
    /// way: (true peak, sample peak), both linear.
    pub fn chunk_peaks(&mut self, chunk: &[f32], running_max: f32) -> (f32, f32) {
        let sample_peak = crate::dsp::abs_peak(chunk);
        if self.factor == 1 || chunk.is_empty() {
            return (sample_peak, sample_peak);
        }
        let history = PRECISE_TAPS - 1;
        self.scratch.truncate(history);
        self.scratch.extend_from_slice(chunk);
        // Zero padding so the kernels' last full pass can read past the end.
        self.scratch
            .resize(history + chunk.len() + LANES + PRECISE_TAPS, 0.0);

        // Interpolated points whose filter window reaches back before the first sample would
        // measure the filter's ringing on the implied step from silence, not the audio
        // (BS.1770's reference meter, with its short filter, barely sees it): skip them. The
        // samples themselves still count through the sample peak.
        let measured_from = |taps: usize| (taps - 1).saturating_sub(self.filled).min(chunk.len());
        let fast_skip = measured_from(FAST_TAPS);
        let fast_start = history - (FAST_TAPS - 1) + fast_skip;
        let fast_len = chunk.len() - fast_skip;
        self.fast_passes.resize(fast_len.div_ceil(LANES), 0.0);
        self.fast
            .abs_max(&self.scratch[fast_start..], fast_len, &mut self.fast_passes);

        // Passes of the scan that come within the margin of the running maximum are measured
        // again with the precise filter (at the positions where its lagging output sees the
        // same moment, one position wider each side for the refinement's neighbours).
        let threshold = running_max / CANDIDATE_MARGIN;
        self.ranges.clear();
        if self.carry > 0 {
            self.ranges.push((0, self.carry));
        }
        let mut scanned_peak = 0.0f32;
        for (i, &pass) in self.fast_passes.iter().enumerate() {
            if pass < threshold {
                scanned_peak = scanned_peak.max(pass);
                continue;
            }
            let start = (fast_skip + i * LANES + LAG).saturating_sub(1);
            let end = fast_skip + (i + 1) * LANES + LAG + 1;
            match self.ranges.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => self.ranges.push((start, end)),
            }
        }
        let precise_skip = measured_from(PRECISE_TAPS);
        self.carry = 0;
        let mut precise_peak = 0.0f32;
        for &(start, end) in &self.ranges {
            self.carry = self.carry.max(end.saturating_sub(chunk.len()));
            let (start, end) = (start.max(precise_skip), end.min(chunk.len()));
            if start >= end {
                continue;
            }
            let len = end - start;
            self.points.clear();
            self.points.resize(len * self.factor + 1, 0.0);
            self.precise
                .fill_points(&self.scratch[start..], len, &mut self.points);
            precise_peak = precise_peak.max(refined_max(&self.points));
        }
        let peak = scanned_peak.max(precise_peak);

        // Keep the last samples of real input as history for the next chunk.
        self.scratch.truncate(history + chunk.len());
        self.scratch.drain(..chunk.len());
        self.filled = (self.filled + chunk.len()).min(history);
        (peak.max(sample_peak), sample_peak)
    }
}

/// Taps per branch of the strict meter's filter: with its Kaiser window (β 9), its transition band is
/// 0.022 × the sample rate wide, centred on Nyquist (21.6–22.5 kHz at 44.1 kHz), where the
/// BS.1770 meter's and Crest's standard filters start to fall at 20 kHz; 90 dB of stopband.
pub const STRICT_TAPS: usize = 256;
const STRICT_BETA: f64 = 9.0;

/// The strict meter's interpolator at `sample_rate`: the standard oversampling factor, at
/// least 2× (the refinement between points follows the rest).
fn strict_interpolator(sample_rate: u32) -> Interpolator<STRICT_TAPS> {
    let factor = oversampling_factor(sample_rate).max(2);
    Interpolator::from_phases(factor, design_phases_with(factor, STRICT_BETA))
}

/// The strict true peak (linear) of one channel: the largest value of a near-ideal
/// band-limited reconstruction (a [`STRICT_TAPS`]-tap-per-branch interpolator, refined between
/// its points), or of the samples themselves. Points whose filter window would reach before
/// the first sample or past the last are not measured (they would read the filter's ringing on
/// the step from and to silence, which is not in the audio); the samples there still count.
/// Every point is computed: slower than the standard meter, which scans with a short filter.
pub fn strict_channel_peak(x: &[f32], sample_rate: u32) -> f32 {
    let mut meter = StrictTruePeakMeter::new(sample_rate);
    meter.push(x);
    meter.finish()
}

/// [`strict_channel_peak`] over a channel that arrives in pieces: the same reading, to the
/// bit, whatever the pieces' lengths.
#[derive(Debug, Clone)]
pub struct StrictTruePeakMeter {
    interpolator: Interpolator<STRICT_TAPS>,
    /// The last samples of the channel so far (a window, and two positions more so the
    /// positions at a piece's end are refined with both neighbours once the next arrives).
    history: Vec<f32>,
    buffer: Vec<f32>,
    passes: Vec<f32>,
    points: Vec<f32>,
    grid_max: f32,
    /// The largest refined value and sample.
    peak: f32,
}

/// Positions each piece measures again: the last two of the piece before, so that every
/// position is refined with both its neighbours.
const REMEASURED: usize = 2;

impl StrictTruePeakMeter {
    pub fn new(sample_rate: u32) -> Self {
        Self {
            interpolator: strict_interpolator(sample_rate),
            history: Vec::with_capacity(STRICT_TAPS + REMEASURED),
            buffer: Vec::new(),
            passes: Vec::new(),
            points: Vec::new(),
            grid_max: 0.0,
            peak: 0.0,
        }
    }

    /// Takes the channel's next samples.
    pub fn push(&mut self, samples: &[f32]) {
        if samples.is_empty() {
            return;
        }
        self.peak = self.peak.max(crate::dsp::abs_peak(samples));
        self.buffer.clear();
        self.buffer.extend_from_slice(&self.history);
        self.buffer.extend_from_slice(samples);
        let length = self.buffer.len();
        // The history for the next piece, before the padding.
        let keep = length.min(STRICT_TAPS - 1 + REMEASURED);
        self.history.clear();
        self.history
            .extend_from_slice(&self.buffer[length - keep..]);
        let Some(count) = length.checked_sub(STRICT_TAPS - 1).filter(|&n| n > 0) else {
            return;
        };
        // The history's last positions were measured by the piece before; they are measured
        // again (the same values) so their refinement has both neighbours.
        self.buffer.resize(length + LANES + STRICT_TAPS, 0.0);
        self.passes.resize(count.div_ceil(LANES), 0.0);
        let piece_max = self
            .interpolator
            .abs_max(&self.buffer, count, &mut self.passes);
        self.grid_max = self.grid_max.max(piece_max);
        let floor = self.grid_max / REFINE_REACH;
        let factor = self.interpolator.factor;
        for (i, &pass) in self.passes.iter().enumerate() {
            if pass < floor {
                continue;
            }
            let first = (i * LANES).saturating_sub(1);
            let len = ((i + 1) * LANES + 1).min(count) - first;
            self.points.clear();
            self.points.resize(len * factor + 1, 0.0);
            self.interpolator
                .fill_points(&self.buffer[first..], len, &mut self.points);
            self.peak = self.peak.max(refined_max(&self.points));
        }
    }

    /// The channel's strict true peak (linear).
    pub fn finish(&self) -> f32 {
        self.peak.max(self.grid_max)
    }
}

/// The strict true peak of planar audio (dBTP), the largest of its channels' (see
/// [`strict_channel_peak`]; a stereo pair measured side by side through `join`: every point
/// of the long filter is computed, about 1 s per 4 minutes of stereo on a core); none for
/// digital silence.
pub fn strict_true_peak_dbtp<S: AsRef<[f32]> + Sync>(
    channels: &[S],
    sample_rate: u32,
    join: &impl Join,
) -> Option<f64> {
    let measure = |c: &S| strict_channel_peak(c.as_ref(), sample_rate);
    let peak = match channels {
        [left, right] => {
            let (l, r) = join.join(|| measure(left), || measure(right));
            l.max(r)
        }
        _ => channels.iter().map(measure).fold(0.0f32, f32::max),
    };
    finite(amp_to_db(f64::from(peak)))
}

/// Frames per detection group of [`GroupDetector`].
pub(crate) const GROUP: usize = LANES;
/// Samples a [`GroupDetector`] reads for one group: the group's intervals follow
/// `x[GROUP_CENTRE + j]`, `j` in `0..GROUP`; one more sample each side gives the points just
/// outside the group, so a peak next to its first or last sample is refined too.
pub(crate) const GROUP_WINDOW: usize = PRECISE_TAPS + 1 + GROUP;
pub(crate) const GROUP_CENTRE: usize = PRECISE_TAPS / 2;
/// The same for the strict detector, whose filter is longer.
const STRICT_WINDOW: usize = STRICT_TAPS + 1 + GROUP;
const STRICT_CENTRE: usize = STRICT_TAPS / 2;
/// Where the standard window sits in the strict one (the same group, the same centre).
const STANDARD_IN_STRICT: usize = STRICT_CENTRE - GROUP_CENTRE;

/// The short interpolator of the BS.1770 reference meter as libebur128 (and the `ebur128`
/// crate, and through them most loudness tools) builds it: a 48-tap Hann-windowed sinc, 4× below
/// 96 kHz and 2× below 192 kHz. On content near Nyquist it reads differently from Crest's
/// long filter — up to 0.2 dB higher on heavily limited noise, where images leak through its
/// wide transition band — and a master must pass those meters too, so the limiter heeds it.
#[derive(Debug, Clone)]
enum ReferenceTier {
    Four(Interpolator<12>),
    Two(Interpolator<24>),
    Off,
}

impl ReferenceTier {
    fn new(sample_rate: u32) -> Self {
        match sample_rate {
            0..96_000 => Self::Four(Interpolator::from_phases(4, reference_phases(4))),
            96_000..192_000 => Self::Two(Interpolator::from_phases(2, reference_phases(2))),
            _ => Self::Off,
        }
    }

    /// The largest |value| between the samples of the group whose precise window is `x`.
    fn group_max(&self, x: &[f32]) -> f32 {
        fn max_of<const T: usize>(interpolator: &Interpolator<T>, x: &[f32]) -> f32 {
            let mut peak = 0.0f32;
            // Centred on the same samples as the precise filter.
            interpolator.values(&x[PRECISE_TAPS / 2 - T / 2..], |_, _, v| {
                peak = peak.max(v.abs());
            });
            peak
        }
        match self {
            Self::Four(interpolator) => max_of(interpolator, x),
            Self::Two(interpolator) => max_of(interpolator, x),
            Self::Off => 0.0,
        }
    }
}

/// The between-sample branches of libebur128's interpolator (see [`ReferenceTier`]), laid out
/// like [`design_phases`]; not normalised, exactly as the meter computes them.
fn reference_phases<const T: usize>(factor: usize) -> Vec<[f32; T]> {
    let taps = (factor * T) as f64;
    let prototype = |i: usize| -> f64 {
        let window = 0.5 * (1.0 - (2.0 * std::f64::consts::PI * i as f64 / taps).cos());
        let m = i as f64 - taps / 2.0;
        let x = m * std::f64::consts::PI / factor as f64;
        if m == 0.0 {
            window
        } else {
            window * x.sin() / x
        }
    };
    split_branches(factor, prototype, false)
}

/// The true peak of groups of [`GROUP`] consecutive sample intervals, for the limiter: the
/// meter's two tiers, with every precise point kept for the refinement between points.
#[derive(Debug, Clone)]
pub(crate) struct GroupDetector {
    fast: Interpolator<FAST_TAPS>,
    precise: Interpolator<PRECISE_TAPS>,
    reference: ReferenceTier,
    /// The most the scanning filter can give for input no larger than 1: its largest sum of
    /// |taps| over the branches. A group whose samples stay under `threshold / reach` (and the
    /// margin) cannot come near the threshold, and is not scanned.
    fast_reach: f32,
    /// Every oversampled point of a group: the last point before it, then sample `j` at
    /// `1 + j · factor` and branch `p` after it, then the first point after the group.
    points: Vec<f32>,
    /// The strict meter's filter and its reach, which replace the two tiers when set.
    strict: Option<(Interpolator<STRICT_TAPS>, f32)>,
}

impl GroupDetector {
    /// The detector of the standard meter, or with `strict` the strict one's (the libebur128
    /// reference heeded either way).
    pub(crate) fn new(sample_rate: u32, strict: bool) -> Self {
        let strict = strict.then(|| {
            let interpolator = strict_interpolator(sample_rate);
            let reach = interpolator.reach();
            (interpolator, reach)
        });
        let factor = match &strict {
            Some((interpolator, _)) => interpolator.factor,
            None => oversampling_factor(sample_rate),
        };
        let fast = Interpolator::<FAST_TAPS>::new(factor);
        let fast_reach = fast.reach();
        Self {
            fast,
            precise: Interpolator::new(factor),
            reference: ReferenceTier::new(sample_rate),
            fast_reach,
            points: vec![0.0; GROUP * factor + 3],
            strict,
        }
    }

    /// Samples read for one group.
    pub(crate) fn window_len(&self) -> usize {
        if self.strict.is_some() {
            STRICT_WINDOW
        } else {
            GROUP_WINDOW
        }
    }

    /// Where in its window a group's first interval starts.
    pub(crate) fn centre(&self) -> usize {
        if self.strict.is_some() {
            STRICT_CENTRE
        } else {
            GROUP_CENTRE
        }
    }

    /// [`peak`](Self::peak) on the strict filter: every point of the group, refined between
    /// points, unless its window's samples cannot reach `threshold` through the filter. Kept
    /// out of line so the standard detector's path stays as it was.
    #[inline(never)]
    fn strict_peak(&mut self, x: &[f32], threshold: f32) -> f32 {
        let Some((strict, reach)) = &self.strict else {
            return 0.0;
        };
        let window_peak = crate::dsp::abs_peak(&x[..STRICT_WINDOW]);
        if window_peak * reach * REFINE_REACH < threshold {
            return window_peak;
        }
        let factor = strict.factor;
        let points = &mut self.points;
        strict.fill_points(&x[1..], GROUP, &mut points[1..]);
        points[0] = strict.branch_value(factor - 2, x);
        points[GROUP * factor + 2] = strict.branch_value(0, &x[GROUP + 1..]);
        let reference = self.reference.group_max(&x[STANDARD_IN_STRICT + 1..]);
        refined_max(points).max(reference)
    }

    /// The true peak of the group read from `x` (at least [`window_len`](Self::window_len)
    /// samples).
    /// When the group cannot come within [`CANDIDATE_MARGIN`] of `threshold`, a reading under
    /// `threshold` is returned (its samples' peak, or the scan's slightly low one): the caller
    /// only needs to know that the group is under `threshold`.
    pub(crate) fn peak(&mut self, x: &[f32], threshold: f32) -> f32 {
        if self.strict.is_some() {
            return self.strict_peak(x, threshold);
        }
        let factor = self.precise.factor;
        // The interpolators' windows for the group's own intervals start one sample in.
        let inner = &x[1..];
        if factor > 1 {
            // Quiet groups (most of a master's, at the limiter's input) end here: even the
            // scan's largest possible value would stay under the threshold by the margin. The
            // bound reads the scan's window and one sample before it: three whole vectors.
            const BOUND_FROM: usize = LAG;
            const BOUND_LEN: usize = GROUP + FAST_TAPS;
            let window_peak = crate::dsp::abs_peak(&x[BOUND_FROM..BOUND_FROM + BOUND_LEN]);
            if window_peak * self.fast_reach * CANDIDATE_MARGIN < threshold {
                return window_peak;
            }
        }
        let samples = &x[GROUP_CENTRE..=GROUP_CENTRE + GROUP];
        let sample_peak = crate::dsp::abs_peak(samples);
        if factor == 1 {
            return sample_peak.max(self.reference.group_max(inner));
        }
        let mut pass = [0.0f32; 1];
        let scan = self
            .fast
            .abs_max(&inner[LAG..], GROUP, &mut pass)
            .max(sample_peak);
        if scan * CANDIDATE_MARGIN < threshold {
            return scan;
        }
        let points = &mut self.points;
        self.precise.fill_points(inner, GROUP, &mut points[1..]);
        points[0] = self.precise.branch_value(factor - 2, x);
        points[GROUP * factor + 2] = self.precise.branch_value(0, &x[GROUP + 1..]);
        refined_max(points).max(self.reference.group_max(inner))
    }
}

impl<const T: usize> Interpolator<T> {
    /// Every oversampled point of `len` consecutive sample intervals of `x` (which starts
    /// `T − 1` samples before the first): sample `j` at `points[j · factor]`, branch `p`
    /// after it at `j · factor + p + 1`, and the sample ending the last interval at
    /// `len · factor`. `points` holds at least `len · factor + 1` values.
    fn fill_points(&self, x: &[f32], len: usize, points: &mut [f32]) {
        let factor = self.factor;
        let end = len * factor + 1;
        for pass in (0..len).step_by(LANES) {
            self.values(&x[pass..], |p, j, v| {
                let at = (pass + j) * factor + p + 1;
                if at < end {
                    points[at] = v;
                }
            });
        }
        for j in 0..=len {
            points[j * factor] = x[T / 2 - 1 + j];
        }
    }

    /// Branch `p`'s output after `x[T / 2 - 1]` (one point, for the few the passes miss).
    fn branch_value(&self, p: usize, x: &[f32]) -> f32 {
        self.phases[p].iter().zip(&x[..T]).map(|(c, s)| c * s).sum()
    }

    /// Every branch's output at the `LANES` positions of one pass over `x` (which starts
    /// `T − 1` samples before the first), handed to `put(branch, position, value)`.
    fn values(&self, x: &[f32], put: impl FnMut(usize, usize, f32)) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports AVX2 and FMA, checked just above.
            #[allow(unsafe_code)]
            return unsafe { self.values_avx2(x, put) };
        }
        self.values_with::<false>(x, put)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn values_avx2(&self, x: &[f32], put: impl FnMut(usize, usize, f32)) {
        self.values_with::<true>(x, put)
    }

    #[inline(always)]
    fn values_with<const FUSED: bool>(&self, x: &[f32], mut put: impl FnMut(usize, usize, f32)) {
        let mut emit = |first: usize, acc: &[[f32; LANES]]| {
            for (p, lane) in acc.iter().enumerate() {
                for (j, &v) in lane.iter().enumerate() {
                    put(first + p, j, v);
                }
            }
        };
        match self.phases.len() {
            0 => {}
            1 => emit(0, &branch_values::<T, 1, FUSED>(&self.taps, x)),
            3 => emit(0, &branch_values::<T, 3, FUSED>(&self.taps, x)),
            7 => emit(0, &branch_values::<T, 7, FUSED>(&self.taps, x)),
            _ => {
                for (p, branch) in self.phases.iter().enumerate() {
                    emit(p, &branch_values::<T, 1, FUSED>(branch, x));
                }
            }
        }
    }
}

/// One pass of the tap-major kernel: every branch's output at `LANES` consecutive positions
/// (`x` starts `T − 1` samples before the first).
#[inline(always)]
fn branch_values<const T: usize, const P: usize, const FUSED: bool>(
    taps: &[f32],
    x: &[f32],
) -> [[f32; LANES]; P] {
    let taps: &[[f32; P]] = taps.as_chunks::<P>().0;
    let window = &x[..T - 1 + LANES];
    #[cfg(target_arch = "x86_64")]
    if FUSED {
        // SAFETY: fused kernels are only reached from the AVX2/FMA entry points, which run
        // after the CPU was checked for both.
        #[allow(unsafe_code)]
        return unsafe { branch_values_avx2::<T, P>(taps, window) };
    }
    let mut acc = [[0.0f32; LANES]; P];
    for (k, c) in taps.iter().enumerate().take(T) {
        let Some(xs) = window[k..].first_chunk::<LANES>() else {
            break;
        };
        for p in 0..P {
            for j in 0..LANES {
                acc[p][j] += c[p] * xs[j];
            }
        }
    }
    acc
}

/// [`branch_values`] in AVX2/FMA registers: each tap's 16 inputs are loaded once and
/// multiplied into all `P` branches, `2 P` independent FMA chains. (Written out because the
/// auto-vectoriser left the portable loop scalar, spilling the accumulators.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(unsafe_code)]
fn branch_values_avx2<const T: usize, const P: usize>(
    taps: &[[f32; P]],
    window: &[f32],
) -> [[f32; LANES]; P] {
    use std::arch::x86_64::_mm256_storeu_ps;
    let acc = branch_accumulators_avx2::<T, P>(taps, window);
    let mut out = [[0.0f32; LANES]; P];
    for (lanes, [low, high]) in out.iter_mut().zip(acc) {
        let (first, second) = lanes.split_at_mut(8);
        // SAFETY: each half holds exactly 8 floats.
        unsafe {
            _mm256_storeu_ps(first.as_mut_ptr(), low);
            _mm256_storeu_ps(second.as_mut_ptr(), high);
        }
    }
    out
}

/// The largest absolute value of all `P` branches' `LANES` outputs, reduced in registers (a
/// scalar reduction over the stored outputs took longer than the filtering itself).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn branch_abs_max_avx2<const T: usize, const P: usize>(taps: &[[f32; P]], window: &[f32]) -> f32 {
    use std::arch::x86_64::{
        _mm_cvtss_f32, _mm_max_ps, _mm_max_ss, _mm_movehl_ps, _mm_shuffle_ps, _mm256_andnot_ps,
        _mm256_castps256_ps128, _mm256_extractf128_ps, _mm256_max_ps, _mm256_set1_ps,
        _mm256_setzero_ps,
    };
    let sign = _mm256_set1_ps(-0.0);
    let mut max = _mm256_setzero_ps();
    for [low, high] in branch_accumulators_avx2::<T, P>(taps, window) {
        max = _mm256_max_ps(max, _mm256_andnot_ps(sign, low));
        max = _mm256_max_ps(max, _mm256_andnot_ps(sign, high));
    }
    let m = _mm_max_ps(_mm256_castps256_ps128(max), _mm256_extractf128_ps::<1>(max));
    let m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps::<1>(m, m)))
}

/// Each tap's 16 inputs loaded once and multiplied into all `P` branches: `2 P` independent
/// FMA chains, left in registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(unsafe_code)]
fn branch_accumulators_avx2<const T: usize, const P: usize>(
    taps: &[[f32; P]],
    window: &[f32],
) -> [[std::arch::x86_64::__m256; 2]; P] {
    use std::arch::x86_64::{_mm256_fmadd_ps, _mm256_loadu_ps, _mm256_set1_ps, _mm256_setzero_ps};
    assert!(window.len() >= T - 1 + LANES && taps.len() >= T);
    let mut acc = [[_mm256_setzero_ps(); 2]; P];
    for (k, c) in taps.iter().enumerate().take(T) {
        // SAFETY: k + 16 ≤ T − 1 + LANES ≤ window.len(), asserted above.
        let (x0, x1) = unsafe {
            (
                _mm256_loadu_ps(window.as_ptr().add(k)),
                _mm256_loadu_ps(window.as_ptr().add(k + 8)),
            )
        };
        for p in 0..P {
            let coefficient = _mm256_set1_ps(c[p]);
            acc[p][0] = _mm256_fmadd_ps(coefficient, x0, acc[p][0]);
            acc[p][1] = _mm256_fmadd_ps(coefficient, x1, acc[p][1]);
        }
    }
    acc
}

/// The SIMD-friendly core: for each pass of `LANES` outputs, every tap's input window is loaded
/// once and multiplied into all `P` branches, giving `P × LANES / 8` independent FMA chains.
/// Writes each pass's maximum to `passes` (at least `len / LANES` rounded up) and returns the
/// overall maximum.
#[inline(always)]
fn branches_abs_max<const T: usize, const P: usize, const FUSED: bool>(
    taps: &[f32],
    x: &[f32],
    len: usize,
    passes: &mut [f32],
) -> f32 {
    let mut overall = 0.0f32;
    let mut n = 0;
    for pass_max in passes.iter_mut().take(len.div_ceil(LANES)) {
        // Outputs past `len` would come from the zero padding, not from the signal: a
        // full-scale chunk followed by "silence" rings, and that ringing is not in the audio.
        let valid = (len - n).min(LANES);
        #[cfg(target_arch = "x86_64")]
        if FUSED && valid == LANES {
            // SAFETY: fused kernels are only reached from the AVX2/FMA entry points, which run
            // after the CPU was checked for both.
            #[allow(unsafe_code)]
            let pass = unsafe {
                branch_abs_max_avx2::<T, P>(taps.as_chunks::<P>().0, &x[n..n + T - 1 + LANES])
            };
            *pass_max = pass;
            overall = overall.max(pass);
            n += LANES;
            continue;
        }
        let acc = branch_values::<T, P, FUSED>(taps, &x[n..]);
        let mut max = [0.0f32; LANES];
        for branch in &acc {
            for j in 0..valid {
                max[j] = max[j].max(branch[j].abs());
            }
        }
        let pass = max.iter().fold(0.0f32, |m, &v| m.max(v));
        *pass_max = pass;
        overall = overall.max(pass);
        n += LANES;
    }
    overall
}

/// A Kaiser-windowed sinc low-pass at the original Nyquist (a Nyquist filter: every
/// `factor`-th tap is zero but the centre, so branch 0 reproduces the input samples), split into
/// the between-sample branches 1 … factor − 1, each reversed so that a forward dot product over
/// `x[n .. n + T]` yields the output `p / factor` of a sample after `x[n + T / 2 - 1]`.
pub(crate) fn design_phases<const T: usize>(factor: usize) -> Vec<[f32; T]> {
    // β = 6 trades stopband depth (≈ 60 dB) for a transition narrow enough that 20 kHz at
    // 44.1 kHz reads within 0.05 dB even with 32 taps (tested below). A cutoff above Nyquist
    // lets images through and over-reads; below, it droops at 20 kHz.
    design_phases_with::<T>(factor, 6.0)
}

/// [`design_phases`] with the Kaiser window's `beta`.
fn design_phases_with<const T: usize>(factor: usize, beta: f64) -> Vec<[f32; T]> {
    let centre = (factor * T / 2) as f64;
    let i0_beta = crate::dsp::bessel_i0(beta);
    let cutoff = 0.5 / factor as f64;
    let prototype = |i: usize| -> f64 {
        let t = i as f64 - centre;
        let sinc = if t == 0.0 {
            2.0 * cutoff
        } else {
            (2.0 * std::f64::consts::PI * cutoff * t).sin() / (std::f64::consts::PI * t)
        };
        let r = t / centre;
        sinc * crate::dsp::bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / i0_beta
    };
    // Each branch has unity DC gain, so a constant reads exactly.
    split_branches(factor, prototype, true)
}

/// The between-sample branches 1 … factor − 1 of a `factor · T`-tap prototype low-pass.
/// Output y[n·L + p] = Σ_k h[k·L + p] · x[n − k]: each branch is reversed so index 0 meets the
/// oldest sample of the window; `normalise` scales each to unity DC gain.
fn split_branches<const T: usize>(
    factor: usize,
    prototype: impl Fn(usize) -> f64,
    normalise: bool,
) -> Vec<[f32; T]> {
    (1..factor)
        .map(|p| {
            let taps: Vec<f64> = (0..T).map(|k| prototype(k * factor + p)).collect();
            let scale = if normalise { taps.iter().sum() } else { 1.0 };
            let mut branch = [0.0f32; T];
            for (k, c) in taps.iter().enumerate() {
                branch[T - 1 - k] = (c / scale) as f32;
            }
            branch
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sine with 20 ms raised-cosine fades: an abrupt start would ring (Gibbs) above the
    /// amplitude in any band-limited reconstruction, which is a real peak, not the sine's.
    fn sine(freq_hz: f64, rate: u32, phase: f64, amplitude: f64, frames: usize) -> Vec<f32> {
        let fade = (f64::from(rate) * 0.02) as usize;
        (0..frames)
            .map(|n| {
                let t = n as f64 / f64::from(rate);
                let edge = n.min(frames - 1 - n);
                let gain = if edge < fade {
                    0.5 - 0.5 * (std::f64::consts::PI * edge as f64 / fade as f64).cos()
                } else {
                    1.0
                };
                (gain * amplitude * (2.0 * std::f64::consts::PI * freq_hz * t + phase).sin()) as f32
            })
            .collect()
    }

    fn measure(signal: &[f32], rate: u32) -> f64 {
        let mut meter = TruePeakMeter::new(rate);
        let mut peak = 0.0f32;
        for chunk in signal.chunks(480) {
            peak = peak.max(meter.chunk_peak(chunk, peak));
        }
        20.0 * f64::from(peak).log10()
    }

    #[test]
    fn factors_reach_176k() {
        assert_eq!(oversampling_factor(44_100), 4);
        assert_eq!(oversampling_factor(48_000), 4);
        assert_eq!(oversampling_factor(96_000), 2);
        assert_eq!(oversampling_factor(192_000), 1);
        assert_eq!(oversampling_factor(22_050), 8);
    }

    /// A sine's true peak is its amplitude, whatever its frequency and phase.
    #[test]
    fn sines_read_their_amplitude_up_to_20k() {
        for rate in [44_100, 48_000, 96_000] {
            for freq in [997.0, 5_000.0, 10_000.0, 15_000.0, 19_000.0, 20_000.0] {
                for phase in [0.0, 0.3, 0.77, 1.2] {
                    let s = sine(freq, rate, phase, 0.5, rate as usize / 4);
                    let tp = measure(&s, rate);
                    let expected = 20.0 * 0.5f64.log10();
                    assert!(
                        (tp - expected).abs() < 0.01,
                        "{freq} Hz at {rate} Hz, phase {phase}: {tp:.3} dBTP, want {expected:.3}"
                    );
                }
            }
        }
    }

    /// The classic inter-sample over: fs/4 at 45° phase has samples at 0.707 of the peak.
    #[test]
    fn finds_the_intersample_peak_of_a_quarter_rate_sine() {
        let s = sine(12_000.0, 48_000, std::f64::consts::FRAC_PI_4, 1.0, 4_800);
        let sample_peak = s.iter().fold(0.0f32, |m, x| m.max(x.abs()));
        assert!((20.0 * f64::from(sample_peak).log10() + 3.01).abs() < 0.01);
        assert!(measure(&s, 48_000).abs() < 0.05);
    }

    /// A later peak that sits between oversampled points, with its grid points just under
    /// an earlier on-sample maximum, is still found: refinement does not wait for the grid to
    /// beat the running maximum.
    #[test]
    fn an_off_grid_peak_beats_an_earlier_on_sample_maximum() {
        // 1050 Hz: 42 samples a period, so samples land on the crests.
        let mut s = sine(1_050.0, 44_100, std::f64::consts::FRAC_PI_2, 0.5, 11_025);
        // 14.7 kHz: 12 grid points a period on the 4× grid, crests half-way between two.
        let half_step = std::f64::consts::PI / 12.0;
        let amplitude = 0.5 * 0.999 / half_step.cos();
        let phase = std::f64::consts::FRAC_PI_2 - half_step;
        s.extend(sine(14_700.0, 44_100, phase, amplitude, 11_025));
        let tp = measure(&s, 44_100);
        let expected = 20.0 * amplitude.log10();
        assert!(
            (tp - expected).abs() < 0.01,
            "{tp:.3} dBTP, want {expected:.3}"
        );
    }

    #[test]
    fn fused_and_plain_kernels_agree() {
        let s = sine(3_000.0, 44_100, 0.1, 0.9, 2_000);
        let meter = TruePeakMeter::new(44_100);
        let mut x = vec![0.0f32; PRECISE_TAPS - 1];
        x.extend_from_slice(&s);
        x.resize(PRECISE_TAPS - 1 + s.len().div_ceil(LANES) * LANES, 0.0);
        let mut passes = vec![0.0f32; s.len().div_ceil(LANES)];
        let mut plain = passes.clone();
        let check = |a: f32, b: f32, passes: &[f32]| {
            assert!(a > 0.85 && (a - b).abs() < 1e-5, "{a} vs {b}");
            let pass_max = passes.iter().fold(0.0f32, |m, &p| m.max(p));
            assert_eq!(pass_max, a, "the pass maxima hold the overall maximum");
        };
        let a = meter.fast.abs_max(&x, s.len(), &mut passes);
        let b = meter.fast.abs_max_with::<false>(&x, s.len(), &mut plain);
        check(a, b, &passes);
        let a = meter.precise.abs_max(&x, s.len(), &mut passes);
        let b = meter.precise.abs_max_with::<false>(&x, s.len(), &mut plain);
        check(a, b, &passes);
    }
}

#[cfg(test)]
mod strict_tests {
    use rustfft::FftPlanner;
    use rustfft::num_complex::Complex;

    use super::*;
    use crate::parallel::Sequential;

    /// The ideal band-limited reconstruction's peak of a periodic signal: its spectrum
    /// zero-padded `factor`× (the periodic sinc interpolation), read over the interval positions
    /// the strict meter measures (windows inside the signal).
    fn ideal_peak(x: &[f32], factor: usize) -> f32 {
        let n = x.len();
        let mut planner = FftPlanner::<f64>::new();
        let mut spectrum: Vec<Complex<f64>> =
            x.iter().map(|&v| Complex::new(f64::from(v), 0.0)).collect();
        planner.plan_fft_forward(n).process(&mut spectrum);
        let mut padded = vec![Complex::new(0.0, 0.0); n * factor];
        let half = n / 2;
        padded[..half].copy_from_slice(&spectrum[..half]);
        padded[n * factor - half + 1..].copy_from_slice(&spectrum[half + 1..]);
        // Nyquist's bin split between its two images, as a real signal's must be.
        padded[half] = spectrum[half] * 0.5;
        padded[n * factor - half] = spectrum[half] * 0.5;
        planner.plan_fft_inverse(n * factor).process(&mut padded);
        let from = (STRICT_TAPS / 2 - 1) * factor;
        let to = (n - STRICT_TAPS / 2) * factor;
        padded[from..=to]
            .iter()
            .map(|c| (c.re / n as f64).abs() as f32)
            .fold(0.0, f32::max)
    }

    /// A periodic signal of `n` samples: sines on whole bins, `(bin, amplitude, phase)`.
    fn periodic(n: usize, partials: &[(usize, f64, f64)]) -> Vec<f32> {
        (0..n)
            .map(|i| {
                partials
                    .iter()
                    .map(|&(bin, a, phase)| {
                        a * (std::f64::consts::TAU * (bin * i) as f64 / n as f64 + phase).sin()
                    })
                    .sum::<f64>() as f32
            })
            .collect()
    }

    /// A tone burst at `hz` under a Gaussian envelope (`width_s` standard deviation) centred
    /// `shift` of a sample after the middle sample, band-limited below `limit` × Nyquist by
    /// zeroing the spectrum above it (periodic, so the ideal reconstruction is exact).
    fn burst(n: usize, rate: u32, hz: f64, width_s: f64, shift: f64, limit: f64) -> Vec<f32> {
        let centre = (n / 2) as f64 + shift;
        let x: Vec<f64> = (0..n)
            .map(|i| {
                let t = (i as f64 - centre) / f64::from(rate);
                0.5 * (-(t / width_s).powi(2) / 2.0).exp() * (std::f64::consts::TAU * hz * t).cos()
            })
            .collect();
        let mut planner = FftPlanner::<f64>::new();
        let mut spectrum: Vec<Complex<f64>> = x.iter().map(|&v| Complex::new(v, 0.0)).collect();
        planner.plan_fft_forward(n).process(&mut spectrum);
        let top = (limit * n as f64 / 2.0) as usize;
        for (k, bin) in spectrum.iter_mut().enumerate() {
            if k.min(n - k) > top {
                *bin = Complex::new(0.0, 0.0);
            }
        }
        planner.plan_fft_inverse(n).process(&mut spectrum);
        spectrum.iter().map(|c| (c.re / n as f64) as f32).collect()
    }

    fn db(ratio: f32) -> f64 {
        20.0 * f64::from(ratio).log10()
    }

    /// The standard meter over the same signal.
    fn standard_peak(x: &[f32], rate: u32) -> f32 {
        let mut meter = TruePeakMeter::new(rate);
        meter.chunk_peak(x, 0.0)
    }

    #[test]
    fn strict_reads_near_nyquist_bursts_as_the_ideal_reconstruction() {
        // 2 ms tone bursts (±80 Hz of bandwidth) whose crest falls between samples, band-
        // limited below 0.995 × Nyquist; at 44.1 and 48 kHz. (A steady sine would not do:
        // over many cycles its samples land on the crest.)
        for rate in [44_100u32, 48_000] {
            let nyquist = f64::from(rate) / 2.0;
            let mut worst_strict: f64 = 0.0;
            let mut standard_at_top: f64 = 0.0;
            for share in [0.8, 0.9, 0.95, 0.975] {
                for shift in [0.1, 0.3, 0.5] {
                    let x = burst(8_192, rate, share * nyquist, 0.002, shift, 0.995);
                    let ideal = ideal_peak(&x, 16);
                    worst_strict =
                        worst_strict.max(db(strict_channel_peak(&x, rate) / ideal).abs());
                    if share == 0.975 {
                        let off = db(standard_peak(&x, rate) / ideal).abs();
                        standard_at_top = standard_at_top.max(off);
                    }
                }
            }
            assert!(
                worst_strict < 0.02,
                "{rate} Hz: strict {worst_strict:.3} dB"
            );
            // What the standard meter misses there (its filter falls from 0.95 × Nyquist).
            assert!(
                standard_at_top > 0.15,
                "{rate} Hz: standard {standard_at_top:.3} dB"
            );
        }
    }

    #[test]
    fn strict_reads_dense_programme_as_the_ideal_reconstruction() {
        // Pink-like programme: 400 partials with 1/√f amplitudes and pseudo-random phases,
        // up to 0.975 × Nyquist, and a strong cluster at 21–21.5 kHz like the air band of the
        // real master the standard meter read 0.09 dB low; at 44.1 and 48 kHz.
        for rate in [44_100u32, 48_000] {
            let n = 16_384;
            let top = (0.975 * n as f64 / 2.0) as usize;
            let mut seed = 9u64;
            let mut random = || {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (seed >> 11) as f64 / (1u64 << 53) as f64
            };
            let mut partials: Vec<(usize, f64, f64)> = (0..400)
                .map(|_| {
                    let bin = 1 + (random() * (top - 1) as f64) as usize;
                    (
                        bin,
                        0.05 / (bin as f64).sqrt(),
                        random() * std::f64::consts::TAU,
                    )
                })
                .collect();
            for k in 0..6 {
                let hz = 21_000.0 + 100.0 * f64::from(k);
                let bin = (hz * n as f64 / f64::from(rate)) as usize;
                partials.push((bin, 0.04, random() * std::f64::consts::TAU));
            }
            let x = periodic(n, &partials);
            let ideal = ideal_peak(&x, 16);
            let strict = strict_channel_peak(&x, rate);
            let off = db(strict / ideal);
            assert!(off.abs() < 0.02, "{rate} Hz: strict {off:+.3} dB");
        }
    }

    #[test]
    fn the_streaming_strict_meter_reads_what_the_whole_channel_reads() {
        let x = burst(20_000, 44_100, 21_300.0, 0.002, 0.37, 0.995);
        let whole = strict_channel_peak(&x, 44_100);
        for piece in [1, 7, 255, 256, 441, 4_096, 20_000] {
            let mut meter = StrictTruePeakMeter::new(44_100);
            for chunk in x.chunks(piece) {
                meter.push(chunk);
            }
            assert_eq!(meter.finish(), whole, "pieces of {piece}");
        }
    }

    #[test]
    fn strict_never_measures_ringing_from_the_edges() {
        // A full-scale step at the start and end of a short constant: the samples are the peak.
        let x = vec![0.9f32; 2_000];
        assert!((strict_channel_peak(&x, 48_000) - 0.9).abs() < 1e-6);
        // Shorter than one window: the samples alone.
        assert_eq!(strict_channel_peak(&[0.3, -0.5, 0.2], 48_000), 0.5);
        let silence = [vec![0.0f32; 1_000]];
        assert_eq!(strict_true_peak_dbtp(&silence, 48_000, &Sequential), None);
    }
}
