//! The device shell through a fake backend (a device that is missing, refuses, disappears,
//! comes back), and the real one on this machine: no sound card means a clear Unavailable.

use std::f64::consts::TAU;
use std::sync::Arc;

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use crest_engine::AudioBuffer;
use crest_engine::chain::{BandKind, ChainSettings, EqBand, Placement, Slope};
use crest_playback::engine::Command;
use crest_playback::manual::{ManualBackend as Fake, ManualDevice};
use crest_playback::output::{PlaybackError, PlaybackStatus, Player};
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

#[test]
fn missing_refusing_and_rate_refusing_devices_say_so() {
    let open = |backend: &Fake| Player::open(backend, None, track(), &neutral(), 0).map(|_| ());
    assert_eq!(open(&Fake::default()), Err(PlaybackError::NoDevice));
    let busy = Fake::with(ManualDevice {
        refuses: Some("busy"),
        ..speakers()
    });
    let error = open(&busy).expect_err("refused");
    assert!(error.to_string().contains("busy"), "{error}");
    let no_rates = Fake::with(ManualDevice {
        rates: vec![],
        ..speakers()
    });
    match open(&no_rates) {
        Err(PlaybackError::RateRefused { rate, .. }) => assert_eq!(rate, RATE),
        other => panic!("expected a refused rate, got {other:?}"),
    }
}

#[test]
fn a_device_at_another_rate_plays_through_real_time_conversion() {
    let device = Fake::with(ManualDevice {
        rates: vec![44_100],
        channels: 2,
        ..speakers()
    });
    let tone: Vec<f32> = (0..RATE as usize * 2)
        .map(|n| (0.5 * (TAU * 1_000.0 * n as f64 / f64::from(RATE)).sin()) as f32)
        .collect();
    let track = Arc::new(AudioBuffer::new(RATE, vec![tone.clone(), tone]).expect("buffer"));
    let mut player = Player::open(&device, None, track, &neutral(), 0).expect("opens");
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
    let fake = Fake::with(speakers());
    let track = track();
    let mut player = Player::open(&fake, None, Arc::clone(&track), &neutral(), 0).expect("opens");
    assert!(matches!(player.status(), PlaybackStatus::Ready { .. }));
    assert_eq!(player.output().channels, 4);
    player.send(Command::Play);
    let out = fake.pull(1_000);
    // Four device channels: the track on the first two, silence on the others.
    for (k, frame) in out.chunks(4).enumerate() {
        assert_eq!(frame, [track.channel(0)[k], track.channel(1)[k], 0.0, 0.0]);
    }
    let position = player.meters().position;
    assert_eq!(position, 1_000);
    assert_eq!(player.output_latency_ms(), Some(5.0));

    // The device disappears: the player says so instead of failing.
    fake.disconnect();
    match player.status() {
        PlaybackStatus::Unavailable { reason } => assert!(reason.contains("disappeared")),
        other => panic!("expected unavailable, got {other:?}"),
    }
    // A rescan finds it again: playback resumes where it was.
    let back = Fake::with(speakers());
    let mut player =
        Player::open(&back, None, Arc::clone(&track), &neutral(), position).expect("reopens");
    player.send(Command::Play);
    let out = back.pull(10);
    assert_eq!(out[0], track.channel(0)[1_000]);
}

#[test]
fn a_structural_change_is_built_off_the_audio_thread_and_swapped_in() {
    let fake = Fake::with(speakers());
    let tone: Vec<f32> = (0..RATE as usize * 2)
        .map(|n| {
            (0.25 * (std::f64::consts::TAU * 1_000.0 * n as f64 / f64::from(RATE)).sin()) as f32
        })
        .collect();
    let track = Arc::new(AudioBuffer::new(RATE, vec![tone.clone(), tone]).expect("buffer"));
    let mut player = Player::open(&fake, None, track, &neutral(), 0).expect("opens");
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
    let result = Player::open(&CpalBackend, None, track(), &neutral(), 0);
    if !usable {
        match result {
            Err(PlaybackError::NoDevice | PlaybackError::Unavailable { .. }) => {}
            other => panic!("expected no usable device, got {other:?}"),
        }
    }
}
