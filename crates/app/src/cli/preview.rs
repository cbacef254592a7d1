//! `crest preview IN -o OUT.wav [--chain FILE] [--platform ID] [--profile ID] [--level
//! matched|device] [--json]`: the listener path rendered offline — the chain when given, then
//! the monitor path playback uses (platform normalization and limiter, the playback-system
//! emulation at its level, the safety ceiling) — as an undithered stereo 32-bit float WAV,
//! sample for sample what playback puts out. A listening copy for comparison outside Crest,
//! never a master. With a profile it also says what the device costs the track in level, and
//! where.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Args;
use crest_engine::emulation::translation::{Translation, translation};
use crest_engine::emulation::{Emulation, EmulationOptions, LevelMode};
use crest_engine::export::{Dither, ExportRequest, Format, export};
use crest_engine::monitor::{Measured, MonitorStage, SourceGains, render_heard};
use crest_engine::render::render_whole;
use crest_engine::{decode_file_within, loudness};

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The audio file to preview.
    pub input: PathBuf,
    /// Where to write the preview (32-bit float WAV).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Render through this chain (a chain preset, JSON) first, as `crest master` would.
    #[arg(long)]
    pub chain: Option<PathBuf>,
    /// Apply this platform's normalization (an id from `crest targets`).
    #[arg(long)]
    pub platform: Option<String>,
    /// Play it through this playback system (an id from `crest profiles`).
    #[arg(long)]
    pub profile: Option<String>,
    /// Leave out the profile's environment noise (car, club, record surface).
    #[arg(long)]
    pub no_noise: bool,
    /// The profile's level: `matched` plays the track at the loudness it has through the
    /// reference system (compare tone), `device` at the device's own calibration (hear what
    /// it costs in level).
    #[arg(long, value_enum, default_value_t = super::Level::Matched)]
    pub level: super::Level,
    /// Print what was done as one JSON object (with the profile's level report).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub memory: super::MemoryArgs,
}

pub fn run(args: &PreviewArgs) -> ExitCode {
    match preview(args) {
        Ok(report) => {
            println!("{report}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("crest: {message}");
            ExitCode::FAILURE
        }
    }
}

fn preview(args: &PreviewArgs) -> Result<String, String> {
    if args.output == args.input {
        return Err("the preview would overwrite its source; choose another output path".into());
    }
    let listener = super::Listener::find(args.platform.as_deref(), args.profile.as_deref())?;
    let (target, profile) = (listener.platform.as_ref(), listener.profile.as_ref());
    let settings = args.chain.as_deref().map(super::read_chain).transpose()?;
    let decoded =
        decode_file_within(&args.input, &args.memory.mastering()).map_err(|e| e.to_string())?;
    let mut audio = decoded.audio;
    let mut steps = Vec::new();
    let mut report: Option<Translation> = None;
    if let (Some(settings), Some(path)) = (&settings, &args.chain) {
        let rendered = render_whole(&audio, settings).map_err(|e| e.to_string())?;
        audio = rendered.audio;
        steps.push(format!("rendered through the chain in {}", path.display()));
    }
    let rate = audio.sample_rate();
    let gains = match target {
        Some(target) => {
            let measured = Measured::from(&loudness::measure(&audio));
            let n = target.preview(measured.integrated_lufs, measured.true_peak_dbtp);
            steps.push(n.sentence(target));
            SourceGains::platform(target, measured, Measured::default(), Measured::default())
        }
        None => SourceGains::default(),
    };
    let emulation = match profile {
        Some(profile) => {
            // Stereo, as playback builds it: the monitor hears a mono track on both sides.
            let mut emulation =
                Emulation::new(profile, rate, 4_096, 2).map_err(|e| e.to_string())?;
            emulation.set_options(EmulationOptions {
                environment_noise: !args.no_noise,
                solo_lost: false,
            });
            // Measured at the level the track reaches the device: after the platform's gain.
            let reference = super::reference_profile()?;
            let heard_gain_db = 20.0 * f64::from(gains.master).log10();
            // A track too short or too quiet to measure still previews, at the device's
            // level, and says why.
            let measured = translation(
                profile,
                &reference,
                &audio,
                heard_gain_db,
                &AtomicBool::new(false),
            );
            let offset_db = match (&measured, LevelMode::from(args.level)) {
                (Ok(t), LevelMode::Matched) => Some(t.matched_offset_db),
                _ => None,
            };
            let level = match offset_db {
                Some(offset_db) => {
                    emulation.set_level_offset_db(offset_db);
                    format!(
                        "matched to the reference system, {:+.1} dB",
                        emulation.normalization_db() + offset_db
                    )
                }
                None => format!(
                    "at the device's level, {:+.1} dB",
                    emulation.normalization_db()
                ),
            };
            let cost = match &measured {
                Ok(t) => format!("the track {}", t.sentence()),
                Err(e) => format!("what it costs the track was not measured: {e}"),
            };
            steps.push(format!(
                "played through {} ({level}{}); {cost}",
                profile.name,
                if profile.noise.is_some() && !args.no_noise {
                    ", with its environment noise"
                } else {
                    ""
                },
            ));
            report = measured.ok();
            Some(Box::new(emulation) as Box<dyn MonitorStage>)
        }
        None => None,
    };
    let preview = render_heard(&audio, gains, emulation);
    export(
        &preview,
        &ExportRequest {
            path: &args.output,
            format: Format::Wav32f,
            dither: Dither::None,
            force: true,
            source: Some(&args.input),
            tags: None,
        },
        &AtomicBool::new(false),
    )
    .map_err(|e| e.to_string())?;
    let path = args.output.display();
    if steps.is_empty() {
        steps.push("no platform and no profile: the audio is unchanged".into());
    }
    if args.json {
        return Ok(serde_json::json!({
            "output": args.output.display().to_string(),
            "steps": steps,
            "level": LevelMode::from(args.level),
            "translation": report,
        })
        .to_string());
    }
    Ok(format!(
        "Wrote a listening preview (not a master) to {path}: {}.",
        steps.join("; ")
    ))
}
