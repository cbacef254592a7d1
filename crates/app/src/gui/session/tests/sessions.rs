//! Sessions: saving, opening, autosave and restoring after a crash.

use super::*;

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
    // Success is news, not a warning (shown in the plain colour, not the warning red).
    assert!(
        matches!(&session(&desk).notice, Some(Notice::News(line)) if line.starts_with("Session saved to")),
        "{:?}",
        session(&desk).notice
    );

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
}

#[test]
fn a_session_file_given_at_start_opens_as_a_session() {
    let dir = scratch("session-at-start");
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-15.0)))]);
    let _ = desk.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::Listen(Listen::Side),
    ))));
    // A playback system at its own level.
    let _ = desk.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::Emulation(Some("phone".into())),
    ))));
    let _ = desk.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::Level(crest_engine::emulation::LevelMode::Device),
    ))));
    // How the plots were viewed is kept too.
    let _ = desk.update(Message::Session(S::Momentary(true)));
    let _ = desk.update(Message::Session(S::SpectrumView {
        smoothing: 3.0,
        slope: 4.5,
    }));
    let _ = desk.update(Message::Session(S::Plot(Plot::Stereo)));
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
    assert_eq!(s.monitor.choices.emulation.as_deref(), Some("phone"));
    assert_eq!(
        s.monitor.choices.level,
        crest_engine::emulation::LevelMode::Device
    );
    assert!(s.momentary);
    assert_eq!((s.spectrum.smoothing, s.spectrum.slope), (3.0, 4.5));
    assert_eq!(s.plot, Plot::Stereo);
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
}
