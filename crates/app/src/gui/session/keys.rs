//! The keyboard: shortcuts, and the help overlay that lists them. Keys typed into a text
//! field are not shortcuts (the listener only sees keys no widget took).

use iced::widget::{button, column, container, row, text};
use iced::{Element, Length, keyboard};

use super::super::export_dialog::ExportMsg;
use super::super::style;
use super::{Event, Message, listening, transport};

/// The keyboard shortcuts, as listed in the help overlay.
pub const SHORTCUTS: [(&str, &str); 21] = [
    ("Space", "play / pause"),
    (
        "Drag on the timeline",
        "loop that region (right click: stop looping)",
    ),
    ("L", "loop the last region again / stop looping"),
    ("Home / End", "start / end of the track"),
    ("← / →", "back / forward 5 seconds (Shift: 1 second)"),
    ("B", "A/B: master or the mix at matched loudness"),
    ("R", "the reference track (first press: choose one)"),
    ("M", "mono / stereo"),
    (
        "Ctrl+O",
        "open a track or a session (or drop it on the window)",
    ),
    ("Ctrl+L", "type the path of a track or a session to open"),
    ("Ctrl+S", "save the session"),
    ("Ctrl+Shift+S", "save the session as…"),
    ("1 – 4", "recall snapshot A – D"),
    ("Ctrl+Z", "undo"),
    ("Ctrl+Shift+Z, Ctrl+Y", "redo"),
    ("Ctrl+E", "export: the desk's master and delivery presets"),
    (
        "Drag an EQ handle",
        "its band's frequency and gain (wheel over it: Q)",
    ),
    ("Shift + drag", "fine adjustment of a slider"),
    (
        "Ctrl + click, double-click name",
        "a control back to its default",
    ),
    ("F1, ?", "this help"),
    ("Esc", "close this help or the export dialog"),
];

/// The message a key press stands for, if any.
pub fn shortcut(event: keyboard::Event) -> Option<Message> {
    use keyboard::key::{Key, Named};
    use transport::Message as T;
    let keyboard::Event::KeyPressed { key, modifiers, .. } = event else {
        return None;
    };
    let command = modifiers.command();
    let fine = modifiers.shift();
    match key.as_ref() {
        Key::Named(Named::Space) => Some(T::TogglePlay.into()),
        Key::Named(Named::Home) => Some(T::Seek(0.0).into()),
        Key::Named(Named::End) => Some(T::SeekEnd.into()),
        Key::Named(Named::ArrowLeft) => Some(T::Nudge(if fine { -1.0 } else { -5.0 }).into()),
        Key::Named(Named::ArrowRight) => Some(T::Nudge(if fine { 1.0 } else { 5.0 }).into()),
        Key::Named(Named::F1) => Some(Message::ShowHelp(true)),
        Key::Named(Named::Escape) => Some(Message::CloseOverlay),
        Key::Character(c) => match (c.to_lowercase().as_str(), command, modifiers.shift()) {
            ("z", true, false) => Some(T::Undo.into()),
            ("z", true, true) | ("y", true, _) => Some(T::Redo.into()),
            ("e", true, _) => Some(Message::Export(ExportMsg::Show(true))),
            ("b", false, _) => Some(listening::Message::ToggleAb.into()),
            ("r", false, _) => Some(listening::Message::ToggleReference.into()),
            ("l", false, _) => Some(T::ToggleLoop.into()),
            ("m", false, _) => Some(listening::Message::ToggleMono.into()),
            ("o", true, _) => Some(Message::Request(Event::OpenDialog)),
            ("l", true, _) => Some(Message::Request(Event::TypePath)),
            ("s", true, shift) => Some(Message::Request(Event::SaveSession { choose: shift })),
            ("?", false, _) => Some(Message::ShowHelp(true)),
            (digit @ ("1" | "2" | "3" | "4"), false, _) => digit
                .parse::<usize>()
                .ok()
                .map(|n| T::Snapshot(n - 1).into()),
            _ => None,
        },
        _ => None,
    }
}

/// The help overlay: every key and what it does.
pub fn help<'a>() -> Element<'a, Message> {
    let keys = SHORTCUTS.iter().fold(
        column![text("Keys").size(20)].spacing(6),
        |c, (key, what)| {
            c.push(
                row![
                    text(*key).width(Length::Fixed(240.0)).color(style::MASTER),
                    text(*what)
                ]
                .spacing(12),
            )
        },
    );
    container(column![keys, button("Close").on_press(Message::ShowHelp(false))].spacing(16))
        .padding(24)
        .style(container::bordered_box)
        .into()
}
