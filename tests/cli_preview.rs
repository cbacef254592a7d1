//! `crest preview` and playback hear through one monitor path: the preview file of a track
//! through a chain, a platform's normalization with its limiter and a playback-system
//! emulation equals, sample for sample, what playback puts out for the same settings.

mod common;

use std::f64::consts::TAU;
use std::sync::Arc;

use common::{crest, scratch};
use crest_engine::AudioBuffer;
use crest_engine::chain::{Chain, ChainSettings};
use crest_engine::emulation::noise::Pink;
use crest_engine::emulation::translation::translation;
use crest_engine::emulation::{Emulation, EmulationOptions, built_in_profiles};
use crest_engine::loudness;
use crest_engine::monitor::{Measured, SourceGains};
use crest_engine::platform::Targets;
use crest_engine::render::render_whole;
use crest_playback::engine::{Command, Engine, LiveChain, MAX_BLOCK};

const RATE: u32 = 48_000;

/// Three seconds of swelling stereo pink noise around −20 LUFS with peaks near −3 dBFS: a
/// platform in loud mode turns it up into its limiter.
fn programme() -> AudioBuffer {
    let frames = 3 * RATE as usize;
    let channel = |seed| {
        let mut pink = Pink::new(seed);
        (0..frames)
            .map(|n| {
                let swell = 0.5 + 0.5 * (TAU * 0.7 * n as f64 / f64::from(RATE)).sin();
                (pink.sample() * 0.25 * swell) as f32
            })
            .collect()
    };
    AudioBuffer::new(RATE, vec![channel(11), channel(12)]).expect("stereo")
}

fn write_f32_wav(audio: &AudioBuffer, path: &std::path::Path) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("create");
    for k in 0..audio.frames() {
        for c in 0..2 {
            writer.write_sample(audio.channel(c)[k]).expect("sample");
        }
    }
    writer.finalize().expect("finalize");
}

fn read_f32_wav(path: &std::path::Path) -> [Vec<f32>; 2] {
    let mut reader = hound::WavReader::open(path).expect("preview is a WAV");
    assert_eq!(reader.spec().channels, 2);
    let samples: Vec<f32> = reader
        .samples::<f32>()
        .map(|s| s.expect("sample"))
        .collect();
    [0, 1].map(|c| samples.iter().skip(c).step_by(2).copied().collect())
}

#[test]
fn the_preview_file_is_what_playback_puts_out() {
    let dir = scratch("preview-equals-playback");
    let track = programme();
    write_f32_wav(&track, &dir.join("mix.wav"));
    // A chain with a fixed gain (no loudness target), so both render it the same way.
    let mut settings = ChainSettings::gentle_master();
    settings.limiter.target_lufs = None;
    settings.limiter.gain_db = 2.0;
    std::fs::write(
        dir.join("chain.json"),
        serde_json::to_string(&settings).expect("json"),
    )
    .expect("chain file");
    let output = crest(
        &[
            "preview",
            "mix.wav",
            "-o",
            "heard.wav",
            "--chain",
            "chain.json",
            "--platform",
            "spotify-loud",
            "--profile",
            "phone",
            "--no-noise",
        ],
        &dir,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let preview = read_f32_wav(&dir.join("heard.wav"));
    assert_eq!(preview[0].len(), track.frames());

    // Playback of the same track through the same chain, at the gains the desk sends for the
    // master's measured loudness, through the same emulation.
    let master = render_whole(&track, &settings).expect("renders").audio;
    let platform = Targets::built_in()
        .expect("targets")
        .get("spotify-loud")
        .cloned()
        .expect("spotify-loud");
    let measured = Measured::from(&loudness::measure(&master));
    let gains = SourceGains::platform(&platform, measured, measured, measured);
    assert!(gains.master > 1.5, "turned up: {}", gains.master);
    assert!(gains.limit.is_some_and(|l| l.on[0]), "through its limiter");
    let profile = |id: &str| {
        built_in_profiles()
            .expect("profiles")
            .into_iter()
            .find(|p| p.id == id)
            .expect(id)
    };
    let mut emulation = Emulation::new(&profile("phone"), RATE, MAX_BLOCK, 2).expect("emulation");
    emulation.set_options(EmulationOptions {
        environment_noise: false,
        solo_lost: false,
    });
    // The preview's default level: the master as loud through the phone as through the
    // reference system, measured where the platform's gain delivers it.
    let matched = translation(
        &profile("phone"),
        &profile("reference"),
        &master,
        20.0 * f64::from(gains.master).log10(),
        &std::sync::atomic::AtomicBool::new(false),
    )
    .expect("measured");
    assert!(matched.matched_offset_db.abs() > 0.5, "{matched:?}");
    emulation.set_level_offset_db(matched.matched_offset_db);
    let chain = Chain::new(&settings, RATE, MAX_BLOCK, 2).expect("chain");
    let latency = chain.latency_frames();
    let (mut engine, mut remote) = Engine::new(Arc::new(track.clone()), LiveChain::new(chain));
    for command in [
        Command::Gains(gains),
        Command::Emulation(Some(Box::new(emulation))),
    ] {
        remote.commands.push(command).expect("room");
    }
    let mut buffer = vec![0.0f32; 441 * 2];
    // Paused while the monitor's ramps (10 ms) run their course.
    for _ in 0..4 {
        engine.render(&mut buffer, 2);
    }
    remote.commands.push(Command::Play).expect("room");
    let mut played = [Vec::new(), Vec::new()];
    while played[0].len() < latency + track.frames() {
        engine.render(&mut buffer, 2);
        for frame in buffer.chunks(2) {
            played[0].push(frame[0]);
            played[1].push(frame[1]);
        }
    }
    for c in 0..2 {
        let heard = &played[c][latency..latency + track.frames()];
        let first_difference = heard.iter().zip(&preview[c]).position(|(a, b)| a != b);
        assert_eq!(first_difference, None, "channel {c}");
    }
    // And the platform's limiter held the peaks the gain raised: what the phone is fed stays
    // under its ceiling (−1 dBFS) give or take the limiter's 5 ms attack; the phone's own
    // processing reshapes it after that, so the file itself is only checked for sanity.
    let peak = preview
        .iter()
        .flatten()
        .fold(0.0f32, |m, &x| m.max(x.abs()));
    assert!(peak > 0.05 && peak <= 1.0, "{peak}");
}

/// A bass-heavy stereo mix around −20 LUFS: pink noise over a loud 55 Hz line.
fn bass_heavy() -> AudioBuffer {
    let frames = 4 * RATE as usize;
    let channel = |seed| {
        let mut pink = Pink::new(seed);
        (0..frames)
            .map(|n| {
                let t = n as f64 / f64::from(RATE);
                (pink.sample() * 0.15 + 0.3 * (TAU * 55.0 * t).sin()) as f32
            })
            .collect()
    };
    AudioBuffer::new(RATE, vec![channel(21), channel(22)]).expect("stereo")
}

fn lufs_of(channels: [Vec<f32>; 2]) -> f64 {
    loudness::measure(&AudioBuffer::new(RATE, channels.to_vec()).expect("stereo"))
        .integrated_lufs
        .expect("loud enough")
}

#[test]
fn the_preview_plays_a_device_matched_or_at_its_own_level_and_says_what_it_costs() {
    let dir = scratch("preview-levels");
    write_f32_wav(&bass_heavy(), &dir.join("mix.wav"));
    let preview = |out: &str, profile: &str, level: &str| {
        let output = crest(
            &[
                "preview",
                "mix.wav",
                "-o",
                out,
                "--profile",
                profile,
                "--level",
                level,
                "--json",
            ],
            &dir,
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("one JSON object");
        (lufs_of(read_f32_wav(&dir.join(out))), report)
    };
    let (reference, _) = preview("reference.wav", "reference", "matched");
    let (matched, report) = preview("matched.wav", "phone", "matched");
    let (device, device_report) = preview("device.wav", "phone", "device");
    assert_eq!(report["level"], "matched");
    assert_eq!(device_report["level"], "device");
    // Matched: as loud through the phone as through the reference system.
    assert!(
        (matched - reference).abs() <= 0.5,
        "{matched} vs {reference}"
    );
    // Device: the phone's calibration, so the bass it cannot play is loudness lost, and the
    // report says how much and where.
    let t = &report["translation"];
    let loss = t["loss_lu"].as_f64().expect("loss");
    assert!(loss > 3.0, "{t}");
    assert!(
        (reference - device - loss).abs() <= 0.5,
        "device {device}, reference {reference}, loss {loss}"
    );
    assert_eq!(t["regions"][0]["name"], "bass below 150 Hz");
    assert!(t["regions"][0]["change_db"].as_f64().expect("change") < -10.0);
    let said = report["steps"].to_string();
    assert!(said.contains("bass below 150 Hz"), "{said}");
    assert!(
        t["mono_cancellation_lu"].is_number(),
        "a phone sums to mono"
    );
}
