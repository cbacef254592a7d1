//! `crest match MIX REFERENCE... -o CHAIN.json [--chain IN.json] [--amount A] [--max-bands N]
//! [--max-gain-db G] [--match-width] [--match-level loudness|plr] [--force] [--json]`: proposes
//! a broad EQ that brings the mix's tonal balance toward its references (and, on their own
//! switches, the stereo width and the limiter's loudness target), written as an ordinary chain
//! preset to edit and master with.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use crest_engine::balance::compare;
use crest_engine::chain::{BandKind, ChainSettings, EqDesign};
use crest_engine::eq_match::{
    LevelBasis, LevelMatch, MatchLimits, Proposal, WidthMatch, match_level, match_width, propose,
};

use super::compare::{load_target, measure};

#[derive(Debug, Args)]
pub struct MatchArgs {
    /// The mix to match.
    pub mix: PathBuf,
    /// References: tracks, folders of tracks, or one target range (`*.crest-target.json`).
    #[arg(required = true)]
    pub references: Vec<PathBuf>,
    /// Where to write the chain preset with the proposed bands.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Add the bands to this chain preset (default: `crest master`'s gentle chain).
    #[arg(long)]
    pub chain: Option<PathBuf>,
    /// How much of the difference to correct, 0 to 1.
    #[arg(long, default_value_t = 1.0)]
    pub amount: f64,
    /// Bands to add at most.
    #[arg(long, default_value_t = 5)]
    pub max_bands: usize,
    /// Each band's gain within ± this (dB).
    #[arg(long, default_value_t = 3.0)]
    pub max_gain_db: f64,
    /// Also set the stereo stage's width so the master is as wide (side against mid) as the
    /// references, `--amount` of the way.
    #[arg(long)]
    pub match_width: bool,
    /// Also set the limiter's loudness target from the references: their integrated loudness,
    /// or their peak-to-loudness ratio at the chain's ceiling.
    #[arg(long, value_enum)]
    pub match_level: Option<MatchLevel>,
    /// Replace the output file when it exists.
    #[arg(long)]
    pub force: bool,
    /// One JSON object: the proposal (bands, what it leaves, mix matters) and the output.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub memory: super::MemoryArgs,
}

/// What `--match-level` matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MatchLevel {
    /// The references' integrated loudness.
    Loudness,
    /// The references' peak-to-loudness ratio, at the chain's ceiling.
    Plr,
}

pub fn run(args: &MatchArgs) -> ExitCode {
    match match_files(args) {
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

fn match_files(args: &MatchArgs) -> Result<String, String> {
    if args.output == args.mix {
        return Err("the chain would overwrite the mix; choose another output path".into());
    }
    if args.output.exists() && !args.force {
        return Err(format!(
            "{} exists; --force replaces it",
            args.output.display()
        ));
    }
    let base = match &args.chain {
        Some(path) => super::read_chain(path)?,
        None => ChainSettings::gentle_master(),
    };
    let target = load_target(&args.references, &args.memory)?;
    let (mix, rate) = measure(&args.mix, &args.memory)?;
    let comparison = compare(mix, target);
    let limits = MatchLimits {
        max_bands: args.max_bands,
        max_gain_db: args.max_gain_db,
        amount: args.amount,
    };
    let proposal = propose(&comparison, &base, rate, limits).map_err(|e| e.to_string())?;
    let mut chain = proposal.chain(&base);
    let width = args
        .match_width
        .then(|| match_width(&comparison, &chain, rate, args.amount))
        .transpose()
        .map_err(|e| e.to_string())?;
    if let Some(width) = &width {
        width.apply(&mut chain);
    }
    let level = args
        .match_level
        .map(|how| {
            let basis = match how {
                MatchLevel::Loudness => LevelBasis::Loudness,
                MatchLevel::Plr => LevelBasis::Plr,
            };
            match_level(&comparison.target, &chain, basis)
        })
        .transpose()
        .map_err(|e| e.to_string())?;
    if let Some(level) = &level {
        level.apply(&mut chain);
    }
    let json = serde_json::to_string_pretty(&chain).map_err(|e| e.to_string())?;
    crest_engine::files::write_atomically(&args.output, true, json.as_bytes())
        .map_err(|e| format!("{}: {e}", args.output.display()))?;
    if args.json {
        return serde_json::to_string(&serde_json::json!({
            "output": args.output.display().to_string(),
            "proposal": proposal,
            "width": width,
            "level": level,
        }))
        .map_err(|e| e.to_string());
    }
    let mut out = report(&proposal, comparison.target.references.len());
    if let Some(width) = &width {
        width_report(&mut out, width);
    }
    if let Some(level) = &level {
        level_report(&mut out, level);
    }
    let _ = write!(
        out,
        "Wrote the chain to {} (an ordinary preset: edit it, or master with --chain).",
        args.output.display()
    );
    Ok(out)
}

fn width_report(out: &mut String, w: &WidthMatch) {
    let _ = writeln!(
        out,
        "Width: side against mid {:.1} dB in the master, {:.1} dB in the references; width \
         set to {:.0} % ({:+.1} dB on the side).",
        w.mix_width_db,
        w.target_width_db,
        w.width * 100.0,
        w.change_db
    );
    if let Some(matter) = &w.mix_matter {
        let _ = writeln!(out, "{}.", super::capitalised(matter));
    }
}

fn level_report(out: &mut String, l: &LevelMatch) {
    let plr = l
        .references_plr_db
        .map_or_else(String::new, |p| format!(", PLR {p:.1} dB"));
    let basis = match l.basis {
        LevelBasis::Loudness => "their loudness",
        LevelBasis::Plr => "their PLR at the chain's ceiling",
    };
    let _ = writeln!(
        out,
        "Level: the references average {:.1} LUFS{plr}; matched on {basis}, the limiter's \
         target is {:.1} LUFS (the master's PLR at most {:.1} dB).",
        l.references_lufs, l.target_lufs, l.master_plr_db
    );
    if let Some(note) = &l.streaming_note {
        let _ = writeln!(out, "{}.", super::capitalised(note));
    }
}

fn report(p: &Proposal, references: usize) -> String {
    let mut out = String::new();
    let design = match p.design {
        EqDesign::Cookbook => "cookbook",
        EqDesign::AnalogMatched => "analog-matched",
    };
    if p.bands.is_empty() {
        let _ = writeln!(
            out,
            "No band is worth adding: the mix's balance is {:.2} dB RMS from the {references} \
             reference(s) (40 Hz–16 kHz, about its level).",
            p.rms_before_db
        );
    } else {
        let _ = writeln!(
            out,
            "Proposed EQ ({design} bands), toward {references} reference(s):"
        );
        for band in &p.bands {
            let kind = match band.kind {
                BandKind::LowShelf => "low shelf",
                BandKind::HighShelf => "high shelf",
                _ => "bell",
            };
            let _ = writeln!(
                out,
                "  {kind:<10} {:>7.0} Hz  {:+.1} dB  Q {:.2}",
                band.freq_hz, band.gain_db, band.q
            );
        }
        let _ = writeln!(
            out,
            "Tonal difference (third octaves, 40 Hz–16 kHz, about its level): {:.2} dB RMS \
             before, {:.2} dB RMS after.",
            p.rms_before_db, p.rms_after_db
        );
    }
    for matter in &p.mix_matters {
        let _ = writeln!(out, "{}.", super::capitalised(matter));
    }
    out
}
