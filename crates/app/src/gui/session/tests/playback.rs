//! Playback through a fake output: transport, the playhead, loops, lost and changed devices, the monitor path.

use super::*;

/// Integrated loudness of interleaved stereo pulled from the device.
fn pulled_lufs(samples: &[f32]) -> f64 {
    let left: Vec<f32> = samples.iter().step_by(2).copied().collect();
    let right: Vec<f32> = samples.iter().skip(1).step_by(2).copied().collect();
    let audio = crest_engine::AudioBuffer::new(48_000, vec![left, right]).expect("buffer");
    loudness::integrated_lufs(&audio).expect("loud enough")
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
    // Named in the timeline's legend, beside the dashed line's colour key.
    let mut ui = window(&desk);
    assert!(ui.find("- - Apple Music (Sound Check) -16").is_ok());
}

/// The translation the background task measures for `source`, done here and handed to the
/// desk as the task hands it: the request it measured, and the result.
fn translate_now(
    desk: &mut Desk,
    source: Source,
) -> (
    super::super::super::pipeline::TranslationRequest,
    Arc<Result<Translation, String>>,
) {
    let request = session(desk)
        .translation_request(source)
        .expect("something to measure");
    let measured = Arc::new(super::super::super::pipeline::translate(
        &request,
        &Job::default(),
    ));
    let generation = session(desk).translation_generation;
    let _ = desk.update(Message::Session(S::Listening(L::Translated(
        generation,
        source,
        Arc::clone(&measured),
    ))));
    (request, measured)
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
    let reference_lufs = loaded.mix.integrated_lufs.expect("I");
    let _ = desk.update(Message::Session(S::Listening(L::ReferenceLoaded(
        Arc::new(Ok(loaded)),
    ))));
    // The reference's numbers join the table, with the gain it is heard at to match the
    // master, and its loudness curve the timeline.
    let mut ui = window(&desk);
    assert!(ui.find("Reference").is_ok());
    assert!(ui.find(format!("{reference_lufs:.1} LUFS")).is_ok());
    assert!(ui.find("— reference").is_ok());
    let matching = master_lufs(&desk) - reference_lufs;
    assert!(
        ui.find(format!("{matching:+.1} dB")).is_ok(),
        "heard at {matching:+.1} dB"
    );
    drop(ui);
    assert!(!session(&desk).timeline.reference.is_empty());
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
    // Until the phone's matched level is measured it plays at its own level.
    let on_phone = through(&mut desk, "phone");
    assert!(on_phone < master - 6.0, "phone {on_phone}, master {master}");
    assert!(
        window(&desk)
            .find(starting("Phone speaker: measuring"))
            .is_ok()
    );
    // Measured (the work the task runs): at the matched level the phone plays the master at
    // its reference loudness, and says what it costs.
    let (_, measured) = translate_now(&mut desk, Source::Master);
    let loss = measured.as_ref().as_ref().expect("measured").loss_lu;
    assert!(loss > 6.0, "{loss}");
    // The matched level is one static gain for the whole track: heard over the whole demo
    // (24 s from the top), as it was measured.
    let whole = |desk: &mut Desk| {
        let _ = desk.update(Message::Session(S::Transport(T::Seek(0.0))));
        let _ = device.pull(4_800);
        let heard = device.pull(24 * 48_000 - 4_800);
        let _ = desk.update(Message::Session(S::Listening(L::Tick)));
        pulled_lufs(&heard)
    };
    let matched = whole(&mut desk);
    let _ = desk.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::Emulation(Some("reference".into())),
    ))));
    let reference_profile = profiles
        .iter()
        .find(|p| p.id == "reference")
        .expect("reference");
    let built = Emulation::new(reference_profile, 48_000, MAX_BLOCK, 2).map_err(|e| e.to_string());
    let _ = desk.update(Message::Session(S::Listening(L::EmulationBuilt(
        "reference".into(),
        Arc::new(built),
    ))));
    let flat_whole = whole(&mut desk);
    assert!(
        (matched - flat_whole).abs() <= 0.5,
        "phone matched {matched}, reference system {flat_whole}"
    );
    let _ = through(&mut desk, "phone");
    let _ = translate_now(&mut desk, Source::Master);
    assert!(
        window(&desk)
            .find(starting("Phone speaker: the master loses"))
            .is_ok()
    );
    // The device's own level again: what it costs is heard.
    let mut ui = window(&desk);
    ui.click("Device level").expect("offered");
    for message in ui.into_messages().collect::<Vec<_>>() {
        let _ = desk.update(message);
    }
    let device_level = whole(&mut desk);
    assert!(
        (device_level - (flat_whole - loss)).abs() <= 0.5,
        "phone at its level {device_level}, reference system {flat_whole}, loss {loss}"
    );
    // The mix at its own matched level: A/B through the phone compares tone.
    let mut ui = window(&desk);
    ui.click("Matched level").expect("offered");
    for message in ui.into_messages().collect::<Vec<_>>() {
        let _ = desk.update(message);
    }
    click(&mut desk, "Mix");
    let (request, _) = translate_now(&mut desk, Source::Mix);
    assert!(request.settings.is_none(), "the mix as it is");
    assert!(
        window(&desk)
            .find(starting("Phone speaker: the mix"))
            .is_ok()
    );
    let mix_on_phone = whole(&mut desk);
    assert!(
        (mix_on_phone - flat_whole).abs() <= 0.5,
        "mix through the phone {mix_on_phone}, master through the reference system {flat_whole}"
    );
}

#[test]
fn the_codec_slot_plays_the_master_as_the_codec_decodes_it_and_what_it_loses() {
    use crate::gui::codec_view::prepare_copy;
    use crate::gui::monitor_bar::MonitorMsg;
    use crest_engine::export::Lossy;
    use crest_playback::manual::{ManualBackend, ManualDevice};
    let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
    let output = Output(Arc::clone(&device) as Arc<dyn Backend>);
    let mut desk = ready_with(output, None);
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    let _ = desk.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::Codec(Some("opus-160".into())),
    ))));
    let generation = session(&desk).generation;
    assert!(window(&desk).find("preparing Opus 160…").is_ok());
    // Not offered until the copy is ready.
    assert!(window(&desk).find("Only what it loses").is_err());
    // The copy, prepared here as its task would: the track's rate and length (Opus ran at
    // 48 kHz, the demo's rate), the loss far under the copy.
    let prepared = {
        let s = session(&desk);
        prepare_copy(
            &s.audio,
            &s.settings,
            Lossy::Opus { kbps: 160 },
            &Job::default(),
        )
    };
    let copy = prepared.as_ref().expect("prepared");
    let track = &session(&desk).audio;
    assert_eq!(copy.decoded.frames(), track.frames());
    assert_eq!(copy.decoded.sample_rate(), track.sample_rate());
    let energy = |audio: &AudioBuffer| {
        audio
            .channels()
            .iter()
            .flatten()
            .map(|x| f64::from(*x).powi(2))
            .sum::<f64>()
    };
    let snr = 10.0 * (energy(&copy.decoded) / energy(&copy.loss)).log10();
    assert!(snr > 10.0 && snr < 60.0, "copy over loss: {snr:.1} dB");
    let job = session(&desk)
        .codec_copy
        .as_ref()
        .map(|(_, job)| Arc::clone(job))
        .expect("preparing");
    // An answer from another job (one cancelled for this one) is not taken.
    let _ = desk.update(Message::Session(S::Listening(L::CodecCopyReady(
        generation,
        "opus-160".into(),
        Arc::new(Job::default()),
        Arc::new(Err("cancelled".into())),
    ))));
    assert!(window(&desk).find("preparing Opus 160…").is_ok());
    let _ = desk.update(Message::Session(S::Listening(L::CodecCopyReady(
        generation,
        "opus-160".into(),
        job,
        Arc::new(prepared),
    ))));
    assert!(window(&desk).find("preparing Opus 160…").is_err());
    click(&mut desk, "Opus 160");
    assert_eq!(session(&desk).monitor.choices.source, Source::Codec);
    click(&mut desk, "Play");
    let _ = desk.update(Message::Session(S::Transport(T::Seek(12.0))));
    let rms = |samples: &[f32]| {
        (samples.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / samples.len() as f64).sqrt()
    };
    let _ = device.pull(4_800);
    let coded = rms(&device.pull(48_000));
    click(&mut desk, "Master");
    let _ = device.pull(4_800);
    let master = rms(&device.pull(48_000));
    // The copy, matched to the master's loudness, as loud as the master to 0.3 dB.
    let difference = 20.0 * (coded / master).log10();
    assert!(difference.abs() < 0.3, "{difference:+.2} dB");
    // Only what it loses: the residue, far quieter.
    click(&mut desk, "Opus 160");
    let _ = desk.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::CodecLoss(true),
    ))));
    assert_eq!(session(&desk).monitor.choices.source, Source::CodecLoss);
    let _ = device.pull(4_800);
    let lost = rms(&device.pull(48_000));
    assert!(
        20.0 * (lost / master).log10() < -10.0,
        "{lost} against {master}"
    );
    assert!(lost > 0.0);
    // Another codec: the slot is emptied and the master heard until its copy is ready.
    let _ = desk.update(Message::Session(S::Listening(L::Monitor(
        MonitorMsg::Codec(Some("mp3-320".into())),
    ))));
    assert_eq!(session(&desk).monitor.choices.source, Source::Master);
    assert!(window(&desk).find("preparing MP3 320…").is_ok());
}
