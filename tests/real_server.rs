//! Playback on a real audio server: a private PulseAudio server with a clocked null sink,
//! `crest play` through cpal's PulseAudio host, the sink's monitor recorded with `parec`, and
//! the recording checked against `crest master --format wav32f --dither none` of the same
//! settings — sample for sample after alignment, so no gap, no dropout, no level change and
//! no stream that died on the way.
//!
//! Needs `pulseaudio`, `parec` and `pactl` (`./scripts/install-system-deps --test`). Without
//! them the test says so and passes, except under CI (`CI=true`), where a missing tool fails.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::scratch;

const RATE: u32 = 44_100;
const SECONDS: usize = 60;

/// A tool on the PATH.
fn tool(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

/// The private server: its process and the environment its clients need.
struct Server {
    process: Child,
    env: Vec<(String, PathBuf)>,
    server: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Server {
    /// Starts PulseAudio in `dir` with one null sink at 44.1 kHz, 32-bit float, and waits until
    /// it answers.
    fn start(dir: &Path) -> Self {
        let home = dir.join("home");
        let runtime = dir.join("run");
        let config = dir.join("config");
        for folder in [&home, &runtime, &config.join("pulse")] {
            std::fs::create_dir_all(folder).expect("server folders");
        }
        std::fs::write(
            config.join("pulse/daemon.conf"),
            "default-sample-rate = 44100\ndefault-sample-format = float32le\n\
             exit-idle-time = -1\nflat-volumes = no\n",
        )
        .expect("daemon.conf");
        let socket = runtime.join("pulse/native");
        // The server writes its cookie there; clients (cpal's PulseAudio host among them)
        // present it.
        let cookie = config.join("pulse/cookie");
        let env = vec![
            ("HOME".to_owned(), home),
            ("XDG_RUNTIME_DIR".to_owned(), runtime),
            ("XDG_CONFIG_HOME".to_owned(), config),
            ("PULSE_COOKIE".to_owned(), cookie),
        ];
        let server = format!("unix:{}", socket.display());
        let log = std::fs::File::create(dir.join("server.log")).expect("server log");
        let process = Command::new("pulseaudio")
            .args([
                "-n",
                "--daemonize=no",
                "--exit-idle-time=-1",
                "--use-pid-file=no",
                "-L",
                &format!(
                    "module-native-protocol-unix auth-anonymous=1 socket={}",
                    socket.display()
                ),
                "-L",
                "module-null-sink sink_name=crest_out rate=44100 format=float32le",
            ])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env_remove("PULSE_SERVER")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("pulseaudio starts");
        let server = Server {
            process,
            env,
            server,
        };
        let started = Instant::now();
        loop {
            let answered = server
                .command("pactl")
                .arg("info")
                .output()
                .is_ok_and(|o| o.status.success());
            if answered {
                return server;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the PulseAudio server did not answer: {}",
                std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A command with the server's environment.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("PULSE_SERVER", &self.server);
        command
    }
}

/// A 60-second programme with known content: pink-ish noise from a fixed seed under a slow
/// swell, and a 220 Hz tone, loud enough that −14 LUFS needs the limiter.
fn programme(path: &Path) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 24,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(path, spec).expect("programme file");
    let mut seed: u32 = 0x1234_5678;
    let mut noise = || {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        f64::from(seed >> 8) / f64::from(1u32 << 24) * 2.0 - 1.0
    };
    let (mut low_l, mut low_r) = (0.0, 0.0);
    for n in 0..SECONDS * RATE as usize {
        let t = n as f64 / f64::from(RATE);
        let swell = 0.55 + 0.45 * (std::f64::consts::TAU * 0.25 * t).sin();
        low_l = 0.97 * low_l + 0.03 * noise();
        low_r = 0.97 * low_r + 0.03 * noise();
        let tone = 0.2 * (std::f64::consts::TAU * 220.0 * t).sin();
        for x in [
            swell * (0.35 * noise() + 2.0 * low_l) + tone,
            swell * (0.35 * noise() + 2.0 * low_r) + tone,
        ] {
            let sample = (x.clamp(-1.0, 1.0) * 8_388_607.0).round() as i32;
            writer.write_sample(sample).expect("sample");
        }
    }
    writer.finalize().expect("programme written");
}

/// Interleaved stereo frames of a 32-bit float WAV.
fn read_master(path: &Path) -> Vec<[f32; 2]> {
    let samples: Vec<f32> = hound::WavReader::open(path)
        .expect("the master")
        .into_samples::<f32>()
        .collect::<Result<_, _>>()
        .expect("samples");
    samples.chunks_exact(2).map(|f| [f[0], f[1]]).collect()
}

/// The recording: raw interleaved stereo float32 little-endian.
fn read_capture(path: &Path) -> Vec<[f32; 2]> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .expect("the recording")
        .read_to_end(&mut bytes)
        .expect("read");
    bytes
        .chunks_exact(8)
        .map(|b| {
            [
                f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                f32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            ]
        })
        .collect()
}

/// Where the master starts in the recording: the offset at which the master's first 4 096
/// frames after its first sound appear exactly.
fn align(master: &[[f32; 2]], capture: &[[f32; 2]]) -> Option<usize> {
    let first = master.iter().position(|f| f[0].abs() > 1e-3)?;
    let window = &master[first..first + 4_096];
    (first..capture.len().saturating_sub(4_096))
        .find(|&j| capture[j..j + 4_096] == *window)
        .map(|j| j - first)
}

#[test]
fn playback_on_a_pulseaudio_server_is_the_exported_master_sample_for_sample() {
    let missing: Vec<&str> = ["pulseaudio", "parec", "pactl"]
        .into_iter()
        .filter(|t| tool(t).is_none())
        .collect();
    if !missing.is_empty() {
        let message = format!(
            "the real-server playback test needs {} (./scripts/install-system-deps --test)",
            missing.join(", ")
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
        eprintln!("skipped: {message}");
        return;
    }
    let dir = scratch("real-server");
    let server = Server::start(&dir);
    let track = dir.join("programme.wav");
    programme(&track);
    let master_path = dir.join("master.wav");
    let crest = env!("CARGO_BIN_EXE_crest");
    let mastered = common::crest(
        &[
            "master",
            "programme.wav",
            "-o",
            "master.wav",
            "--format",
            "wav32f",
            "--dither",
            "none",
            "--target-lufs",
            "-14",
        ],
        &dir,
    );
    assert!(
        mastered.status.success(),
        "crest master: {}",
        String::from_utf8_lossy(&mastered.stderr)
    );

    // Record the sink from before playback starts until after it ends.
    let capture_path = dir.join("capture.raw");
    let mut recorder = server
        .command("parec")
        .args([
            "--device=crest_out.monitor",
            "--format=float32le",
            "--rate=44100",
            "--channels=2",
            "--raw",
        ])
        .arg(&capture_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("parec starts");
    let waiting = Instant::now();
    while std::fs::metadata(&capture_path).map_or(0, |m| m.len()) == 0 {
        assert!(
            waiting.elapsed() < Duration::from_secs(10),
            "parec recorded nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let played = server
        .command(crest)
        .args(["play", &track.to_string_lossy()])
        .args(["--target-lufs", "-14", "--json"])
        .output()
        .expect("crest play runs");
    std::thread::sleep(Duration::from_millis(500));
    let _ = recorder.kill();
    let _ = recorder.wait();
    drop(server);
    assert!(
        played.status.success(),
        "crest play: {}",
        String::from_utf8_lossy(&played.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&played.stdout).expect("crest play --json");
    // The figures docs/performance.md reports (shown with --nocapture).
    eprintln!("crest play: {report}");
    // Played on the server's sink through cpal's PulseAudio host, the whole track, with the
    // stream alive throughout.
    assert_eq!(report["output"]["device"], "Null Output", "{report}");
    assert_eq!(report["output"]["sample_rate"], RATE);
    assert!((report["played_s"].as_f64().unwrap_or(0.0) - SECONDS as f64).abs() < 0.01);
    assert_eq!(report["stream"]["reopened"], 0, "{report}");
    assert_eq!(report["stream"]["underruns"], 0, "{report}");
    assert_eq!(
        report["notices"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );

    let master = read_master(&master_path);
    let capture = read_capture(&capture_path);
    assert_eq!(master.len(), SECONDS * RATE as usize);
    let offset = align(&master, &capture).expect("the master is found in the recording");
    assert!(
        capture.len() >= offset + master.len(),
        "the recording stops {} frames early",
        offset + master.len() - capture.len()
    );
    let heard = &capture[offset..offset + master.len()];
    let differing: Vec<usize> = (0..master.len())
        .filter(|&k| heard[k] != master[k])
        .collect();
    assert!(
        differing.is_empty(),
        "{} of {} frames differ, the first at {:.3} s ({:?} heard, {:?} exported)",
        differing.len(),
        master.len(),
        differing[0] as f64 / f64::from(RATE),
        heard[differing[0]],
        master[differing[0]]
    );
    // Silence before (nothing played twice), and after, once the chain's filters have rung
    // out over the last block (the master stops at the track's last frame).
    assert!(capture[..offset].iter().all(|f| f == &[0.0, 0.0]));
    let after = offset + master.len() + 4_096;
    assert!(
        capture[after.min(capture.len())..]
            .iter()
            .all(|f| f == &[0.0, 0.0])
    );
}

/// Without any output (no sound server, ALSA configured with no devices) `crest play` says
/// so and exits 2; a buffer size it does not offer is refused before anything opens.
#[test]
fn crest_play_without_an_output_or_with_a_wrong_buffer_says_why() {
    let dir = scratch("play-no-output");
    let track = dir.join("programme.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer = hound::WavWriter::create(&track, spec).expect("file");
    for n in 0..RATE as i32 {
        writer.write_sample((n % 200 - 100) as i16).expect("sample");
        writer.write_sample((n % 200 - 100) as i16).expect("sample");
    }
    writer.finalize().expect("written");
    let crest = env!("CARGO_BIN_EXE_crest");
    let nowhere = |args: &[&str]| {
        Command::new(crest)
            .arg("play")
            .arg(&track)
            .args(args)
            .env_remove("PULSE_SERVER")
            .env_remove("PULSE_RUNTIME_PATH")
            .env_remove("XDG_RUNTIME_DIR")
            .env_remove("PIPEWIRE_RUNTIME_DIR")
            .env("ALSA_CONFIG_PATH", dir.join("no-devices.conf"))
            .output()
            .expect("crest play runs")
    };
    std::fs::write(dir.join("no-devices.conf"), "").expect("empty ALSA configuration");
    let played = nowhere(&[]);
    assert_eq!(played.status.code(), Some(2));
    let said = String::from_utf8_lossy(&played.stderr);
    assert!(
        said.contains("no audio output device") || said.contains("cannot be opened"),
        "{said}"
    );
    let played = nowhere(&["--buffer", "100"]);
    assert_eq!(played.status.code(), Some(2));
    let said = String::from_utf8_lossy(&played.stderr);
    assert!(
        said.contains("--buffer 100 is not offered; choose one of: 512, 1024, 2048, 4096"),
        "{said}"
    );
}
