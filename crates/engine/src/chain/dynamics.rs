//! The glue compressor at run time: peak detector (optionally high-passed, stereo-linked or
//! mid/side), static curve with soft knee, attack/release envelope (or a program-dependent
//! dual release), makeup and dry/wet mix.

use crate::dsp::biquad::{Coefficients, State};
use crate::dsp::dynamics::{fast_amp_to_db, fast_db_to_amp, static_reduction_db, time_coefficient};

use super::settings::{DynamicsSettings, Link};

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
        self.hold = target.max(release * self.hold + (1.0 - release) * target);
        self.out = attack * self.out + (1.0 - attack) * self.hold;
        self.out
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

#[derive(Debug, Clone)]
pub(super) struct Dynamics {
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

impl Dynamics {
    pub(super) fn new(settings: &DynamicsSettings, rate: f64) -> Self {
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
    pub(super) fn set(&mut self, s: &DynamicsSettings) {
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
    pub(super) fn control_step(&mut self, k: f64) {
        self.makeup += (self.makeup_target - self.makeup) * k;
        self.mix += (self.mix_target - self.mix) * k;
        if (self.makeup - self.makeup_target).abs() < 1e-9 {
            self.makeup = self.makeup_target;
        }
        if (self.mix - self.mix_target).abs() < 1e-9 {
            self.mix = self.mix_target;
        }
    }

    pub(super) fn reset(&mut self) {
        self.makeup = self.makeup_target;
        self.mix = self.mix_target;
        self.envelopes = [Envelope::default(); 2];
        if let Some((_, states)) = &mut self.sidechain {
            states.iter_mut().for_each(State::reset);
        }
        self.meter_db = 0.0;
    }

    /// Reads and clears the gain-reduction meter (largest reduction since the last read).
    pub(super) fn take_meter_db(&mut self) -> f64 {
        std::mem::take(&mut self.meter_db)
    }

    /// The envelope's new reduction for a detector level.
    #[inline]
    fn follow(&mut self, detector: usize, level: f64) -> f64 {
        let target = static_reduction_db(
            fast_amp_to_db(level),
            self.threshold_db,
            self.ratio,
            self.knee_db,
        );
        let env = &mut self.envelopes[detector];
        let reduction = if self.auto_release {
            let fast = env.fast.follow(target, self.attack, self.fast_release);
            fast.max(env.slow.follow(target, self.slow_attack, self.slow_release))
        } else {
            env.fast.follow(target, self.attack, self.release)
        };
        self.meter_db = self.meter_db.max(reduction);
        reduction
    }

    #[inline]
    fn detect(&mut self, channel: usize, x: f64) -> f64 {
        match &mut self.sidechain {
            Some((c, states)) => states[channel].tick(c, x).abs(),
            None => x.abs(),
        }
    }

    /// One stereo frame (or a mono one with `right` = None).
    #[inline]
    pub(super) fn frame(&mut self, left: f64, right: Option<f64>) -> (f64, f64) {
        let mix = self.mix;
        let blend = |dry: f64, wet: f64| dry + mix * (wet - dry);
        match (right, self.link) {
            (None, _) => {
                let level = self.detect(0, left);
                let gain = fast_db_to_amp(-self.follow(0, level)) * self.makeup;
                (blend(left, left * gain), 0.0)
            }
            (Some(right), Link::Stereo) => {
                let level = self.detect(0, left).max(self.detect(1, right));
                let gain = fast_db_to_amp(-self.follow(0, level)) * self.makeup;
                (blend(left, left * gain), blend(right, right * gain))
            }
            (Some(right), Link::MidSide) => {
                let (mid, side) = (0.5 * (left + right), 0.5 * (left - right));
                let (mid_level, side_level) = (self.detect(0, mid), self.detect(1, side));
                let mid_out = mid * fast_db_to_amp(-self.follow(0, mid_level)) * self.makeup;
                let side_out = side * fast_db_to_amp(-self.follow(1, side_level)) * self.makeup;
                (
                    blend(left, mid_out + side_out),
                    blend(right, mid_out - side_out),
                )
            }
        }
    }
}
