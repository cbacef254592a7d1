//! The true-peak lookahead limiter: the chain's last stage (with the loudness-target gain in
//! front of it).
//!
//! Detection is the analysis meter's, oversampled (4× at 44.1/48 kHz, 2× at 88.2/96 kHz, more
//! below 44.1 kHz) in groups of 16 frames: a 32-tap scan, and where it comes within 1.5 dB of
//! the ceiling the 96-tap interpolator, with every local maximum near the top refined between
//! points by a sinusoid fit, stereo-linked. (A 48-tap interpolator read hard-clipped
//! full-band programme 0.3 dB low — its overshoots sit near Nyquist, where a shorter filter
//! droops — and let it 0.7 dB over. Refining only the largest point let heavily limited
//! noise 0.05 dB over: the limiter holds many grid points at the ceiling, and the peak that
//! matters may sit next to any of them.) The gain each frame needs (`ceiling / true peak`)
//! is held as a minimum over
//! the lookahead plus a guard of [`GUARD_FRAMES`] either side, released exponentially, then
//! averaged over the lookahead: the average of values that are each at or below every
//! requirement in the window is itself at or below them, so the gain reaches its floor before
//! the peak arrives and stays flat across the interpolator's reach around it. No clipper.
//!
//! Render closes the loop on top of this: it measures the finished output with the analysis
//! meter and renders again with a lower detection ceiling if anything came out over.

use crate::dsp::dynamics::{fast_amp_to_db, time_coefficient};
use crate::loudness::true_peak::{GROUP, GroupDetector};
use crate::units::db_to_amp;

use super::settings::{LimiterSettings, TruePeakMode};
use super::{CONTROL_FRAMES, Smoothed, smoothing_coefficient};

/// Frames either side of a peak over which the gain is held flat, so the interpolated value
/// between samples sees (nearly) one gain.
pub const GUARD_FRAMES: usize = 8;
/// Under program-dependent release, how much quicker the limiter recovers after an isolated
/// peak than under sustained limiting (which recovers at the set release time).
const AUTO_RELEASE_SPREAD: f64 = 4.0;
/// Time constant of the "how much has it been limiting lately" tracker of the auto release.
const SUSTAIN_MS: f64 = 400.0;

/// Statistics of a limiter run, for the render report.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LimiterStats {
    /// The largest gain reduction, dB (≥ 0).
    pub peak_reduction_db: f64,
    /// Gain reduction averaged over the frames it processed, dB.
    pub mean_reduction_db: f64,
    /// Frames processed.
    pub frames: u64,
}

/// Oversampled peak detection in groups of [`GROUP`] frames aligned to the start: each frame's
/// requirement is its group's (a group is 0.36 ms at 44.1 kHz, well inside the lookahead).
#[derive(Debug, Clone)]
struct Detection {
    groups: GroupDetector,
    /// Samples the detector reads for a group, and where in them the group starts.
    window_len: usize,
    centre: usize,
    /// Per channel, the samples read: the next group's window starts at `start`, and the
    /// buffer holds many groups' worth, so the shift back to the front is rare.
    window: [Vec<f32>; 2],
    start: usize,
    filled: usize,
    /// The gain the newest complete group needs (`ceiling / peak`, at most 1).
    required: f64,
}

/// Groups each channel's detection buffer holds beyond one window.
const BUFFERED_GROUPS: usize = 63;

impl Detection {
    fn new(sample_rate: u32, mode: TruePeakMode) -> Self {
        let groups = GroupDetector::new(sample_rate, mode == TruePeakMode::Strict);
        let (window_len, centre) = (groups.window_len(), groups.centre());
        let buffer = window_len + BUFFERED_GROUPS * GROUP;
        let mut d = Self {
            groups,
            window_len,
            centre,
            window: [vec![0.0; buffer], vec![0.0; buffer]],
            start: 0,
            filled: 0,
            required: 1.0,
        };
        d.reset();
        d
    }

    fn reset(&mut self) {
        // The first group's window reaches back before the start: silence.
        self.window.iter_mut().flatten().for_each(|x| *x = 0.0);
        self.start = 0;
        self.filled = self.centre;
        self.required = 1.0;
    }

    /// Frames the detection lags the input: the group, and the interpolator's reach past it.
    fn delay(&self) -> usize {
        self.window_len - 1 - self.centre
    }

    /// Frames that can be taken before the next one completes a group.
    fn frames_before_group(&self) -> usize {
        self.window_len - (self.filled - self.start) - 1
    }

    /// Takes the newest frame; returns the gain needed by the group holding the frame
    /// [`delay`](Self::delay) back to stay under `ceiling`.
    #[inline]
    fn push(&mut self, frame: [f32; 2], channels: usize, ceiling: f64) -> f64 {
        for (c, window) in self.window.iter_mut().enumerate().take(channels) {
            window[self.filled] = frame[c];
        }
        self.filled += 1;
        if self.filled - self.start == self.window_len {
            let mut peak = 0.0f32;
            for window in self.window.iter().take(channels) {
                let group = &window[self.start..self.filled];
                peak = peak.max(self.groups.peak(group, ceiling as f32));
            }
            let peak = f64::from(peak);
            self.required = if peak > ceiling { ceiling / peak } else { 1.0 };
            self.start += GROUP;
            if self.filled == self.window[0].len() {
                // The next window's samples so far, back to the front.
                for window in self.window.iter_mut().take(channels) {
                    window.copy_within(self.start..self.filled, 0);
                }
                self.filled -= self.start;
                self.start = 0;
            }
        }
        self.required
    }
}

/// Sliding-window minimum over a fixed number of frames (monotonic queue in a ring).
#[derive(Debug, Clone)]
struct WindowMin {
    len: u64,
    /// (frame index, value), values increasing from front to back.
    queue: Vec<(u64, f64)>,
    head: usize,
    count: usize,
}

impl WindowMin {
    fn new(len: usize) -> Self {
        Self {
            len: len as u64,
            queue: vec![(0, 1.0); len + 1],
            head: 0,
            count: 0,
        }
    }

    fn reset(&mut self) {
        self.head = 0;
        self.count = 0;
    }

    /// The queue as pushes of 1.0 up to frame `index` would leave it: one entry. (While the
    /// limiter rests, pushes of 1.0 are skipped and this stands for them.)
    fn rest_at(&mut self, index: u64) {
        self.head = 0;
        self.count = 1;
        self.queue[0] = (index, 1.0);
    }

    /// Ring position `offset` places after the head (no division on the hot path).
    #[inline]
    fn slot(&self, offset: usize) -> usize {
        let at = self.head + offset;
        if at >= self.queue.len() {
            at - self.queue.len()
        } else {
            at
        }
    }

    /// Adds the value of frame `index` and returns the minimum over the last `len` frames.
    #[inline]
    fn push(&mut self, index: u64, value: f64) -> f64 {
        while self.count > 0 && self.queue[self.slot(self.count - 1)].1 >= value {
            self.count -= 1;
        }
        let back = self.slot(self.count);
        self.queue[back] = (index, value);
        self.count += 1;
        while self.queue[self.head].0 + self.len <= index {
            self.head = self.slot(1);
            self.count -= 1;
        }
        self.queue[self.head].1
    }
}

/// The limiter at run time: allocation-free `process`, output independent of block size.
#[derive(Debug, Clone)]
pub struct Limiter {
    channels: usize,
    rate: f64,
    lookahead: usize,
    detection: Detection,
    /// Linear drive (the loudness-target gain) and ceiling, smoothed.
    drive: Smoothed,
    ceiling: Smoothed,
    smoothing: f64,
    release_ms: Smoothed,
    auto_release: bool,
    release: f64,
    fast_release: f64,
    sustain: f64,
    sustain_coefficient: f64,
    window: WindowMin,
    envelope: f64,
    /// Consecutive frames the envelope has been exactly 1 (counted up to the lookahead).
    unity_run: usize,
    /// Nothing to do: the envelope, the held window and the whole box are exactly 1, so each
    /// frame whose group needs no reduction passes with a gain of exactly 1, skipping the
    /// window, the envelope and the box (most frames of most masters).
    resting: bool,
    /// The last `lookahead` envelope values and their sum (the averaging box).
    boxcar: Vec<f64>,
    boxcar_sum: f64,
    boxcar_slot: usize,
    /// Input frames (after the drive) waiting for their gain: `latency` frames per channel.
    delay: [Vec<f32>; 2],
    delay_slot: usize,
    latency: usize,
    /// Input frames seen since the start.
    frame: u64,
    /// Smallest gain since the meter was read, and since the start.
    meter_gain: f64,
    stats_gain: f64,
    /// Reduction (dB) summed over one frame of every control step, and how many.
    stats_sum_db: f64,
    stats_samples: u64,
    stats_frames: u64,
}

/// The limiter works this far under the stated ceiling: room for its own worst overshoot on
/// hard programme (+0.003 dB measured, see tests/limiter.rs) and for the dither and rounding
/// of 16-bit output, so export's closed loop seldom renders twice. Live and offline use the
/// same margin, so what is heard is what is exported.
pub const WORKING_MARGIN_DB: f64 = 0.005;

/// The ceiling the limiter works to for a stated ceiling.
pub fn working_ceiling_dbtp(stated_dbtp: f64) -> f64 {
    stated_dbtp - WORKING_MARGIN_DB
}

impl Limiter {
    pub fn new(settings: &LimiterSettings, sample_rate: u32, channels: usize) -> Self {
        let rate = f64::from(sample_rate);
        let lookahead = ((settings.lookahead_ms * 0.001 * rate).round() as usize).max(1);
        let detection = Detection::new(sample_rate, settings.true_peak);
        let latency = detection.delay() + GUARD_FRAMES + lookahead - 1;
        let mut limiter = Self {
            channels,
            rate,
            lookahead,
            detection,
            drive: Smoothed::new(db_to_amp(settings.gain_db)),
            ceiling: Smoothed::new(db_to_amp(working_ceiling_dbtp(settings.ceiling_dbtp))),
            smoothing: smoothing_coefficient(rate),
            release_ms: Smoothed::new(settings.release_ms),
            auto_release: settings.auto_release,
            release: 0.0,
            fast_release: 0.0,
            sustain: 0.0,
            sustain_coefficient: time_coefficient(SUSTAIN_MS, rate),
            window: WindowMin::new(lookahead + 2 * GUARD_FRAMES),
            envelope: 1.0,
            unity_run: lookahead,
            resting: true,
            boxcar: vec![1.0; lookahead],
            boxcar_sum: lookahead as f64,
            boxcar_slot: 0,
            delay_slot: 0,
            delay: [vec![0.0; latency + 1], vec![0.0; latency + 1]],
            latency,
            frame: 0,
            meter_gain: 1.0,
            stats_gain: 1.0,
            stats_sum_db: 0.0,
            stats_samples: 0,
            stats_frames: 0,
        };
        limiter.update_release();
        limiter
    }

    /// Frames of delay: detection, guard and lookahead.
    pub fn latency_frames(&self) -> usize {
        self.latency
    }

    /// The lookahead in frames (a different one needs a new limiter).
    pub fn lookahead_frames(&self) -> usize {
        self.lookahead
    }

    /// Takes new values (smoothed); the lookahead is structural and is not changed here.
    pub fn set(&mut self, settings: &LimiterSettings) {
        self.drive.target = db_to_amp(settings.gain_db);
        self.ceiling.target = db_to_amp(working_ceiling_dbtp(settings.ceiling_dbtp));
        self.release_ms.target = settings.release_ms;
        self.auto_release = settings.auto_release;
    }

    /// Sets drive and working ceiling at once, without smoothing (offline render and the
    /// solver, which work out the working ceiling themselves).
    pub fn set_now(&mut self, gain_db: f64, working_ceiling_dbtp: f64) {
        self.drive = Smoothed::new(db_to_amp(gain_db));
        self.ceiling = Smoothed::new(db_to_amp(working_ceiling_dbtp));
    }

    /// Sets a sustain measure that rest has decayed below the floor to zero (see
    /// [`crate::dsp::flush`]): at rest it decays every frame, into the subnormal range after
    /// some minutes of a paused desk.
    pub fn flush(&mut self) {
        self.sustain = crate::dsp::flush::flushed(self.sustain);
    }

    pub fn reset(&mut self) {
        self.detection.reset();
        self.window.reset();
        self.envelope = 1.0;
        self.unity_run = self.lookahead;
        self.resting = true;
        self.boxcar.iter_mut().for_each(|g| *g = 1.0);
        self.boxcar_sum = self.lookahead as f64;
        self.boxcar_slot = 0;
        self.delay_slot = 0;
        self.delay.iter_mut().flatten().for_each(|x| *x = 0.0);
        self.drive.current = self.drive.target;
        self.ceiling.current = self.ceiling.target;
        self.release_ms.current = self.release_ms.target;
        self.sustain = 0.0;
        self.frame = 0;
        self.meter_gain = 1.0;
        self.stats_gain = 1.0;
        self.stats_sum_db = 0.0;
        self.stats_samples = 0;
        self.stats_frames = 0;
        self.update_release();
    }

    /// The largest gain reduction (dB) since this was last called: for meters.
    pub fn take_meter_db(&mut self) -> f64 {
        0.0 - fast_amp_to_db(std::mem::replace(&mut self.meter_gain, 1.0)).min(0.0)
    }

    /// Gain-reduction statistics since the start (or the last reset).
    pub fn stats(&self) -> LimiterStats {
        LimiterStats {
            peak_reduction_db: 0.0 - fast_amp_to_db(self.stats_gain).min(0.0),
            mean_reduction_db: if self.stats_samples == 0 {
                0.0
            } else {
                self.stats_sum_db / self.stats_samples as f64
            },
            frames: self.stats_frames,
        }
    }

    fn update_release(&mut self) {
        self.release = time_coefficient(self.release_ms.current, self.rate);
        self.fast_release =
            time_coefficient(self.release_ms.current / AUTO_RELEASE_SPREAD, self.rate);
    }

    fn control_step(&mut self) {
        let k = self.smoothing;
        self.drive.step(k);
        self.ceiling.step(k);
        if self.release_ms.step(k) {
            self.update_release();
        }
    }

    /// The gain of the frame leaving the box now, for the newest frame's requirement: the
    /// held minimum, the release, the average over the lookahead.
    #[inline]
    fn gain_for(&mut self, required: f64) -> f64 {
        let held = self.window.push(self.frame, required);

        // Release: quick after an isolated peak, at the set time under sustained limiting.
        let release = if self.auto_release {
            self.sustain * self.release + (1.0 - self.sustain) * self.fast_release
        } else {
            self.release
        };
        let mut released = 1.0 - (1.0 - self.envelope) * release;
        // The last billionth of the release (−9e-9 dB) is finished at once, so the limiter
        // comes to rest within moments of the last peak instead of seconds.
        if released > 1.0 - 1e-9 {
            released = 1.0;
        }
        // Plain comparisons on the per-frame recursions (`f64::min` adds NaN handling).
        self.envelope = if released < held { released } else { held };
        if self.auto_release {
            let limiting = if self.envelope < 0.989 { 1.0 } else { 0.0 };
            self.sustain = limiting + (self.sustain - limiting) * self.sustain_coefficient;
        }

        let slot = self.boxcar_slot;
        self.boxcar_sum += self.envelope - self.boxcar[slot];
        self.boxcar[slot] = self.envelope;
        self.boxcar_slot = if slot + 1 == self.lookahead {
            0
        } else {
            slot + 1
        };
        self.unity_run = if self.envelope == 1.0 {
            (self.unity_run + 1).min(self.lookahead)
        } else {
            0
        };
        if self.unity_run == self.lookahead && held == 1.0 {
            // The box holds only ones: at rest, with the sum's rounding cleared.
            self.boxcar_sum = self.lookahead as f64;
            self.resting = true;
            return 1.0;
        }
        // An exact 1.0 when nothing in the box is limiting keeps quiet passages bit-exact.
        if self.boxcar_sum >= self.lookahead as f64 - 1e-12 {
            1.0
        } else {
            (self.boxcar_sum / self.lookahead as f64).min(1.0)
        }
    }

    /// Processes planar audio in place (the channel count it was built for; output delayed
    /// by [`latency_frames`](Self::latency_frames)).
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        let frames = channels.first().map_or(0, |c| c.len());
        let stereo = self.channels == 2 && channels.len() >= 2;
        let len = self.latency + 1;
        let mut n = 0;
        while n < frames {
            // At rest, the frames up to the next control step or completed group pass in one
            // go (the frame loop below would give each of them a gain of exactly 1).
            let into_control = (self.frame % CONTROL_FRAMES as u64) as usize;
            if self.resting && self.detection.required >= 1.0 && into_control != 0 {
                let count = (frames - n)
                    .min(CONTROL_FRAMES - into_control)
                    .min(self.detection.frames_before_group());
                if count > 0 {
                    self.pass_at_rest(channels, n, count);
                    n += count;
                    continue;
                }
            }
            if self.frame.is_multiple_of(CONTROL_FRAMES as u64) {
                self.control_step();
            }
            let drive = self.drive.current as f32;
            let input = [
                channels[0][n] * drive,
                if stereo { channels[1][n] * drive } else { 0.0 },
            ];
            let required = self
                .detection
                .push(input, self.channels, self.ceiling.current);
            let gain = if self.resting && required >= 1.0 {
                if self.auto_release {
                    self.sustain *= self.sustain_coefficient;
                }
                1.0
            } else {
                if self.resting {
                    self.resting = false;
                    self.window.rest_at(self.frame.wrapping_sub(1));
                }
                self.gain_for(required)
            };

            let at = self.delay_slot;
            let out_at = if at + 1 == len { 0 } else { at + 1 };
            self.delay_slot = out_at;
            for (c, channel) in channels.iter_mut().take(self.channels).enumerate() {
                self.delay[c][at] = input[c];
                channel[n] = (f64::from(self.delay[c][out_at]) * gain) as f32;
            }
            if gain < self.meter_gain {
                self.meter_gain = gain;
            }
            if gain < self.stats_gain {
                self.stats_gain = gain;
            }
            // The mean is sampled once per control step: a log per frame would cost more than
            // the rest of the gain path.
            if self.frame.is_multiple_of(CONTROL_FRAMES as u64) {
                self.stats_sum_db -= fast_amp_to_db(gain);
                self.stats_samples += 1;
            }
            self.stats_frames += 1;
            self.frame += 1;
            n += 1;
        }
    }

    /// `count` frames from `at`, at rest, with no control step and no detection group
    /// completing among them: exactly what the frame loop of [`process`](Self::process) does
    /// for such frames (into the detection window and the delay line; out of the delay line
    /// at a gain of exactly 1), a channel at a time.
    fn pass_at_rest(&mut self, channels: &mut [&mut [f32]], at: usize, count: usize) {
        let drive = self.drive.current as f32;
        let len = self.latency + 1;
        let stereo = self.channels == 2 && channels.len() >= 2;
        let filled = self.detection.filled;
        for c in 0..self.channels {
            let window = &mut self.detection.window[c][filled..filled + count];
            let Some(channel) = channels.get_mut(c).filter(|_| c == 0 || stereo) else {
                // The frame loop detects silence for a channel it was not given.
                window.fill(0.0);
                continue;
            };
            let samples = &mut channel[at..at + count];
            let delay = &mut self.delay[c];
            let mut slot = self.delay_slot;
            for (x, detected) in samples.iter_mut().zip(window.iter_mut()) {
                let input = *x * drive;
                *detected = input;
                let out_slot = if slot + 1 == len { 0 } else { slot + 1 };
                delay[slot] = input;
                *x = delay[out_slot];
                slot = out_slot;
            }
        }
        self.detection.filled += count;
        self.delay_slot = (self.delay_slot + count) % len;
        if self.auto_release {
            for _ in 0..count {
                self.sustain *= self.sustain_coefficient;
            }
        }
        self.stats_frames += count as u64;
        self.frame += count as u64;
    }
}
