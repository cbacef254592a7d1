//! `crest preview IN -o OUT.wav [--chain FILE] [--platform ID] [--profile ID]`: the listener
//! path rendered offline — the chain when given, platform normalization, then the
//! playback-system emulation — as an undithered 32-bit float WAV. A listening copy for
//! comparison outside Crest, never a master.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Args;
use crest_engine::dsp::dynamics::Compressor;
use crest_engine::emulation::{Emulation, EmulationOptions};
use crest_engine::export::{Dither, ExportRequest, Format, export};
use crest_engine::monitor::MonitorStage;
use crest_engine::render::render_whole;
use crest_engine::units::db_to_amp;
use crest_engine::{AudioBuffer, decode_file_within, loudness};

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
    if let (Some(settings), Some(path)) = (&settings, &args.chain) {
        let rendered = render_whole(&audio, settings).map_err(|e| e.to_string())?;
        audio = rendered.audio;
        steps.push(format!("rendered through the chain in {}", path.display()));
    }
    let rate = audio.sample_rate();
    let mut channels = audio.into_channels();

    if let Some(target) = target {
        let measured = loudness::measure(
            &AudioBuffer::new(rate, channels.clone()).map_err(|e| e.to_string())?,
        );
        let n = target.preview(measured.integrated_lufs, measured.true_peak_dbtp);
        let gain = db_to_amp(n.gain_db);
        let mut limiter = target.limiter.filter(|_| n.gain_db > 0.0).map(|l| {
            // The platform's limiter as its table entry describes it.
            Compressor::new(
                l.ceiling_dbtp,
                100.0,
                0.0,
                l.attack_ms,
                l.release_ms,
                f64::from(rate),
            )
        });
        for i in 0..channels[0].len() {
            let limit = match &mut limiter {
                Some(l) => l.gain_for(
                    channels
                        .iter()
                        .map(|c| f64::from(c[i]) * gain)
                        .fold(0.0, |m, x| m.max(x.abs())),
                ),
                None => 1.0,
            };
            for channel in channels.iter_mut() {
                channel[i] = (f64::from(channel[i]) * gain * limit) as f32;
            }
        }
        steps.push(n.sentence(target));
    }
    if let Some(profile) = profile {
        let mut emulation =
            Emulation::new(profile, rate, 4_096, channels.len()).map_err(|e| e.to_string())?;
        emulation.set_options(EmulationOptions {
            environment_noise: !args.no_noise,
            solo_lost: false,
        });
        let mut planes: Vec<&mut [f32]> = channels.iter_mut().map(Vec::as_mut_slice).collect();
        emulation.process(&mut planes);
        steps.push(format!(
            "played through {} (level-normalized {:+.1} dB{})",
            profile.name,
            emulation.normalization_db(),
            if profile.noise.is_some() && !args.no_noise {
                ", with its environment noise"
            } else {
                ""
            }
        ));
    }
    let preview = AudioBuffer::new(rate, channels).map_err(|e| e.to_string())?;
    export(
        &preview,
        &ExportRequest {
            path: &args.output,
            format: Format::Wav32f,
            dither: Dither::None,
            force: true,
            source: Some(&args.input),
        },
        &AtomicBool::new(false),
    )
    .map_err(|e| e.to_string())?;
    let path = args.output.display();
    if steps.is_empty() {
        steps.push("no platform and no profile: the audio is unchanged".into());
    }
    Ok(format!(
        "Wrote a listening preview (not a master) to {path}: {}.",
        steps.join("; ")
    ))
}
