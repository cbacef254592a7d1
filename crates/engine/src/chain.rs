//! The mastering chain: the same code runs live (playback) and offline (render).
//!
//! Built from [`ChainSettings`] for a sample rate, a maximum block size and a channel count;
//! `process` is planar and in place, allocation-free, and gives the same output however the
//! audio is cut into blocks (parameters move on a fixed 32-frame control grid). Parameter
//! changes arrive through [`Chain::apply`] and are smoothed; structural changes ask for a new
//! chain, which playback builds off the audio thread and crossfades to.
//!
//! Stages in their fixed order: input (trim, subsonic high-pass) → EQ (8 bands) → dynamics
//! (glue compressor) → stereo (width, mono bass, balance) → limiter (true-peak, with the
//! loudness-target gain in front). The output stage (head/tail trim, fades) depends on the
//! position in the whole track, so render applies it over the finished buffer.

mod cascade;
mod dynamics;
pub mod limiter;
pub mod params;
pub mod settings;

use crate::dsp::biquad::{AnalogPrototype, Coefficients, butterworth_q};
use crate::dsp::flush::FLUSH_PERIOD;
use crate::units::db_to_amp;
use cascade::{Cascade, LaneSection};
use dynamics::Dynamics;
pub use limiter::{Limiter, LimiterStats};
pub use params::{BandParam, Param, Spec};
pub use settings::{
    BandDynamics, BandKind, ChainSettings, Crossover, DynamicsSettings, EqBand, EqDesign,
    EqSettings, FadeCurve, HighPass, InputSettings, LimiterSettings, Link, MAX_EQ_BANDS,
    MultibandSettings, OutputSettings, Placement, SettingsError, Slope, StereoSettings,
    TruePeakMode,
};

/// Frames between parameter updates: the control grid, counted from the chain's start.
pub const CONTROL_FRAMES: usize = 32;
// The flushes of decayed states fall on control-grid lines.
const _: () = assert!(FLUSH_PERIOD.is_multiple_of(CONTROL_FRAMES));
/// Time constant of parameter smoothing.
const SMOOTHING_MS: f64 = 20.0;

/// What [`Chain::apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The new values are being approached smoothly.
    Smoothed,
    /// The structure changed: build a new chain (off the audio thread) and swap it in.
    NeedsRebuild,
}

/// Why a chain could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChainError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("the chain processes mono or stereo; this audio has {0} channels")]
    Channels(usize),
    #[error("sample rate {0} Hz is outside what the chain supports")]
    Rate(u32),
}

/// The per-control-step coefficient of parameter smoothing at `rate`.
fn smoothing_coefficient(rate: f64) -> f64 {
    1.0 - (-(CONTROL_FRAMES as f64) / (SMOOTHING_MS * 0.001 * rate)).exp()
}

/// A value moving towards its target, one control step at a time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Smoothed {
    current: f64,
    target: f64,
}

impl Smoothed {
    fn new(value: f64) -> Self {
        Self {
            current: value,
            target: value,
        }
    }

    /// One control step; true while still moving.
    fn step(&mut self, coefficient: f64) -> bool {
        if self.current == self.target {
            return false;
        }
        self.current += (self.target - self.current) * coefficient;
        if (self.target - self.current).abs() <= 1e-9 * self.target.abs().max(1e-3) {
            self.current = self.target;
        }
        true
    }
}

/// The section of a bell or shelf (`kind`; a pass is a bell here) in `design`: what the
/// chain's EQ runs, and what a proposal for it is fitted with.
pub fn bell_or_shelf(
    kind: BandKind,
    design: EqDesign,
    freq_hz: f64,
    gain_db: f64,
    q: f64,
    rate: f64,
) -> Coefficients {
    let (f, g) = (freq_hz, gain_db);
    match (kind, design) {
        (BandKind::LowShelf, EqDesign::Cookbook) => Coefficients::low_shelf(f, g, q, rate),
        (BandKind::HighShelf, EqDesign::Cookbook) => Coefficients::high_shelf(f, g, q, rate),
        (_, EqDesign::Cookbook) => Coefficients::peaking(f, g, q, rate),
        (BandKind::LowShelf, EqDesign::AnalogMatched) => {
            Coefficients::matched(&AnalogPrototype::low_shelf(g, q), f, rate)
        }
        (BandKind::HighShelf, EqDesign::AnalogMatched) => {
            Coefficients::matched(&AnalogPrototype::high_shelf(g, q), f, rate)
        }
        (_, EqDesign::AnalogMatched) => {
            Coefficients::matched(&AnalogPrototype::peaking(g, q), f, rate)
        }
    }
}

/// One EQ band at run time: its smoothed values and its sections, which it installs in the
/// chain's cascade (where their state is kept).
#[derive(Debug, Clone)]
struct Band {
    kind: BandKind,
    design: EqDesign,
    placement: Placement,
    order: usize,
    freq_hz: Smoothed,
    gain_db: Smoothed,
    q: Smoothed,
    sections: Vec<Coefficients>,
    /// Where its sections start in the cascade; none when it has nothing to act on (a side,
    /// left or right band in mono) or its stage is bypassed.
    slot: Option<usize>,
}

impl Band {
    fn new(band: &EqBand, design: EqDesign, rate: f64) -> Self {
        let order = band.slope.order();
        let count = match band.kind {
            BandKind::HighPass | BandKind::LowPass => order / 2,
            _ => 1,
        };
        let mut b = Self {
            kind: band.kind,
            design,
            placement: band.placement,
            order,
            freq_hz: Smoothed::new(band.freq_hz),
            gain_db: Smoothed::new(band.gain_db),
            q: Smoothed::new(band.q),
            sections: vec![Coefficients::IDENTITY; count],
            slot: None,
        };
        b.design(rate);
        b
    }

    fn design(&mut self, rate: f64) {
        let (f, g, q) = (self.freq_hz.current, self.gain_db.current, self.q.current);
        match self.kind {
            BandKind::Bell | BandKind::LowShelf | BandKind::HighShelf => {
                self.sections[0] = bell_or_shelf(self.kind, self.design, f, g, q, rate);
            }
            BandKind::HighPass | BandKind::LowPass => {
                for (k, section) in self.sections.iter_mut().enumerate() {
                    let q = butterworth_q(self.order, k);
                    *section = if self.kind == BandKind::HighPass {
                        Coefficients::high_pass(f, q, rate)
                    } else {
                        Coefficients::low_pass(f, q, rate)
                    };
                }
            }
        }
    }

    /// Whether the band acts on audio of `channels` channels (side, left and right bands have
    /// nothing to act on in mono).
    fn applies_to(&self, channels: usize) -> bool {
        channels == 2 || matches!(self.placement, Placement::Stereo | Placement::Mid)
    }

    /// Writes its sections into the cascade at its slot, on the lanes its placement names (in
    /// mono, lane 0 is the one channel).
    fn install(&self, cascade: &mut Cascade, channels: usize) {
        let Some(slot) = self.slot else {
            return;
        };
        let identity = Coefficients::IDENTITY;
        for (k, &c) in self.sections.iter().enumerate() {
            cascade.sections[slot + k] = match self.placement {
                _ if channels == 1 => LaneSection::new([c, identity], false),
                Placement::Stereo => LaneSection::new([c, c], false),
                Placement::Left => LaneSection::new([c, identity], false),
                Placement::Right => LaneSection::new([identity, c], false),
                Placement::Mid => LaneSection::new([c, identity], true),
                Placement::Side => LaneSection::new([identity, c], true),
            };
        }
    }

    fn response_db(&self, freq_hz: f64, rate: f64) -> f64 {
        self.sections
            .iter()
            .map(|c| c.response_db(freq_hz, rate))
            .sum()
    }
}

/// The runtime chain.
#[derive(Debug, Clone)]
pub struct Chain {
    settings: ChainSettings,
    rate: f64,
    channels: usize,
    max_block: usize,
    smoothing: f64,
    /// Frames processed since the start: the position on the control grid.
    position: u64,
    trim: Smoothed,
    high_pass: Option<Band>,
    bands: Vec<Band>,
    dynamics: Dynamics,
    /// The dynamics stage's delay when it is in the signal path (a linear-phase split's).
    dynamics_latency: usize,
    width: Smoothed,
    balance: Smoothed,
    mono_bass: Option<Band>,
    /// The input high-pass and the EQ bands (those in use), in order.
    filters: Cascade,
    /// The mono-bass high-pass on the side lane.
    side_filter: Cascade,
    limiter: Option<Limiter>,
}

impl Chain {
    /// Builds the chain (allocates; not for the audio thread).
    pub fn new(
        settings: &ChainSettings,
        sample_rate: u32,
        max_block: usize,
        channels: usize,
    ) -> Result<Self, ChainError> {
        settings.validate()?;
        if !(1..=2).contains(&channels) {
            return Err(ChainError::Channels(channels));
        }
        if !(8_000..=crate::audio::MAX_SAMPLE_RATE).contains(&sample_rate) {
            return Err(ChainError::Rate(sample_rate));
        }
        let rate = f64::from(sample_rate);
        let band = |kind, freq_hz, slope: Slope| EqBand {
            enabled: true,
            kind,
            freq_hz,
            gain_db: 0.0,
            q: std::f64::consts::FRAC_1_SQRT_2,
            slope,
            placement: Placement::Stereo,
        };
        let mut chain = Self {
            settings: settings.clone(),
            rate,
            channels,
            max_block: max_block.max(1),
            smoothing: smoothing_coefficient(rate),
            position: 0,
            trim: Smoothed::new(settings.input.trim_db),
            high_pass: settings.input.high_pass.map(|hp| {
                Band::new(
                    &band(BandKind::HighPass, hp.freq_hz, hp.slope),
                    EqDesign::Cookbook,
                    rate,
                )
            }),
            bands: settings
                .eq
                .bands
                .iter()
                .filter(|b| b.enabled)
                .map(|b| Band::new(b, settings.eq.design, rate))
                .collect(),
            dynamics: Dynamics::new(&settings.dynamics, rate),
            dynamics_latency: 0,
            width: Smoothed::new(settings.stereo.width),
            balance: Smoothed::new(settings.stereo.balance),
            mono_bass: settings.stereo.mono_bass_hz.map(|f| {
                Band::new(
                    &band(BandKind::HighPass, f, Slope::Db24),
                    EqDesign::Cookbook,
                    rate,
                )
            }),
            filters: Cascade::default(),
            side_filter: Cascade::default(),
            limiter: (!settings.limiter.bypass)
                .then(|| Limiter::new(&settings.limiter, sample_rate, channels)),
        };
        if !settings.dynamics.bypass {
            chain.dynamics_latency = chain.dynamics.latency_frames();
        }
        chain.lay_out_filters();
        Ok(chain)
    }

    /// Gives every band in use its place in the cascades and installs its sections.
    fn lay_out_filters(&mut self) {
        let s = &self.settings;
        let mut next = 0;
        let mut place = |band: &mut Band, used: bool| {
            band.slot = used.then_some(next);
            next += if used { band.sections.len() } else { 0 };
        };
        if let Some(hp) = &mut self.high_pass {
            place(hp, !s.input.bypass);
        }
        for band in &mut self.bands {
            let used = !s.eq.bypass && band.applies_to(self.channels);
            place(band, used);
        }
        self.filters = Cascade::with_len(next);
        self.side_filter =
            Cascade::with_len(self.mono_bass.as_ref().map_or(0, |b| b.sections.len()));
        self.install_all();
    }

    /// The mono-bass high-pass acts on lane 1 of frames the stereo stage has already turned
    /// into mid/side.
    fn install_mono_bass(band: &Band, cascade: &mut Cascade) {
        for (slot, &c) in cascade.sections.iter_mut().zip(&band.sections) {
            *slot = LaneSection::new([Coefficients::IDENTITY, c], false);
        }
    }

    pub fn settings(&self) -> &ChainSettings {
        &self.settings
    }

    /// The largest block `process` is prepared for (longer ones are split internally).
    pub fn max_block(&self) -> usize {
        self.max_block
    }

    /// Delay the chain adds, in frames: the limiter's detection and lookahead, and a
    /// linear-phase crossover's.
    pub fn latency_frames(&self) -> usize {
        self.dynamics_latency + self.limiter.as_ref().map_or(0, Limiter::latency_frames)
    }

    /// The limiter's largest gain reduction (dB) since this was last called: for meters.
    pub fn take_limiter_reduction_db(&mut self) -> f64 {
        self.limiter.as_mut().map_or(0.0, Limiter::take_meter_db)
    }

    /// The limiter's gain-reduction statistics since the start (none when bypassed).
    pub fn limiter_stats(&self) -> Option<LimiterStats> {
        self.limiter.as_ref().map(Limiter::stats)
    }

    /// The compressor's largest gain reduction (dB) since this was last called: for meters.
    pub fn take_compressor_reduction_db(&mut self) -> f64 {
        self.dynamics.take_meter_db()
    }

    /// The three-band compressor's largest reduction per band (low, mid, high; dB) since this
    /// was last called; none in single-band mode.
    pub fn take_compressor_band_reductions_db(&mut self) -> Option<[f64; 3]> {
        self.dynamics.take_band_meters_db()
    }

    /// Features the settings ask for that this audio cannot have (stereo tools on mono).
    pub fn disabled_for_mono(&self) -> Vec<&'static str> {
        if self.channels == 2 {
            return Vec::new();
        }
        let s = &self.settings;
        let mut disabled = Vec::new();
        if !s.stereo.is_neutral() {
            disabled.push("stereo stage (width, mono bass, balance)");
        }
        if !s.dynamics.is_neutral() && s.dynamics.link == Link::MidSide {
            disabled.push("mid/side compression");
        }
        if s.eq.bands.iter().any(|b| {
            matches!(
                b.placement,
                Placement::Side | Placement::Left | Placement::Right
            )
        }) {
            disabled.push("EQ bands placed on side, left or right");
        }
        disabled
    }

    /// Takes new settings: smoothed when only values changed (allocation-free), otherwise
    /// asks for a rebuild. Invalid settings are refused before anything changes.
    pub fn apply(&mut self, settings: &ChainSettings) -> Result<Applied, SettingsError> {
        settings.validate()?;
        if !self.settings.same_structure(settings) {
            return Ok(Applied::NeedsRebuild);
        }
        self.trim.target = settings.input.trim_db;
        if let (Some(band), Some(hp)) = (&mut self.high_pass, settings.input.high_pass) {
            band.freq_hz.target = hp.freq_hz;
        }
        for (band, new) in self
            .bands
            .iter_mut()
            .zip(settings.eq.bands.iter().filter(|b| b.enabled))
        {
            band.freq_hz.target = new.freq_hz;
            band.gain_db.target = new.gain_db;
            band.q.target = new.q;
        }
        self.dynamics.set(&settings.dynamics);
        if let Some(limiter) = &mut self.limiter {
            limiter.set(&settings.limiter);
        }
        self.width.target = settings.stereo.width;
        self.balance.target = settings.stereo.balance;
        if let (Some(band), Some(freq)) = (&mut self.mono_bass, settings.stereo.mono_bass_hz) {
            band.freq_hz.target = freq;
        }
        // Field by field: a derived clone_from would allocate a new band list.
        self.settings.input.clone_from(&settings.input);
        self.settings.eq.bypass = settings.eq.bypass;
        self.settings.eq.design = settings.eq.design;
        self.settings.eq.bands.clone_from(&settings.eq.bands);
        self.settings.dynamics.clone_from(&settings.dynamics);
        self.settings.stereo.clone_from(&settings.stereo);
        self.settings.limiter.clone_from(&settings.limiter);
        self.settings.output.clone_from(&settings.output);
        Ok(Applied::Smoothed)
    }

    /// Clears all filter state and jumps every value to its target.
    pub fn reset(&mut self) {
        for band in self
            .bands
            .iter_mut()
            .chain(self.high_pass.as_mut())
            .chain(self.mono_bass.as_mut())
        {
            band.freq_hz.current = band.freq_hz.target;
            band.gain_db.current = band.gain_db.target;
            band.q.current = band.q.target;
            band.design(self.rate);
        }
        self.install_all();
        self.filters.reset();
        self.side_filter.reset();
        for value in [&mut self.trim, &mut self.width, &mut self.balance] {
            value.current = value.target;
        }
        self.dynamics.reset();
        if let Some(limiter) = &mut self.limiter {
            limiter.reset();
        }
        self.position = 0;
    }

    /// The EQ's magnitude response at `freq_hz` (stereo-placed and mid-placed bands), for
    /// drawing the curve.
    pub fn eq_response_db(&self, freq_hz: f64) -> f64 {
        if self.settings.eq.bypass {
            return 0.0;
        }
        self.bands
            .iter()
            .filter(|b| matches!(b.placement, Placement::Stereo | Placement::Mid))
            .map(|b| b.response_db(freq_hz, self.rate))
            .sum()
    }

    /// How the EQ and the stereo stage shape the mid and the side at `freq_hz` (dB): stereo-
    /// placed bands act on both, mid- and side-placed bands on theirs, the width and the
    /// mono-bass high-pass on the side (left- and right-placed bands and the balance are left
    /// out: they move mid and side alike only for unrelated channels).
    pub fn mid_side_response_db(&self, freq_hz: f64) -> (f64, f64) {
        let eq_on = |lane: Placement| -> f64 {
            if self.settings.eq.bypass {
                return 0.0;
            }
            self.bands
                .iter()
                .filter(|b| b.placement == Placement::Stereo || b.placement == lane)
                .map(|b| b.response_db(freq_hz, self.rate))
                .sum()
        };
        let stereo = &self.settings.stereo;
        let stage_on_side = if stereo.bypass {
            0.0
        } else {
            20.0 * stereo.width.max(1e-6).log10()
                + self
                    .mono_bass
                    .as_ref()
                    .map_or(0.0, |b| b.response_db(freq_hz, self.rate))
        };
        (
            eq_on(Placement::Mid),
            eq_on(Placement::Side) + stage_on_side,
        )
    }

    /// Processes planar audio in place (any length; the channel count it was built for).
    pub fn process(&mut self, channels: &mut [&mut [f32]]) {
        let frames = channels.first().map_or(0, |c| c.len());
        let mut start = 0;
        while start < frames {
            // Stop at the next control-grid line so values move at the same frames however
            // the audio arrives.
            let to_grid = CONTROL_FRAMES - (self.position % CONTROL_FRAMES as u64) as usize;
            let end = (start + to_grid).min(frames);
            if self.position.is_multiple_of(CONTROL_FRAMES as u64) {
                if self.position.is_multiple_of(FLUSH_PERIOD as u64) {
                    self.flush();
                }
                self.control_step();
            }
            self.process_span(channels, start, end);
            self.position += (end - start) as u64;
            start = end;
        }
    }

    /// Sets every filter and detector state that silence has decayed below the floor to
    /// zero, on the grid of [`FLUSH_PERIOD`] frames (see [`crate::dsp::flush`]).
    fn flush(&mut self) {
        self.filters.flush();
        self.side_filter.flush();
        self.dynamics.flush();
        if let Some(limiter) = &mut self.limiter {
            limiter.flush();
        }
    }

    fn control_step(&mut self) {
        let k = self.smoothing;
        let rate = self.rate;
        self.trim.step(k);
        self.dynamics.control_step(k);
        self.width.step(k);
        self.balance.step(k);
        let mut moved = false;
        for band in self
            .bands
            .iter_mut()
            .chain(self.high_pass.as_mut())
            .chain(self.mono_bass.as_mut())
        {
            if band.freq_hz.step(k) | band.gain_db.step(k) | band.q.step(k) {
                band.design(rate);
                moved = true;
            }
        }
        if moved {
            self.install_all();
        }
    }

    /// Writes every band's current coefficients into the cascades.
    fn install_all(&mut self) {
        for band in self.high_pass.iter().chain(&self.bands) {
            band.install(&mut self.filters, self.channels);
        }
        if let Some(band) = &self.mono_bass {
            Self::install_mono_bass(band, &mut self.side_filter);
        }
    }

    /// Input → EQ → dynamics → stereo in f64 over one span of the control grid, stage by
    /// stage, both channels side by side; then the limiter.
    fn process_span(&mut self, channels: &mut [&mut [f32]], start: usize, end: usize) {
        let count = channels.len().min(self.channels);
        let s = &self.settings;
        let mut span = [[0.0f64; 2]; CONTROL_FRAMES];
        let frames = &mut span[..end - start];
        match channels {
            [left, right, ..] if count == 2 => {
                for (frame, (&l, &r)) in frames
                    .iter_mut()
                    .zip(left[start..end].iter().zip(&right[start..end]))
                {
                    *frame = [f64::from(l), f64::from(r)];
                }
            }
            [mono, ..] => {
                for (frame, &x) in frames.iter_mut().zip(&mono[start..end]) {
                    *frame = [f64::from(x), 0.0];
                }
            }
            [] => return,
        }
        if !s.input.bypass {
            let gain = db_to_amp(self.trim.current);
            for frame in frames.iter_mut() {
                *frame = [frame[0] * gain, frame[1] * gain];
            }
        }
        self.filters.process(frames);
        // A neutral stage is out of the path, unless its delay is part of the latency.
        if !s.dynamics.is_neutral() || self.dynamics_latency > 0 {
            self.dynamics.process(frames, count == 2);
        }
        if count == 2 && !s.stereo.is_neutral() {
            let balance = self.balance.current;
            let (width, gain_l, gain_r) = (
                self.width.current,
                1.0 - balance.max(0.0),
                1.0 + balance.min(0.0),
            );
            for frame in frames.iter_mut() {
                *frame = [0.5 * (frame[0] + frame[1]), 0.5 * (frame[0] - frame[1])];
            }
            // Empty without mono bass.
            self.side_filter.process(frames);
            for frame in frames.iter_mut() {
                let [mid, side] = *frame;
                let side = side * width;
                *frame = [(mid + side) * gain_l, (mid - side) * gain_r];
            }
        }
        match channels {
            [left, right, ..] if count == 2 => {
                for (frame, (l, r)) in frames
                    .iter()
                    .zip(left[start..end].iter_mut().zip(&mut right[start..end]))
                {
                    (*l, *r) = (frame[0] as f32, frame[1] as f32);
                }
            }
            [mono, ..] => {
                for (frame, x) in frames.iter().zip(&mut mono[start..end]) {
                    *x = frame[0] as f32;
                }
            }
            [] => {}
        }
        if let Some(limiter) = &mut self.limiter {
            match channels {
                [left, right, ..] => {
                    limiter.process(&mut [&mut left[start..end], &mut right[start..end]]);
                }
                [mono] => limiter.process(&mut [&mut mono[start..end]]),
                [] => {}
            }
        }
    }
}

/// Running the chain over a programme held whole with its latency taken out (offline work,
/// which must put each output frame where its input was): the chain reads the programme its
/// latency ahead of where its output is wanted. The limiter's latency is compensated by its
/// own driver; this serves the stages before it (a linear-phase crossover's delay).
pub(crate) mod ahead {
    use super::Chain;

    /// Runs `chain` over the programme's first `chain.latency_frames()` frames (silence past
    /// its end) and drops the output: the chain's next output is the programme's first frame.
    pub(crate) fn prime<S: AsRef<[f32]>>(chain: &mut Chain, source: &[S]) {
        let latency = chain.latency_frames();
        let block = chain.max_block().max(1);
        let mut scratch: Vec<Vec<f32>> = source.iter().map(|_| Vec::new()).collect();
        let mut start = 0;
        while start < latency {
            let end = (start + block).min(latency);
            for (s, c) in scratch.iter_mut().zip(source) {
                s.clear();
                append(c.as_ref(), start, end, 0, s);
            }
            let mut planes: Vec<&mut [f32]> = scratch.iter_mut().map(Vec::as_mut_slice).collect();
            chain.process(&mut planes);
            start = end;
        }
    }

    /// Appends frames `start..end` of `source`, read `latency` frames ahead (silence past its
    /// end), to `into`.
    pub(crate) fn append(
        source: &[f32],
        start: usize,
        end: usize,
        latency: usize,
        into: &mut Vec<f32>,
    ) {
        let from = (start + latency).min(source.len());
        let to = (end + latency).min(source.len());
        into.extend_from_slice(&source[from..to]);
        into.resize(into.len() + (end - start) - (to - from), 0.0);
    }
}
