//! The chain panel: every stage of the mastering chain with its controls in real units.
//!
//! Each continuous control is a slider (Shift for fine steps, Ctrl-click or a double-click on
//! its name for the default) beside a numeric entry (type a value with or without its unit,
//! Enter to apply). Stages have a bypass switch. The panel edits a [`ChainSettings`]; the
//! desk decides what an edit means for playback, the background render and undo.

use std::collections::HashMap;

use crest_engine::chain::{
    BandKind, ChainSettings, Crossover, EqBand, EqDesign, FadeCurve, HighPass, Link, MAX_EQ_BANDS,
    Placement, Slope, TruePeakMode,
};
use crest_engine::dsp::linear_phase;
use iced::Alignment;
use iced::Element;
use iced::widget::{button, checkbox, column, row, text};

use super::params::{BandParam, Param, Slider};
use super::style;
use super::widgets;

pub mod controls;

use controls::Ui;

/// Shown on a dynamics stage that is on but set to change nothing.
pub const INACTIVE_DYNAMICS: &str = "Inactive: every ratio is 1:1 with no makeup, so the \
     compressor is left out of the signal path (bit for bit as if off).";

/// The stages in the chain's fixed order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Input,
    Eq,
    Dynamics,
    Stereo,
    Limiter,
    Output,
}

/// Parts of a stage that are switched in or out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    HighPass,
    Band(usize),
    ThreeBand,
    AutoRelease,
    Sidechain,
    MonoBass,
    LimiterAutoRelease,
}

/// A choice among a few named options.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Choice {
    HighPassSlope(Slope),
    BandKind(usize, BandKind),
    BandPlacement(usize, Placement),
    BandSlope(usize, Slope),
    Link(Link),
    EqDesign(EqDesign),
    Crossover(Crossover),
    TruePeak(TruePeakMode),
    FadeIn(FadeCurve),
    FadeOut(FadeCurve),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Edit {
    /// A slider moved to a position (0..=1): heard at once, part of one drag.
    Slide(Param, f64),
    /// Values moved together by dragging (an EQ handle: frequency and gain): heard at once,
    /// part of one drag.
    Drag(Vec<(Param, f64)>),
    /// The slider or handle was let go: the drag is one step of undo.
    Released,
    /// A value set in one go (the wheel over an EQ handle), clamped to its range.
    Set(Param, f64),
    /// Text typed into a numeric entry (applied on Enter).
    Type(Param, String),
    Submit(Param),
    /// Back to the control's default.
    Reset(Param),
    /// A stage switched on (true) or bypassed (false).
    Active(Stage, bool),
    Switch(Switch, bool),
    Choose(Choice),
    AddBand,
    RemoveBand(usize),
}

/// What an edit did to the settings.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Nothing changed (typing in progress).
    Unchanged,
    /// Changed, and more of the same gesture follows (a drag): play it, do not render yet.
    Moving,
    /// A finished change: one step of undo, render the master again.
    Changed,
    /// The end of a gesture that has already changed the settings.
    Finished,
    /// Refused (out of range, or values that contradict each other): why, in words.
    Refused(String),
}

/// Applies an edit to `settings`. `entries` holds what is being typed in numeric entries.
pub fn apply(
    settings: &mut ChainSettings,
    entries: &mut HashMap<Param, String>,
    edit: Edit,
) -> Outcome {
    let before = settings.clone();
    let outcome = match edit {
        Edit::Slide(param, position) => {
            entries.remove(&param);
            param.set(settings, param.spec().value_at(position));
            Outcome::Moving
        }
        Edit::Drag(moves) => {
            for (param, value) in moves {
                entries.remove(&param);
                param.set(settings, round_to_shown(param, value));
            }
            Outcome::Moving
        }
        Edit::Released => return Outcome::Finished,
        Edit::Set(param, value) => {
            entries.remove(&param);
            param.set(settings, round_to_shown(param, value));
            Outcome::Changed
        }
        Edit::Type(param, typed) => {
            entries.insert(param, typed);
            return Outcome::Unchanged;
        }
        Edit::Submit(param) => {
            let Some(typed) = entries.remove(&param) else {
                return Outcome::Unchanged;
            };
            match param.spec().parse(&typed) {
                Ok(value) => {
                    param.set(settings, value);
                    Outcome::Changed
                }
                Err(reason) => return Outcome::Refused(reason),
            }
        }
        Edit::Reset(param) => {
            entries.remove(&param);
            param.set(settings, param.spec().default);
            Outcome::Changed
        }
        Edit::Active(stage, on) => {
            let bypass = !on;
            match stage {
                Stage::Input => settings.input.bypass = bypass,
                Stage::Eq => settings.eq.bypass = bypass,
                Stage::Dynamics => settings.dynamics.bypass = bypass,
                Stage::Stereo => settings.stereo.bypass = bypass,
                Stage::Limiter => settings.limiter.bypass = bypass,
                Stage::Output => settings.output.bypass = bypass,
            }
            Outcome::Changed
        }
        Edit::Switch(switch, on) => {
            match switch {
                Switch::HighPass => {
                    settings.input.high_pass = on.then_some(HighPass {
                        freq_hz: Param::HighPassHz.spec().default,
                        slope: Slope::Db12,
                    });
                }
                Switch::Band(n) => {
                    if let Some(band) = settings.eq.bands.get_mut(n) {
                        band.enabled = on;
                    }
                }
                Switch::ThreeBand => {
                    settings.dynamics.multiband = on.then(Default::default);
                }
                Switch::AutoRelease => settings.dynamics.auto_release = on,
                Switch::Sidechain => {
                    settings.dynamics.sidechain_high_pass_hz =
                        on.then_some(Param::SidechainHz.spec().default);
                }
                Switch::MonoBass => {
                    settings.stereo.mono_bass_hz = on.then_some(Param::MonoBassHz.spec().default);
                }
                Switch::LimiterAutoRelease => settings.limiter.auto_release = on,
            }
            Outcome::Changed
        }
        Edit::Choose(choice) => {
            match choice {
                Choice::HighPassSlope(slope) => {
                    if let Some(hp) = &mut settings.input.high_pass {
                        hp.slope = slope;
                    }
                }
                Choice::BandKind(n, kind) => {
                    if let Some(band) = settings.eq.bands.get_mut(n) {
                        band.kind = kind;
                    }
                }
                Choice::BandPlacement(n, placement) => {
                    if let Some(band) = settings.eq.bands.get_mut(n) {
                        band.placement = placement;
                    }
                }
                Choice::BandSlope(n, slope) => {
                    if let Some(band) = settings.eq.bands.get_mut(n) {
                        band.slope = slope;
                    }
                }
                Choice::Link(link) => settings.dynamics.link = link,
                Choice::EqDesign(design) => settings.eq.design = design,
                Choice::TruePeak(meter) => settings.limiter.true_peak = meter,
                Choice::Crossover(crossover) => {
                    if let Some(m) = &mut settings.dynamics.multiband {
                        m.crossover = crossover;
                    }
                }
                Choice::FadeIn(curve) => settings.output.fade_in_curve = curve,
                Choice::FadeOut(curve) => settings.output.fade_out_curve = curve,
            }
            Outcome::Changed
        }
        Edit::AddBand => {
            if settings.eq.bands.len() >= MAX_EQ_BANDS {
                return Outcome::Refused(format!("The EQ holds {MAX_EQ_BANDS} bands at most"));
            }
            settings.eq.bands.push(EqBand {
                enabled: true,
                kind: BandKind::Bell,
                freq_hz: Param::EqFreq(0).spec().default,
                gain_db: 0.0,
                q: Param::EqQ(0).spec().default,
                slope: Slope::Db12,
                placement: Placement::Stereo,
            });
            Outcome::Changed
        }
        Edit::RemoveBand(n) => {
            if n < settings.eq.bands.len() {
                settings.eq.bands.remove(n);
                // Entries typed for this band or the ones after it no longer point at them.
                entries.retain(|param, _| {
                    !matches!(param, Param::EqFreq(_) | Param::EqGain(_) | Param::EqQ(_))
                });
            }
            Outcome::Changed
        }
    };
    // Every value is in range by construction; what is left are rules between values (the
    // crossovers an octave apart).
    if let Err(error) = settings.validate() {
        *settings = before;
        return Outcome::Refused(format!("Not applied: {error}"));
    }
    if *settings == before && outcome == Outcome::Changed {
        return Outcome::Unchanged;
    }
    outcome
}

/// `value` rounded to the decimals its control shows (a dragged 1 kHz is not 1000.37 Hz).
fn round_to_shown(param: Param, value: f64) -> f64 {
    let spec = param.spec();
    spec.value_at(spec.position(value))
}

/// The panel for `settings` on a track of `sample_rate` (a mono track has no stereo
/// controls).
pub fn view<'a>(
    settings: &'a ChainSettings,
    entries: &'a HashMap<Param, String>,
    stereo_track: bool,
    sample_rate: u32,
) -> Element<'a, Edit> {
    let ui = Ui { settings, entries };
    let s = settings;
    let mut panel = column![].spacing(10);

    // Input.
    let mut input = ui.stage("Input", Stage::Input, !s.input.bypass);
    input = input.push(ui.control(Param::InputTrim)).push(
        row![
            checkbox(s.input.high_pass.is_some())
                .label("Subsonic high-pass")
                .on_toggle(|on| Edit::Switch(Switch::HighPass, on))
                .size(14)
                .text_size(13),
        ]
        .spacing(8),
    );
    if let Some(hp) = s.input.high_pass {
        input = input
            .push(ui.control(Param::HighPassHz))
            .push(widgets::segmented(&SLOPES, hp.slope, |s| {
                Edit::Choose(Choice::HighPassSlope(s))
            }));
    }
    panel = panel.push(input);

    // EQ.
    let mut eq = ui.stage("EQ", Stage::Eq, !s.eq.bypass);
    if s.eq.bands.iter().any(|b| b.kind.is_bell_or_shelf()) {
        eq = eq.push(named_choice(
            "Bells and shelves",
            &EQ_DESIGNS,
            s.eq.design,
            Choice::EqDesign,
        ));
    }
    for (n, band) in s.eq.bands.iter().enumerate() {
        eq = eq.push(ui.band(n, band));
    }
    eq = eq.push(
        button(text("Add band").size(13))
            .style(button::secondary)
            .on_press_maybe((s.eq.bands.len() < MAX_EQ_BANDS).then_some(Edit::AddBand)),
    );
    panel = panel.push(eq);

    // Dynamics.
    let d = &s.dynamics;
    let mut dynamics = ui.stage("Dynamics", Stage::Dynamics, !d.bypass);
    if d.is_inactive() {
        dynamics = dynamics.push(text(INACTIVE_DYNAMICS).size(12).color(style::MUTED));
    }
    dynamics = dynamics.push(ui.three_band_switch());
    if d.multiband.is_none() {
        for param in [
            Param::Threshold,
            Param::Ratio,
            Param::Attack,
            Param::Release,
            Param::Makeup,
        ] {
            dynamics = dynamics.push(ui.control(param));
        }
    }
    dynamics = dynamics
        .push(ui.control(Param::Knee))
        .push(ui.control(Param::Mix))
        .push(
            row![
                checkbox(d.auto_release)
                    .label("Auto release")
                    .on_toggle(|on| Edit::Switch(Switch::AutoRelease, on))
                    .size(14)
                    .text_size(13),
                checkbox(d.sidechain_high_pass_hz.is_some())
                    .label("Sidechain high-pass")
                    .on_toggle(|on| Edit::Switch(Switch::Sidechain, on))
                    .size(14)
                    .text_size(13),
            ]
            .spacing(16),
        );
    if d.sidechain_high_pass_hz.is_some() {
        dynamics = dynamics.push(ui.control(Param::SidechainHz));
    }
    if stereo_track {
        dynamics = dynamics.push(widgets::segmented(
            &[(Link::Stereo, "Linked"), (Link::MidSide, "Mid / side")],
            d.link,
            |l| Edit::Choose(Choice::Link(l)),
        ));
    }
    if let Some(m) = &d.multiband {
        dynamics = dynamics
            .push(named_choice(
                "Crossovers",
                &CROSSOVERS,
                m.crossover,
                Choice::Crossover,
            ))
            .push(
                text(crossover_note(m.crossover, sample_rate))
                    .size(12)
                    .color(style::MUTED),
            )
            .push(ui.control(Param::LowCrossover))
            .push(ui.control(Param::HighCrossover));
        for (n, name) in ["Low band", "Mid band", "High band"]
            .into_iter()
            .enumerate()
        {
            dynamics = dynamics.push(text(name).size(13).color(style::MUTED));
            for p in [
                BandParam::Threshold,
                BandParam::Ratio,
                BandParam::Attack,
                BandParam::Release,
                BandParam::Makeup,
            ] {
                dynamics = dynamics.push(ui.control(Param::Band(n, p)));
            }
        }
    }
    panel = panel.push(dynamics);

    // Stereo.
    let mut stereo = ui.stage("Stereo", Stage::Stereo, !s.stereo.bypass);
    if stereo_track {
        stereo = stereo
            .push(ui.control(Param::Width))
            .push(ui.control(Param::Balance))
            .push(
                checkbox(s.stereo.mono_bass_hz.is_some())
                    .label("Mono bass")
                    .on_toggle(|on| Edit::Switch(Switch::MonoBass, on))
                    .size(14)
                    .text_size(13),
            );
        if s.stereo.mono_bass_hz.is_some() {
            stereo = stereo.push(ui.control(Param::MonoBassHz));
        }
    } else {
        stereo = stereo.push(
            text("Width, balance and mono bass act on two channels; this track is mono.")
                .size(13)
                .color(style::MUTED),
        );
    }
    panel = panel.push(stereo);

    // Limiter.
    let l = &s.limiter;
    let mut limiter = ui.stage("True-peak limiter", Stage::Limiter, !l.bypass);
    if l.target_lufs.is_none() {
        limiter = limiter.push(ui.control(Param::LimiterGain));
    } else {
        limiter = limiter.push(
            text("Gain in: solved for the loudness target")
                .size(13)
                .color(style::MUTED),
        );
    }
    limiter = limiter
        .push(ui.control(Param::Ceiling))
        .push(named_choice(
            "Ceiling held on",
            &TRUE_PEAK_METERS,
            l.true_peak,
            Choice::TruePeak,
        ))
        .push(ui.control(Param::Lookahead))
        .push(ui.control(Param::LimiterRelease))
        .push(
            checkbox(l.auto_release)
                .label("Program-dependent release")
                .on_toggle(|on| Edit::Switch(Switch::LimiterAutoRelease, on))
                .size(14)
                .text_size(13),
        )
        .push(ui.control(Param::MaxReduction));
    panel = panel.push(limiter);

    // Output.
    let o = &s.output;
    let output = ui
        .stage("Output", Stage::Output, !o.bypass)
        .push(ui.control(Param::TrimStart))
        .push(ui.control(Param::TrimEnd))
        .push(ui.control(Param::FadeIn))
        .push(widgets::segmented(&CURVES, o.fade_in_curve, |c| {
            Edit::Choose(Choice::FadeIn(c))
        }))
        .push(ui.control(Param::FadeOut))
        .push(widgets::segmented(&CURVES, o.fade_out_curve, |c| {
            Edit::Choose(Choice::FadeOut(c))
        }));
    panel = panel.push(output);

    panel.into()
}

/// A stage's choice among a few options, named in front of them: one undo step each.
fn named_choice<'a, T: Copy + PartialEq + 'a>(
    name: &'a str,
    options: &'a [(T, &'a str)],
    current: T,
    choice: fn(T) -> Choice,
) -> Element<'a, Edit> {
    row![
        text(name).size(13).color(style::MUTED),
        widgets::segmented(options, current, move |value| Edit::Choose(choice(value))),
    ]
    .spacing(8)
    .align_y(Alignment::Center)
    .into()
}

/// How bells and shelves are made digital: the cookbook narrows them towards Nyquist, the
/// analog-matched design keeps the analog curve.
const EQ_DESIGNS: [(EqDesign, &str); 2] = [
    (EqDesign::Cookbook, "Cookbook"),
    (EqDesign::AnalogMatched, "Analog-matched"),
];

/// The meter the limiter's ceiling is held on: the BS.1770 meter, or a near-ideal
/// reconstruction that reads the top few hundred hertz below Nyquist in full.
const TRUE_PEAK_METERS: [(TruePeakMode, &str); 2] = [
    (TruePeakMode::Standard, "BS.1770"),
    (TruePeakMode::Strict, "Strict"),
];

/// How the three-band compressor splits the signal.
const CROSSOVERS: [(Crossover, &str); 2] = [
    (Crossover::LinkwitzRiley, "Linkwitz-Riley"),
    (Crossover::LinearPhase, "Linear phase"),
];

/// What the crossover choice costs, in a line under it.
fn crossover_note(crossover: Crossover, sample_rate: u32) -> String {
    match crossover {
        Crossover::LinkwitzRiley => {
            "No latency; the bands sum flat but shift the phase around each crossover".into()
        }
        Crossover::LinearPhase => {
            let rate = f64::from(sample_rate);
            let latency_ms = 1_000.0 * linear_phase::latency_frames(rate) as f64 / rate;
            format!(
                "The bands sum to the input; {latency_ms:.0} ms of latency, compensated. \
                 Moving a crossover crossfades to new filters"
            )
        }
    }
}

const SLOPES: [(Slope, &str); 3] = [
    (Slope::Db12, "12 dB/oct"),
    (Slope::Db24, "24 dB/oct"),
    (Slope::Db48, "48 dB/oct"),
];

const CURVES: [(FadeCurve, &str); 4] = [
    (FadeCurve::Linear, "Linear"),
    (FadeCurve::EqualPower, "Equal power"),
    (FadeCurve::SCurve, "S-curve"),
    (FadeCurve::Exponential, "Exponential"),
];

const KINDS: [(BandKind, &str); 5] = [
    (BandKind::Bell, "Bell"),
    (BandKind::LowShelf, "Low shelf"),
    (BandKind::HighShelf, "High shelf"),
    (BandKind::HighPass, "High-pass"),
    (BandKind::LowPass, "Low-pass"),
];

const PLACEMENTS: [(Placement, &str); 5] = [
    (Placement::Stereo, "Stereo"),
    (Placement::Mid, "Mid"),
    (Placement::Side, "Side"),
    (Placement::Left, "Left"),
    (Placement::Right, "Right"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drag_moves_then_finishes_and_typed_values_apply_on_enter() {
        let mut s = ChainSettings::gentle_master();
        let mut entries = HashMap::new();
        let spec = Param::InputTrim.spec();
        let outcome = apply(&mut s, &mut entries, Edit::Slide(Param::InputTrim, 0.75));
        assert_eq!(outcome, Outcome::Moving);
        assert_eq!(s.input.trim_db, 12.0);
        assert_eq!(
            apply(&mut s, &mut entries, Edit::Released),
            Outcome::Finished
        );
        let typed = Edit::Type(Param::InputTrim, "-1.5 dB".into());
        assert_eq!(apply(&mut s, &mut entries, typed), Outcome::Unchanged);
        assert_eq!(s.input.trim_db, 12.0, "typing alone changes nothing");
        let submit = Edit::Submit(Param::InputTrim);
        assert_eq!(apply(&mut s, &mut entries, submit), Outcome::Changed);
        assert_eq!(s.input.trim_db, -1.5);
        assert!(entries.is_empty());
        let reset = Edit::Reset(Param::InputTrim);
        assert_eq!(apply(&mut s, &mut entries, reset), Outcome::Changed);
        assert_eq!(s.input.trim_db, spec.default);
    }

    #[test]
    fn values_out_of_range_or_contradicting_each_other_are_refused_and_nothing_changes() {
        let mut s = ChainSettings::gentle_master();
        let mut entries = HashMap::new();
        let _ = apply(
            &mut s,
            &mut entries,
            Edit::Type(Param::Ceiling, "+3".into()),
        );
        let outcome = apply(&mut s, &mut entries, Edit::Submit(Param::Ceiling));
        assert_eq!(
            outcome,
            Outcome::Refused("Ceiling must be -20.0 dBTP to 0.0 dBTP".into())
        );
        assert_eq!(s.limiter.ceiling_dbtp, -1.0);
        // Crossovers less than an octave apart: the engine's rule, reported by field.
        let _ = apply(&mut s, &mut entries, Edit::Switch(Switch::ThreeBand, true));
        let _ = apply(
            &mut s,
            &mut entries,
            Edit::Type(Param::LowCrossover, "900".into()),
        );
        let outcome = apply(&mut s, &mut entries, Edit::Submit(Param::HighCrossover));
        assert_eq!(outcome, Outcome::Unchanged, "nothing typed there");
        let outcome = apply(&mut s, &mut entries, Edit::Submit(Param::LowCrossover));
        assert_eq!(outcome, Outcome::Changed);
        let before = s.clone();
        let _ = apply(
            &mut s,
            &mut entries,
            Edit::Type(Param::HighCrossover, "1000".into()),
        );
        let outcome = apply(&mut s, &mut entries, Edit::Submit(Param::HighCrossover));
        assert!(
            matches!(&outcome, Outcome::Refused(why) if why.contains("high_crossover_hz")),
            "{outcome:?}"
        );
        assert_eq!(s, before);
    }

    #[test]
    fn bands_are_added_up_to_eight_and_removed() {
        let mut s = ChainSettings::gentle_master();
        let mut entries = HashMap::new();
        for _ in 0..MAX_EQ_BANDS {
            assert_eq!(apply(&mut s, &mut entries, Edit::AddBand), Outcome::Changed);
        }
        assert!(matches!(
            apply(&mut s, &mut entries, Edit::AddBand),
            Outcome::Refused(_)
        ));
        let _ = apply(&mut s, &mut entries, Edit::Slide(Param::EqGain(3), 1.0));
        assert_eq!(s.eq.bands[3].gain_db, 12.0);
        let _ = apply(&mut s, &mut entries, Edit::RemoveBand(3));
        assert_eq!(s.eq.bands.len(), MAX_EQ_BANDS - 1);
        assert!(s.eq.bands.iter().all(|b| b.gain_db == 0.0));
    }
}
