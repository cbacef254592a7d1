//! Playback-system emulation: how a master sounds on a phone, earbuds, in a car or a club.
//!
//! A [`Profile`] (data in `assets/profiles/`) becomes real-time DSP: channel handling (mono
//! sum, crossfeed, mono bass), a minimum-phase biquad fit of the device's response, the
//! device's own dynamics (bass limiting, loudness compression), a level-normalizing gain
//! measured with pink noise so switching profiles compares tone rather than volume, and the
//! listening environment's noise. "Solo what's lost" plays the difference between the
//! untouched signal and what the device reproduces.

pub mod fit;
pub mod noise;
pub mod profile;
pub mod translation;

use crate::audio::AudioBuffer;
use crate::dsp::biquad::{Cascade, Coefficients, butterworth_qs};
use crate::dsp::dynamics::Compressor;
use crate::dsp::flush::FlushClock;
use crate::loudness;
use crate::monitor::MonitorStage;
use crate::units::db_to_amp;
use noise::{Environment, Pink};
use profile::{Band, BandLimiterSpec};
pub use profile::{ChannelHandling, Profile, ProfileError, built_in_profiles};

/// The programme level used to measure level normalization (devices' compressors react to
/// level, so it is measured where a normalized master plays).
const CALIBRATION_LUFS: f64 = -16.0;
const CALIBRATION_SECONDS: f64 = 4.0;
/// Inter-channel correlation of the calibration's stereo pink noise. Music is centre-heavy
/// (vocals, bass and kick in the middle): uncorrelated noise made every mono-summing device
/// play real programme about 2.5 LU louder than the reference; at 0.8, noise with L = R and
/// noise at 0.8 land within 1 LU of it on every device.
pub const CALIBRATION_CORRELATION: f64 = 0.8;
/// Environment noise moves slowly (a crowd's level, crackle): measured over longer.
const NOISE_CALIBRATION_SECONDS: f64 = 16.0;

/// Why an emulation could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EmulationError {
    #[error("the emulation needs 1 or 2 channels, not {0}")]
    Channels(usize),
    #[error("sample rate {0} Hz is not supported by the emulation")]
    Rate(u32),
}

/// A compressor working on one side of a Linkwitz-Riley crossover.
#[derive(Debug, Clone)]
struct BandLimiter {
    band: Band,
    low: Vec<Cascade>,
    high: Vec<Cascade>,
    compressor: Compressor,
}

impl BandLimiter {
    fn new(spec: &BandLimiterSpec, rate: f64, channels: usize) -> Self {
        // LR4: two Butterworth (Q 0.707) sections each side; low + high sum to an all-pass.
        let q = std::f64::consts::FRAC_1_SQRT_2;
        let low = Cascade::new(vec![Coefficients::low_pass(spec.crossover_hz, q, rate); 2]);
        let high = Cascade::new(vec![Coefficients::high_pass(spec.crossover_hz, q, rate); 2]);
        Self {
            band: spec.band,
            low: vec![low; channels],
            high: vec![high; channels],
            compressor: Compressor::new(
                spec.threshold_db,
                spec.ratio,
                3.0,
                spec.attack_ms,
                spec.release_ms,
                rate,
            ),
        }
    }

    fn reset(&mut self) {
        self.low
            .iter_mut()
            .chain(self.high.iter_mut())
            .for_each(Cascade::reset);
        self.compressor.reset();
    }

    fn flush(&mut self) {
        self.low
            .iter_mut()
            .chain(self.high.iter_mut())
            .for_each(Cascade::flush);
        self.compressor.flush();
    }
}

/// The id of the flat reference system the matched level is measured against.
pub const REFERENCE_PROFILE: &str = "reference";

/// At which level a profile plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelMode {
    /// Each track at the loudness it has through the reference system, whatever the device:
    /// switching devices compares tone ([`translation::Translation::matched_offset_db`]).
    #[default]
    Matched,
    /// The device's own calibration (pink noise at ρ 0.8): a device that loses a track's bass
    /// or cancels its side plays it quieter, as it would.
    Device,
}

/// Runtime switches of an emulation (no rebuild needed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmulationOptions {
    /// Add the profile's environment noise (car, club, vinyl surface).
    pub environment_noise: bool,
    /// Play only what the device loses: untouched signal minus the device's output.
    pub solo_lost: bool,
}

/// A profile built for one sample rate, block size and channel count.
#[derive(Debug, Clone)]
pub struct Emulation {
    id: String,
    sample_rate: f64,
    channels: ChannelHandling,
    eq: Vec<Cascade>,
    side_high_pass: Cascade,
    compressor: Option<Compressor>,
    band_limiters: Vec<BandLimiter>,
    normalization_gain: f64,
    /// On top of the calibration: the "matched" level's static gain for the track playing
    /// (1 at the device level).
    level_offset: f64,
    noise: Vec<Environment>,
    noise_gain: f64,
    options: EmulationOptions,
    dry: Vec<Vec<f32>>,
    max_block: usize,
    /// Where the filters' and detectors' decayed states are flushed (see
    /// [`crate::dsp::flush`]).
    flush_clock: FlushClock,
}

impl Emulation {
    /// Builds the DSP and measures its level normalization (allocates; not for the audio
    /// thread).
    pub fn new(
        profile: &Profile,
        sample_rate: u32,
        max_block: usize,
        channel_count: usize,
    ) -> Result<Self, EmulationError> {
        if !(1..=2).contains(&channel_count) {
            return Err(EmulationError::Channels(channel_count));
        }
        if !(8_000..=crate::audio::MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(EmulationError::Rate(sample_rate));
        }
        let rate = f64::from(sample_rate);
        let fit = fit::fit(profile, rate);
        let side_freq = match profile.channels {
            ChannelHandling::MonoBelow { freq_hz } => freq_hz,
            _ => 100.0,
        };
        let side_high_pass = Cascade::new(
            butterworth_qs(4)
                .into_iter()
                .map(|q| Coefficients::high_pass(side_freq, q, rate))
                .collect(),
        );
        let dsp = profile.device_dsp.clone().unwrap_or_default();
        let mut emulation = Self {
            id: profile.id.clone(),
            sample_rate: rate,
            channels: profile.channels,
            eq: vec![Cascade::new(fit.sections); channel_count],
            side_high_pass,
            compressor: dsp.compressor.map(|c| {
                Compressor::new(
                    c.threshold_db,
                    c.ratio,
                    c.knee_db,
                    c.attack_ms,
                    c.release_ms,
                    rate,
                )
            }),
            band_limiters: dsp
                .band_limiters
                .iter()
                .map(|b| BandLimiter::new(b, rate, channel_count))
                .collect(),
            normalization_gain: 1.0,
            level_offset: 1.0,
            noise: (0..channel_count)
                .filter_map(|c| {
                    profile
                        .noise
                        .as_ref()
                        .map(|n| Environment::new(n.kind, rate, 0x5EED + c as u64))
                })
                .collect(),
            noise_gain: 0.0,
            options: EmulationOptions::default(),
            dry: vec![vec![0.0; max_block.max(1)]; channel_count],
            max_block: max_block.max(1),
            flush_clock: FlushClock::default(),
        };
        emulation.normalization_gain = emulation.measure_normalization(sample_rate, channel_count);
        if let Some(spec) = &profile.noise {
            emulation.noise_gain = emulation.measure_noise_gain(sample_rate, spec.level_lufs);
        }
        emulation.reset();
        Ok(emulation)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn set_options(&mut self, options: EmulationOptions) {
        self.options = options;
    }

    /// Plays `offset_db` above the device calibration: the matched level of the track playing
    /// ([`translation::Translation::matched_offset_db`]); 0 is the device level. Static, set
    /// with the profile (switching it is the monitor path's crossfade, not a jump here).
    pub fn set_level_offset_db(&mut self, offset_db: f64) {
        self.level_offset = db_to_amp(offset_db);
    }

    /// The level-normalizing gain (dB) measured for this profile.
    pub fn normalization_db(&self) -> f64 {
        20.0 * self.normalization_gain.log10()
    }

    /// The realized EQ response (dB, before level normalization) at `freq_hz`.
    pub fn eq_response_db(&self, freq_hz: f64) -> f64 {
        self.eq
            .first()
            .map_or(0.0, |c| c.response_db(freq_hz, self.sample_rate))
    }

    /// Pink noise at the calibration level through the device path, loudness in vs out.
    fn measure_normalization(&mut self, sample_rate: u32, channel_count: usize) -> f64 {
        let frames = (CALIBRATION_SECONDS * self.sample_rate) as usize;
        let raw = calibration_pink(frames, channel_count);
        let Some(input) = AudioBuffer::new(sample_rate, raw).ok() else {
            return 1.0;
        };
        let level = loudness::measure(&input)
            .integrated_lufs
            .unwrap_or(CALIBRATION_LUFS);
        let scale = db_to_amp(CALIBRATION_LUFS - level) as f32;
        let mut channels: Vec<Vec<f32>> = input
            .channels()
            .iter()
            .map(|c| c.iter().map(|x| x * scale).collect())
            .collect();
        let saved = self.options;
        self.options = EmulationOptions::default();
        self.reset();
        {
            let mut planes: Vec<&mut [f32]> = channels.iter_mut().map(Vec::as_mut_slice).collect();
            self.process_blocks(&mut planes);
        }
        self.options = saved;
        let out = AudioBuffer::new(sample_rate, channels)
            .ok()
            .map(|a| loudness::measure(&a).integrated_lufs);
        match out.flatten() {
            Some(out_lufs) => db_to_amp(CALIBRATION_LUFS - out_lufs),
            None => 1.0,
        }
    }

    /// The device's channel handling alone (stereo; mono sum, crossfeed or mono bass), in
    /// place: what [`translation`] measures mono cancellation with.
    fn handle_channels(&mut self, left: &mut [f32], right: &mut [f32]) {
        match self.channels {
            ChannelHandling::Stereo => {}
            ChannelHandling::MonoSum => {
                for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                    let mono = 0.5 * (*l + *r);
                    (*l, *r) = (mono, mono);
                }
            }
            ChannelHandling::Crossfeed { amount_db } => {
                let a = db_to_amp(amount_db) as f32;
                let norm = 1.0 / (1.0 + a);
                for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                    (*l, *r) = ((*l + a * *r) * norm, (*r + a * *l) * norm);
                }
            }
            ChannelHandling::MonoBelow { .. } => {
                for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                    let mid = 0.5 * (f64::from(*l) + f64::from(*r));
                    let side = self
                        .side_high_pass
                        .tick(0.5 * (f64::from(*l) - f64::from(*r)));
                    (*l, *r) = ((mid + side) as f32, (mid - side) as f32);
                }
            }
        }
    }

    /// The gain that puts the environment noise at its stated loudness.
    fn measure_noise_gain(&mut self, sample_rate: u32, level_lufs: f64) -> f64 {
        let frames = (NOISE_CALIBRATION_SECONDS * self.sample_rate) as usize;
        let raw: Vec<Vec<f32>> = self
            .noise
            .iter_mut()
            .map(|n| (0..frames).map(|_| n.sample() as f32).collect())
            .collect();
        match AudioBuffer::new(sample_rate, raw)
            .ok()
            .and_then(|a| loudness::measure(&a).integrated_lufs)
        {
            Some(measured) => db_to_amp(level_lufs - measured),
            None => 0.0,
        }
    }

    /// Splits long buffers into blocks the scratch space holds, ending blocks where the
    /// decayed states are due for their flush.
    fn process_blocks(&mut self, channels: &mut [&mut [f32]]) {
        let frames = channels.first().map_or(0, |c| c.len());
        let mut start = 0;
        while start < frames {
            let end = start
                + self
                    .flush_clock
                    .stretch((frames - start).min(self.max_block));
            self.process_block(channels, start, end);
            if self.flush_clock.advance(end - start) {
                self.flush();
            }
            start = end;
        }
    }

    /// Sets every filter and detector state that silence has decayed below the floor to zero.
    fn flush(&mut self) {
        self.eq.iter_mut().for_each(Cascade::flush);
        self.side_high_pass.flush();
        if let Some(c) = &mut self.compressor {
            c.flush();
        }
        self.band_limiters.iter_mut().for_each(BandLimiter::flush);
    }

    fn process_block(&mut self, channels: &mut [&mut [f32]], start: usize, end: usize) {
        let count = channels.len().min(self.eq.len());
        let len = end - start;
        if self.options.solo_lost {
            for (dry, channel) in self.dry.iter_mut().zip(channels.iter()) {
                dry[..len].copy_from_slice(&channel[start..end]);
            }
        }
        // Channel handling (stereo only).
        if count == 2 {
            let (left, right) = channels.split_at_mut(1);
            self.handle_channels(&mut left[0][start..end], &mut right[0][start..end]);
        }
        for (eq, channel) in self.eq.iter_mut().zip(channels.iter_mut()) {
            eq.process(&mut channel[start..end]);
        }
        for limiter in &mut self.band_limiters {
            #[allow(clippy::needless_range_loop)] // frame `i` of every channel, linked
            for i in start..end {
                // At most two channels: the bands fit on the stack.
                let (mut low, mut high, mut peak) = ([0.0f64; 2], [0.0f64; 2], 0.0f64);
                for c in 0..count {
                    let x = f64::from(channels[c][i]);
                    low[c] = limiter.low[c].tick(x);
                    high[c] = limiter.high[c].tick(x);
                    let band = if limiter.band == Band::Low {
                        low[c]
                    } else {
                        high[c]
                    };
                    peak = peak.max(band.abs());
                }
                let gain = limiter.compressor.gain_for(peak);
                for c in 0..count {
                    let out = match limiter.band {
                        Band::Low => low[c] * gain + high[c],
                        Band::High => low[c] + high[c] * gain,
                    };
                    channels[c][i] = out as f32;
                }
            }
        }
        for i in start..end {
            let gain = match &mut self.compressor {
                Some(compressor) => {
                    let peak = (0..count)
                        .map(|c| f64::from(channels[c][i]).abs())
                        .fold(0.0, f64::max);
                    compressor.gain_for(peak)
                }
                None => 1.0,
            } * self.normalization_gain
                // What is lost is told against the device's own level.
                * if self.options.solo_lost {
                    1.0
                } else {
                    self.level_offset
                };
            for channel in channels.iter_mut().take(count) {
                channel[i] = (f64::from(channel[i]) * gain) as f32;
            }
        }
        if self.options.solo_lost {
            for (dry, channel) in self.dry.iter().zip(channels.iter_mut()) {
                for (out, &d) in channel[start..end].iter_mut().zip(&dry[..len]) {
                    *out = d - *out;
                }
            }
        } else if self.options.environment_noise && self.noise_gain > 0.0 {
            for (noise, channel) in self.noise.iter_mut().zip(channels.iter_mut()) {
                for out in &mut channel[start..end] {
                    *out += (noise.sample() * self.noise_gain) as f32;
                }
            }
        }
    }
}

impl MonitorStage for Emulation {
    fn process(&mut self, channels: &mut [&mut [f32]]) {
        self.process_blocks(channels);
    }

    /// Minimum-phase IIR throughout: no delay to compensate.
    fn latency_frames(&self) -> usize {
        0
    }

    fn reset(&mut self) {
        self.eq.iter_mut().for_each(Cascade::reset);
        self.side_high_pass.reset();
        if let Some(c) = &mut self.compressor {
            c.reset();
        }
        self.band_limiters.iter_mut().for_each(BandLimiter::reset);
        self.noise.iter_mut().for_each(Environment::reset);
        self.flush_clock.reset();
    }
}

/// The calibration's pink noise: one channel, or two at [`CALIBRATION_CORRELATION`] (a shared
/// part and a part of each side's own, in power proportion ρ : 1 − ρ).
pub fn calibration_pink(frames: usize, channel_count: usize) -> Vec<Vec<f32>> {
    let mut shared = Pink::new(0xC0FFEE);
    if channel_count < 2 {
        return vec![(0..frames).map(|_| shared.sample() as f32).collect()];
    }
    let (common, own) = (
        CALIBRATION_CORRELATION.sqrt(),
        (1.0 - CALIBRATION_CORRELATION).sqrt(),
    );
    let mut sides = [Pink::new(0xC0FFEF), Pink::new(0xC0FFF0)];
    let mut channels = vec![Vec::with_capacity(frames), Vec::with_capacity(frames)];
    for _ in 0..frames {
        let c = shared.sample() * common;
        for (channel, side) in channels.iter_mut().zip(&mut sides) {
            channel.push((c + side.sample() * own) as f32);
        }
    }
    channels
}
