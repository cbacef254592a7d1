//! `crest targets [--json]`: the platform loudness targets Crest knows.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use crest_engine::platform::Targets;

#[derive(Debug, Args)]
pub struct TargetsArgs {
    /// One JSON array of objects (id, name, numbers, source, …) and nothing else on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &TargetsArgs) -> ExitCode {
    let targets = match Targets::built_in() {
        Ok(targets) => targets,
        Err(error) => {
            eprintln!("crest: {error}");
            return ExitCode::from(2);
        }
    };
    let text = if args.json {
        match serde_json::to_string_pretty(targets.all()) {
            Ok(json) => json + "\n",
            Err(error) => {
                eprintln!("crest: {error}");
                return ExitCode::from(2);
            }
        }
    } else {
        table(&targets)
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn table(targets: &Targets) -> String {
    let mut t = format!(
        "{:<14} {:<42} {:>6}  {:<12} {}\n",
        "id", "name", "LUFS", "direction", "peaks"
    );
    for target in targets.all() {
        let direction = match (target.turns_down, target.turns_up) {
            (true, true) => "down and up",
            (true, false) => "down only",
            _ => "up only",
        };
        let peaks = match (
            target.limiter,
            target.positive_gain_peak_limit_dbtp,
            target.true_peak_max_dbtp,
        ) {
            (Some(l), _, _) => format!("raises through a {:.0} dB limiter", l.ceiling_dbtp),
            (None, Some(limit), _) => format!("raises only to {limit:.0} dBTP"),
            (None, None, Some(max)) => format!("at most {max:.0} dBTP"),
            _ => String::new(),
        };
        let approx = if target.approximation {
            " (approximation)"
        } else {
            ""
        };
        t.push_str(&format!(
            "{:<14} {:<42} {:>6.1}  {:<12} {peaks}{approx}\n",
            target.id, target.name, target.integrated_lufs, direction
        ));
    }
    t.push_str("\nSources and dates: crest targets --json, or docs/targets.md.\n");
    t
}
