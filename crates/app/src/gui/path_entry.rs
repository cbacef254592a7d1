//! A path typed by hand, standing in for a file dialog where none can open (no desktop
//! portal, no zenity) or when the engineer would rather type (Ctrl+L opens a file this way).
//!
//! It asks what the dialog would have asked (a [`dialog::Ask`](super::dialog::Ask)): the field starts in the
//! dialog's folder or on its suggested file, Tab completes against the folder's entries, and
//! the entries that fit the ask are listed under the field to click. Its answer is what the
//! dialog's would have been ([`Event`] into [`Picked`]), so the owner sends it through the
//! message the dialog's answer goes to: nothing after the choice is done twice.

use std::path::{Path, PathBuf};

use iced::widget::{Column, button, column, container, row, text, text_input};
use iced::{Element, Length, Subscription, Task, keyboard};

use super::dialog::{Ask, Goal, Picked};
use super::style;
use folder::{Folder, Found, READ_AT_MOST, common_prefix, expand};

mod folder;

/// Entries listed under the field; Tab still completes against all of them.
const LISTED: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    Typed(String),
    /// Tab: complete the typed name as far as the folder's entries agree.
    Complete,
    /// An entry under the field was clicked: this text goes in the field.
    Fill(String),
    /// Enter or OK.
    Submit,
    /// Escape or Cancel.
    Cancel,
}

/// What the owner must do: take the path (as from the dialog) or close the entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Chosen(PathBuf),
    Cancelled,
}

impl From<Event> for Picked {
    fn from(event: Event) -> Self {
        match event {
            Event::Chosen(path) => Picked::Path(path),
            Event::Cancelled => Picked::Cancelled,
        }
    }
}

/// A path entry open for an ask, and the message its answer goes to: the one the file
/// dialog's answer goes to.
#[derive(Debug)]
pub struct Typing<M> {
    pub entry: PathEntry,
    pub then: fn(Picked) -> M,
}

#[derive(Debug)]
pub struct PathEntry {
    ask: Ask,
    /// Why there is no dialog, when that is the reason.
    note: Option<&'static str>,
    typed: String,
    home: Option<PathBuf>,
    folder: Folder,
    error: Option<String>,
    /// An existing file a save would replace, once named: a second OK on it replaces it.
    replacing: Option<PathBuf>,
}

impl PathEntry {
    /// Asks `ask` by typing, starting in its folder or on its suggested file; `note` says why
    /// there is no dialog.
    pub fn new(ask: Ask, note: Option<&'static str>) -> Self {
        Self::with_home(ask, note, std::env::home_dir())
    }

    fn with_home(ask: Ask, note: Option<&'static str>, home: Option<PathBuf>) -> Self {
        let typed = match &ask.goal {
            Goal::Open { folder } => {
                let folder = folder.display().to_string();
                if folder.ends_with('/') {
                    folder
                } else {
                    format!("{folder}/")
                }
            }
            Goal::Save { suggested } => suggested.display().to_string(),
        };
        let mut entry = Self {
            ask,
            note,
            typed,
            home,
            folder: Folder::default(),
            error: None,
            replacing: None,
        };
        entry.read_folder();
        entry
    }

    /// The field takes the keys, with the cursor after the prefilled path.
    pub fn focus<M: Send + 'static>() -> Task<M> {
        iced::widget::operation::focus(input_id())
            .chain(iced::widget::operation::move_cursor_to_end(input_id()))
    }

    /// Escape and Tab, which the field does not turn into messages, and Enter outside it.
    pub fn subscription() -> Subscription<Message> {
        iced::event::listen_with(key)
    }

    pub fn update(&mut self, message: Message) -> Option<Event> {
        match message {
            Message::Typed(typed) | Message::Fill(typed) => self.set(typed),
            Message::Complete => self.complete(),
            Message::Submit => return self.submit().map(Event::Chosen),
            Message::Cancel => return Some(Event::Cancelled),
        }
        None
    }

    fn set(&mut self, typed: String) {
        self.typed = typed;
        self.error = None;
        self.replacing = None;
        self.read_folder();
    }

    /// The typed text split after its last `/`: the folder's part and the name being typed.
    fn split(&self) -> (&str, &str) {
        match self.typed.rfind('/') {
            Some(slash) => self.typed.split_at(slash + 1),
            None => ("", self.typed.as_str()),
        }
    }

    /// Reads the folder being typed in, if it is not the one already read.
    fn read_folder(&mut self) {
        let (folder, _) = self.split();
        let path = match folder {
            "" => PathBuf::from("."),
            folder => expand(folder, self.home.as_deref()),
        };
        if path != self.folder.path || self.folder.entries.is_empty() {
            self.folder = Folder::read(path, &self.ask.extensions);
        }
    }

    /// The folder's entries that fit the ask and start with the name being typed (hidden
    /// ones only once a `.` is typed).
    fn matching(&self) -> impl Iterator<Item = &Found> {
        let (_, name) = self.split();
        self.folder
            .entries
            .iter()
            .filter(move |found| found.name.starts_with(name))
            .filter(move |found| name.starts_with('.') || !found.name.starts_with('.'))
    }

    /// The field's text for an entry: folders end in `/`, so the next Tab goes inside.
    fn filled(&self, found: &Found) -> String {
        let (folder, _) = self.split();
        let slash = if found.is_folder { "/" } else { "" };
        format!("{folder}{}{slash}", found.name)
    }

    /// Completes the typed name: all of it when one entry fits, else as far as they agree.
    fn complete(&mut self) {
        if self.typed == "~" {
            return self.set("~/".to_owned());
        }
        let matching: Vec<&Found> = self.matching().collect();
        let completed = match matching.as_slice() {
            [] => return,
            [only] => self.filled(only),
            [first, rest @ ..] => {
                let shared = rest.iter().fold(first.name.as_str(), |shared, found| {
                    common_prefix(shared, &found.name)
                });
                format!("{}{shared}", self.split().0)
            }
        };
        if completed.len() > self.typed.len() {
            self.set(completed);
        }
    }

    /// The path the entry answers with, or why not (said under the field).
    fn submit(&mut self) -> Option<PathBuf> {
        let typed = self.typed.trim();
        if typed.is_empty() {
            self.error = Some("Type a path first".to_owned());
            return None;
        }
        let path = expand(typed, self.home.as_deref());
        // Whole (from the working folder) and tidy: no `.`, doubled or trailing slashes.
        let path: PathBuf = std::path::absolute(&path)
            .unwrap_or(path)
            .components()
            .collect();
        let folder = path.parent().unwrap_or(Path::new("/"));
        let saving = matches!(self.ask.goal, Goal::Save { .. });
        let problem = if path.is_dir() {
            Some(format!("{} is a folder, not a file", path.display()))
        } else if typed.ends_with('/') {
            Some(format!("The folder {} does not exist", path.display()))
        } else if !folder.is_dir() {
            Some(format!("The folder {} does not exist", folder.display()))
        } else if !saving && !path.exists() {
            Some(format!("{} does not exist", path.display()))
        } else if saving && path.exists() && self.replacing.as_ref() != Some(&path) {
            self.replacing = Some(path.clone());
            Some(format!(
                "{} already exists: OK again replaces it",
                path.display()
            ))
        } else {
            None
        };
        self.error = problem;
        self.error.is_none().then_some(path)
    }

    pub fn view(&self) -> Element<'_, Message> {
        let mut page: Column<'_, Message> = column![text(self.ask.title).size(18)].spacing(8);
        if let Some(note) = self.note {
            page = page.push(text(note).size(13).color(style::MUTED));
        }
        page = page.push(
            text_input("a path, e.g. ~/Music/mix.wav", &self.typed)
                .id(input_id())
                .on_input(Message::Typed)
                .on_submit(Message::Submit)
                .size(14),
        );
        if let Some(error) = &self.error {
            page = page.push(text(error.clone()).size(13).color(style::WARNING));
        }
        if let Some(unreadable) = &self.folder.unreadable {
            page = page.push(text(unreadable.clone()).size(13).color(style::MUTED));
        }
        let matching: Vec<&Found> = self.matching().collect();
        for found in matching.iter().take(LISTED) {
            let slash = if found.is_folder { "/" } else { "" };
            page = page.push(
                button(text(format!("{}{slash}", found.name)).size(13))
                    .padding([1, 6])
                    .style(button::text)
                    .on_press(Message::Fill(self.filled(found))),
            );
        }
        let more = matching.len().saturating_sub(LISTED);
        if more > 0 || self.folder.cut_short {
            let also = if self.folder.cut_short {
                format!(" (only the first {READ_AT_MOST} entries of this folder are read)")
            } else {
                String::new()
            };
            page = page.push(
                text(format!("and {more} more: type more of the name{also}"))
                    .size(12)
                    .color(style::MUTED),
            );
        }
        page = page.push(
            row![
                text("Tab completes · Enter: OK · Esc: cancel")
                    .size(12)
                    .color(style::MUTED)
                    .width(Length::Fill),
                button("Cancel")
                    .style(button::secondary)
                    .on_press(Message::Cancel),
                button("OK").on_press(Message::Submit),
            ]
            .spacing(8)
            .align_y(iced::Alignment::Center),
        );
        container(page)
            .padding(24)
            .width(Length::Fixed(600.0))
            .style(container::bordered_box)
            .into()
    }
}

/// The field's id, to give it the keys as the entry opens.
pub fn input_id() -> iced::widget::Id {
    "typed path".into()
}

/// Escape cancels and Tab completes wherever the keys are (the field takes Escape to let go
/// of the keys, and ignores Tab); Enter outside the field is OK (inside, the field sends it).
fn key(event: iced::Event, status: iced::event::Status, _: iced::window::Id) -> Option<Message> {
    use keyboard::key::{Key, Named};
    let iced::Event::Keyboard(keyboard::Event::KeyPressed { key, .. }) = event else {
        return None;
    };
    match key {
        Key::Named(Named::Escape) => Some(Message::Cancel),
        Key::Named(Named::Tab) => Some(Message::Complete),
        Key::Named(Named::Enter) if status == iced::event::Status::Ignored => Some(Message::Submit),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
