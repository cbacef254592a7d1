//! `crest play FILE [--chain CHAIN.json] [--target-lufs X] [--platform ID] [--profile ID]
//! [--level matched|device] [--device ID] [--buffer FRAMES] [--start S] [--seconds N]
//! [--json]`: plays a file through
//! the chain and the monitor path on an output device, from the command line — a headless
//! audition, and what automated tests of playback on real audio servers drive.
//!
//! The chain is the one `crest master` would use with the same flags (without `--chain`, the
//! same gentle default), and a loudness target is solved by the same render, so what plays
//! from the start is what `crest master --format wav32f --dither none` writes, sample for
//! sample (from `--start`, after a 10 ms fade-in and with the chain starting there, and
//! unless export's closed loop had to render again under a lower ceiling, which its report
//! says).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use clap::Args;
use crest_engine::decode_file_within;
use crest_engine::emulation::translation::translation_through_chain;
use crest_engine::emulation::{Emulation, EmulationOptions, LevelMode};
use crest_engine::monitor::MonitorStage;
use crest_engine::render::render_whole;
use crest_playback::engine::{Command, MAX_BLOCK, Measured, SourceGains};
use crest_playback::{
    BUFFER_CHOICES, CpalBackend, DEFAULT_BUFFER_FRAMES, OutputChoice, OutputInfo, PlaybackStatus,
    Player, StreamCounts,
};
use serde::Serialize;

/// How often the command looks at the player (its watchdog, its events).
const POLL: Duration = Duration::from_millis(20);
/// How long an output that is gone is waited for before the command gives up.
const GIVE_UP: Duration = Duration::from_secs(10);

#[derive(Debug, Args)]
pub struct PlayArgs {
    /// The audio file to play.
    pub input: PathBuf,
    /// Play through this chain (a chain preset, JSON); default: `crest master`'s.
    #[arg(long)]
    pub chain: Option<PathBuf>,
    /// Reach this integrated loudness (LUFS), solved as `crest master` solves it.
    #[arg(long, allow_hyphen_values = true)]
    pub target_lufs: Option<f64>,
    /// True-peak ceiling (dBTP) for the limiter.
    #[arg(long, allow_hyphen_values = true)]
    pub ceiling_dbtp: Option<f64>,
    /// Hear it as this platform plays it (an id from `crest targets`).
    #[arg(long)]
    pub platform: Option<String>,
    /// Hear it through this playback system (an id from `crest profiles`).
    #[arg(long)]
    pub profile: Option<String>,
    /// The playback system's level: `matched` to the reference system (compare tone), or
    /// the `device`'s own (hear what it costs).
    #[arg(long, value_enum, default_value_t = super::Level::Matched)]
    pub level: super::Level,
    /// The output device (an id from `crest devices`); default: the system's.
    #[arg(long)]
    pub device: Option<String>,
    /// Frames per output buffer (512, 1024, 2048 or 4096).
    #[arg(long, default_value_t = DEFAULT_BUFFER_FRAMES)]
    pub buffer: u32,
    /// Start this many seconds into the file.
    #[arg(long, default_value_t = 0.0)]
    pub start: f64,
    /// Stop after this many seconds (default: play to the end).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// One JSON object (what played, on which output, and how the stream held up) and
    /// nothing else on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub memory: super::MemoryArgs,
}

/// What `crest play` reports when it is done.
#[derive(Debug, Serialize)]
struct Played {
    file: PathBuf,
    output: OutputInfo,
    /// The device's latency as its stream reported it (ms), with any real-time conversion.
    latency_ms: Option<f64>,
    start_s: f64,
    /// Seconds of the track heard.
    played_s: f64,
    /// The limiter gain solved for the loudness target, when one was set.
    solved_gain_db: Option<f64>,
    /// Callbacks, dropouts reported by the device, errors ridden out, reopenings.
    stream: StreamCounts,
    /// What happened to the output while it played.
    notices: Vec<String>,
}

pub fn run(args: &PlayArgs) -> ExitCode {
    match play(args) {
        Ok(played) => {
            if args.json {
                match serde_json::to_string_pretty(&played) {
                    Ok(json) => println!("{json}"),
                    Err(error) => {
                        eprintln!("crest: {error}");
                        return ExitCode::from(2);
                    }
                }
            } else {
                print_summary(&played);
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("crest: {message}");
            ExitCode::from(2)
        }
    }
}

fn print_summary(played: &Played) {
    let o = &played.output;
    let buffer = o
        .buffer_frames
        .map_or(String::new(), |f| format!(", {f}-frame buffer"));
    let latency = played.latency_ms.map_or(String::new(), |ms| {
        format!(", heard {ms:.0} ms after rendering")
    });
    println!(
        "Played {:.1} s of {} from {:.1} s on {} ({} Hz{buffer}{latency}).",
        played.played_s,
        played.file.display(),
        played.start_s,
        o.device,
        o.sample_rate
    );
    if let Some(gain) = played.solved_gain_db {
        println!("Limiter gain solved for the target: {gain:+.2} dB.");
    }
    let s = &played.stream;
    println!(
        "Stream: {} callbacks, {} dropouts, {} errors ridden out, {} reopenings.",
        s.callbacks, s.underruns, s.passing_errors, s.reopened
    );
}

/// Polls the player, says what happened to the output (and keeps it for the report), and
/// tells whether the track ended.
fn poll(player: &mut Player, notices: &mut Vec<String>) -> Result<bool, String> {
    let polled = player.poll().map_err(|e| e.to_string())?;
    if let Some(notice) = polled.notice {
        eprintln!("crest: {notice}");
        notices.push(notice);
    }
    Ok(polled.ended)
}

fn play(args: &PlayArgs) -> Result<Played, String> {
    if !BUFFER_CHOICES.contains(&args.buffer) {
        return Err(format!(
            "--buffer {} is not offered; choose one of: {}",
            args.buffer,
            BUFFER_CHOICES.map(|b| b.to_string()).join(", ")
        ));
    }
    if !(args.start.is_finite() && args.start >= 0.0) {
        return Err(format!("--start {} must be 0 or more seconds", args.start));
    }
    if let Some(seconds) = args.seconds
        && !(seconds.is_finite() && seconds > 0.0)
    {
        return Err(format!("--seconds {seconds} must be more than 0"));
    }
    let listener = super::Listener::find(args.platform.as_deref(), args.profile.as_deref())?;
    let (platform, profile) = (listener.platform.as_ref(), listener.profile.as_ref());
    let chain = args.chain.as_deref().map(super::read_chain).transpose()?;
    let mut settings =
        super::master::effective_settings(chain, None, args.target_lufs, args.ceiling_dbtp)?;
    let decoded =
        decode_file_within(&args.input, &args.memory.mastering()).map_err(|e| e.to_string())?;
    for warning in &decoded.warnings {
        eprintln!("crest: {}: {warning}", args.input.display());
    }
    let audio = Arc::new(decoded.audio);
    let rate = f64::from(audio.sample_rate());
    let start = (args.start * rate).round() as u64;
    if start >= audio.frames() as u64 {
        return Err(format!(
            "--start {} is past the end ({:.1} s)",
            args.start,
            audio.duration_s()
        ));
    }

    // The live chain has no solver: the render `crest master` makes solves the target, and
    // measures the master for the platform's gain.
    let needs_render = settings.limiter.target_lufs.is_some() || platform.is_some();
    let mut solved_gain_db = None;
    let mut master_loudness = Measured::default();
    if needs_render {
        let rendered = render_whole(&audio, &settings).map_err(|e| e.to_string())?;
        if let Some(limiter) = rendered
            .limiter
            .as_ref()
            .filter(|l| l.target_lufs.is_some())
        {
            settings.limiter.gain_db = limiter.gain_db;
            solved_gain_db = Some(limiter.gain_db);
        }
        master_loudness = Measured::from(&crest_engine::loudness::measure(&rendered.audio));
    }

    let choice = OutputChoice {
        device: args.device.clone(),
        buffer_frames: args.buffer,
    };
    let mut player = Player::open(
        Arc::new(CpalBackend),
        choice,
        Arc::clone(&audio),
        &settings,
        start,
    )
    .map_err(|e| e.to_string())?;
    let mut heard_gain_db = 0.0;
    if let Some(platform) = platform {
        let mix = Measured::from(&crest_engine::loudness::measure(&audio));
        let gains = SourceGains::platform(platform, master_loudness, mix, Measured::default());
        heard_gain_db = 20.0 * f64::from(gains.master).log10();
        player.send(Command::Gains(gains));
    }
    if let Some(profile) = profile {
        let mut emulation = Emulation::new(profile, audio.sample_rate(), MAX_BLOCK, 2)
            .map_err(|e| e.to_string())?;
        emulation.set_options(EmulationOptions {
            environment_noise: true,
            solo_lost: false,
        });
        if LevelMode::from(args.level) == LevelMode::Matched {
            // The master as loud through the device as through the reference system: measured
            // on the whole master as it plays, before the transport starts.
            let reference = super::reference_profile()?;
            match translation_through_chain(
                profile,
                &reference,
                &audio,
                &settings,
                heard_gain_db,
                &AtomicBool::new(false),
            ) {
                Ok(measured) => emulation.set_level_offset_db(measured.matched_offset_db),
                // Too short or too quiet to measure: it plays at the device's level.
                Err(e) => eprintln!(
                    "crest: {} plays at its own level; the matched level was not measured: {e}",
                    profile.name
                ),
            }
        }
        player.send(Command::Emulation(Some(
            Box::new(emulation) as Box<dyn MonitorStage>
        )));
    }
    // The transport starts once the output runs (a server's sink can take a moment to ask
    // for more than its prefill), so the start is heard.
    let mut notices = Vec::new();
    let opened = Instant::now();
    while !player.is_running() {
        if opened.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "the output `{}` opened but does not play",
                player.output().device
            ));
        }
        std::thread::sleep(POLL);
        poll(&mut player, &mut notices)?;
    }
    player.send(Command::Play);

    let end = args
        .seconds
        .map(|s| start.saturating_add((s * rate).round() as u64))
        .unwrap_or(u64::MAX);
    let mut ended = false;
    let mut last_heard = start;
    let mut lost_since: Option<Instant> = None;
    loop {
        std::thread::sleep(POLL);
        if poll(&mut player, &mut notices)? {
            ended = true;
            break;
        }
        let heard = player.playhead();
        last_heard = last_heard.max(heard);
        if heard >= end {
            break;
        }
        match player.status() {
            PlaybackStatus::Unavailable { reason } => {
                let since = *lost_since.get_or_insert_with(Instant::now);
                if since.elapsed() > GIVE_UP {
                    return Err(format!("playback stopped: {reason}"));
                }
            }
            PlaybackStatus::Ready { .. } => lost_since = None,
        }
    }
    // Let what the device holds play out (the end of the track), or fade out (a stop).
    if !ended {
        player.send(Command::Pause);
    }
    let latency = player.output_latency_ms().unwrap_or(0.0);
    let buffer_ms = player.output().buffer_frames.map_or(0.0, |f| {
        f64::from(f) * 1_000.0 / f64::from(player.output().sample_rate)
    });
    std::thread::sleep(Duration::from_secs_f64(
        (latency + 2.0 * buffer_ms + 30.0) / 1_000.0,
    ));
    let _ = poll(&mut player, &mut notices);
    let played_frames = if ended {
        audio.frames() as u64 - start
    } else {
        last_heard.min(end) - start
    };
    let output = match player.status() {
        PlaybackStatus::Ready { output } => output,
        PlaybackStatus::Unavailable { reason } => return Err(reason),
    };
    Ok(Played {
        file: args.input.clone(),
        output,
        latency_ms: player.output_latency_ms(),
        start_s: args.start,
        played_s: played_frames as f64 / rate,
        solved_gain_db,
        stream: player.counts(),
        notices,
    })
}
