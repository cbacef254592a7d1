//! `crest preview IN -o OUT.wav [--platform ID] [--profile ID]`: the listener path rendered
//! offline — platform normalization, then the playback-system emulation — as an undithered
//! 32-bit float WAV. A listening copy for comparison outside Crest, never a master.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use crest_engine::dsp::dynamics::Compressor;
use crest_engine::emulation::{Emulation, EmulationOptions, built_in_profiles};
use crest_engine::monitor::MonitorStage;
use crest_engine::platform::Targets;
use crest_engine::units::db_to_amp;
use crest_engine::{AudioBuffer, decode_file, loudness};

#[derive(Debug, Args)]
pub struct PreviewArgs {
    /// The audio file to preview.
    pub input: PathBuf,
    /// Where to write the preview (32-bit float WAV).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Apply this platform's normalization (an id from `crest targets`).
    #[arg(long)]
    pub platform: Option<String>,
    /// Play it through this playback system (an id from `crest profiles`).
    #[arg(long)]
    pub profile: Option<String>,
    /// Leave out the profile's environment noise (car, club, record surface).
    #[arg(long)]
    pub no_noise: bool,
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
    let targets = Targets::built_in().map_err(|e| e.to_string())?;
    let target = match &args.platform {
        Some(id) => Some(targets.get(id).ok_or_else(|| {
            format!(
                "unknown platform `{id}`; choose one of: {}",
                targets.ids().join(", ")
            )
        })?),
        None => None,
    };
    let profiles = built_in_profiles().map_err(|e| e.to_string())?;
    let profile = match &args.profile {
        Some(id) => Some(profiles.iter().find(|p| &p.id == id).ok_or_else(|| {
            let ids: Vec<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
            format!("unknown profile `{id}`; choose one of: {}", ids.join(", "))
        })?),
        None => None,
    };
    let decoded = decode_file(&args.input).map_err(|e| e.to_string())?;
    let audio = decoded.audio;
    let rate = audio.sample_rate();
    if audio.channel_count() > 2 {
        return Err(format!(
            "{}: the listener path is stereo; this file has {} channels",
            args.input.display(),
            audio.channel_count()
        ));
    }
    let mut channels = audio.into_channels();
    let mut steps = Vec::new();

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
    write_float_wav(&args.output, rate, &channels)?;
    let path = args.output.display();
    if steps.is_empty() {
        steps.push("no platform and no profile: the audio is unchanged".into());
    }
    Ok(format!(
        "Wrote a listening preview (not a master) to {path}: {}.",
        steps.join("; ")
    ))
}

/// Writes to a temporary file beside the target and renames it into place once complete.
fn write_float_wav(path: &Path, rate: u32, channels: &[Vec<f32>]) -> Result<(), String> {
    let spec = hound::WavSpec {
        channels: channels.len() as u16,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.partial"));
    let write = || -> Result<(), hound::Error> {
        let mut writer = hound::WavWriter::create(&temporary, spec)?;
        for i in 0..channels[0].len() {
            for channel in channels {
                writer.write_sample(channel[i])?;
            }
        }
        writer.finalize()
    };
    if let Err(error) = write() {
        let _ = std::fs::remove_file(&temporary);
        return Err(format!("cannot write {}: {error}", path.display()));
    }
    std::fs::rename(&temporary, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
