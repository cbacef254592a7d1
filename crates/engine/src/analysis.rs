//! A whole-file analysis: source information, loudness and peaks, mix-health findings.

use std::path::Path;

use serde::Serialize;

use crate::decode::{DecodeError, Decoded, SourceInfo, decode_file_within};
use crate::health::{self, Finding};
use crate::limits::DecodeLimits;
use crate::loudness::{self, Loudness};
use crate::parallel::{Join, Sequential};
use crate::spectrum::{BandSpectrum, long_term_spectrum};

/// Everything `crest analyze` reports about one file.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub info: SourceInfo,
    pub sample_rate: u32,
    pub channels: usize,
    pub frames: usize,
    pub loudness: Loudness,
    pub findings: Vec<Finding>,
    pub warnings: Vec<String>,
    /// Long-term average spectrum, when asked for.
    pub spectrum: Option<BandSpectrum>,
}

/// What to compute beyond loudness, peaks and mix health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnalysisOptions {
    pub spectrum: bool,
}

/// The per-file report without the histories, as `crest analyze --json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Summary<'a> {
    pub sample_rate: u32,
    pub channels: usize,
    pub frames: usize,
    pub duration_s: f64,
    pub container: &'a str,
    pub codec: &'a str,
    pub bits_per_sample: Option<u32>,
    pub lossless: bool,
    pub bit_exact: bool,
    pub gapless: bool,
    pub integrated_lufs: Option<f64>,
    pub lra_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub sample_peak_dbfs: Option<f64>,
    pub plr_db: Option<f64>,
    pub momentary_max_lufs: Option<f64>,
    pub short_term_max_lufs: Option<f64>,
    pub channel_peaks: &'a [loudness::ChannelPeaks],
    pub findings: &'a [Finding],
    pub warnings: &'a [String],
}

impl Analysis {
    pub fn summary(&self) -> Summary<'_> {
        let l = &self.loudness;
        Summary {
            sample_rate: self.sample_rate,
            channels: self.channels,
            frames: self.frames,
            duration_s: self.info.duration_s,
            container: &self.info.container,
            codec: &self.info.codec,
            bits_per_sample: self.info.bits_per_sample,
            lossless: self.info.lossless,
            bit_exact: self.info.bit_exact,
            gapless: self.info.gapless,
            integrated_lufs: l.integrated_lufs,
            lra_lu: l.lra_lu,
            true_peak_dbtp: l.true_peak_dbtp,
            sample_peak_dbfs: l.sample_peak_dbfs,
            plr_db: l.plr_db(),
            momentary_max_lufs: l.momentary_max_lufs,
            short_term_max_lufs: l.short_term_max_lufs,
            channel_peaks: &l.channels,
            findings: &self.findings,
            warnings: &self.warnings,
        }
    }
}

/// Analyses decoded audio on the calling thread.
pub fn analyze(decoded: &Decoded, options: AnalysisOptions) -> Analysis {
    analyze_with(decoded, options, &Sequential)
}

/// Analyses decoded audio, with loudness, per-channel true peaks, the sample checks and the
/// spectrum as independent pieces of work through `join`.
pub fn analyze_with(decoded: &Decoded, options: AnalysisOptions, join: &impl Join) -> Analysis {
    let audio = &decoded.audio;
    let (loudness, (mut findings, spectrum)) = join.join(
        || loudness::measure_with(audio, join),
        || {
            join.join(
                || health::audio_checks(audio, &decoded.info),
                || options.spectrum.then(|| long_term_spectrum(audio)),
            )
        },
    );
    findings.extend(health::loudness_checks(&loudness));
    // Worst first, in the order found within a severity: the desk and the CLI list the same.
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Analysis {
        info: decoded.info.clone(),
        sample_rate: audio.sample_rate(),
        channels: audio.channel_count(),
        frames: audio.frames(),
        loudness,
        findings,
        warnings: decoded.warnings.clone(),
        spectrum,
    }
}

/// Decodes (within `limits`) and analyses a file.
pub fn analyze_file(
    path: &Path,
    limits: &DecodeLimits,
    options: AnalysisOptions,
    join: &impl Join,
) -> Result<Analysis, DecodeError> {
    Ok(analyze_with(
        &decode_file_within(path, limits)?,
        options,
        join,
    ))
}

/// Analyses the built-in demo mix.
pub fn analyze_demo(options: AnalysisOptions, join: &impl Join) -> Analysis {
    analyze_with(&crate::demo::demo_decoded(), options, join)
}
