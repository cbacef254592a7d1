//! Headless tests of the desk (iced_test): every flow a user goes through, with the work
//! that tasks would run done here (a simulator runs no tasks).

use super::super::Message;
use super::super::pipeline::load_reference;
use super::super::*;
use super::keys::shortcut;
use super::transport::clock;
use super::*;
use super::{Message as S, listening::Message as L, transport::Message as T};
use crest_engine::loudness;
use crest_playback::engine::{Listen, MAX_BLOCK};
use crest_playback::{Backend, PlaybackStatus};
use iced_test::Simulator;

/// A fake output with one pair of speakers: the desk's tests never depend on the machine's
/// sound card (or its absence).
fn speakers() -> Output {
    use crest_playback::manual::{ManualBackend, ManualDevice};
    Output(Arc::new(ManualBackend::with(ManualDevice::speakers())))
}

/// The demo mix open on the fake speakers, as it is once loaded.
fn ready() -> Desk {
    ready_with(speakers(), None)
}

/// The demo mix open on `output`, with `storage` for autosave and preferences (none: the
/// desk writes nothing).
fn ready_with(output: Output, storage: Option<Storage>) -> Desk {
    let loaded =
        load(None, &DecodeLimits::mastering(), &Job::default()).expect("the demo mix loads");
    let mut desk = Desk {
        context: Context::new(output, storage),
        screen: Screen::Failed(String::new()),
    };
    let _task = desk.start_session(loaded);
    desk
}

/// Applies the messages a user's interaction produced, then runs the background render
/// here (a test has no executor) and delivers it, as the task would.
fn apply(desk: &mut Desk, messages: impl IntoIterator<Item = Message>) {
    for message in messages {
        let _task = desk.update(message);
    }
    let Screen::Session(session) = &mut desk.screen else {
        return;
    };
    let result = master(&session.audio, &session.settings);
    let generation = session.generation;
    let _task = desk.update(Message::Session(S::Rendered(generation, Arc::new(result))));
}

/// The desk in a window of the size it opens at.
fn window(desk: &Desk) -> Simulator<'_, Message> {
    Simulator::with_size(Default::default(), (1280.0, 800.0), desk.view())
}

/// Finds a text that starts with `prefix`.
fn starting(
    prefix: impl Into<String>,
) -> impl iced_test::selector::Selector<Output = iced_test::selector::Text> {
    let prefix = prefix.into();
    move |candidate: iced_test::selector::Candidate<'_>| match candidate {
        iced_test::selector::Candidate::Text {
            id,
            bounds,
            visible_bounds,
            content,
        } if content.starts_with(&prefix) => Some(iced_test::selector::Text::Raw {
            id: id.cloned(),
            bounds,
            visible_bounds,
        }),
        _ => None,
    }
}

#[test]
fn the_demo_opens_with_its_numbers_and_says_when_playback_is_off() {
    let mut desk = ready();
    apply(&mut desk, []);
    let mut ui = window(&desk);
    assert!(ui.find("Demo mix (built in)").is_ok());
    assert!(ui.find("-18.0 LUFS").is_ok());
    assert!(ui.find("Loudness target").is_ok());
    assert!(ui.find(starting("Playback unavailable:")).is_err());
    assert!(session(&desk).playback.is_ok());
    drop(ui);
    // No output device at all: a banner says so, and everything else is there.
    let no_device = crest_playback::manual::ManualBackend::default();
    let mut desk = ready_with(Output(Arc::new(no_device)), None);
    apply(&mut desk, []);
    assert!(session(&desk).playback.is_err());
    let mut ui = window(&desk);
    assert!(ui.find(starting("Playback unavailable:")).is_ok());
    assert!(ui.find("-18.0 LUFS").is_ok());
}

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
    let stale = master(&session.audio, &session.settings);
    let _ = session.update(S::Target(Some(-16.0)));
    let _ = session.update(S::Rendered(0, Arc::new(stale)));
    assert!(
        session.master.is_none(),
        "the render for generation 0 is stale"
    );
}

#[test]
fn a_bad_file_dropped_on_the_desk_leaves_the_session_and_says_why() {
    let mut desk = ready();
    apply(&mut desk, []);
    let _ = desk.update(Message::Open("/nonexistent/dropped.wav".into()));
    let loaded = load(
        Some("/nonexistent/dropped.wav".into()),
        &DecodeLimits::mastering(),
        &Job::default(),
    );
    let _ = desk.update(Message::Opened(Arc::new(loaded)));
    let Screen::Session(session) = &desk.screen else {
        panic!("still ready");
    };
    assert_eq!(session.name, "Demo mix (built in)");
    assert!(session.master.is_some(), "the master is still there");
    let mut ui = window(&desk);
    assert!(ui.find(starting("/nonexistent/dropped.wav")).is_ok());
}

#[test]
fn clicking_the_timeline_moves_the_playhead() {
    let mut desk = ready();
    apply(&mut desk, []);
    let mut ui = window(&desk);
    // The timeline spans the window's width below the header; its middle is the track's.
    ui.point_at(iced::Point::new(300.0, 250.0));
    let _ = ui.simulate(iced_test::simulator::click());
    let messages: Vec<Message> = ui.into_messages().collect();
    let seek = messages.iter().find_map(|m| match m {
        Message::Session(S::Transport(T::Seek(seconds))) => Some(*seconds),
        _ => None,
    });
    let seconds = seek.expect("a click on the timeline seeks");
    assert!(seconds > 5.0 && seconds < 19.0, "{seconds}");
    apply(&mut desk, messages);
    let Screen::Session(session) = &desk.screen else {
        panic!("ready");
    };
    assert_eq!(session.timeline.playhead_s, Some(seconds));
}

/// Runs the export the dialog started, here (a test has no executor), and delivers it.
fn run_export(desk: &mut Desk) {
    let Screen::Session(session) = &mut desk.screen else {
        panic!("ready");
    };
    let job = session
        .export
        .running
        .clone()
        .expect("an export is running");
    let plans = session.export.plans(session.judged());
    let outcomes = export_dialog::run(&session.audio, None, &plans, &job, session.export.replace);
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Done(Arc::new(
        outcomes,
    )))));
}

#[test]
fn export_writes_verified_masters_for_the_desk_and_a_delivery_preset_and_never_overwrites() {
    let dir = std::env::temp_dir().join(format!("crest-desk-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    click(&mut desk, "Export…");
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Folder(
        dir.display().to_string(),
    ))));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Name("demo".into()))));
    let mut ui = window(&desk);
    ui.click(starting("CD (Red Book)"))
        .expect("the CD preset is offered");
    let messages: Vec<Message> = ui.into_messages().collect();
    assert!(
        matches!(
            messages.as_slice(),
            [Message::Session(S::Export(ExportMsg::Preset(_, true)))]
        ),
        "{messages:?}"
    );
    apply(&mut desk, messages);
    // Before exporting, every file is listed with its format, rate, loudness and ceiling.
    let mut ui = window(&desk);
    assert!(
        ui.find(starting(
            "demo-cd.wav — WAV 16-bit PCM, 44.1 kHz, -14.0 LUFS (kept from the desk), ceiling -0.3 dBTP"
        ))
        .is_ok()
    );
    drop(ui);
    click(&mut desk, "Export 2 files");
    run_export(&mut desk);

    let streaming = crest_engine::decode_file(&dir.join("demo.wav")).expect("reads back");
    let measured = loudness::measure(&streaming.audio);
    assert!((measured.integrated_lufs.expect("I") + 14.0).abs() < 0.2);
    assert!(measured.true_peak_dbtp.expect("TP") <= -1.0);
    let cd = crest_engine::decode_file(&dir.join("demo-cd.wav")).expect("reads back");
    assert_eq!(cd.audio.sample_rate(), 44_100);
    assert_eq!(cd.info.bits_per_sample, Some(16));
    let measured = loudness::measure(&cd.audio);
    assert!(measured.true_peak_dbtp.expect("TP") <= -0.3);
    // The CD keeps the loudness the desk was judged at, and its QC checked it.
    let cd_lufs = measured.integrated_lufs.expect("I");
    assert!((cd_lufs + 14.0).abs() <= 0.1, "{cd_lufs}");
    let session = session(&desk);
    let cd_report = session.export.outcomes[1].result.as_ref().expect("written");
    let judged = cd_report
        .checks
        .iter()
        .find(|c| c.name == "loudness as judged")
        .expect("the CD's QC checks the desk's loudness");
    assert!(judged.passed, "{judged:?}");
    let mut ui = window(&desk);
    assert!(ui.find(starting("PASSED As set on the desk — ")).is_ok());
    assert!(ui.find(starting("PASSED CD (Red Book) — ")).is_ok());
    drop(ui);

    // Again into the same files: refused, the masters kept.
    click(&mut desk, "Export 2 files");
    run_export(&mut desk);
    let mut ui = window(&desk);
    assert!(ui.find(starting("NOT WRITTEN As set on the desk")).is_ok());
    assert!(dir.join("demo.wav").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn presets_keep_the_desks_loudness_unless_they_mandate_another_and_say_so() {
    let dir = std::env::temp_dir().join(format!("crest-desk-presets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    // No target on the desk: the master is as loud as the chain makes it.
    let mut desk = ready();
    apply(&mut desk, []);
    let judged = master_lufs(&desk);
    click(&mut desk, "Export…");
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Folder(
        dir.display().to_string(),
    ))));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Name("demo".into()))));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Desk(false))));
    for preset in [2, 3] {
        let _ = desk.update(Message::Session(S::Export(ExportMsg::Preset(preset, true))));
    }
    let mut ui = window(&desk);
    assert!(
        ui.find(starting(format!(
            "demo-cd.wav — WAV 16-bit PCM, 44.1 kHz, {judged:.1} LUFS (kept from the desk)"
        )))
        .is_ok()
    );
    assert!(
        ui.find(starting(format!(
            "demo-broadcast-r128.wav — WAV 24-bit PCM, 48 kHz, -23.0 LUFS (the preset's; the \
             desk is at {judged:.1})"
        )))
        .is_ok()
    );
    drop(ui);
    click(&mut desk, "Export 2 files");
    run_export(&mut desk);
    let cd = crest_engine::decode_file(&dir.join("demo-cd.wav")).expect("reads back");
    let cd_lufs = loudness::measure(&cd.audio).integrated_lufs.expect("I");
    assert!(
        (cd_lufs - judged).abs() <= 0.1,
        "{cd_lufs} against {judged}"
    );
    let broadcast =
        crest_engine::decode_file(&dir.join("demo-broadcast-r128.wav")).expect("reads back");
    let broadcast_lufs = loudness::measure(&broadcast.audio)
        .integrated_lufs
        .expect("I");
    assert!((broadcast_lufs + 23.0).abs() <= 0.2, "{broadcast_lufs}");
    let outcomes = &session(&desk).export.outcomes;
    for outcome in outcomes {
        let report = outcome.result.as_ref().expect("written");
        assert!(report.passed, "{}: {:?}", outcome.label, report.checks);
    }
    // Only the file that keeps the loudness is checked against it.
    let judged_checks: Vec<bool> = outcomes
        .iter()
        .map(|o| {
            let report = o.result.as_ref().expect("written");
            report.checks.iter().any(|c| c.name == "loudness as judged")
        })
        .collect();
    assert_eq!(judged_checks, [true, false]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_that_cannot_be_read_says_why() {
    let mut desk = Desk {
        context: Context::new(speakers(), None),
        screen: Screen::Loading {
            name: "missing.wav".into(),
            job: Arc::default(),
        },
    };
    let loaded = load(
        Some("/nonexistent/missing.wav".into()),
        &DecodeLimits::mastering(),
        &Job::default(),
    );
    let _ = desk.update(Message::Loaded(Arc::new(loaded)));
    let mut ui = window(&desk);
    assert!(ui.find("This file cannot be opened").is_ok());
}

/// Types `typed` into the numeric entry of `param` as a user would: click, clear, type,
/// Enter. Returns the messages the entry produced.
fn type_into(desk: &Desk, param: Param, typed: &str) -> Vec<Message> {
    use iced::keyboard::key::Named;
    let mut ui = window(desk);
    ui.click(iced_test::selector::id(chain_panel::entry_id(param)))
        .expect("the entry is on screen");
    let _ = ui.tap_key(Named::End);
    for _ in 0..12 {
        let _ = ui.tap_key(Named::Backspace);
    }
    let _ = ui.typewrite(typed);
    let _ = ui.tap_key(Named::Enter);
    ui.into_messages().collect()
}

/// Clicks the button labelled `label` and applies what it sent (with the render).
fn click(desk: &mut Desk, label: &'static str) {
    let mut ui = window(desk);
    ui.click(label).unwrap_or_else(|e| panic!("{label}: {e:?}"));
    let messages: Vec<Message> = ui.into_messages().collect();
    apply(desk, messages);
}

fn master_lufs(desk: &Desk) -> f64 {
    let master = session(desk).master.as_ref().expect("rendered");
    master.loudness.integrated_lufs.expect("loud enough")
}

fn session(desk: &Desk) -> &Session {
    match &desk.screen {
        Screen::Session(session) => session,
        _ => panic!("the desk is ready"),
    }
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
    assert!(ui.find("Gain must be -12.0 dB to 12.0 dB").is_ok());
    drop(ui);

    click(&mut desk, "Undo");
    assert_eq!(session(&desk).settings.eq.bands[0].gain_db, 0.0);
    click(&mut desk, "Undo");
    assert!(session(&desk).settings.eq.bands.is_empty());
    assert!(!session(&desk).history.can_undo());
    click(&mut desk, "Redo");
    assert_eq!(session(&desk).settings.eq.bands.len(), 1);
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
fn play_and_pause_drive_the_output_device() {
    use crest_playback::manual::{ManualBackend, ManualDevice};
    let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
    let output = Output(Arc::clone(&device) as Arc<dyn Backend>);
    let mut desk = ready_with(output, None);
    apply(&mut desk, []);
    let mut ui = window(&desk);
    assert!(ui.find(starting("Playback unavailable")).is_err());
    drop(ui);
    click(&mut desk, "Play");
    // In the demo's loud section.
    let _ = desk.update(Message::Session(S::Transport(T::Seek(12.0))));
    let rms = |samples: &[f32]| {
        (samples.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
    };
    let playing = device.pull(9_600);
    assert!(rms(&playing) > 0.01, "{}", rms(&playing));
    let _ = desk.update(Message::Session(S::Listening(L::Tick)));
    // Just after a 200 ms callback its sound has not started (the device plays it 5 ms
    // later): the playhead is at the callback's first frame — the 10 ms fade out of the
    // start, then 12.0 s — not at its end (12.19 s).
    let heard = session(&desk).timeline.playhead_s.expect("playhead");
    assert!((heard - 11.98).abs() < 0.02, "{heard}");
    // Another second, in callbacks of 10 ms, the desk ticking as it does (every 33 ms):
    // the live meters read the master.
    for n in 0..100 {
        let _ = device.pull(480);
        if n % 3 == 2 {
            let _ = desk.update(Message::Session(S::Listening(L::Tick)));
        }
    }
    let _ = desk.update(Message::Session(S::Listening(L::Tick)));
    let heard = session(&desk).timeline.playhead_s.expect("playhead");
    let reading = &session(&desk).meters.reading;
    let momentary = reading.momentary_lufs.expect("momentary after 1.2 s");
    assert!(momentary > -30.0 && momentary < -8.0, "{momentary}");
    let peak = reading.true_peak_max_dbtp().expect("true peak");
    assert!(peak <= -1.0 + 0.02, "the limiter holds the ceiling: {peak}");
    assert!(reading.correlation.is_some());
    assert!((reading.seconds - 1.2).abs() < 0.05, "{}", reading.seconds);
    click(&mut desk, "Pause");
    let paused = device.pull(9_600);
    // After the 10 ms fade, silence.
    assert_eq!(rms(&paused[2 * 960..]), 0.0);
    let _ = desk.update(Message::Session(S::Listening(L::Tick)));
    // Paused where the fade ended: 10 ms past the last callback's end, which the playhead
    // showed 15 ms before its end (its 10 ms not yet heard, and the device's 5 ms).
    let still = session(&desk).timeline.playhead_s.expect("playhead");
    assert!((still - heard - 0.025).abs() < 0.001, "{still} vs {heard}");
}

#[test]
fn a_lost_output_is_reported_and_retried_not_dropped() {
    use crest_playback::manual::{ManualBackend, ManualDevice};
    let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
    let output = Output(Arc::clone(&device) as Arc<dyn Backend>);
    let mut desk = ready_with(output, None);
    apply(&mut desk, []);
    click(&mut desk, "Play");
    let _ = device.pull(4_800);
    // Errors that pass change nothing the user sees.
    device.passing_errors(600);
    let _ = desk.update(Message::Session(S::Listening(L::Tick)));
    assert_eq!(session(&desk).output_notice, None);
    assert!(session(&desk).playing);
    // The device goes: the desk says so and keeps the player, which tries again by itself;
    // the transport keeps its state.
    let _ = device.unplug();
    let _ = desk.update(Message::Session(S::Listening(L::Tick)));
    let notice = session(&desk).output_notice.clone().expect("told");
    assert!(notice.contains("disappeared"), "{notice}");
    assert!(session(&desk).playing);
    let player = session(&desk)
        .playback
        .as_ref()
        .expect("the player is kept");
    assert!(matches!(
        player.status(),
        PlaybackStatus::Unavailable { .. }
    ));
    let mut ui = window(&desk);
    assert!(
        ui.find(starting("Output: the output device disappeared"))
            .is_ok()
    );
    assert!(ui.find(starting("No output now: trying again")).is_ok());
}

#[test]
fn the_desk_ticks_only_while_there_is_something_to_read() {
    use crest_playback::manual::{ManualBackend, ManualDevice};
    // The moment to settle has passed (as it would 1.5 s later).
    let settled = |desk: &mut Desk| {
        if let Screen::Session(session) = &mut desk.screen {
            session.settle_until = Some(std::time::Instant::now());
        }
    };
    let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
    let output = Output(Arc::clone(&device) as Arc<dyn Backend>);
    let mut desk = ready_with(output, None);
    apply(&mut desk, []);
    // A track loaded, an output open, nothing playing: at rest once its master rendered.
    settled(&mut desk);
    assert!(!session(&desk).needs_ticks());
    click(&mut desk, "Play");
    assert!(session(&desk).needs_ticks());
    click(&mut desk, "Pause");
    // The meters fall for a moment, then the desk rests.
    assert!(session(&desk).needs_ticks());
    settled(&mut desk);
    assert!(!session(&desk).needs_ticks());
    // A chain edit while paused: ticks a moment, so a new structure gets built.
    let _ = desk.update(Message::Session(S::Chain(Edit::Set(
        Param::InputTrim,
        -1.0,
    ))));
    assert!(session(&desk).needs_ticks());
    // Without an output, Play plays nothing: the transport stays stopped, the desk at rest.
    let mut desk = ready_with(Output(Arc::new(ManualBackend::default())), None);
    apply(&mut desk, []);
    settled(&mut desk);
    let _ = desk.update(Message::Session(S::Transport(T::TogglePlay)));
    assert!(!session(&desk).playing);
    assert!(!session(&desk).needs_ticks());
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
    // The spectrum sits under its legend row, as wide as the row.
    let legend = ui
        .find(starting("Spectrum — "))
        .expect("the spectrum legend")
        .bounds();
    let right = ui.find("— EQ").expect("the EQ legend").bounds();
    let (left_x, top) = (legend.x, legend.y + legend.height + 12.0);
    let width = right.x + right.width - left_x;
    let at = |freq: f64, gain_db: f64| {
        let fraction = (freq / 20.0).log10() / 3.0;
        iced::Point::new(
            left_x + fraction as f32 * width,
            top + 100.0 * (1.0 - (gain_db / 15.0) as f32),
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

/// A 44.1 kHz stereo integer WAV of `seconds`, both channels `signal(t)` (clipped to full
/// scale as a converter would).
fn write_wav(path: &std::path::Path, bits: u16, seconds: f64, signal: impl Fn(f64) -> f64) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 44_100,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    };
    let full_scale = f64::from((1u32 << (bits - 1)) - 1);
    let mut writer = hound::WavWriter::create(path, spec).expect("fixture");
    for n in 0..(seconds * 44_100.0) as usize {
        let x = signal(n as f64 / 44_100.0).clamp(-1.0, 1.0);
        let sample = (x * full_scale) as i32;
        writer.write_sample(sample).expect("left");
        writer.write_sample(sample).expect("right");
    }
    writer.finalize().expect("fixture written");
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("crest-desk-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

#[test]
fn after_a_crash_the_next_desk_offers_the_autosave_and_restores_it() {
    let dir = scratch("crash");
    let storage = Storage::at(&dir);
    let output = || speakers();
    let mut first = ready_with(output(), Some(storage.clone()));
    apply(&mut first, [Message::Session(S::Target(Some(-16.0)))]);
    click(&mut first, "B");
    let messages = type_into(&first, Param::InputTrim, "-2");
    apply(&mut first, messages);
    // How it was heard comes back too.
    let _ = first.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::Listen(Listen::Mono),
    ))));
    let _ = first.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::Platform(Some("spotify".into())),
    ))));
    // The autosave waits a second after the last change.
    let autosave = first
        .context
        .lease
        .as_ref()
        .expect("a lease")
        .autosave_path();
    let _ = first.update(Message::Autosave);
    assert!(!autosave.exists(), "not yet");
    if let Screen::Session(session) = &mut first.screen {
        session.changed_since = Some(std::time::Instant::now() - std::time::Duration::from_secs(2));
    }
    let _ = first.update(Message::Autosave);
    assert!(autosave.exists());
    // The first desk never closes: a crash. The next one offers the autosave.
    drop(first);
    let mut second = ready_with(output(), Some(storage.clone()));
    let mut ui = window(&second);
    assert!(ui.find(starting("Crest did not close properly")).is_ok());
    drop(ui);
    click(&mut second, "Restore");
    assert!(second.context.restore_offers.is_empty());
    assert!(
        !autosave.exists(),
        "taken over by the second desk's own autosave"
    );
    let reloaded = load(None, &DecodeLimits::mastering(), &Job::default());
    let _ = second.update(Message::Opened(Arc::new(reloaded)));
    apply(&mut second, []);
    let s = session(&second);
    assert_eq!(s.settings.limiter.target_lufs, Some(-16.0));
    assert_eq!(s.settings.input.trim_db, -2.0);
    assert_eq!(s.snapshots.active(), 1, "snapshot B was in use");
    assert_eq!(s.monitor.choices.listen, Listen::Mono);
    assert_eq!(s.monitor.choices.platform.as_deref(), Some("spotify"));
    let master = s
        .master
        .as_ref()
        .expect("rendered")
        .loudness
        .integrated_lufs;
    assert!((master.expect("I") + 16.0).abs() < 0.2);
    // A clean close: nothing offered next time.
    let _ = second.update(Message::Quit);
    let third = ready_with(output(), Some(storage));
    assert!(third.context.restore_offers.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_saved_session_opens_with_its_chain_snapshots_and_export_choices() {
    let dir = scratch("session");
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    click(&mut desk, "C");
    let messages = type_into(&desk, Param::HighPassHz, "30");
    apply(&mut desk, messages);
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Preset(2, true))));
    let path = dir.join("demo");
    desk.save_session(&path);
    let saved = dir.join("demo.crest.json");
    assert!(saved.exists(), "saved with the session extension");
    assert_eq!(desk.context.session_path.as_deref(), Some(saved.as_path()));

    let mut other = ready();
    let _ = other.update(Message::Open(saved.clone()));
    let reloaded = load(None, &DecodeLimits::mastering(), &Job::default());
    let _ = other.update(Message::Opened(Arc::new(reloaded)));
    apply(&mut other, []);
    let s = session(&other);
    assert_eq!(s.settings.input.high_pass.map(|h| h.freq_hz), Some(30.0));
    assert_eq!(s.settings.limiter.target_lufs, Some(-14.0));
    assert_eq!(s.snapshots.active(), 2);
    assert_eq!(s.export.choices().presets, vec!["cd".to_owned()]);
    // A damaged session file says what is wrong and leaves the desk as it is.
    std::fs::write(&saved, "{\"version\": 1, \"chain\": 3}").expect("damaged");
    let _ = other.update(Message::Open(saved.clone()));
    let mut ui = window(&other);
    let why = format!("{} is not a Crest session", saved.display());
    assert!(ui.find(starting(why)).is_ok());
    drop(ui);
    assert_eq!(
        session(&other).settings.input.high_pass.map(|h| h.freq_hz),
        Some(30.0)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_drag_on_the_timeline_loops_that_region_and_playback_stays_in_it() {
    use crest_playback::manual::{ManualBackend, ManualDevice};
    use iced::mouse::{Button, Event as Mouse};
    let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
    let mut desk = ready_with(Output(Arc::clone(&device) as Arc<dyn Backend>), None);
    apply(&mut desk, []);
    let mut ui = window(&desk);
    let mouse = |e| iced::Event::Mouse(e);
    ui.point_at(iced::Point::new(200.0, 250.0));
    let _ = ui.simulate([mouse(Mouse::ButtonPressed(Button::Left))]);
    let to = iced::Point::new(300.0, 250.0);
    ui.point_at(to);
    let _ = ui.simulate([mouse(Mouse::CursorMoved { position: to })]);
    let _ = ui.simulate([mouse(Mouse::ButtonReleased(Button::Left))]);
    let messages: Vec<Message> = ui.into_messages().collect();
    let Some(Message::Session(S::Transport(T::SetLoop(Some((start, end)))))) =
        messages.last().cloned()
    else {
        panic!("a drag sets a loop: {messages:?}");
    };
    assert!(end - start > 2.0 && end - start < 5.0, "{start}..{end}");
    apply(&mut desk, messages);
    assert!(session(&desk).looping);
    click(&mut desk, "Play");
    // Twice the region's length: playback wraps and stays inside it.
    let frames = ((end - start) * 2.0 * 48_000.0) as usize;
    for n in 0..frames / 480 {
        let _ = device.pull(480);
        if n % 3 == 0 {
            let _ = desk.update(Message::Session(S::Listening(L::Tick)));
        }
    }
    let _ = desk.update(Message::Session(S::Listening(L::Tick)));
    let at = session(&desk).timeline.playhead_s.expect("playhead");
    assert!(
        at >= start - 0.02 && at <= end + 0.02,
        "{at} outside {start}..{end}"
    );
    // L stops looping; a right click too.
    let _ = desk.update(Message::Session(S::Transport(T::ToggleLoop)));
    assert!(!session(&desk).looping);
    let _ = desk.update(Message::Session(S::Transport(T::ToggleLoop)));
    assert!(session(&desk).looping, "L loops the last region again");
}

#[test]
fn a_clipped_mix_is_called_out_with_marks_where_it_clips() {
    let dir = scratch("clipped");
    let path = dir.join("clipped.wav");
    // A 100 Hz sine driven 6 dB into the rails between 2 s and 4 s.
    write_wav(&path, 16, 6.0, |t| {
        let gain = if (2.0..4.0).contains(&t) { 2.0 } else { 0.5 };
        gain * (std::f64::consts::TAU * 100.0 * t).sin()
    });
    let job = Job::default();
    let loaded = load(Some(path), &DecodeLimits::mastering(), &job).expect("loads");
    assert_eq!(job.progress(), 1.0, "the progress bar reached its end");
    let mut desk = ready();
    let _ = desk.update(Message::Opened(Arc::new(Ok(loaded))));
    apply(&mut desk, []);
    let s = session(&desk);
    let clipping = s
        .findings
        .iter()
        .find(|f| f.check == "clipping")
        .expect("clipping found");
    assert_eq!(clipping.severity, Severity::Problem);
    let marks: Vec<_> = s.timeline.markers.iter().map(|m| (m.0, m.1)).collect();
    assert!(
        marks.iter().any(|&(a, b)| a >= 1.9 && b <= 4.1),
        "marked where it clips: {marks:?}"
    );
    let mut ui = window(&desk);
    assert!(ui.find(starting("problem: ")).is_ok());
    assert!(ui.find(starting("Mastering cannot undo these")).is_ok());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_clock_reads_minutes_and_tenths() {
    assert_eq!(clock(0.0), "0:00.0");
    assert_eq!(clock(83.46), "1:23.5");
    assert_eq!(clock(-1.0), "0:00.0");
}

/// Reads a PNG as RGBA bytes and its size.
fn read_png(path: &std::path::Path) -> (Vec<u8>, u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a PNG");
    let mut bytes = vec![0; reader.output_buffer_size().expect("fits")];
    let info = reader.next_frame(&mut bytes).expect("a frame");
    bytes.truncate(info.buffer_size());
    (bytes, info.width, info.height)
}

/// Compares the window with the committed image `snapshots/{name}-tiny-skia.png`. A missing
/// image fails (set CREST_BLESS=1 to write it, then commit it); pixels may differ by a few
/// levels of anti-aliasing, but no more than 0.2 % of them by more than that.
fn assert_snapshot(ui: &mut Simulator<'_, Message>, name: &str) {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots");
    let committed = folder.join(format!("{name}-tiny-skia.png"));
    let snapshot = ui.snapshot(&iced::Theme::Dark).expect("a snapshot");
    if std::env::var_os("CREST_BLESS").is_some() {
        let _ = std::fs::remove_file(&committed);
        assert!(snapshot.matches_image(folder.join(name)).expect("written"));
        return;
    }
    assert!(
        committed.exists(),
        "no snapshot {}: run the test with CREST_BLESS=1 and commit the image",
        committed.display()
    );
    let scratch = scratch(&format!("snapshot-{name}"));
    assert!(snapshot.matches_image(scratch.join(name)).expect("written"));
    let (now, width, height) = read_png(&scratch.join(format!("{name}-tiny-skia.png")));
    let (then, w0, h0) = read_png(&committed);
    assert_eq!((width, height), (w0, h0), "{name}: the window changed size");
    let differing = now
        .chunks(4)
        .zip(then.chunks(4))
        .filter(|(a, b)| a.iter().zip(b.iter()).any(|(x, y)| x.abs_diff(*y) > 24))
        .count();
    let allowed = (width * height) as usize / 500;
    assert!(
        differing <= allowed,
        "{name}: {differing} pixels differ from {} (allowed {allowed}); if the change is \
         meant, run with CREST_BLESS=1 and commit the image",
        committed.display()
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn the_key_screens_look_as_committed() {
    // The desk on the demo with a −14 LUFS master and one EQ band.
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    click(&mut desk, "Add band");
    let messages = type_into(&desk, Param::EqGain(0), "1.5");
    apply(&mut desk, messages);
    let mut ui = window(&desk);
    assert_snapshot(&mut ui, "desk");
    drop(ui);
    // The export dialog with the streaming and CD presets chosen.
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Show(true))));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Folder(
        "/music/masters".into(),
    ))));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Preset(0, true))));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Preset(2, true))));
    let mut ui = window(&desk);
    assert_snapshot(&mut ui, "export");
    drop(ui);
    // The keys.
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Show(false))));
    let _ = desk.update(Message::Session(S::ShowHelp(true)));
    let mut ui = window(&desk);
    assert_snapshot(&mut ui, "keys");
}

#[test]
fn another_output_device_takes_over_at_the_playhead_and_is_remembered() {
    use crest_playback::manual::{ManualBackend, ManualDevice};
    let dir = scratch("device");
    let storage = Storage::at(&dir);
    let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
    let output = Output(Arc::clone(&device) as Arc<dyn Backend>);
    let mut desk = ready_with(output, Some(storage.clone()));
    apply(&mut desk, []);
    let _ = desk.update(Message::Session(S::Transport(T::Seek(10.0))));
    let _ = desk.update(Message::Session(S::Listening(L::Device(Some(
        "speakers".into(),
    )))));
    assert_eq!(
        session(&desk).output_choice.device.as_deref(),
        Some("speakers")
    );
    assert!(session(&desk).playback.is_ok());
    click(&mut desk, "Play");
    for _ in 0..10 {
        let _ = device.pull(480);
    }
    let _ = desk.update(Message::Session(S::Listening(L::Tick)));
    let at = session(&desk).timeline.playhead_s.expect("playhead");
    assert!((at - 10.1).abs() < 0.03, "{at}");
    let (preferences, _) = storage.preferences();
    assert_eq!(preferences.device.as_deref(), Some("speakers"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_timeline_shows_momentary_loudness_and_the_chosen_platforms_level() {
    let mut desk = ready();
    apply(&mut desk, []);
    let short_term = session(&desk).timeline.mix.len();
    click(&mut desk, "Momentary");
    let s = session(&desk);
    assert!(s.momentary);
    assert_eq!(s.timeline.mix.len(), s.mix.momentary_series().len());
    assert!(
        s.timeline.mix.len() > 5 * short_term,
        "10 ms steps, not 100 ms"
    );
    assert_eq!(
        s.timeline.master.len(),
        s.timeline.mix.len(),
        "the master follows"
    );
    let _ = desk.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::Platform(Some("apple-music".into())),
    ))));
    let platform = session(&desk).timeline.platform.clone();
    assert_eq!(
        platform,
        Some(("Apple Music (Sound Check)".to_owned(), -16.0))
    );
}

/// Integrated loudness of interleaved stereo pulled from the device.
fn pulled_lufs(samples: &[f32]) -> f64 {
    let left: Vec<f32> = samples.iter().step_by(2).copied().collect();
    let right: Vec<f32> = samples.iter().skip(1).step_by(2).copied().collect();
    let audio = crest_engine::AudioBuffer::new(48_000, vec![left, right]).expect("buffer");
    loudness::integrated_lufs(&audio).expect("loud enough")
}

#[test]
fn master_mix_reference_and_an_emulation_are_heard_at_matched_loudness() {
    use crest_playback::manual::{ManualBackend, ManualDevice};
    let dir = scratch("ab");
    let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
    let mut desk = ready_with(Output(Arc::clone(&device) as Arc<dyn Backend>), None);
    // A loud master: 4 dB above the mix.
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    click(&mut desk, "Play");
    // Two seconds of the demo's loud section through each source, after the switch's fade.
    let listen = |desk: &mut Desk| {
        let _ = desk.update(Message::Session(S::Transport(T::Seek(12.0))));
        let _ = device.pull(4_800);
        let heard = device.pull(96_000);
        let _ = desk.update(Message::Session(S::Listening(L::Tick)));
        pulled_lufs(&heard)
    };
    let master = listen(&mut desk);
    click(&mut desk, "Mix");
    let mix = listen(&mut desk);
    assert!(
        (master - mix).abs() < 0.5,
        "A/B matched: master {master}, mix {mix}"
    );
    // Without matching the mix would be 4 LU down: the switch really changed the source.
    let unmatched = session(&desk).mix.integrated_lufs.expect("mix I");
    assert!((unmatched + 18.0).abs() < 0.1);

    // A reference at another rate and level: converted, matched.
    let reference = dir.join("reference.wav");
    write_wav(&reference, 24, 8.0, |t| {
        0.1 * (std::f64::consts::TAU * 220.0 * t).sin()
    });
    let loaded =
        load_reference(reference, 48_000, &DecodeLimits::mastering()).expect("the reference loads");
    assert_eq!(loaded.audio.sample_rate(), 48_000);
    let _ = desk.update(Message::Session(S::Listening(L::ReferenceLoaded(
        Arc::new(Ok(loaded)),
    ))));
    click(&mut desk, "reference.wav");
    let heard = {
        let _ = device.pull(4_800);
        pulled_lufs(&device.pull(96_000))
    };
    assert!(
        (heard - master).abs() < 0.5,
        "reference {heard}, master {master}"
    );

    // Emulations are level-normalized on broadband programme: the flat reference system
    // plays the master at its loudness; a phone speaker loses the demo's bass-heavy low end
    // and with it most of the loudness, which is what the engineer needs to hear.
    click(&mut desk, "Master");
    let profiles = crest_engine::emulation::built_in_profiles().expect("profiles");
    let through = |desk: &mut Desk, id: &str| {
        let _ = desk.update(Message::Session(S::Listening(L::Monitor(
            MonitorMsg::Emulation(Some(id.into())),
        ))));
        let profile = profiles.iter().find(|p| p.id == id).expect("profile");
        let built = Emulation::new(profile, 48_000, MAX_BLOCK, 2).map_err(|e| e.to_string());
        let _ = desk.update(Message::Session(S::Listening(L::EmulationBuilt(
            id.into(),
            Arc::new(built),
        ))));
        listen(desk)
    };
    let flat = through(&mut desk, "reference");
    assert!(
        (flat - master).abs() < 0.5,
        "reference system {flat}, master {master}"
    );
    let on_phone = through(&mut desk, "phone");
    assert!(on_phone < master - 6.0, "phone {on_phone}, master {master}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_a_file_dialog_the_desk_points_to_drag_and_drop() {
    let mut desk = ready();
    let _ = desk.update(Message::OpenPicked(dialog::Picked::Unavailable));
    let mut ui = window(&desk);
    assert!(
        ui.find(starting("No file dialog is available here"))
            .is_ok()
    );
    assert!(dialog::UNAVAILABLE.contains("drop the file on the window"));
}

#[test]
fn the_export_folder_is_remembered_for_the_next_track() {
    let dir = scratch("export-folder");
    let storage = Storage::at(&dir.join("home"));
    let mut desk = ready_with(speakers(), Some(storage.clone()));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Folder(
        dir.display().to_string(),
    ))));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Start)));
    let (preferences, _) = storage.preferences();
    assert_eq!(
        preferences.last_export_folder.as_deref(),
        Some(dir.as_path())
    );
    let next = ready_with(speakers(), Some(storage));
    assert_eq!(session(&next).export.folder, dir.display().to_string());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn closing_during_an_export_cancels_it_and_leaves_no_files() {
    let dir = scratch("quit-export");
    let mut desk = ready();
    apply(&mut desk, []);
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Folder(
        dir.display().to_string(),
    ))));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Start)));
    let job = session(&desk).export.running.clone().expect("running");
    let _ = desk.update(Message::Quit);
    assert!(job.is_cancelled(), "the export is told to stop");
    assert!(desk.context.quitting, "the desk waits for it");
    run_export(&mut desk);
    assert!(session(&desk).export.running.is_none());
    let left: Vec<_> = std::fs::read_dir(&dir).expect("dir").flatten().collect();
    assert!(left.is_empty(), "nothing written: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_session_file_given_at_start_opens_as_a_session() {
    let dir = scratch("session-at-start");
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-15.0)))]);
    let _ = desk.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::Listen(Listen::Side),
    ))));
    desk.save_session(&dir.join("demo"));
    let saved = dir.join("demo.crest.json");

    // `crest demo.crest.json` (and `crest open demo.crest.json`): the session, not audio.
    let (mut started, _task) =
        Desk::with_context(Some(saved.clone()), Context::new(speakers(), None));
    assert!(
        matches!(started.screen, Screen::Loading { .. }),
        "the session's track is loading: {:?}",
        started.screen
    );
    let reloaded = load(None, &DecodeLimits::mastering(), &Job::default());
    let _ = started.update(Message::Loaded(Arc::new(reloaded)));
    apply(&mut started, []);
    let s = session(&started);
    assert_eq!(s.settings.limiter.target_lufs, Some(-15.0));
    assert_eq!(s.monitor.choices.listen, Listen::Side);
    assert_eq!(
        started.context.session_path.as_deref(),
        Some(saved.as_path())
    );

    // A damaged one says what is wrong instead of trying to decode it as audio.
    std::fs::write(&saved, "{\"version\": 1, \"chain\": 3}").expect("damaged");
    let (broken, _task) = Desk::with_context(Some(saved.clone()), Context::new(speakers(), None));
    match &broken.screen {
        Screen::Failed(why) => assert!(why.contains("is not a Crest session"), "{why}"),
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreadable_autosave_is_reported_on_the_desk_and_kept() {
    let dir = scratch("unreadable-autosave");
    let storage = Storage::at(&dir);
    std::fs::create_dir_all(storage.data_dir.join("desks")).expect("folder");
    // A desk that crashed mid-write on an older Crest: half a session, no lock.
    std::fs::write(
        storage.data_dir.join("desks").join("desk-1-1.crest.json"),
        "{\"version\": 1, \"source\": null, \"chain\": {\"ver",
    )
    .expect("autosave");
    let desk = ready_with(speakers(), Some(storage.clone()));
    assert!(desk.context.restore_offers.is_empty());
    let mut ui = window(&desk);
    assert!(
        ui.find(starting(
            "The autosave of a desk that did not close properly cannot be read"
        ))
        .is_ok()
    );
    drop(ui);
    let kept: Vec<_> = std::fs::read_dir(&storage.data_dir)
        .expect("data")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("unreadable-autosave-")
        })
        .collect();
    assert_eq!(kept.len(), 1, "kept aside, not dropped");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_desk_refuses_what_it_cannot_master_in_the_command_lines_words() {
    let dir = scratch("limits");
    // A 108-byte WAV at 1 Hz, and a 3-channel one at 48 kHz.
    let wav = |name: &str, rate: u32, channels: u16, frames: u32| {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let path = dir.join(name);
        let mut w = hound::WavWriter::create(&path, spec).expect("create");
        for _ in 0..frames * u32::from(channels) {
            w.write_sample(0i16).expect("write");
        }
        w.finalize().expect("finalize");
        path
    };
    let one_hz = wav("one-hz.wav", 1, 2, 16);
    let three = wav("three.wav", 48_000, 3, 4_800);
    let limits = DecodeLimits::mastering();
    let refused = load(Some(one_hz), &limits, &Job::default()).expect_err("refused");
    assert!(
        refused.ends_with("a sample rate of 1 Hz is outside what Crest works with (8 to 768 kHz)"),
        "{refused}"
    );
    let refused = load(Some(three.clone()), &limits, &Job::default()).expect_err("refused");
    assert!(
        refused.contains("3 channels: Crest masters and plays mono and stereo"),
        "{refused}"
    );
    // The reference slot follows the same rule.
    let refused = load_reference(three, 48_000, &limits).expect_err("refused");
    assert!(refused.contains("3 channels"), "{refused}");
    let _ = std::fs::remove_dir_all(&dir);
}
