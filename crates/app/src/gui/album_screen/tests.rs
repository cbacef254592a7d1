//! Headless tests of the album screen (iced_test): reordering by drag and by button, a gap
//! typed and undone, the overview's numbers on screen, and an export from the screen whose
//! files are gapless against the continuous album. The work tasks would run is done here (a
//! simulator runs no tasks).

use std::sync::atomic::AtomicBool;

use crest_engine::AudioBuffer;
use crest_engine::album::AlbumMetadata;
use crest_engine::chain::ChainSettings;
use crest_engine::export::{self as file_export, ExportRequest};
use iced_test::Simulator;

use super::*;

/// Three short mixes from the demo material at different levels, and an album of them saved
/// beside them.
fn album_on_disk(name: &str) -> (PathBuf, Album) {
    let dir =
        std::env::temp_dir().join(format!("crest-album-screen-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let demo = crest_engine::demo::demo_mix();
    let rate = demo.sample_rate() as usize;
    let never = AtomicBool::new(false);
    let mut sources = Vec::new();
    for (n, (gain, from_s)) in [(1.0f32, 8), (0.5, 10), (0.7, 14)].into_iter().enumerate() {
        let channels = demo
            .channels()
            .iter()
            .map(|c| {
                c[from_s * rate..(from_s + 6) * rate]
                    .iter()
                    .map(|x| x * gain)
                    .collect()
            })
            .collect();
        let audio = AudioBuffer::new(demo.sample_rate(), channels).expect("audio");
        let name = PathBuf::from(format!("song{}.wav", n + 1));
        file_export::export(
            &audio,
            &ExportRequest {
                path: &dir.join(&name),
                format: Format::Wav32f,
                dither: Dither::None,
                force: true,
                source: None,
                tags: None,
            },
            &never,
        )
        .expect("a mix");
        sources.push(name);
    }
    let album = Album::new(
        AlbumMetadata {
            title: "Screen Test".into(),
            ..AlbumMetadata::default()
        },
        ChainSettings::gentle_master(),
        &sources,
    );
    let path = dir.join("screen.crest-album.json");
    album.save(&path).expect("saved");
    (path, album)
}

/// The screen open on the album with its overview done, as it is once the task is back.
fn ready(name: &str) -> AlbumScreen {
    let (path, album) = album_on_disk(name);
    let mut screen = AlbumScreen::new(album, Some(path), DecodeLimits::mastering());
    deliver_check(&mut screen);
    screen
}

/// Runs the overview the screen asked for, here, and delivers it.
fn deliver_check(screen: &mut AlbumScreen) {
    let _task = screen.check_task();
    let generation = screen.generation;
    let result = check(
        &screen.album,
        &screen.folder,
        &DecodeLimits::mastering(),
        &Job::default(),
    );
    let _ = screen.update(Message::Checked(generation, Arc::new(result)));
}

fn window(screen: &AlbumScreen) -> Simulator<'_, Message> {
    Simulator::with_size(Default::default(), (1280.0, 800.0), screen.view())
}

fn apply(screen: &mut AlbumScreen, messages: Vec<Message>) {
    for message in messages {
        let _ = screen.update(message);
    }
}

fn titles(screen: &AlbumScreen) -> Vec<String> {
    screen
        .album
        .tracks
        .iter()
        .map(|t| t.title.clone())
        .collect()
}

#[test]
fn tracks_reorder_by_dragging_their_handle_and_by_the_arrows_and_undo_puts_them_back() {
    let mut screen = ready("reorder");
    assert!(screen.is_current());
    // The overview is on screen: the album's line and every track's level against it.
    let mut ui = window(&screen);
    assert!(ui.find(text_starting("Album -14.")).is_ok());
    drop(ui);

    // Drag the third track's handle onto the first row.
    apply(
        &mut screen,
        vec![Message::Grab(2), Message::Hover(0), Message::Release],
    );
    assert_eq!(titles(&screen), ["song3", "song1", "song2"]);
    assert!(screen.checking.is_some(), "the overview starts again");
    assert!(!screen.is_current());
    // The first row's ↓ moves it back down one.
    let mut ui = window(&screen);
    ui.click("↓").expect("a down arrow");
    let messages: Vec<Message> = ui.into_messages().collect();
    assert!(
        matches!(messages.as_slice(), [Message::Move { from: 0, to: 1 }]),
        "{messages:?}"
    );
    apply(&mut screen, messages);
    assert_eq!(titles(&screen), ["song1", "song3", "song2"]);
    // Two moves, two undo steps; the track files follow the order.
    let _ = screen.update(Message::Undo);
    assert_eq!(titles(&screen), ["song3", "song1", "song2"]);
    let _ = screen.update(Message::Undo);
    assert_eq!(titles(&screen), ["song1", "song2", "song3"]);
    let _ = screen.update(Message::Redo);
    assert_eq!(titles(&screen), ["song3", "song1", "song2"]);
    deliver_check(&mut screen);
    let order: Vec<String> = screen
        .checked
        .as_ref()
        .expect("checked")
        .overview
        .tracks
        .iter()
        .map(|t| t.title.clone())
        .collect();
    assert_eq!(order, ["song3", "song1", "song2"]);
}

#[test]
fn a_gap_typed_into_its_field_lays_the_tracks_out_again_and_is_one_undo_step() {
    use iced::keyboard::key::Named;
    let mut screen = ready("gap");
    let before = screen.checked.as_ref().expect("checked").layout.tracks[1].start;
    let mut ui = window(&screen);
    ui.click(iced_test::selector::id(field_id(Field::Seconds(0))))
        .expect("the first gap's field");
    let _ = ui.tap_key(Named::End);
    for _ in 0..6 {
        let _ = ui.tap_key(Named::Backspace);
    }
    let _ = ui.typewrite("3.5");
    let messages: Vec<Message> = ui.into_messages().collect();
    apply(&mut screen, messages);
    assert_eq!(
        screen.album.tracks[0].transition,
        Transition::Gap { seconds: 3.5 }
    );
    assert!(screen.unsaved);
    deliver_check(&mut screen);
    let layout = &screen.checked.as_ref().expect("checked").layout;
    let rate = layout.sample_rate as usize;
    assert_eq!(layout.tracks[0].gap_after, 7 * rate / 2);
    assert_eq!(layout.tracks[1].start, before + 3 * rate / 2);
    // Typing "3", "3.", "3.5" was one edit: one undo goes back to the 2 s gap.
    let _ = screen.update(Message::Undo);
    assert_eq!(
        screen.album.tracks[0].transition,
        Transition::Gap { seconds: 2.0 }
    );
    // A crossfade instead, from its toggle.
    let mut ui = window(&screen);
    let _ = ui.click("crossfade").expect("a crossfade toggle");
    let messages: Vec<Message> = ui.into_messages().collect();
    apply(&mut screen, messages);
    assert!(matches!(
        screen.album.tracks[0].transition,
        Transition::Crossfade { .. }
    ));
    // Saved to its file: the album reads back as edited.
    let path = screen.path.clone().expect("a file");
    screen.album.save(&path).expect("saved");
    assert_eq!(Album::load(&path).expect("read"), screen.album);
}

#[test]
fn export_from_the_screen_writes_gapless_verified_files_and_shows_the_verdict() {
    let mut screen = ready("export");
    let out = screen.folder.join("release");
    apply(
        &mut screen,
        vec![
            Message::Export(ExportMsg::Show(true)),
            Message::Export(ExportMsg::Folder(out.display().to_string())),
            Message::Export(ExportMsg::Continuous(true)),
        ],
    );
    // The panel lists what it will write before it does.
    let mut ui = window(&screen);
    assert!(
        ui.find(text_starting(
            "Writes 01 song1.wav, 02 song2.wav, 03 song3.wav, Screen Test.wav"
        ))
        .is_ok()
    );
    ui.click("Export 6 files").expect("the export button");
    let messages: Vec<Message> = ui.into_messages().collect();
    apply(&mut screen, messages);
    let job = screen.export.running.clone().expect("an export runs");
    let result = ExportOrder::of(&screen).run(&job);
    let _ = screen.update(Message::Export(ExportMsg::Done(Arc::new(result))));
    assert!(screen.export.running.is_none());
    let report = screen
        .export
        .result
        .as_ref()
        .expect("done")
        .as_ref()
        .expect("exported");
    assert!(report.passed, "{:?}", report.overview.warnings);
    let mut ui = window(&screen);
    assert!(
        ui.find(text_starting("PASSED: 4 audio files written and verified"))
            .is_ok()
    );
    // Back to back, the track files are the continuous album.
    let read = |name: &str| {
        crest_engine::decode_file(&out.join(name))
            .expect(name)
            .audio
    };
    let whole = read("Screen Test.wav");
    let joined: Vec<f32> = ["01 song1.wav", "02 song2.wav", "03 song3.wav"]
        .iter()
        .flat_map(|n| read(n).channel(0).to_vec())
        .collect();
    assert!(joined == whole.channel(0));
    assert!(out.join("Screen Test.album-qc.txt").is_file());
}

/// Finds a text that starts with `prefix`.
fn text_starting(
    prefix: &str,
) -> impl iced_test::selector::Selector<Output = iced_test::selector::Text> + '_ {
    move |candidate: iced_test::selector::Candidate<'_>| match candidate {
        iced_test::selector::Candidate::Text {
            id,
            bounds,
            visible_bounds,
            content,
        } if content.starts_with(prefix) => Some(iced_test::selector::Text::Raw {
            id: id.cloned(),
            bounds,
            visible_bounds,
        }),
        _ => None,
    }
}

#[test]
fn the_desk_tells_an_album_from_a_session_by_its_content_and_opens_it() {
    use super::super::{Context, Desk, Screen, is_album_file};
    use crest_playback::manual::{ManualBackend, ManualDevice};
    let (path, _) = album_on_disk("open");
    assert!(is_album_file(&path));
    let session = path.with_file_name("mix.crest.json");
    std::fs::write(&session, r#"{"version": 1, "source": null, "chain": {}}"#).expect("file");
    assert!(!is_album_file(&session));
    let output =
        super::super::session::Output(Arc::new(ManualBackend::with(ManualDevice::speakers())));
    let (desk, _task) = Desk::with_context(Some(path), Context::new(output, None));
    let Screen::Album(screen) = &desk.screen else {
        panic!("the album screen");
    };
    assert_eq!(screen.name(), "Screen Test");
    assert_eq!(desk.title(), "Screen Test (album) — Crest");
    assert!(screen.checking.is_some(), "its overview starts at once");
}
