//! Headless tests of the desk (iced_test): every flow a user goes through, with the work
//! that tasks would run done here (a simulator runs no tasks).

use super::super::Message;
use super::super::monitor_bar::MonitorMsg;
use super::super::pipeline::load_reference;
use super::super::widgets::Notice;
use super::super::*;
use super::keys::shortcut;
use super::transport::clock;
use super::*;
use super::{Message as S, listening::Message as L, transport::Message as T};
use crest_engine::loudness;
use crest_engine::session::Storage;
use crest_playback::engine::{Listen, MAX_BLOCK};
use crest_playback::{Backend, PlaybackStatus};
use iced_test::Simulator;

mod blind;
mod chain;
mod export;
mod playback;
mod plots;
mod screens;
mod sessions;
mod typed_paths;

/// A fake output with one pair of speakers: the desk's tests never depend on the machine's
/// sound card (or its absence).
pub(super) fn speakers() -> Output {
    use crest_playback::manual::{ManualBackend, ManualDevice};
    Output(Arc::new(ManualBackend::with(ManualDevice::speakers())))
}

/// The demo mix open on the fake speakers, as it is once loaded.
pub(super) fn ready() -> Desk {
    ready_with(speakers(), None)
}

/// The demo mix open on `output`, with `storage` for autosave and preferences (none: the
/// desk writes nothing).
pub(super) fn ready_with(output: Output, storage: Option<Storage>) -> Desk {
    let loaded =
        load(None, &DecodeLimits::mastering(), &Job::default()).expect("the demo mix loads");
    let mut desk = Desk {
        context: Context::new(output, storage),
        screen: Screen::Failed(String::new()),
        typing: None,
        relinking: None,
        album_behind: None,
    };
    let _task = desk.start_session(loaded);
    desk
}

/// Applies the messages a user's interaction produced, then runs the background render
/// here (a test has no executor) and delivers it, as the task would.
pub(super) fn apply(desk: &mut Desk, messages: impl IntoIterator<Item = Message>) {
    for message in messages {
        let _task = desk.update(message);
    }
    let Screen::Session(session) = &mut desk.screen else {
        return;
    };
    let start = solver_start(
        &session.settings,
        session.mix.integrated_lufs,
        session.master.as_ref(),
    );
    let result = master(
        &session.audio,
        &session.settings,
        start,
        &session.render_scratch,
        &Job::default(),
    );
    let generation = session.generation;
    let _task = desk.update(Message::Session(S::Rendered(generation, Arc::new(result))));
}

/// The desk in a window of the size it opens at.
pub(super) fn window(desk: &Desk) -> Simulator<'_, Message> {
    Simulator::with_size(Default::default(), (1280.0, 800.0), desk.view())
}

/// Finds a text that starts with `prefix`.
pub(super) fn starting(
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

/// Types `typed` into the numeric entry of `param` as a user would: click, clear, type,
/// Enter. Returns the messages the entry produced.
pub(super) fn type_into(desk: &Desk, param: Param, typed: &str) -> Vec<Message> {
    use iced::keyboard::key::Named;
    let mut ui = window(desk);
    ui.click(iced_test::selector::id(chain_panel::controls::entry_id(
        param,
    )))
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
pub(super) fn click(desk: &mut Desk, label: &'static str) {
    let mut ui = window(desk);
    ui.click(label).unwrap_or_else(|e| panic!("{label}: {e:?}"));
    let messages: Vec<Message> = ui.into_messages().collect();
    apply(desk, messages);
}

pub(super) fn master_lufs(desk: &Desk) -> f64 {
    let master = session(desk).master.as_ref().expect("rendered");
    master.loudness.integrated_lufs.expect("loud enough")
}

pub(super) fn session_mut(desk: &mut Desk) -> &mut Session {
    match &mut desk.screen {
        Screen::Session(session) => session,
        _ => panic!("the desk is ready"),
    }
}

pub(super) fn session(desk: &Desk) -> &Session {
    match &desk.screen {
        Screen::Session(session) => session,
        _ => panic!("the desk is ready"),
    }
}

/// A 44.1 kHz stereo integer WAV of `seconds`, both channels `signal(t)` (clipped to full
/// scale as a converter would).
pub(super) fn write_wav(
    path: &std::path::Path,
    bits: u16,
    seconds: f64,
    signal: impl Fn(f64) -> f64,
) {
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

/// Scratch folders removed when dropped (the suite's own, shared with the end-to-end tests).
#[path = "../../../../../tests/common/scratch.rs"]
mod scratch_folder;
pub(super) use scratch_folder::scratch;
#[path = "../../../../../tests/common/images.rs"]
mod images;
pub(super) use images::test_card;

/// Reads a PNG as RGBA bytes and its size.
pub(super) fn read_png(path: &std::path::Path) -> (Vec<u8>, u32, u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a PNG");
    let mut bytes = vec![0; reader.output_buffer_size().expect("fits")];
    let info = reader.next_frame(&mut bytes).expect("a frame");
    bytes.truncate(info.buffer_size());
    (bytes, info.width, info.height)
}
