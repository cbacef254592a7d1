//! `crest master IN -o OUT [--chain F] [--delivery ID] [--target-lufs X] [--ceiling-dbtp Y]
//! [--format F] [--rate HZ] [--dither D] [--title T] [--artist A] [--album B] [--track N/T]
//! [--isrc CODE] … [--codec-safe ID]… [--decoded-peak DBFS] [--force] [--json]`: render,
//! tag, lower the ceiling until the named codecs decode clean, write atomically,
//! verify, report. Exit status 0 when every QC check passes, 1 when the master was written but
//! a check failed (the file is kept for inspection), 2 when nothing could be written.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use clap::Args;
use crest_engine::chain::ChainSettings;
use crest_engine::delivery::{self, DeliveryPreset};
use crest_engine::export::{Dither, Format};
use crest_engine::master::{CodecSafe, MasterRequest, MasterSource, master_with};
use crest_engine::render::RenderControl;
use crest_engine::{DecodeControl, decode_file_limited, decode_file_within};

#[derive(Debug, Args)]
pub struct MasterArgs {
    /// The mix to master.
    pub input: PathBuf,
    /// Where to write the master.
    #[arg(short, long)]
    pub output: PathBuf,
    /// A chain preset (ChainSettings JSON). Without it: a 20 Hz subsonic filter and the
    /// true-peak limiter at −1 dBTP, nothing else.
    #[arg(long)]
    pub chain: Option<PathBuf>,
    /// A delivery preset: streaming, apple-music, cd, broadcast-r128, hires-archive, mp3-320,
    /// ogg-320, opus-160, aac-256.
    #[arg(long)]
    pub delivery: Option<String>,
    /// Integrated loudness to reach (LUFS); overrides the preset and the chain file.
    #[arg(long, allow_hyphen_values = true)]
    pub target_lufs: Option<f64>,
    /// True-peak ceiling (dBTP); overrides the preset and the chain file.
    #[arg(long, allow_hyphen_values = true)]
    pub ceiling_dbtp: Option<f64>,
    /// The meter the ceiling is held and checked on: standard (BS.1770) or strict (a
    /// near-ideal reconstruction); overrides the preset and the chain file.
    #[arg(long, value_enum)]
    pub true_peak: Option<super::TruePeak>,
    /// wav16, wav24, wav32f, flac16, flac24, or a lossy codec: mp3-320 (mp3-128 … mp3-320),
    /// mp3-v0 (… mp3-v4), ogg-192 … ogg-500, opus-96 … opus-256, aac-128 … aac-384 (default:
    /// the preset's, else wav24). The output's extension must be the format's; a rate the
    /// codec cannot carry is replaced (Opus: 48 kHz).
    #[arg(long)]
    pub format: Option<String>,
    /// Delivery sample rate (default: the preset's, else the source's).
    #[arg(long)]
    pub rate: Option<u32>,
    /// none, tpdf, shaped or gentle (default: the preset's, else tpdf). Float output is never
    /// dithered; the shaped modes are plain TPDF outside 44.1 and 48 kHz.
    #[arg(long)]
    pub dither: Option<String>,
    /// Lower the limiter's ceiling until this codec (a lossy format id: mp3-320, ogg-320,
    /// opus-160, aac-256, …) decodes the master with every sample under --decoded-peak; repeat for
    /// several. The QC report lists each codec's decoded peak.
    #[arg(long = "codec-safe", value_name = "ID")]
    pub codec_safe: Vec<String>,
    /// The decoded sample peak --codec-safe holds the codecs under (dBFS).
    #[arg(long, allow_hyphen_values = true, default_value_t = crest_engine::codec_check::DEFAULT_DECODED_PEAK_DBFS)]
    pub decoded_peak: f64,
    /// Replace an existing output file.
    #[arg(long)]
    pub force: bool,
    /// Print the report as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Print where the time went (decode, render, quantise and measure, encode, verify) and
    /// the realtime factor, on stderr.
    #[arg(long)]
    pub timings: bool,
    #[command(flatten)]
    pub memory: super::MemoryArgs,
    #[command(flatten)]
    pub tags: super::TagArgs,
}

pub fn run(args: &MasterArgs) -> ExitCode {
    match run_master(args) {
        Ok(passed) => ExitCode::from(if passed { 0 } else { 1 }),
        Err(message) => {
            eprintln!("crest: {message}");
            ExitCode::from(2)
        }
    }
}

/// The effective settings: the chain file (or the gentle default), then the delivery preset,
/// then the explicit flags.
pub fn effective_settings(
    chain: Option<ChainSettings>,
    preset: Option<&DeliveryPreset>,
    target_lufs: Option<f64>,
    ceiling_dbtp: Option<f64>,
) -> Result<ChainSettings, String> {
    let mut settings = chain.unwrap_or_else(ChainSettings::gentle_master);
    if let Some(p) = preset {
        p.apply_to(&mut settings);
    }
    if let Some(target) = target_lufs {
        settings.limiter.bypass = false;
        settings.limiter.target_lufs = Some(target);
    }
    if let Some(ceiling) = ceiling_dbtp {
        settings.limiter.bypass = false;
        settings.limiter.ceiling_dbtp = ceiling;
    }
    settings.validate().map_err(|e| e.to_string())?;
    Ok(settings)
}

/// The delivery preset `id`, or an error naming the ones there are.
pub fn find_preset(id: &str) -> Result<DeliveryPreset, String> {
    delivery::find(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            let ids: Vec<String> = delivery::built_in()
                .map(|all| all.into_iter().map(|p| p.id).collect())
                .unwrap_or_default();
            format!(
                "unknown delivery preset `{id}`; choose one of: {}",
                ids.join(", ")
            )
        })
}

/// The file format: `--format`, else the preset's, else 24-bit WAV.
pub fn format_of(id: Option<&str>, preset: Option<&DeliveryPreset>) -> Result<Format, String> {
    match (id, preset) {
        (Some(id), _) => Format::try_from(id.to_owned()),
        (None, Some(p)) => Ok(p.format),
        (None, None) => Ok(Format::Wav24),
    }
}

/// Refuses an output whose extension is not its format's (an MP3 named `.wav` would be taken
/// for what it is not by whoever receives it).
pub fn check_extension(output: &std::path::Path, format: Format) -> Result<(), String> {
    let extension = output
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if extension.as_deref() == Some(format.extension()) {
        return Ok(());
    }
    Err(format!(
        "{}: {} files end in .{}: write it to {}",
        output.display(),
        format.describe(),
        format.extension(),
        output.with_extension(format.extension()).display()
    ))
}

/// The dither: `--dither`, else the preset's, else TPDF.
pub fn dither_of(id: Option<&str>, preset: Option<&DeliveryPreset>) -> Result<Dither, String> {
    match (id, preset) {
        (Some(d), _) => match d {
            "none" => Ok(Dither::None),
            "tpdf" => Ok(Dither::Tpdf),
            "shaped" => Ok(Dither::Shaped),
            "gentle" => Ok(Dither::Gentle),
            other => Err(format!(
                "unknown dither `{other}`; choose none, tpdf, shaped or gentle"
            )),
        },
        (None, Some(p)) => Ok(p.dither),
        (None, None) => Ok(Dither::Tpdf),
    }
}

fn run_master(args: &MasterArgs) -> Result<bool, String> {
    let preset = args.delivery.as_deref().map(find_preset).transpose()?;
    let chain = args.chain.as_deref().map(super::read_chain).transpose()?;
    let mut settings =
        effective_settings(chain, preset.as_ref(), args.target_lufs, args.ceiling_dbtp)?;
    if let Some(meter) = args.true_peak {
        settings.limiter.true_peak = meter.into();
    }
    let format = format_of(args.format.as_deref(), preset.as_ref())?;
    check_extension(&args.output, format)?;
    let dither = dither_of(args.dither.as_deref(), preset.as_ref())?;
    let rate = args.rate.or(preset.as_ref().and_then(|p| p.sample_rate));
    let tags = args.tags.tags()?;
    let codec_safe = (!args.codec_safe.is_empty())
        .then(|| -> Result<CodecSafe, String> {
            Ok(CodecSafe {
                codecs: super::codec_check::codecs_of(&args.codec_safe)?,
                decoded_peak_dbfs: args.decoded_peak,
            })
        })
        .transpose()?;
    // Refuse before the work, not after it.
    crest_engine::master::check_destinations(&args.output, Some(&args.input), args.force)
        .map_err(|e| e.to_string())?;

    let cancel = AtomicBool::new(false);
    let started = Instant::now();
    let show = !args.json && std::io::stderr().is_terminal();
    let report_progress = |stage: &str, fraction: f64| {
        if show {
            eprint!("\r{stage} {:3.0} %", fraction * 100.0);
        }
    };
    let limits = args.memory.mastering();
    let decoded = decode_file_limited(
        &args.input,
        &limits,
        DecodeControl {
            progress: &mut |f| report_progress("decoding ", f),
            cancel: &cancel,
        },
    )
    .map_err(|e| e.to_string())?;
    let decode_s = started.elapsed().as_secs_f64();
    for warning in &decoded.warnings {
        eprintln!("crest: {}: {warning}", args.input.display());
    }
    let duration_s = decoded.audio.duration_s();
    // The render works on the decoded track in place; the rare second render of the closed
    // loop decodes the file again rather than every master keeping a copy of the track.
    let reload = || decode_file_within(&args.input, &limits).map(|d| d.audio);
    let mastered = master_with(
        MasterRequest {
            audio: MasterSource::Owned {
                audio: decoded.audio,
                reload: &reload,
            },
            source_path: Some(&args.input),
            settings: &settings,
            format,
            dither,
            sample_rate: rate,
            output: &args.output,
            force: args.force,
            judged_lufs: None,
            tags: Some(&tags),
            codec_safe: codec_safe.as_ref(),
        },
        RenderControl {
            progress: &mut |f| report_progress("mastering", f),
            cancel: &cancel,
        },
        &crate::RayonJoin,
    )
    .map_err(|e| e.to_string())?;
    if show {
        eprintln!();
    }
    if args.timings {
        let t = mastered.timings;
        let total = started.elapsed().as_secs_f64();
        eprintln!(
            "timings: decode {decode_s:.3} s, resample {:.3} s, render {:.3} s, quantise+measure {:.3} s, \
             encode {:.3} s, verify {:.3} s, codec check {:.3} s; total {total:.3} s for {:.1} s of audio ({:.0}x realtime, {} render{})",
            t.resample_s,
            t.render_s,
            t.quantise_and_measure_s,
            t.encode_s,
            t.verify_s,
            t.codec_check_s,
            duration_s,
            duration_s / total,
            mastered.renders,
            if mastered.renders == 1 { "" } else { "s" },
        );
    }
    let report = &mastered.report;
    if args.json {
        println!(
            "{}",
            serde_json::to_string(report).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", report.text());
        if let Some(path) = &report.report_path {
            println!("report: {path}");
        }
    }
    Ok(report.passed)
}
