//! The audio thread's logic through the offline driver: the same samples as the offline
//! render, seek and loop to the frame, A/B at matched loudness without a click or a jump in
//! time, chain swaps without discontinuity, the end of the track, and no allocation.

use std::f64::consts::TAU;
use std::sync::Arc;

use assert_no_alloc::{AllocDisabler, assert_no_alloc};
use crest_engine::AudioBuffer;
use crest_engine::chain::{
    BandKind, Chain, ChainSettings, Crossover, DynamicsSettings, EqBand, MultibandSettings,
    Placement, Slope,
};
use crest_engine::emulation::noise::Pink;
use crest_engine::emulation::{Emulation, EmulationOptions, built_in_profiles};
use crest_engine::loudness;
use crest_engine::monitor::MonitorStage;
use crest_engine::platform::Targets;
use crest_engine::render::render_whole;
use crest_playback::engine::{
    CodecCopy, Command, Engine, Event, Listen, LiveChain, MAX_BLOCK, Measured, Reference, Remote,
    Source, SourceGains, Version, VersionSlot,
};

#[global_allocator]
static ALLOCATOR: AllocDisabler = AllocDisabler;

const RATE: u32 = 48_000;

fn programme(seconds: f64, level: f64) -> AudioBuffer {
    let frames = (seconds * f64::from(RATE)) as usize;
    let channel = |seed| {
        let mut pink = Pink::new(seed);
        (0..frames)
            .map(|n| {
                let swell = 0.6 + 0.4 * (TAU * 0.5 * n as f64 / f64::from(RATE)).sin();
                (pink.sample() * level * swell) as f32
            })
            .collect::<Vec<f32>>()
    };
    AudioBuffer::new(RATE, vec![channel(1), channel(2)]).expect("buffer")
}

fn sine(seconds: f64, amplitude: f64) -> AudioBuffer {
    let frames = (seconds * f64::from(RATE)) as usize;
    let tone: Vec<f32> = (0..frames)
        .map(|n| (amplitude * (TAU * 440.0 * n as f64 / f64::from(RATE)).sin()) as f32)
        .collect();
    AudioBuffer::new(RATE, vec![tone.clone(), tone]).expect("buffer")
}

fn mastering() -> ChainSettings {
    let mut s = ChainSettings::gentle_master();
    s.eq.bands = vec![
        EqBand {
            enabled: true,
            kind: BandKind::LowShelf,
            freq_hz: 100.0,
            gain_db: 1.5,
            q: 0.707,
            slope: Slope::Db12,
            placement: Placement::Stereo,
        },
        EqBand {
            enabled: true,
            kind: BandKind::Bell,
            freq_hz: 2_500.0,
            gain_db: -1.0,
            q: 1.0,
            slope: Slope::Db12,
            placement: Placement::Stereo,
        },
    ];
    s.dynamics = DynamicsSettings {
        bypass: false,
        threshold_db: -20.0,
        ratio: 2.0,
        ..DynamicsSettings::default()
    };
    s.limiter.gain_db = 4.0;
    s
}

fn neutral() -> ChainSettings {
    let mut s = ChainSettings::default();
    s.limiter.bypass = true;
    s
}

fn start(track: &AudioBuffer, settings: &ChainSettings) -> (Engine, Remote) {
    let chain = Chain::new(
        settings,
        track.sample_rate(),
        MAX_BLOCK,
        track.channel_count(),
    )
    .expect("chain");
    Engine::new(Arc::new(track.clone()), LiveChain::new(chain))
}

fn send(remote: &mut Remote, command: Command) {
    remote.commands.push(command).expect("queue has room");
}

/// Runs `blocks` callbacks of `frames` stereo frames; returns the two output channels.
fn run(engine: &mut Engine, frames: usize, blocks: usize) -> [Vec<f32>; 2] {
    let mut out = [Vec::new(), Vec::new()];
    let mut buffer = vec![0.0f32; frames * 2];
    for _ in 0..blocks {
        engine.render(&mut buffer, 2);
        for frame in buffer.chunks(2) {
            out[0].push(frame[0]);
            out[1].push(frame[1]);
        }
    }
    out
}

fn events(remote: &mut Remote) -> Vec<Event> {
    let mut all = Vec::new();
    while let Ok(event) = remote.events.pop() {
        all.push(event);
    }
    all
}

fn largest_step(x: &[f32]) -> f32 {
    x.windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max)
}

#[test]
fn playback_equals_the_offline_render() {
    // The chain as most masters use it, and with a linear-phase three-band compressor whose
    // delay adds to the limiter's.
    let mut linear = mastering();
    linear.dynamics.multiband = Some(MultibandSettings {
        crossover: Crossover::LinearPhase,
        ..MultibandSettings::default()
    });
    for settings in [mastering(), linear] {
        plays_as_rendered(&settings);
    }
}

fn plays_as_rendered(settings: &ChainSettings) {
    let track = programme(3.0, 1.5);
    let offline = render_whole(&track, settings).expect("render").audio;
    let (mut engine, mut remote) = start(&track, settings);
    let latency = Chain::new(settings, RATE, MAX_BLOCK, 2)
        .expect("chain")
        .latency_frames();
    send(&mut remote, Command::Play);
    // Device-sized blocks that do not divide the track (441 frames), the UI reading the
    // master tap as it goes.
    let mut out = [Vec::new(), Vec::new()];
    let mut tapped = [Vec::new(), Vec::new()];
    for _ in 0..(track.frames() + latency) / 441 + 3 {
        let block = run(&mut engine, 441, 1);
        for c in 0..2 {
            out[c].extend_from_slice(&block[c]);
        }
        while let Ok(sample) = remote.master_tap.pop() {
            let c = tapped[0].len() - tapped[1].len();
            tapped[c].push(sample);
        }
    }
    for c in 0..2 {
        let live = &out[c][latency..latency + track.frames()];
        assert_eq!(live, offline.channel(c), "channel {c}");
        // The master tap is the chain's output, before the monitor path.
        assert_eq!(
            &tapped[c][latency..latency + track.frames()],
            offline.channel(c)
        );
    }
    assert!(
        events(&mut remote)
            .iter()
            .any(|e| matches!(e, Event::Ended))
    );
    let meters = remote.meters.take();
    assert!(!meters.playing);
    assert_eq!(meters.dropped, 0);
}

/// Frames of the transport's fades (10 ms at 48 kHz).
const FADE: usize = 480;

#[test]
fn seek_and_loop_land_on_the_frame() {
    let track = programme(2.0, 0.5);
    let (mut engine, mut remote) = start(&track, &neutral());
    send(&mut remote, Command::Seek(10_000));
    send(&mut remote, Command::Play);
    let out = run(&mut engine, 256, 4);
    // Away from the track's start the sound fades in, then it is the track to the frame.
    assert_eq!(out[0][FADE..1_024], track.channel(0)[10_000 + FADE..11_024]);
    for (k, (&heard, &x)) in out[0][..FADE]
        .iter()
        .zip(&track.channel(0)[10_000..])
        .enumerate()
    {
        let gain = (k + 1) as f32 / FADE as f32;
        assert!((heard - x * gain).abs() <= 1e-6, "frame {k}");
    }
    assert_eq!(remote.meters.take().position, 11_024);
    // A loop of 1 000..5 000 frames, entered by seeking into it (after the output fades
    // out): to the frame, with a fade into and out of each wrap.
    send(&mut remote, Command::Loop(Some((1_000, 5_000))));
    send(&mut remote, Command::Seek(4_500));
    let faded = run(&mut engine, FADE, 1);
    assert_eq!(faded[1][FADE - 1], 0.0, "faded out before the seek");
    let out = run(&mut engine, 300, 20);
    let expected: Vec<f32> = (0..6_000)
        .map(|k| track.channel(1)[1_000 + (3_500 + k) % 4_000])
        .collect();
    // Frames of the loop 1 000..5 000 that are at full gain: past the fade-ins, before the
    // fade-outs.
    let full = |k: usize| {
        let at = 1_000 + (3_500 + k) % 4_000;
        k >= FADE && (1_000 + FADE..5_000 - FADE).contains(&at)
    };
    let mut compared = 0;
    for k in (0..6_000).filter(|&k| full(k)) {
        assert_eq!(out[1][k], expected[k], "frame {k}");
        compared += 1;
    }
    assert!(compared > 4_000);
    // The last frame before each wrap is the quietest of its fade.
    assert!(out[1][499].abs() <= expected[499].abs() / FADE as f32 + 1e-6);
    // Leaving the loop plays on to the end, where playback stops by itself.
    send(&mut remote, Command::Loop(None));
    let out = run(&mut engine, 1_000, 100);
    assert!(out[0][out[0].len() - 1_000..].iter().all(|&x| x == 0.0));
    assert!(
        events(&mut remote)
            .iter()
            .any(|e| matches!(e, Event::Ended))
    );
}

/// Seek, pause, stop and loop wraps fade out and in: on a loud sine through a chain with a
/// lookahead, no step between samples is larger than the sine's own steepest one (plus the
/// fade's share), where a cut would jump by up to twice the amplitude.
#[test]
fn seek_pause_stop_and_loop_wraps_are_click_free() {
    let amplitude = 0.8f32;
    let track = sine(3.0, f64::from(amplitude));
    let settings = ChainSettings::default();
    let latency = Chain::new(&settings, RATE, MAX_BLOCK, 2)
        .expect("chain")
        .latency_frames();
    assert!(latency > 0, "the limiter's lookahead is in the path");
    let (mut engine, mut remote) = start(&track, &settings);
    let mut heard: Vec<f32> = Vec::new();
    let mut play = |engine: &mut Engine, frames: usize| {
        // Device buffers that do not line up with the fades.
        let out = run(engine, 333, frames / 333);
        heard.extend_from_slice(&out[0]);
        out
    };
    send(&mut remote, Command::Play);
    play(&mut engine, 24_000);
    send(&mut remote, Command::Seek(70_000));
    play(&mut engine, 24_000);
    send(&mut remote, Command::Pause);
    let paused = play(&mut engine, 12_000);
    assert!(
        paused[0][FADE..].iter().all(|&x| x == 0.0),
        "silent while paused"
    );
    let paused_at = remote.meters.take().position;
    send(&mut remote, Command::Play);
    let resumed = play(&mut engine, 24_000);
    // It resumes where it was heard to stop, to the frame, once the fade-in is over.
    let offset = latency + 2 * FADE;
    let frame = paused_at as usize - latency + offset;
    assert!(
        (resumed[0][offset] - track.channel(0)[frame]).abs() < 1e-6,
        "resumed at {paused_at}"
    );
    send(&mut remote, Command::Stop);
    play(&mut engine, 12_000);
    assert_eq!(remote.meters.take().position, 0);
    // Not a whole number of the sine's periods: a wrap without a fade would jump.
    send(&mut remote, Command::Loop(Some((9_000, 21_050))));
    send(&mut remote, Command::Seek(12_000));
    send(&mut remote, Command::Play);
    play(&mut engine, 48_000);
    let natural = (TAU * 440.0 / f64::from(RATE)) as f32 * amplitude;
    let allowed = natural + amplitude / FADE as f32;
    let step = largest_step(&heard);
    assert!(
        step <= allowed * 1.01,
        "step {step} (the sine's own {natural})"
    );
}

/// The position reported is the frame leaving the chain: through a lookahead, into a loop
/// from before its start, and around its wraps.
#[test]
fn the_position_follows_the_chain_into_and_around_a_loop() {
    let track = programme(1.0, 0.5);
    let settings = ChainSettings::default();
    let latency = Chain::new(&settings, RATE, MAX_BLOCK, 2)
        .expect("chain")
        .latency_frames();
    assert!(latency > 100);
    let (mut engine, mut remote) = start(&track, &settings);
    let (start, end) = (1_000u64, 1_000 + 4 * latency as u64 + 7);
    send(&mut remote, Command::Loop(Some((start, end))));
    send(&mut remote, Command::Play);
    // The n-th frame read: the track from 0 to the loop's end, then the loop again and again.
    let read = |n: u64| {
        if n < end {
            n
        } else {
            start + (n - end) % (end - start)
        }
    };
    let mut rendered = 0u64;
    for _ in 0..200 {
        run(&mut engine, 37, 1);
        rendered += 37;
        let expected = if rendered < latency as u64 {
            0
        } else {
            read(rendered - latency as u64)
        };
        assert_eq!(remote.meters.take().position, expected, "after {rendered}");
    }
}

#[test]
fn ab_is_level_matched_aligned_and_without_a_click() {
    // The chain adds 6 dB (input trim) and a limiter whose latency the mix must match.
    let track = sine(2.0, 0.2);
    let mut settings = ChainSettings::default();
    settings.input.trim_db = 6.0;
    let (mut engine, mut remote) = start(&track, &settings);
    send(
        &mut remote,
        Command::Gains(SourceGains {
            mix: 10f32.powf(6.0 / 20.0),
            ..SourceGains::default()
        }),
    );
    send(&mut remote, Command::Play);
    let master = run(&mut engine, 512, 40);
    send(&mut remote, Command::Listen(Source::Mix));
    let switched = run(&mut engine, 512, 40);
    let level = |x: &[f32]| 20.0 * f64::from(x.iter().fold(0.0f32, |m, v| m.max(v.abs()))).log10();
    let (a, b) = (level(&master[0][10_000..]), level(&switched[0][5_000..]));
    assert!(
        (a - b).abs() < 0.05,
        "master {a:.3} dB, matched mix {b:.3} dB"
    );
    // In time: the mix is delayed by the chain's latency, so after the switch the output is
    // still the track `latency` frames late, now through the matched gain.
    let latency = Chain::new(&settings, RATE, MAX_BLOCK, 2)
        .expect("chain")
        .latency_frames();
    let gain = 10f32.powf(6.0 / 20.0);
    for (k, &heard) in switched[0].iter().enumerate().take(20_000).skip(1_000) {
        let played = master[0].len() + k - latency;
        let expected = track.channel(0)[played] * gain;
        assert!((heard - expected).abs() < 1e-6, "frame {k}");
    }
    // Same phase on both sides of the switch: the output is one continuous sine.
    let joined: Vec<f32> = master[0].iter().chain(&switched[0]).copied().collect();
    let natural = (TAU * 440.0 / f64::from(RATE)) as f32 * 0.2 * 2.0;
    let step = largest_step(&joined[10_000..]);
    assert!(step <= natural * 1.01, "step {step} vs {natural}");
    // And back, through the same crossfade.
    send(&mut remote, Command::Listen(Source::Master));
    let back = run(&mut engine, 512, 10);
    assert!(largest_step(&back[0]) <= natural * 1.01);
}

/// A stand-in for a codec's decoded copy of `track`: the track with its own noise floor
/// added, so that each frame is its own (an offset in time would show).
fn copy_of(track: &AudioBuffer) -> (Arc<AudioBuffer>, Arc<AudioBuffer>) {
    let mut pink = Pink::new(77);
    let decoded: Vec<Vec<f32>> = track
        .channels()
        .iter()
        .map(|c| {
            c.iter()
                .map(|x| x * 0.9 + (pink.sample() * 0.01) as f32)
                .collect()
        })
        .collect();
    let loss: Vec<Vec<f32>> = track
        .channels()
        .iter()
        .zip(&decoded)
        .map(|(m, d)| m.iter().zip(d).map(|(m, d)| m - d).collect())
        .collect();
    (
        Arc::new(AudioBuffer::new(RATE, decoded).expect("copy")),
        Arc::new(AudioBuffer::new(RATE, loss).expect("loss")),
    )
}

#[test]
fn the_codec_copy_plays_in_time_with_the_mix_through_seeks_and_loops() {
    // A limiter's lookahead: the copy is read as late as the mix is delayed.
    let track = programme(3.0, 0.2);
    let settings = ChainSettings::default();
    let latency = Chain::new(&settings, RATE, MAX_BLOCK, 2)
        .expect("chain")
        .latency_frames();
    assert!(latency > 0);
    let (decoded, loss) = copy_of(&track);
    let copy = CodecCopy::new(Arc::clone(&decoded), Arc::clone(&loss), &track).expect("fits");
    // A copy of another length is refused.
    let short = Arc::new(AudioBuffer::new(RATE, vec![vec![0.0; 10]; 2]).expect("short"));
    assert!(CodecCopy::new(Arc::clone(&short), short, &track).is_none());
    let (mut engine, mut remote) = start(&track, &settings);
    send(&mut remote, Command::Codec(Some(Box::new(copy))));
    send(&mut remote, Command::Listen(Source::Codec));
    send(&mut remote, Command::Play);
    let heard = run(&mut engine, 480, 100);
    // After the switch's crossfade, what is heard is the copy `latency` frames late.
    for (k, &sample) in heard[0].iter().enumerate().skip(2_000) {
        let expected = decoded.channel(0)[k - latency];
        assert!((sample - expected).abs() < 1e-6, "frame {k}");
    }
    // What it loses, at the same place.
    send(&mut remote, Command::Listen(Source::CodecLoss));
    let lost = run(&mut engine, 480, 40);
    let played = heard[0].len();
    for (k, &sample) in lost[1].iter().enumerate().skip(2_000) {
        let expected = loss.channel(1)[played + k - latency];
        assert!((sample - expected).abs() < 1e-6, "frame {k}");
    }
    // A loop: the copy follows the track back to the loop's start, in time.
    send(&mut remote, Command::Listen(Source::Codec));
    send(&mut remote, Command::Loop(Some((48_000, 72_000))));
    send(&mut remote, Command::Seek(48_000));
    let looped = run(&mut engine, 480, 200);
    // The same commands to an engine whose track is the copy itself, heard as its mix: the
    // copy as the track's delayed mix would be, which is what the codec slot must play.
    let copy_track = AudioBuffer::new(RATE, decoded.channels().to_vec()).expect("copy");
    let (mut other, mut other_remote) = start(&copy_track, &settings);
    send(&mut other_remote, Command::Listen(Source::Mix));
    send(&mut other_remote, Command::Play);
    let _ = run(&mut other, 480, 140);
    send(&mut other_remote, Command::Loop(Some((48_000, 72_000))));
    send(&mut other_remote, Command::Seek(48_000));
    let expected = run(&mut other, 480, 200);
    // Past the source switch's crossfade, the same samples, through the seek's fades and
    // two loop wraps.
    for c in 0..2 {
        for (k, (&a, &b)) in looped[c].iter().zip(&expected[c]).enumerate().skip(2_000) {
            assert!(
                (a - b).abs() < 1e-6,
                "channel {c}, frame {k}: {a} against {b}"
            );
        }
    }
    // Taken away (the desk turns to the master with it): the old copy comes back to be
    // dropped off the audio thread once the source has faded from it.
    send(&mut remote, Command::Codec(None));
    send(&mut remote, Command::Listen(Source::Master));
    let _ = run(&mut engine, 480, 3);
    assert!(
        events(&mut remote)
            .iter()
            .any(|e| matches!(e, Event::RetiredCodec(_)))
    );
}

#[test]
fn a_version_plays_in_time_and_fades_out_before_it_goes_back() {
    let track = programme(3.0, 0.2);
    let settings = ChainSettings::default();
    let latency = Chain::new(&settings, RATE, MAX_BLOCK, 2)
        .expect("chain")
        .latency_frames();
    // Another version of the master: the track at half level.
    let half: Vec<Vec<f32>> = track
        .channels()
        .iter()
        .map(|c| c.iter().map(|x| 0.5 * x).collect())
        .collect();
    let half = Arc::new(AudioBuffer::new(RATE, half).expect("version"));
    let short = Arc::new(AudioBuffer::new(RATE, vec![vec![0.0; 10]; 2]).expect("short"));
    assert!(Version::new(short, &track).is_none(), "another length");
    let version = Version::new(Arc::clone(&half), &track).expect("fits");
    let (mut engine, mut remote) = start(&track, &settings);
    let second = VersionSlot::Second;
    send(
        &mut remote,
        Command::Version(second, Some(Box::new(version))),
    );
    send(&mut remote, Command::Listen(Source::Version(second)));
    send(&mut remote, Command::Play);
    let heard = run(&mut engine, 480, 100);
    // Past the switch's crossfade, the version `latency` frames late, as the master is.
    for (k, &sample) in heard[0].iter().enumerate().skip(2_000) {
        let expected = half.channel(0)[k - latency];
        assert!((sample - expected).abs() < 1e-6, "frame {k}");
    }
    // Taken away while heard, as the source turns back to the master: it plays on through
    // the crossfade (no step to silence), then comes back to be dropped off the audio thread.
    send(&mut remote, Command::Listen(Source::Master));
    send(&mut remote, Command::Version(second, None));
    let after = run(&mut engine, 480, 10);
    let played = heard[0].len();
    let master = |k: usize| track.channel(0)[played + k - latency];
    let version = |k: usize| half.channel(0)[played + k - latency];
    for (k, &sample) in after[0].iter().enumerate().take(480) {
        let (low, high) = (master(k).min(version(k)), master(k).max(version(k)));
        assert!(
            sample >= low - 1e-6 && sample <= high + 1e-6,
            "frame {k}: {sample} outside {low}..{high}"
        );
    }
    assert!(
        events(&mut remote)
            .iter()
            .any(|e| matches!(e, Event::RetiredVersion(_)))
    );
}

#[test]
fn a_new_chain_crossfades_in_and_the_old_one_comes_back() {
    let track = sine(3.0, 0.3);
    let settings = neutral();
    let (mut engine, mut remote) = start(&track, &settings);
    send(&mut remote, Command::Play);
    let before = run(&mut engine, 480, 50);
    // A structural change: a band added. The engine says so; the UI builds and swaps.
    let mut louder = settings.clone();
    louder.eq.bands = vec![EqBand {
        enabled: true,
        kind: BandKind::Bell,
        freq_hz: 440.0,
        gain_db: 3.0,
        q: 1.0,
        slope: Slope::Db12,
        placement: Placement::Stereo,
    }];
    send(&mut remote, Command::Apply(Box::new(louder.clone())));
    let asked = run(&mut engine, 480, 1);
    let rebuild = events(&mut remote);
    assert!(matches!(rebuild.as_slice(), [Event::NeedsRebuild(_)]));
    let chain = Chain::new(&louder, RATE, MAX_BLOCK, 2).expect("chain");
    send(&mut remote, Command::Swap(Box::new(LiveChain::new(chain))));
    let after = run(&mut engine, 480, 50);
    let natural = (TAU * 440.0 / f64::from(RATE)) as f32 * 0.3 * 10f32.powf(3.0 / 20.0);
    let joined = [
        before[0].as_slice(),
        asked[0].as_slice(),
        after[0].as_slice(),
    ]
    .concat();
    let step = largest_step(&joined[20_000..]);
    assert!(step <= natural * 1.05, "step {step} vs {natural}");
    let peak = after[0][10_000..]
        .iter()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(
        (20.0 * (peak / 0.3).log10() - 3.0).abs() < 0.1,
        "peak {peak}"
    );
    assert!(
        events(&mut remote)
            .iter()
            .any(|e| matches!(e, Event::Retired(_)))
    );
}

#[test]
fn the_monitor_dims_solos_and_never_exceeds_its_ceiling() {
    let left: Vec<f32> = vec![0.5; 4_800];
    let right: Vec<f32> = vec![0.1; 4_800];
    let track = AudioBuffer::new(RATE, vec![left, right]).expect("buffer");
    let (mut engine, mut remote) = start(&track, &neutral());
    send(&mut remote, Command::Play);
    send(
        &mut remote,
        Command::Monitor {
            listen: Listen::Mid,
            dim: false,
        },
    );
    let out = run(&mut engine, 100, 1);
    assert!((out[0][50] - 0.3).abs() < 1e-6 && (out[1][50] - 0.3).abs() < 1e-6);
    send(
        &mut remote,
        Command::Monitor {
            listen: Listen::Side,
            dim: true,
        },
    );
    // Dim glides down over the monitor's 10 ms ramp (480 frames), never in one step.
    let out = run(&mut engine, 100, 6);
    let side = 0.2f32;
    assert!(
        out[0].windows(2).all(|w| w[1] <= w[0] + 1e-7),
        "falls steadily"
    );
    let largest_step = out[0]
        .windows(2)
        .map(|w| (w[0] - w[1]).abs())
        .fold(0.0, f32::max);
    assert!(largest_step < side * 0.9 / 400.0, "step {largest_step}");
    assert!((out[0][100] - side * (1.0 - 0.9 * 101.0 / 480.0)).abs() < 1e-5);
    assert!((out[0][550] - side * 0.1).abs() < 1e-6);
    // A wild 24 dB boost is held at the monitor's ceiling; the master tap still shows it.
    let mut wild = neutral();
    wild.input.trim_db = 24.0;
    let (mut engine, mut remote) = start(&track, &wild);
    send(&mut remote, Command::Play);
    let out = run(&mut engine, 100, 1);
    assert!(out[0].iter().all(|x| x.abs() <= 1.0));
    assert!(out[0].iter().any(|x| x.abs() == 1.0), "held at full scale");
    let mut tapped_peak = 0.0f32;
    while let Ok(x) = remote.master_tap.pop() {
        tapped_peak = tapped_peak.max(x.abs());
    }
    assert!(tapped_peak > 5.0, "{tapped_peak}");
}

#[test]
fn the_callback_never_allocates() {
    let track = programme(2.0, 1.0);
    let settings = mastering();
    let (mut engine, mut remote) = start(&track, &settings);
    let mut moved = settings.clone();
    moved.eq.bands[0].gain_db = 1.0;
    moved.limiter.gain_db = 3.0;
    let mut structural = settings.clone();
    structural.eq.bands.pop();
    let swap_in = LiveChain::new(Chain::new(&structural, RATE, MAX_BLOCK, 2).expect("chain"));
    let mut buffer = vec![0.0f32; 2 * 1_024];
    send(&mut remote, Command::Play);
    assert_no_alloc(|| engine.render(&mut buffer, 2));
    send(&mut remote, Command::Seek(30_000));
    send(&mut remote, Command::Loop(Some((30_000, 60_000))));
    send(&mut remote, Command::Apply(Box::new(moved)));
    send(&mut remote, Command::Listen(Source::Mix));
    send(
        &mut remote,
        Command::Gains(SourceGains {
            mix: 0.5,
            reference: 0.7,
            ..SourceGains::default()
        }),
    );
    send(
        &mut remote,
        Command::Reference(Some(Box::new(
            Reference::new(Arc::new(sine(1.0, 0.1)), RATE).expect("same rate"),
        ))),
    );
    send(&mut remote, Command::Emulation(Some(phone())));
    send(&mut remote, Command::Swap(Box::new(swap_in)));
    assert_no_alloc(|| {
        for _ in 0..50 {
            engine.render(&mut buffer, 2);
        }
    });
    send(&mut remote, Command::Listen(Source::Reference));
    send(&mut remote, Command::Emulation(None));
    send(&mut remote, Command::Reference(None));
    assert_no_alloc(|| {
        for _ in 0..50 {
            engine.render(&mut buffer, 2);
        }
    });
    let returned = events(&mut remote);
    assert!(returned.iter().any(|e| matches!(e, Event::Applied(_))));
    assert!(returned.iter().any(|e| matches!(e, Event::Retired(_))));
    assert!(
        returned
            .iter()
            .any(|e| matches!(e, Event::RetiredEmulation(_)))
    );
    assert!(
        returned
            .iter()
            .any(|e| matches!(e, Event::RetiredReference(_)))
    );
}

fn phone() -> Box<dyn MonitorStage> {
    let profiles = built_in_profiles().expect("profiles");
    let phone = profiles.iter().find(|p| p.id == "phone").expect("phone");
    let mut stage = Emulation::new(phone, RATE, MAX_BLOCK, 2).expect("emulation");
    stage.set_options(EmulationOptions {
        environment_noise: false,
        solo_lost: false,
    });
    Box::new(stage)
}

#[test]
fn the_reference_keeps_its_own_playhead_at_its_matched_gain() {
    let track = sine(2.0, 0.2);
    let reference_audio = programme(1.0, 0.3);
    let (mut engine, mut remote) = start(&track, &neutral());
    send(
        &mut remote,
        Command::Gains(SourceGains {
            reference: 0.5,
            ..SourceGains::default()
        }),
    );
    send(
        &mut remote,
        Command::Reference(Some(Box::new(
            Reference::new(Arc::new(reference_audio.clone()), RATE).expect("same rate"),
        ))),
    );
    send(&mut remote, Command::Play);
    run(&mut engine, 480, 10);
    send(&mut remote, Command::Listen(Source::Reference));
    let heard = run(&mut engine, 480, 10);
    // After the 10 ms fade: the reference from its own start, at its gain.
    let expected: Vec<f32> = reference_audio.channel(1)[480..4_800]
        .iter()
        .map(|x| x * 0.5)
        .collect();
    assert_eq!(heard[1][480..4_800], expected);
    // Away and back: it resumes where it was left.
    send(&mut remote, Command::Listen(Source::Master));
    run(&mut engine, 480, 10);
    send(&mut remote, Command::Listen(Source::Reference));
    let again = run(&mut engine, 480, 10);
    // 480 frames fading out after the switch away, then it stood still; 480 fading back in.
    let resumed_at = 4_800 + 480;
    assert_eq!(
        again[0][1_000],
        reference_audio.channel(0)[resumed_at + 1_000] * 0.5
    );
    // A reference at another rate is refused (the UI converts it first).
    let other_rate = AudioBuffer::new(44_100, vec![vec![0.1; 100]]).expect("buffer");
    assert!(Reference::new(Arc::new(other_rate), RATE).is_none());
}

#[test]
fn an_emulation_changes_what_is_heard_not_the_master_and_fades_in() {
    let track = programme(2.0, 0.2);
    let (mut engine, mut remote) = start(&track, &neutral());
    send(&mut remote, Command::Play);
    let plain = run(&mut engine, 480, 20);
    send(&mut remote, Command::Emulation(Some(phone())));
    let through_phone = run(&mut engine, 480, 40);
    // The phone takes the low end away: the output is no longer the track.
    let offset = 9_600;
    let difference: f32 = (4_800..19_200)
        .map(|k| (through_phone[0][k] - track.channel(0)[offset + k]).abs())
        .sum();
    assert!(difference > 10.0, "{difference}");
    // The master tap still carries the chain's output, untouched by the emulation.
    let mut tapped = Vec::new();
    while let Ok(x) = remote.master_tap.pop() {
        tapped.push(x);
    }
    let master_left: Vec<f32> = tapped.iter().step_by(2).copied().collect();
    assert_eq!(
        master_left[offset..offset + 1_000],
        track.channel(0)[offset..offset + 1_000]
    );
    // The switch is a fade, not a jump: no step beyond what the programme itself makes.
    let natural = largest_step(&plain[0]);
    let joined = [plain[0].as_slice(), through_phone[0].as_slice()].concat();
    assert!(largest_step(&joined) <= natural * 1.5);
}

#[test]
fn meters_read_the_master_whatever_the_monitor_does() {
    // EBU Tech 3341 case 1: a stereo 1 kHz sine at −23 dBFS reads −23 LUFS.
    let amplitude = 10f64.powf(-23.0 / 20.0);
    let frames = RATE as usize * 2;
    let tone: Vec<f32> = (0..frames)
        .map(|n| (amplitude * (TAU * 1_000.0 * n as f64 / f64::from(RATE)).sin()) as f32)
        .collect();
    let track = AudioBuffer::new(RATE, vec![tone.clone(), tone]).expect("buffer");
    let (mut engine, mut remote) = start(&track, &neutral());
    send(&mut remote, Command::Play);
    // What is heard: side only (nothing, for identical channels), dimmed.
    send(
        &mut remote,
        Command::Monitor {
            listen: Listen::Side,
            dim: true,
        },
    );
    // The master tap (which the desk's meters read) carries the master, interleaved; read
    // as the desk does, between callbacks.
    let mut tapped = [Vec::new(), Vec::new()];
    let mut next = 0;
    for _ in 0..10 {
        run(&mut engine, 480, 20);
        while let Ok(x) = remote.master_tap.pop() {
            tapped[next].push(x);
            next = 1 - next;
        }
    }
    assert_eq!(tapped[0].len(), 200 * 480);
    let tapped = AudioBuffer::new(RATE, tapped.to_vec()).expect("buffer");
    let measured = loudness::measure(&tapped);
    let lufs = measured.integrated_lufs.expect("loud enough");
    assert!((lufs + 23.0).abs() < 0.1, "{lufs}");
    let peak = crest_engine::dsp::abs_peak(tapped.channel(1));
    assert!((f64::from(peak) / amplitude - 1.0).abs() < 0.01, "{peak}");
    // The heard tap carries the side signal: silence.
    let mut heard = 0;
    while let Ok(x) = remote.heard_tap.pop() {
        assert_eq!(x, 0.0);
        heard += 1;
    }
    assert!(heard > 0);
}

/// Plays the whole track from the start with `source` heard; returns the heard audio with
/// the chain's latency removed.
fn play_through(
    engine: &mut Engine,
    remote: &mut Remote,
    source: Source,
    frames: usize,
    latency: usize,
) -> AudioBuffer {
    send(remote, Command::Stop);
    send(remote, Command::Listen(source));
    send(remote, Command::Play);
    let out = run(engine, 480, (frames + latency) / 480 + 2);
    let heard: Vec<Vec<f32>> = out
        .iter()
        .map(|c| c[latency..latency + frames].to_vec())
        .collect();
    AudioBuffer::new(RATE, heard).expect("buffer")
}

#[test]
fn ab_and_platform_preview_match_loudness_as_measured() {
    let track = programme(6.0, 0.1);
    let settings = mastering();
    let master = render_whole(&track, &settings).expect("render").audio;
    let measured = |audio: &AudioBuffer| Measured::from(&loudness::measure(audio));
    let (master_m, mix_m) = (measured(&master), measured(&track));
    let lufs = |audio: &AudioBuffer| loudness::integrated_lufs(audio).expect("loud enough");
    let louder = master_m.integrated_lufs.expect("I") - mix_m.integrated_lufs.expect("I");
    assert!(louder > 2.0, "the chain makes it louder: {louder:.2} LU");
    let latency = Chain::new(&settings, RATE, MAX_BLOCK, 2)
        .expect("chain")
        .latency_frames();
    let (mut engine, mut remote) = start(&track, &settings);

    // Platform preview off: the mix is heard at the master's loudness.
    let gains = SourceGains::matched(master_m, mix_m, Measured::default());
    send(&mut remote, Command::Gains(gains));
    let [a, b] = [Source::Master, Source::Mix]
        .map(|source| play_through(&mut engine, &mut remote, source, track.frames(), latency));
    let (la, lb) = (lufs(&a), lufs(&b));
    assert!((la - lb).abs() < 0.5, "master {la:.2}, mix {lb:.2} LUFS");
    assert!((la - master_m.integrated_lufs.expect("I")).abs() < 0.05);

    // Platform preview on (Spotify): each at the platform's gain for its own loudness.
    let targets = Targets::built_in().expect("targets");
    let spotify = targets.get("spotify").expect("spotify");
    let gains = SourceGains::platform(spotify, master_m, mix_m, Measured::default());
    send(&mut remote, Command::Gains(gains));
    let [a, b] = [Source::Master, Source::Mix]
        .map(|source| play_through(&mut engine, &mut remote, source, track.frames(), latency));
    for (name, heard, m) in [("master", &a, master_m), ("mix", &b, mix_m)] {
        let expected = spotify.preview(m.integrated_lufs, m.true_peak_dbtp);
        let got = lufs(heard);
        let want = expected.resulting_lufs.expect("measured");
        assert!(
            (got - want).abs() < 0.1,
            "{name}: {got:.2} vs {want:.2} LUFS"
        );
    }
}

/// What is heard under heavy limiting equals the exported master (WAV 32-bit float, no
/// dither), sample for sample: playback's limiter works to the same ceiling as export's.
#[test]
fn playback_under_heavy_limiting_equals_the_exported_master() {
    use crest_engine::export::{Dither, Format};
    use crest_engine::master::{MasterRequest, MasterSource, master};
    use crest_engine::render::RenderControl;

    let track = programme(4.0, 3.0);
    let mut settings = mastering();
    settings.limiter.gain_db = 12.0;
    let folder = tempfile::tempdir().expect("temporary folder");
    let path = folder.path().join("master.wav");
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let mastered = master(
        MasterRequest {
            audio: MasterSource::Borrowed(&track),
            source_path: None,
            settings: &settings,
            format: Format::Wav32f,
            dither: Dither::None,
            sample_rate: None,
            output: &path,
            force: false,
            judged_lufs: None,
            tags: None,
            codec_safe: None,
        },
        RenderControl {
            progress: &mut |_| {},
            cancel: &cancel,
        },
    )
    .expect("master");
    let reduction = mastered
        .report
        .limiter
        .as_ref()
        .map_or(0.0, |l| l.peak_reduction_db);
    assert!(reduction > 6.0, "heavy limiting: {reduction} dB");
    let samples: Vec<f32> = hound::WavReader::open(&path)
        .expect("the master")
        .into_samples::<f32>()
        .collect::<Result<_, _>>()
        .expect("samples");
    let exported: [Vec<f32>; 2] =
        [0, 1].map(|c| samples.iter().skip(c).step_by(2).copied().collect());

    let latency = Chain::new(&settings, RATE, MAX_BLOCK, 2)
        .expect("chain")
        .latency_frames();
    let (mut engine, mut remote) = start(&track, &settings);
    send(&mut remote, Command::Play);
    let live = run(&mut engine, 1_024, (track.frames() + latency) / 1_024 + 2);
    for c in 0..2 {
        let heard = &live[c][latency..latency + track.frames()];
        let worst = heard
            .iter()
            .zip(&exported[c])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert_eq!(worst, 0.0, "channel {c}: largest difference {worst:e}");
    }
}

#[test]
fn the_codec_copy_stays_continuous_through_a_chain_swap_and_when_taken_away() {
    let track = sine(2.0, 0.2);
    let settings = ChainSettings::default();
    let decoded: Vec<Vec<f32>> = track
        .channels()
        .iter()
        .map(|c| c.iter().map(|x| x * 0.9).collect())
        .collect();
    let loss: Vec<Vec<f32>> = track
        .channels()
        .iter()
        .map(|c| c.iter().map(|x| x * 0.1).collect())
        .collect();
    let copy = || {
        CodecCopy::new(
            Arc::new(AudioBuffer::new(RATE, decoded.clone()).expect("copy")),
            Arc::new(AudioBuffer::new(RATE, loss.clone()).expect("loss")),
            &track,
        )
        .expect("fits")
    };
    let (mut engine, mut remote) = start(&track, &settings);
    send(&mut remote, Command::Codec(Some(Box::new(copy()))));
    send(&mut remote, Command::Listen(Source::Codec));
    send(&mut remote, Command::Play);
    let before = run(&mut engine, 480, 20);
    // A new chain (as a structural edit builds): the copy heard does not drop out while the
    // new chain fills its lookahead, nor step when it takes over.
    let chain = Chain::new(&settings, RATE, MAX_BLOCK, 2).expect("chain");
    send(&mut remote, Command::Swap(Box::new(LiveChain::new(chain))));
    let during = run(&mut engine, 480, 20);
    // A fresh copy (after an edit) crossfades in; then the copy is taken away as the desk
    // does it, back to the master: no click either time.
    send(&mut remote, Command::Codec(Some(Box::new(copy()))));
    let refreshed = run(&mut engine, 480, 10);
    send(&mut remote, Command::Codec(None));
    send(&mut remote, Command::Listen(Source::Master));
    let after = run(&mut engine, 480, 20);
    let joined: Vec<f32> = [&before[0], &during[0], &refreshed[0], &after[0]]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    let natural = (TAU * 440.0 / f64::from(RATE)) as f32 * 0.2;
    let step = largest_step(&joined[2_000..]);
    assert!(step <= natural * 1.05, "step {step} vs {natural}");
    // And the copy was heard all through the swap: its level never sagged.
    let peak = |x: &[f32]| x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for block in during[0].chunks(120) {
        assert!(peak(block) > 0.9 * 0.2 * 0.9, "{}", peak(block));
    }
    // The copy taken away came back once the source had faded to the master.
    assert!(
        events(&mut remote)
            .iter()
            .filter(|e| matches!(e, Event::RetiredCodec(_)))
            .count()
            == 2
    );
}
