//! `crest analyze FILE... [--json] [--series]`

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use crest_engine::DecodeError;
use crest_engine::analysis::{Analysis, AnalysisOptions, analyze_demo, analyze_file};
use crest_engine::platform::{Normalization, Target, TargetKind, Targets};
use rayon::prelude::*;

use crate::RayonJoin;
use serde_json::{Map, Value, json};

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Audio files (WAV, FLAC, MP3, Ogg Vorbis, AIFF, MP4/M4A with AAC or ALAC, CAF, MKV).
    #[arg(required_unless_present = "demo")]
    pub files: Vec<PathBuf>,
    /// With --json: add the long-term average spectrum (1/12-octave bands, dBFS RMS).
    #[arg(long, requires = "json")]
    pub spectrum: bool,
    /// Analyse Crest's built-in demo mix (reported as file "demo").
    #[arg(long)]
    pub demo: bool,
    /// One JSON object per line per file instead of a table.
    #[arg(long)]
    pub json: bool,
    /// With --json: add the momentary (10 ms hop) and short-term (100 ms hop) histories.
    #[arg(long, requires = "json")]
    pub series: bool,
    #[command(flatten)]
    pub memory: super::MemoryArgs,
}

pub fn run(args: &AnalyzeArgs) -> ExitCode {
    let targets = match Targets::built_in() {
        Ok(targets) => targets,
        Err(error) => {
            eprintln!("crest: {error}");
            return ExitCode::from(2);
        }
    };
    let options = AnalysisOptions {
        spectrum: args.spectrum,
    };
    let limits = args.memory.analysis();
    // Files are independent jobs: analyse them on all cores, print in argument order.
    let mut results: Vec<(String, Result<Analysis, DecodeError>)> = args
        .files
        .par_iter()
        .map(|path| {
            (
                path.display().to_string(),
                analyze_file(path, &limits, options, &RayonJoin),
            )
        })
        .collect();
    if args.demo {
        results.push(("demo".to_owned(), Ok(analyze_demo(options, &RayonJoin))));
    }
    let mut failed = false;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (shown, result) in results {
        let written = match result {
            Ok(analysis) if args.json => {
                writeln!(out, "{}", json_line(&shown, &analysis, &targets, args))
            }
            Ok(analysis) => write!(out, "{}", table(&shown, &analysis, &targets)),
            Err(error) => {
                failed = true;
                if args.json {
                    writeln!(
                        out,
                        "{}",
                        json!({ "file": shown, "error": error.to_string() })
                    )
                } else {
                    eprintln!("crest: {error}");
                    Ok(())
                }
            }
        };
        if written.is_err() {
            return ExitCode::FAILURE; // stdout closed (e.g. piped into `head`)
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn json_line(file: &str, analysis: &Analysis, targets: &Targets, args: &AnalyzeArgs) -> Value {
    let Value::Object(report) = serde_json::to_value(analysis.summary()).unwrap_or_default() else {
        return json!({ "file": file, "error": "internal error: report is not an object" });
    };
    let mut object = Map::new();
    object.insert("file".into(), Value::String(file.to_owned()));
    object.extend(report);
    let platforms: Vec<Value> = targets
        .all()
        .iter()
        .map(|target| {
            let n = normalization(analysis, target);
            json!({
                "id": target.id,
                "name": target.name,
                "gain_db": round(n.gain_db, 2),
                "resulting_lufs": n.resulting_lufs.map(|l| round(l, 2)),
                "true_peak_after_dbtp": n.true_peak_after_dbtp.map(|p| round(p, 2)),
                "loudness_penalty_db": round(n.loudness_penalty_db, 2),
                "gain_withheld_db": round(n.gain_withheld_db, 2),
                "limiter_reduction_db": round(n.limiter_reduction_db, 2),
                "exceeds_true_peak_max": n.exceeds_true_peak_max,
            })
        })
        .collect();
    object.insert("platforms".into(), Value::Array(platforms));
    if let (true, Some(spectrum)) = (args.spectrum, &analysis.spectrum) {
        let centres: Vec<f64> = spectrum
            .bands
            .centres_hz()
            .iter()
            .map(|&f| round(f, 1))
            .collect();
        let levels: Vec<f64> = spectrum
            .levels_db
            .iter()
            .map(|&l| round(f64::from(l), 2))
            .collect();
        object.insert(
            "spectrum".into(),
            json!({ "centres_hz": centres, "levels_db": levels }),
        );
    }
    if args.series {
        let points = |s: Vec<(f64, Option<f64>)>| -> Value {
            s.into_iter()
                .map(|(t, v)| json!([round(t, 3), v.map(|v| round(v, 2))]))
                .collect()
        };
        object.insert(
            "momentary".into(),
            points(analysis.loudness.momentary_series()),
        );
        object.insert(
            "short_term".into(),
            points(analysis.loudness.short_term_series()),
        );
    }
    Value::Object(object)
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

fn normalization(analysis: &Analysis, target: &Target) -> Normalization {
    target.preview(
        analysis.loudness.integrated_lufs,
        analysis.loudness.true_peak_dbtp,
    )
}

fn table(file: &str, analysis: &Analysis, targets: &Targets) -> String {
    let s = analysis.summary();
    let num = |v: Option<f64>, unit: &str| match v {
        Some(v) => format!("{v:.1} {unit}"),
        None => "undefined".to_owned(),
    };
    let mut t = String::new();
    t.push_str(&format!("{file}\n"));
    let format = format!(
        "{} in {}, {} Hz, {} ch{}, {:.2} s{}",
        s.codec,
        s.container,
        s.sample_rate,
        s.channels,
        s.bits_per_sample
            .map(|b| format!(", {b}-bit"))
            .unwrap_or_default(),
        s.duration_s,
        if s.lossless { ", lossless" } else { ", lossy" }
    );
    let rows = [
        ("Format", format),
        ("Integrated", num(s.integrated_lufs, "LUFS")),
        ("Loudness range", num(s.lra_lu, "LU")),
        ("True peak", num(s.true_peak_dbtp, "dBTP")),
        ("Sample peak", num(s.sample_peak_dbfs, "dBFS")),
        ("PLR", num(s.plr_db, "dB")),
        ("Max momentary", num(s.momentary_max_lufs, "LUFS")),
        ("Max short-term", num(s.short_term_max_lufs, "LUFS")),
    ];
    for (label, value) in rows {
        t.push_str(&format!("  {label:<16}{value}\n"));
    }
    for warning in s.warnings {
        t.push_str(&format!("  warning: {warning}\n"));
    }
    for finding in s.findings {
        t.push_str(&format!(
            "  {:<8}{}\n",
            finding.severity.label(),
            finding.message
        ));
    }
    if analysis.loudness.integrated_lufs.is_some() {
        t.push_str("  On streaming platforms:\n");
        for target in targets
            .all()
            .iter()
            .filter(|t| t.kind == TargetKind::Streaming)
        {
            t.push_str(&format!(
                "    {}\n",
                normalization(analysis, target).sentence(target)
            ));
        }
    }
    t.push('\n');
    t
}
