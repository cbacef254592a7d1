//! The command-line interface: batch tools over the same engine the GUI uses.

mod analyze;
mod devices;
mod master;
mod preview;
mod profiles;
mod targets;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Crest — a mastering workstation. Run a subcommand for batch work.
#[derive(Debug, Parser)]
#[command(name = "crest", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure loudness (BS.1770 / EBU R 128), peaks and mix health of audio files.
    Analyze(analyze::AnalyzeArgs),
    /// List the streaming and broadcast loudness targets (ids for --platform flags).
    Targets(targets::TargetsArgs),
    /// List the playback-system emulations (ids for --profile flags).
    Profiles(profiles::ProfilesArgs),
    /// List the audio outputs playback can use.
    Devices(devices::DevicesArgs),
    /// Master a mix: chain, loudness target, true-peak limiter, dither; written atomically,
    /// verified, with a QC report beside it.
    Master(master::MasterArgs),
    /// Check any file against a loudness target and a true-peak ceiling (exit 1 on failure).
    Verify(verify::VerifyArgs),
    /// Render what a listener hears (platform normalization, playback system) to a float WAV.
    Preview(preview::PreviewArgs),
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Analyze(args) => analyze::run(&args),
        Command::Targets(args) => targets::run(&args),
        Command::Profiles(args) => profiles::run(&args),
        Command::Preview(args) => preview::run(&args),
        Command::Devices(args) => devices::run(&args),
        Command::Master(args) => master::run(&args),
        Command::Verify(args) => verify::run(&args),
    }
}
