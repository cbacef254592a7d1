//! Without a file dialog, each place that asks for a file asks for a typed path instead, and
//! its answer goes where the dialog's would have.

use super::super::super::path_entry::{self, input_id};
use super::*;
use crate::gui::dialog::Picked;

/// The open file being asked for by typing, on the desk or on the session screen.
fn asking(desk: &Desk) -> bool {
    desk.typing.is_some() || session(desk).typing.is_some()
}

/// What the desk shows of `path`: the name a track opening is called by.
fn shown(path: &std::path::Path) -> String {
    path.display().to_string()
}

/// A typed-path message, for the desk's own entry or the session screen's.
fn on_desk(message: path_entry::Message) -> Message {
    Message::TypedPath(message)
}

fn on_session(message: path_entry::Message) -> Message {
    Message::Session(S::TypedPath(message))
}

/// Types `path` over what the field holds, and presses OK.
fn type_and_ok(desk: &mut Desk, to: fn(path_entry::Message) -> Message, path: &std::path::Path) {
    let _ = desk.update(to(path_entry::Message::Typed(shown(path))));
    click(desk, "OK");
}

#[test]
fn without_a_file_dialog_open_takes_a_typed_path_and_opens_it_as_the_dialog_would() {
    let dir = scratch("typed-open");
    let wav = dir.join("typed take.wav");
    write_wav(&wav, 16, 2.0, |t| {
        0.3 * (std::f64::consts::TAU * 220.0 * t).sin()
    });
    let mut desk = ready();
    apply(&mut desk, []);
    desk.context.preferences.last_open_folder = Some(dir.to_path_buf());
    let _ = desk.update(Message::OpenPicked(Picked::Unavailable));
    assert!(
        desk.typing.is_some(),
        "the typed path stands in for the dialog"
    );
    let mut ui = window(&desk);
    assert!(ui.find("Open a track or a session").is_ok());
    assert!(ui.find(dialog::UNAVAILABLE_OR_DROP).is_ok());
    assert!(
        ui.find("typed take.wav").is_ok(),
        "the folder's audio is listed"
    );
    // Typed as a user would, after the folder the field starts with; Tab completes.
    ui.click(iced_test::selector::id(input_id()))
        .expect("the field is on screen");
    let _ = ui.tap_key(iced::keyboard::key::Named::End);
    let _ = ui.typewrite("ty");
    let messages: Vec<Message> = ui.into_messages().collect();
    apply(&mut desk, messages);
    let _ = desk.update(on_desk(path_entry::Message::Complete));
    click(&mut desk, "OK");
    assert!(desk.typing.is_none(), "closed on OK");
    let opening = |desk: &Desk| session(desk).opening.as_ref().map(|(name, _)| name.clone());
    assert_eq!(opening(&desk), Some(shown(&wav)), "opening the typed file");
    // The dialog's answer does exactly the same.
    let mut by_dialog = ready();
    let _ = by_dialog.update(Message::OpenPicked(Picked::Path(wav.clone())));
    assert_eq!(opening(&by_dialog), opening(&desk));
    // The load the task runs, delivered: the typed file is the track now.
    let loaded = load(
        Some(wav.clone()),
        &DecodeLimits::mastering(),
        &Job::default(),
    );
    let _ = desk.update(Message::Opened(Arc::new(loaded)));
    assert_eq!(session(&desk).source.as_deref(), Some(wav.as_path()));
    assert_eq!(session(&desk).name, "typed take.wav");
    assert_eq!(desk.context.preferences.recent.first(), Some(&wav));
}

#[test]
fn cancel_or_escape_closes_the_typed_path_with_nothing_changed() {
    let dir = scratch("typed-cancel");
    write_wav(&dir.join("other.wav"), 16, 1.0, |_| 0.0);
    let mut desk = ready();
    apply(&mut desk, []);
    let before = (session(&desk).name.clone(), session(&desk).settings.clone());
    for close in ["button", "escape"] {
        let _ = desk.update(Message::OpenPicked(Picked::Unavailable));
        let _ = desk.update(on_desk(path_entry::Message::Typed(shown(
            &dir.join("other.wav"),
        ))));
        match close {
            "button" => click(&mut desk, "Cancel"),
            // What Escape sends (see the path entry's keys).
            _ => {
                let _ = desk.update(on_desk(path_entry::Message::Cancel));
            }
        }
        assert!(desk.typing.is_none(), "{close} closes it");
        assert!(session(&desk).opening.is_none(), "{close}: nothing opens");
        assert_eq!(
            (session(&desk).name.clone(), session(&desk).settings.clone()),
            before
        );
        let mut ui = window(&desk);
        assert!(ui.find("Open a track or a session").is_err());
    }
}

#[test]
fn a_typed_file_that_does_not_exist_is_said_under_the_field() {
    let dir = scratch("typed-missing");
    let mut desk = ready();
    apply(&mut desk, []);
    let _ = desk.update(Message::OpenPicked(Picked::Unavailable));
    let missing = dir.join("missing.wav");
    type_and_ok(&mut desk, on_desk, &missing);
    assert!(desk.typing.is_some(), "still asking");
    assert!(session(&desk).opening.is_none());
    let mut ui = window(&desk);
    assert!(
        ui.find(format!("{} does not exist", missing.display()))
            .is_ok()
    );
}

#[test]
fn ctrl_l_asks_for_a_typed_path_to_open() {
    let ctrl_l = iced::keyboard::Event::KeyPressed {
        key: iced::keyboard::Key::Character("l".into()),
        modified_key: iced::keyboard::Key::Character("l".into()),
        physical_key: iced::keyboard::key::Physical::Code(iced::keyboard::key::Code::KeyL),
        location: iced::keyboard::Location::Standard,
        modifiers: iced::keyboard::Modifiers::CTRL,
        text: None,
        repeat: false,
    };
    let message = shortcut(ctrl_l).expect("a shortcut");
    assert!(matches!(message, S::Request(Event::TypePath)));
    let mut desk = ready();
    let _ = desk.update(Message::Session(message));
    assert!(desk.typing.is_some());
    let mut ui = window(&desk);
    assert!(ui.find("Open a track or a session").is_ok());
    assert!(
        ui.find(starting("No file dialog")).is_err(),
        "asked for, not a fallback"
    );
}

#[test]
fn presets_sessions_references_and_exports_take_typed_paths_too() {
    let dir = scratch("typed-elsewhere");
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-16.0)))]);
    // A chain preset saved where typed, then loaded back over another target.
    let preset = dir.join("loud.json");
    let _ = desk.update(Message::Session(S::PresetToSave(Picked::Unavailable)));
    let mut ui = window(&desk);
    assert!(ui.find("Save the chain as a preset").is_ok());
    drop(ui);
    type_and_ok(&mut desk, on_session, &preset);
    assert!(!asking(&desk));
    assert!(preset.exists(), "written where typed");
    apply(&mut desk, [Message::Session(S::Target(Some(-10.0)))]);
    let _ = desk.update(Message::Session(S::PresetToLoad(Picked::Unavailable)));
    assert!(window(&desk).find("Load a chain preset").is_ok());
    type_and_ok(&mut desk, on_session, &preset);
    assert_eq!(session(&desk).settings.limiter.target_lufs, Some(-16.0));
    // The session saved under a typed name.
    let saved = dir.join("typed.crest.json");
    let _ = desk.update(Message::SessionPicked(Picked::Unavailable));
    assert!(window(&desk).find("Save the session as").is_ok());
    type_and_ok(&mut desk, on_desk, &saved);
    assert!(saved.exists());
    assert_eq!(desk.context.session_path.as_deref(), Some(saved.as_path()));
    // A reference from a typed path.
    let reference = dir.join("reference.wav");
    write_wav(&reference, 16, 1.0, |t| {
        0.2 * (std::f64::consts::TAU * 100.0 * t).sin()
    });
    let _ = desk.update(Message::Session(S::Listening(L::ReferencePicked(
        Picked::Unavailable,
    ))));
    assert!(window(&desk).find("Choose a reference track").is_ok());
    type_and_ok(&mut desk, on_session, &reference);
    assert_eq!(
        session(&desk).reference_path.as_deref(),
        Some(reference.as_path())
    );
    // The export's destination: the dialog stays, with the typed folder and name.
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Show(true))));
    let _ = desk.update(Message::Session(S::Export(ExportMsg::Browsed(
        Picked::Unavailable,
    ))));
    assert!(window(&desk).find("Export the master to").is_ok());
    type_and_ok(&mut desk, on_session, &dir.join("album master.wav"));
    let export = &session(&desk).export;
    assert!(export.shown);
    assert_eq!(
        (export.folder.as_str(), export.name.as_str()),
        (shown(&dir).as_str(), "album master")
    );
}

#[test]
fn at_most_eight_entries_are_listed_under_the_field() {
    let dir = scratch("typed-many");
    for n in 0..12 {
        std::fs::write(dir.join(format!("take {n:02}.wav")), b"").expect("a file");
    }
    let mut desk = ready();
    desk.context.preferences.last_open_folder = Some(dir.to_path_buf());
    let _ = desk.update(Message::OpenPicked(Picked::Unavailable));
    let mut ui = window(&desk);
    assert!(ui.find("take 07.wav").is_ok());
    assert!(ui.find("take 08.wav").is_err(), "the ninth is not listed");
    assert!(ui.find("and 4 more: type more of the name").is_ok());
    drop(ui);
    let _ = desk.update(on_desk(path_entry::Message::Typed(format!(
        "{}/take 1",
        dir.display()
    ))));
    let mut ui = window(&desk);
    assert!(ui.find("take 11.wav").is_ok(), "narrowed by the typed name");
}
