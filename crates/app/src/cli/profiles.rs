//! `crest profiles [--json]`: the playback-system emulations Crest knows.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use crest_engine::emulation::{ChannelHandling, built_in_profiles};

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    /// One JSON array of objects (id, name, response curve, provenance, …) and nothing else.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &ProfilesArgs) -> ExitCode {
    let profiles = match built_in_profiles() {
        Ok(profiles) => profiles,
        Err(error) => {
            eprintln!("crest: {error}");
            return ExitCode::from(2);
        }
    };
    let text = if args.json {
        match serde_json::to_string_pretty(&profiles) {
            Ok(json) => json + "\n",
            Err(error) => {
                eprintln!("crest: {error}");
                return ExitCode::from(2);
            }
        }
    } else {
        let mut t = format!(
            "{:<18} {:<22} {:<16} {:<16} {}\n",
            "id", "name", "passband", "channels", "extras"
        );
        for p in &profiles {
            let channels = match p.channels {
                ChannelHandling::Stereo => "stereo".to_owned(),
                ChannelHandling::MonoSum => "mono".to_owned(),
                ChannelHandling::Crossfeed { amount_db } => format!("crossfeed {amount_db:.0} dB"),
                ChannelHandling::MonoBelow { freq_hz } => format!("mono < {freq_hz:.0} Hz"),
            };
            let mut extras = Vec::new();
            if p.device_dsp.is_some() {
                extras.push("device dynamics".to_owned());
            }
            if let Some(noise) = &p.noise {
                extras.push(format!(
                    "noise: {} ({:.0} LUFS)",
                    noise.description, noise.level_lufs
                ));
            }
            let band = format!("{:.0}–{:.0} Hz", p.passband_hz[0], p.passband_hz[1]);
            t.push_str(&format!(
                "{:<18} {:<22} {:<16} {:<16} {}\n",
                p.id,
                p.name,
                band,
                channels,
                extras.join("; ")
            ));
        }
        t.push_str("\nResponse curves and sources: crest profiles --json, or docs/profiles.md.\n");
        t
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
