//! The typed path against folders made by each test: completion, what is listed, `~`, and
//! the words under the field when a path will not do.

use super::*;
use crate::gui::dialog;

/// A folder holding these files (empty) and sub-folders.
fn folder_with(files: &[&str], folders: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary folder");
    for file in files {
        std::fs::write(dir.path().join(file), b"").expect("a file");
    }
    for folder in folders {
        std::fs::create_dir(dir.path().join(folder)).expect("a folder");
    }
    dir
}

/// Asking for audio to open, in `folder`, with `home` as the home folder.
fn open_audio(folder: &Path, home: &Path) -> PathEntry {
    let ask = Ask::open(
        "Choose a reference track",
        "Audio",
        dialog::audio(),
        folder.into(),
    );
    PathEntry::with_home(ask, None, Some(home.to_path_buf()))
}

fn typed(entry: &mut PathEntry, text: String) {
    assert_eq!(entry.update(Message::Typed(text)), None);
}

fn listed(entry: &PathEntry) -> Vec<String> {
    entry.matching().map(|f| entry.filled(f)).collect()
}

#[test]
fn tab_completes_as_far_as_the_matching_names_agree() {
    let dir = folder_with(&["mix-final.wav", "mix-first.flac", "notes.txt"], &[]);
    let at = dir.path().display().to_string();
    let mut entry = open_audio(dir.path(), dir.path());
    assert_eq!(entry.typed, format!("{at}/"), "starts in the asked folder");
    typed(&mut entry, format!("{at}/m"));
    entry.update(Message::Complete);
    assert_eq!(entry.typed, format!("{at}/mix-fi"));
    // Nothing more they agree on: Tab leaves it.
    entry.update(Message::Complete);
    assert_eq!(entry.typed, format!("{at}/mix-fi"));
    typed(&mut entry, format!("{at}/mix-fin"));
    entry.update(Message::Complete);
    assert_eq!(entry.typed, format!("{at}/mix-final.wav"));
    assert_eq!(
        entry.update(Message::Submit),
        Some(Event::Chosen(dir.path().join("mix-final.wav")))
    );
}

#[test]
fn a_folder_completes_with_a_slash_and_lists_what_is_inside() {
    let dir = folder_with(&["masters.txt"], &["masters"]);
    std::fs::write(dir.path().join("masters").join("take 2.wav"), b"").expect("a file");
    let at = dir.path().display().to_string();
    let mut entry = open_audio(dir.path(), dir.path());
    typed(&mut entry, format!("{at}/mas"));
    entry.update(Message::Complete);
    assert_eq!(entry.typed, format!("{at}/masters/"));
    assert_eq!(listed(&entry), [format!("{at}/masters/take 2.wav")]);
    // A clicked entry fills the field the same way.
    entry.update(Message::Fill(format!("{at}/masters/take 2.wav")));
    assert_eq!(entry.typed, format!("{at}/masters/take 2.wav"));
}

#[test]
fn only_folders_and_the_files_asked_for_are_listed_and_completed() {
    let dir = folder_with(
        &[
            "chain.json",
            "calm.wav",
            "LOUD.WAV",
            "notes.txt",
            ".hidden.wav",
        ],
        &["presets"],
    );
    let at = dir.path().display().to_string();
    let audio = open_audio(dir.path(), dir.path());
    assert_eq!(
        listed(&audio),
        [
            format!("{at}/presets/"),
            format!("{at}/LOUD.WAV"),
            format!("{at}/calm.wav")
        ]
    );
    let presets = PathEntry::with_home(
        Ask::open(
            "Load a chain preset",
            "Chain presets",
            vec!["json"],
            dir.path().into(),
        ),
        None,
        None,
    );
    assert_eq!(
        listed(&presets),
        [format!("{at}/presets/"), format!("{at}/chain.json")]
    );
    // `c` fits chain.json and calm.wav, but only one of them is audio.
    let mut audio = audio;
    typed(&mut audio, format!("{at}/c"));
    audio.update(Message::Complete);
    assert_eq!(audio.typed, format!("{at}/calm.wav"));
    // Hidden entries once a dot is typed.
    typed(&mut audio, format!("{at}/."));
    assert_eq!(listed(&audio), [format!("{at}/.hidden.wav")]);
}

#[test]
fn a_tilde_stands_for_the_home_folder() {
    let home = folder_with(&[], &["Music"]);
    std::fs::write(home.path().join("Music").join("song.wav"), b"").expect("a file");
    let elsewhere = folder_with(&[], &[]);
    let mut entry = open_audio(elsewhere.path(), home.path());
    typed(&mut entry, "~".to_owned());
    entry.update(Message::Complete);
    assert_eq!(entry.typed, "~/");
    typed(&mut entry, "~/Mu".to_owned());
    entry.update(Message::Complete);
    assert_eq!(entry.typed, "~/Music/");
    entry.update(Message::Complete);
    assert_eq!(entry.typed, "~/Music/song.wav");
    assert_eq!(
        entry.update(Message::Submit),
        Some(Event::Chosen(home.path().join("Music").join("song.wav")))
    );
    assert_eq!(expand("~", Some(home.path())), home.path());
    assert_eq!(
        expand("~someone/x", Some(home.path())),
        Path::new("~someone/x")
    );
    assert_eq!(expand("~/x", None), Path::new("~/x"), "no home: as typed");
}

#[test]
fn a_path_that_will_not_do_is_said_in_plain_words() {
    let dir = folder_with(&["mix.wav"], &["sub"]);
    let at = dir.path().display().to_string();
    let mut entry = open_audio(dir.path(), dir.path());
    let refused = |entry: &mut PathEntry, text: String| {
        typed(entry, text);
        assert_eq!(entry.update(Message::Submit), None, "not taken");
        entry.error.clone().expect("a reason")
    };
    assert_eq!(
        refused(&mut entry, format!("{at}/missing.wav")),
        format!("{at}/missing.wav does not exist")
    );
    assert_eq!(
        refused(&mut entry, format!("{at}/nowhere/mix.wav")),
        format!("The folder {at}/nowhere does not exist")
    );
    assert_eq!(
        refused(&mut entry, format!("{at}/sub")),
        format!("{at}/sub is a folder, not a file")
    );
    assert_eq!(
        refused(&mut entry, format!("{at}/nowhere/")),
        format!("The folder {at}/nowhere does not exist")
    );
    assert_eq!(refused(&mut entry, "  ".to_owned()), "Type a path first");
    // Typing again clears the reason.
    typed(&mut entry, format!("{at}/mix.wav"));
    assert_eq!(entry.error, None);
    // Saving: the folder must exist, the file need not; an existing one takes a second OK.
    let ask = Ask::save(
        "Save the chain as a preset",
        "Chain presets",
        vec!["json"],
        dir.path().join("chain.json"),
    );
    let mut save = PathEntry::with_home(ask, None, None);
    assert_eq!(save.typed, format!("{at}/chain.json"), "the suggested file");
    assert_eq!(
        refused(&mut save, format!("{at}/gone/chain.json")),
        format!("The folder {at}/gone does not exist")
    );
    typed(&mut save, format!("{at}//./new.json"));
    assert_eq!(
        save.update(Message::Submit),
        Some(Event::Chosen(dir.path().join("new.json")))
    );
    assert_eq!(
        refused(&mut save, format!("{at}/mix.wav")),
        format!("{at}/mix.wav already exists: OK again replaces it")
    );
    assert_eq!(
        save.update(Message::Submit),
        Some(Event::Chosen(dir.path().join("mix.wav")))
    );
    assert_eq!(save.update(Message::Cancel), Some(Event::Cancelled));
}

#[test]
fn a_huge_folder_is_read_only_in_part() {
    let dir = folder_with(&[], &[]);
    for n in 0..READ_AT_MOST + 50 {
        std::fs::write(dir.path().join(format!("{n:05}.wav")), b"").expect("a file");
    }
    let entry = open_audio(dir.path(), dir.path());
    assert!(entry.folder.cut_short);
    assert_eq!(entry.folder.entries.len(), READ_AT_MOST);
}

#[test]
fn escape_cancels_and_tab_completes_even_inside_the_field() {
    use iced::event::Status;
    use keyboard::key::{Key, Named};
    let press = |named| {
        iced::Event::Keyboard(keyboard::Event::KeyPressed {
            key: Key::Named(named),
            modified_key: Key::Named(named),
            physical_key: keyboard::key::Physical::Code(keyboard::key::Code::Escape),
            location: keyboard::Location::Standard,
            modifiers: keyboard::Modifiers::default(),
            text: None,
            repeat: false,
        })
    };
    let window = iced::window::Id::unique();
    assert_eq!(
        key(press(Named::Escape), Status::Captured, window),
        Some(Message::Cancel)
    );
    assert_eq!(
        key(press(Named::Tab), Status::Captured, window),
        Some(Message::Complete)
    );
    // The field sends its own Enter; outside it, Enter is OK.
    assert_eq!(key(press(Named::Enter), Status::Captured, window), None);
    assert_eq!(
        key(press(Named::Enter), Status::Ignored, window),
        Some(Message::Submit)
    );
}
