//! The glue compressor at run time: peak detector (optionally high-passed, stereo-linked or
//! mid/side), static curve with soft knee, attack/release envelope (or a program-dependent
//! dual release), makeup and dry/wet mix; and its three-band mode, the same compressor on each
//! band of a Linkwitz-Riley split.

use std::f64::consts::FRAC_1_SQRT_2;

use crate::dsp::biquad::{Coefficients, State};
use crate::dsp::dynamics::{
    fast_amp_to_db_f32, fast_db_to_amp, fast_db_to_amp_f32, time_coefficient,
};
use crate::dsp::flush::flushed;
use crate::dsp::linear_phase::{self, LinearPhaseSplit};

use super::settings::{BandDynamics, Crossover, DynamicsSettings, Link, MultibandSettings};
use super::{CONTROL_FRAMES, Smoothed};

/// A smooth decoupled peak detector in the gain-reduction domain (Giannoulis, Massberg and
/// Reiss, "Digital Dynamic Range Compressor Design", JAES 2012): `hold` falls with the release
/// time but jumps up at once, so a waveform's crest holds the reduction through its cycle;
/// `out` follows `hold` with the attack time.
#[derive(Debug, Clone, Copy, Default)]
struct Detector {
    hold: f64,
    out: f64,
}

impl Detector {
    #[inline]
    fn follow(&mut self, target: f64, attack: f64, release: f64) -> f64 {
        // A plain comparison, not `f64::max`: its NaN handling sat on this recursion, the
        // compressor's longest, every frame.
        let decayed = release * self.hold + (1.0 - release) * target;
        self.hold = if decayed > target { decayed } else { target };
        self.out = attack * self.out + (1.0 - attack) * self.hold;
        self.out
    }

    fn flush(&mut self) {
        self.hold = flushed(self.hold);
        self.out = flushed(self.out);
    }
}

/// Detectors of one side-chain (both channels when linked; mid or side otherwise).
#[derive(Debug, Clone, Copy, Default)]
struct Envelope {
    /// The only detector, or the fast one of the program-dependent release.
    fast: Detector,
    /// The slow detector of the program-dependent release.
    slow: Detector,
}

/// One compressor: the whole signal in single-band mode, one band in three-band mode.
#[derive(Debug, Clone)]
pub(super) struct Compressor {
    link: Link,
    rate: f64,
    threshold_db: f64,
    ratio: f64,
    knee_db: f64,
    makeup: f64,
    mix: f64,
    /// Makeup and mix glide to these (control-rate smoothing; the envelope smooths the rest).
    makeup_target: f64,
    mix_target: f64,
    auto_release: bool,
    attack: f64,
    release: f64,
    /// Program-dependent release: the fast detector recovers 5× quicker; the slow one builds up
    /// only under sustained compression (its attack is 3× the release time) and lets go at 2×
    /// the release time.
    fast_release: f64,
    slow_attack: f64,
    slow_release: f64,
    sidechain: Option<(Coefficients, [State; 2])>,
    envelopes: [Envelope; 2],
    /// The largest reduction since the meter was last read (dB).
    meter_db: f64,
}

impl Compressor {
    fn new(settings: &DynamicsSettings, rate: f64) -> Self {
        let mut d = Self {
            link: settings.link,
            rate,
            threshold_db: 0.0,
            ratio: 1.0,
            knee_db: 0.0,
            makeup: fast_db_to_amp(settings.makeup_db),
            mix: settings.mix,
            makeup_target: 1.0,
            mix_target: 1.0,
            auto_release: false,
            attack: 0.0,
            release: 0.0,
            fast_release: 0.0,
            slow_attack: 0.0,
            slow_release: 0.0,
            sidechain: settings.sidechain_high_pass_hz.map(|f| {
                (
                    Coefficients::high_pass(f, std::f64::consts::FRAC_1_SQRT_2, rate),
                    [State::default(); 2],
                )
            }),
            envelopes: [Envelope::default(); 2],
            meter_db: 0.0,
        };
        d.set(settings);
        d
    }

    /// Takes new values (structure unchanged): allocation-free, state kept.
    fn set(&mut self, s: &DynamicsSettings) {
        let rate = self.rate;
        self.threshold_db = s.threshold_db;
        self.ratio = s.ratio;
        self.knee_db = s.knee_db;
        self.makeup_target = fast_db_to_amp(s.makeup_db);
        self.mix_target = s.mix;
        self.auto_release = s.auto_release;
        self.attack = time_coefficient(s.attack_ms, rate);
        self.release = time_coefficient(s.release_ms, rate);
        self.fast_release = time_coefficient(s.release_ms / 5.0, rate);
        self.slow_attack = time_coefficient((s.attack_ms * 10.0).max(s.release_ms * 3.0), rate);
        self.slow_release = time_coefficient(s.release_ms * 2.0, rate);
        if let (Some((coefficients, _)), Some(freq)) =
            (&mut self.sidechain, s.sidechain_high_pass_hz)
        {
            *coefficients = Coefficients::high_pass(freq, std::f64::consts::FRAC_1_SQRT_2, rate);
        }
    }

    /// One control-grid step of the makeup and mix glide.
    fn control_step(&mut self, k: f64) {
        self.makeup += (self.makeup_target - self.makeup) * k;
        self.mix += (self.mix_target - self.mix) * k;
        if (self.makeup - self.makeup_target).abs() < 1e-9 {
            self.makeup = self.makeup_target;
        }
        if (self.mix - self.mix_target).abs() < 1e-9 {
            self.mix = self.mix_target;
        }
    }

    fn reset(&mut self) {
        self.makeup = self.makeup_target;
        self.mix = self.mix_target;
        self.envelopes = [Envelope::default(); 2];
        if let Some((_, states)) = &mut self.sidechain {
            states.iter_mut().for_each(State::reset);
        }
        self.meter_db = 0.0;
    }

    /// Reads and clears the gain-reduction meter (largest reduction since the last read).
    fn take_meter_db(&mut self) -> f64 {
        std::mem::take(&mut self.meter_db)
    }

    /// Sets the detectors and side-chain filter states that have decayed below the floor to
    /// zero (see [`crate::dsp::flush`]).
    fn flush(&mut self) {
        for envelope in &mut self.envelopes {
            envelope.fast.flush();
            envelope.slow.flush();
        }
        if let Some((_, states)) = &mut self.sidechain {
            states.iter_mut().for_each(State::flush);
        }
    }

    /// The envelope's reductions (dB) for a span of detector levels: the static curve for
    /// every frame first (independent frames, so the processor overlaps them; single
    /// precision, four to a vector, 2e-5 dB at worst), then the envelope, which must go frame
    /// by frame (double precision: its coefficients sit within 1e-5 of 1).
    #[inline]
    fn follow(&mut self, detector: usize, levels: &mut [f32]) {
        // Without branches: programme crosses the knee at random, and a mispredicted branch
        // per frame cost more than the logarithm it would save.
        let slope = (1.0 - 1.0 / self.ratio.max(1.0)) as f32;
        let half_knee = (self.knee_db.max(0.0) / 2.0) as f32;
        let knee_scale = if half_knee > 0.0 {
            slope / (4.0 * half_knee)
        } else {
            0.0
        };
        let threshold = self.threshold_db as f32;
        for level in levels.iter_mut() {
            let over = fast_amp_to_db_f32(*level) - threshold;
            let hard = slope * over.max(0.0);
            let into_knee = over + half_knee;
            let soft = knee_scale * into_knee * into_knee;
            *level = if over.abs() <= half_knee { soft } else { hard };
        }
        let env = &mut self.envelopes[detector];
        let mut meter = self.meter_db;
        for value in levels.iter_mut() {
            let target = f64::from(*value);
            let reduction = if self.auto_release {
                let fast = env.fast.follow(target, self.attack, self.fast_release);
                fast.max(env.slow.follow(target, self.slow_attack, self.slow_release))
            } else {
                env.fast.follow(target, self.attack, self.release)
            };
            meter = if reduction > meter { reduction } else { meter };
            *value = reduction as f32;
        }
        self.meter_db = meter;
    }

    /// Reductions (dB) to linear gains with the makeup.
    #[inline]
    fn gains(&self, reductions: &mut [f32]) {
        let makeup = self.makeup as f32;
        for r in reductions.iter_mut() {
            *r = fast_db_to_amp_f32(-*r) * makeup;
        }
    }

    #[inline]
    fn detect(&mut self, channel: usize, x: f64) -> f64 {
        match &mut self.sidechain {
            Some((c, states)) => states[channel].tick(c, x).abs(),
            None => x.abs(),
        }
    }

    /// A span of frames (at most [`CONTROL_FRAMES`]) in place: stereo, or mono in lane 0.
    fn process(&mut self, frames: &mut [[f64; 2]], stereo: bool) {
        let mix = self.mix;
        let blend = |dry: f64, wet: f64| dry + mix * (wet - dry);
        let mut first = [0.0f32; CONTROL_FRAMES];
        let first = &mut first[..frames.len()];
        match (stereo, self.link) {
            (false, _) => {
                for (level, frame) in first.iter_mut().zip(frames.iter()) {
                    *level = self.detect(0, frame[0]) as f32;
                }
                self.follow(0, first);
                self.gains(first);
                for (frame, &gain) in frames.iter_mut().zip(first.iter()) {
                    frame[0] = blend(frame[0], frame[0] * f64::from(gain));
                }
            }
            (true, Link::Stereo) => {
                for (level, frame) in first.iter_mut().zip(frames.iter()) {
                    *level = self.detect(0, frame[0]).max(self.detect(1, frame[1])) as f32;
                }
                self.follow(0, first);
                self.gains(first);
                for (frame, &gain) in frames.iter_mut().zip(first.iter()) {
                    *frame = frame.map(|x| blend(x, x * f64::from(gain)));
                }
            }
            (true, Link::MidSide) => {
                let mut second = [0.0f32; CONTROL_FRAMES];
                let second = &mut second[..frames.len()];
                for ((mid, side), frame) in
                    first.iter_mut().zip(second.iter_mut()).zip(frames.iter())
                {
                    let [left, right] = *frame;
                    *mid = self.detect(0, 0.5 * (left + right)) as f32;
                    *side = self.detect(1, 0.5 * (left - right)) as f32;
                }
                self.follow(0, first);
                self.follow(1, second);
                self.gains(first);
                self.gains(second);
                for ((frame, &mid_gain), &side_gain) in
                    frames.iter_mut().zip(first.iter()).zip(second.iter())
                {
                    let [left, right] = *frame;
                    let mid_out = 0.5 * (left + right) * f64::from(mid_gain);
                    let side_out = 0.5 * (left - right) * f64::from(side_gain);
                    *frame = [
                        blend(left, mid_out + side_out),
                        blend(right, mid_out - side_out),
                    ];
                }
            }
        }
    }
}

/// The single-band compressor, or the three-band one.
#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per chain, never moved on the audio thread; a box would only add an indirection per sample"
)]
pub(super) enum Dynamics {
    Single(Compressor),
    ThreeBand(ThreeBand),
}

impl Dynamics {
    pub(super) fn new(settings: &DynamicsSettings, rate: f64) -> Self {
        match &settings.multiband {
            None => Self::Single(Compressor::new(settings, rate)),
            Some(m) => Self::ThreeBand(ThreeBand::new(settings, m, rate)),
        }
    }

    /// Takes new values (structure unchanged: same mode): allocation-free, state kept.
    pub(super) fn set(&mut self, settings: &DynamicsSettings) {
        match (self, &settings.multiband) {
            (Self::Single(c), None) => c.set(settings),
            (Self::ThreeBand(t), Some(m)) => t.set(settings, m),
            // A mode change is structural: the chain asks for a rebuild before getting here.
            _ => {}
        }
    }

    /// The delay the stage adds (frames): a linear-phase split's, else none.
    pub(super) fn latency_frames(&self) -> usize {
        match self {
            Self::Single(_) => 0,
            Self::ThreeBand(t) => t.latency_frames(),
        }
    }

    pub(super) fn control_step(&mut self, k: f64) {
        match self {
            Self::Single(c) => c.control_step(k),
            Self::ThreeBand(t) => t.control_step(k),
        }
    }

    pub(super) fn reset(&mut self) {
        match self {
            Self::Single(c) => c.reset(),
            Self::ThreeBand(t) => t.reset(),
        }
    }

    /// Reads and clears the gain-reduction meter: the largest reduction of any band.
    /// Sets the states that have decayed below the floor to zero (see [`crate::dsp::flush`]).
    pub(super) fn flush(&mut self) {
        match self {
            Self::Single(c) => c.flush(),
            Self::ThreeBand(t) => t.flush(),
        }
    }

    pub(super) fn take_meter_db(&mut self) -> f64 {
        match self {
            Self::Single(c) => c.take_meter_db(),
            Self::ThreeBand(t) => t.take_band_meters_db().into_iter().fold(0.0, f64::max),
        }
    }

    /// Reads and clears the per-band meters (low, mid, high) in three-band mode.
    pub(super) fn take_band_meters_db(&mut self) -> Option<[f64; 3]> {
        match self {
            Self::Single(_) => None,
            Self::ThreeBand(t) => Some(t.take_band_meters_db()),
        }
    }

    /// A span of frames (at most [`CONTROL_FRAMES`]) in place: stereo, or mono in lane 0.
    pub(super) fn process(&mut self, frames: &mut [[f64; 2]], stereo: bool) {
        match self {
            Self::Single(c) => c.process(frames, stereo),
            Self::ThreeBand(t) => t.process(frames, stereo),
        }
    }
}

/// A band's compressor settings: the band's own values, the shared ones from the parent, fully
/// wet (the three-band mix is applied to the sum).
fn band_settings(parent: &DynamicsSettings, band: &BandDynamics) -> DynamicsSettings {
    DynamicsSettings {
        bypass: false,
        threshold_db: band.threshold_db,
        ratio: band.ratio,
        knee_db: parent.knee_db,
        attack_ms: band.attack_ms,
        release_ms: band.release_ms,
        auto_release: parent.auto_release,
        makeup_db: band.makeup_db,
        sidechain_high_pass_hz: None,
        link: parent.link,
        mix: 1.0,
        multiband: None,
    }
}

/// The crossover filters' coefficients. Fourth-order Linkwitz-Riley: each low- or high-pass is
/// a second-order Butterworth section twice. The low band also passes an all-pass at the high
/// crossover (the sum of that crossover's low- and high-pass), so the three bands add up to an
/// all-pass: flat magnitude, by construction also after the bilinear transform.
#[derive(Debug, Clone, Copy)]
struct Crossovers {
    low_lp: Coefficients,
    low_hp: Coefficients,
    high_lp: Coefficients,
    high_hp: Coefficients,
    high_ap: Coefficients,
}

impl Crossovers {
    fn design(low_hz: f64, high_hz: f64, rate: f64) -> Self {
        let q = FRAC_1_SQRT_2;
        Self {
            low_lp: Coefficients::low_pass(low_hz, q, rate),
            low_hp: Coefficients::high_pass(low_hz, q, rate),
            high_lp: Coefficients::low_pass(high_hz, q, rate),
            high_hp: Coefficients::high_pass(high_hz, q, rate),
            high_ap: Coefficients::all_pass(high_hz, q, rate),
        }
    }
}

/// One channel's crossover state.
#[derive(Debug, Clone, Copy, Default)]
struct Split {
    low_lp: [State; 2],
    low_hp: [State; 2],
    high_lp: [State; 2],
    high_hp: [State; 2],
    high_ap: State,
}

impl Split {
    fn flush(&mut self) {
        self.low_lp
            .iter_mut()
            .chain(&mut self.low_hp)
            .chain(&mut self.high_lp)
            .chain(&mut self.high_hp)
            .chain(std::iter::once(&mut self.high_ap))
            .for_each(State::flush);
    }

    /// (low, mid, high) of one sample.
    #[inline]
    fn tick(&mut self, c: &Crossovers, x: f64) -> [f64; 3] {
        let low = twice(&mut self.low_lp, &c.low_lp, x);
        let low = self.high_ap.tick(&c.high_ap, low);
        let rest = twice(&mut self.low_hp, &c.low_hp, x);
        let mid = twice(&mut self.high_lp, &c.high_lp, rest);
        let high = twice(&mut self.high_hp, &c.high_hp, rest);
        [low, mid, high]
    }
}

/// One sample through the same section twice (a Linkwitz-Riley low- or high-pass).
#[inline]
fn twice(states: &mut [State; 2], c: &Coefficients, x: f64) -> f64 {
    let [first, second] = states;
    second.tick(c, first.tick(c, x))
}

/// The three-band compressor's split: the Linkwitz-Riley crossovers (gliding with the
/// crossover frequencies), or the linear-phase one (made for fixed frequencies).
#[derive(Debug, Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per chain, never moved on the audio thread; the crossovers are read every frame"
)]
enum Splitter {
    LinkwitzRiley {
        low_hz: Smoothed,
        high_hz: Smoothed,
        crossovers: Crossovers,
        splits: [Split; 2],
    },
    LinearPhase([Box<LinearPhaseSplit>; 2]),
}

/// The three-band compressor.
#[derive(Debug, Clone)]
pub(super) struct ThreeBand {
    rate: f64,
    splitter: Splitter,
    bands: [Compressor; 3],
    mix: Smoothed,
    /// Every band at 1:1 without makeup (fixed for the chain's life: a change of it is a
    /// change of structure). Only a linear-phase split runs then, delaying only, so the
    /// chain's latency stays what it says.
    neutral: bool,
}

impl ThreeBand {
    fn new(parent: &DynamicsSettings, m: &MultibandSettings, rate: f64) -> Self {
        let bands = m
            .bands()
            .map(|b| Compressor::new(&band_settings(parent, b), rate));
        let splitter = match m.crossover {
            Crossover::LinkwitzRiley => Splitter::LinkwitzRiley {
                low_hz: Smoothed::new(m.low_crossover_hz),
                high_hz: Smoothed::new(m.high_crossover_hz),
                crossovers: Crossovers::design(m.low_crossover_hz, m.high_crossover_hz, rate),
                splits: [Split::default(); 2],
            },
            // Set to change nothing, only the delay is used: no bands are made.
            Crossover::LinearPhase if parent.is_neutral() => {
                Splitter::LinearPhase([(); 2].map(|_| Box::new(LinearPhaseSplit::delay_only(rate))))
            }
            Crossover::LinearPhase => Splitter::LinearPhase([(); 2].map(|_| {
                Box::new(LinearPhaseSplit::new(
                    m.low_crossover_hz,
                    m.high_crossover_hz,
                    rate,
                ))
            })),
        };
        Self {
            rate,
            splitter,
            bands,
            mix: Smoothed::new(parent.mix),
            neutral: parent.is_neutral(),
        }
    }

    /// The split's delay (frames).
    fn latency_frames(&self) -> usize {
        match self.splitter {
            Splitter::LinkwitzRiley { .. } => 0,
            Splitter::LinearPhase(_) => linear_phase::latency_frames(self.rate),
        }
    }

    fn set(&mut self, parent: &DynamicsSettings, m: &MultibandSettings) {
        if let Splitter::LinkwitzRiley {
            low_hz, high_hz, ..
        } = &mut self.splitter
        {
            low_hz.target = m.low_crossover_hz;
            high_hz.target = m.high_crossover_hz;
        }
        self.mix.target = parent.mix;
        for (compressor, band) in self.bands.iter_mut().zip(m.bands()) {
            compressor.set(&band_settings(parent, band));
        }
    }

    fn control_step(&mut self, k: f64) {
        if let Splitter::LinkwitzRiley {
            low_hz,
            high_hz,
            crossovers,
            ..
        } = &mut self.splitter
            && (low_hz.step(k) | high_hz.step(k))
        {
            *crossovers = Crossovers::design(low_hz.current, high_hz.current, self.rate);
        }
        self.mix.step(k);
        self.bands.iter_mut().for_each(|b| b.control_step(k));
    }

    fn reset(&mut self) {
        match &mut self.splitter {
            Splitter::LinkwitzRiley {
                low_hz,
                high_hz,
                crossovers,
                splits,
            } => {
                low_hz.current = low_hz.target;
                high_hz.current = high_hz.target;
                *crossovers = Crossovers::design(low_hz.current, high_hz.current, self.rate);
                *splits = [Split::default(); 2];
            }
            Splitter::LinearPhase(splits) => splits.iter_mut().for_each(|s| s.reset()),
        }
        self.mix.current = self.mix.target;
        self.bands.iter_mut().for_each(Compressor::reset);
    }

    fn flush(&mut self) {
        // The linear-phase split holds no recursion: silence empties it to exact zeros.
        if let Splitter::LinkwitzRiley { splits, .. } = &mut self.splitter {
            splits.iter_mut().for_each(Split::flush);
        }
        self.bands.iter_mut().for_each(Compressor::flush);
    }

    fn take_band_meters_db(&mut self) -> [f64; 3] {
        [0, 1, 2].map(|b| self.bands[b].take_meter_db())
    }

    /// A span of frames (at most [`CONTROL_FRAMES`]) in place: stereo, or mono in lane 0.
    fn process(&mut self, frames: &mut [[f64; 2]], stereo: bool) {
        let mut bands = [[[0.0f64; 2]; CONTROL_FRAMES]; 3];
        // What the parallel blend mixes the compressed bands with: the bands' sum behind
        // Linkwitz-Riley crossovers (it has their all-pass phase, so the blend does not
        // comb), the input delayed behind the linear-phase split.
        let mut dry = [[0.0f64; 2]; CONTROL_FRAMES];
        match &mut self.splitter {
            Splitter::LinkwitzRiley {
                crossovers, splits, ..
            } => {
                for (i, frame) in frames.iter().enumerate() {
                    let left = splits[0].tick(crossovers, frame[0]);
                    let right = if stereo {
                        splits[1].tick(crossovers, frame[1])
                    } else {
                        [0.0; 3]
                    };
                    for b in 0..3 {
                        bands[b][i] = [left[b], right[b]];
                    }
                    dry[i] = [left.iter().sum(), right.iter().sum()];
                }
            }
            Splitter::LinearPhase(splits) => {
                for (i, frame) in frames.iter().enumerate() {
                    let left = splits[0].tick(frame[0]);
                    let right = if stereo {
                        splits[1].tick(frame[1])
                    } else {
                        Default::default()
                    };
                    for (band, (&l, &r)) in
                        bands.iter_mut().zip(left.bands.iter().zip(&right.bands))
                    {
                        band[i] = [l, r];
                    }
                    dry[i] = [left.delayed, right.delayed];
                }
                if self.neutral {
                    frames.copy_from_slice(&dry[..frames.len()]);
                    return;
                }
            }
        }
        let mix = self.mix.current;
        let len = frames.len();
        let mut wet = [[0.0f64; 2]; CONTROL_FRAMES];
        for (band, compressor) in bands.iter().zip(self.bands.iter_mut()) {
            let mut compressed = *band;
            compressor.process(&mut compressed[..len], stereo);
            for (sum, frame) in wet.iter_mut().zip(&compressed[..len]) {
                *sum = [sum[0] + frame[0], sum[1] + frame[1]];
            }
        }
        for (i, frame) in frames.iter_mut().enumerate() {
            *frame = [0, 1].map(|lane| dry[i][lane] + mix * (wet[i][lane] - dry[i][lane]));
        }
    }
}
