//! The device shell through a fake backend (a device that is missing, refuses, reports
//! errors that pass, stops calling back, disappears, comes back), and the real one on this
//! machine: no sound card means a clear Unavailable.

use std::f64::consts::TAU;
use std::sync::Arc;
use std::time::{Duration, Instant};

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use crest_engine::AudioBuffer;
use crest_engine::chain::{BandKind, ChainSettings, EqBand, Placement, Slope};
use crest_playback::engine::Command;
use crest_playback::manual::{ManualBackend as Fake, ManualDevice};
use crest_playback::output::{
    Backend, OutputChoice, PlaybackError, PlaybackStatus, Player, StreamCounts,
};
use crest_playback::{CpalBackend, DeviceStatus, output_devices};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const RATE: u32 = 48_000;

/// A four-channel interface (the track's two channels go to its first two).
fn speakers() -> ManualDevice {
    ManualDevice {
        channels: 4,
        ..ManualDevice::speakers()
    }
}

fn track() -> Arc<AudioBuffer> {
    let left: Vec<f32> = (0..RATE as usize)
        .map(|n| (n % 100) as f32 * 0.001)
        .collect();
    let right: Vec<f32> = left.iter().map(|x| -x).collect();
    Arc::new(AudioBuffer::new(RATE, vec![left, right]).expect("buffer"))
}

fn neutral() -> ChainSettings {
    let mut s = ChainSettings::default();
    s.limiter.bypass = true;
    s
}

/// A player on `fake` with the default output choice.
fn open_on(
    fake: &Arc<Fake>,
    track: Arc<AudioBuffer>,
    position: u64,
) -> Result<Player, PlaybackError> {
    let backend: Arc<dyn Backend> = fake.clone();
    Player::open(
        backend,
        OutputChoice::default(),
        track,
        &neutral(),
        position,
    )
}

#[test]
fn missing_refusing_and_rate_refusing_devices_say_so() {
    let open = |backend: Fake| open_on(&Arc::new(backend), track(), 0).map(|_| ());
    assert_eq!(open(Fake::default()), Err(PlaybackError::NoDevice));
    let busy = Fake::with(ManualDevice {
        refuses: Some("busy"),
        ..speakers()
    });
    let error = open(busy).expect_err("refused");
    assert!(error.to_string().contains("busy"), "{error}");
    let no_rates = Fake::with(ManualDevice {
        rates: vec![],
        ..speakers()
    });
    match open(no_rates) {
        Err(PlaybackError::RateRefused { rate, .. }) => assert_eq!(rate, RATE),
        other => panic!("expected a refused rate, got {other:?}"),
    }
}

#[test]
fn a_device_at_another_rate_plays_through_real_time_conversion() {
    let device = Arc::new(Fake::with(ManualDevice {
        rates: vec![44_100],
        channels: 2,
        ..speakers()
    }));
    let tone: Vec<f32> = (0..RATE as usize * 2)
        .map(|n| (0.5 * (TAU * 1_000.0 * n as f64 / f64::from(RATE)).sin()) as f32)
        .collect();
    let track = Arc::new(AudioBuffer::new(RATE, vec![tone.clone(), tone]).expect("buffer"));
    let mut player = open_on(&device, track, 0).expect("opens");
    assert_eq!(player.output().sample_rate, 44_100);
    assert_eq!(player.output().converted_from, Some(RATE));
    assert_eq!(player.output_latency_ms(), None, "no callback yet");
    player.send(Command::Play);
    let mut left = Vec::new();
    let mut block = vec![0.0f32; 2 * 333];
    for _ in 0..100 {
        // Callbacks of an odd size, unrelated to the conversion's own blocks; converting
        // allocates nothing.
        assert_no_alloc(|| device.pull_into(&mut block));
        left.extend(block.chunks(2).map(|f| f[0]));
    }
    // The conversion's delay adds to the device's.
    let latency = player.output_latency_ms().expect("reported");
    let conversion = player.output().conversion_delay_frames as f64 / 44.1;
    assert!(conversion > 0.0 && (latency - 5.0 - conversion).abs() < 1e-9);
    // A 1 kHz sine at 44.1 kHz: same level, nothing else in it.
    let steady = &left[4_410..];
    let w = TAU * 1_000.0 / 44_100.0;
    let (mut s, mut c) = (0.0, 0.0);
    for (n, &x) in steady.iter().enumerate() {
        s += f64::from(x) * (w * n as f64).sin();
        c += f64::from(x) * (w * n as f64).cos();
    }
    let amplitude = 2.0 * (s * s + c * c).sqrt() / steady.len() as f64;
    assert!(
        (20.0 * (amplitude / 0.5).log10()).abs() < 0.05,
        "{amplitude}"
    );
    let phase = c.atan2(s);
    let residual = steady
        .iter()
        .enumerate()
        .map(|(n, &x)| (f64::from(x) - amplitude * (w * n as f64 + phase).sin()).powi(2))
        .sum::<f64>()
        / steady.len() as f64;
    assert!(
        10.0 * (residual / 0.125).log10() < -60.0,
        "residual {:.1} dB",
        10.0 * (residual / 0.125).log10()
    );
}

#[test]
fn plays_through_the_device_and_survives_its_loss() {
    let fake = Arc::new(Fake::with(speakers()));
    let track = track();
    let mut player = open_on(&fake, Arc::clone(&track), 0).expect("opens");
    assert!(matches!(player.status(), PlaybackStatus::Ready { .. }));
    assert_eq!(player.output().channels, 4);
    player.send(Command::Play);
    let out = fake.pull(1_000);
    // Four device channels: the track on the first two, silence on the others.
    for (k, frame) in out.chunks(4).enumerate() {
        assert_eq!(frame, [track.channel(0)[k], track.channel(1)[k], 0.0, 0.0]);
    }
    assert_eq!(player.meters().position, 1_000);
    assert_eq!(player.output_latency_ms(), Some(5.0));

    // The device disappears: the player says so, keeps the engine and tries again.
    let device = fake.unplug().expect("plugged in");
    // Noticed on the next UI tick, after the device had played what it held.
    let now = Instant::now() + Duration::from_millis(100);
    let polled = player.poll_at(now).expect("polls");
    let notice = polled.notice.expect("the user is told");
    assert!(notice.contains("disappeared"), "{notice}");
    match player.status() {
        PlaybackStatus::Unavailable { reason } => {
            assert!(reason.contains("disappeared") && reason.contains("trying again"))
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
    assert!(!fake.is_open());
    let first_reason = match player.status() {
        PlaybackStatus::Unavailable { reason } => reason,
        other => panic!("expected unavailable, got {other:?}"),
    };
    // Still gone a second later, and at the next try: no new notice, no new stream, the same
    // words.
    let polled = player.poll_at(now + Duration::from_secs(1)).expect("polls");
    assert_eq!(polled.notice, None);
    let polled = player
        .poll_at(now + Duration::from_millis(2_100))
        .expect("polls");
    assert_eq!(polled.notice, None);
    assert_eq!(
        player.status(),
        PlaybackStatus::Unavailable {
            reason: first_reason
        }
    );
    assert_eq!(fake.opened(), 1);
    // It comes back: the player reopens by itself and plays on from where it was heard
    // (the 5 ms the device held are played again), fading in.
    fake.plug_in(device);
    let polled = player.poll_at(now + Duration::from_secs(5)).expect("polls");
    let notice = polled.notice.expect("the user is told");
    assert_eq!(
        notice,
        "the output device disappeared; reconnected to speakers"
    );
    assert!(matches!(player.status(), PlaybackStatus::Ready { .. }));
    assert_eq!(fake.opened(), 2);
    let out = fake.pull(2_000);
    let left: Vec<f32> = out.chunks(4).map(|f| f[0]).collect();
    // 10 ms (480 frames) fade out the old place, 480 fade in the new one, then the track.
    assert_resumed_at(&left, &track, 1_000 - 240);
    // Counted over both streams.
    assert_eq!(player.counts().reopened, 1);
    assert_eq!(player.counts().callbacks, 2);
}

/// After a reopening, the first 480 frames fade out where the engine was, the next 480 fade
/// in at `frame`, and the track plays on from there.
fn assert_resumed_at(left: &[f32], track: &AudioBuffer, frame: usize) {
    let source = track.channel(0);
    assert_eq!(left[479], 0.0, "faded out");
    let first = left[480];
    assert!(
        (first - source[frame] / 480.0).abs() < 1e-6,
        "fades in at {frame}: {first} vs {}",
        source[frame]
    );
    let steady = &left[960..1_960];
    let expected = &source[frame + 480..frame + 1_480];
    if let Some(k) = (0..1_000).find(|&k| steady[k] != expected[k]) {
        panic!("frame {k} after the fade: {} vs {}", steady[k], expected[k]);
    }
}

#[test]
fn errors_that_pass_do_not_end_playback() {
    let fake = Arc::new(Fake::with(speakers()));
    let track = track();
    let mut player = open_on(&fake, Arc::clone(&track), 0).expect("opens");
    player.send(Command::Play);
    fake.pull(1_000);
    // A burst of errors as ALSA reports them on opening a PulseAudio stream, and a dropout.
    fake.passing_errors(2_100);
    let polled = player.poll().expect("polls");
    assert_eq!(polled.notice, None);
    assert!(matches!(player.status(), PlaybackStatus::Ready { .. }));
    let out = fake.pull(1_000);
    assert_eq!(out[0], track.channel(0)[1_000]);
    assert_eq!(
        player.counts(),
        StreamCounts {
            callbacks: 2,
            underruns: 1,
            passing_errors: 2_100,
            reopened: 0,
        }
    );
    assert_eq!(fake.opened(), 1);
}

#[test]
fn a_stream_that_stops_or_is_invalidated_is_reopened_at_the_playhead() {
    let fake = Arc::new(Fake::with(speakers()));
    let track = track();
    let mut player = open_on(&fake, Arc::clone(&track), 0).expect("opens");
    player.send(Command::Play);
    let start = Instant::now();
    assert!(!player.is_running(), "no callback yet");
    // Callbacks for 200 ms (real time: the stream's heartbeat is timed by the clock).
    for _ in 0..10 {
        fake.pull(480);
        player.poll_at(start).expect("polls");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(player.is_running());
    // Callbacks went on until now; half a second without one is not yet a stall.
    let polled = player
        .poll_at(start + Duration::from_millis(500))
        .expect("polls");
    assert_eq!(polled.notice, None);
    // A whole second without a callback: the stream is closed and opened again.
    let polled = player
        .poll_at(start + Duration::from_millis(1_600))
        .expect("polls");
    let notice = polled.notice.expect("the user is told");
    assert!(
        notice.contains("the output stopped; reconnected"),
        "{notice}"
    );
    assert_eq!(fake.opened(), 2);
    let out = fake.pull(2_000);
    let left: Vec<f32> = out.chunks(4).map(|f| f[0]).collect();
    assert_resumed_at(&left, &track, 4_800 - 240);
    // A server that invalidates the stream: reopened at once.
    fake.invalidate();
    let polled = player
        .poll_at(start + Duration::from_millis(1_700))
        .expect("polls");
    let notice = polled.notice.expect("the user is told");
    assert!(notice.contains("invalidated; reconnected"), "{notice}");
    assert_eq!(fake.opened(), 3);
    assert_eq!(player.counts().reopened, 2);
}

#[test]
fn a_new_stream_waiting_after_its_prefill_is_given_time_to_start() {
    let fake = Arc::new(Fake::with(speakers()));
    let mut player = open_on(&fake, track(), 0).expect("opens");
    let start = Instant::now();
    // The prefill, then nothing (a PulseAudio null sink waits up to 2 s for its first real
    // request): starting, not stopped.
    fake.pull(4_096);
    player.poll_at(start).expect("polls");
    assert!(!player.is_running());
    let polled = player
        .poll_at(start + Duration::from_millis(2_500))
        .expect("polls");
    assert_eq!(polled.notice, None);
    assert_eq!(fake.opened(), 1);
    // 3 s without its next callback: that is a stream that stopped.
    let polled = player
        .poll_at(start + Duration::from_millis(3_100))
        .expect("polls");
    assert!(polled.notice.is_some_and(|n| n.contains("stopped")));
    assert_eq!(fake.opened(), 2);
}

#[test]
fn a_closed_stream_that_keeps_the_engine_is_waited_for_then_reported() {
    let fake = Arc::new(Fake::with(speakers()));
    let track = track();
    let mut player = open_on(&fake, Arc::clone(&track), 0).expect("opens");
    player.send(Command::Play);
    fake.pull(1_000);
    fake.hold_closed_streams();
    fake.invalidate();
    let start = Instant::now();
    let polled = player.poll_at(start).expect("polls");
    // Told at once, though the engine is not back yet.
    assert_eq!(
        polled.notice.as_deref(),
        Some("the output stream was invalidated")
    );
    assert_eq!(fake.opened(), 1);
    let polled = player
        .poll_at(start + Duration::from_millis(500))
        .expect("polls");
    assert_eq!(polled.notice, None);
    // The server lets the stream go: the engine is back and a new stream opens.
    fake.let_go();
    let polled = player
        .poll_at(start + Duration::from_millis(600))
        .expect("polls");
    assert_eq!(
        polled.notice.as_deref(),
        Some("the output stream was invalidated; reconnected to speakers")
    );
    assert_eq!(fake.opened(), 2);
    // One that never lets go: after 5 s the user is told what to do.
    fake.invalidate();
    let later = start + Duration::from_secs(1);
    player.poll_at(later).expect("polls");
    let polled = player
        .poll_at(later + Duration::from_millis(5_100))
        .expect("polls");
    let notice = polled.notice.expect("told");
    assert!(
        notice.contains("did not close; choose the output again"),
        "{notice}"
    );
    let polled = player
        .poll_at(later + Duration::from_millis(5_200))
        .expect("polls");
    assert_eq!(polled.notice, None, "said once");
}

#[test]
fn the_buffer_asked_for_reaches_the_device_within_its_range() {
    let fake = Arc::new(Fake::with(speakers()));
    for (wanted, given) in [(1_024, 1_024), (2_048, 2_048), (65_536, 8_192)] {
        let backend: Arc<dyn Backend> = fake.clone();
        let choice = OutputChoice {
            device: None,
            buffer_frames: wanted,
        };
        let player = Player::open(backend, choice, track(), &neutral(), 0).expect("opens");
        assert_eq!(fake.last_request().map(|r| r.buffer_frames), Some(wanted));
        assert_eq!(player.output().buffer_frames, Some(given));
    }
    assert_eq!(OutputChoice::default().buffer_frames, 2_048);
}

#[test]
fn the_playhead_follows_the_sound_between_callbacks() {
    let fake = Arc::new(Fake::with(speakers()));
    let mut player = open_on(&fake, track(), 0).expect("opens");
    player.send(Command::Play);
    fake.pull(2_048);
    let before = Instant::now();
    fake.pull(2_048);
    let after = Instant::now();
    let position = player.meters().position;
    assert_eq!(position, 4_096);
    // 20 ms after the second callback's sound began (5 ms after the callback): the frame
    // heard is that callback's first plus 20 ms, to within the time the callback took.
    let latency = Duration::from_millis(5);
    let moment = after + latency + Duration::from_millis(20);
    let heard = player.playhead_at(moment) as f64;
    let frames = |d: Duration| d.as_secs_f64() * f64::from(RATE);
    let earliest = 2_048.0 + frames(moment - after - latency);
    let latest = 2_048.0 + frames(moment - before - latency);
    assert!(
        heard >= earliest.floor() && heard <= latest.ceil(),
        "{heard} not in {earliest}..{latest}"
    );
    assert!(heard < position as f64, "not ahead of what was rendered");
    // Paused, it stays where playback stopped.
    player.send(Command::Pause);
    fake.pull(2_048);
    let paused = player.playhead_at(Instant::now() + Duration::from_secs(1));
    assert_eq!(paused, player.meters().position);
}

#[test]
fn a_structural_change_is_built_off_the_audio_thread_and_swapped_in() {
    let fake = Arc::new(Fake::with(speakers()));
    let tone: Vec<f32> = (0..RATE as usize * 2)
        .map(|n| {
            (0.25 * (std::f64::consts::TAU * 1_000.0 * n as f64 / f64::from(RATE)).sin()) as f32
        })
        .collect();
    let track = Arc::new(AudioBuffer::new(RATE, vec![tone.clone(), tone]).expect("buffer"));
    let mut player = open_on(&fake, track, 0).expect("opens");
    player.send(Command::Play);
    fake.pull(4_800);
    let mut boosted = neutral();
    boosted.eq.bands = vec![EqBand {
        enabled: true,
        kind: BandKind::Bell,
        freq_hz: 1_000.0,
        gain_db: 6.0,
        q: 1.0,
        slope: Slope::Db12,
        placement: Placement::Stereo,
    }];
    player.apply(&boosted).expect("valid");
    fake.pull(256); // the engine asks for a rebuild
    player.poll().expect("builds the new chain");
    fake.pull(4_800); // the swap and its crossfade
    let out = fake.pull(4_800);
    let peak = out.chunks(4).fold(0.0f32, |m, f| m.max(f[0].abs()));
    assert!(
        (20.0 * (peak / 0.25).log10() - 6.0).abs() < 0.1,
        "peak {peak}"
    );
    player.poll().expect("drops the retired chain");
    // Invalid settings are refused before they reach the audio thread.
    let mut wild = neutral();
    wild.input.trim_db = 99.0;
    assert!(matches!(player.apply(&wild), Err(PlaybackError::Chain(_))));
}

#[test]
fn without_a_sound_card_playback_is_unavailable_not_a_crash() {
    let usable = output_devices()
        .iter()
        .any(|d| matches!(d.status, DeviceStatus::Available { .. }));
    let result = Player::open(
        Arc::new(CpalBackend),
        OutputChoice::default(),
        track(),
        &neutral(),
        0,
    );
    if !usable {
        match result {
            Err(PlaybackError::NoDevice | PlaybackError::Unavailable { .. }) => {}
            other => panic!("expected no usable device, got {other:?}"),
        }
    }
}
