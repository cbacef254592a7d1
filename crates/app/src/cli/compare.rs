//! `crest compare MIX REFERENCE... [--json] [--save-target FILE]`: a mix's tonal balance,
//! dynamics and stereo picture against references, loudness-matched. A reference is a track,
//! a folder of tracks, or a target range saved before (`*.crest-target.json`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use crest_engine::balance::{
    BAND_LABELS, Balance, Comparison, TargetRange, balance_of_file, compare,
};
use crest_engine::decode::audio_extensions;

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The mix (or master) to compare.
    pub mix: PathBuf,
    /// References: tracks, folders of tracks, or one target range (`*.crest-target.json`).
    #[arg(required = true)]
    pub references: Vec<PathBuf>,
    /// One JSON object (the mix, the range, per-band differences, where it departs).
    #[arg(long)]
    pub json: bool,
    /// Keep the references' range in this file (`NAME.crest-target.json`) to compare with
    /// again or share.
    #[arg(long)]
    pub save_target: Option<PathBuf>,
    #[command(flatten)]
    pub memory: super::MemoryArgs,
}

pub fn run(args: &CompareArgs) -> ExitCode {
    match compare_files(args) {
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

fn is_target_file(path: &Path) -> bool {
    path.to_string_lossy().ends_with(".crest-target.json")
}

/// A track's balance, and its sample rate.
pub fn measure(path: &Path, memory: &super::MemoryArgs) -> Result<(Balance, u32), String> {
    balance_of_file(path, &memory.mastering())
}

/// The references' tracks: files as given, folders as the audio files in them (by name).
fn reference_tracks(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let extensions = audio_extensions();
    let mut tracks = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension().is_some_and(|e| {
                            extensions.contains(&e.to_string_lossy().to_lowercase().as_str())
                        })
                })
                .collect();
            if found.is_empty() {
                return Err(format!("{}: no audio files in this folder", path.display()));
            }
            found.sort();
            tracks.extend(found);
        } else {
            tracks.push(path.clone());
        }
    }
    Ok(tracks)
}

/// The range of `paths`: one kept range, or tracks and folders of tracks measured now.
pub fn load_target(paths: &[PathBuf], memory: &super::MemoryArgs) -> Result<TargetRange, String> {
    Ok(match paths {
        [one] if is_target_file(one) => {
            let text =
                std::fs::read_to_string(one).map_err(|e| format!("{}: {e}", one.display()))?;
            TargetRange::from_json(&text).map_err(|e| format!("{}: {e}", one.display()))?
        }
        several if several.iter().any(|p| is_target_file(p)) => {
            return Err(
                "a target range is compared with on its own; give it as the only reference".into(),
            );
        }
        paths => {
            let references = reference_tracks(paths)?
                .iter()
                .map(|p| measure(p, memory).map(|(b, _)| b))
                .collect::<Result<Vec<_>, _>>()?;
            TargetRange::from_references(&references).map_err(|e| e.to_string())?
        }
    })
}

fn compare_files(args: &CompareArgs) -> Result<String, String> {
    let target = load_target(&args.references, &args.memory)?;
    if let Some(path) = &args.save_target {
        if !is_target_file(path) {
            return Err(format!(
                "{}: a target range is saved as NAME.crest-target.json",
                path.display()
            ));
        }
        let json = serde_json::to_string_pretty(&target).map_err(|e| e.to_string())?;
        crest_engine::files::write_atomically(path, true, json.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let (mix, _) = measure(&args.mix, &args.memory)?;
    let comparison = compare(mix, target);
    if args.json {
        return serde_json::to_string(&comparison).map_err(|e| e.to_string());
    }
    Ok(text_report(&comparison, args.save_target.as_deref()))
}

fn spread(mean: f64, spread: f64, unit: &str) -> String {
    format!("{mean:.1} ± {spread:.1} {unit}")
}

fn text_report(c: &Comparison, saved: Option<&Path>) -> String {
    let (m, t) = (&c.mix, &c.target);
    let mut out = String::new();
    let opt = |v: Option<f64>, unit: &str| v.map_or("—".to_owned(), |v| format!("{v:.1} {unit}"));
    let _ = writeln!(
        out,
        "Mix {}: {:.1} LUFS · LRA {} · PLR {} · crest factor {:.1} dB · tilt {:+.2} dB/oct · width {}",
        m.name,
        m.integrated_lufs,
        opt(m.lra_lu, "LU"),
        opt(m.plr_db, "dB"),
        m.crest_factor_db,
        m.tilt_db_per_octave,
        opt(m.width_db, "dB side/mid"),
    );
    let _ = writeln!(
        out,
        "References ({}): {} · LRA {} · PLR {} · tilt {} · width {}",
        t.references.len(),
        spread(t.integrated_lufs.mean, t.integrated_lufs.spread, "LUFS"),
        t.lra_lu
            .map_or("—".into(), |s| spread(s.mean, s.spread, "LU")),
        t.plr_db
            .map_or("—".into(), |s| spread(s.mean, s.spread, "dB")),
        spread(
            t.tilt_db_per_octave.mean,
            t.tilt_db_per_octave.spread,
            "dB/oct"
        ),
        t.width_db
            .map_or("—".into(), |s| spread(s.mean, s.spread, "dB side/mid")),
    );
    let _ = writeln!(
        out,
        "\nLevels per third octave, dB against each track's integrated loudness (so a louder \
         track compares level-matched):"
    );
    let _ = writeln!(
        out,
        "{:>9}  {:>6}  {:>6} {:>5}  {:>6}  {:>11}  {:>14}",
        "band", "mix", "refs", "±", "diff", "corr mix/ref", "side/mid mix/ref"
    );
    for (b, band) in BAND_LABELS.iter().enumerate() {
        let stereo = |get: fn(&crest_engine::balance::BandStereo) -> f64,
                      refs: &Option<Vec<f64>>| {
            match (m.stereo.as_ref().map(|s| get(&s[b])), refs.as_ref()) {
                (Some(mix), Some(refs)) => format!("{mix:+.2}/{:+.2}", refs[b]),
                (Some(mix), None) => format!("{mix:+.2}/—"),
                (None, Some(refs)) => format!("—/{:+.2}", refs[b]),
                (None, None) => "—".into(),
            }
        };
        let _ = writeln!(
            out,
            "{band:>9}  {:>6.1}  {:>6.1} {:>5.1}  {:>+6.1}{} {:>11}  {:>14}",
            m.levels_db[b],
            t.mean_db[b],
            t.half_width_db(b),
            c.difference_db[b],
            if c.outside[b] { "*" } else { " " },
            stereo(|s| s.correlation, &t.correlation),
            stereo(|s| s.side_to_mid_db, &t.side_to_mid_db),
        );
    }
    let _ = writeln!(out, "(* outside the references' range)");
    let _ = writeln!(out);
    if c.departures.is_empty() {
        let _ = writeln!(
            out,
            "The mix's balance lies within the references' range in every band."
        );
    } else {
        for departure in &c.departures {
            let _ = writeln!(out, "{}.", super::capitalised(&departure.sentence));
        }
    }
    let tilt = c.tilt_difference_db_per_octave;
    if tilt.abs() >= 0.2 {
        let _ = writeln!(
            out,
            "Overall the mix is {:.2} dB per octave {} than the references.",
            tilt.abs(),
            if tilt > 0.0 { "brighter" } else { "darker" }
        );
    }
    if let Some(path) = saved {
        let _ = writeln!(out, "The references' range is kept in {}.", path.display());
    }
    out.trim_end().to_owned()
}
