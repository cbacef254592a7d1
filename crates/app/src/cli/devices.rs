//! `crest devices [--json]`: the audio outputs Crest can play through.

use std::process::ExitCode;

use clap::Args;
use crest_playback::{DeviceStatus, output_devices};

#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// One JSON array of objects (id, name, is_default, status) and nothing else on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &DevicesArgs) -> ExitCode {
    let devices = output_devices();
    if args.json {
        match serde_json::to_string_pretty(&devices) {
            Ok(json) => println!("{json}"),
            Err(error) => {
                eprintln!("crest: {error}");
                return ExitCode::from(2);
            }
        }
        return ExitCode::SUCCESS;
    }
    let usable = devices
        .iter()
        .filter(|d| matches!(d.status, DeviceStatus::Available { .. }))
        .count();
    if usable == 0 {
        println!(
            "No audio output is available: playback is off; analysis and offline \
             rendering still work."
        );
    }
    for device in &devices {
        let default = if device.is_default { " (default)" } else { "" };
        let status = match &device.status {
            DeviceStatus::Available {
                sample_rate,
                channels,
                sample_format,
            } => {
                format!("{sample_rate} Hz, {channels} ch, {sample_format}")
            }
            DeviceStatus::Unavailable { reason } => format!("unavailable: {reason}"),
        };
        println!("{}{default}\n  id: {}\n  {status}", device.name, device.id);
    }
    ExitCode::SUCCESS
}
