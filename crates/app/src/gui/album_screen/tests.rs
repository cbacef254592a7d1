//! Headless tests of the album screen (iced_test): reordering by drag and by button, a gap
//! typed and undone, the overview's numbers on screen, and an export from the screen whose
//! files are gapless against the continuous album. The work tasks would run is done here (a
//! simulator runs no tasks).

use std::sync::atomic::AtomicBool;

use crest_engine::AudioBuffer;
use crest_engine::album::AlbumMetadata;
use crest_engine::chain::ChainSettings;
use crest_engine::export::{self as file_export, ExportRequest};
use crest_playback::manual::{ManualBackend, ManualDevice};
use iced_test::Simulator;

use super::*;

/// Three short mixes from the demo material at different levels, and an album of them saved
/// beside them, in a scratch folder removed when the first value is dropped.
fn album_on_disk(name: &str) -> (tempfile::TempDir, PathBuf, Album) {
    let folder = tempfile::Builder::new()
        .prefix(&format!("crest-album-screen-{name}-"))
        .tempdir()
        .expect("a scratch folder");
    let dir = folder.path();
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
    (folder, path, album)
}

/// The screen open on the album with its overview done, as it is once the task is back, and
/// the scratch folder its files are in (removed when dropped).
pub(super) fn ready(name: &str) -> (AlbumScreen, tempfile::TempDir) {
    let speakers = crest_playback::manual::ManualBackend::with(ManualDevice::speakers());
    ready_on(name, Output(Arc::new(speakers)))
}

/// [`ready`], playing through `output`.
fn ready_on(name: &str, output: Output) -> (AlbumScreen, tempfile::TempDir) {
    let (folder, path, album) = album_on_disk(name);
    let speakers = Speakers {
        output,
        choice: crest_playback::OutputChoice::default(),
    };
    let mut screen = AlbumScreen::new(album, Some(path), DecodeLimits::mastering(), speakers);
    deliver_check(&mut screen);
    (screen, folder)
}

/// Runs the overview the screen asked for, here, and delivers it.
pub(super) fn deliver_check(screen: &mut AlbumScreen) {
    let _task = screen.check_task();
    let (id, _, _) = screen.checking.clone().expect("a check started");
    let result = check(&ExportOrder::of(screen), &Job::default());
    let _ = screen.update(Message::Checked(id, Arc::new(result)));
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
    let (mut screen, _folder) = ready("reorder");
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
    let (mut screen, _folder) = ready("gap");
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
    let (mut screen, _folder) = ready("export");
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
    // A result from another export (a screen since replaced) is not taken for this one.
    let _ = screen.update(Message::Export(ExportMsg::Done(
        0,
        Arc::new(Err("old".into())),
    )));
    assert!(screen.export.running.is_some());
    let id = screen.export.running_id;
    let _ = screen.update(Message::Export(ExportMsg::Done(id, Arc::new(result))));
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
    // Again without replacing: refused, naming the box on this screen that allows it.
    let refused = ExportOrder::of(&screen)
        .run(&Job::default())
        .expect_err("the files exist");
    assert!(
        refused.contains("already exists")
            && refused.contains("\"replace files that already exist\""),
        "{refused}"
    );
    assert!(
        window(&screen)
            .find("replace files that already exist")
            .is_ok()
    );
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
    let (_folder, path, _) = album_on_disk("open");
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

#[test]
fn a_title_keeps_the_overview_current_and_a_result_started_before_an_edit_is_not_taken() {
    let (mut screen, _folder) = ready("stale");
    apply(
        &mut screen,
        vec![Message::Typed(Field::Title(0), "Opener".into())],
    );
    assert_eq!(screen.album.tracks[0].title, "Opener");
    assert!(screen.is_current(), "a title moves no level");
    assert!(screen.checking.is_none());
    // An offset does: the overview runs again and the one on screen is not current.
    apply(
        &mut screen,
        vec![Message::Typed(Field::Offset(1), "-2".into())],
    );
    assert!(!screen.is_current());
    let (first, _, _) = screen.checking.clone().expect("a check runs");
    // Another edit starts it again; the first one's result, when it comes, is not taken.
    apply(
        &mut screen,
        vec![Message::Typed(Field::Offset(1), "-3".into())],
    );
    let stale = check(&ExportOrder::of(&screen), &Job::default());
    let _ = screen.update(Message::Checked(first, Arc::new(stale)));
    assert!(screen.checking.is_some(), "the current check still runs");
    assert!(!screen.is_current());
    deliver_check(&mut screen);
    assert!(screen.is_current());
    let overview = &screen.checked.as_ref().expect("checked").overview;
    let kept =
        overview.tracks[1].rendered_lufs.expect("I") - overview.tracks[0].rendered_lufs.expect("I");
    let offset_of = |n: usize| overview.tracks[n].offset_lu;
    assert!(
        (kept - (offset_of(1) - offset_of(0))).abs() <= 0.1,
        "{kept}"
    );
    assert_eq!(offset_of(1), -3.0);
}

#[test]
fn saved_into_another_folder_the_album_still_finds_its_tracks() {
    use super::super::{Context, Desk, Screen};
    use crest_playback::manual::{ManualBackend, ManualDevice};
    let (_folder, path, _) = album_on_disk("save-as");
    let output =
        super::super::session::Output(Arc::new(ManualBackend::with(ManualDevice::speakers())));
    let (mut desk, _task) = Desk::with_context(Some(path.clone()), Context::new(output, None));
    let elsewhere = path.parent().expect("folder").join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("folder");
    let copy = elsewhere.join("copy.crest-album.json");
    desk.save_album(&copy);
    let saved = Album::load(&copy).expect("saved");
    assert!(
        saved.missing(&elsewhere).is_empty(),
        "{:?}",
        saved.tracks[0].source
    );
    let Screen::Album(screen) = &desk.screen else {
        panic!("the album screen");
    };
    assert_eq!(screen.path.as_deref(), Some(copy.as_path()));
    assert!(!screen.unsaved);
}

#[test]
fn a_transition_plays_exactly_what_the_continuous_file_holds_there() {
    let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
    let (mut screen, _folder) = ready_on("transition", Output(Arc::clone(&device) as _));
    // A gap into track 2, a crossfade into track 3.
    let _task = screen.update(Message::JoinKind(1, Join::Crossfade));
    deliver_check(&mut screen);
    let out = screen.folder.join("release");
    apply(
        &mut screen,
        vec![
            Message::Export(ExportMsg::Folder(out.display().to_string())),
            Message::Export(ExportMsg::Continuous(true)),
        ],
    );
    let report = ExportOrder::of(&screen)
        .run(&Job::default())
        .expect("exported");
    assert!(report.passed);
    let whole = crest_engine::decode_file(&out.join("Screen Test.wav"))
        .expect("the continuous file")
        .audio;
    let rate = f64::from(whole.sample_rate());
    for join in 0..2 {
        if join == 0 {
            // The join's play button, as the engineer presses it.
            let mut ui = window(&screen);
            ui.click("▶").expect("a play button");
            let messages: Vec<Message> = ui.into_messages().collect();
            apply(&mut screen, messages);
        } else {
            apply(&mut screen, vec![Message::PlayTransition(join)]);
        }
        let clip = screen.checked.as_ref().expect("checked").transitions[join].clone();
        // Six seconds of each track around the gap or the crossfade (these tracks are six
        // seconds long: all of both).
        let layout = &screen.checked.as_ref().expect("checked").layout;
        assert_eq!(
            Some(clip.frames.clone()),
            layout.transition(join, (6.0 * rate) as usize)
        );
        assert_eq!(clip.frames.start, layout.tracks[join].start);
        assert_eq!(clip.frames.end, layout.tracks[join + 1].span().end);
        // The gap's silence is kept as its length, not as zeros.
        let gap = layout.tracks[join].gap_after;
        assert_eq!(clip.silence, gap, "join {join}");
        assert_eq!(
            clip.head.frames() + clip.silence + clip.tail.frames(),
            clip.frames.len()
        );
        let mut ui = window(&screen);
        assert!(
            ui.find(text_starting(&format!(
                "Playing track {} into {} as exported",
                join + 1,
                join + 2
            )))
            .is_ok()
        );
        drop(ui);
        // Play waits for the new stream to run (callbacks for 150 ms): until then the device
        // hears silence, and the screen says the output is starting.
        let mut waited = 0;
        while !screen.playing.as_ref().is_some_and(|p| p.started) {
            assert!(device.pull(480).iter().all(|&x| x == 0.0));
            std::thread::sleep(std::time::Duration::from_millis(10));
            let _ = screen.update(Message::Tick);
            waited += 1;
            assert!(waited < 300, "the output never ran");
        }
        // What the device is given from then, in callbacks of 10 ms, and a little after the
        // end.
        let mut heard = Vec::new();
        while heard.len() < 2 * (clip.frames.len() + 4_800) {
            heard.extend(device.pull(480));
        }
        let frames = clip.frames.len();
        for c in 0..2 {
            let played: Vec<f32> = heard.iter().skip(c).step_by(2).copied().collect();
            let stored = &whole.channel(c)[clip.frames.clone()];
            assert!(
                played[..frames] == *stored,
                "join {join}, channel {c}: played as stored"
            );
            assert!(
                played[frames..].iter().all(|&x| x == 0.0),
                "join {join}: silence after the stretch"
            );
        }
        // It ends, and lets its output go once the device has played what it holds.
        let _ = screen.update(Message::Tick);
        assert!(
            screen
                .playing
                .as_ref()
                .is_some_and(|p| p.ended_at.is_some()),
            "join {join}: ended, the device still playing its last frames"
        );
        let mut waited = 0;
        while screen.playing.is_some() {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let _ = screen.update(Message::Tick);
            waited += 1;
            assert!(waited < 100, "join {join}: never let go");
        }
    }
    // Another delivery masters the album differently: the overview is checked again for it
    // (broadcast: −23 LUFS), and what plays is the broadcast master's.
    let broadcast = crest_engine::delivery::built_in()
        .expect("presets")
        .iter()
        .position(|p| p.id == "broadcast-r128");
    let _task = screen.update(Message::Export(ExportMsg::Delivery(broadcast)));
    assert!(!screen.is_current() && screen.checking.is_some());
    deliver_check(&mut screen);
    assert_eq!(screen.check_error, None);
    let album_lufs = screen
        .checked
        .as_ref()
        .expect("checked")
        .overview
        .album_integrated_lufs;
    assert!(
        album_lufs.is_some_and(|l| (l + 23.0).abs() <= 0.2),
        "{album_lufs:?}"
    );
    // An edit stops what plays (it is of the album before it) ...
    apply(&mut screen, vec![Message::PlayTransition(0)]);
    assert!(screen.playing.is_some());
    let _task = screen.update(Message::Typed(Field::Seconds(0), "3".into()));
    assert!(screen.playing.is_none(), "stopped by the edit");
    // ... and makes the overview old: nothing plays until it is back.
    let _ = screen.update(Message::PlayTransition(0));
    assert!(screen.playing.is_none());
    assert!(
        screen
            .notice
            .as_deref()
            .is_some_and(|n| n.contains("updating"))
    );
}

#[test]
fn a_fade_dragged_or_typed_is_one_undo_step_and_the_track_fades_as_rendered() {
    use super::sequence_view::{FadeEnd, Message as Plot};
    let (mut screen, _folder) = ready("fades");
    // RMS of track 2's first 20 ms against its 1.0–1.2 s, as the overview rendered it (the
    // first join's stretch holds all of tracks 1 and 2).
    let head_against_body = |screen: &AlbumScreen| {
        let checked = screen.checked.as_ref().expect("checked");
        let clip = &checked.transitions[0];
        let audio = clip.audio();
        let rate = audio.sample_rate() as usize;
        let start = checked.layout.tracks[1].start - clip.frames.start;
        let rms = |range: std::ops::Range<usize>| {
            let x = &audio.channel(0)[range];
            (x.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
        };
        rms(start..start + rate / 50) / rms(start + rate..start + rate * 6 / 5)
    };
    let before = head_against_body(&screen);
    assert!(before > 0.3, "no fade yet: {before:.3}");
    let steps = screen.undo.len();
    // A drag publishes a length on every move; let go, it is one step and measured again.
    apply(
        &mut screen,
        vec![
            Message::Select(1),
            Message::Sequence(Plot::Fade(1, FadeEnd::In, 0.4)),
            Message::Sequence(Plot::Fade(1, FadeEnd::In, 0.8)),
            Message::Sequence(Plot::Fade(1, FadeEnd::In, 1.0)),
            Message::Sequence(Plot::Released),
        ],
    );
    assert_eq!(screen.undo.len(), steps + 1);
    assert_eq!(screen.album.tracks[1].edit.fade_in_s, 1.0);
    assert!(!screen.is_current() && screen.checking.is_some());
    deliver_check(&mut screen);
    let faded = head_against_body(&screen);
    assert!(faded < 0.05, "faded in over a second: {faded:.4}");
    // The selected track's fields show it, and typing is another step.
    let mut ui = window(&screen);
    assert!(ui.find(text_starting("Track 2: fade in")).is_ok());
    drop(ui);
    assert_eq!(screen.shown(Field::FadeIn(1)), "1.00");
    let _task = screen.update(Message::Typed(Field::FadeOut(1), "2.5".into()));
    assert_eq!(screen.album.tracks[1].edit.fade_out_s, 2.5);
    assert_eq!(screen.undo.len(), steps + 2);
    // Longer than a fade may be is not taken.
    let _task = screen.update(Message::Typed(Field::FadeOut(1), "61".into()));
    assert_eq!(screen.album.tracks[1].edit.fade_out_s, 2.5);
    apply(&mut screen, vec![Message::Undo, Message::Undo]);
    assert_eq!(screen.album.tracks[1].edit.fade_in_s, 0.0);
    assert_eq!(screen.album.tracks[1].edit.fade_out_s, 0.0);
}

#[test]
fn a_track_opened_in_the_desk_brings_its_chain_and_fades_back_into_the_album() {
    use super::super::chain_panel::Edit;
    use super::super::session::Message as S;
    use super::super::{Context, Desk, Message as M, Screen};
    use crest_engine::chain::params::Param;
    let (_folder, path, _) = album_on_disk("desk-track");
    let output = Output(Arc::new(ManualBackend::with(ManualDevice::speakers())));
    let (mut desk, _task) = Desk::with_context(Some(path), Context::new(output, None));
    fn album_screen(desk: &Desk) -> &AlbumScreen {
        match &desk.screen {
            Screen::Album(screen) => screen,
            _ => panic!("the album screen"),
        }
    }
    // Its overview, as the task would bring it.
    let (id, _, _) = album_screen(&desk).checking.clone().expect("a check");
    let result = check(&ExportOrder::of(album_screen(&desk)), &Job::default());
    let _ = desk.update(M::Album(Message::Checked(id, Arc::new(result))));
    let planned = album_screen(&desk)
        .checked
        .as_ref()
        .expect("checked")
        .overview
        .tracks[1]
        .target_lufs;
    let steps = album_screen(&desk).undo.len();
    // Track 2 opens from its line: the album waits, the track loads.
    let _ = desk.update(M::Album(Message::Select(1)));
    let mut ui = Simulator::with_size(Default::default(), (1280.0, 800.0), desk.view());
    ui.click("Open in the desk").expect("the button");
    let messages: Vec<M> = ui.into_messages().collect();
    for message in messages {
        let _ = desk.update(message);
    }
    let Screen::Loading { job, .. } = &desk.screen else {
        panic!("the track loads");
    };
    let source = album_screen_behind(&desk)
        .album
        .source_path(1, &album_screen_behind(&desk).folder);
    let loaded = super::super::pipeline::load(Some(source), &DecodeLimits::mastering(), job);
    let _ = desk.update(M::Loaded(Arc::new(loaded)));
    let Screen::Session(session) = &desk.screen else {
        panic!("the track in the desk");
    };
    // It opens with the chain the album renders it with, at the album's planned level.
    assert_eq!(session.settings.limiter.target_lufs, Some(planned));
    assert_eq!(
        session.settings.eq,
        ChainSettings::gentle_master().eq,
        "the album's chain"
    );
    let mut ui = Simulator::with_size(Default::default(), (1280.0, 800.0), desk.view());
    assert!(
        ui.find(text_starting("Track 2 “song2” of the album “Screen Test”"))
            .is_ok()
    );
    drop(ui);
    // Its level and ceiling are the album's: a target chosen here or a ceiling typed is
    // refused, and said so, rather than heard here and dropped on the way back.
    let held = |desk: &Desk| match &desk.screen {
        Screen::Session(session) => (
            session.settings.limiter.target_lufs,
            session.settings.limiter.ceiling_dbtp,
        ),
        _ => panic!("the desk"),
    };
    let before = held(&desk);
    let _ = desk.update(M::Session(S::Target(Some(-23.0))));
    let _ = desk.update(M::Session(S::Chain(Edit::Set(Param::Ceiling, -3.0))));
    assert_eq!(held(&desk), before);
    let mut ui = Simulator::with_size(Default::default(), (1280.0, 800.0), desk.view());
    assert!(
        ui.find(text_starting(
            "This track's loudness target and ceiling are the album's"
        ))
        .is_ok()
    );
    assert!(ui.find(text_starting("Set by the album: ")).is_ok());
    let _ = ui.click("−23 EBU R128");
    assert!(ui.into_messages().next().is_none(), "the targets only show");
    // A wider stereo image and a fade-out, made in the desk.
    for (param, value) in [(Param::Width, 130.0), (Param::FadeOut, 1.5)] {
        let _ = desk.update(M::Session(S::Chain(Edit::Set(param, value))));
    }
    let _ = desk.update(M::BackToAlbum);
    let screen = album_screen(&desk);
    let track = &screen.album.tracks[1];
    let own = track.chain.as_ref().expect("its own chain now");
    assert!(
        (own.stereo.width - 1.3).abs() < 1e-9,
        "{}",
        own.stereo.width
    );
    assert_eq!(track.edit.fade_out_s, 1.5);
    // Its level and ceiling stay the album's to plan; the other tracks keep the album chain.
    assert_eq!(
        own.limiter.target_lufs,
        screen.album.chain.limiter.target_lufs
    );
    assert!(screen.album.tracks[0].chain.is_none());
    assert_eq!(screen.undo.len(), steps + 1, "one undo step");
    assert!(screen.unsaved && screen.checking.is_some());
    // Opened and left unchanged, nothing changes.
    let _ = desk.update(M::Album(Message::OpenTrack(0)));
    let Screen::Loading { job, .. } = &desk.screen else {
        panic!("the track loads");
    };
    let source = album_screen_behind(&desk)
        .album
        .source_path(0, &album_screen_behind(&desk).folder);
    let loaded = super::super::pipeline::load(Some(source), &DecodeLimits::mastering(), job);
    let _ = desk.update(M::Loaded(Arc::new(loaded)));
    let _ = desk.update(M::BackToAlbum);
    let screen = album_screen(&desk);
    assert!(screen.album.tracks[0].chain.is_none());
    assert_eq!(screen.undo.len(), steps + 1);
}

/// The album waiting while one of its tracks is open in the desk.
fn album_screen_behind(desk: &super::super::Desk) -> &AlbumScreen {
    &desk.album_behind.as_ref().expect("an album waits").screen
}

#[test]
fn the_overview_says_what_the_delivery_changed_that_was_not_asked_for() {
    // The demo's 48 kHz mixes delivered as a CD: converted to 44.1 kHz before their chains,
    // which the screen says under the album's line, as the CLI's overview does.
    let (mut screen, _folder) = ready("notes");
    let said = "Tracks at another rate were converted to 44100 Hz";
    assert!(window(&screen).find(text_starting(said)).is_err());
    let cd = delivery::built_in()
        .expect("the presets")
        .iter()
        .position(|preset| preset.id == "cd");
    let _ = screen.update(Message::Export(ExportMsg::Delivery(cd)));
    deliver_check(&mut screen);
    let overview = &screen.checked.as_ref().expect("checked").overview;
    assert!(
        overview.notes.iter().any(|n| n.starts_with(said)),
        "{:?}",
        overview.notes
    );
    assert!(window(&screen).find(text_starting(said)).is_ok());
}

#[test]
fn every_delivery_preset_can_be_chosen_in_a_window_of_the_size_the_desk_opens_at() {
    // The presets' buttons wrap: each lies whole inside the 1280 px window, on one line.
    let (mut screen, _folder) = ready("presets");
    apply(&mut screen, vec![Message::Export(ExportMsg::Show(true))]);
    let mut ui = window(&screen);
    for preset in delivery::built_in().expect("the presets") {
        let bounds = ui.find(preset.name.as_str()).expect("a button").bounds();
        assert!(
            bounds.x >= 0.0 && bounds.x + bounds.width <= 1280.0 && bounds.height < 24.0,
            "{}: {bounds:?}",
            preset.name
        );
    }
}
