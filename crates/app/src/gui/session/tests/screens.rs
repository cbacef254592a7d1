//! What the desk shows: the demo, files that cannot be opened, mix health, the committed screenshots.

use super::*;

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
    // Every stage carries the same "On" switch; an unticked "Bypassed" read as "not bypassed".
    assert!(ui.find("Bypassed").is_err());
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
fn the_plots_axes_are_text_widgets() {
    // The software renderer repaints a canvas' text (clearing a window-sized mask for each
    // label) on every frame in which anything below and right of the canvas moves: the
    // playhead, the meters and the live spectrum move on every frame while playing. The
    // axes are text widgets, which the simulator finds and canvas text it does not.
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    let mut ui = window(&desk);
    for label in [
        "-30",  // the timeline's loudness grid
        "GR",   // the timeline's gain-reduction scale
        "Lim",  // and the stage that reduced
        "-72",  // the spectrum's level
        "dBFS", // and its unit
        "+12",  // the EQ's gain
        "10k",  // the frequency
    ] {
        assert!(ui.find(label).is_ok(), "{label}");
    }
}

#[test]
fn a_healthy_mix_says_so_on_one_line() {
    // Like each finding: one line beside the meters, the whole sentence on hover (three
    // wrapped lines were cut at the foot of a 1280×800 window).
    let mut desk = ready();
    apply(&mut desk, []);
    let mut ui = window(&desk);
    let line = ui
        .find(starting("Nothing found that mastering cannot fix"))
        .expect("the sentence")
        .bounds();
    assert!(line.height < 24.0, "{line:?}");
    // And read whole: a cut line is as wide as its room, which ends the row's 16 px of
    // spacing before the live meters; a whole one is narrower.
    let meters = ui.find("Playing").expect("the meters' heading").bounds();
    assert!(
        line.x + line.width + 16.0 + 1.0 < meters.x,
        "{line:?} is cut where the meters {meters:?} begin"
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
fn a_file_that_cannot_be_read_says_why() {
    let mut desk = Desk {
        context: Context::new(speakers(), None),
        screen: Screen::Loading {
            name: "missing.wav".into(),
            job: Arc::default(),
        },
        typing: None,
        relinking: None,
        album_behind: None,
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
    // Its true peak over full scale reads with its sign.
    let peak = s.mix.true_peak_dbtp.expect("a peak");
    assert!(peak > 0.0, "{peak}");
    assert!(ui.find(format!("{peak:+.1} dBTP")).is_ok(), "{peak}");
}

#[test]
fn a_track_too_short_for_a_target_says_so_and_playback_stays() {
    // 0.3 s of a loud tone: no 400 ms gating block, so no integrated loudness to bring to a
    // target. The desk says why there is no master (not "silent", not "rendering…" for good)
    // and the output stays open; a master comes back as soon as the target goes.
    let dir = scratch("too-short");
    let path = dir.join("short.wav");
    write_wav(&path, 16, 0.3, |t| {
        0.5 * (std::f64::consts::TAU * 440.0 * t).sin()
    });
    let loaded = load(Some(path), &DecodeLimits::mastering(), &Job::default()).expect("loads");
    let mut desk = ready();
    let _ = desk.update(Message::Opened(Arc::new(Ok(loaded))));
    apply(&mut desk, []);
    assert!(
        session(&desk).master.is_some(),
        "without a target it renders"
    );
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    let s = session(&desk);
    assert!(s.master.is_none());
    assert!(s.playback.is_ok(), "the output is not the problem");
    let mut ui = window(&desk);
    assert!(
        ui.find(starting(
            "No master for these settings: the audio is 0.30 s long: integrated loudness needs"
        ))
        .is_ok()
    );
    assert!(ui.find("rendering…").is_err());
    assert!(ui.find(starting("Playback unavailable")).is_err());
    drop(ui);
    apply(&mut desk, [Message::Session(S::Target(None))]);
    let s = session(&desk);
    assert!(s.master.is_some() && s.render_error.is_none());
    assert!(window(&desk).find(starting("No master")).is_err());
}

#[test]
fn the_clock_reads_minutes_and_tenths() {
    assert_eq!(clock(0.0), "0:00.0");
    assert_eq!(clock(83.46), "1:23.5");
    assert_eq!(clock(-1.0), "0:00.0");
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
}

#[test]
fn the_spectrum_is_viewed_smoothed_and_sloped_as_chosen() {
    let mut desk = ready();
    apply(&mut desk, []);
    assert_eq!(
        (
            session(&desk).spectrum.smoothing,
            session(&desk).spectrum.slope
        ),
        (6.0, 0.0),
        "1/6 octave, no slope, to start"
    );
    click(&mut desk, "1/3 oct");
    click(&mut desk, "4.5");
    assert_eq!(
        (
            session(&desk).spectrum.smoothing,
            session(&desk).spectrum.slope
        ),
        (3.0, 4.5)
    );
    click(&mut desk, "1/12");
    assert_eq!(session(&desk).spectrum.smoothing, 12.0);
    // The readout under the pointer says what each curve reads there, as plotted.
    let spectrum = &session(&desk).spectrum;
    let mix = spectrum.mix.as_ref().expect("the mix's spectrum");
    let centres = mix.bands.centres_hz();
    let band = centres.iter().position(|f| *f >= 1_000.0).expect("1 kHz");
    let at = centres[band];
    let per_octave = 10.0 * crest_engine::spectrum::BANDS_PER_OCTAVE.log10();
    let expected =
        f64::from(mix.viewed(12.0, 0.0)[band]) + per_octave + 4.5 * (at / 1_000.0).log2();
    let readout = spectrum.readout(at);
    assert!(
        readout.starts_with(&format!("{:.2} kHz", at / 1e3)),
        "{readout}"
    );
    assert!(
        readout.contains(&format!("mix {expected:.1} dBFS/oct")),
        "{readout}, expected mix {expected:.1}"
    );
    assert!(readout.contains("master "), "{readout}");
    assert!(readout.ends_with("EQ +0.0 dB"), "{readout}");
}

#[test]
fn notices_do_not_move_the_desk() {
    // Where the numbers and the chain sit, with nothing to say.
    let where_they_sit = |desk: &Desk| {
        let mut ui = window(desk);
        ["Integrated", "Loudness target", "Mix health"].map(|label| {
            let found = ui.find(label).unwrap_or_else(|_| panic!("{label} shown"));
            (found.bounds().x, found.bounds().y)
        })
    };
    use crest_playback::manual::{ManualBackend, ManualDevice};
    let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
    let mut desk = ready_with(Output(Arc::clone(&device) as Arc<dyn Backend>), None);
    apply(&mut desk, []);
    let quiet = where_they_sit(&desk);
    // Playing: the output's line gains the latency heard.
    click(&mut desk, "Play");
    let _ = device.pull(9_600);
    let _ = desk.update(Message::Session(S::Listening(L::Tick)));
    assert!(session(&desk).playing);
    assert_eq!(quiet, where_they_sit(&desk), "playing moved the desk");
    // A notice, the output's trouble and the application's own word all at once.
    let Screen::Session(session) = &mut desk.screen else {
        panic!("a session");
    };
    session.notice = Some(Notice::News("Saved the session".into()));
    session.output_notice = Some("the device went away; retrying".into());
    desk.context.notice = Some("Preferences could not be written".into());
    let busy = where_they_sit(&desk);
    assert_eq!(quiet, busy, "a notice moved the desk");
    let mut ui = window(&desk);
    // The first is shown, the rest counted on the same line.
    assert!(ui.find("Saved the session").is_ok());
    assert!(ui.find("· 1 more").is_ok());
    assert!(ui.find("Preferences could not be written").is_ok());
}

#[test]
fn the_desk_fits_windows_from_1024_by_700_to_4k() {
    use super::super::layout::Fit;
    let small = Fit::for_size(iced::Size::new(1024.0 - 32.0, 700.0 - 32.0));
    let default = Fit::for_size(iced::Size::new(1280.0 - 32.0, 800.0 - 32.0));
    let large = Fit::for_size(iced::Size::new(3840.0 - 32.0, 2160.0 - 32.0));
    assert!(small.narrow && !default.narrow && !large.narrow);
    assert!(small.chain_width < default.chain_width && default.chain_width < large.chain_width);
    assert!(small.plot_height >= 120.0, "plots stay readable");
    assert!(
        large.plot_height > 2.0 * default.plot_height,
        "plots use a large window"
    );
    // At 1280×800 everything the left column shows fits: the last finding's line and the
    // foot of the meter bridge are inside the window.
    let mut desk = ready();
    apply(&mut desk, []);
    let mut ui = window(&desk);
    for label in ["Mix health", "Correlation"] {
        let found = ui
            .find(starting(label))
            .unwrap_or_else(|_| panic!("{label} shown"));
        let bottom = found.bounds().y + found.bounds().height;
        assert!(
            bottom <= 800.0,
            "{label} ends at {bottom}, below the window"
        );
    }
    // In a narrow window the track's name and format stay on one line each.
    let mut narrow = Simulator::with_size(Default::default(), (1024.0, 700.0), desk.view());
    let format = narrow
        .find(starting("24.0 s, 48000 Hz"))
        .expect("the format");
    assert!(format.bounds().height < 30.0, "{:?}", format.bounds());
}
