//! Quality control of a finished file: measured values, pass/fail per check, written beside
//! the master as JSON and as readable text. `crest verify` runs the same checks on any file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::chain::TruePeakMode;
use crate::codec_check::CodecResult;
use crate::export::lossy::DecodedCheck;
use crate::files::{PartialFile, WriteError};
use crate::loudness::Loudness;
use crate::render::LimiterReport;

/// How close the integrated loudness must be to a target.
pub const LOUDNESS_TOLERANCE_LU: f64 = 0.2;

/// How close a file must stay to the loudness its master was judged at (a delivery preset
/// that keeps the loudness, or the desk's master measured before export).
pub const JUDGED_TOLERANCE_LU: f64 = 0.1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QcCheck {
    pub name: String,
    pub passed: bool,
    pub measured: String,
    pub requirement: String,
}

/// The QC report's schema: 1 is the first that states it (reports without the field are
/// version 0, the same fields). Fields added later default to their absence when read.
pub const QC_SCHEMA_VERSION: u32 = 1;

/// Everything the report says about one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QcReport {
    /// [`QC_SCHEMA_VERSION`] when written; 0 for reports older than the field.
    #[serde(default)]
    pub schema_version: u32,
    pub file: String,
    pub format: String,
    pub sample_rate: u32,
    pub channels: usize,
    pub duration_s: f64,
    pub integrated_lufs: Option<f64>,
    pub lra_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    /// The strict meter's reading (near-ideal reconstruction), where it was asked for.
    #[serde(default)]
    pub strict_true_peak_dbtp: Option<f64>,
    pub sample_peak_dbfs: Option<f64>,
    pub plr_db: Option<f64>,
    pub target_lufs: Option<f64>,
    pub ceiling_dbtp: Option<f64>,
    /// The meter the ceiling was checked with (none without a ceiling).
    #[serde(default)]
    pub ceiling_meter: Option<String>,
    /// The loudness the master was judged at, when the file had to keep it.
    #[serde(default)]
    pub judged_lufs: Option<f64>,
    /// The limiter's largest gain reduction (masters only).
    pub limiter_peak_gr_db: Option<f64>,
    /// Whether the loudness target was met within tolerance (none without a target).
    pub target_reached: Option<bool>,
    pub checks: Vec<QcCheck>,
    pub passed: bool,
    /// What the limiter and solver did (masters only).
    pub limiter: Option<LimiterReport>,
    /// Plain sentences: heavy limiting, shortfalls, clamped samples, mono notes.
    pub notes: Vec<String>,
    /// The JSON report written beside the file (masters only).
    pub report_path: Option<String>,
    /// A lossy file as it decodes (its other figures are of the samples encoded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded: Option<DecodedCheck>,
    /// The codecs the master had to survive, as they decode the file written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codec_check: Option<Vec<CodecResult>>,
}

/// What a file is measured against.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Requirements {
    pub target_lufs: Option<f64>,
    pub ceiling_dbtp: Option<f64>,
    /// The integrated loudness the master was judged at (the desk showed it): the file must
    /// stay within [`JUDGED_TOLERANCE_LU`] of it.
    pub judged_lufs: Option<f64>,
    /// The meter the ceiling is checked with.
    pub true_peak: TruePeakMode,
}

/// The file's facts, as measured.
#[derive(Debug, Clone, Copy)]
pub struct FileFacts<'a> {
    pub file: &'a Path,
    pub format: &'a str,
    pub sample_rate: u32,
    pub channels: usize,
    pub duration_s: f64,
    pub measured: &'a Loudness,
    /// The strict true peak (dBTP), where it was measured.
    pub strict_true_peak_dbtp: Option<f64>,
}

fn db(value: Option<f64>, unit: &str) -> String {
    value.map_or_else(|| "—".to_owned(), |v| format!("{v:.2} {unit}"))
}

/// Runs the checks.
pub fn evaluate(facts: FileFacts<'_>, requirements: Requirements) -> QcReport {
    let m = facts.measured;
    let mut checks = vec![QcCheck {
        name: "programme present".into(),
        passed: m.integrated_lufs.is_some(),
        measured: db(m.integrated_lufs, "LUFS"),
        requirement: "above the −70 LUFS gate".into(),
    }];
    if let Some(ceiling) = requirements.ceiling_dbtp {
        let (name, reading) = match requirements.true_peak {
            TruePeakMode::Standard => ("true peak", m.true_peak_dbtp),
            TruePeakMode::Strict => ("true peak (strict)", facts.strict_true_peak_dbtp),
        };
        checks.push(QcCheck {
            name: name.into(),
            passed: reading.is_none_or(|tp| tp <= ceiling),
            measured: db(reading, "dBTP"),
            requirement: format!(
                "≤ {ceiling:.2} dBTP on the {}",
                requirements.true_peak.meter()
            ),
        });
    }
    let mut target_reached = None;
    if let Some(target) = requirements.target_lufs {
        let ok = m
            .integrated_lufs
            .is_some_and(|i| (i - target).abs() <= LOUDNESS_TOLERANCE_LU);
        target_reached = Some(ok);
        checks.push(QcCheck {
            name: "integrated loudness".into(),
            passed: ok,
            measured: db(m.integrated_lufs, "LUFS"),
            requirement: format!("{target:.1} ± {LOUDNESS_TOLERANCE_LU} LU"),
        });
    }
    if let Some(judged) = requirements.judged_lufs {
        checks.push(QcCheck {
            name: "loudness as judged".into(),
            passed: m
                .integrated_lufs
                .is_some_and(|i| (i - judged).abs() <= JUDGED_TOLERANCE_LU),
            measured: db(m.integrated_lufs, "LUFS"),
            requirement: format!("{judged:.1} ± {JUDGED_TOLERANCE_LU} LU (as shown on the desk)"),
        });
    }
    let passed = checks.iter().all(|c| c.passed);
    QcReport {
        schema_version: QC_SCHEMA_VERSION,
        file: facts.file.display().to_string(),
        format: facts.format.to_owned(),
        sample_rate: facts.sample_rate,
        channels: facts.channels,
        duration_s: facts.duration_s,
        integrated_lufs: m.integrated_lufs,
        lra_lu: m.lra_lu,
        true_peak_dbtp: m.true_peak_dbtp,
        strict_true_peak_dbtp: facts.strict_true_peak_dbtp,
        sample_peak_dbfs: m.sample_peak_dbfs,
        plr_db: m.plr_db(),
        target_lufs: requirements.target_lufs,
        ceiling_dbtp: requirements.ceiling_dbtp,
        ceiling_meter: requirements
            .ceiling_dbtp
            .map(|_| requirements.true_peak.meter().to_owned()),
        judged_lufs: requirements.judged_lufs,
        limiter_peak_gr_db: None,
        target_reached,
        checks,
        passed,
        limiter: None,
        notes: Vec::new(),
        report_path: None,
        decoded: None,
        codec_check: None,
    }
}

impl QcReport {
    /// Adds what a lossy file decodes to: its length and alignment (checked before the file
    /// was kept), and whether any decoded sample goes beyond full scale, which fails.
    pub fn add_decoded(&mut self, check: DecodedCheck) {
        let frames = check.frames;
        self.checks.push(QcCheck {
            name: "decoded length".into(),
            passed: true,
            measured: format!("{frames} frames"),
            requirement: "the master's length, to the frame".into(),
        });
        self.checks.push(QcCheck {
            name: "decoded alignment".into(),
            passed: check.lag_frames == 0,
            measured: format!("lag {} frames", check.lag_frames),
            requirement: "in time with the master (lag 0)".into(),
        });
        let overs = check.samples_over_0dbfs;
        self.checks.push(QcCheck {
            name: "decoded clipping".into(),
            passed: overs == 0,
            measured: format!("{overs} samples over 0 dBFS"),
            requirement: "none: a player decoding to fixed point clips them".into(),
        });
        if overs > 0 {
            let places: Vec<String> = check
                .over_places_s
                .iter()
                .map(|s| format!("{s:.3} s"))
                .collect();
            self.notes.push(format!(
                "Decoded, the file goes over full scale in {overs} samples (first at {}): lower \
                 the ceiling, or check the codec with `crest codec-check`.",
                places.join(", ")
            ));
        }
        self.passed = self.checks.iter().all(|c| c.passed);
        self.decoded = Some(check);
    }

    /// Adds the codecs the master had to survive (`results`, of the file as written): a check
    /// that each decodes at or under `limit_dbfs`, and a note where the ceiling had to come
    /// down from `asked_ceiling_dbtp` for it.
    pub fn add_codec_safety(
        &mut self,
        results: Vec<CodecResult>,
        limit_dbfs: f64,
        asked_ceiling_dbtp: f64,
    ) {
        let peaks: Vec<String> = results
            .iter()
            .map(|r| format!("{} {}", r.id, db(r.decoded_sample_peak_dbfs, "dBFS")))
            .collect();
        let ids: Vec<&str> = results.iter().map(|r| r.id.as_str()).collect();
        self.checks.push(QcCheck {
            name: "codecs decode clean".into(),
            passed: results
                .iter()
                .all(|r| r.decoded_sample_peak_dbfs.is_none_or(|p| p <= limit_dbfs)),
            measured: peaks.join(", "),
            requirement: format!("≤ {limit_dbfs:.1} dBFS decoded"),
        });
        if let Some(ceiling) = self.ceiling_dbtp.filter(|&c| c < asked_ceiling_dbtp) {
            self.notes.push(format!(
                "The ceiling was lowered from {asked_ceiling_dbtp:.2} to {ceiling:.2} dBTP so \
                 that {} decode with every sample at or under {limit_dbfs:.1} dBFS.",
                ids.join(", ")
            ));
        }
        let clipping: Vec<&str> = results
            .iter()
            .filter(|r| r.decoded_sample_peak_dbfs.is_some_and(|p| p > limit_dbfs))
            .map(|r| r.id.as_str())
            .collect();
        if !clipping.is_empty() {
            self.notes.push(format!(
                "Even at this ceiling, {} decode{} over {limit_dbfs:.1} dBFS: the harder the \
                 limiter works, the more a codec overshoots. The master is too loud for these \
                 codecs to decode clean; lower the loudness target.",
                clipping.join(", "),
                if clipping.len() == 1 { "s" } else { "" }
            ));
        }
        self.passed = self.checks.iter().all(|c| c.passed);
        self.codec_check = Some(results);
    }

    /// The report as readable text.
    pub fn text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "Crest QC report — {}", self.file);
        let _ = writeln!(
            t,
            "{}, {} Hz, {} channel{}, {:.2} s",
            self.format,
            self.sample_rate,
            self.channels,
            if self.channels == 1 { "" } else { "s" },
            self.duration_s
        );
        let _ = writeln!(t);
        let _ = writeln!(t, "  integrated   {}", db(self.integrated_lufs, "LUFS"));
        let _ = writeln!(t, "  LRA          {}", db(self.lra_lu, "LU"));
        let _ = writeln!(t, "  true peak    {}", db(self.true_peak_dbtp, "dBTP"));
        if self.strict_true_peak_dbtp.is_some() {
            let _ = writeln!(
                t,
                "  true peak    {} (strict: near-ideal reconstruction)",
                db(self.strict_true_peak_dbtp, "dBTP")
            );
        }
        let _ = writeln!(t, "  sample peak  {}", db(self.sample_peak_dbfs, "dBFS"));
        let _ = writeln!(t, "  PLR          {}", db(self.plr_db, "dB"));
        if let Some(d) = &self.decoded {
            let _ = writeln!(t);
            let _ = writeln!(
                t,
                "  decoded      {}, {:.1} kb/s (the figures above are of the samples encoded)",
                d.encoder, d.bitrate_kbps
            );
            let _ = writeln!(
                t,
                "  integrated   {} ({} against the master)",
                db(d.integrated_lufs, "LUFS"),
                d.loudness_change_lu
                    .map_or_else(|| "—".to_owned(), |c| format!("{c:+.2} LU"))
            );
            let _ = writeln!(t, "  true peak    {}", db(d.true_peak_dbtp, "dBTP"));
            let _ = writeln!(t, "  sample peak  {}", db(d.sample_peak_dbfs, "dBFS"));
        }
        if let Some(l) = &self.limiter {
            let _ = writeln!(t);
            let _ = writeln!(
                t,
                "  limiter      {:+.2} dB in, ceiling {:.2} dBTP, peak reduction {:.2} dB, mean {:.2} dB",
                l.gain_db, l.ceiling_dbtp, l.peak_reduction_db, l.mean_reduction_db
            );
            if l.plr_before_db.is_some() {
                let _ = writeln!(
                    t,
                    "  PLR          {} before the limiter, {} after",
                    db(l.plr_before_db, "dB"),
                    db(self.plr_db, "dB")
                );
            }
        }
        let _ = writeln!(t);
        for c in &self.checks {
            let _ = writeln!(
                t,
                "  [{}] {:<20} {:>14}   (needs {})",
                if c.passed { "pass" } else { "FAIL" },
                c.name,
                c.measured,
                c.requirement
            );
        }
        for note in &self.notes {
            let _ = writeln!(t, "\n  {note}");
        }
        let _ = writeln!(
            t,
            "\n{}",
            if self.passed {
                "PASSED"
            } else {
                "FAILED: the file is kept so it can be inspected."
            }
        );
        t
    }

    /// Where the reports of `master` go: `NAME.qc.json` and `NAME.qc.txt` beside it.
    pub fn paths_beside(master: &Path) -> [PathBuf; 2] {
        let name = master
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        [
            master.with_file_name(format!("{name}.qc.json")),
            master.with_file_name(format!("{name}.qc.txt")),
        ]
    }

    /// Writes `NAME.qc.json` and `NAME.qc.txt` for `master` into partial files (flushed, not
    /// yet in place: the caller commits them together with the master); records the JSON path.
    pub fn write_partials(&mut self, master: &Path) -> Result<[PartialFile; 2], WriteError> {
        let [json_path, text_path] = Self::paths_beside(master);
        self.report_path = Some(json_path.display().to_string());
        let json = serde_json::to_string_pretty(self).map_err(|e| WriteError::Io {
            path: json_path.clone(),
            source: std::io::Error::other(e),
        })? + "\n";
        Ok([
            PartialFile::with_bytes(&json_path, json.as_bytes())?,
            PartialFile::with_bytes(&text_path, self.text().as_bytes())?,
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_state_their_schema_and_older_ones_still_read() {
        let tone: Vec<f32> = (0..48_000)
            .map(|n| 0.5 * (n as f32 * 0.0576).sin())
            .collect();
        let audio = crate::AudioBuffer::new(48_000, vec![tone.clone(), tone]).expect("audio");
        let measured = crate::loudness::measure(&audio);
        let report = evaluate(
            FileFacts {
                file: Path::new("/m/master.wav"),
                format: "WAV 24-bit PCM",
                sample_rate: 48_000,
                channels: 2,
                duration_s: 1.0,
                measured: &measured,
                strict_true_peak_dbtp: None,
            },
            Requirements::default(),
        );
        let mut json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["schema_version"], QC_SCHEMA_VERSION);
        let back: QcReport = serde_json::from_value(json.clone()).expect("reads");
        assert_eq!(back, report);
        // A report written before the field: version 0, everything else as it was.
        json.as_object_mut()
            .expect("object")
            .remove("schema_version");
        let old: QcReport = serde_json::from_value(json.clone()).expect("older report reads");
        assert_eq!(old.schema_version, 0);
        assert_eq!(old.checks, report.checks);
        // Or before the strict meter: neither reading nor meter stated.
        let fields = json.as_object_mut().expect("object");
        fields.remove("strict_true_peak_dbtp");
        fields.remove("ceiling_meter");
        let older: QcReport = serde_json::from_value(json).expect("older report reads");
        assert_eq!(older.ceiling_meter, None);
    }

    #[test]
    fn the_ceiling_is_checked_on_the_meter_asked_for() {
        let tone: Vec<f32> = (0..48_000)
            .map(|n| 0.5 * (n as f32 * 0.0576).sin())
            .collect();
        let audio = crate::AudioBuffer::new(48_000, vec![tone]).expect("audio");
        let measured = crate::loudness::measure(&audio);
        let facts = |strict| FileFacts {
            file: Path::new("/m/master.wav"),
            format: "WAV 24-bit PCM",
            sample_rate: 48_000,
            channels: 1,
            duration_s: 1.0,
            measured: &measured,
            strict_true_peak_dbtp: strict,
        };
        let ceiling = |mode| Requirements {
            ceiling_dbtp: Some(-3.0),
            true_peak: mode,
            ..Requirements::default()
        };
        // The tone peaks at −6 dBFS: under −3 on the standard meter; a strict reading of −2
        // is over it, and only the strict check sees it.
        let standard = evaluate(facts(Some(-2.0)), ceiling(TruePeakMode::Standard));
        assert!(standard.passed);
        assert_eq!(
            standard.ceiling_meter.as_deref(),
            Some("BS.1770 true-peak meter")
        );
        let strict = evaluate(facts(Some(-2.0)), ceiling(TruePeakMode::Strict));
        assert!(!strict.passed);
        let check = strict.checks.iter().find(|c| !c.passed).expect("failed");
        assert_eq!(check.name, "true peak (strict)");
        assert!(check.requirement.ends_with("near-ideal reconstruction)"));
        assert!(
            strict
                .text()
                .contains("(strict: near-ideal reconstruction)")
        );
    }
}
