//! `crest codec-check FILE [--codec ID]... [--decoded-peak DBFS] [--json]`: encodes the master
//! with each codec (default mp3-320, ogg-320, opus-160 and, where FFmpeg runs, aac-256),
//! decodes it, and reports the decoded
//! peaks, the samples over full scale and where, the loudness change and the clip-safe
//! ceiling. Exit status 0 when every codec decodes without a sample over 0 dBFS, 1 when one
//! does not, 2 when the check cannot run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::Args;
use crest_engine::codec_check::{
    CodecResult, DEFAULT_DECODED_PEAK_DBFS, codec_check, default_codecs,
};
use crest_engine::decode_file_within;
use crest_engine::export::{Format, Lossy};

use crate::RayonJoin;

#[derive(Debug, Args)]
pub struct CodecCheckArgs {
    /// The master to check (as it is: no chain is applied).
    pub file: PathBuf,
    /// A codec to check, by format id: mp3-320, mp3-v0, ogg-320, opus-160, aac-256, …
    /// (repeat for several; default mp3-320, ogg-320, opus-160 and, where FFmpeg runs,
    /// aac-256).
    #[arg(long = "codec", value_name = "ID")]
    pub codecs: Vec<String>,
    /// The decoded sample peak a clip-safe master stays under (dBFS).
    #[arg(long, allow_hyphen_values = true, default_value_t = DEFAULT_DECODED_PEAK_DBFS)]
    pub decoded_peak: f64,
    /// Print one JSON object: {"file": …, "codecs": [{"id", "encoder", …}]}.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub memory: super::MemoryArgs,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    file: String,
    decoded_peak_limit_dbfs: f64,
    codecs: &'a [CodecResult],
}

/// The codecs asked for, or the defaults.
pub fn codecs_of(ids: &[String]) -> Result<Vec<Lossy>, String> {
    if ids.is_empty() {
        let (codecs, left_out) = default_codecs();
        for why in left_out {
            eprintln!("crest: {why}");
        }
        return Ok(codecs);
    }
    ids.iter()
        .map(|id| {
            Format::try_from(id.clone())?
                .lossy()
                .ok_or_else(|| format!("`{id}` is lossless: a codec check needs a lossy codec"))
        })
        .collect()
}

pub fn run(args: &CodecCheckArgs) -> ExitCode {
    let codecs = match codecs_of(&args.codecs) {
        Ok(codecs) => codecs,
        Err(e) => {
            eprintln!("crest: {e}");
            return ExitCode::from(2);
        }
    };
    let decoded = match decode_file_within(&args.file, &args.memory.analysis()) {
        Ok(decoded) => decoded,
        Err(e) => {
            eprintln!("crest: {e}");
            return ExitCode::from(2);
        }
    };
    let cancel = AtomicBool::new(false);
    let results = match codec_check(
        &decoded.audio,
        &codecs,
        args.decoded_peak,
        &RayonJoin,
        &cancel,
    ) {
        Ok(results) => results,
        Err(e) => {
            eprintln!("crest: {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let clean = results.iter().all(|r| r.samples_over_0dbfs == 0);
    if args.json {
        let report = Report {
            file: args.file.display().to_string(),
            decoded_peak_limit_dbfs: args.decoded_peak,
            codecs: &results,
        };
        match serde_json::to_string_pretty(&report) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("crest: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", text(&args.file, args.decoded_peak, &results));
    }
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn db(value: Option<f64>) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:+.2}"))
}

/// The results as a table, and a line per codec that clips saying where.
fn text(file: &std::path::Path, limit: f64, results: &[CodecResult]) -> String {
    let mut out = format!("Codec check — {}\n\n", file.display());
    out.push_str(
        "  codec      encoder                         kb/s   master TP  decoded TP  sample pk  \
         overs   ΔLU    clip-safe TP\n",
    );
    for r in results {
        out.push_str(&format!(
            "  {:<10} {:<30} {:>5.0} {:>11} {:>11} {:>10} {:>6} {:>6} {:>15}\n",
            r.id,
            r.encoder,
            r.bitrate_kbps,
            db(r.master_true_peak_dbtp),
            db(r.decoded_true_peak_dbtp),
            db(r.decoded_sample_peak_dbfs),
            r.samples_over_0dbfs,
            r.loudness_change_lu
                .map_or_else(|| "—".to_owned(), |c| format!("{c:+.2}")),
            match (r.clip_safe_ceiling_dbtp, r.clip_safe_checked) {
                (Some(safe), false) => format!("~{safe:+.2}"),
                (safe, _) => db(safe),
            },
        ));
    }
    out.push_str(&format!(
        "\n  (dBTP / dBFS; clip-safe TP: the highest master true peak that decodes with every \
         sample at or under {limit:.1} dBFS, checked by encoding at that level; ~: a master \
         already under it, the room above estimated)\n"
    ));
    for r in results.iter().filter(|r| r.samples_over_0dbfs > 0) {
        let places: Vec<String> = r
            .over_places_s
            .iter()
            .map(|s| format!("{s:.3} s"))
            .collect();
        out.push_str(&format!(
            "\n  {}: {} samples over 0 dBFS when decoded, first at {}",
            r.id,
            r.samples_over_0dbfs,
            places.join(", ")
        ));
    }
    out.push_str(if results.iter().all(|r| r.samples_over_0dbfs == 0) {
        "\nEvery codec decodes without a sample over full scale.\n"
    } else {
        "\n\nCLIPS when decoded: lower the limiter's ceiling to the clip-safe true peak.\n"
    });
    out
}
