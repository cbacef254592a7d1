//! The monitor path, whole: what playback (and so the desk) and `crest preview` hear through,
//! one implementation for all of them.
//!
//! Per frame: each source at its gain (level matching or the platform's normalization,
//! moving in a ramp when it changes), the sources crossfaded when the one heard changes, the
//! platform's limiter on a source the platform turns up, then the playback-system emulation
//! (crossfaded when it changes), the transport's fade, mono / mid / side, dim (ramped) and the
//! safety ceiling. Nothing here allocates after [`MonitorPath::new`]; every ramp counts frames,
//! so the output does not depend on how the audio is cut into blocks.

use super::{Listen, MonitorStage, Source, VersionSlot};
use crate::AudioBuffer;
use crate::dsp::dynamics::Compressor;
use crate::loudness::Loudness;
use crate::platform::{PlatformLimiter, Target};

/// Length of every monitor ramp: a source crossfade, a gain or dim change, an emulation
/// crossfade.
pub const MONITOR_RAMP_MS: f64 = 10.0;
/// Dim: −20 dB.
pub const DIM_GAIN: f32 = 0.1;
/// Nothing leaves the monitor beyond full scale: a protection for ears and speakers, above
/// any master's ceiling, so that a master with a ceiling up to 0 dBTP is heard as exported.
pub const SAFETY_CEILING: f32 = 1.0;

/// A source's measured loudness, for working out the level it is heard at.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Measured {
    pub integrated_lufs: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
}

impl From<&Loudness> for Measured {
    fn from(l: &Loudness) -> Self {
        Self {
            integrated_lufs: l.integrated_lufs,
            true_peak_dbtp: l.true_peak_dbtp,
        }
    }
}

/// The platform's limiter (Spotify's loud mode) and the sources it acts on: those the platform
/// turns up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlatformLimit {
    pub limiter: PlatformLimiter,
    /// Whether it acts on each gain slot's source (in order: the master, the mix,
    /// the reference, the codec's copy and the two versions).
    pub on: [bool; GAIN_SLOTS],
}

/// The linear gain each source is heard at. With platform preview on, each is the platform's
/// gain for that source's own loudness and true peak (and its limiter on the sources it turns
/// up); with it off, the mix and the reference are matched to the master's integrated
/// loudness and the master is at unity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceGains {
    pub master: f32,
    pub mix: f32,
    pub reference: f32,
    /// The codec's decoded copy, and what it loses (heard at the same gain).
    pub codec: f32,
    /// The two versions rendered offline ([`Source::Version`]).
    pub versions: [f32; 2],
    pub limit: Option<PlatformLimit>,
}

impl SourceGains {
    /// Platform preview off: the mix and the reference at the master's integrated loudness
    /// (a source without a measurement stays at unity).
    pub fn matched(master: Measured, mix: Measured, reference: Measured) -> Self {
        let to_master = |other: Measured| match (master.integrated_lufs, other.integrated_lufs) {
            (Some(target), Some(level)) => 10f64.powf((target - level) / 20.0) as f32,
            _ => 1.0,
        };
        Self {
            master: 1.0,
            mix: to_master(mix),
            reference: to_master(reference),
            codec: 1.0,
            versions: [1.0; 2],
            limit: None,
        }
    }

    /// Platform preview on: each source at the gain `platform` gives it for its own loudness
    /// and true peak, as a listener would hear the three as separate tracks; the platform's
    /// limiter, where it has one, on each source it turns up.
    pub fn platform(
        platform: &Target,
        master: Measured,
        mix: Measured,
        reference: Measured,
    ) -> Self {
        let [master, mix, reference] = [master, mix, reference].map(|m| {
            platform
                .preview(m.integrated_lufs, m.true_peak_dbtp)
                .gain_db
        });
        Self {
            master: 10f64.powf(master / 20.0) as f32,
            mix: 10f64.powf(mix / 20.0) as f32,
            reference: 10f64.powf(reference / 20.0) as f32,
            codec: 10f64.powf(master / 20.0) as f32,
            versions: [10f64.powf(master / 20.0) as f32; 2],
            limit: platform.limiter.map(|limiter| PlatformLimit {
                limiter,
                on: [master, mix, reference, master, master, master].map(|gain| gain > 0.0),
            }),
        }
    }

    /// These gains with the codec's decoded copy, measured as `codec`, at its own level: with
    /// `platform`, the gain the platform gives the decoded file (and its limiter where it
    /// turns it up), as a service plays the encoded track; without, matched to the master's
    /// integrated loudness, `master`.
    pub fn with_codec(self, codec: Measured, master: Measured, platform: Option<&Target>) -> Self {
        self.with_own_level(Source::Codec, codec, master, platform)
    }

    /// These gains with a version of the master in `slot`, measured as `version`, at its own
    /// level, as [`with_codec`](Self::with_codec) sets the codec's copy.
    pub fn with_version(
        self,
        slot: VersionSlot,
        version: Measured,
        master: Measured,
        platform: Option<&Target>,
    ) -> Self {
        self.with_own_level(Source::Version(slot), version, master, platform)
    }

    fn with_own_level(
        mut self,
        source: Source,
        measured: Measured,
        master: Measured,
        platform: Option<&Target>,
    ) -> Self {
        let gain = match platform {
            Some(platform) => {
                let gain_db = platform
                    .preview(measured.integrated_lufs, measured.true_peak_dbtp)
                    .gain_db;
                if let Some(limit) = self.limit.as_mut() {
                    limit.on[source.slot()] = gain_db > 0.0;
                }
                10f64.powf(gain_db / 20.0) as f32
            }
            None => match (master.integrated_lufs, measured.integrated_lufs) {
                (Some(target), Some(level)) => {
                    self.master * 10f64.powf((target - level) / 20.0) as f32
                }
                _ => self.master,
            },
        };
        match source {
            Source::Version(slot) => self.versions[slot.index()] = gain,
            _ => self.codec = gain,
        }
        self
    }

    fn of(&self, source: Source) -> f32 {
        match source {
            Source::Master => self.master,
            Source::Mix => self.mix,
            Source::Reference => self.reference,
            Source::Codec | Source::CodecLoss => self.codec,
            Source::Version(slot) => self.versions[slot.index()],
        }
    }

    /// Whether the platform's limiter acts on `source` (never on the codec's loss: a
    /// residue, not a track a platform plays).
    fn limited(&self, source: Source) -> bool {
        source != Source::CodecLoss && self.limit.is_some_and(|l| l.on[source.slot()])
    }
}

impl Default for SourceGains {
    fn default() -> Self {
        Self {
            master: 1.0,
            mix: 1.0,
            reference: 1.0,
            codec: 1.0,
            versions: [1.0; 2],
            limit: None,
        }
    }
}

/// The sources of one block, stereo (a mono track on both sides), each `frames` long.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    pub master: [&'a [f32]; 2],
    pub mix: [&'a [f32]; 2],
    pub reference: [&'a [f32]; 2],
    /// The master as the codec decodes it, and the master minus that (silence without a
    /// codec copy).
    pub codec: [&'a [f32]; 2],
    pub codec_loss: [&'a [f32]; 2],
    /// The versions rendered offline, by [`VersionSlot`] (silence where a slot is empty).
    pub versions: [[&'a [f32]; 2]; 2],
}

impl Sources<'_> {
    #[inline]
    fn sample(&self, source: Source, c: usize, k: usize) -> f32 {
        match source {
            Source::Master => self.master[c][k],
            Source::Mix => self.mix[c][k],
            Source::Reference => self.reference[c][k],
            Source::Codec => self.codec[c][k],
            Source::CodecLoss => self.codec_loss[c][k],
            Source::Version(slot) => self.versions[slot.index()][c][k],
        }
    }
}

/// A linear ramp from 0 (the old) to 1 (the new) over a number of frames: the monitor's
/// crossfades and glides, and playback's chain swap.
#[derive(Debug, Clone, Copy)]
pub struct Ramp {
    progress: f32,
    step: f32,
}

impl Ramp {
    /// A ramp at its end.
    pub fn done() -> Self {
        Self {
            progress: 1.0,
            step: 1.0,
        }
    }

    /// A ramp from 0 that reaches 1 on its `frames`-th step.
    pub fn start(frames: usize) -> Self {
        Self {
            progress: 0.0,
            step: 1.0 / frames.max(1) as f32,
        }
    }

    /// One frame's step: the new value's share.
    #[inline]
    pub fn advance(&mut self) -> f32 {
        self.progress = (self.progress + self.step).min(1.0);
        self.progress
    }

    pub fn running(&self) -> bool {
        self.progress < 1.0
    }
}

/// A value that moves to a new one along a ramp.
#[derive(Debug, Clone, Copy)]
struct Glide {
    from: f32,
    to: f32,
    ramp: Ramp,
}

impl Glide {
    fn at(value: f32) -> Self {
        Self {
            from: value,
            to: value,
            ramp: Ramp::done(),
        }
    }

    fn set(&mut self, value: f32, frames: usize) {
        if value != self.to {
            self.from = self.current();
            self.to = value;
            self.ramp = Ramp::start(frames);
        }
    }

    fn current(&self) -> f32 {
        self.from + (self.to - self.from) * self.ramp.progress
    }

    #[inline]
    fn next(&mut self) -> f32 {
        if self.ramp.running() {
            self.ramp.advance();
            self.current()
        } else {
            self.to
        }
    }
}

/// The monitor path (see the module's notes).
#[derive(Debug)]
pub struct MonitorPath {
    rate: f64,
    ramp_frames: usize,
    max_block: usize,
    source: Source,
    /// The source faded out while `source_fade` runs.
    previous: Source,
    source_fade: Ramp,
    gains: SourceGains,
    /// Each gain slot's gain ([`Source::slot`]), gliding to the last set.
    glides: [Glide; GAIN_SLOTS],
    /// The platform's limiter, built for the last [`PlatformLimit`] set (kept when the limit
    /// is taken away, so its effect can glide out).
    limiter: Option<Compressor>,
    /// How much of the limiter's gain each source ([`Source::index`]) takes: 1 where the
    /// platform raises it through its limiter, 0 elsewhere, gliding between.
    limited: [Glide; SOURCES.len()],
    emulation: Option<Box<dyn MonitorStage>>,
    outgoing: Option<Box<dyn MonitorStage>>,
    emulation_fade: Ramp,
    /// An emulation whose fade-out has ended, for the owner to drop off the audio thread.
    retired: Option<Box<dyn MonitorStage>>,
    listen: Listen,
    dim: Glide,
    heard: [Vec<f32>; 2],
    old_heard: [Vec<f32>; 2],
}

impl MonitorPath {
    /// A monitor for `sample_rate`, taking blocks of up to `max_block` frames (allocates):
    /// the master heard at unity, nothing else on.
    pub fn new(sample_rate: u32, max_block: usize) -> Self {
        let rate = f64::from(sample_rate);
        let max_block = max_block.max(1);
        Self {
            rate,
            ramp_frames: ((MONITOR_RAMP_MS * 0.001 * rate).round() as usize).max(1),
            max_block,
            source: Source::Master,
            previous: Source::Master,
            source_fade: Ramp::done(),
            gains: SourceGains::default(),
            glides: [Glide::at(1.0); GAIN_SLOTS],
            limiter: None,
            limited: [Glide::at(0.0); SOURCES.len()],
            emulation: None,
            outgoing: None,
            emulation_fade: Ramp::done(),
            retired: None,
            listen: Listen::Stereo,
            dim: Glide::at(1.0),
            heard: [vec![0.0; max_block], vec![0.0; max_block]],
            old_heard: [vec![0.0; max_block], vec![0.0; max_block]],
        }
    }

    /// Whether `source` is heard now (or still fading out).
    pub fn hears(&self, source: Source) -> bool {
        self.source == source || (self.source_fade.running() && self.previous == source)
    }

    /// The largest block [`process`](Self::process) takes.
    pub fn max_block(&self) -> usize {
        self.max_block
    }

    /// Hear `source`, crossfaded from the one heard until now.
    pub fn set_source(&mut self, source: Source) {
        if source != self.source {
            self.previous = self.source;
            self.source = source;
            self.source_fade = Ramp::start(self.ramp_frames);
        }
    }

    /// New source gains: each glides to its new value, and so does the share of the
    /// platform's limiter each source takes (a limit taken away glides out through the
    /// limiter it had). A limiter of other values is built anew (allocation-free).
    pub fn set_gains(&mut self, gains: SourceGains) {
        for (glide, source) in self.glides.iter_mut().zip(GAIN_SOURCES) {
            glide.set(gains.of(source), self.ramp_frames);
        }
        for (glide, source) in self.limited.iter_mut().zip(SOURCES) {
            glide.set(f32::from(u8::from(gains.limited(source))), self.ramp_frames);
        }
        if let Some(limit) = gains.limit
            && Some(limit.limiter) != self.gains.limit.map(|l| l.limiter)
        {
            self.limiter = Some(self.platform_limiter(limit.limiter));
        }
        self.gains = gains;
    }

    /// [`set_gains`](Self::set_gains) without the glide: for a path set up before any audio.
    pub fn set_gains_now(&mut self, gains: SourceGains) {
        self.set_gains(gains);
        self.glides = GAIN_SOURCES.map(|source| Glide::at(gains.of(source)));
        self.limited = SOURCES.map(|source| Glide::at(f32::from(u8::from(gains.limited(source)))));
    }

    /// The platform's limiter as its table entry describes it: a peak limiter at its ceiling.
    fn platform_limiter(&self, l: PlatformLimiter) -> Compressor {
        Compressor::new(
            l.ceiling_dbtp,
            100.0,
            0.0,
            l.attack_ms,
            l.release_ms,
            self.rate,
        )
    }

    /// A playback-system emulation (or none), crossfaded in from the one heard until now. An
    /// emulation still fading out from an earlier change is handed back to be dropped off the
    /// audio thread.
    pub fn set_emulation(
        &mut self,
        stage: Option<Box<dyn MonitorStage>>,
    ) -> Option<Box<dyn MonitorStage>> {
        let older = self.outgoing.take();
        self.outgoing = std::mem::replace(&mut self.emulation, stage);
        if let Some(stage) = self.emulation.as_mut() {
            stage.reset();
        }
        self.emulation_fade = Ramp::start(self.ramp_frames);
        older
    }

    /// [`set_emulation`](Self::set_emulation) without the crossfade: for a path set up before
    /// any audio.
    pub fn set_emulation_now(
        &mut self,
        stage: Option<Box<dyn MonitorStage>>,
    ) -> [Option<Box<dyn MonitorStage>>; 2] {
        let older = self.set_emulation(stage);
        self.emulation_fade = Ramp::done();
        [older, self.outgoing.take()]
    }

    /// An emulation whose crossfade out has ended, to be dropped off the audio thread.
    pub fn take_retired(&mut self) -> Option<Box<dyn MonitorStage>> {
        self.retired.take()
    }

    pub fn set_listen(&mut self, listen: Listen) {
        self.listen = listen;
    }

    /// Dim on or off: the level glides there.
    pub fn set_dim(&mut self, dim: bool) {
        self.dim
            .set(if dim { DIM_GAIN } else { 1.0 }, self.ramp_frames);
    }

    /// Runs one block (at most [`max_block`](Self::max_block) frames, the length of `out`)
    /// through the path into `out` (stereo). `transport(k)` is the transport's gain for frame
    /// `k` (its fades; 1 otherwise), applied after the emulation so a fade to silence ends in
    /// silence. `heard(left, right)` sees each frame as heard (after mono / mid / side,
    /// before dim and the safety ceiling), for the live spectrum.
    pub fn process(
        &mut self,
        sources: Sources<'_>,
        transport: impl Fn(usize) -> f32,
        out: [&mut [f32]; 2],
        mut heard: impl FnMut(f32, f32),
    ) {
        let frames = out[0].len().min(out[1].len()).min(self.max_block);
        let [left, right] = &mut self.heard;
        let (left, right) = (&mut left[..frames], &mut right[..frames]);
        for k in 0..frames {
            let gains = self.glides.each_mut().map(|glide| glide.next());
            let limited = self.limited.each_mut().map(|glide| glide.next());
            let at = |source: Source, c: usize| sources.sample(source, c, k) * gains[source.slot()];
            let fading = self.source_fade.running();
            let share = self.source_fade.advance();
            let mut frame = [0usize, 1].map(|c| {
                let current = at(self.source, c);
                if fading {
                    let previous = at(self.previous, c);
                    previous + (current - previous) * share
                } else {
                    current
                }
            });
            if let Some(limiter) = &mut self.limiter {
                // The share of what is heard that the limiter acts on; its detector sees only
                // that share, so a source it leaves alone builds up no reduction to hand on.
                let on = if fading {
                    let previous = limited[self.previous.index()];
                    previous + (limited[self.source.index()] - previous) * share
                } else {
                    limited[self.source.index()]
                };
                let peak = f64::from(frame[0].abs().max(frame[1].abs()) * on);
                let limit = limiter.gain_for(peak) as f32;
                let gain = 1.0 + (limit - 1.0) * on;
                frame = frame.map(|x| x * gain);
            }
            (left[k], right[k]) = (frame[0], frame[1]);
        }
        self.emulate(frames);
        let [left, right] = &self.heard;
        for k in 0..frames {
            let gain = transport(k);
            let (mut l, mut r) = (left[k] * gain, right[k] * gain);
            match self.listen {
                Listen::Stereo => {}
                Listen::Mono | Listen::Mid => {
                    let mid = 0.5 * (l + r);
                    (l, r) = (mid, mid);
                }
                Listen::Side => {
                    let side = 0.5 * (l - r);
                    (l, r) = (side, side);
                }
            }
            heard(l, r);
            let dim = self.dim.next();
            let ceiling = |x: f32| (x * dim).clamp(-SAFETY_CEILING, SAFETY_CEILING);
            out[0][k] = ceiling(l);
            out[1][k] = ceiling(r);
        }
    }

    /// The emulation over the heard block, crossfaded from the outgoing one (or from the
    /// plain signal, where there was none) while the change runs.
    fn emulate(&mut self, frames: usize) {
        let fading = self.emulation_fade.running();
        if fading {
            for c in 0..2 {
                self.old_heard[c][..frames].copy_from_slice(&self.heard[c][..frames]);
            }
            if let Some(old) = self.outgoing.as_mut() {
                let [l, r] = &mut self.old_heard;
                old.process(&mut [&mut l[..frames], &mut r[..frames]]);
            }
        }
        if let Some(stage) = self.emulation.as_mut() {
            let [l, r] = &mut self.heard;
            stage.process(&mut [&mut l[..frames], &mut r[..frames]]);
        }
        if fading {
            for k in 0..frames {
                let share = self.emulation_fade.advance();
                for c in 0..2 {
                    let old = self.old_heard[c][k];
                    self.heard[c][k] = old + (self.heard[c][k] - old) * share;
                }
            }
            // Handed over once the fade has ended (the owner takes it after every block, so
            // the slot is free; were it not, the stage waits a block rather than be dropped
            // here).
            if !self.emulation_fade.running() && self.retired.is_none() {
                self.retired = self.outgoing.take();
            }
        }
    }
}

/// The number of gain slots ([`Source::slot`]).
const GAIN_SLOTS: usize = 6;
/// One gain glide per slot, in the order of [`Source::slot`].
const GAIN_SOURCES: [Source; GAIN_SLOTS] = [
    Source::Master,
    Source::Mix,
    Source::Reference,
    Source::Codec,
    Source::Version(VersionSlot::First),
    Source::Version(VersionSlot::Second),
];
/// One limiter share per source, in the order of [`Source::index`].
const SOURCES: [Source; 7] = [
    Source::Master,
    Source::Mix,
    Source::Reference,
    Source::Codec,
    Source::CodecLoss,
    Source::Version(VersionSlot::First),
    Source::Version(VersionSlot::Second),
];

/// What a listener hears of `audio` as the master through the monitor path, offline: at
/// `gains` (the master's; its platform limiter where set), through `emulation`, stereo (a mono
/// track on both sides). Exactly what playback puts out for the same master and settings,
/// sample for sample: `crest preview` writes this.
pub fn render_heard(
    audio: &AudioBuffer,
    gains: SourceGains,
    emulation: Option<Box<dyn MonitorStage>>,
) -> AudioBuffer {
    const BLOCK: usize = 4_096;
    let mut path = MonitorPath::new(audio.sample_rate(), BLOCK);
    path.set_gains_now(gains);
    // Nothing was set before: nothing comes back.
    let _ = path.set_emulation_now(emulation);
    let channels = audio.channels();
    let second = &channels[usize::from(channels.len() > 1)];
    let silence = vec![0.0f32; BLOCK];
    let frames = audio.frames();
    let mut heard = [vec![0.0f32; frames], vec![0.0f32; frames]];
    let [left, right] = &mut heard;
    for start in (0..frames).step_by(BLOCK) {
        let end = (start + BLOCK).min(frames);
        let master = [&channels[0][start..end], &second[start..end]];
        let quiet = [&silence[..end - start]; 2];
        path.process(
            Sources {
                master,
                mix: quiet,
                reference: quiet,
                codec: quiet,
                codec_loss: quiet,
                versions: [quiet; 2],
            },
            |_| 1.0,
            [&mut left[start..end], &mut right[start..end]],
            |_, _| {},
        );
    }
    AudioBuffer::new(audio.sample_rate(), heard.into()).expect("stereo at the track's rate")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;
    /// The monitor's ramp at 48 kHz.
    const RAMP: usize = 480;

    /// Runs `frames` of constant sources (master 0.5, mix 0.25, reference 0.1, the codec's copy
    /// 0.4 and so its loss 0.1, the versions 0.3 and 0.2, on both sides)
    /// through `path` in blocks of `block`, calling `change(path, frame)` at each block's
    /// start; the left output.
    fn run(
        path: &mut MonitorPath,
        frames: usize,
        block: usize,
        mut change: impl FnMut(&mut MonitorPath, usize),
    ) -> Vec<f32> {
        let (master, mix, reference) = (vec![0.5f32; block], vec![0.25; block], vec![0.1; block]);
        let (codec, loss) = (vec![0.4f32; block], vec![0.1f32; block]);
        let (first, second) = (vec![0.3f32; block], vec![0.2f32; block]);
        let mut out = Vec::new();
        let (mut left, mut right) = (vec![0.0f32; block], vec![0.0f32; block]);
        for start in (0..frames).step_by(block) {
            change(path, start);
            let n = block.min(frames - start);
            path.process(
                Sources {
                    master: [&master[..n]; 2],
                    mix: [&mix[..n]; 2],
                    reference: [&reference[..n]; 2],
                    codec: [&codec[..n]; 2],
                    codec_loss: [&loss[..n]; 2],
                    versions: [[&first[..n]; 2], [&second[..n]; 2]],
                },
                |_| 1.0,
                [&mut left[..n], &mut right[..n]],
                |_, _| {},
            );
            out.extend_from_slice(&left[..n]);
        }
        out
    }

    fn largest_step(x: &[f32]) -> f32 {
        x.windows(2)
            .map(|w| (w[1] - w[0]).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn a_new_gain_glides_over_the_ramp_whatever_the_blocks() {
        let halve = |path: &mut MonitorPath, frame: usize| {
            if frame == 960 {
                path.set_gains(SourceGains {
                    master: 0.5,
                    ..SourceGains::default()
                });
            }
        };
        let mut path = MonitorPath::new(RATE, 480);
        let out = run(&mut path, 2_400, 480, halve);
        assert_eq!(out[959], 0.5);
        assert_eq!(out[960 + RAMP], 0.25);
        // A straight line from 0.5 to 0.25 over the ramp: no step.
        assert!(largest_step(&out) <= 0.25 / RAMP as f32 * 1.01);
        assert!((out[960 + RAMP / 2 - 1] - 0.375).abs() < 1e-6);
        // Cut into other blocks (changing at the same frame), the same samples.
        let mut path = MonitorPath::new(RATE, 480);
        let other = run(&mut path, 2_400, 160, halve);
        assert_eq!(other, out);
    }

    #[test]
    fn the_platform_limiter_acts_only_on_the_sources_it_raises() {
        let limiter = PlatformLimiter {
            ceiling_dbtp: -12.0,
            attack_ms: 1.0,
            release_ms: 50.0,
        };
        let gains = SourceGains {
            master: 1.0,
            mix: 2.0,
            reference: 1.0,
            codec: 2.0,
            versions: [4.0, 1.0],
            limit: Some(PlatformLimit {
                limiter,
                on: [false, true, false, true, true, false],
            }),
        };
        let mut path = MonitorPath::new(RATE, 480);
        path.set_gains_now(gains);
        // The master (0.5, over the −12 dB ceiling of 0.25) passes untouched.
        let master = run(&mut path, 4_800, 480, |_, _| {});
        assert!(master.iter().all(|&x| x == 0.5));
        // The mix (0.25 × 2) is held at the ceiling once the attack has passed.
        let mut path = MonitorPath::new(RATE, 480);
        path.set_gains_now(gains);
        path.set_source(Source::Mix);
        let mix = run(&mut path, 4_800, 480, |_, _| {});
        let ceiling = 10f32.powf(-12.0 / 20.0);
        assert!(
            (mix[4_799] - ceiling).abs() < 0.01 * ceiling,
            "{} vs {ceiling}",
            mix[4_799]
        );
        // The codec's copy (0.4 × 2) is limited as the platform plays it; its loss (0.1 × 2)
        // is heard at the codec's gain, never limited.
        let heard_as = |source| {
            let mut path = MonitorPath::new(RATE, 480);
            path.set_gains_now(gains);
            path.set_source(source);
            run(&mut path, 4_800, 480, |_, _| {})[4_799]
        };
        let codec = heard_as(Source::Codec);
        assert!(
            codec < 1.02 * ceiling && codec > 0.98 * ceiling,
            "the copy (0.8 unlimited) held at {codec} against {ceiling}"
        );
        assert!((heard_as(Source::CodecLoss) - 0.2).abs() < 1e-6);
        // The first version (0.3 × 4) is limited, the second (0.2 × 1) is not.
        let first = heard_as(Source::Version(VersionSlot::First));
        assert!(
            first < 1.02 * ceiling && first > 0.98 * ceiling,
            "the first version (1.2 unlimited) held at {first} against {ceiling}"
        );
        assert!((heard_as(Source::Version(VersionSlot::Second)) - 0.2).abs() < 1e-6);
        // Platform preview off (the same gain, no limiter): the limiting glides out over the
        // ramp instead of letting go in one step.
        let after = run(&mut path, 960, 480, |path, frame| {
            if frame == 0 {
                path.set_gains(SourceGains {
                    limit: None,
                    ..gains
                });
            }
        });
        assert_eq!(after[959], 0.5);
        let mut joined = mix[4_000..].to_vec();
        joined.extend_from_slice(&after);
        assert!(
            largest_step(&joined) <= (0.5 - ceiling) / RAMP as f32 * 1.1,
            "{}",
            largest_step(&joined)
        );
    }

    #[test]
    fn the_codec_copy_is_matched_to_the_master_or_played_as_its_platform_plays_it() {
        let master = Measured {
            integrated_lufs: Some(-14.0),
            true_peak_dbtp: Some(-1.0),
        };
        // The decoded copy 0.2 LU quieter: heard 0.2 dB up, at the master's loudness.
        let codec = Measured {
            integrated_lufs: Some(-14.2),
            true_peak_dbtp: Some(-0.7),
        };
        let matched = SourceGains::matched(master, Measured::default(), Measured::default())
            .with_codec(codec, master, None);
        let expected = 10f32.powf(0.2 / 20.0);
        assert!((matched.codec - expected).abs() < 1e-6, "{}", matched.codec);
        // Heard through the path: the copy at that gain, then switched to the master.
        let mut path = MonitorPath::new(RATE, 480);
        path.set_gains_now(matched);
        path.set_source(Source::Codec);
        let heard = run(&mut path, 2_400, 480, |path, frame| {
            if frame == 960 {
                path.set_source(Source::Master);
            }
        });
        assert!((heard[959] - 0.4 * expected).abs() < 1e-6);
        assert_eq!(heard[960 + RAMP], 0.5);
        assert!(largest_step(&heard) < 0.1 / RAMP as f32 * 1.5, "no click");
    }

    #[test]
    fn two_versions_are_each_matched_to_the_master_and_switched_without_a_click() {
        let master = Measured {
            integrated_lufs: Some(-14.0),
            true_peak_dbtp: Some(-1.0),
        };
        let louder = Measured {
            integrated_lufs: Some(-12.5),
            true_peak_dbtp: Some(-1.0),
        };
        let quieter = Measured {
            integrated_lufs: Some(-15.0),
            true_peak_dbtp: Some(-3.0),
        };
        let gains = SourceGains::matched(master, Measured::default(), Measured::default())
            .with_version(VersionSlot::First, louder, master, None)
            .with_version(VersionSlot::Second, quieter, master, None);
        let (down, up) = (10f32.powf(-1.5 / 20.0), 10f32.powf(1.0 / 20.0));
        assert!(
            (gains.versions[0] - down).abs() < 1e-6,
            "{:?}",
            gains.versions
        );
        assert!(
            (gains.versions[1] - up).abs() < 1e-6,
            "{:?}",
            gains.versions
        );
        // The codec's gain is left as it was.
        assert_eq!(gains.codec, 1.0);
        let mut path = MonitorPath::new(RATE, 480);
        path.set_gains_now(gains);
        path.set_source(Source::Version(VersionSlot::First));
        let heard = run(&mut path, 2_400, 160, |path, frame| {
            if frame == 960 {
                path.set_source(Source::Version(VersionSlot::Second));
            }
        });
        assert!((heard[959] - 0.3 * down).abs() < 1e-6);
        assert!((heard[960 + RAMP] - 0.2 * up).abs() < 1e-6);
        // From one level to the other along the ramp (after the first ramp, from the master).
        let step = (0.3 * down - 0.2 * up).abs();
        assert!(step > 0.01);
        assert!(
            largest_step(&heard[900..]) <= step / RAMP as f32 * 1.01,
            "no click"
        );
    }

    #[test]
    fn an_emulation_change_is_handed_back_after_its_crossfade() {
        #[derive(Debug)]
        struct Halve;
        impl MonitorStage for Halve {
            fn process(&mut self, channels: &mut [&mut [f32]]) {
                channels
                    .iter_mut()
                    .flat_map(|c| c.iter_mut())
                    .for_each(|x| *x *= 0.5);
            }
            fn latency_frames(&self) -> usize {
                0
            }
            fn reset(&mut self) {}
        }
        let mut path = MonitorPath::new(RATE, 480);
        let out = run(&mut path, 1_440, 240, |path, frame| {
            if frame == 480 {
                assert!(path.set_emulation(Some(Box::new(Halve))).is_none());
            }
        });
        // From the plain signal to the halved one along the ramp, without a step.
        assert_eq!(out[479], 0.5);
        assert_eq!(out[480 + RAMP], 0.25);
        assert!(largest_step(&out) <= 0.25 / RAMP as f32 * 1.01);
        // Back to none: the stage fades out and is then handed back, once.
        let mut handed = 0;
        let out = run(&mut path, 1_440, 240, |path, frame| {
            if frame == 0 {
                assert!(path.set_emulation(None).is_none());
            }
            handed += usize::from(path.take_retired().is_some());
        });
        assert!(path.take_retired().is_none());
        assert_eq!(handed, 1);
        assert_eq!(out[RAMP], 0.5);
    }
}
