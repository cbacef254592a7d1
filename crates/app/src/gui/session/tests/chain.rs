//! The chain, the target and the history: edits, numeric entries, undo, snapshots, EQ handles, keys.

use super::*;

#[test]
fn choosing_a_target_renders_a_master_that_meets_it() {
    let mut desk = ready();
    apply(&mut desk, []);
    let mut ui = window(&desk);
    ui.click("−14 Spotify")
        .expect("the Spotify target is offered");
    let messages: Vec<Message> = ui.into_messages().collect();
    assert!(matches!(messages.as_slice(), [Message::Session(S::Target(Some(t)))] if *t == -14.0));
    apply(&mut desk, messages);
    let Screen::Session(session) = &desk.screen else {
        panic!("ready");
    };
    assert_eq!(session.settings.limiter.target_lufs, Some(-14.0));
    let master = session.master.as_ref().expect("rendered");
    let integrated = master.loudness.integrated_lufs.expect("loud enough");
    assert!((integrated + 14.0).abs() < 0.2, "{integrated}");
    let mut ui = window(&desk);
    assert!(ui.find(format!("{integrated:.1} LUFS")).is_ok());
    assert!(ui.find(starting("Limiter: ")).is_ok());
    assert!(ui.find(starting("Spotify (normal) plays this")).is_ok());
}

#[test]
fn a_render_for_older_settings_is_ignored() {
    let mut desk = ready();
    let Screen::Session(session) = &mut desk.screen else {
        panic!("ready");
    };
    let start = solver_start(
        &session.settings,
        session.mix.integrated_lufs,
        session.master.as_ref(),
    );
    let stale = master(
        &session.audio,
        &session.settings,
        start,
        &session.render_scratch,
        &Job::default(),
    );
    let _ = session.update(S::Target(Some(-16.0)));
    let _ = session.update(S::Rendered(0, Arc::new(stale)));
    assert!(
        session.master.is_none(),
        "the render for generation 0 is stale"
    );
}

#[test]
fn numbers_of_older_settings_are_marked_pending_and_a_superseded_render_is_cancelled() {
    let mut desk = ready();
    apply(&mut desk, []);
    let before = master_lufs(&desk);
    let mut ui = window(&desk);
    assert!(ui.find(starting("Master · updating")).is_err(), "current");
    drop(ui);
    // An edit: the render for it runs, the numbers on screen are the previous settings'.
    let _ = desk.update(Message::Session(S::Target(Some(-14.0))));
    let first = session(&desk).rendering.clone().expect("a render runs");
    assert_eq!(session(&desk).pending(), Some(0.0));
    assert!(session(&desk).timeline.master_pending);
    let mut ui = window(&desk);
    assert!(ui.find("Master · updating 0 %").is_ok());
    assert!(
        ui.find(starting("Updating the master for the new settings"))
            .is_ok()
    );
    assert!(
        ui.find(format!("{before:.1} LUFS")).is_ok(),
        "the old numbers stay, dimmed"
    );
    drop(ui);
    // Another edit before it finished: the first render is cancelled, not finished.
    let _ = desk.update(Message::Session(S::Target(Some(-16.0))));
    assert!(first.is_cancelled(), "superseded");
    let second = session(&desk)
        .rendering
        .clone()
        .expect("the newer render runs");
    assert!(!second.is_cancelled());
    let cancelled = master(
        &session(&desk).audio,
        &session(&desk).settings,
        crest_engine::render::SolverStart::Measured,
        &session(&desk).render_scratch,
        &first,
    );
    assert_eq!(cancelled.expect_err("stopped").as_str(), "render cancelled");
    // Its render arrives: the marks go, the numbers are the new settings'.
    apply(&mut desk, []);
    assert_eq!(session(&desk).pending(), None);
    assert!(!session(&desk).timeline.master_pending);
    assert!((master_lufs(&desk) + 16.0).abs() < 0.2);
    let mut ui = window(&desk);
    assert!(ui.find(starting("Master · updating")).is_err());
    assert!(ui.find(starting("Updating the master")).is_err());
}

#[test]
fn chain_controls_and_numeric_entries_change_the_settings_and_undo_redo_walk_back() {
    let mut desk = ready();
    apply(&mut desk, []);
    let mut ui = window(&desk);
    ui.click("Add band").expect("the EQ offers a band");
    let messages: Vec<Message> = ui.into_messages().collect();
    apply(&mut desk, messages);
    assert_eq!(session(&desk).settings.eq.bands.len(), 1);
    let flat = master_lufs(&desk);
    let messages = type_into(&desk, Param::EqGain(0), "1.5 dB");
    assert!(
        matches!(
            messages.last(),
            Some(Message::Session(S::Chain(Edit::Submit(Param::EqGain(0)))))
        ),
        "{messages:?}"
    );
    apply(&mut desk, messages);
    let s = session(&desk);
    assert_eq!(s.settings.eq.bands[0].gain_db, 1.5);
    // The master was rendered again with the band: +1.5 dB at 1 kHz lifts the loudness by
    // less than 1.5 dB (the demo's energy is mostly in the bass).
    let lift = master_lufs(&desk) - flat;
    assert!(lift > 0.02 && lift < 1.5, "{lift}");
    // Out of range: refused, said, nothing changed.
    let messages = type_into(&desk, Param::EqGain(0), "30");
    apply(&mut desk, messages);
    assert_eq!(session(&desk).settings.eq.bands[0].gain_db, 1.5);
    let mut ui = window(&desk);
    // In the status line over the plots, seen wherever the chain is scrolled to.
    let said = ui
        .find("Gain must be -12.0 dB to 12.0 dB")
        .expect("said")
        .bounds();
    let target = ui
        .find("Loudness target")
        .expect("the chain's top")
        .bounds();
    assert!(said.y < target.y, "{said:?} above the chain, at {target:?}");
    drop(ui);

    click(&mut desk, "Undo");
    assert_eq!(session(&desk).settings.eq.bands[0].gain_db, 0.0);
    click(&mut desk, "Undo");
    assert!(session(&desk).settings.eq.bands.is_empty());
    assert!(!session(&desk).history.can_undo());
    click(&mut desk, "Redo");
    assert_eq!(session(&desk).settings.eq.bands.len(), 1);
    // A value taken clears what was said of the one refused.
    let messages = type_into(&desk, Param::EqGain(0), "1");
    apply(&mut desk, messages);
    assert!(
        window(&desk)
            .find("Gain must be -12.0 dB to 12.0 dB")
            .is_err()
    );
}

/// A stage's On switch ticked.
fn switch_on(desk: &mut Desk, stage: crate::gui::chain_panel::Stage) {
    apply(
        desk,
        [Message::Session(S::Chain(Edit::Active(stage, true)))],
    );
}

#[test]
fn a_compressor_set_to_change_nothing_says_it_is_left_out() {
    use crate::gui::chain_panel::{INACTIVE_DYNAMICS, Stage};
    let mut desk = ready();
    switch_on(&mut desk, Stage::Dynamics);
    assert!(!session(&desk).settings.dynamics.bypass);
    assert!(
        window(&desk).find(INACTIVE_DYNAMICS).is_err(),
        "it compresses"
    );
    let messages = type_into(&desk, Param::Ratio, "1");
    apply(&mut desk, messages);
    assert_eq!(session(&desk).settings.dynamics.ratio, 1.0);
    assert!(window(&desk).find(INACTIVE_DYNAMICS).is_ok());
}

#[test]
fn the_eq_design_is_offered_with_a_bell_and_chosen_as_one_undo_step() {
    use crest_engine::chain::EqDesign;
    let mut desk = ready();
    apply(&mut desk, []);
    assert!(
        window(&desk).find("Analog-matched").is_err(),
        "no bell or shelf yet: nothing to design"
    );
    click(&mut desk, "Add band");
    click(&mut desk, "Analog-matched");
    assert_eq!(session(&desk).settings.eq.design, EqDesign::AnalogMatched);
    assert!(session(&desk).master.is_some(), "rendered again");
    click(&mut desk, "Undo");
    assert_eq!(session(&desk).settings.eq.design, EqDesign::Cookbook);
    assert_eq!(session(&desk).settings.eq.bands.len(), 1, "the band stays");
}

#[test]
fn the_linear_phase_crossover_is_chosen_as_one_undo_step_and_says_what_it_costs() {
    use crate::gui::chain_panel::{Choice, Stage};
    use crest_engine::chain::Crossover;
    let mut desk = ready();
    switch_on(&mut desk, Stage::Dynamics);
    assert!(
        window(&desk).find("Linear phase").is_err(),
        "one band: no crossovers to choose"
    );
    click(&mut desk, "Three bands");
    assert!(window(&desk).find(starting("No latency;")).is_ok());
    // Offered below the window's fold: chosen as the segmented control sends it.
    assert!(window(&desk).find("Linear phase").is_ok());
    apply(
        &mut desk,
        [Message::Session(S::Chain(Edit::Choose(Choice::Crossover(
            Crossover::LinearPhase,
        ))))],
    );
    let multiband = session(&desk).settings.dynamics.multiband.clone();
    assert_eq!(multiband.map(|m| m.crossover), Some(Crossover::LinearPhase));
    assert!(session(&desk).master.is_some(), "rendered again");
    // The demo runs at 48 kHz: 4,128 frames.
    assert!(
        window(&desk)
            .find(starting("The bands sum to the input; 86 ms of latency"))
            .is_ok()
    );
    click(&mut desk, "Undo");
    let multiband = session(&desk).settings.dynamics.multiband.clone();
    assert_eq!(
        multiband.map(|m| m.crossover),
        Some(Crossover::LinkwitzRiley)
    );
}

#[test]
fn the_limiter_holds_its_ceiling_on_the_meter_chosen() {
    use crate::gui::chain_panel::Choice;
    use crest_engine::chain::TruePeakMode;
    let mut desk = ready();
    apply(&mut desk, []);
    assert!(window(&desk).find("Ceiling held on").is_ok());
    assert!(window(&desk).find("Strict").is_ok());
    apply(
        &mut desk,
        [Message::Session(S::Chain(Edit::Choose(Choice::TruePeak(
            TruePeakMode::Strict,
        ))))],
    );
    assert_eq!(
        session(&desk).settings.limiter.true_peak,
        TruePeakMode::Strict
    );
    let master = session(&desk).master.as_ref().expect("rendered again");
    // Read on the meter it is held on: at or under the ceiling there, and shown.
    let strict = master
        .loudness
        .strict_true_peak_dbtp
        .expect("the strict reading");
    assert!(strict <= -1.0, "{strict}");
    assert!(window(&desk).find("True peak, strict").is_ok());
    assert!(
        window(&desk)
            .find("Ceiling -1.0 dBTP on the strict meter, true-peak limiter")
            .is_ok()
    );
    click(&mut desk, "Undo");
    assert_eq!(
        session(&desk).settings.limiter.true_peak,
        TruePeakMode::Standard
    );
    let master = session(&desk).master.as_ref().expect("rendered again");
    assert_eq!(master.loudness.strict_true_peak_dbtp, None);
    assert!(window(&desk).find("True peak, strict").is_err());
}

#[test]
fn snapshots_switch_the_whole_chain_and_back() {
    let mut desk = ready();
    apply(&mut desk, []);
    click(&mut desk, "B");
    let messages = type_into(&desk, Param::InputTrim, "-3");
    apply(&mut desk, messages);
    assert_eq!(session(&desk).settings.input.trim_db, -3.0);
    let b_master = session(&desk)
        .master
        .as_ref()
        .map(|m| m.loudness.integrated_lufs);
    click(&mut desk, "A");
    let s = session(&desk);
    assert_eq!(s.settings.input.trim_db, 0.0);
    let a_master = s.master.as_ref().map(|m| m.loudness.integrated_lufs);
    let (Some(Some(a)), Some(Some(b))) = (a_master, b_master) else {
        panic!("both rendered");
    };
    assert!((a - b - 3.0).abs() < 0.05, "A {a}, B {b}");
    let _ = desk.update(Message::Session(S::Transport(T::Snapshot(1))));
    assert_eq!(session(&desk).settings.input.trim_db, -3.0);
}

#[test]
fn undo_over_a_snapshot_recall_returns_to_the_snapshot_left_and_the_recalled_one_keeps_its_own() {
    // A at −3 dB trim, B at −6; back to A, then Undo: the desk is B again at −6, and A still
    // holds −3 (undo wrote B's settings into A, losing them).
    let mut desk = ready();
    apply(&mut desk, []);
    let trim = |desk: &Desk| session(desk).settings.input.trim_db;
    let active = |desk: &Desk| session(desk).snapshots.active();
    let messages = type_into(&desk, Param::InputTrim, "-3");
    apply(&mut desk, messages);
    click(&mut desk, "B");
    let messages = type_into(&desk, Param::InputTrim, "-6");
    apply(&mut desk, messages);
    click(&mut desk, "A");
    assert_eq!((active(&desk), trim(&desk)), (0, -3.0));
    click(&mut desk, "Undo");
    assert_eq!(
        (active(&desk), trim(&desk)),
        (1, -6.0),
        "back in B, as it was"
    );
    click(&mut desk, "A");
    assert_eq!(trim(&desk), -3.0, "A kept its own settings");
    // Undo walks on through B's own edit, in B, and Redo comes back the same way.
    click(&mut desk, "Undo");
    click(&mut desk, "Undo");
    assert_eq!((active(&desk), trim(&desk)), (1, -3.0), "B before its edit");
    click(&mut desk, "Redo");
    assert_eq!((active(&desk), trim(&desk)), (1, -6.0));
    click(&mut desk, "Redo");
    assert_eq!((active(&desk), trim(&desk)), (0, -3.0));
    assert_eq!(
        session(&desk).snapshots.held(1).map(|b| b.input.trim_db),
        Some(-6.0)
    );
}

#[test]
fn keys_map_to_their_actions() {
    use iced::keyboard::{Event, Key, Location, Modifiers, key};
    let press = |key: Key, modifiers: Modifiers| Event::KeyPressed {
        key: key.clone(),
        modified_key: key,
        physical_key: key::Physical::Unidentified(key::NativeCode::Unidentified),
        location: Location::Standard,
        modifiers,
        text: None,
        repeat: false,
    };
    let ch = |c: &str| Key::Character(c.into());
    let named = Key::Named;
    let none = Modifiers::empty();
    let cases = [
        (
            press(named(key::Named::Space), none),
            Some(S::Transport(T::TogglePlay)),
        ),
        (press(ch("z"), Modifiers::CTRL), Some(S::Transport(T::Undo))),
        (
            press(ch("Z"), Modifiers::CTRL | Modifiers::SHIFT),
            Some(S::Transport(T::Redo)),
        ),
        (press(ch("3"), none), Some(S::Transport(T::Snapshot(2)))),
        (press(ch("b"), none), Some(S::Listening(L::ToggleAb))),
        (
            press(ch("e"), Modifiers::CTRL),
            Some(S::Export(ExportMsg::Show(true))),
        ),
        (press(ch("e"), none), None),
        (
            press(ch("o"), Modifiers::CTRL),
            Some(S::Request(super::Event::OpenDialog)),
        ),
        (
            press(ch("s"), Modifiers::CTRL | Modifiers::SHIFT),
            Some(S::Request(super::Event::SaveSession { choose: true })),
        ),
    ];
    for (event, expected) in cases {
        let got = shortcut(event.clone());
        assert_eq!(format!("{got:?}"), format!("{expected:?}"), "{event:?}");
    }
}

#[test]
fn dragging_an_eq_handle_on_the_spectrum_moves_the_band_as_one_undo_step() {
    use iced::mouse::{Button, Event as Mouse};
    let mut desk = ready();
    apply(&mut desk, []);
    click(&mut desk, "Add band");
    let mut ui = window(&desk);
    // The spectrum sits under the row of plot tabs and its legend, as wide as the row less
    // its axes (34 px of dBFS on the left, 40 px of EQ gain on the right), as high as the
    // layout makes the plots in this window (less 14 px of frequency axis). The row starts
    // at the "Spectrum" tab (its label 8 px and 3 px inside the button).
    let fit = super::super::layout::Fit::for_size(iced::Size::new(1280.0 - 32.0, 800.0 - 32.0));
    let half = (fit.plot_height - 14.0) / 2.0;
    let mut legend = ui.find("Spectrum").expect("the spectrum tab").bounds();
    legend.x -= 8.0;
    legend.y -= 3.0;
    let right = ui.find("— EQ").expect("the EQ legend").bounds();
    // The row is as tall as its view buttons (their text and 3 px of padding above and below).
    let button = ui.find("1/12").expect("the smoothing buttons").bounds();
    let row_bottom = legend.y + (button.height + 6.0).max(legend.height);
    let (left_x, top) = (legend.x + 34.0, row_bottom + 12.0);
    let width = right.x + right.width - 40.0 - left_x;
    let at = |freq: f64, gain_db: f64| {
        let fraction = (freq / 20.0).log10() / 3.0;
        iced::Point::new(
            left_x + fraction as f32 * width,
            top + half * (1.0 - (gain_db / 15.0) as f32),
        )
    };
    let mouse = |e| iced::Event::Mouse(e);
    ui.point_at(at(1_000.0, 0.0));
    let _ = ui.simulate([mouse(Mouse::ButtonPressed(Button::Left))]);
    let to = at(2_000.0, 3.0);
    ui.point_at(to);
    let _ = ui.simulate([mouse(Mouse::CursorMoved { position: to })]);
    let _ = ui.simulate([mouse(Mouse::ButtonReleased(Button::Left))]);
    let messages: Vec<Message> = ui.into_messages().collect();
    assert!(
        matches!(
            messages.first(),
            Some(Message::Session(S::Chain(Edit::Drag(_))))
        ),
        "{messages:?}"
    );
    assert!(matches!(
        messages.last(),
        Some(Message::Session(S::Chain(Edit::Released)))
    ));
    let undo_before = session(&desk).history.can_undo();
    apply(&mut desk, messages);
    let band = session(&desk).settings.eq.bands[0];
    assert!((band.freq_hz - 2_000.0).abs() < 30.0, "{}", band.freq_hz);
    assert!((band.gain_db - 3.0).abs() < 0.3, "{}", band.gain_db);
    assert!(undo_before);
    let _ = desk.update(Message::Session(S::Transport(T::Undo)));
    let band = session(&desk).settings.eq.bands[0];
    assert_eq!(
        (band.freq_hz, band.gain_db),
        (1_000.0, 0.0),
        "one drag, one undo"
    );
}

#[test]
fn the_timeline_draws_the_gain_reduction_of_the_latest_render() {
    let mut desk = ready();
    // Driven 12 dB into the limiter, the demo mix is limited.
    apply(
        &mut desk,
        [Message::Session(S::Chain(Edit::Set(
            Param::LimiterGain,
            12.0,
        )))],
    );
    let s = session(&desk);
    let history = &s.timeline.gain_reduction;
    assert_eq!(
        history,
        &s.master.as_ref().expect("rendered").gain_reduction
    );
    let steps = (s.audio.duration_s() / history.step_s).ceil() as usize;
    assert_eq!(history.limiter_db.len(), steps, "one value per 100 ms");
    assert!(history.limiter_db.iter().any(|&db| db > 3.0));
    assert!(history.compressor_db.is_empty(), "the compressor is off");
    assert!(s.timeline.shows_gain_reduction());
    // An edit leaves it on screen, dimmed with the master, until the new render arrives.
    let _ = desk.update(Message::Session(S::Chain(Edit::Set(
        Param::LimiterGain,
        -12.0,
    ))));
    assert!(session(&desk).timeline.master_pending);
    assert!(session(&desk).timeline.shows_gain_reduction());
    // 12 dB down the limiter has nothing to do: nothing is drawn.
    apply(&mut desk, []);
    let timeline = &session(&desk).timeline;
    assert!(!timeline.master_pending);
    assert!(
        !timeline.shows_gain_reduction(),
        "{:?}",
        timeline.gain_reduction
    );
}
