//! `crest verify FILE [--target-lufs X] [--ceiling-dbtp Y] [--true-peak strict] [--json]`:
//! the master's QC checks on any file. Exit status 0 when every check passes, 1 when one
//! fails, 2 when the file cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::RayonJoin;
use clap::Args;
use crest_engine::chain::TruePeakMode;
use crest_engine::loudness::true_peak::strict_true_peak_dbtp;
use crest_engine::qc::{FileFacts, Requirements, evaluate};
use crest_engine::{decode_file_within, loudness};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The file to check.
    pub file: PathBuf,
    /// Integrated loudness it must have (±0.2 LU).
    #[arg(long, allow_hyphen_values = true)]
    pub target_lufs: Option<f64>,
    /// True peak it must not exceed (dBTP; default −1).
    #[arg(long, allow_hyphen_values = true, default_value_t = -1.0)]
    pub ceiling_dbtp: f64,
    /// The meter the ceiling is checked on: standard (BS.1770) or strict (a near-ideal
    /// reconstruction, also reported).
    #[arg(long, value_enum, default_value = "standard")]
    pub true_peak: super::TruePeak,
    /// Print the report as one JSON object (the shape `crest master --json` prints).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub memory: super::MemoryArgs,
}

pub fn run(args: &VerifyArgs) -> ExitCode {
    let decoded = match decode_file_within(&args.file, &args.memory.analysis()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("crest: {e}");
            return ExitCode::from(2);
        }
    };
    let measured = loudness::measure(&decoded.audio);
    let meter = TruePeakMode::from(args.true_peak);
    let strict_true_peak_dbtp = (meter == TruePeakMode::Strict)
        .then(|| {
            let audio = &decoded.audio;
            strict_true_peak_dbtp(audio.channels(), audio.sample_rate(), &RayonJoin)
        })
        .flatten();
    let info = &decoded.info;
    let format = match (info.bits_per_sample, info.float) {
        (Some(bits), true) => format!("{} {bits}-bit float", info.container.to_uppercase()),
        (Some(bits), false) => format!(
            "{} {bits}-bit ({})",
            info.container.to_uppercase(),
            info.codec
        ),
        (None, _) => format!("{} ({})", info.container.to_uppercase(), info.codec),
    };
    let mut report = evaluate(
        FileFacts {
            file: &args.file,
            format: &format,
            sample_rate: decoded.audio.sample_rate(),
            channels: decoded.audio.channel_count(),
            duration_s: decoded.audio.duration_s(),
            measured: &measured,
            strict_true_peak_dbtp,
        },
        Requirements {
            target_lufs: args.target_lufs,
            ceiling_dbtp: Some(args.ceiling_dbtp),
            judged_lufs: None,
            true_peak: meter,
        },
    );
    report.notes.extend(decoded.warnings.iter().cloned());
    if args.json {
        match serde_json::to_string(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("crest: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", report.text());
    }
    ExitCode::from(if report.passed { 0 } else { 1 })
}
