//! The blind test on the desk: what plays is the hidden side, nothing on screen tells which,
//! both sides are heard at the same loudness and in time, and results stay in the session.

use super::*;
use crate::gui::blind_panel::{BlindMsg, Candidate, Hear};
use crest_engine::blind::p_at_least;
use crest_playback::engine::VersionSlot;

fn blind(desk: &mut Desk, message: BlindMsg) {
    apply(desk, [Message::Session(S::Listening(L::Blind(message)))]);
}

/// A desk at −14 LUFS running an ABX test of master against mix whose X is A in the trials
/// `hidden` says.
fn abx_running(output: Output, hidden: Vec<bool>) -> Desk {
    let mut desk = ready_with(output, None);
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    click(&mut desk, "Blind test…");
    blind(&mut desk, BlindMsg::Trials(hidden.len()));
    click(&mut desk, "Start");
    session_mut(&mut desk).blind.assign(hidden);
    desk
}

/// The window as pixels.
fn pixels(desk: &Desk, dir: &std::path::Path, name: &str) -> Vec<u8> {
    let mut ui = window(desk);
    let snapshot = ui.snapshot(&iced::Theme::Dark).expect("a snapshot");
    assert!(snapshot.matches_image(dir.join(name)).expect("written"));
    read_png(&dir.join(format!("{name}-tiny-skia.png"))).0
}

/// A fake output the test pulls audio from.
fn device() -> (Arc<crest_playback::manual::ManualBackend>, Output) {
    use crest_playback::manual::{ManualBackend, ManualDevice};
    let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
    let output = Output(Arc::clone(&device) as Arc<dyn Backend>);
    (device, output)
}

#[test]
fn x_plays_the_hidden_side_and_the_screen_never_tells_which() {
    let dir = scratch("blind-screen");
    let (master_out, output) = device();
    let mut x_is_master = abx_running(output, vec![true, false, true]);
    let (mix_out, output) = device();
    let mut x_is_mix = abx_running(output, vec![false, false, true]);
    // The monitor bar, which names what plays, is gone while the test runs.
    {
        let mut ui = window(&x_is_master);
        assert!(ui.find("Trial 1 of 3").is_ok());
        assert!(ui.find("Blind test…").is_err());
        assert!(ui.find("Heard on").is_err() && ui.find("Dim").is_err());
    }
    click(&mut x_is_master, "X");
    click(&mut x_is_mix, "X");
    assert_eq!(session(&x_is_master).heard_source(), Source::Master);
    assert_eq!(session(&x_is_mix).heard_source(), Source::Mix);
    assert!(session(&x_is_master).playing && session(&x_is_mix).playing);
    // Both play a while, the loud section, and the desks read their players: the live views
    // (which would draw the master's spectrum in one and the mix's in the other) get silence.
    for (desk, out) in [(&mut x_is_master, &master_out), (&mut x_is_mix, &mix_out)] {
        let _ = desk.update(Message::Session(S::Transport(T::Seek(14.0))));
        for _ in 0..8 {
            let _ = out.pull(4_800);
            let _ = desk.update(Message::Session(S::Listening(L::Tick)));
        }
    }
    // Two desks that differ only in what X hides look the same to the last pixel.
    let shown = pixels(&x_is_master, &dir, "x-is-master");
    assert!(shown == pixels(&x_is_mix, &dir, "x-is-mix"));
    // The bar's own choice stays as it was: a session saved mid-test does not record X.
    assert_eq!(session(&x_is_mix).to_file().monitor.source, Source::Master);
    // The keys that switch sources wait for the test.
    let _ = x_is_mix.update(Message::Session(S::Listening(L::ToggleAb)));
    assert_eq!(session(&x_is_mix).heard_source(), Source::Mix);
    assert_eq!(session(&x_is_mix).monitor.choices.source, Source::Master);
    // An answer pauses: the next trial starts from silence, with no switch to hear, and
    // Space waits for a button (the last trial's side is not this one's choice).
    blind(&mut x_is_mix, BlindMsg::Answer(false));
    assert!(!session(&x_is_mix).playing);
    assert!(window(&x_is_mix).find("Trial 2 of 3").is_ok());
    let _ = x_is_mix.update(Message::Session(S::Transport(T::TogglePlay)));
    assert!(!session(&x_is_mix).playing);
    click(&mut x_is_mix, "X");
    assert!(session(&x_is_mix).playing);
}

#[test]
fn a_chain_edit_during_a_test_stops_it_without_a_result() {
    let mut desk = abx_running(speakers(), vec![true, true]);
    click(&mut desk, "X");
    // The master the test compares is no longer the one on the desk.
    apply(&mut desk, [Message::Session(S::Target(Some(-12.0)))]);
    assert!(!session(&desk).blind.running());
    assert!(session(&desk).blind.history.is_empty());
    assert_eq!(session(&desk).heard_source(), Source::Master);
    assert!(
        window(&desk)
            .find(starting(
                "The blind test stopped without a result: the chain changed"
            ))
            .is_ok()
    );
}

#[test]
fn a_finished_test_gives_its_verdict_and_is_kept_in_the_session() {
    let dir = scratch("blind-result");
    let mut desk = abx_running(speakers(), vec![true, false, true, true]);
    for answer in [true, true, true, false] {
        // Each answer after hearing X, as the answers wait for it.
        click(&mut desk, "X");
        blind(&mut desk, BlindMsg::Answer(answer));
    }
    // Two of four right.
    let verdict = format!(
        "Master vs Mix (ABX): 2 of 4 correct: p = {:.3}, not shown to be audible",
        p_at_least(2, 4)
    );
    assert!(window(&desk).find(verdict.as_str()).is_ok(), "{verdict}");
    assert!(!session(&desk).blind.running());
    assert_eq!(session(&desk).heard_source(), Source::Master);
    let path = dir.join("blind");
    desk.save_session(&path);
    let saved = dir.join("blind.crest.json");
    let text = std::fs::read_to_string(&saved).expect("saved");
    assert!(text.contains("\"blind_tests\""), "{text}");

    let mut other = ready();
    let _ = other.update(Message::Open(saved.clone()));
    let reloaded = load(None, &DecodeLimits::mastering(), &Job::default());
    let _ = other.update(Message::Opened(Arc::new(reloaded)));
    apply(&mut other, []);
    assert_eq!(session(&other).blind.history.len(), 1);
    click(&mut other, "Blind test…");
    assert!(window(&other).find(verdict.as_str()).is_ok());
}

#[test]
fn a_platform_chosen_on_the_bar_waits_while_the_sides_are_matched() {
    let mut desk = ready();
    apply(&mut desk, [Message::Session(S::Target(Some(-10.0)))]);
    apply(
        &mut desk,
        [Message::Session(S::Listening(L::Monitor(
            MonitorMsg::Platform(Some("spotify".into())),
        )))],
    );
    let normalized = session(&desk).source_gains();
    click(&mut desk, "Blind test…");
    click(&mut desk, "Start");
    let during = session(&desk).source_gains();
    // Matched: the master at unity and the mix raised to its loudness; Spotify would turn
    // the master down to −14 LUFS.
    let db = |gain: f32| 20.0 * f64::from(gain).log10();
    assert!(db(during.master).abs() < 1e-6, "{during:?}");
    assert!(db(normalized.master) < -3.0, "{normalized:?}");
    let mix_to_master = master_lufs(&desk) + 18.0;
    assert!((db(during.mix) - mix_to_master).abs() < 0.05, "{during:?}");
    blind(&mut desk, BlindMsg::Stop);
    assert_eq!(session(&desk).source_gains(), normalized);
    assert!(
        session(&desk).blind.history.is_empty(),
        "stopped: no result"
    );
}

/// What the output plays of the side under `hear`, `frames` of it from `seconds` into the
/// track (after the seek's fade, when not from the start).
fn heard_from(
    desk: &mut Desk,
    device: &crest_playback::manual::ManualBackend,
    hear: Hear,
    seconds: f64,
    frames: usize,
) -> Vec<f32> {
    blind(desk, BlindMsg::Hear(hear));
    let _ = desk.update(Message::Session(S::Transport(T::Seek(seconds))));
    if seconds > 0.0 {
        let _ = device.pull(4_800);
    }
    device.pull(frames)
}

/// Integrated loudness of interleaved stereo.
fn lufs(samples: &[f32]) -> f64 {
    let left: Vec<f32> = samples.iter().step_by(2).copied().collect();
    let right: Vec<f32> = samples.iter().skip(1).step_by(2).copied().collect();
    let audio = crest_engine::AudioBuffer::new(48_000, vec![left, right]).expect("buffer");
    loudness::integrated_lufs(&audio).expect("loud enough")
}

/// The lag (frames, within ±`reach`) at which `b`'s left channel best matches `a`'s. On the
/// first differences: the demo's hats and claps mark time to the frame, where its bass, shifted
/// in phase by the master's EQ, would smear the peak.
fn best_lag(a: &[f32], b: &[f32], reach: isize) -> isize {
    let left = |x: &[f32]| {
        let left: Vec<f64> = x.iter().step_by(2).map(|&s| f64::from(s)).collect();
        left.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>()
    };
    let (a, b) = (left(a), left(b));
    let n = a.len() as isize;
    (-reach..=reach)
        .max_by(|&p, &q| {
            let score = |lag: isize| {
                (reach..n - reach)
                    .map(|k| a[k as usize] * b[(k + lag) as usize])
                    .sum::<f64>()
            };
            score(p).total_cmp(&score(q))
        })
        .expect("lags")
}

#[test]
fn both_sides_play_at_the_same_loudness_and_in_time() {
    use crest_playback::manual::{ManualBackend, ManualDevice};
    let device = Arc::new(ManualBackend::with(ManualDevice::speakers()));
    let output = Output(Arc::clone(&device) as Arc<dyn Backend>);
    // The master 4 LU over the mix, so matching has work to do.
    let mut desk = abx_running(output, vec![true]);
    let frames = session(&desk).audio.frames();
    // (By message: the snapshots' buttons are called A and B too.)
    let whole = |desk: &mut Desk, hear: Hear| lufs(&heard_from(desk, &device, hear, 0.0, frames));
    let a = whole(&mut desk, Hear::A);
    assert_eq!(session(&desk).heard_source(), Source::Master);
    let b = whole(&mut desk, Hear::B);
    assert_eq!(session(&desk).heard_source(), Source::Mix);
    assert!((a - b).abs() < 0.1, "A {a:.2} LUFS, B {b:.2} LUFS");
    assert!((a + 14.0).abs() < 0.2, "{a}");
    // Unmatched the mix would be 4 LU down: B really was the mix.
    assert!((session(&desk).mix.integrated_lufs.expect("I") + 18.0).abs() < 0.1);
    // In time: the same second through each side lines up to the frame.
    let second = |desk: &mut Desk, hear: Hear| heard_from(desk, &device, hear, 12.0, 24_000);
    let (a, b) = (second(&mut desk, Hear::A), second(&mut desk, Hear::B));
    assert_eq!(best_lag(&a, &b, 64), 0);
    // X is the hidden side (A here): its second is A's, not B's.
    let x = second(&mut desk, Hear::X);
    assert_eq!(session(&desk).heard_source(), Source::Master);
    let distance = |p: &[f32], q: &[f32]| {
        p.iter()
            .zip(q)
            .map(|(u, v)| f64::from(u - v).powi(2))
            .sum::<f64>()
    };
    assert!(distance(&x, &a) * 100.0 < distance(&x, &b));
}

#[test]
fn a_snapshot_is_compared_as_its_master_rendered_offline_and_matched() {
    let (device, output) = device();
    let mut desk = ready_with(output, None);
    // Snapshot B 3 LU louder than A, the master on the desk.
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    apply(&mut desk, [Message::Session(S::Transport(T::Snapshot(1)))]);
    apply(&mut desk, [Message::Session(S::Target(Some(-11.0)))]);
    apply(&mut desk, [Message::Session(S::Transport(T::Snapshot(0)))]);
    click(&mut desk, "Blind test…");
    blind(&mut desk, BlindMsg::Trials(8));
    blind(&mut desk, BlindMsg::SideB(Candidate::Snapshot(1)));
    assert_eq!(session(&desk).version_held(VersionSlot::Second), Some(1));
    // Until its master is rendered the test waits, and says so.
    assert!(
        window(&desk)
            .find(starting("Preparing snapshot B…"))
            .is_ok()
    );
    click(&mut desk, "Start");
    assert!(!session(&desk).blind.running());
    for message in session(&desk).render_versions_here() {
        let _ = desk.update(Message::Session(S::Listening(message)));
    }
    click(&mut desk, "Start");
    assert!(session(&desk).blind.running());
    session_mut(&mut desk).blind.assign(vec![false; 8]);
    let frames = session(&desk).audio.frames();
    let whole = |desk: &mut Desk, hear: Hear| lufs(&heard_from(desk, &device, hear, 0.0, frames));
    let a = whole(&mut desk, Hear::A);
    let b = whole(&mut desk, Hear::B);
    assert_eq!(
        session(&desk).heard_source(),
        Source::Version(VersionSlot::Second)
    );
    assert!((a - b).abs() < 0.1, "A {a:.2} LUFS, B {b:.2} LUFS");
    assert!((a + 14.0).abs() < 0.2, "{a}");
    // Unmatched, B would be 3 LU louder: it really was snapshot B's master.
    let gains = session(&desk).source_gains();
    let raised = 20.0 * f64::from(gains.versions[1]).log10();
    assert!((raised + 3.0).abs() < 0.3, "B heard {raised:.2} dB");
    // In time with the live master, to the frame; X is B's.
    let second = |desk: &mut Desk, hear: Hear| heard_from(desk, &device, hear, 12.0, 24_000);
    let (a, b) = (second(&mut desk, Hear::A), second(&mut desk, Hear::B));
    assert_eq!(best_lag(&a, &b, 64), 0);
    let x = second(&mut desk, Hear::X);
    assert_eq!(x, b, "X is B, sample for sample");
    // Recalling B makes it the master: the test stops, and B is no longer a snapshot to
    // render (its slot is emptied).
    apply(&mut desk, [Message::Session(S::Transport(T::Snapshot(1)))]);
    assert!(!session(&desk).blind.running());
    assert_eq!(session(&desk).version_held(VersionSlot::Second), None);
    assert_eq!(session(&desk).source_gains().versions, [1.0; 2]);
}

#[test]
fn without_an_output_a_blind_test_cannot_start_and_says_why() {
    // Answers given unheard are no result: the test starts only where it can be listened to.
    let no_device = crest_playback::manual::ManualBackend::default();
    let mut desk = ready_with(Output(Arc::new(no_device)), None);
    apply(&mut desk, [Message::Session(S::Target(Some(-14.0)))]);
    click(&mut desk, "Blind test…");
    assert!(
        window(&desk)
            .find(starting("Playback is unavailable: a blind test"))
            .is_ok()
    );
    let mut ui = window(&desk);
    let _ = ui.click("Start");
    let messages: Vec<Message> = ui.into_messages().collect();
    assert!(messages.is_empty(), "{messages:?}");
    blind(&mut desk, BlindMsg::Start);
    assert!(!session(&desk).blind.running());
}
