//! How close `crest match`'s proposal comes to the best a broad EQ can do, on a real pair.
//!
//!     cargo run --release -p crest-engine --example match_bound -- MIX REFERENCE [STARTS]
//!
//! Measures MIX and REFERENCE as `crest compare` does (whole tracks, loudness-matched third
//! octaves), proposes bands as `crest match` does (default limits, `crest master`'s gentle
//! chain), then runs [`Fitter::search_bound`] with the same limits and band count (STARTS
//! random starts, default 24, fixed seed) for the lowest tonal RMS difference it finds: under
//! the proposal's own rules (the bound the proposal is held to) and with each band only
//! within its ranges (a looser figure). Prints one JSON line: `rms_before_db`, `rms_after_db`
//! (the proposal's, rounded as written), `bound_rms_db` (same rules), `ranges_bound_rms_db`,
//! `bands` (how many the proposal uses) and `bound_bands` (how many the search may use).
//!
//! [`Fitter::search_bound`]: crest_engine::eq_match::Fitter::search_bound

use std::path::Path;
use std::process::ExitCode;

use crest_engine::balance::{Balance, TargetRange, balance_of_file, compare};
use crest_engine::chain::ChainSettings;
use crest_engine::eq_match::{MatchLimits, SearchRules, fitter, propose};
use crest_engine::limits::DecodeLimits;

/// The search's seed: the same figure every run.
const SEED: u64 = 99;

/// A track's balance and sample rate, decoded as `crest compare` decodes it.
fn measure(path: &Path) -> Result<(Balance, u32), String> {
    balance_of_file(path, &DecodeLimits::mastering())
}

fn run(mix: &Path, reference: &Path, starts: usize) -> Result<String, String> {
    let (reference, _) = measure(reference)?;
    let target = TargetRange::from_references(&[reference]).map_err(|e| e.to_string())?;
    let (mix, rate) = measure(mix)?;
    let comparison = compare(mix, target);
    let base = ChainSettings::gentle_master();
    let limits = MatchLimits::default();
    let proposal = propose(&comparison, &base, rate, limits).map_err(|e| e.to_string())?;
    let fit = fitter(&comparison, &base, rate, limits).map_err(|e| e.to_string())?;
    let ranges = fit.search_bound(limits.max_bands, starts, SEED, SearchRules::Ranges);
    let admissible = fit.search_bound(limits.max_bands, starts, SEED, SearchRules::Admissible);
    Ok(serde_json::json!({
        "mix": comparison.mix.name,
        "reference": comparison.target.references,
        "rms_before_db": proposal.rms_before_db,
        "rms_after_db": proposal.rms_after_db,
        "bound_rms_db": admissible,
        "ranges_bound_rms_db": ranges,
        "bands": proposal.bands.len(),
        "bound_bands": limits.max_bands,
        "starts": starts,
    })
    .to_string())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mix, reference, starts) = match args.as_slice() {
        [mix, reference] => (mix, reference, Some(24)),
        [mix, reference, starts] => (mix, reference, starts.parse().ok().filter(|&s| s > 0)),
        _ => {
            eprintln!("usage: match_bound MIX REFERENCE [STARTS]");
            return ExitCode::from(2);
        }
    };
    let Some(starts) = starts else {
        eprintln!("match_bound: STARTS is a whole number above 0");
        return ExitCode::from(2);
    };
    match run(Path::new(mix), Path::new(reference), starts) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("match_bound: {message}");
            ExitCode::FAILURE
        }
    }
}
