//! The meters of what is playing: momentary, short-term and integrated loudness since the
//! meter was reset, loudness range, true and sample peaks per channel, and stereo
//! correlation. Fed in blocks from playback's master tap on the UI thread.
//!
//! Loudness and range come from libebur128's algorithm (the `ebur128` crate), the reference
//! the offline meter is tested against; true peak from the engine's own 8×-at-48 kHz meter,
//! the one that measures exported files, so a live reading and a file's report agree.

use ebur128::{EbuR128, Mode};

use super::true_peak::TruePeakMeter;
use crate::units::amp_to_db;

/// Correlation time constant: long enough to read, short enough to follow a passage.
const CORRELATION_S: f64 = 0.3;

/// One reading of the live meters. `None`: not enough audio yet, or silence.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveReading {
    pub momentary_lufs: Option<f64>,
    pub short_term_lufs: Option<f64>,
    pub integrated_lufs: Option<f64>,
    pub lra_lu: Option<f64>,
    /// Per channel, since the reset.
    pub true_peak_dbtp: Vec<Option<f64>>,
    pub sample_peak_dbfs: Vec<Option<f64>>,
    /// −1 (out of phase) … +1 (mono); None for mono or silence.
    pub correlation: Option<f64>,
    /// Seconds measured since the reset.
    pub seconds: f64,
}

impl LiveReading {
    /// The largest true peak of all channels.
    pub fn true_peak_max_dbtp(&self) -> Option<f64> {
        self.true_peak_dbtp
            .iter()
            .flatten()
            .copied()
            .reduce(f64::max)
    }

    /// Peak-to-loudness ratio so far.
    pub fn plr_db(&self) -> Option<f64> {
        Some(self.true_peak_max_dbtp()? - self.integrated_lufs?)
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[error("the live meter cannot run {channels} channels at {rate} Hz: {reason}")]
pub struct LiveMeterError {
    pub channels: usize,
    pub rate: u32,
    pub reason: String,
}

pub struct LiveLoudness {
    rate: u32,
    channels: usize,
    meter: EbuR128,
    true_peak: Vec<TruePeakMeter>,
    true_peak_max: Vec<f32>,
    sample_peak_max: Vec<f32>,
    planar: Vec<Vec<f32>>,
    /// Exponentially weighted sums for the correlation: L·R, L², R².
    lr: f64,
    ll: f64,
    rr: f64,
    smoothing: f64,
    frames: u64,
    /// Momentary and short-term loudness as of the last [`WINDOW_STEP_S`] step.
    momentary_lufs: Option<f64>,
    short_term_lufs: Option<f64>,
}

/// How often the momentary and short-term loudness are taken: EBU Tech 3341's 10 Hz. Each
/// reading sums the whole window (3 s for the short-term), too dear for every display frame.
const WINDOW_STEP_S: f64 = 0.1;

impl std::fmt::Debug for LiveLoudness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveLoudness")
            .field("rate", &self.rate)
            .field("channels", &self.channels)
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl LiveLoudness {
    pub fn new(rate: u32, channels: usize) -> Result<Self, LiveMeterError> {
        let fail = |reason: String| LiveMeterError {
            channels,
            rate,
            reason,
        };
        if !(1..=2).contains(&channels) {
            return Err(fail("the desk meters mono and stereo".into()));
        }
        let meter = EbuR128::new(
            channels as u32,
            rate,
            Mode::M | Mode::S | Mode::I | Mode::LRA,
        )
        .map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            rate,
            channels,
            meter,
            true_peak: (0..channels).map(|_| TruePeakMeter::new(rate)).collect(),
            true_peak_max: vec![0.0; channels],
            sample_peak_max: vec![0.0; channels],
            planar: vec![Vec::new(); channels],
            lr: 0.0,
            ll: 0.0,
            rr: 0.0,
            smoothing: (-1.0 / (CORRELATION_S * f64::from(rate))).exp(),
            frames: 0,
            momentary_lufs: None,
            short_term_lufs: None,
        })
    }

    /// Adds interleaved frames (as many channels as the meter was made for), taking the
    /// momentary and short-term loudness at every 100 ms step of them.
    pub fn push_interleaved(&mut self, samples: &[f32]) {
        let step = ((WINDOW_STEP_S * f64::from(self.rate)).round() as u64).max(1);
        let mut rest = &samples[..samples.len() / self.channels * self.channels];
        while !rest.is_empty() {
            let to_step = (step - self.frames % step) as usize;
            let (now, later) = rest.split_at((to_step * self.channels).min(rest.len()));
            self.push_frames(now);
            if self.frames.is_multiple_of(step) {
                self.take_windows();
            }
            rest = later;
        }
    }

    fn take_windows(&mut self) {
        let seconds = self.frames as f64 / f64::from(self.rate);
        self.momentary_lufs = (seconds >= 0.4)
            .then(|| finite_lufs(self.meter.loudness_momentary()))
            .flatten();
        self.short_term_lufs = (seconds >= 3.0)
            .then(|| finite_lufs(self.meter.loudness_shortterm()))
            .flatten();
    }

    /// Adds whole interleaved frames to every meter.
    fn push_frames(&mut self, samples: &[f32]) {
        let frames = samples.len() / self.channels;
        // The meter only fails on a length that is not whole frames, ruled out above.
        let _ = self.meter.add_frames_f32(samples);
        for (c, planar) in self.planar.iter_mut().enumerate() {
            planar.clear();
            planar.extend(samples.iter().skip(c).step_by(self.channels));
        }
        for c in 0..self.channels {
            let chunk = &self.planar[c];
            let (peak, sample_peak) = self.true_peak[c].chunk_peaks(chunk, self.true_peak_max[c]);
            self.true_peak_max[c] = self.true_peak_max[c].max(peak);
            self.sample_peak_max[c] = self.sample_peak_max[c].max(sample_peak);
        }
        if self.channels == 2 {
            let a = self.smoothing;
            for (&l, &r) in self.planar[0].iter().zip(&self.planar[1]) {
                let (l, r) = (f64::from(l), f64::from(r));
                self.lr = a * self.lr + (1.0 - a) * l * r;
                self.ll = a * self.ll + (1.0 - a) * l * l;
                self.rr = a * self.rr + (1.0 - a) * r * r;
            }
        }
        self.frames += frames as u64;
    }

    /// Starts again (play from the start, a seek, the engineer's reset).
    pub fn reset(&mut self) {
        self.meter.reset();
        for meter in &mut self.true_peak {
            meter.reset();
        }
        self.true_peak_max.fill(0.0);
        self.sample_peak_max.fill(0.0);
        (self.lr, self.ll, self.rr) = (0.0, 0.0, 0.0);
        self.frames = 0;
        (self.momentary_lufs, self.short_term_lufs) = (None, None);
    }

    /// Everything the meters read: [`Self::instant_reading`] with the integrated loudness
    /// and the loudness range since the reset.
    pub fn reading(&self) -> LiveReading {
        let seconds = self.frames as f64 / f64::from(self.rate);
        LiveReading {
            integrated_lufs: finite_lufs(self.meter.loudness_global()),
            lra_lu: self
                .meter
                .loudness_range()
                .ok()
                .filter(|v| v.is_finite() && seconds >= 3.0),
            ..self.instant_reading()
        }
    }

    /// The momentary and short-term loudness (as of the last 100 ms step), peaks and
    /// correlation, with no integrated loudness or range (`None`): cheap enough for every
    /// display frame. The integrated loudness and the range gate the whole history since the
    /// reset (the range sorts every short-term block), so they cost more the longer the
    /// play; a display reads them with [`Self::reading`] a few times a second.
    pub fn instant_reading(&self) -> LiveReading {
        let level = |peak: f32| (peak > 0.0).then(|| amp_to_db(f64::from(peak)));
        let seconds = self.frames as f64 / f64::from(self.rate);
        let correlation = (self.channels == 2 && self.ll > 1e-12 && self.rr > 1e-12)
            .then(|| (self.lr / (self.ll * self.rr).sqrt()).clamp(-1.0, 1.0));
        LiveReading {
            momentary_lufs: self.momentary_lufs,
            short_term_lufs: self.short_term_lufs,
            integrated_lufs: None,
            lra_lu: None,
            true_peak_dbtp: self.true_peak_max.iter().map(|&p| level(p)).collect(),
            sample_peak_dbfs: self.sample_peak_max.iter().map(|&p| level(p)).collect(),
            correlation,
            seconds,
        }
    }
}

/// libebur128 reports −inf (or −HUGE_VAL) for silence and too-short windows.
fn finite_lufs(v: Result<f64, ebur128::Error>) -> Option<f64> {
    v.ok().filter(|v| v.is_finite() && *v > -70.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::TAU;

    /// Interleaved stereo sine, `right_sign` = −1 for antiphase.
    fn stereo_sine(rate: u32, seconds: f64, amplitude: f64, right_sign: f64) -> Vec<f32> {
        let frames = (seconds * f64::from(rate)) as usize;
        (0..frames)
            .flat_map(|n| {
                let x = amplitude * (TAU * 1_000.0 * n as f64 / f64::from(rate)).sin();
                [x as f32, (right_sign * x) as f32]
            })
            .collect()
    }

    #[test]
    fn a_tech_3341_tone_reads_minus_23_everywhere_and_correlation_tells_phase() {
        // EBU Tech 3341 case 1: 1 kHz stereo sine at −23 dBFS (per channel, peak) reads
        // −23 LUFS momentary, short-term and integrated.
        let rate = 48_000;
        let amplitude = 10f64.powf(-23.0 / 20.0);
        let mut meter = LiveLoudness::new(rate, 2).expect("meter");
        let signal = stereo_sine(rate, 20.0, amplitude, 1.0);
        for block in signal.chunks(2 * 1_024) {
            meter.push_interleaved(block);
        }
        let r = meter.reading();
        // The instant reading is the same but for the programme's loudness and range.
        assert_eq!(
            meter.instant_reading(),
            LiveReading {
                integrated_lufs: None,
                lra_lu: None,
                ..r.clone()
            }
        );
        for (name, v) in [
            ("momentary", r.momentary_lufs),
            ("short-term", r.short_term_lufs),
            ("integrated", r.integrated_lufs),
        ] {
            let v = v.expect(name);
            assert!((v + 23.0).abs() < 0.1, "{name} {v}");
        }
        assert!(r.lra_lu.expect("LRA") < 0.1);
        let tp = r.true_peak_max_dbtp().expect("TP");
        assert!((tp + 23.0).abs() < 0.05, "{tp}");
        assert!((r.correlation.expect("correlation") - 1.0).abs() < 1e-6);
        assert!((r.seconds - 20.0).abs() < 1e-9);

        meter.reset();
        assert_eq!(meter.reading().integrated_lufs, None);
        for block in stereo_sine(rate, 1.0, amplitude, -1.0).chunks(2 * 512) {
            meter.push_interleaved(block);
        }
        let r = meter.reading();
        assert!((r.correlation.expect("correlation") + 1.0).abs() < 1e-6);
        assert_eq!(
            r.short_term_lufs, None,
            "1 s is less than a short-term window"
        );
    }

    #[test]
    fn the_windows_are_read_every_100_ms_of_audio_whatever_the_blocks() {
        let rate = 48_000;
        let tone = stereo_sine(rate, 2.0, 0.1, 1.0);
        let mut small = LiveLoudness::new(rate, 2).expect("meter");
        for block in tone.chunks(2 * 777) {
            small.push_interleaved(block);
        }
        let mut whole = LiveLoudness::new(rate, 2).expect("meter");
        whole.push_interleaved(&tone);
        let at_2s = whole.instant_reading().momentary_lufs.expect("momentary");
        assert_eq!(small.instant_reading().momentary_lufs, Some(at_2s));
        // Silence: the reading holds until the next step, then falls.
        let silence = vec![0.0f32; 2 * 4_800];
        whole.push_interleaved(&silence[..2 * 4_799]);
        assert_eq!(whole.instant_reading().momentary_lufs, Some(at_2s));
        whole.push_interleaved(&silence[..2]);
        let after = whole.instant_reading().momentary_lufs.expect("momentary");
        assert!(after < at_2s - 1.0, "{after} after {at_2s}");
    }

    #[test]
    fn mono_has_no_correlation_and_more_channels_are_refused() {
        let mut meter = LiveLoudness::new(44_100, 1).expect("mono");
        meter.push_interleaved(&vec![0.5; 44_100]);
        let r = meter.reading();
        assert_eq!(r.correlation, None);
        assert_eq!(r.sample_peak_dbfs, vec![Some(amp_to_db(0.5))]);
        assert!(LiveLoudness::new(48_000, 6).is_err());
    }
}
